"""Pure functions from BigCommerce API records to shipsync's canonical records.

No I/O here: the client fetches, these functions convert. The canonical order
is described by schemas/order.json.
"""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, Iterable


__all__ = [
    "KG_PER_UNIT",
    "MappingError",
    "canonical_order",
    "consignment_address_id",
    "country_name",
    "kg_per_unit",
    "parse_date",
    "rfc2822",
    "remaining_quantity",
]

# Store weight units (GET /v2/store weight_units, /v3/settings units-of-measurement).
KG_PER_UNIT: dict[str, float] = {
    "kgs": 1.0, "kg": 1.0, "kilograms": 1.0,
    "grams": 0.001, "g": 0.001,
    "lbs": 0.45359237, "lb": 0.45359237, "pounds": 0.45359237,
    "ounces": 0.028349523125, "oz": 0.028349523125,
    "tonnes": 1000.0, "t": 1000.0,
}

NOT_SHIPPED_TYPES = {"digital": "digital product", "giftcertificate": "gift certificate"}


class MappingError(ValueError):
    """A BigCommerce record that cannot become a canonical order; the message says why."""


def kg_per_unit(weight_units: str) -> float:
    try:
        return KG_PER_UNIT[weight_units.strip().lower()]
    except (KeyError, AttributeError):
        raise MappingError(f"unknown store weight unit {weight_units!r}") from None


def parse_date(value: str) -> datetime:
    """BigCommerce v2 dates are RFC-2822 (always UTC); accept ISO-8601 too."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (TypeError, ValueError, AttributeError):
            raise MappingError(f"not a date: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc))


def _number(value: Any, what: str, default: float | None = None) -> float:
    if value is None or value == "":
        if default is None:
            raise MappingError(f"{what} is missing")
        return default
    if isinstance(value, bool):
        raise MappingError(f"{what} is not a number: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise MappingError(f"{what} is not a number: {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise MappingError(f"{what} is not a finite number: {value!r}")
    return number


def _int(value: Any, what: str, default: int | None = None) -> int:
    number = _number(value, what, None if default is None else float(default))
    if number != int(number):
        raise MappingError(f"{what} is not a whole number: {value!r}")
    return int(number)


def remaining_quantity(line: dict[str, Any]) -> int:
    """What is still to ship on a line: ordered less shipped less refunded."""
    where = f"line {line.get('id')}"
    quantity = _int(line.get("quantity"), f"{where} quantity")
    shipped = _int(line.get("quantity_shipped"), f"{where} quantity_shipped", 0)
    refunded = _int(line.get("quantity_refunded"), f"{where} quantity_refunded", 0)
    if quantity < 1:
        raise MappingError(f"{where} has quantity {quantity}; an order line needs at least 1")
    if shipped < 0 or refunded < 0 or shipped + refunded > quantity:
        raise MappingError(f"{where}: {shipped} shipped and {refunded} refunded do not fit "
                           f"its quantity {quantity}")
    if line.get("is_refunded") and not refunded:
        return 0
    return quantity - shipped - refunded


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _name(first: Any, last: Any) -> str:
    return " ".join(part for part in (_text(first), _text(last)) if part)


def _options(line: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    options = line.get("product_options") or []
    if not isinstance(options, list):
        raise MappingError(f"line {line.get('id')}: product_options is not a list")
    for option in options:
        if not isinstance(option, dict):
            raise MappingError(f"line {line.get('id')}: a product option is not an object")
        name = _text(option.get("display_name") or option.get("display_name_customer")
                     or option.get("name"))
        value = _text(option.get("display_value") or option.get("display_value_customer")
                      or option.get("value"))
        if name:
            out.append({"name": name, "value": value})
    return out


def _item(line: dict[str, Any], quantity: int, kg_factor: float,
          customs: dict[int, dict[str, Any]], country_code: str) -> dict[str, Any]:
    line_id = str(line.get("id"))
    weight = _number(line.get("weight"), f"line {line_id} weight", 0.0)
    value = _number(line.get("price_inc_tax", line.get("base_price")), f"line {line_id} price",
                    0.0)
    if weight < 0 or value < 0:
        raise MappingError(f"line {line_id} has a negative weight or price")
    product_id = _int(line.get("product_id"), f"line {line_id} product_id", 0)
    item: dict[str, Any] = {
        "line_id": line_id,
        "product_id": product_id,
        "description": _text(line.get("name")) or _text(line.get("name_customer")) or "Item",
        "sku": _text(line.get("sku")),
        "quantity": quantity,
        "weight_kg": round(weight * kg_factor, 6),
        "value": round(value, 4),
        "options": _options(line),
    }
    if line.get("variant_id"):
        item["variant_id"] = _int(line["variant_id"], f"line {line_id} variant_id")
    info = customs.get(product_id)
    if info:
        hs_codes = info.get("hs_codes") or {}
        tariff = hs_codes.get(country_code) or hs_codes.get("ALL")
        if tariff:
            item["tariff_code"] = str(tariff)
        if info.get("country_of_origin"):
            item["country_of_origin"] = str(info["country_of_origin"])
    return item


def _shipping_address(consignment: dict[str, Any], billing: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": _name(consignment.get("first_name"), consignment.get("last_name"))
        or _name(billing.get("first_name"), billing.get("last_name")),
        "company": _text(consignment.get("company")),
        "phone": _text(consignment.get("phone")),
        "email": _text(consignment.get("email")) or _text(billing.get("email")),
        "street": _text(consignment.get("street_1")),
        "building": _text(consignment.get("street_2")),
        # BigCommerce has no suburb: Starshipit takes the city in both.
        "suburb": _text(consignment.get("city")),
        "city": _text(consignment.get("city")),
        "state": _text(consignment.get("state")),
        "post_code": _text(consignment.get("zip")),
        "country": _text(consignment.get("country")),
        "country_code": _text(consignment.get("country_iso2")).upper(),
    }


def country_name(code: str) -> str:
    """The country's common name for an ISO 3166-1 alpha-2 code ("" if unknown)."""
    code = code.strip().upper()
    if code == "XK":
        return "Kosovo"  # not in ISO 3166-1, used by carriers
    import pycountry  # only for a pickup location: importing it costs start-up time

    found = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    return str(getattr(found, "common_name", None) or found.name) if found else ""


def _pickup_address(consignment: dict[str, Any], billing: dict[str, Any]) -> dict[str, Any]:
    location = consignment.get("location") or {}
    return {
        "name": _name(billing.get("first_name"), billing.get("last_name")) or "Pickup customer",
        "company": _text(location.get("name")),
        "phone": _text(billing.get("phone")),
        "email": _text(billing.get("email")),
        "street": _text(location.get("address_line_1")),
        "building": _text(location.get("address_line_2")),
        "suburb": _text(location.get("city")),
        "city": _text(location.get("city")),
        "state": _text(location.get("state")),
        "post_code": _text(location.get("postal_code")),
        # A location has country_alpha2, not a country's name (spec): the name comes from it.
        "country": (_text(location.get("country"))
                    or country_name(_text(location.get("country_alpha2")))
                    or _text(location.get("country_alpha2"))),
        "country_code": _text(location.get("country_alpha2")).upper(),
    }


def consignment_lines(consignment: dict[str, Any]) -> list[dict[str, Any]]:
    """The full order-product lines of a consignment (``include=consignments.line_items``)."""
    lines = consignment.get("line_items") or []
    if not isinstance(lines, list):
        raise MappingError(f"consignment {consignment.get('id')}: line_items is not a list")
    return [line for line in lines if not isinstance(line, dict) or "quantity" in line]


def consignment_address_id(consignment: dict[str, Any]) -> str:
    """The ``order_address_id`` of a shipping consignment's lines, when they agree ("" if not).

    A shipment names the shipping address by ``order_address_id``, which the spec does
    not say a consignment's ``id`` equals; every line of the consignment carries it.
    """
    found = set()
    lines = consignment.get("line_items")
    for line in lines if isinstance(lines, list) else []:
        if isinstance(line, dict) and line.get("order_address_id") not in (None, "", 0, "0"):
            found.add(_text(line.get("order_address_id")))
    return found.pop() if len(found) == 1 and next(iter(found)).isdigit() else ""


def is_truncated(order: dict[str, Any]) -> bool:
    """BigCommerce inlines at most 50 lines per consignment and then warns."""
    consignments = order.get("consignments")
    if not isinstance(consignments, dict):
        return False  # malformed: canonical_order says how
    for kind in ("shipping", "pickups"):
        group = consignments.get(kind)
        for consignment in group if isinstance(group, list) else []:
            if not isinstance(consignment, dict):
                continue
            lines = consignment.get("line_items")
            if "__warning__" in consignment or (isinstance(lines, list) and any(
                    isinstance(line, dict) and "quantity" not in line for line in lines)):
                return True
    return False


def canonical_order(
    order: dict[str, Any],
    *,
    store: str,
    weight_units: str,
    customs: dict[int, dict[str, Any]] | None = None,
    products: Iterable[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Turn a BigCommerce order (with inline consignments) into a canonical order.

    ``products``, when given, replaces the inline consignment lines (used when
    BigCommerce truncated them): lines are then grouped by their
    ``order_address_id`` / ``order_pickup_method_id``. A shipping destination's
    ``address_id`` is the ``order_address_id`` its lines name, when that is not the
    consignment's own id.
    """
    customs = customs or {}
    kg_factor = kg_per_unit(weight_units)
    order_id = _text(order.get("id"))
    if not order_id.isdigit():
        raise MappingError(f"the order has no valid id: {order.get('id')!r}")
    billing = order.get("billing_address") or {}
    consignments = order.get("consignments")
    if not isinstance(consignments, dict):
        raise MappingError("the order has no consignments object (consignment_structure=object)")
    by_line: dict[str, list[dict[str, Any]]] | None = None
    if products is not None:
        by_line = {}
        for line in products:
            key = (f"pickup:{line.get('order_pickup_method_id')}"
                   if line.get("order_pickup_method_id")
                   else f"ship:{line.get('order_address_id')}")
            by_line.setdefault(key, []).append(line)

    destinations: list[dict[str, Any]] = []
    left_out: list[dict[str, str]] = []
    seen_lines: set[str] = set()
    raw = []
    for kind, key in (("shipping", "shipping"), ("pickup", "pickups")):
        group = consignments.get(key) or []
        if not isinstance(group, list) or not all(isinstance(c, dict) for c in group):
            raise MappingError(f"consignments.{key} is not a list of consignments")
        raw += [(kind, c) for c in group]
    shipping_count = sum(1 for kind, _ in raw if kind == "shipping")
    for kind, consignment in raw:
        cid = str(consignment.get("id"))
        address_id = consignment_address_id(consignment) if kind == "shipping" else ""
        if by_line is not None:
            if kind == "pickup":
                lines = by_line.get("pickup:" + cid, [])
            else:
                lines = by_line.get("ship:" + (address_id or cid), [])
                if not lines and not address_id and shipping_count == 1:
                    # The inline lines named no address: one address holds every shipped line.
                    lines = [line for k, group in by_line.items() if k.startswith("ship:")
                             for line in group]
        else:
            lines = consignment_lines(consignment)
        address = (_shipping_address(consignment, billing) if kind == "shipping"
                   else _pickup_address(consignment, billing))
        items = []
        for line in lines:
            if not isinstance(line, dict):
                raise MappingError(f"consignment {cid}: a line item is not an object")
            line_id = _text(line.get("id"))
            if not line_id.isdigit():
                raise MappingError(f"consignment {cid}: a line item has no id (order_product_id)")
            seen_lines.add(line_id)
            kind_of_line = _text(line.get("type")) or "physical"
            if kind_of_line not in NOT_SHIPPED_TYPES and kind_of_line != "physical":
                raise MappingError(f"line {line_id} has an unknown type {kind_of_line!r}")
            if kind_of_line in NOT_SHIPPED_TYPES:
                left_out.append({"line_id": line_id, "reason": NOT_SHIPPED_TYPES[kind_of_line]})
                continue
            quantity = remaining_quantity(line)
            if quantity <= 0:
                reason = ("refunded" if line.get("is_refunded") or line.get("quantity_refunded")
                          else "already shipped")
                left_out.append({"line_id": line_id, "reason": reason})
                continue
            items.append(_item(line, quantity, kg_factor, customs, address["country_code"]))
        destination: dict[str, Any] = {
            "destination_id": cid if kind == "shipping" else f"pickup-{cid}",
            "kind": kind,
            "shipping_method": _text(consignment.get("shipping_method")
                                     or consignment.get("pickup_method_display_name")),
            "address": address,
            "items": items,
        }
        if kind == "shipping":
            if address_id and address_id != cid:
                destination["address_id"] = address_id
            destination["items_total"] = _int(consignment.get("items_total") or 0, "items_total")
            destination["items_shipped"] = _int(consignment.get("items_shipped") or 0,
                                                "items_shipped")
        destinations.append(destination)
    for kind_name, key in (("digital product", "downloads"),):
        for consignment in consignments.get(key) or []:
            for line in consignment_lines(consignment):
                if str(line.get("id")) not in seen_lines:
                    left_out.append({"line_id": str(line.get("id")), "reason": kind_name})
    # Shipments and -1/-2 suffixes follow the address ids, so keep them in id order.
    destinations.sort(key=lambda d: (d["kind"] != "shipping", _sort_key(d["destination_id"])))

    return {
        "source": "bigcommerce",
        "store": store,
        "order_id": order_id,
        "status_id": _int(order.get("status_id"), "status_id"),
        "status": _text(order.get("status")),
        "date_created": parse_date(order.get("date_created") or "").isoformat(),
        "date_modified": parse_date(order.get("date_modified") or order.get("date_created")
                                    or "").isoformat(),
        # The amounts are in the transactional currency (default_currency_code, in the
        # spec's own words); currency_code is only the one the shopper browsed in.
        "currency": (_text(order.get("default_currency_code") or order.get("currency_code"))
                     or "AUD").upper(),
        "reference": order_id,
        "customer_message": _text(order.get("customer_message")),
        "payment_status": _text(order.get("payment_status")),
        "destinations": destinations,
        "left_out": left_out,
    }


def _sort_key(value: str) -> tuple[int, str]:
    digits = "".join(ch for ch in value if ch.isdigit())
    return (int(digits) if digits else 0, value)
