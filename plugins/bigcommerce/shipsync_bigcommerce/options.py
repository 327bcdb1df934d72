"""Product options onto shipping items: a mapper plugin of its own (``product-options``).

Options whose display name is Size, HS Code, Color or Colour (any case) become
the item's ``size``, ``tariff_code`` and ``color``, as Starshipit's own
BigCommerce integration does. More names can be added per field in
``[product_options]``; disable the plugin (``[plugins] disable =
["product-options"]``) to replace it with your own mapper.
"""

from __future__ import annotations

from typing import Any

from shipsync import ConfigSchema, MapperSpec, hookimpl

__all__ = ["DEFAULT_NAMES", "map_options"]

DEFAULT_NAMES: dict[str, list[str]] = {
    "size": ["Size"],
    "tariff_code": ["HS Code"],
    "color": ["Color", "Colour"],
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "Extra product-option display names mapped onto shipping item fields.",
    "properties": {
        field: {"type": "array", "items": {"type": "string", "minLength": 1},
                "description": f"Option names that fill the item's {field} "
                               f"(always: {', '.join(names)})."}
        for field, names in DEFAULT_NAMES.items()
    },
}


def _names(extra: dict[str, list[str]] | None) -> dict[str, str]:
    """Lower-cased option name -> item field."""
    table: dict[str, str] = {}
    for field, names in DEFAULT_NAMES.items():
        for name in names + list((extra or {}).get(field, [])):
            table[" ".join(name.lower().split())] = field
    return table


def map_options(order: dict[str, Any], context: Any = None) -> dict[str, Any]:
    extra = (getattr(context, "config", None) or {}).get("product_options")
    table = _names(extra)
    for destination in order["destinations"]:
        for item in destination["items"]:
            for option in item.get("options") or []:
                field = table.get(" ".join(str(option.get("name", "")).lower().split()))
                value = str(option.get("value") or "").strip()
                if field and value and not item.get(field):
                    item[field] = value
    return order


@hookimpl
def shipsync_mappers() -> list[MapperSpec]:
    return [MapperSpec(name="product-options", map=map_options, order=100,
                       description="Size, HS Code and Color/Colour options onto items.")]


@hookimpl
def shipsync_config_schemas() -> list[ConfigSchema]:
    return [ConfigSchema("product_options", SCHEMA)]
