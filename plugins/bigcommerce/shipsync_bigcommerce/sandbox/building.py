"""Turning an order spec (``add_order``'s keyword arguments, the seed's orders) into state.

Specs are checked as they are built: unknown keys, impossible quantities,
lines pointing at missing addresses or pickups, and consignments without
lines raise ``TypeError``/``ValueError`` rather than build an incoherent order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from .formats import _as_datetime, _dec, _measure
from .people import COUNTRIES
from .state import (
    ADDRESS_FIELDS,
    ORDER_STATUSES,
    _Address,
    _Line,
    _Order,
    _Pickup,
    _Shipment,
    _Store,
)

_ORDER_SPEC_KEYS = frozenset((
    "id", "status_id", "date_created", "date_modified", "date_shipped", "customer_id",
    "billing_address", "shipping_addresses", "pickups", "products", "shipments",
    "payment_method", "payment_status", "currency_code", "staff_notes", "customer_message",
    "is_deleted", "channel_id", "external_order_id", "order_source", "customer_locale",
    "cart_id", "ip_address", "tax_rate", "country", "country_iso2", "weight", "is_email_opt_in",
))
_LINE_SPEC_KEYS = frozenset((
    "product_id", "variant_id", "name", "sku", "upc", "brand", "type", "price_inc_tax", "price",
    "quantity", "quantity_shipped", "quantity_refunded", "weight", "width", "height", "depth",
    "product_options", "address_index", "pickup_index", "recipient_email", "gift_certificate_id",
))
_ADDRESS_SPEC_KEYS = frozenset((
    *ADDRESS_FIELDS, "shipping_method", "shipping_cost", "shipping_zone_id", "shipping_zone_name"))
_PICKUP_SPEC_KEYS = frozenset((
    "pickup_method_id", "pickup_method_display_name", "collection_instructions",
    "collection_time_description", "location"))
_SHIPMENT_SPEC_KEYS = frozenset((
    "address_index", "items", "tracking_number", "tracking_carrier", "shipping_provider",
    "tracking_link", "shipping_method", "comments", "date_created"))
_DEFAULT_CUSTOMER = {
    "first_name": "Jane", "last_name": "Citizen", "company": "", "street_1": "1 George St",
    "street_2": "", "city": "Sydney", "state": "New South Wales", "zip": "2000",
    "country": "Australia", "country_iso2": "AU", "phone": "0400000000",
    "email": "jane.citizen@example.com",
}
_LOCATION_FIELDS = ("id", "name", "code", "address_line_1", "address_line_2", "city", "state",
                    "postal_code", "country_alpha2", "email", "phone")

# Native links for providers BigCommerce integrates; others fall back to AfterShip.
_PROVIDER_LINKS = {
    "auspost": "https://auspost.com.au/mypost/track/#/details/{}",
    "usps": "http://trkcnfrm1.smi.usps.com/PTSInternetWeb/InterLabelInquiry.do?strOrigTrackNum={}",
}
_PROVIDER_SLUGS = {"canadapost": "canada-post", "endicia": "usps", "fedex": "fedex", "ups": "ups",
                   "upsready": "ups", "upsonline": "ups", "royalmail": "royal-mail"}


def _check_keys(kind: str, given: Iterable[str], allowed: frozenset[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise TypeError(f"unknown {kind} field(s) {', '.join(unknown)}; "
                        f"known: {', '.join(sorted(allowed))}")


def _build_order(store: _Store, spec: Mapping[str, Any], now: datetime) -> _Order:
    _check_keys("order", spec, _ORDER_SPEC_KEYS)
    order_id = int(spec.get("id") or store.next_id("order", 100))
    if order_id in store.orders:
        raise ValueError(f"order {order_id} already exists in store {store.store_hash}")
    store.reserve_id("order", order_id)
    created = _as_datetime(spec.get("date_created") or now, "date_created")
    country = _country_override(spec)
    billing = _build_address(store, {**_DEFAULT_CUSTOMER, **country,
                                     **(spec.get("billing_address") or {})}, billing=True)
    products = list(spec.get("products") or [{}])
    addresses = [_build_address(store, a) for a in spec.get("shipping_addresses") or []]
    pickups = [_build_pickup(store, p) for p in spec.get("pickups") or []]
    needs_address = any(_line_needs_address(p, pickups) for p in products)
    if needs_address and not addresses:
        base = {k: getattr(billing, k) for k in ADDRESS_FIELDS}
        addresses = [_build_address(store, {**base, **country, "shipping_method": "Flat Rate",
                                            "shipping_cost": "10.00"})]
    destination = (addresses[0] if addresses else billing).country_iso2
    tax_rate = _dec(spec.get("tax_rate", "0.10" if destination == "AU" else "0"))
    default_weight = spec.get("weight", 1)
    lines = [_build_line(store, p, index, addresses, pickups, default_weight)
             for index, p in enumerate(products)]
    _check_every_consignment_has_lines(addresses, pickups, lines)
    order = _Order(
        id=order_id, status_id=int(spec.get("status_id", 11)), date_created=created,
        date_modified=_as_datetime(spec.get("date_modified") or created, "date_modified"),
        billing=billing, addresses=addresses, pickups=pickups, lines=lines, tax_rate=tax_rate,
    )
    for name in ("customer_id", "payment_method", "payment_status", "currency_code",
                 "staff_notes", "customer_message", "is_deleted", "channel_id",
                 "external_order_id", "order_source", "customer_locale", "cart_id",
                 "ip_address", "is_email_opt_in"):
        if name in spec:
            setattr(order, name, spec[name])
    if order.status_id not in ORDER_STATUSES:
        raise ValueError(f"status_id {order.status_id} is not one of 0-14")
    for shipment in spec.get("shipments") or []:
        order.shipments.append(_build_shipment(store, order, shipment, created))
    if spec.get("date_shipped"):
        order.date_shipped = _as_datetime(spec["date_shipped"], "date_shipped")
    elif order.status_id == 2:
        order.date_shipped = max((s.date_created for s in order.shipments),
                                 default=order.date_modified)
    return order


def _check_every_consignment_has_lines(addresses: list[_Address], pickups: list[_Pickup],
                                       lines: list[_Line]) -> None:
    # BigCommerce never has a consignment without lines; an empty one would be a test-data slip.
    shipped_to = {line.order_address_id for line in lines}
    picked_up_at = {line.order_pickup_method_id for line in lines}
    for position, address in enumerate(addresses):
        if address.id not in shipped_to:
            raise ValueError(f"shipping address {position} has no product lines; point a "
                             "product at it with address_index")
    for position, pickup in enumerate(pickups):
        if pickup.id not in picked_up_at:
            raise ValueError(f"pickup {position} has no product lines; point a product at it "
                             "with pickup_index")


def _country_override(spec: Mapping[str, Any]) -> dict[str, str]:
    iso2 = spec.get("country_iso2")
    if not iso2 and not spec.get("country"):
        return {}
    iso2 = iso2 or next((k for k, v in COUNTRIES.items() if v == spec["country"]), "")
    return {"country_iso2": iso2, "country": spec.get("country") or COUNTRIES.get(iso2, iso2)}


def _line_needs_address(product: Mapping[str, Any], pickups: list[_Pickup]) -> bool:
    return (product.get("type", "physical") == "physical" and "pickup_index" not in product
            and not (pickups and "address_index" not in product))


def _build_address(store: _Store, spec: Mapping[str, Any], billing: bool = False) -> _Address:
    _check_keys("address", spec, _ADDRESS_SPEC_KEYS)
    address = _Address(id=0 if billing else store.next_id("address"))
    for name in ADDRESS_FIELDS:
        if name in spec:
            setattr(address, name, str(spec[name] or ""))
    if address.country_iso2 and not address.country:
        address.country = COUNTRIES.get(address.country_iso2, address.country_iso2)
    address.shipping_method = str(spec.get("shipping_method", "Flat Rate"))
    address.cost_inc_tax = _dec(spec.get("shipping_cost", "0"))
    address.shipping_zone_id = int(spec.get("shipping_zone_id", 1 if address.country_iso2 == "AU"
                                            else 2))
    address.shipping_zone_name = str(spec.get("shipping_zone_name", "Australia"
                                              if address.country_iso2 == "AU" else "International"))
    return address


def _build_pickup(store: _Store, spec: Mapping[str, Any]) -> _Pickup:
    _check_keys("pickup", spec, _PICKUP_SPEC_KEYS)
    location: dict[str, Any] = dict.fromkeys(_LOCATION_FIELDS, "")
    location.update({"id": 1, "name": "Sandbox Store", "code": "STORE-1",
                     "address_line_1": "1 George St", "city": "Sydney",
                     "state": "New South Wales", "postal_code": "2000", "country_alpha2": "AU"})
    location.update(spec.get("location") or {})
    return _Pickup(
        id=store.next_id("pickup"),
        pickup_method_id=int(spec.get("pickup_method_id", 1)),
        display_name=str(spec.get("pickup_method_display_name", "Pick up in store")),
        collection_instructions=str(spec.get("collection_instructions", "Bring your ID")),
        collection_time_description=str(spec.get("collection_time_description", "9am - 5pm")),
        location=location,
    )


def _build_line(
    store: _Store, spec: Mapping[str, Any], index: int, addresses: list[_Address],
    pickups: list[_Pickup], default_weight: Any,
) -> _Line:
    _check_keys("product line", spec, _LINE_SPEC_KEYS)
    kind = str(spec.get("type", "physical"))
    if kind not in ("physical", "digital", "giftcertificate"):
        raise ValueError(f"line type {kind!r} is not physical, digital or giftcertificate")
    physical = kind == "physical"
    product_id = int(spec.get("product_id", 0 if kind == "giftcertificate" else 100 + index))
    line = _Line(
        id=store.next_id("line"),
        product_id=product_id,
        variant_id=int(spec.get("variant_id", 0)),
        name=str(spec.get("name") or _default_line_name(kind, index)),
        sku=str(spec.get("sku", f"SBX-{product_id}" if product_id else "")),
        type=kind,
        price_inc_tax=_dec(spec.get("price_inc_tax", spec.get("price", "25.00"))),
        quantity=int(spec.get("quantity", 1)),
        quantity_shipped=int(spec.get("quantity_shipped", 0)),
        quantity_refunded=int(spec.get("quantity_refunded", 0)),
        weight=_measure(str(spec.get("weight", default_weight if physical else 0))),
        width=_measure(str(spec.get("width", 10 if physical else 0))),
        height=_measure(str(spec.get("height", 5 if physical else 0))),
        depth=_measure(str(spec.get("depth", 2 if physical else 0))),
        brand=str(spec.get("brand", "")),
        upc=str(spec.get("upc", "")),
        recipient_email=str(spec.get("recipient_email", "")),
    )
    if line.quantity < 1 or line.remaining < 0:
        raise ValueError(f"line {index}: quantity must be >= 1 and >= shipped + refunded")
    if kind == "giftcertificate":
        line.gift_certificate_id = int(spec.get("gift_certificate_id") or line.id)
    if physical:
        _place_line(line, spec, index, addresses, pickups)
    line.options = tuple(_build_option(store, o) for o in spec.get("product_options") or [])
    return line


def _default_line_name(kind: str, index: int) -> str:
    if kind == "giftcertificate":
        return "$50.00 Gift Certificate"
    return "Sandbox eBook" if kind == "digital" else f"Sandbox Product {index + 1}"


def _place_line(line: _Line, spec: Mapping[str, Any], index: int, addresses: list[_Address],
                pickups: list[_Pickup]) -> None:
    """Point a physical line at its shipping address or pickup consignment."""
    if "pickup_index" in spec or (pickups and "address_index" not in spec):
        position = int(spec.get("pickup_index", 0))
        if not 0 <= position < len(pickups):
            raise ValueError(f"line {index}: pickup_index {position} but {len(pickups)} pickups")
        # A pickup line's order_pickup_method_id is its pickup consignment's id.
        line.order_pickup_method_id = pickups[position].id
        return
    position = int(spec.get("address_index", 0))
    if not 0 <= position < len(addresses):
        raise ValueError(f"line {index}: address_index {position} but {len(addresses)} addresses")
    line.order_address_id = addresses[position].id


def _build_option(store: _Store, spec: Mapping[str, Any]) -> tuple[Any, ...]:
    if "display_name" not in spec or "display_value" not in spec:
        raise ValueError("a product option needs display_name and display_value")
    option_id = store.next_id("option")
    value = str(spec.get("value", spec["display_value"]))
    return (option_id, int(spec.get("option_id", option_id)),
            int(spec.get("product_option_id", 100 + option_id)), str(spec["display_name"]),
            str(spec["display_value"]), value, str(spec.get("type", "Multiple choice")),
            str(spec.get("name", spec["display_name"])), str(spec.get("display_style", "")))


def _build_shipment(store: _Store, order: _Order, spec: Mapping[str, Any],
                    default_date: datetime) -> _Shipment:
    """A shipment that already happened (seeding): moves quantity_shipped, not the status."""
    _check_keys("shipment", spec, _SHIPMENT_SPEC_KEYS)
    position = int(spec.get("address_index", 0))
    if not 0 <= position < len(order.addresses):
        raise ValueError(f"shipment address_index {position} but {len(order.addresses)} addresses")
    address = order.addresses[position]
    on_address = [line for line in order.lines if line.order_address_id == address.id]
    wanted = spec.get("items")
    if wanted is None:
        picked = [(line, line.remaining) for line in on_address if line.remaining > 0]
    else:
        picked = [(order.lines[int(i["line_index"])], int(i["quantity"])) for i in wanted]
    for line, quantity in picked:
        if line.order_address_id != address.id or not 0 < quantity <= line.remaining:
            raise ValueError(f"cannot ship {quantity} of line {line.id} from address {address.id}")
        line.quantity_shipped += quantity
    carrier = str(spec.get("tracking_carrier", ""))
    provider = str(spec.get("shipping_provider", ""))
    number = str(spec.get("tracking_number", ""))
    custom_link = str(spec.get("tracking_link", ""))
    return _Shipment(
        id=store.next_id("shipment"), order_address_id=address.id,
        date_created=_as_datetime(spec.get("date_created") or default_date, "date_created"),
        items=[(line.id, line.product_id, quantity) for line, quantity in picked],
        tracking_number=number, tracking_carrier=carrier, shipping_provider=provider,
        tracking_link=custom_link,
        generated_tracking_link=_generated_link(provider, carrier, number, custom_link),
        shipping_method=str(spec.get("shipping_method", address.shipping_method)),
        comments=str(spec.get("comments", "")),
    )


def _generated_link(provider: str, carrier: str, number: str, custom_link: str) -> str:
    """The link BigCommerce generates: native for integrated providers, else AfterShip."""
    if custom_link or not number:
        return ""
    if carrier:
        return f"https://track.aftership.com/{quote(carrier)}/{quote(number)}"
    if provider in _PROVIDER_LINKS:
        return _PROVIDER_LINKS[provider].format(quote(number))
    if provider:
        slug = _PROVIDER_SLUGS.get(provider)
        return f"https://track.aftership.com/{slug + '/' if slug else ''}{quote(number)}"
    return ""
