"""The [hscodes] config section: its schema, where the table is, and its check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .table import TableError, load_table

SECTION = "hscodes"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["table"],
    "properties": {
        "table": {
            "type": "string",
            "minLength": 1,
            "description": "CSV file with the columns sku, tariff_code, country_of_origin. "
                           "A relative path is resolved against the working directory.",
        },
        "overwrite": {
            "type": "boolean",
            "default": False,
            "description": "Replace an item's tariff code and country of origin that "
                           "BigCommerce already gave (customs information, HS Code option); "
                           "by default only missing ones are filled.",
        },
    },
}


def table_path(section: dict[str, Any]) -> Path:
    # shipsync passes plugins no config-file location, so relative means the working directory.
    path = Path(section["table"]).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


def check(section: dict[str, Any]) -> list[tuple[str, str]]:
    """At config load (``shipsync config check`` too): the table exists and every row is valid."""
    try:
        load_table(table_path(section))
    except TableError as exc:
        return [("$.table", str(exc))]
    return []
