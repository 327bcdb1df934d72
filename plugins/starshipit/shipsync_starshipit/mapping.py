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
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from shipsync.contracts import ShipmentRecord

__all__ = [
    "CARRIER_NAMES",
    "LIMITS",
    "PICKUP_CARRIER",
    "LimitError",
    "carrier_code",
    "clean_text",
    "destination_country",
    "earliest_instant",
    "order_body",
    "origin_country",
    "parse_time",
    "shipment_record",
    "shipments_row_record",
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

#: Carrier codes and the names Starshipit shows for them (fact sheet §9: the codes of
#: [DART]/[DEV], the names seen in answers). ``GET /api/orders/shipments`` gives only the
#: name: this table gives the code back, for the tracking carrier of the source.
CARRIER_NAMES: dict[str, str] = {
    "AusPost": "Australia Post",
    "AusPostMail": "Australia Post Mail",
    "MyPostBusiness": "MyPost Business",
    "StarTrack": "StarTrack",
    "StarTrackCourier": "StarTrack Courier",
    "CouriersPlease": "Couriers Please",
    "Fastways": "Aramex",
    "TNT": "TNT",
    "TollIPEC": "Toll IPEC",
    "TollPriority": "Toll Priority",
    "MyToll": "MyToll",
    "HunterExpress": "Hunter Express",
    "Sendle": "Sendle",
    "NZPost": "NZ Post",
    "CourierPost": "CourierPost",
    "DHL": "DHL Express",
    "PickupInStore": "Pickup In Store",
}
_CODES_BY_NAME = {name.lower(): code for code, name in CARRIER_NAMES.items()}
_CODES_BY_NAME.update({code.lower(): code for code in CARRIER_NAMES})

#: The widest offset from UTC a place keeps (UTC+14, Kiribati): a time without an
#: offset is at the earliest this much before the same wall time read as UTC.
WIDEST_OFFSET = timedelta(hours=14)


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
    country = _exact(destination_country(address.get("country"), address.get("country_code")),
                     "country", "destination.country")
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
            body_item["country_of_origin"] = _cut(origin_country(item["country_of_origin"]),
                                                  "country_of_origin")
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


def destination_country(country: Any, code: Any) -> str:
    """The destination country by name, as Starshipit's docs want it ("Australia").

    The canonical order's ``country`` is a name; a bare ISO code there (a third-party
    mapper's, a pickup location's) is turned into the country's common name.
    """
    name = clean_text(country)
    iso = clean_text(code).upper()
    if name and not (len(name) == 2 and name.isalpha()):
        return name
    found = _country(name.upper() if name else iso)
    return found or name or iso


def origin_country(value: Any) -> str:
    """A country of origin as its ISO 3166-1 alpha-2 code (what BigCommerce's customs
    information holds): a name is turned into its code, an unknown value kept as given."""
    text = clean_text(value)
    if len(text) == 2 and text.isalpha():
        return text.upper()
    import pycountry  # only for a name: importing it costs start-up time

    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return text


def _country(code: str) -> str:
    if code == "XK":
        return "Kosovo"  # not in ISO 3166-1, used by carriers
    import pycountry  # only for a bare code: importing it costs start-up time

    found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    return str(getattr(found, "common_name", None) or found.name) if found else ""


def carrier_code(carrier: Any, carrier_name: Any = "") -> str:
    """The carrier's code: as given, else from the name Starshipit shows ("" if unknown)."""
    code = clean_text(carrier)
    if code:
        return code
    return _CODES_BY_NAME.get(clean_text(carrier_name).lower(), "")


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


def earliest_instant(value: Any) -> str:
    """The earliest UTC instant a Starshipit time can mean, ISO-8601 ("" if unreadable).

    A time with ``Z`` or an offset is exact. One without any (the account's local time,
    some answers show) is taken as the earliest it can be, ``WIDEST_OFFSET`` before the
    same wall time in UTC, so that a bookmark built from it never runs ahead of the
    remote clock: the next read starts early and reads some rows again, never too late.
    """
    moment = parse_time(value)
    if moment is None:
        return ""
    text = str(value).strip()
    exact = text.upper().endswith("Z") or bool(re.search(r"[+-]\d{2}:?\d{2}$", text))
    return (moment if exact else moment - WIDEST_OFFSET).astimezone(timezone.utc).isoformat()


def is_pickup(carrier: str, carrier_name: str = "") -> bool:
    return (carrier or "").strip().lower() in _PICKUP_NAMES or (
        carrier_name or "").strip().lower() in _PICKUP_NAMES


def shipment_record(row: dict[str, Any], *, complete: bool | None = None) -> ShipmentRecord:
    """A ShippedOrder row of ``GET /api/orders/shipped``, or a printed order (full model),
    as a shipment record.

    A row with ``packages`` (or an order) gives every parcel's number; a flat row (one
    ``tracking_number``) does not, and is ``complete: false`` unless ``complete`` says
    otherwise. ``updated`` is the earliest instant the row's time can mean.
    """
    numbers: list[str] = []
    packages = row.get("packages")
    for package in packages if isinstance(packages, list) else []:
        number = clean_text(package.get("tracking_number")) if isinstance(package, dict) else ""
        if number and number not in numbers:
            numbers.append(number)
    first = clean_text(row.get("tracking_number"))
    if first and first not in numbers:
        numbers.insert(0, first)
    carrier = carrier_code(row.get("carrier"), row.get("carrier_name"))
    whole = isinstance(packages, list) if complete is None else complete
    if not numbers and is_pickup(carrier, clean_text(row.get("carrier_name"))):
        whole = True  # nothing to track: nothing missing
    record: dict[str, Any] = {
        "sink": "starshipit",
        "pickup": is_pickup(carrier, clean_text(row.get("carrier_name"))),
        "sink_order_id": str(row.get("order_id")),
        "order_number": clean_text(row.get("order_number")),
        "carrier": carrier,
        "carrier_name": clean_text(row.get("carrier_name")),
        "carrier_service_code": clean_text(row.get("carrier_service_code")),
        "tracking_numbers": numbers,
        "tracking_url": clean_text(row.get("tracking_url") or _first_url(packages))[:500],
        "shipped_date": clean_text(row.get("shipped_date") or _label_date(packages)),
        "updated": earliest_instant(row.get("last_updated") or row.get("shipped_date")
                                    or _label_date(packages)),
    }
    if not whole:
        record["complete"] = False
    return cast(ShipmentRecord, {k: v for k, v in record.items()
                                 if v != "" or k in ("carrier", "tracking_numbers")})


def shipments_row_record(row: dict[str, Any]) -> ShipmentRecord:
    """A row of ``GET /api/orders/shipments`` (a printed label: every parcel's number, the
    carrier's name only, no tracking link) as a shipment record: ``complete: false``
    (the order itself gives the link) but for Pickup In Store (nothing to track)."""
    numbers: list[str] = []
    for value in row.get("tracking_numbers") or []:
        number = clean_text(value)
        if number and number not in numbers:
            numbers.append(number)
    name = clean_text(row.get("carrier_name"))
    carrier = carrier_code("", name)
    record: dict[str, Any] = {
        "sink": "starshipit",
        "pickup": is_pickup(carrier, name),
        "sink_order_id": str(row.get("order_id")),
        "order_number": clean_text(row.get("order_number")),
        "carrier": carrier,
        "carrier_name": name,
        "carrier_service_code": clean_text(row.get("carrier_service_code")),
        "tracking_numbers": numbers,
        "shipped_date": clean_text(row.get("date")),
        "updated": earliest_instant(row.get("date")),
    }
    if not record["pickup"]:
        record["complete"] = False
    return cast(ShipmentRecord, {k: v for k, v in record.items()
                                 if v != "" or k in ("carrier", "tracking_numbers")})


def merged_record(listed: ShipmentRecord, label: ShipmentRecord) -> ShipmentRecord:
    """A ``/shipped`` row's record with the parcels of the same label's ``/shipments`` row."""
    merged: dict[str, Any] = dict(listed)
    merged["tracking_numbers"] = list(dict.fromkeys(
        [*label.get("tracking_numbers", []), *listed.get("tracking_numbers", [])]))
    merged["carrier"] = listed.get("carrier") or label.get("carrier", "")
    merged.pop("complete", None)
    if not merged["carrier"] and not merged.get("pickup"):
        merged["complete"] = False
    if label.get("updated", "") > listed.get("updated", ""):
        merged["updated"] = label["updated"]
    return cast(ShipmentRecord, merged)


def _first_url(packages: Any) -> str:
    for package in packages if isinstance(packages, list) else []:
        if isinstance(package, dict) and package.get("tracking_url"):
            return str(package["tracking_url"])
    return ""


def _label_date(packages: Any) -> str:
    for package in packages if isinstance(packages, list) else []:
        if isinstance(package, dict) and package.get("label_created_date"):
            return str(package["label_created_date"])
    return ""
