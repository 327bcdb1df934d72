"""The [bigcommerce] config section: its schema, defaults and cross-field checks."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

from shipsync.http import check_url
from shipsync.settings import store_schema

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
    """What the schema cannot say: URL safety, unique order prefixes per account, and a
    rate-limit reserve that leaves shipsync some of the window."""
    problems: list[tuple[str, str]] = []
    prefixes: dict[tuple[str, str], str] = {}
    for name, raw in (section.get("stores") or {}).items():
        store = store_settings(raw)
        path = f"$.stores.{name}"
        api_path = store["api_path"]
        problem = check_url(api_path)
        if problem:
            problems.append((f"{path}.api_path", problem))
        elif not _API_PATH.search(api_path.split("?")[0]):
            problems.append((f"{path}.api_path", f"{api_path!r} does not look like a BigCommerce "
                             "API path (…/stores/STORE_HASH/v3/)"))
        if store["rate_limit_reserve"] >= store["rate_limit"]:
            problems.append((f"{path}.rate_limit_reserve",
                             f"{store['rate_limit_reserve']} leaves none of the store's "
                             f"{store['rate_limit']} requests per window to shipsync; keep it "
                             "below rate_limit"))
        key = (store["sink"], store["order_prefix"])
        if key in prefixes:
            problems.append((f"{path}.order_prefix",
                             f"stores {prefixes[key]!r} and {name!r} share the order_prefix "
                             f"{store['order_prefix']!r} on the same {store['sink']} account; "
                             "give each store its own prefix"))
        else:
            prefixes[key] = name
    return problems
