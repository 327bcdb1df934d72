"""The hscodes mapper: HS codes and countries of origin onto items, by SKU.

``apply_table`` is a pure function of the order and the table; ``map_order``
reads the table (a local file, cached until it changes) named by ``[hscodes]``.
"""

from __future__ import annotations

from typing import Any

from .settings import SECTION, table_path
from .table import Customs, load_table


def apply_table(order: dict[str, Any], table: dict[str, Customs], *,
                overwrite: bool = False) -> dict[str, Any]:
    """Fill each item's tariff_code and country_of_origin from its SKU's row."""
    for destination in order["destinations"]:
        for item in destination["items"]:
            row = table.get((item.get("sku") or "").strip())
            if row is None:
                continue
            for field in ("tariff_code", "country_of_origin"):
                value = getattr(row, field)
                if value and (overwrite or not item.get(field)):
                    item[field] = value
    return order


def map_order(order: dict[str, Any], context: Any = None) -> dict[str, Any]:
    section = (getattr(context, "config", None) or {}).get(SECTION)
    if not section:
        return order  # installed but not configured: nothing to do
    table = load_table(table_path(section))
    return apply_table(order, table, overwrite=bool(section.get("overwrite", False)))
