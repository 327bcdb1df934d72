"""The [bigcommerce] config section: its schema, defaults and cross-field checks.

``check`` refuses what the schema cannot: an API path that is not https off
loopback or not a BigCommerce path; a store configured twice (two names, one
store hash: every order would go to the sink twice); order prefixes that can
make the same order number for two stores on one sink account (numbers are
``order_prefix`` + the order id, with ``-N`` for a further address, so ``A``
and ``A1`` collide: ``A`` + 1100 is ``A1`` + 100); import statuses that mean
the order must not, or need not, ship; a rate-limit reserve that leaves
shipsync nothing.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

from shipsync.http import check_url
from shipsync.settings import store_schema

from .status import STATUS_NAMES

__all__ = ["DEFAULTS", "check", "schema", "store_settings", "stores"]

DEFAULTS: dict[str, Any] = {
    "import_statuses": [9, 11],
    "update_status": 2,
    "days": 7,
    "pickup_in_store": False,
    "order_prefix": "",
    "sink": "starshipit",
    "rate_limit": 150,
    "rate_limit_reserve": 0,
}

_API_PATH = re.compile(r"/stores/[A-Za-z0-9]+/v[23]/?$")
_STORE_HASH = re.compile(r"/stores/([A-Za-z0-9]+)/v[23]/?$")
#: Statuses an order is never imported in: shipped or completed already, cancelled,
#: refunded, declined, or not even placed (Incomplete: an abandoned checkout).
NOT_IMPORTABLE = {0: "not placed yet (an abandoned checkout)", 2: "shipped already",
                  4: "refunded", 5: "cancelled", 6: "declined", 10: "completed already"}
#: What an order number may continue with after a prefix: the order id's digits, then
#: maybe "-N" (a further address). A longer prefix whose extra part fits can collide.
_NUMBER_TAIL = re.compile(r"\d+(-\d*)?")


def prefixes_collide(first: str, second: str) -> bool:
    """Whether ``first`` and ``second`` can make the same order number (prefix + id[-N]).

    Case is ignored: the sink may not tell ``a100`` from ``A100``.
    """
    short, long = sorted((first.casefold(), second.casefold()), key=len)
    if not long.startswith(short):
        return False  # they differ inside both prefixes: so do all their numbers
    return long == short or _NUMBER_TAIL.fullmatch(long[len(short):]) is not None


def schema() -> dict[str, Any]:
    """The [bigcommerce] section's schema: each store's own settings and the shared ones."""
    text = resources.files("shipsync_bigcommerce").joinpath("schemas/config.json").read_text()
    section: dict[str, Any] = json.loads(text)
    own = section["$defs"]["store"]
    # Orders go to Starshipit unless a store names another sink: what the seed integration does.
    own["properties"]["sink"] = {"default": DEFAULTS["sink"]}
    section["$defs"]["store"] = store_schema(own)
    return section


def store_settings(section: dict[str, Any]) -> dict[str, Any]:
    return {**DEFAULTS, **section}


def stores(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    section = config.get("bigcommerce") or {}
    return [(name, store_settings(s)) for name, s in (section.get("stores") or {}).items()]


def check(section: dict[str, Any]) -> list[tuple[str, str]]:
    """What the schema cannot say (see the module's docstring)."""
    problems: list[tuple[str, str]] = []
    by_sink: dict[str, list[tuple[str, str]]] = {}  # sink -> [(store, prefix)]
    by_hash: dict[str, str] = {}  # store hash -> the first store configured with it
    for name, raw in (section.get("stores") or {}).items():
        store = store_settings(raw)
        path = f"$.stores.{name}"
        api_path = store["api_path"]
        problem = check_url(api_path)
        found = _STORE_HASH.search(api_path.split("?")[0])
        if problem:
            problems.append((f"{path}.api_path", problem))
        elif not found:
            problems.append((f"{path}.api_path", f"{api_path!r} does not look like a BigCommerce "
                             "API path (…/stores/STORE_HASH/v3/)"))
        if found:
            store_hash = found.group(1).casefold()
            if store_hash in by_hash:
                problems.append((f"{path}.api_path",
                                 f"stores {by_hash[store_hash]!r} and {name!r} are the same "
                                 f"BigCommerce store (store hash {found.group(1)}): each of its "
                                 "orders would be sent twice; keep one of them"))
            else:
                by_hash[store_hash] = name
        for index, status in enumerate(store["import_statuses"]):
            if status in NOT_IMPORTABLE:
                problems.append((f"{path}.import_statuses[{index}]",
                                 f"{status} ({STATUS_NAMES[status]}) is not a status to ship "
                                 f"from: its orders are {NOT_IMPORTABLE[status]}; import the "
                                 "statuses orders wait to be shipped in (9 Awaiting Shipment, "
                                 "11 Awaiting Fulfillment)"))
        if store["rate_limit_reserve"] >= store["rate_limit"]:
            problems.append((f"{path}.rate_limit_reserve",
                             f"{store['rate_limit_reserve']} leaves none of the store's "
                             f"{store['rate_limit']} requests per window to shipsync; keep it "
                             "below rate_limit"))
        prefix = str(store["order_prefix"])
        for other, other_prefix in by_sink.setdefault(store["sink"], []):
            if other_prefix == prefix:
                problems.append((f"{path}.order_prefix",
                                 f"stores {other!r} and {name!r} share the order_prefix "
                                 f"{prefix!r} on the same {store['sink']} account; give each "
                                 "store its own prefix"))
            elif prefixes_collide(other_prefix, prefix):
                problems.append((f"{path}.order_prefix",
                                 f"the order_prefix {prefix!r} of store {name!r} and "
                                 f"{other_prefix!r} of store {other!r} can make the same order "
                                 f"number on the same {store['sink']} account (e.g. "
                                 f"{_example(other_prefix, prefix)}); end each prefix with a "
                                 "character that is not a digit, e.g. 'A-' and 'A1-'"))
        by_sink[store["sink"]].append((name, prefix))
    return problems


def _example(first: str, second: str) -> str:
    """Two orders, one of each store, that get the same number."""
    short, long = sorted((first, second), key=len)
    tail = long[len(short):]
    head, dash, rest = tail.partition("-")
    if dash:
        return f"{short!r} + order {head}, address {rest}1 = {long!r} + order 1"
    return f"{short!r} + order {tail}100 = {long!r} + order 100"
