"""The store settings every source shares, defined once (schemas/store.json).

A source plugin's store table composes them with its own settings
(``store_schema``); the engine reads them through ``StoreSettings`` and never
a source's own keys.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .records import load_schema

__all__ = ["StoreSettings", "store_schema"]

SCHEMA = "store.json"


def store_schema(own: dict[str, Any]) -> dict[str, Any]:
    """``own`` (a source's store schema: an object with ``properties``) plus the core's.

    The core's properties come first; a source may give one of them its own
    default (``{"sink": {"default": "mysink"}}`` in ``own``'s properties merges
    over the core's definition), but not a different type.
    """
    composed = copy.deepcopy(own)
    properties: dict[str, Any] = {}
    for name, definition in load_schema(SCHEMA)["properties"].items():
        properties[name] = {**copy.deepcopy(definition), **own.get("properties", {}).get(name, {})}
    for name, definition in own.get("properties", {}).items():
        properties.setdefault(name, definition)
    composed["properties"] = properties
    composed.setdefault("type", "object")
    return composed


def _defaults() -> dict[str, Any]:
    return {name: definition["default"]
            for name, definition in load_schema(SCHEMA)["properties"].items()
            if "default" in definition}


@dataclass(frozen=True)
class StoreSettings:
    """The settings of one store that the engine reads."""

    name: str
    days: int = 7
    sink: str | None = None
    order_prefix: str = ""
    pickup_in_store: bool = False
    status_policies: list[str] | None = None
    #: The whole resolved section, the source's own settings included (status policies read it).
    section: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, name: str, section: dict[str, Any]) -> StoreSettings:
        values = {**_defaults(), **section}
        return cls(name=name, days=int(values["days"]), sink=values.get("sink"),
                   order_prefix=str(values["order_prefix"]),
                   pickup_in_store=bool(values["pickup_in_store"]),
                   status_policies=values.get("status_policies"), section=dict(section))
