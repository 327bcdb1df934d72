"""What BigCommerce's API may do where its documentation is silent: the variants to survive.

Each entry names one uncertain behaviour (fact sheet: shared/reference/bigcommerce-api.md,
"Audit of 2026-11-30") and its plausible values, the most likely first. The emulator
takes any of them (``create_sandbox(variants={...})``, ``shipsync sandbox --variant
bigcommerce.NAME=VALUE``); the source is written to end in the same result under each;
``shipsync doctor`` checks which one a real store shows.

- ``consignment_ids``: a shipping consignment's ``id`` (``include=consignments``) is
  its ``own`` (the spec calls it "ID of the shipping consignment"; no source says it
  equals the ``order_address_id`` that ``POST /v2/orders/{id}/shipments`` needs), or
  the ``address`` id itself.
- ``currencies``: an order's ``currency_code`` (the display currency) differs from
  its ``default_currency_code`` (the transactional one, which the amounts are in:
  ``display-differs``, a multi-currency storefront), or is the ``same``.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["VARIANTS", "choose"]

VARIANTS: dict[str, tuple[str, ...]] = {
    "consignment_ids": ("own", "address"),
    "currencies": ("display-differs", "same"),
}


def choose(chosen: Mapping[str, str] | None) -> dict[str, str]:
    """Every variant's value: the chosen ones, the most likely for the rest.

    Raises ``ValueError`` naming the unknown variant or value and the choices.
    """
    values = {name: options[0] for name, options in VARIANTS.items()}
    for name, value in (chosen or {}).items():
        if name not in VARIANTS:
            raise ValueError(f"no variant {name!r} (variants: {', '.join(sorted(VARIANTS))})")
        if value not in VARIANTS[name]:
            raise ValueError(f"variant {name} has no value {value!r} (values: "
                             f"{', '.join(VARIANTS[name])})")
        values[name] = value
    return values
