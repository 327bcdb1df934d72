"""The seeded store's catalog, units and customs information.

``CATALOG`` is the store's product list the seeded orders draw from, and
``generate_customs`` the customs information (HS codes, country of origin)
that ``/v3/shipping/products/customs-information`` serves for some of it.
Weights are kept in kg and dimensions in cm, converted to each store's
``weight_units`` (and the length unit that goes with it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "CATALOG",
    "WEIGHT_UNITS",
    "CatalogProduct",
    "convert_length",
    "convert_weight",
    "generate_customs",
    "length_unit",
]

WEIGHT_UNITS = ("LBS", "Ounces", "KGS", "Grams", "Tonnes")
_PER_KG = {"KGS": 1.0, "Grams": 1000.0, "LBS": 2.20462262, "Ounces": 35.2739619, "Tonnes": 0.001}
_IMPERIAL = ("LBS", "Ounces")


def length_unit(weight_units: str) -> str:
    """The store's length unit: stores weighing in pounds or ounces measure in inches."""
    return "Inches" if weight_units in _IMPERIAL else "Centimeters"


def convert_weight(kilograms: float, weight_units: str) -> float:
    if weight_units not in _PER_KG:
        raise ValueError(f"unknown weight unit {weight_units!r}; known: {', '.join(WEIGHT_UNITS)}")
    return kilograms * _PER_KG[weight_units]


def convert_length(centimeters: float, weight_units: str) -> float:
    return centimeters / 2.54 if weight_units in _IMPERIAL else centimeters


@dataclass(frozen=True)
class CatalogProduct:
    """A catalog product; weight in kg and dimensions in cm, converted per store."""

    product_id: int
    name: str
    sku: str
    price: str  # incl. GST, AUD
    weight_kg: float
    dims_cm: tuple[float, float, float]  # width, height, depth
    brand: str
    options: tuple[str, ...] = ()  # option kinds: size, colour, hs_code, engraving, gift_wrap
    origin: str = "AU"
    hs_code: str = ""  # 6-10 digit HS code, for the customs data
    commodity: str = ""


CATALOG: tuple[CatalogProduct, ...] = (
    CatalogProduct(101, "Organic Cotton Tee", "TEE-ORG", "39.95", 0.22, (30, 2, 25), "Saltwater",
                   ("size", "colour"), "IN", "610910", "Cotton t-shirt"),
    CatalogProduct(102, "Merino Hoodie", "HOOD-MER", "149.00", 0.65, (35, 6, 30), "Saltwater",
                   ("size", "colour", "hs_code"), "NZ", "611011", "Wool knitted hoodie"),
    CatalogProduct(103, "Canvas Tote Bag", "BAG-TOTE", "24.50", 0.3, (40, 2, 38), "Saltwater",
                   ("colour",), "CN", "420222", "Cotton canvas bag"),
    CatalogProduct(104, "Enamel Camp Mug", "MUG-ENAM", "19.00", 0.35, (12, 10, 12), "Billy & Co",
                   ("engraving",), "CN", "732393", "Enamelled steel mug"),
    CatalogProduct(105, "Single Origin Coffee 1kg", "COF-SO-1KG", "54.00", 1.05, (20, 30, 10),
                   "Billy & Co", (), "PG", "090121", "Roasted coffee beans"),
    CatalogProduct(106, "Pour-over Kettle", "KET-PO", "89.00", 0.9, (28, 22, 16), "Billy & Co",
                   (), "JP", "732393", "Stainless steel kettle"),
    CatalogProduct(107, "Trail Runner Shoe", "SHOE-TRL", "189.95", 1.1, (33, 13, 21), "Ridgeline",
                   ("size", "colour", "hs_code"), "VN", "640411", "Sports footwear"),
    CatalogProduct(108, "Wool Socks (3 pack)", "SOCK-W3", "29.00", 0.18, (20, 4, 10), "Ridgeline",
                   ("size",), "AU", "611530", "Wool socks"),
    CatalogProduct(109, "Leather Wallet", "WAL-LTH", "79.00", 0.12, (11, 2, 9), "Tanner St",
                   ("colour", "engraving"), "IT", "420231", "Leather wallet"),
    CatalogProduct(110, "Cast Iron Skillet 30cm", "SKIL-30", "119.00", 3.4, (52, 6, 31),
                   "Billy & Co", (), "US", "732391", "Cast iron cookware"),
    CatalogProduct(111, "Beeswax Wraps", "WRAP-BW", "18.00", 0.08, (22, 1, 15), "Hive",
                   (), "AU"),
    CatalogProduct(112, "Ceramic Planter", "PLNT-CER", "45.00", 1.6, (20, 18, 20), "Hive",
                   ("colour",), "PT", "691390", "Ceramic planter"),
    CatalogProduct(113, "Rain Shell Jacket", "JKT-RAIN", "229.00", 0.48, (38, 5, 32), "Ridgeline",
                   ("size", "colour", "hs_code"), "CN", "620193", "Synthetic rain jacket"),
    CatalogProduct(114, "Yoga Mat", "MAT-YOGA", "69.00", 1.8, (61, 12, 12), "Hive",
                   ("colour",), "TW", "401699", "Rubber yoga mat"),
    CatalogProduct(115, "Bamboo Cutting Board", "BRD-BAM", "35.00", 1.2, (40, 2, 28), "Hive",
                   ("engraving", "gift_wrap"), "CN", "441919", "Bamboo board"),
    CatalogProduct(116, "Linen Apron", "APR-LIN", "49.00", 0.25, (30, 3, 25), "Saltwater",
                   ("colour", "engraving"), "LT", "630259", "Linen apron"),
    CatalogProduct(117, "Hand Cream 75ml", "CRM-75", "22.00", 0.1, (5, 15, 4), "Hive",
                   (), "AU"),
    CatalogProduct(118, "Picnic Blanket", "BLK-PIC", "95.00", 1.4, (40, 12, 30), "Saltwater",
                   ("colour",), "CN", "630140", "Synthetic blanket"),
)

# Gift certificates and digital goods have no weight and never ship.
_DIGITAL = (("Field Guide to Brewing (eBook)", "EBOOK-BREW", "14.99", 201),
            ("Trail Maps Bundle (PDF)", "PDF-MAPS", "9.00", 202))

_OPTION_LABELS = {
    # The integration matches option names case-insensitively; the data must vary the case.
    "size": ("Size", "size", "SIZE", "Size"),
    "colour": ("Color", "Colour", "colour", "COLOR", "color"),
    "hs_code": ("HS Code", "hs code", "HS code"),
    "engraving": ("Engraving",),
    "gift_wrap": ("Gift Wrap",),
}
_SIZES = ("XS", "S", "M", "L", "XL", "2XL")
_COLOURS = ("Black", "Navy", "Forest Green", "Sand", "Rust", "Grå", "Off-White")
_ENGRAVINGS = ("For Zoë ♥", "J.M. 1984", "Happy 40th, Søren!", "山田", "Best Dad", "Ngā mihi")


def generate_customs(seed: int = 0, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Customs information for the catalog products that ship internationally.

    Products without an HS code (hand cream, beeswax wraps) have none, as in a
    store that never filled it in.
    """
    rng = random.Random(f"customs:{seed}")
    stamp = (now or datetime(2026, 1, 1, tzinfo=UTC)) - timedelta(days=90)
    records = []
    for product in CATALOG:
        if not product.hs_code:
            continue
        hs_codes = {"ALL": product.hs_code}
        if rng.random() < 0.5:  # some merchants add finer national tariff codes
            hs_codes["US"] = product.hs_code + f"{rng.randrange(10000):04d}"
        if rng.random() < 0.3:
            hs_codes["NZ"] = product.hs_code + f"{rng.randrange(100):02d}"
        records.append({
            "product_id": product.product_id,
            "country_of_origin": product.origin,
            "commodity_description": product.commodity,
            "international_shipping": True,
            "hs_codes": hs_codes,
            "created_at": stamp,
            "updated_at": stamp + timedelta(days=rng.randrange(60)),
        })
    return records
