"""Deterministic seed data for the BigCommerce emulator, importable from here as before.

The generator lives with the emulator: ``shipsync_bigcommerce.sandbox.seed``
(``generate_orders``), ``.catalog`` (``CATALOG``, units, ``generate_customs``)
and ``.people`` (``COUNTRIES``, customers and places).
"""

from __future__ import annotations

from .sandbox.catalog import (
    CATALOG,
    WEIGHT_UNITS,
    CatalogProduct,
    convert_length,
    convert_weight,
    generate_customs,
    length_unit,
)
from .sandbox.people import COUNTRIES
from .sandbox.seed import generate_orders

__all__ = [
    "CATALOG",
    "COUNTRIES",
    "WEIGHT_UNITS",
    "CatalogProduct",
    "convert_length",
    "convert_weight",
    "generate_customs",
    "generate_orders",
    "length_unit",
]
