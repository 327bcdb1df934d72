"""Deterministic seed orders for the BigCommerce emulator.

``generate_orders`` streams order specs, the keyword arguments of
``BigCommerceEmulator.add_order``, shaped like the orders a real Australian
store holds: mostly "Awaiting Fulfillment" (11) and "Awaiting Shipment" (9),
every other status present, single and multi-address shipping, pickup in
store, digital and gift-certificate lines, custom products, product options
(Size, HS Code, Color/Colour in varying case, Engraving), international
destinations, non-ASCII names and over-long streets. The same ``seed`` and
``now`` give the same orders, byte for byte.

The products come from ``catalog``, the customers and addresses from ``people``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from .catalog import (
    _COLOURS,
    _DIGITAL,
    _ENGRAVINGS,
    _OPTION_LABELS,
    _PER_KG,
    _SIZES,
    CATALOG,
    WEIGHT_UNITS,
    convert_length,
    convert_weight,
)
from .people import _ABROAD, _LOCATIONS, _address, _person

__all__ = ["generate_orders"]

_CARRIERS = (("australia-post", "auspost", "33ABC{n:07d}01000930{m:04d}"),
             ("star-track", "", "ZYX{n:09d}"), ("couriers-please", "", "CPAW{n:010d}"),
             ("sendle", "", "S{n:08d}"), ("aramex", "", "3{n:011d}"))
_SHIPPING_METHODS = ("Flat Rate", "Free Shipping", "Express Post", "Standard Parcel")

# Status weights: the bulk waits to be fulfilled (11) or shipped (9).
_STATUS_WEIGHTS = ((11, 40.0), (9, 22.0), (2, 9.0), (10, 6.0), (7, 4.0), (1, 3.0), (0, 3.0),
                   (3, 2.0), (5, 2.0), (8, 2.0), (4, 1.5), (14, 1.5), (12, 1.0), (13, 1.0),
                   (6, 1.0))
_PAYMENT_STATUS = {0: "", 1: "pending", 4: "refunded", 5: "void", 6: "declined", 7: "pending",
                   12: "held for review", 14: "partially refunded"}
_SHIPPED_STATUSES = (2, 10)

# Order shapes and how often they occur; each is also forced once when count allows.
_SHAPES = (("standard", 58.0), ("international", 14.0), ("multi_address", 7.0),
           ("pickup", 5.0), ("mixed_pickup", 2.0), ("digital", 3.0), ("mixed_digital", 3.0),
           ("gift_certificate", 2.0), ("custom", 5.0), ("bulk", 0.4), ("long_street", 0.6))
_FORCED_DECORATIONS = ("options", "refund_line", "non_ascii", "deleted")


def _weighted(rng: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def generate_orders(
    count: int,
    seed: int = 0,
    *,
    now: datetime,
    weight_units: str = "KGS",
    first_id: int = 100,
    days: float = 30.0,
) -> Iterator[dict[str, Any]]:
    """Yield ``count`` order specs (``add_order`` keyword arguments), oldest first.

    Ids run from ``first_id`` upwards and creation dates spread evenly, with
    jitter, over the ``days`` before ``now``. With 15 or more orders every
    status 0-14 occurs; with about 30 or more every order shape does too.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    if weight_units not in _PER_KG:
        raise ValueError(f"unknown weight unit {weight_units!r}; known: {', '.join(WEIGHT_UNITS)}")
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    rng = random.Random(seed)
    forced = _forced_positions(rng, count)
    start = now - timedelta(days=days)
    step = days * 86400.0 / max(count, 1)
    for index in range(count):
        created = start + timedelta(seconds=(index + rng.random() * 0.9) * step)
        yield _order_spec(rng, first_id + index, created, now, weight_units, forced.get(index, {}))


def _forced_positions(rng: random.Random, count: int) -> dict[int, dict[str, Any]]:
    """Pick positions that get a given status, shape or decoration, so small seeds cover all."""
    wanted: list[dict[str, Any]] = [{"status_id": s} for s in range(15)]
    wanted += [{"shape": shape} for shape, _ in _SHAPES]
    wanted += [{"decoration": d} for d in _FORCED_DECORATIONS]
    positions = rng.sample(range(count), min(count, len(wanted)))
    return dict(zip(positions, wanted[: len(positions)], strict=True))


def _order_spec(
    rng: random.Random, order_id: int, created: datetime, now: datetime, units: str,
    forced: dict[str, Any],
) -> dict[str, Any]:
    shape = forced.get("shape") or _weighted(rng, _SHAPES)
    if "status_id" in forced:  # a forced status gets a shape it makes sense for
        shape = "pickup" if forced["status_id"] == 8 else "standard"
    decoration = forced.get("decoration")
    non_ascii = decoration == "non_ascii" or rng.random() < 0.08
    customer = _person(rng, order_id, non_ascii)
    billing = _address(rng, "AU", customer, order_id)
    spec: dict[str, Any] = {
        "id": order_id,
        "customer_id": 0 if rng.random() < 0.3 else 1000 + rng.randrange(5000),
        "date_created": created,
        "billing_address": billing,
        "payment_method": rng.choice(("Credit Card", "Credit Card", "PayPal", "Afterpay")),
        "cart_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "ip_address": f"203.0.113.{rng.randrange(1, 255)}",
        "customer_message": rng.choice(("", "", "", "Please leave at the back door.",
                                        "Gift — no invoice please ✿")),
        "is_deleted": decoration == "deleted" or rng.random() < 0.005,
    }
    shipping, pickups, products = _shape(rng, shape, customer, billing, order_id, units,
                                         options=decoration == "options")
    if decoration == "refund_line" or rng.random() < 0.03:
        products[0]["quantity_refunded"] = 1
    spec.update(shipping_addresses=shipping, pickups=pickups, products=products)
    status = forced.get("status_id")
    if status is None:
        status = _status_for(rng, shape, products)
    _apply_status(rng, spec, status, created, now, order_id)
    return spec


def _status_for(rng: random.Random, shape: str, products: list[dict[str, Any]]) -> int:
    if shape in ("pickup", "mixed_pickup") and rng.random() < 0.7:
        return 8
    if not any("address_index" in p for p in products):
        # Nothing to ship (digital, gift certificates, pickup only): never (partially) shipped.
        return int(_weighted(rng, ((10, 6.0), (11, 3.0), (7, 1.0), (5, 0.5))))
    return int(_weighted(rng, _STATUS_WEIGHTS))


def _shape(
    rng: random.Random, shape: str, customer: dict[str, str], billing: dict[str, Any],
    order_id: int, units: str, *, options: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Shipping addresses, pickup consignments and product lines of one order shape."""
    shipping: list[dict[str, Any]] = []
    pickups: list[dict[str, Any]] = []
    products: list[dict[str, Any]] = []

    def ship_to(country: str = "AU", *, person: dict[str, str] | None = None,
                long_street: bool = False) -> int:
        address = _address(rng, country, person or customer, order_id, long_street)
        if country == "AU" and person is None and not long_street and rng.random() < 0.8:
            address.update({k: billing[k] for k in ("street_1", "street_2", "city", "state",
                                                   "zip", "company")})
        address["shipping_method"] = rng.choice(_SHIPPING_METHODS)
        address["shipping_cost"] = "0.00" if address["shipping_method"] == "Free Shipping" \
            else rng.choice(("9.95", "12.00", "15.50"))
        if country != "AU":
            address["shipping_method"] = "International Standard"
            address["shipping_cost"] = rng.choice(("35.00", "49.95"))
        shipping.append(address)
        return len(shipping) - 1

    def physical(n: int, **where: Any) -> None:
        for _ in range(n):
            products.append(_catalog_line(rng, units, force_options=options, **where))

    if shape in ("standard", "custom", "bulk", "long_street", "international"):
        country = rng.choice(_ABROAD) if shape == "international" else "AU"
        index = ship_to(country, long_street=shape == "long_street")
        lines = rng.randrange(51, 61) if shape == "bulk" else rng.choice((1, 1, 1, 2, 2, 3, 4))
        physical(lines, address_index=index)
        if shape == "custom" or rng.random() < 0.04:
            products.append(_custom_line(rng, units, address_index=index))
    elif shape == "multi_address":
        for _ in range(rng.choice((2, 2, 3))):
            other = _person(rng, order_id + len(shipping) + 1, rng.random() < 0.1)
            physical(rng.choice((1, 1, 2)), address_index=ship_to(person=other))
    elif shape in ("pickup", "mixed_pickup"):
        pickups.append(_pickup(rng))
        physical(rng.choice((1, 1, 2)), pickup_index=0)
        if shape == "mixed_pickup":
            physical(1, address_index=ship_to())
    elif shape in ("digital", "mixed_digital"):
        name, sku, price, product_id = rng.choice(_DIGITAL)
        products.append({"product_id": product_id, "name": name, "sku": sku, "type": "digital",
                         "price_inc_tax": price, "quantity": 1, "weight": 0})
        if shape == "mixed_digital":
            physical(rng.choice((1, 2)), address_index=ship_to())
    elif shape == "gift_certificate":
        amount = rng.choice((25, 50, 100))
        products.append({"product_id": 0, "name": f"${amount}.00 Gift Certificate", "sku": "",
                         "type": "giftcertificate", "price_inc_tax": f"{amount}.00",
                         "quantity": 1, "weight": 0,
                         "recipient_email": f"friend{order_id % 89}@example.com"})
        if rng.random() < 0.5:
            physical(1, address_index=ship_to())
    else:
        raise ValueError(f"unknown order shape {shape!r}")
    return shipping, pickups, products


def _catalog_line(rng: random.Random, units: str, *, force_options: bool = False,
                  **where: Any) -> dict[str, Any]:
    product = rng.choice(CATALOG)
    if force_options and not product.options:
        product = CATALOG[1]  # the hoodie has Size, Colour and HS Code
    width, height, depth = (round(convert_length(d, units), 4) for d in product.dims_cm)
    options = [_option(rng, kind) for kind in product.options
               if force_options or rng.random() < 0.85]
    return {
        "product_id": product.product_id,
        "variant_id": product.product_id * 10 + rng.randrange(1, 6) if options else 0,
        "name": product.name,
        "sku": product.sku + (f"-{rng.choice(_SIZES)}" if "size" in product.options else ""),
        "brand": product.brand,
        "type": "physical",
        "price_inc_tax": product.price,
        "quantity": rng.choice((1, 1, 1, 1, 2, 2, 3, 5)),
        "weight": round(convert_weight(product.weight_kg, units), 4),
        "width": width, "height": height, "depth": depth,
        "product_options": options,
        **where,
    }


def _custom_line(rng: random.Random, units: str, **where: Any) -> dict[str, Any]:
    # A line the merchant typed in: no catalog product, no variant, no SKU.
    return {
        "product_id": 0, "variant_id": 0, "sku": "", "type": "physical",
        "name": rng.choice(("Custom framing service", "Replacement strap",
                            "Hand-painted sign — “Welcome”")),
        "price_inc_tax": rng.choice(("15.00", "60.00", "120.00")),
        "quantity": 1,
        "weight": round(convert_weight(rng.choice((0.2, 0.5, 2.5)), units), 4),
        "width": 0, "height": 0, "depth": 0,
        **where,
    }


def _option(rng: random.Random, kind: str) -> dict[str, Any]:
    label = rng.choice(_OPTION_LABELS[kind])
    if kind == "size":
        value = rng.choice(_SIZES)
        return {"display_name": label, "display_value": value, "type": "Multiple choice",
                "name": "Apparel sizes", "display_style": "Rectangle",
                "value": str(60 + _SIZES.index(value)), "option_id": 18}
    if kind == "colour":
        value = rng.choice(_COLOURS)
        return {"display_name": label, "display_value": value, "type": "Swatch",
                "name": "Colours", "display_style": "", "value": str(110 + _COLOURS.index(value)),
                "option_id": 3}
    if kind == "hs_code":
        code = rng.choice(("6109.10.00", "6110.11", "6404.11", "6201.93.00"))
        return {"display_name": label, "display_value": code, "type": "Text field",
                "name": "HS Code", "display_style": "", "value": code, "option_id": 40}
    if kind == "engraving":
        text = rng.choice(_ENGRAVINGS)
        return {"display_name": label, "display_value": text, "type": "Text field",
                "name": "Engraving text", "display_style": "", "value": text, "option_id": 37}
    wrap = rng.choice(("Yes", "No"))
    return {"display_name": label, "display_value": wrap, "type": "Checkbox",
            "name": "Gift Wrapping $5", "display_style": "", "value": "104" if wrap == "Yes"
            else "105", "option_id": 38}


def _pickup(rng: random.Random) -> dict[str, Any]:
    location = rng.choice(_LOCATIONS)
    return {
        "pickup_method_id": location["id"],
        "pickup_method_display_name": f"Pick up in store — {location['name']}",
        "collection_instructions": "Bring your order number and photo ID",
        "collection_time_description": "Ready within 2 hours, 9am - 5pm",
        "location": dict(location),
    }


def _apply_status(
    rng: random.Random, spec: dict[str, Any], status: int, created: datetime, now: datetime,
    order_id: int,
) -> None:
    """Make lines, shipments and payment agree with the status."""
    spec["status_id"] = status
    spec["payment_status"] = _PAYMENT_STATUS.get(status, "captured")
    age = max(0.0, (now - created).total_seconds())
    modified = created + timedelta(seconds=min(age, rng.uniform(0, 6 * 3600)))
    products: list[dict[str, Any]] = spec["products"]
    shipments: list[dict[str, Any]] = []
    shippable = [i for i, p in enumerate(products) if "address_index" in p]
    if shippable and (status in _SHIPPED_STATUSES or status == 3):
        shipped_at = created + timedelta(seconds=min(age, rng.uniform(3600, 3 * 86400)))
        modified = max(modified, shipped_at)
        if status == 3:
            shipments.append(_partial_shipment(rng, products, shippable, order_id, shipped_at))
        else:
            for index in range(len(spec["shipping_addresses"])):
                lines = [i for i in shippable if products[i]["address_index"] == index]
                items = [{"line_index": i, "quantity": _remaining(products[i])} for i in lines]
                items = [item for item in items if item["quantity"] > 0]
                if items:
                    shipments.append(_shipment(rng, index, items, order_id, shipped_at))
            spec["date_shipped"] = shipped_at
    elif status == 4:
        for product in products:
            product["quantity_refunded"] = product.get("quantity", 1)
    elif status == 14:
        products[-1]["quantity_refunded"] = 1
    if status in (4, 14):
        modified = created + timedelta(seconds=min(age, rng.uniform(86400, 5 * 86400)))
    spec["shipments"] = shipments
    spec["date_modified"] = modified


def _shipment(
    rng: random.Random, address_index: int, items: list[dict[str, int]], order_id: int,
    shipped_at: datetime,
) -> dict[str, Any]:
    carrier, provider, pattern = rng.choice(_CARRIERS)
    return {
        "address_index": address_index,
        "items": items,
        "tracking_number": pattern.format(n=order_id, m=address_index),
        "tracking_carrier": carrier,
        "shipping_provider": provider,
        "date_created": shipped_at,
    }


def _partial_shipment(
    rng: random.Random, products: list[dict[str, Any]], shippable: list[int], order_id: int,
    shipped_at: datetime,
) -> dict[str, Any]:
    """Ship part of the first line, leaving at least one unit of the order to ship."""
    index = next((i for i in shippable if _remaining(products[i]) > 0), shippable[0])
    line = products[index]
    total = sum(_remaining(products[i]) for i in shippable)
    if total < 2:
        line["quantity"] = line.get("quantity", 1) + 2 - total
    remaining = _remaining(line)
    quantity = remaining - 1 if remaining > 1 else remaining
    item = {"line_index": index, "quantity": quantity}
    return _shipment(rng, line["address_index"], [item], order_id, shipped_at)


def _remaining(product: dict[str, Any]) -> int:
    return int(product.get("quantity", 1)) - int(product.get("quantity_refunded", 0))
