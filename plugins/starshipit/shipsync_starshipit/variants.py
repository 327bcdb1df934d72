"""What Starshipit's API may do where its documentation is silent: the variants to survive.

Each entry names one uncertain behaviour (fact sheet: shared/reference/starshipit-api.md
§12-13) and its plausible values, the most likely first. The emulator takes any of
them (``create_sandbox(variants={...})``, ``shipsync sandbox --variant
starshipit.NAME=VALUE``); the sink is written to end in the same result under each;
``shipsync doctor`` checks which one a real account shows.

- ``shipped_rows``: a ``GET /api/orders/shipped`` row is ``flat`` (one
  ``tracking_number``, no ``packages``: confirmed by the audit of 2026-11-30),
  or carries ``packages`` with every parcel's number.
- ``shipped_listing``: ``/api/orders/shipped`` lists an order only once it is
  ``manifest``-ed (Zapier's "shipped or manifested"), or at label ``print``.
  Printed labels are always listed by ``GET /api/orders/shipments?status=recently_printed``.
- ``dates``: timestamps in the account's ``local`` time without an offset
  (Australia/Sydney here; "the local date when the label was generated"), the
  ``since_*`` filters read in the same zone (an offset sent is ignored); or ``utc``
  with a ``Z``.
- ``pages``: lists come ``newest-first-moving`` (one field source; and a row
  changing between two page requests moves to the top), ``oldest-first``, or
  ``oldest-first-moving``.
- ``not_found``: a lookup that finds nothing answers ``404`` with the envelope
  ``{success: false}``, or ``200`` with it.
- ``order_includes``: ``GET /api/orders?order_id=`` has ``items`` and ``packages``
  only ``on-request`` (``include=Items``/``include=Packages``), or ``always``.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ACCOUNT_ZONE", "VARIANTS", "choose"]

VARIANTS: dict[str, tuple[str, ...]] = {
    "shipped_rows": ("flat", "packages"),
    "shipped_listing": ("manifest", "print"),
    "dates": ("local", "utc"),
    "pages": ("newest-first-moving", "oldest-first", "oldest-first-moving"),
    "not_found": ("404", "200"),
    "order_includes": ("on-request", "always"),
}

#: The emulated account's time zone in the ``local`` dates variant.
ACCOUNT_ZONE = "Australia/Sydney"


def choose(chosen: Mapping[str, str] | None, table: Mapping[str, tuple[str, ...]] = VARIANTS
           ) -> dict[str, str]:
    """Every variant's value: the chosen ones, the most likely for the rest.

    Raises ``ValueError`` naming the unknown variant or value and the choices.
    """
    values = {name: options[0] for name, options in table.items()}
    for name, value in (chosen or {}).items():
        if name not in table:
            raise ValueError(f"no variant {name!r} (variants: {', '.join(sorted(table))})")
        if value not in table[name]:
            raise ValueError(f"variant {name} has no value {value!r} (values: "
                             f"{', '.join(table[name])})")
        values[name] = value
    return values
