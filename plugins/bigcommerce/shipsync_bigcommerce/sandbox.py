"""A stateful emulator of the BigCommerce REST API (the parts shipsync uses).

It serves, per store, ``/stores/{store_hash}/v2/...`` (orders, order products,
shipping addresses, consignments, shipments, order statuses, store) and
``/stores/{store_hash}/v3/...`` (units of measurement, customs information)
the way the official OpenAPI specs document them, with the quirks real stores
show (see ``shared/reference/bigcommerce-api.md``):

- empty v2 lists, and pages past the end, answer ``204 No Content``;
- ``limit`` above 250 answers ``413`` with ``details.max_limit``;
- money, weights and dimensions are strings with 4 decimals, dates RFC-2822 UTC;
- consignments inline (``consignment_structure=object``) carry at most 50 line
  items each, with an undocumented ``__warning__`` beyond that;
- creating shipments moves the order to Shipped (2) or Partially Shipped (3);
- a per-store fixed-window rate limit with the ``X-Rate-Limit-*`` headers;
- v2 errors are JSON arrays, v3 errors objects.

Tests set up state through the Python API (``add_store``, ``add_order``,
``update_order``, ``set_customs``, ``now``) and then drive shipsync over HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from shipsync.sandbox import Emulator, FixedWindowLimiter, HTTPError, Request, Response

from .seed import COUNTRIES, WEIGHT_UNITS, generate_customs, generate_orders, length_unit

__all__ = [
    "ORDER_STATUSES",
    "BigCommerceEmulator",
    "SandboxStore",
    "create_sandbox",
    "format_rfc2822",
    "parse_api_date",
    "sandbox_config",
    "store_hash_for",
]

MAX_LIMIT = 250
DEFAULT_LIMIT = 50
CONSIGNMENT_LINE_CAP = 50
STATUS_DOC_URL = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
GATEWAY = "https://api.bigcommerce.com"

# id -> (name, sort order, system description), as GET /v2/order_statuses lists them.
ORDER_STATUSES: dict[int, tuple[str, int, str]] = {
    0: ("Incomplete", 0, (
        "An incomplete order happens when a shopper reached the payment page, but did not "
        "complete the transaction.")),
    1: ("Pending", 1, "Customer started the checkout process, but did not complete it."),
    2: ("Shipped", 8, (
        "Order has been shipped, but receipt has not been confirmed; seller has used the Ship "
        "Items action.")),
    3: ("Partially Shipped", 6, (
        "Only some items in the order have been shipped, due to some products being pre-order "
        "only or other reasons.")),
    4: ("Refunded", 11, "Seller has used the Refund action."),
    5: ("Cancelled", 9, (
        "Seller has cancelled an order, due to a stock inconsistency or other reasons.")),
    6: ("Declined", 10, (
        "Seller has marked the order as declined for lack of manual payment, or other reasons.")),
    7: ("Awaiting Payment", 2, (
        "Customer has completed checkout process, but payment has yet to be confirmed.")),
    8: ("Awaiting Pickup", 5, (
        "Order has been pulled, and is awaiting customer pickup from a seller-specified "
        "location.")),
    9: ("Awaiting Shipment", 4, (
        "Order has been pulled and packaged, and is awaiting collection from a shipping "
        "provider.")),
    10: ("Completed", 7, (
        "Client has paid for their digital product and their file(s) are available for "
        "download.")),
    11: ("Awaiting Fulfillment", 3, (
        "Customer has completed the checkout process and payment has been confirmed.")),
    12: ("Manual Verification Required", 13, (
        "Order is on hold while some aspect needs to be manually confirmed.")),
    13: ("Disputed", 12, (
        "Customer has initiated a dispute resolution process for the PayPal transaction that "
        "paid for the order.")),
    14: ("Partially Refunded", 14, "Seller has partially refunded the order."),
}

ADDRESS_FIELDS = ("first_name", "last_name", "company", "street_1", "street_2", "city", "state",
                  "zip", "country", "country_iso2", "phone", "email")

# PUT /v2/orders/{id}: what the emulator lets a client change ...
_ORDER_WRITABLE = ("status_id", "staff_notes", "customer_message", "external_order_id",
                   "customer_locale", "payment_method", "billing_address")
# ... writable per the spec but not emulated (answered with a clear 400, not ignored) ...
_ORDER_NOT_EMULATED = ("products", "shipping_addresses", "consignments", "fees", "customer_id",
                       "channel_id", "order_source", "external_source", "external_merchant_id")
# ... and everything else the order carries is refused as read-only, as the real API does.

_SHIPMENT_FIELDS = ("order_address_id", "items", "tracking_number", "tracking_link",
                    "merchant_shipping_cost", "shipping_method", "shipping_provider",
                    "tracking_carrier", "comments")
_SHIPMENT_READ_ONLY = ("id", "order_id", "customer_id", "date_created", "billing_address",
                       "shipping_address", "shipping_provider_display_name",
                       "generated_tracking_link")
_PROVIDER_NAMES = {"": "", "auspost": "Australia Post", "canadapost": "Canada Post",
                   "endicia": "Endicia", "usps": "USPS", "fedex": "FedEx", "ups": "UPS",
                   "upsready": "UPS", "upsonline": "UPS", "shipperhq": "ShipperHQ",
                   "royalmail": "Royal Mail"}
# Native links for providers BigCommerce integrates; others fall back to AfterShip.
_PROVIDER_LINKS = {
    "auspost": "https://auspost.com.au/mypost/track/#/details/{}",
    "usps": "http://trkcnfrm1.smi.usps.com/PTSInternetWeb/InterLabelInquiry.do?strOrigTrackNum={}",
}
_PROVIDER_SLUGS = {"canadapost": "canada-post", "endicia": "usps", "fedex": "fedex", "ups": "ups",
                   "upsready": "ups", "upsonline": "ups", "royalmail": "royal-mail"}

_ZERO = Decimal(0)
_Q4 = Decimal("0.0001")
_STORE_PATH = re.compile(r"^/stores/(?P<hash>[^/]+)/(?P<api>v2|v3)(?:/|$)")


# --------------------------------------------------------------------------- small helpers


def store_hash_for(name: str) -> str:
    """The sandbox store hash of a configured store name ("main" -> "sbx" + 7 hex digits)."""
    return "sbx" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:7]


def format_rfc2822(moment: datetime) -> str:
    """``Wed, 10 Jan 2018 21:05:30 +0000``: how v2 sends every date, always in UTC."""
    return format_datetime(_utc(moment))


_LOST_PLUS = re.compile(r"(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s+(\d{2}:?\d{2})$")
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_api_date(value: str, name: str = "date") -> datetime:
    """Parse a v2 date filter, RFC-2822 or ISO-8601, into an aware UTC datetime.

    An unencoded ``+`` in the query string arrives as a space ("... 21:05:30  0000");
    that is repaired rather than refused, since the intent is unambiguous.
    """
    text = value.strip()
    iso = bool(_ISO_START.match(text))
    text = _LOST_PLUS.sub(r"\1+\2" if iso else r"\1 +\2", text)
    try:
        moment = datetime.fromisoformat(text) if iso \
            else parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise HTTPError(400, {"message": f"The field '{name}' is invalid: {value!r} is neither an "
                              "RFC-2822 nor an ISO-8601 date."}) from None
    return _utc(moment)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None \
        else moment.astimezone(UTC)


def _as_datetime(value: datetime | str, name: str) -> datetime:
    if isinstance(value, datetime):
        return _utc(value)
    try:
        return parse_api_date(value, name)
    except HTTPError as exc:
        raise ValueError(exc.body["message"]) from None


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else _decimal(str(value))


# Seeded stores repeat a few prices and weights many times: share the (immutable) objects.
@lru_cache(maxsize=4096)
def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None


@lru_cache(maxsize=4096)
def _measure(text: str) -> str:
    """A weight or dimension as the API sends it: "1.5" -> "1.5000"."""
    return _money(_decimal(text))


def _money(value: Decimal) -> str:
    return str(value.quantize(_Q4, rounding=ROUND_HALF_UP))


def _link(view: _View, resource: str) -> dict[str, str]:
    return {"url": view.base + resource, "resource": resource}


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class SandboxStore:
    """How to reach one emulated store (``emulator.stores[name]``)."""

    name: str
    store_hash: str
    access_token: str


class _WindowLimiter(FixedWindowLimiter):
    def reset_ms(self, key: str) -> int:
        """Milliseconds left in the key's current window (a whole window if none is open)."""
        # The core limiter has no read-only peek; this reads its window table under its lock.
        with self._lock:
            now = self._clock()
            start, _ = self._windows.get(key, (now, 0))
            if now - start >= self.window_s:
                start = now
            return max(0, int((start + self.window_s - now) * 1000))


@dataclass(slots=True)
class _Address:
    id: int
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    street_1: str = ""
    street_2: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""
    country_iso2: str = ""
    phone: str = ""
    email: str = ""
    shipping_method: str = ""
    cost_inc_tax: Decimal = _ZERO
    shipping_zone_id: int = 1
    shipping_zone_name: str = ""


@dataclass(slots=True)
class _Pickup:
    id: int
    pickup_method_id: int
    display_name: str
    collection_instructions: str
    collection_time_description: str
    location: dict[str, Any]


@dataclass(slots=True)
class _Line:
    id: int
    product_id: int
    variant_id: int
    name: str
    sku: str
    type: str
    price_inc_tax: Decimal
    quantity: int
    quantity_shipped: int = 0
    quantity_refunded: int = 0
    order_address_id: int = 0
    order_pickup_method_id: int = 0
    weight: str = "0.0000"
    width: str = "0.0000"
    height: str = "0.0000"
    depth: str = "0.0000"
    brand: str = ""
    upc: str = ""
    # (id, option_id, product_option_id, display_name, display_value, value, type, name, style)
    options: tuple[tuple[Any, ...], ...] = ()
    gift_certificate_id: int | None = None
    recipient_email: str = ""

    @property
    def shippable(self) -> bool:
        return self.type == "physical" and self.order_pickup_method_id == 0

    @property
    def remaining(self) -> int:
        return self.quantity - self.quantity_shipped - self.quantity_refunded


@dataclass(slots=True)
class _Shipment:
    id: int
    order_address_id: int
    date_created: datetime
    items: list[tuple[int, int, int]]  # (order_product_id, product_id, quantity)
    tracking_number: str = ""
    tracking_carrier: str = ""
    shipping_provider: str = ""
    tracking_link: str = ""
    generated_tracking_link: str = ""
    shipping_method: str = ""
    merchant_shipping_cost: Decimal = _ZERO
    comments: str = ""


@dataclass(slots=True)
class _Order:
    id: int
    status_id: int
    date_created: datetime
    date_modified: datetime
    billing: _Address
    addresses: list[_Address]
    pickups: list[_Pickup]
    lines: list[_Line]
    tax_rate: Decimal
    shipments: list[_Shipment] = field(default_factory=list)
    date_shipped: datetime | None = None
    customer_id: int = 0
    # Raw values served in place of the real ones (see BigCommerceEmulator.corrupt_order).
    corruptions: list[tuple[tuple[Any, ...], Any]] = field(default_factory=list)
    payment_method: str = "Credit Card"
    payment_status: str = "captured"
    currency_code: str = "AUD"
    staff_notes: str = ""
    customer_message: str = ""
    is_deleted: bool = False
    channel_id: int = 1
    external_order_id: str = ""
    order_source: str = "www"
    customer_locale: str = "en"
    cart_id: str = ""
    ip_address: str = ""
    is_email_opt_in: bool = False

    def total_inc_tax(self) -> Decimal:
        goods = sum((line.price_inc_tax * line.quantity for line in self.lines), _ZERO)
        return goods + sum((a.cost_inc_tax for a in self.addresses), _ZERO)


@dataclass
class _Store:
    store_hash: str
    access_token: str
    name: str
    weight_units: str
    currency: str
    limiter: _WindowLimiter | None
    store_id: int
    orders: dict[int, _Order] = field(default_factory=dict)
    customs: dict[int, dict[str, Any]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str, start: int = 1) -> int:
        value = self.counters.get(kind, start)
        self.counters[kind] = value + 1
        return value

    def reserve_id(self, kind: str, used: int) -> None:
        """Keep generated ids above one the caller chose."""
        if self.counters.get(kind, 0) <= used:
            self.counters[kind] = used + 1


@dataclass(frozen=True)
class _View:
    """How to render an order: links' base URL and what to include inline."""

    base: str  # e.g. http://127.0.0.1:8000/stores/abc/v2
    consignments: str | None = None  # None: a link; "object"; "legacy" (array)
    line_items: bool = False
    fees: bool = False
    line_cap: int | None = CONSIGNMENT_LINE_CAP


# --------------------------------------------------------------------------- building orders

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


# --------------------------------------------------------------------------- rendering


def _address_fields(address: _Address) -> dict[str, Any]:
    return {name: getattr(address, name) for name in ADDRESS_FIELDS}


def _ex_tax(order: _Order, amount: Decimal) -> Decimal:
    return (amount / (1 + order.tax_rate)).quantize(_Q4, rounding=ROUND_HALF_UP)


def _order_json(store: _Store, order: _Order, view: _View) -> dict[str, Any]:
    goods_inc = sum((line.price_inc_tax * line.quantity for line in order.lines), _ZERO)
    goods_ex = sum((_ex_tax(order, line.price_inc_tax) * line.quantity for line in order.lines),
                   _ZERO)
    ship_inc = sum((a.cost_inc_tax for a in order.addresses), _ZERO)
    ship_ex = _ex_tax(order, ship_inc)
    refunded = sum((line.price_inc_tax * line.quantity_refunded for line in order.lines), _ZERO)
    status_name = ORDER_STATUSES[order.status_id][0]
    zero = _money(_ZERO)
    body: dict[str, Any] = {
        "id": order.id,
        "customer_id": order.customer_id,
        "date_created": format_rfc2822(order.date_created),
        "date_modified": format_rfc2822(order.date_modified),
        "date_shipped": format_rfc2822(order.date_shipped) if order.date_shipped else "",
        "status_id": order.status_id,
        "status": status_name,
        "custom_status": status_name,
        "subtotal_ex_tax": _money(goods_ex),
        "subtotal_inc_tax": _money(goods_inc),
        "subtotal_tax": _money(goods_inc - goods_ex),
        "base_shipping_cost": _money(ship_inc),
        "shipping_cost_ex_tax": _money(ship_ex),
        "shipping_cost_inc_tax": _money(ship_inc),
        "shipping_cost_tax": _money(ship_inc - ship_ex),
        "shipping_cost_tax_class_id": 2,
        "base_handling_cost": zero, "handling_cost_ex_tax": zero, "handling_cost_inc_tax": zero,
        "handling_cost_tax": zero, "handling_cost_tax_class_id": 2,
        "base_wrapping_cost": zero, "wrapping_cost_ex_tax": zero, "wrapping_cost_inc_tax": zero,
        "wrapping_cost_tax": zero, "wrapping_cost_tax_class_id": 3,
        "total_ex_tax": _money(goods_ex + ship_ex),
        "total_inc_tax": _money(goods_inc + ship_inc),
        "total_tax": _money(goods_inc + ship_inc - goods_ex - ship_ex),
        "is_tax_inclusive_pricing": True,
        "items_total": sum(line.quantity for line in order.lines),
        "items_shipped": sum(line.quantity_shipped for line in order.lines),
        "payment_method": order.payment_method,
        "payment_provider_id": "",
        "payment_status": order.payment_status,
        "refunded_amount": _money(refunded),
        "order_is_digital": all(line.type != "physical" for line in order.lines),
        "store_credit_amount": zero,
        "gift_certificate_amount": zero,
        "ip_address": order.ip_address,
        "ip_address_v6": "",
        "geoip_country": order.billing.country,
        "geoip_country_iso2": order.billing.country_iso2,
        "currency_id": 1,
        "currency_code": order.currency_code,
        "currency_exchange_rate": "1.0000000000",
        "default_currency_id": 1,
        "default_currency_code": order.currency_code,
        "store_default_currency_code": store.currency,
        "store_default_to_transactional_exchange_rate": "1.0000000000",
        "staff_notes": order.staff_notes,
        "customer_message": order.customer_message,
        "discount_amount": zero,
        "coupon_discount": zero,
        "shipping_address_count": len(order.addresses),
        "is_deleted": order.is_deleted,
        "ebay_order_id": "0",
        "cart_id": order.cart_id,
        "billing_address": {**_address_fields(order.billing), "form_fields": []},
        "is_email_opt_in": order.is_email_opt_in,
        "credit_card_type": None,
        "order_source": order.order_source,
        "channel_id": order.channel_id,
        "external_source": None,
        "products": _link(view, f"/orders/{order.id}/products"),
        # Real responses spell this link the legacy way; clients must build the URL themselves.
        "shipping_addresses": _link(view, f"/orders/{order.id}/shippingaddresses"),
        "coupons": _link(view, f"/orders/{order.id}/coupons"),
        "external_id": None,
        "external_merchant_id": None,
        "tax_provider_id": "BasicTaxProvider",
        "customer_locale": order.customer_locale,
        "external_order_id": order.external_order_id,
    }
    if view.consignments is None:
        body["consignments"] = _link(view, f"/orders/{order.id}/consignments")
    else:
        consignments = _consignments_json(order, view)
        # The legacy (default) structure is an array; only the object form is documented.
        body["consignments"] = consignments if view.consignments == "object" else [consignments]
    if view.fees:
        body["fees"] = []
    for path, value in order.corruptions:
        _corrupt(body, path, value)
    return body


DELETE = object()  # as a corrupt_order value: leave the field out


def _corrupt(body: Any, path: tuple[Any, ...], value: Any) -> None:
    """Set (or with DELETE, remove) the value at ``path``, if the path exists in this view."""
    node = body
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict) or (isinstance(node, list) and isinstance(path[-1], int)
                                  and -len(node) <= path[-1] < len(node)):
        if value is DELETE:
            if isinstance(node, dict):
                node.pop(path[-1], None)
        else:
            node[path[-1]] = value


def _line_json(order: _Order, line: _Line) -> dict[str, Any]:
    price_ex = _ex_tax(order, line.price_inc_tax)
    total_inc = line.price_inc_tax * line.quantity
    total_ex = price_ex * line.quantity
    zero = _money(_ZERO)
    return {
        "id": line.id,
        "order_id": order.id,
        "product_id": line.product_id,
        "variant_id": line.variant_id,
        "order_pickup_method_id": line.order_pickup_method_id,
        "order_address_id": line.order_address_id,
        "name": line.name,
        "name_customer": line.name,
        "name_merchant": line.name,
        "sku": line.sku,
        "upc": line.upc,
        "type": line.type,
        "base_price": _money(price_ex),
        "price_ex_tax": _money(price_ex),
        "price_inc_tax": _money(line.price_inc_tax),
        "price_tax": _money(line.price_inc_tax - price_ex),
        "base_total": _money(total_ex),
        "total_ex_tax": _money(total_ex),
        "total_inc_tax": _money(total_inc),
        "total_tax": _money(total_inc - total_ex),
        # Strings, as real responses send them (the spec allows number|string for weight).
        "weight": line.weight,
        "width": line.width,
        "height": line.height,
        "depth": line.depth,
        "quantity": line.quantity,
        "base_cost_price": zero, "cost_price_inc_tax": zero, "cost_price_ex_tax": zero,
        "cost_price_tax": zero,
        "is_refunded": line.quantity_refunded > 0,
        "quantity_refunded": line.quantity_refunded,
        "refund_amount": _money(line.price_inc_tax * line.quantity_refunded),
        "return_id": 0,
        "wrapping_id": 0, "wrapping_name": "", "base_wrapping_cost": zero,
        "wrapping_cost_ex_tax": zero, "wrapping_cost_inc_tax": zero, "wrapping_cost_tax": zero,
        "wrapping_message": "",
        "quantity_shipped": line.quantity_shipped,
        "event_name": None,
        "event_date": None,
        "fixed_shipping_cost": zero,
        "ebay_item_id": "",
        "ebay_transaction_id": "",
        "option_set_id": 10 + line.product_id % 50 if line.options else None,
        "parent_order_product_id": None,
        "is_bundled_product": False,
        "bin_picking_number": "",
        "external_id": None,
        "brand": line.brand,
        "applied_discounts": [],
        "product_options": [_option_json(line, option) for option in line.options],
        "configurable_fields": [],
        "gift_certificate_id": line.gift_certificate_id,
        "discounted_total_inc_tax": _money(total_inc),
    }


def _option_json(line: _Line, option: tuple[Any, ...]) -> dict[str, Any]:
    option_id, catalog_option_id, product_option_id, name, value_text, value, kind, internal, \
        style = option
    return {
        "id": option_id, "option_id": catalog_option_id, "order_product_id": line.id,
        "product_option_id": product_option_id, "display_name": name,
        "display_name_customer": name, "display_name_merchant": name,
        "display_value": value_text, "display_value_customer": value_text,
        "display_value_merchant": value_text, "value": value, "type": kind, "name": internal,
        "display_style": style,
    }


def _address_json(order: _Order, address: _Address, view: _View) -> dict[str, Any]:
    lines = [line for line in order.lines if line.order_address_id == address.id]
    cost_ex = _ex_tax(order, address.cost_inc_tax)
    zero = _money(_ZERO)
    return {
        "id": address.id,
        "order_id": order.id,
        **_address_fields(address),
        "form_fields": [],
        "items_total": sum(line.quantity for line in lines),
        "items_shipped": sum(line.quantity_shipped for line in lines),
        "shipping_method": address.shipping_method,
        "base_cost": _money(address.cost_inc_tax),
        "cost_ex_tax": _money(cost_ex),
        "cost_inc_tax": _money(address.cost_inc_tax),
        "cost_tax": _money(address.cost_inc_tax - cost_ex),
        "cost_tax_class_id": 2,
        "base_handling_cost": zero, "handling_cost_ex_tax": zero, "handling_cost_inc_tax": zero,
        "handling_cost_tax": zero, "handling_cost_tax_class_id": 2,
        "shipping_zone_id": address.shipping_zone_id,
        "shipping_zone_name": address.shipping_zone_name,
        "shipping_quotes": _link(view, f"/orders/{order.id}/shipping_addresses/{address.id}"
                                       "/shipping_quotes"),
    }


def _consignments_json(order: _Order, view: _View) -> dict[str, Any]:
    shipping = []
    for address in order.addresses:
        lines = [line for line in order.lines if line.order_address_id == address.id]
        cost_ex = _ex_tax(order, address.cost_inc_tax)
        # The spec types consignment costs as numbers, unlike the address endpoint's strings.
        entry: dict[str, Any] = {
            "id": address.id,
            **_address_fields(address),
            "form_fields": [],
            "shipping_method": address.shipping_method,
            "items_total": sum(line.quantity for line in lines),
            "items_shipped": sum(line.quantity_shipped for line in lines),
            "base_cost": float(address.cost_inc_tax),
            "cost_ex_tax": float(cost_ex),
            "cost_inc_tax": float(address.cost_inc_tax),
            "cost_tax": float(address.cost_inc_tax - cost_ex),
            "cost_tax_class_id": 2,
            "base_handling_cost": 0, "handling_cost_ex_tax": 0, "handling_cost_inc_tax": 0,
            "handling_cost_tax": 0, "handling_cost_tax_class_id": 2,
            "shipping_zone_id": address.shipping_zone_id,
            "shipping_zone_name": address.shipping_zone_name,
            "shipping_quotes": _link(view, f"/orders/{order.id}/consignments/shipping/"
                                           f"{address.id}/shipping_quotes"),
        }
        entry.update(_line_items(order, lines, view))
        shipping.append(entry)
    pickups = []
    for pickup in order.pickups:
        lines = [line for line in order.lines if line.order_pickup_method_id == pickup.id]
        pickups.append({
            "id": pickup.id,
            "pickup_method_id": pickup.pickup_method_id,
            "pickup_method_display_name": pickup.display_name,
            "collection_instructions": pickup.collection_instructions,
            "collection_time_description": pickup.collection_time_description,
            "location": dict(pickup.location),
            **_line_items(order, lines, view),
        })
    digital = [line for line in order.lines if line.type == "digital"]
    downloads = [{"recipient_email": order.billing.email, **_line_items(order, digital, view)}] \
        if digital else []
    certificates: dict[str, list[_Line]] = {}
    for line in order.lines:
        if line.type == "giftcertificate":
            certificates.setdefault(line.recipient_email or order.billing.email, []).append(line)
    return {
        "pickups": pickups,
        "shipping": shipping,
        "downloads": downloads,
        "email": {"gift_certificates": [
            {"recipient_email": email, **_line_items(order, lines, view)}
            for email, lines in certificates.items()
        ]},
    }


def _line_items(order: _Order, lines: list[_Line], view: _View) -> dict[str, Any]:
    if not view.line_items:
        return {"line_items": [_link(view, f"/orders/{order.id}/products/{line.id}")
                               for line in lines]}
    cap = view.line_cap
    shown = lines if cap is None else lines[:cap]
    result: dict[str, Any] = {"line_items": [_line_json(order, line) for line in shown]}
    if len(shown) < len(lines):
        # Undocumented but observed (bigcommerce/docs#960): the rest must come from /products.
        result["__warning__"] = {"message": (
            f"Not all line items of this consignment are returned. This consignment has "
            f"{len(lines)} line items, but only {cap} are included. Please use the "
            "/v2/orders/{order_id}/products endpoint to retrieve all line items.")}
    return result


def _shipment_json(order: _Order, shipment: _Shipment) -> dict[str, Any]:
    address = next((a for a in order.addresses if a.id == shipment.order_address_id), None)
    return {
        "id": shipment.id,
        "order_id": order.id,
        "customer_id": order.customer_id,
        "order_address_id": shipment.order_address_id,
        "date_created": format_rfc2822(shipment.date_created),
        "tracking_number": shipment.tracking_number,
        "merchant_shipping_cost": _money(shipment.merchant_shipping_cost),
        "shipping_method": shipment.shipping_method,
        "comments": shipment.comments,
        "shipping_provider": shipment.shipping_provider,
        "tracking_carrier": shipment.tracking_carrier,
        "tracking_link": shipment.tracking_link,
        "billing_address": _address_fields(order.billing),
        "shipping_address": _address_fields(address) if address else {},
        "items": [{"order_product_id": line_id, "product_id": product_id, "quantity": quantity}
                  for line_id, product_id, quantity in shipment.items],
        "shipping_provider_display_name": _PROVIDER_NAMES.get(shipment.shipping_provider,
                                                              shipment.shipping_provider),
        "generated_tracking_link": shipment.generated_tracking_link,
    }


def _status_json(status_id: int) -> dict[str, Any]:
    name, sort_order, description = ORDER_STATUSES[status_id]
    return {"id": status_id, "name": name, "system_label": name, "custom_label": name,
            "system_description": description, "order": sort_order}


# --------------------------------------------------------------------------- request parsing


def _int_arg(request: Request, name: str, default: int | None = None,
             minimum: int | None = None) -> int | None:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HTTPError(400, {"message": f"The field '{name}' is invalid: {raw!r} is not an "
                              "integer."}) from None
    if minimum is not None and value < minimum:
        raise HTTPError(400, {"message": f"The field '{name}' must be at least {minimum}."})
    return value


def _paging(request: Request) -> tuple[int, int]:
    page = _int_arg(request, "page", 1, minimum=1) or 1
    limit = _int_arg(request, "limit", DEFAULT_LIMIT, minimum=1) or DEFAULT_LIMIT
    if limit > MAX_LIMIT:
        raise HTTPError(413, [{"status": 413,
                               "message": "The specified limit exceeds the maximum allowed.",
                               "details": {"max_limit": MAX_LIMIT}}])
    return page, limit


def _page_of(items: Sequence[Any], page: int, limit: int) -> Sequence[Any]:
    return items[(page - 1) * limit: page * limit]


def _v2_list(items: list[Any]) -> Response:
    # An empty v2 collection (or a page past the end) is 204 with no body, never [].
    return Response(200, items) if items else Response(204)


def _includes(request: Request) -> set[str]:
    return {part.strip() for value in request.args("include") for part in value.split(",")
            if part.strip()}


_SORT_KEYS: dict[str, Callable[[_Order], Any]] = {
    "id": lambda o: o.id,
    "customer_id": lambda o: o.customer_id,
    "date_created": lambda o: o.date_created,
    "date_modified": lambda o: o.date_modified,
    "status_id": lambda o: o.status_id,
    "channel_id": lambda o: o.channel_id,
    "external_id": lambda o: "",
}


def _sort_orders(request: Request, orders: list[_Order]) -> None:
    raw = request.arg("sort") or "id"
    field_name, _, direction = raw.partition(":")
    key = _SORT_KEYS.get(field_name)
    if key is None or direction.lower() not in ("", "asc", "desc"):
        raise HTTPError(400, {"message": f"The field 'sort' is invalid: {raw!r}. Use one of "
                              f"{', '.join(_SORT_KEYS)} with :asc or :desc."})
    orders.sort(key=lambda o: (key(o), o.id), reverse=direction.lower() == "desc")


def _order_filters(request: Request) -> list[Callable[[_Order], bool]]:
    """The predicates the v2 order filters (shared by the list and count) stand for."""
    tests: list[Callable[[_Order], bool]] = []

    def number(name: str, attr: Callable[[_Order], int],
               compare: Callable[[int, int], bool]) -> None:
        value = _int_arg(request, name)
        if value is not None:
            tests.append(lambda o: compare(attr(o), value))

    def equal_text(name: str, attr: Callable[[_Order], str]) -> None:
        value = request.arg(name)
        if value:
            tests.append(lambda o: attr(o).lower() == value.lower())

    def date(name: str, attr: Callable[[_Order], datetime], lower: bool) -> None:
        raw = request.arg(name)
        if raw:
            bound = parse_api_date(raw, name)
            tests.append((lambda o: attr(o) >= bound) if lower else (lambda o: attr(o) <= bound))

    def total(name: str, lower: bool) -> None:
        raw = request.arg(name)
        if raw:
            try:
                bound = Decimal(raw)
            except InvalidOperation:
                raise HTTPError(400, {"message": f"The field '{name}' is invalid."}) from None
            tests.append((lambda o: o.total_inc_tax() >= bound) if lower
                         else (lambda o: o.total_inc_tax() <= bound))

    number("status_id", lambda o: o.status_id, lambda a, b: a == b)
    number("min_id", lambda o: o.id, lambda a, b: a >= b)
    number("max_id", lambda o: o.id, lambda a, b: a <= b)
    number("customer_id", lambda o: o.customer_id, lambda a, b: a == b)
    number("channel_id", lambda o: o.channel_id, lambda a, b: a == b)
    equal_text("email", lambda o: o.billing.email)
    equal_text("cart_id", lambda o: o.cart_id)
    equal_text("payment_method", lambda o: o.payment_method)
    equal_text("external_order_id", lambda o: o.external_order_id)
    date("min_date_created", lambda o: o.date_created, True)
    date("max_date_created", lambda o: o.date_created, False)
    date("min_date_modified", lambda o: o.date_modified, True)
    date("max_date_modified", lambda o: o.date_modified, False)
    total("min_total", True)
    total("max_total", False)
    return tests


def _json_object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise HTTPError(400, {"message": "The request body must be a JSON object."})
    return body


def _text_field(body: Mapping[str, Any], name: str, max_length: int) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise HTTPError(400, {"message": f"The field '{name}' must be a string."})
    if len(value) > max_length:
        raise HTTPError(400, {"message": f"The field '{name}' is too long: {len(value)} characters;"
                              f" the maximum is {max_length}."})
    return value


def _whole_number(value: Any, name: str) -> int:
    # The guide sends order_address_id as a string ("128"); the spec says integer. Take both.
    if isinstance(value, bool):
        raise HTTPError(400, {"message": f"The field '{name}' must be an integer."})
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise HTTPError(400, {"message": f"The field '{name}' must be an integer, not {value!r}."})


# --------------------------------------------------------------------------- the emulator


class BigCommerceEmulator(Emulator):
    """BigCommerce stores in memory, served over HTTP by ``EmulatorServer``.

    Python API (tests set up state, then drive shipsync over HTTP); every
    ``store_hash`` argument also takes the alias a store was registered under:

    - ``add_store(store_hash, access_token, *, name, weight_units, currency, rate_limit, alias)``,
      ``remove_store(store_hash)``
    - ``add_order(store_hash, **spec) -> dict``,
      ``update_order(store_hash, order_id, **changes) -> dict``
    - ``get_order``, ``products``, ``shipping_addresses``, ``shipments`` (store_hash, order_id),
      ``order_ids(store_hash)``
    - ``set_customs(store_hash, product_id, country_of_origin, hs_codes)``,
      ``seed(store_hash, count, seed)``
    - ``now``: the clock (assign ``lambda: datetime(...)`` to age orders)
    - ``fault_reset_ms``: X-Rate-Limit-Time-Reset-Ms of injected 429s (None: the store's window)
    """

    name = "bigcommerce"

    def __init__(self, *, fault_seed: int = 0) -> None:
        super().__init__(fault_seed=fault_seed)
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.stores: dict[str, SandboxStore] = {}
        self.fault_reset_ms: int | None = None
        self._stores: dict[str, _Store] = {}
        self._local = threading.local()  # which API (v2/v3) the current thread answers
        self._rate: tuple[int, int, int, int] | None = None  # set and read under self.lock
        self._routes()

    # -- Python API -----------------------------------------------------------
    def add_store(
        self,
        store_hash: str,
        access_token: str,
        *,
        name: str = "Sandbox Store",
        weight_units: str = "KGS",
        currency: str = "AUD",
        rate_limit: tuple[int, float] | None = (150, 30.0),
        alias: str | None = None,
    ) -> SandboxStore:
        """Add an empty store; ``alias`` (default: the hash) is its key in ``self.stores``."""
        if weight_units not in WEIGHT_UNITS:
            raise ValueError(f"weight_units {weight_units!r} is not one of "
                             f"{', '.join(WEIGHT_UNITS)}")
        with self.lock:
            if store_hash in self._stores:
                raise ValueError(f"store {store_hash!r} already exists")
            limiter = _WindowLimiter(int(rate_limit[0]), float(rate_limit[1])) if rate_limit \
                else None
            self._stores[store_hash] = _Store(
                store_hash=store_hash, access_token=access_token, name=name,
                weight_units=weight_units, currency=currency, limiter=limiter,
                store_id=int(hashlib.sha256(store_hash.encode()).hexdigest()[:9], 16),
            )
            handle = SandboxStore(alias or store_hash, store_hash, access_token)
            self.stores[handle.name] = handle
            return handle

    def remove_store(self, store_hash: str) -> None:
        """Forget a store and all its orders (tests sharing one server start clean)."""
        with self.lock:
            state = self._store(store_hash)
            del self._stores[state.store_hash]
            for name in [n for n, s in self.stores.items() if s.store_hash == state.store_hash]:
                del self.stores[name]

    def add_order(self, store_hash: str, **spec: Any) -> dict[str, Any]:
        """Add a coherent order and return it as ``GET /v2/orders/{id}`` would, with its
        consignments inline (every line item, uncapped) so callers see the line and address ids.

        Spec keys (all optional): ``id``, ``status_id`` (11), ``date_created`` (now),
        ``date_modified``, ``date_shipped``, ``customer_id``, ``billing_address`` {field: value},
        ``country``/``country_iso2`` (the default addresses' country), ``shipping_addresses``
        [{address fields, shipping_method, shipping_cost}], ``pickups`` [{pickup_method_id,
        pickup_method_display_name, location {...}}], ``products`` [{product_id, variant_id,
        name, sku, type physical|digital|giftcertificate, price_inc_tax, quantity,
        quantity_shipped, quantity_refunded, weight, width, height, depth, product_options
        [{display_name, display_value, type, value, ...}], address_index, pickup_index,
        recipient_email}], ``weight`` (default line weight), ``shipments`` [{address_index,
        items [{line_index, quantity}] or None for all, tracking_number, tracking_carrier, ...}],
        ``payment_method``, ``payment_status``, ``is_deleted``, ``staff_notes``,
        ``customer_message``, ``tax_rate`` (0.10 to AU, else 0), ``external_order_id``, ...
        """
        with self.lock:
            state = self._store(store_hash)
            order = self._insert(state, spec)
            return self._python_view(state, order)

    def update_order(self, store_hash: str, order_id: int, **changes: Any) -> dict[str, Any]:
        """Change an order as the merchant would, and bump ``date_modified`` (to ``now``, or
        to ``date_modified=`` when given).

        Changes: ``status_id``, scalar order fields (``staff_notes``, ``is_deleted``, ...),
        ``billing_address`` / ``shipping_address`` (the first) {field: value},
        ``shipping_addresses`` {address_id: {field: value}}, and per line id
        ``quantities``, ``quantity_shipped``, ``quantity_refunded`` {line_id: n}.
        """
        with self.lock:
            state = self._store(store_hash)
            order = self._order(state, order_id)
            _apply_changes(order, changes)
            order.date_modified = _as_datetime(changes["date_modified"], "date_modified") \
                if changes.get("date_modified") else self._now()
            return self._python_view(state, order)

    def corrupt_order(self, store_hash: str, order_id: int,
                      values: Mapping[tuple[Any, ...], Any]) -> None:
        """Serve raw values in an order's JSON, as a misbehaving store or proxy would.

        ``values`` maps a path in the order body (e.g. ``("consignments", "shipping", 0,
        "line_items", 0, "weight")``) to the value served there, or ``DELETE`` to leave
        the field out. Paths absent from a given view are ignored. For bad-input tests:
        the emulator's own state stays coherent. Bumps date_modified.
        """
        with self.lock:
            order = self._order(self._store(store_hash), order_id)
            order.corruptions.extend((tuple(path), value) for path, value in values.items())
            order.date_modified = self._now()

    def heal_order(self, store_hash: str, order_id: int) -> None:
        """Serve the order's real data again (undo ``corrupt_order``); bumps date_modified."""
        with self.lock:
            order = self._order(self._store(store_hash), order_id)
            order.corruptions.clear()
            order.date_modified = self._now()

    def get_order(self, store_hash: str, order_id: int) -> dict[str, Any]:
        """The order as ``add_order`` returns it (deleted orders too)."""
        with self.lock:
            state = self._store(store_hash)
            return self._python_view(state, self._order(state, order_id))

    def products(self, store_hash: str, order_id: int) -> list[dict[str, Any]]:
        with self.lock:
            state = self._store(store_hash)
            order = self._order(state, order_id)
            return [_line_json(order, line) for line in order.lines]

    def shipping_addresses(self, store_hash: str, order_id: int) -> list[dict[str, Any]]:
        with self.lock:
            state = self._store(store_hash)
            order = self._order(state, order_id)
            view = self._gateway_view(state)
            return [_address_json(order, address, view) for address in order.addresses]

    def shipments(self, store_hash: str, order_id: int) -> list[dict[str, Any]]:
        with self.lock:
            state = self._store(store_hash)
            order = self._order(state, order_id)
            return [_shipment_json(order, shipment) for shipment in order.shipments]

    def order_ids(self, store_hash: str, *, include_deleted: bool = False) -> list[int]:
        with self.lock:
            return [o.id for o in self._store(store_hash).orders.values()
                    if include_deleted or not o.is_deleted]

    def set_customs(
        self,
        store_hash: str,
        product_id: int,
        country_of_origin: str,
        hs_codes: Mapping[str, str],
        *,
        commodity_description: str = "",
        international_shipping: bool = True,
    ) -> dict[str, Any]:
        """Upsert a product's customs information, as the v3 customs-information PUT does."""
        with self.lock:
            state = self._store(store_hash)
            now = self._now()
            previous = state.customs.get(product_id)
            record = {
                "product_id": int(product_id),
                "country_of_origin": country_of_origin,
                "commodity_description": commodity_description,
                "international_shipping": international_shipping,
                "hs_codes": dict(hs_codes),
                "created_at": previous["created_at"] if previous else now,
                "updated_at": now,
            }
            state.customs[int(product_id)] = record
            return _customs_json(record)

    def seed(self, store_hash: str, count: int, seed: int = 0, *,
             now: datetime | None = None) -> None:
        """Fill a store with ``count`` generated orders (see ``seed.generate_orders``)."""
        with self.lock:
            state = self._store(store_hash)
            moment = now or self._now()
            first_id = state.counters.get("order", 100)
            for spec in generate_orders(count, seed, now=moment, weight_units=state.weight_units,
                                        first_id=first_id):
                self._insert(state, spec)
            for record in generate_customs(seed, now=moment):
                state.customs.setdefault(record["product_id"], record)

    # -- Python API helpers -----------------------------------------------------
    def _now(self) -> datetime:
        # Whole seconds: what v2 dates can express, so a date read back filters exactly.
        return _utc(self.now()).replace(microsecond=0)

    def _store(self, key: str) -> _Store:
        state = self._stores.get(key)
        if state is None and key in self.stores:
            state = self._stores.get(self.stores[key].store_hash)
        if state is None:
            raise KeyError(f"no store {key!r} (stores: {', '.join(self.stores) or 'none'})")
        return state

    @staticmethod
    def _order(state: _Store, order_id: int) -> _Order:
        order = state.orders.get(int(order_id))
        if order is None:
            raise KeyError(f"no order {order_id} in store {state.store_hash}")
        return order

    def _insert(self, state: _Store, spec: Mapping[str, Any]) -> _Order:
        order = _build_order(state, spec, self._now())
        state.orders[order.id] = order
        return order

    @staticmethod
    def _gateway_view(state: _Store, **options: Any) -> _View:
        return _View(base=f"{GATEWAY}/stores/{state.store_hash}/v2", **options)

    def _python_view(self, state: _Store, order: _Order) -> dict[str, Any]:
        view = self._gateway_view(state, consignments="object", line_items=True, line_cap=None)
        return _order_json(state, order, view)

    # -- Emulator hooks ---------------------------------------------------------
    def dispatch(self, request: Request) -> tuple[Response, str, str | None]:
        # error_body() gets no request; remember per thread which API shape to use.
        self._local.api = _api_of(request.path)
        response, route, fault = super().dispatch(request)
        if fault in ("500", "502", "503"):
            response.body = self.error_body(response.status, response.body)
        return response, route, fault

    def before_request(self, request: Request) -> Response | None:
        self._rate = None
        found = _STORE_PATH.match(request.path)
        if found is None:
            return None  # not_found() answers
        api = found["api"]
        state = self._stores.get(found["hash"])
        if state is None:
            return Response(404, _error(api, 404, "The requested resource was not found."))
        token = request.header("x-auth-token") or ""
        if not hmac.compare_digest(token.encode(), state.access_token.encode()):
            return Response(401, _error(api, 401, "No valid credential found in the request. "
                                        "Send the API account's access token as X-Auth-Token."))
        if state.limiter is None:
            return None
        allowed, left, reset_ms = state.limiter.consume(state.store_hash)
        self._rate = (state.limiter.quota, int(state.limiter.window_s * 1000), left, reset_ms)
        if allowed:
            return None
        return Response(429, _error(api, 429, "Too many requests: the store's API quota for this "
                                    "window is used up."), _retry_after(reset_ms))

    def decorate(self, request: Request, response: Response) -> None:
        if self._rate is not None:
            quota, window_ms, left, reset_ms = self._rate
            for name, value in _rate_headers(quota, window_ms, left, reset_ms).items():
                response.headers.setdefault(name, value)

    def rate_limited(self, request: Request, bare: bool) -> Response:
        api = _api_of(request.path)
        body = _error(api, 429, "Too many requests: the store's API quota for this window is "
                      "used up.")
        if bare:
            return Response(429, body)
        found = _STORE_PATH.match(request.path)
        with self.lock:
            state = self._stores.get(found["hash"]) if found else None
        limiter = state.limiter if state else None
        quota, window_s = (limiter.quota, limiter.window_s) if limiter else (150, 30.0)
        reset_ms = self.fault_reset_ms if self.fault_reset_ms is not None else (
            limiter.reset_ms(state.store_hash) if limiter and state else int(window_s * 1000))
        headers = {**_rate_headers(quota, int(window_s * 1000), 0, reset_ms),
                   **_retry_after(reset_ms)}
        return Response(429, body, headers)

    def not_found(self, request: Request) -> Response:
        return Response(404, _error(_api_of(request.path), 404,
                                    "The requested resource was not found."))

    def error_body(self, status: int, body: Any) -> Any:
        api = getattr(self._local, "api", "v2")
        if api == "v2" and isinstance(body, list):
            return body
        if api == "v3" and isinstance(body, dict) and "title" in body:
            return body
        message, details = _message_of(status, body)
        return _error(api, status, message, details)

    # -- routes -----------------------------------------------------------------
    def _routes(self) -> None:
        v2, v3 = "/stores/{store_hash}/v2", "/stores/{store_hash}/v3"
        order = v2 + "/orders/{order_id:int}"

        def add(method: str, pattern: str, handler: Callable[[Request], Response]) -> None:
            self.router.add(method, pattern, _answer_bugs(handler))
        add("GET", v2 + "/orders", self._get_orders)
        add("GET", v2 + "/orders/count", self._get_orders_count)
        add("GET", order, self._get_order)
        add("PUT", order, self._put_order)
        add("DELETE", order, self._delete_order)
        add("GET", order + "/products", self._get_products)
        add("GET", order + "/products/{line_id:int}", self._get_product)
        add("GET", order + "/shipping_addresses", self._get_addresses)
        add("GET", order + "/shipping_addresses/{address_id:int}", self._get_address)
        add("GET", order + "/consignments", self._get_consignments)
        add("GET", order + "/shipments", self._get_shipments)
        add("POST", order + "/shipments", self._post_shipment)
        add("GET", order + "/shipments/count", self._get_shipments_count)
        add("GET", order + "/shipments/{shipment_id:int}", self._get_shipment)
        add("GET", v2 + "/order_statuses", self._get_statuses)
        add("GET", v2 + "/order_statuses/{status_id:int}", self._get_status)
        add("GET", v2 + "/store", self._get_store)
        add("GET", v2 + "/time", self._get_time)
        add("GET", v3 + "/settings/store/units-of-measurement", self._get_units)
        add("GET", v3 + "/shipping/products/customs-information", self._get_customs)

    def _request_store(self, request: Request) -> _Store:
        return self._stores[request.params["store_hash"]]  # before_request vouched for it

    def _request_order(self, request: Request, state: _Store) -> _Order:
        order = state.orders.get(request.params["order_id"])
        if order is None:
            raise HTTPError(404, {"message": "The requested resource was not found."})
        return order

    @staticmethod
    def _view(request: Request, state: _Store) -> _View:
        host = request.header("host") or "api.bigcommerce.com"
        includes = _includes(request)
        wants = bool(includes & {"consignments", "consignments.line_items"})
        structure = "object" if request.arg("consignment_structure") == "object" else "legacy"
        return _View(base=f"http://{host}/stores/{state.store_hash}/v2",
                     consignments=structure if wants else None,
                     line_items="consignments.line_items" in includes,
                     fees="fees" in includes)

    # -- orders -----------------------------------------------------------------
    def _matching_orders(self, request: Request, state: _Store) -> list[_Order]:
        tests = _order_filters(request)
        # Archived (deleted) orders never appear in lists or counts.
        return [o for o in state.orders.values()
                if not o.is_deleted and all(test(o) for test in tests)]

    def _get_orders(self, request: Request) -> Response:
        state = self._request_store(request)
        page, limit = _paging(request)
        orders = self._matching_orders(request, state)
        _sort_orders(request, orders)
        view = self._view(request, state)
        return _v2_list([_order_json(state, o, view) for o in _page_of(orders, page, limit)])

    def _get_orders_count(self, request: Request) -> Response:
        state = self._request_store(request)
        orders = self._matching_orders(request, state)
        counts = {status_id: 0 for status_id in ORDER_STATUSES}
        for order in orders:
            counts[order.status_id] += 1
        statuses = []
        for status_id in sorted(ORDER_STATUSES, key=lambda s: ORDER_STATUSES[s][1]):
            entry = _status_json(status_id)
            entry["sort_order"] = entry.pop("order")
            entry["count"] = counts[status_id]
            statuses.append(entry)
        return Response(200, {"statuses": statuses, "count": len(orders)})

    def _get_order(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        return Response(200, _order_json(state, order, self._view(request, state)))

    def _put_order(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        body = _json_object(request)
        for name in body:
            if name in _ORDER_NOT_EMULATED:
                raise HTTPError(400, {"message": f"The sandbox does not emulate writing '{name}'; "
                                      "change it with update_order() in tests."})
            if name not in _ORDER_WRITABLE:
                raise HTTPError(400, {"message": f"The field '{name}' cannot be written to. Please "
                                      "remove it from your request before trying again."})
        changes = _validated_order_changes(body)
        _apply_changes(order, changes)
        order.date_modified = self._now()
        return Response(200, _order_json(state, order, self._view(request, state)))

    def _delete_order(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        order.is_deleted = True  # DELETE archives; the order stays readable by id
        order.date_modified = self._now()
        return Response(204)

    # -- order sub-resources ----------------------------------------------------
    def _get_products(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        page, limit = _paging(request)
        return _v2_list([_line_json(order, line) for line in _page_of(order.lines, page, limit)])

    def _get_product(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        line = next((x for x in order.lines if x.id == request.params["line_id"]), None)
        if line is None:
            raise HTTPError(404, {"message": "The requested resource was not found."})
        return Response(200, _line_json(order, line))

    def _get_addresses(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        page, limit = _paging(request)
        view = self._view(request, state)
        return _v2_list([_address_json(order, a, view)
                         for a in _page_of(order.addresses, page, limit)])

    def _get_address(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        address = next((a for a in order.addresses if a.id == request.params["address_id"]), None)
        if address is None:
            raise HTTPError(404, {"message": "The requested resource was not found."})
        return Response(200, _address_json(order, address, self._view(request, state)))

    def _get_consignments(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        view = self._view(request, state)
        view = _View(base=view.base, consignments="object", line_items=view.line_items)
        return Response(200, _consignments_json(order, view))

    def _get_shipments(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        page, limit = _paging(request)
        return _v2_list([_shipment_json(order, s)
                         for s in _page_of(order.shipments, page, limit)])

    def _get_shipments_count(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        return Response(200, {"count": len(order.shipments)})

    def _get_shipment(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        shipment = next((s for s in order.shipments if s.id == request.params["shipment_id"]),
                        None)
        if shipment is None:
            raise HTTPError(404, {"message": "The requested resource was not found."})
        return Response(200, _shipment_json(order, shipment))

    def _post_shipment(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        body = _json_object(request)
        address, picked = _validate_shipment(order, body)
        now = self._now()
        for line, quantity in picked:
            line.quantity_shipped += quantity
        number = _text_field(body, "tracking_number", 50)
        provider = _text_field(body, "shipping_provider", 100)
        carrier = _text_field(body, "tracking_carrier", 100)
        custom_link = _text_field(body, "tracking_link", 500)
        shipment = _Shipment(
            id=state.next_id("shipment"), order_address_id=address.id, date_created=now,
            items=[(line.id, line.product_id, quantity) for line, quantity in picked],
            tracking_number=number, tracking_carrier=carrier, shipping_provider=provider,
            tracking_link=custom_link,
            generated_tracking_link=_generated_link(provider, carrier, number, custom_link),
            shipping_method=_text_field(body, "shipping_method", 250),
            merchant_shipping_cost=_dec(body.get("merchant_shipping_cost") or 0),
            comments=_text_field(body, "comments", 65535),
        )
        order.shipments.append(shipment)
        _after_shipment(order, now)
        return Response(201, _shipment_json(order, shipment))

    # -- statuses, store, settings, customs -------------------------------------
    def _get_statuses(self, request: Request) -> Response:
        return Response(200, [_status_json(status_id) for status_id in ORDER_STATUSES])

    def _get_status(self, request: Request) -> Response:
        status_id = request.params["status_id"]
        if status_id not in ORDER_STATUSES:
            raise HTTPError(404, {"message": "The requested resource was not found."})
        return Response(200, _status_json(status_id))

    def _get_store(self, request: Request) -> Response:
        return Response(200, _store_json(self._request_store(request)))

    def _get_time(self, request: Request) -> Response:
        return Response(200, {"time": int(self._now().timestamp())})

    def _get_units(self, request: Request) -> Response:
        state = self._request_store(request)
        return Response(200, {"data": {
            "weight_measurement": state.weight_units,
            "length_measurement": length_unit(state.weight_units),
            "decimal_token": ".", "thousands_token": ",", "decimal_places": 2,
            "factoring_dimension": "depth",
        }, "meta": {}})

    def _get_customs(self, request: Request) -> Response:
        state = self._request_store(request)
        wanted = _product_ids(request.arg("product_id:in"))
        records = [state.customs[pid] for pid in sorted(state.customs)
                   if wanted is None or pid in wanted]
        page = _int_arg(request, "page", 1, minimum=1) or 1
        limit = _int_arg(request, "limit", DEFAULT_LIMIT, minimum=1) or DEFAULT_LIMIT
        if limit > MAX_LIMIT:
            raise HTTPError(422, {"message": f"The field 'limit' must be at most {MAX_LIMIT}."})
        shown = _page_of(records, page, limit)
        return Response(200, {"data": [_customs_json(r) for r in shown],
                              "meta": _v3_pagination(len(records), len(shown), page, limit)})


# --------------------------------------------------------------------------- handler helpers


def _answer_bugs(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """Turn an emulator bug into a 500 that says what broke.

    The core only catches HTTPError; anything else would drop the connection
    without an answer, which looks like a network fault to the client under test.
    """
    def guarded(request: Request) -> Response:
        try:
            return handler(request)
        except HTTPError:
            raise
        except Exception as exc:
            raise HTTPError(500, {"message": f"Sandbox error in {handler.__name__}: "
                                  f"{type(exc).__name__}: {exc}"}) from exc
    return guarded


def _api_of(path: str) -> str:
    found = _STORE_PATH.match(path)
    return found["api"] if found else "v2"


_REASONS = {400: "The request was invalid.", 401: "Authentication is required.",
            403: "You don't have a required scope to access the endpoint.",
            404: "The requested resource was not found.",
            405: "The requested method is not allowed for this resource.",
            413: "The request is too large.", 422: "The request could not be processed.",
            429: "Too many requests.", 500: "Internal server error.", 502: "Bad gateway.",
            503: "The store is down for maintenance."}


def _message_of(status: int, body: Any) -> tuple[str, Any]:
    if isinstance(body, str):
        return body, None
    if isinstance(body, dict):
        message = body.get("message") or body.get("title") or _REASONS.get(status, "Error.")
        return str(message), body.get("details") or body.get("errors")
    return _REASONS.get(status, "Error."), None


def _error(api: str, status: int, message: str, details: Any = None) -> Any:
    """An error body in the API's shape: a v2 array, or a v3 problem object."""
    if api == "v3":
        return {"status": status, "title": message, "type": STATUS_DOC_URL,
                "errors": details if isinstance(details, dict) else {}}
    entry: dict[str, Any] = {"status": status, "message": message}
    if details:
        entry["details"] = details
    return [entry]


def _rate_headers(quota: int, window_ms: int, left: int, reset_ms: int) -> dict[str, str]:
    return {
        "X-Rate-Limit-Requests-Left": str(left),
        "X-Rate-Limit-Requests-Quota": str(quota),
        "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
        "X-Rate-Limit-Time-Window-Ms": str(window_ms),
    }


def _retry_after(reset_ms: int) -> dict[str, str]:
    return {"X-Retry-After": str(max(1, math.ceil(reset_ms / 1000)))}


def _validated_order_changes(body: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name == "status_id":
            if isinstance(value, bool) or not isinstance(value, int) \
                    or value not in ORDER_STATUSES:
                raise HTTPError(400, {"message": f"The field 'status_id' is invalid: {value!r} is "
                                      "not an order status id (0-14)."})
        elif name == "billing_address":
            if not isinstance(value, dict):
                raise HTTPError(400, {"message": "The field 'billing_address' must be an object."})
            unknown = sorted(set(value) - set(ADDRESS_FIELDS))
            if unknown:
                raise HTTPError(400, {"message": f"The field 'billing_address.{unknown[0]}' "
                                      "cannot be written to. Please remove it from your request "
                                      "before trying again."})
        elif not isinstance(value, str):
            raise HTTPError(400, {"message": f"The field '{name}' must be a string."})
        changes[name] = value
    return changes


_SCALAR_CHANGES = frozenset((
    "status_id", "customer_id", "staff_notes", "customer_message", "payment_method",
    "payment_status", "is_deleted", "channel_id", "external_order_id", "order_source",
    "customer_locale", "cart_id", "ip_address", "currency_code", "is_email_opt_in",
))
_CHANGE_KEYS = _SCALAR_CHANGES | {
    "date_created", "date_shipped", "date_modified", "billing_address", "shipping_address",
    "shipping_addresses", "quantities", "quantity_shipped", "quantity_refunded",
}


def _apply_changes(order: _Order, changes: Mapping[str, Any]) -> None:
    """Apply merchant-side changes; validates everything before changing anything."""
    _check_keys("order change", changes, frozenset(_CHANGE_KEYS))
    if "status_id" in changes and changes["status_id"] not in ORDER_STATUSES:
        raise ValueError(f"status_id {changes['status_id']!r} is not one of 0-14")
    lines = {line.id: line for line in order.lines}
    addresses = {address.id: address for address in order.addresses}
    counts: dict[int, dict[str, int]] = {}
    for key in ("quantities", "quantity_shipped", "quantity_refunded"):
        for line_id, value in (changes.get(key) or {}).items():
            if int(line_id) not in lines:
                raise KeyError(f"order {order.id} has no line {line_id}")
            counts.setdefault(int(line_id), {})[key] = int(value)
    for line_id, new in counts.items():
        line = lines[line_id]
        quantity = new.get("quantities", line.quantity)
        shipped = new.get("quantity_shipped", line.quantity_shipped)
        refunded = new.get("quantity_refunded", line.quantity_refunded)
        if quantity < 1 or min(shipped, refunded) < 0 or shipped + refunded > quantity:
            raise ValueError(f"line {line_id}: quantity {quantity} cannot cover {shipped} shipped "
                             f"and {refunded} refunded")
    address_changes: dict[int, Mapping[str, Any]] = {
        int(k): v for k, v in (changes.get("shipping_addresses") or {}).items()}
    if changes.get("shipping_address"):
        if not order.addresses:
            raise ValueError(f"order {order.id} has no shipping address")
        address_changes[order.addresses[0].id] = changes["shipping_address"]
    for address_id, fields in address_changes.items():
        if address_id not in addresses:
            raise KeyError(f"order {order.id} has no shipping address {address_id}")
        _check_keys("address", fields, frozenset(ADDRESS_FIELDS))
    _check_keys("address", changes.get("billing_address") or {}, frozenset(ADDRESS_FIELDS))

    for name in _SCALAR_CHANGES & set(changes):
        setattr(order, name, changes[name])
    for name in ("date_created", "date_shipped"):
        if name in changes:
            value = changes[name]
            setattr(order, name, _as_datetime(value, name) if value else None)
    for name, value in (changes.get("billing_address") or {}).items():
        setattr(order.billing, name, str(value))
    for address_id, fields in address_changes.items():
        for name, value in fields.items():
            setattr(addresses[address_id], name, str(value))
    for line_id, new in counts.items():
        line = lines[line_id]
        line.quantity = new.get("quantities", line.quantity)
        line.quantity_shipped = new.get("quantity_shipped", line.quantity_shipped)
        line.quantity_refunded = new.get("quantity_refunded", line.quantity_refunded)


def _validate_shipment(
    order: _Order, body: Mapping[str, Any],
) -> tuple[_Address, list[tuple[_Line, int]]]:
    """Check a POST shipments body against the order; returns the address and (line, qty)."""
    def bad(message: str) -> HTTPError:
        return HTTPError(400, {"message": message})

    for name in body:
        if name in _SHIPMENT_READ_ONLY:
            raise bad(f"The field '{name}' cannot be written to. Please remove it from your "
                      "request before trying again.")
    for name in ("order_address_id", "items"):
        if body.get(name) in (None, "", []):
            raise bad(f"The required field '{name}' was not supplied.")
    address_id = _whole_number(body["order_address_id"], "order_address_id")
    address = next((a for a in order.addresses if a.id == address_id), None)
    if address is None:
        known = ", ".join(str(a.id) for a in order.addresses) or "none"
        raise bad(f"Order {order.id} has no shipping address {address_id} (its order_address_id "
                  f"values: {known}).")
    for name, limit in (("tracking_number", 50), ("tracking_link", 500), ("comments", 65535),
                        ("shipping_provider", 100), ("tracking_carrier", 100),
                        ("shipping_method", 250)):
        _text_field(body, name, limit)
    try:
        _dec(body.get("merchant_shipping_cost") or 0)
    except ValueError:
        raise bad("The field 'merchant_shipping_cost' must be a decimal number.") from None
    items = body["items"]
    if not isinstance(items, list):
        raise bad("The field 'items' must be an array of {order_product_id, quantity}.")
    lines = {line.id: line for line in order.lines}
    wanted: dict[int, int] = {}
    for position, item in enumerate(items):
        if not isinstance(item, dict) or "order_product_id" not in item or "quantity" not in item:
            raise bad(f"items[{position}] must be an object with order_product_id and quantity.")
        line_id = _whole_number(item["order_product_id"], f"items[{position}].order_product_id")
        quantity = _whole_number(item["quantity"], f"items[{position}].quantity")
        line = lines.get(line_id)
        if line is None:
            raise bad(f"Order product {line_id} does not belong to order {order.id}.")
        if line.order_pickup_method_id:
            raise bad(f"Order product {line_id} is collected from pickup consignment "
                      f"{line.order_pickup_method_id} and cannot be shipped.")
        if line.type != "physical":
            raise bad(f"Order product {line_id} is a {line.type} item and cannot be shipped.")
        if line.order_address_id != address.id:
            raise bad(f"Order product {line_id} ships to address {line.order_address_id}, not "
                      f"to order_address_id {address.id}.")
        if quantity < 1:
            raise bad(f"items[{position}].quantity must be at least 1, not {quantity}.")
        wanted[line_id] = wanted.get(line_id, 0) + quantity
    for line_id, quantity in wanted.items():
        line = lines[line_id]
        if quantity > line.remaining:
            raise bad(f"Cannot ship {quantity} of order product {line_id}: only {line.remaining} "
                      f"remain to ship (quantity {line.quantity}, shipped "
                      f"{line.quantity_shipped}, refunded {line.quantity_refunded}).")
    return address, [(lines[line_id], quantity) for line_id, quantity in wanted.items()]


def _after_shipment(order: _Order, now: datetime) -> None:
    """Shipped (2) once every shippable unit is shipped or refunded, else Partially Shipped (3)."""
    if all(line.remaining <= 0 for line in order.lines if line.shippable):
        order.status_id = 2
        order.date_shipped = now
    else:
        order.status_id = 3
    order.date_modified = now


def _store_json(state: _Store) -> dict[str, Any]:
    domain = f"{state.store_hash}.sandbox.example"
    return {
        "id": state.store_hash,
        "account_uuid": "00000000-0000-4000-8000-" + hashlib.sha256(
            state.store_hash.encode()).hexdigest()[:12],
        "domain": domain,
        "secure_url": f"https://{domain}",
        "control_panel_base_url": f"https://store-{state.store_hash}.mybigcommerce.com",
        "status": "live",
        "name": state.name,
        "first_name": "Sam",
        "last_name": "Merchant",
        "address": "1 George St, Sydney NSW 2000",
        "country": "Australia",
        "country_code": "AU",
        "phone": "02 9000 0000",
        "admin_email": "admin@example.com",
        "order_email": "orders@example.com",
        "favicon_url": "",
        "timezone": {"name": "Australia/Sydney", "raw_offset": 36000, "dst_offset": 39600,
                     "dst_correction": True,
                     "date_format": {"display": "jS M Y", "export": "d/m/Y",
                                     "extended_display": "jS M Y @ g:i A"}},
        "language": "en",
        "currency": state.currency,
        "currency_symbol": "$",
        "decimal_separator": ".",
        "thousands_separator": ",",
        "decimal_places": 2,
        "currency_symbol_location": "left",
        "weight_units": state.weight_units,
        "dimension_units": length_unit(state.weight_units),
        "dimension_decimal_places": 2,
        "dimension_decimal_token": ".",
        "dimension_thousands_token": ",",
        "plan_name": "Standard",
        "plan_level": "Standard",
        "plan_is_trial": False,
        "industry": "Retail",
        "logo": [],  # a store without a logo sends an empty array (hence the spec's anyOf)
        "is_price_entered_with_tax": True,
        "store_id": state.store_id,
        "default_channel_id": 1,
        "default_site_id": 1000,
        "active_comparison_modules": [],
        "features": {"stencil_enabled": True, "sitewidehttps_enabled": True,
                     "facebook_catalog_id": "", "checkout_type": "optimized",
                     "wishlists_enabled": False, "graphql_storefront_api_enabled": True,
                     "shopper_consent_tracking_enabled": False,
                     "multi_storefront_enabled": False,
                     "storefront_limits": {"active": 1, "total_including_inactive": 1}},
    }


def _customs_json(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **record,
        "hs_codes": dict(record["hs_codes"]),
        "created_at": _utc(record["created_at"]).isoformat(timespec="seconds"),
        "updated_at": _utc(record["updated_at"]).isoformat(timespec="seconds"),
    }


def _product_ids(raw: str | None) -> set[int] | None:
    if not raw:
        return None
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise HTTPError(422, {"message": f"The field 'product_id:in' is invalid: {raw!r}.",
                              "details": {"product_id:in": "must be a list of integers"}}) from None


def _v3_pagination(total: int, count: int, page: int, limit: int) -> dict[str, Any]:
    pages = max(1, math.ceil(total / limit))
    links = {"current": f"?page={page}&limit={limit}"}
    if page > 1:
        links["previous"] = f"?page={page - 1}&limit={limit}"
    if page < pages:
        links["next"] = f"?page={page + 1}&limit={limit}"
    # Real responses say total_pages; the shipping spec's metaCollection misspells it total_page.
    return {"pagination": {"total": total, "count": count, "per_page": limit,
                           "current_page": page, "total_pages": pages, "links": links}}


# --------------------------------------------------------------------------- registry entry


def create_sandbox(
    orders: int = 100,
    seed: int = 0,
    stores: Sequence[str] | str = ("main",),
    rate_limit: tuple[int, float] | None = (150, 30.0),
    weight_units: str = "KGS",
    **_: Any,
) -> BigCommerceEmulator:
    """An emulator with one seeded store per name; store hashes derive from the names."""
    names = [s.strip() for s in stores.split(",")] if isinstance(stores, str) else list(stores)
    emulator = BigCommerceEmulator(fault_seed=int(seed))
    for name in names:
        handle = emulator.add_store(store_hash_for(name), f"sandbox-token-{name}",
                                    name=f"Sandbox Store ({name})", weight_units=weight_units,
                                    rate_limit=rate_limit, alias=name)
        store_seed = int(hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()[:8], 16)
        emulator.seed(handle.store_hash, int(orders), store_seed)
    return emulator


def sandbox_config(emulator: Any, url: str) -> dict[str, Any]:
    stores = {
        name: {"api_path": f"{url}/stores/{store.store_hash}/v3/", "client_id": "sandbox-client",
               "access_token": store.access_token}
        for name, store in emulator.stores.items()
    }
    return {"bigcommerce": {"stores": stores}}
