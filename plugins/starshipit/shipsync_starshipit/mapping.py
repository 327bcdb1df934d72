"""Pure functions between shipsync's canonical records and Starshipit's bodies.

Starshipit's documented field limits (order_number 50, street 100, suburb 100,
post_code 10, tariff_code 18, sku 50, ...) are enforced here, never left for
the far side to reject: text that can be shortened without losing meaning is
(a long street overflows into ``building``), and what cannot (an order number,
a post code, an HS code) raises ``LimitError`` with the field and the value's length.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timezone
from typing import Any, cast

from shipsync.contracts import ShipmentRecord

__all__ = [
    "LIMITS",
    "PICKUP_CARRIER",
    "LimitError",
    "clean_text",
    "order_body",
    "parse_time",
    "shipment_record",
]

LIMITS = {
    "order_number": 50,
    "reference": 50,
    "shipping_method": 100,
    "shipping_description": 100,
    "name": 100,
    "street": 100,
    "suburb": 100,
    "post_code": 10,
    "country": 100,
    "delivery_instructions": 100,
    "sku": 50,
    "tariff_code": 18,
    "country_of_origin": 50,
    "description": 250,
    "company": 100,
    "building": 100,
    "city": 100,
    "state": 100,
    "phone": 50,
    "email": 100,
}


#: Starshipit's pseudo-courier for click-and-collect orders: no parcel, nothing to track.
PICKUP_CARRIER = "PickupInStore"
_PICKUP_NAMES = {"pickupinstore", "pickup in store", "pickup in-store"}


class LimitError(ValueError):
    """A value that Starshipit would refuse and that cannot be shortened safely."""


def clean_text(value: Any) -> str:
    """Normalised (NFC), without control characters, surrogates or surrounding space."""
    text = value if isinstance(value, str) else str(value or "")
    if text.isascii() and text.isprintable():  # the common case: nothing to normalise
        return " ".join(text.split())
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text
                   if unicodedata.category(ch) not in ("Cc", "Cs", "Co") or ch in " ")
    return " ".join(text.split())


def _cut(value: Any, field: str) -> str:
    text = clean_text(value)
    limit = LIMITS[field]
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut.rstrip(" ,")


def _exact(value: Any, field: str, path: str) -> str:
    text = clean_text(value)
    if len(text) > LIMITS[field]:
        raise LimitError(f"{path} is {len(text)} characters; Starshipit allows "
                         f"{LIMITS[field]}: {text[:20]!r}…")
    return text


def _split_street(street: str, building: str) -> tuple[str, str]:
    """A street over 100 characters keeps its start; the rest moves to building."""
    street, building = clean_text(street), clean_text(building)
    if len(street) <= LIMITS["street"]:
        return street, building
    head = _cut(street, "street")
    rest = street[len(head):].strip(" ,")
    return head, clean_text(f"{rest}, {building}" if building else rest)


def _tariff(value: str, path: str) -> str:
    code = re.sub(r"[\s.\-]", "", clean_text(value))
    if not code:
        return ""
    if len(code) > LIMITS["tariff_code"] or not code.isalnum():
        raise LimitError(f"{path} {value!r} is not an HS code of at most "
                         f"{LIMITS['tariff_code']} letters and digits")
    return code


def order_body(order_number: str, order: dict[str, Any],
               destination: dict[str, Any]) -> dict[str, Any]:
    """The Starshipit create body (``order``) for one destination of a canonical order."""
    number = _exact(order_number, "order_number", "order_number")
    if not number:
        raise LimitError("order_number is empty")
    address = destination["address"]
    street, building = _split_street(address.get("street", ""), address.get("building", ""))
    country = _exact(address.get("country") or address.get("country_code"), "country",
                     "destination.country")
    if len(country) < 2:
        raise LimitError("destination.country is missing")
    post_code = _exact(address.get("post_code", ""), "post_code", "destination.post_code")
    if not street:
        raise LimitError("destination.street is empty once cleaned of blanks and control "
                         "characters")
    name = _cut(address.get("name"), "name")
    if not name:
        raise LimitError("destination.name is empty once cleaned of blanks and control characters")
    body_destination = {
        "name": name,
        "company": _cut(address.get("company"), "company"),
        "phone": _cut(address.get("phone"), "phone"),
        "email": _cut(address.get("email"), "email"),
        "street": street,
        "building": _cut(building, "building"),
        "suburb": _cut(address.get("suburb"), "suburb"),
        "city": _cut(address.get("city"), "city"),
        "state": _cut(address.get("state"), "state"),
        "post_code": post_code,
        "country": country,
    }
    if order.get("customer_message"):
        body_destination["delivery_instructions"] = _cut(order["customer_message"],
                                                         "delivery_instructions")
    items = []
    for index, item in enumerate(destination["items"]):
        path = f"items[{index}]"
        body_item: dict[str, Any] = {
            "description": _cut(item["description"], "description"),
            "sku": _exact(item.get("sku", ""), "sku", f"{path}.sku"),
            "quantity": int(item["quantity"]),
            "weight": round(float(item["weight_kg"]), 4),
            "value": round(float(item["value"]), 2),
        }
        if item.get("tariff_code"):
            tariff = _tariff(item["tariff_code"], f"{path}.tariff_code")
            if tariff:
                body_item["tariff_code"] = tariff
        if item.get("country_of_origin"):
            body_item["country_of_origin"] = _cut(item["country_of_origin"], "country_of_origin")
        for extra in ("size", "color"):
            if item.get(extra):
                body_item[extra] = clean_text(item[extra])[:100]
        items.append(body_item)
    body: dict[str, Any] = {
        "order_number": number,
        "order_date": order["date_created"],
        "reference": _cut(order.get("reference") or order["order_id"], "reference"),
        "shipping_method": _cut(destination.get("shipping_method"), "shipping_method"),
        "currency": order["currency"],
        "destination": {k: v for k, v in body_destination.items() if v != ""},
        "items": items,
    }
    if destination.get("carrier"):
        body["carrier"] = destination["carrier"]
    if not body["shipping_method"]:
        del body["shipping_method"]
    return body


def parse_time(value: Any) -> datetime | None:
    """Starshipit times: ISO-8601 with up to 7 fractional digits, with or without Z."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # .NET ticks: 7 digits; Python takes 6
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed


def is_pickup(carrier: str, carrier_name: str = "") -> bool:
    return (carrier or "").strip().lower() in _PICKUP_NAMES or (
        carrier_name or "").strip().lower() in _PICKUP_NAMES


def shipment_record(row: dict[str, Any]) -> ShipmentRecord:
    """A ShippedOrder row of ``GET /api/orders/shipped`` (or a printed order) as a shipment."""
    numbers: list[str] = []
    for package in row.get("packages") or []:
        number = clean_text(package.get("tracking_number"))
        if number and number not in numbers:
            numbers.append(number)
    first = clean_text(row.get("tracking_number"))
    if first and first not in numbers:
        numbers.insert(0, first)
    record: dict[str, Any] = {
        "sink": "starshipit",
        "pickup": is_pickup(clean_text(row.get("carrier")), clean_text(row.get("carrier_name"))),
        "sink_order_id": str(row.get("order_id")),
        "order_number": clean_text(row.get("order_number")),
        "carrier": clean_text(row.get("carrier")),
        "carrier_name": clean_text(row.get("carrier_name")),
        "carrier_service_code": clean_text(row.get("carrier_service_code")),
        "tracking_numbers": numbers,
        "tracking_url": clean_text(row.get("tracking_url"))[:500],
        "shipped_date": clean_text(row.get("shipped_date")),
        "updated": clean_text(row.get("last_updated") or row.get("shipped_date")),
    }
    return cast(ShipmentRecord, {k: v for k, v in record.items()
                                 if v != "" or k in ("carrier", "tracking_numbers")})
