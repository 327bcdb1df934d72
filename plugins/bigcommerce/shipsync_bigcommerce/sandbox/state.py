"""The emulator's in-memory data model.

A ``_Store`` holds its orders by id; an ``_Order`` its billing address,
shipping addresses (``_Address``), pickup consignments (``_Pickup``), product
lines (``_Line``) and shipments (``_Shipment``). ``_View`` says how one
request wants an order rendered. ``SandboxStore`` is the public handle of a
store (``emulator.stores[name]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from .formats import _ZERO
from .limits import _WindowLimiter

CONSIGNMENT_LINE_CAP = 50

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


@dataclass(frozen=True)
class SandboxStore:
    """How to reach one emulated store (``emulator.stores[name]``)."""

    name: str
    store_hash: str
    access_token: str


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
    #: How the API behaves where its documentation is silent (``shipsync_bigcommerce.variants``).
    variants: dict[str, str] = field(default_factory=dict)

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
    #: ``own``: a shipping consignment has an id of its own, not its address's
    #: (the ``consignment_ids`` variant); ``address``: the address's id.
    consignment_ids: str = "address"


#: In the ``own`` consignment ids variant, a shipping consignment's id is its address's
#: id plus this: never the ``order_address_id`` a shipment must name.
CONSIGNMENT_ID_OFFSET = 1000


def consignment_id(address_id: int, view: _View) -> int:
    """The id a shipping consignment shows for the address ``address_id``."""
    return address_id + CONSIGNMENT_ID_OFFSET if view.consignment_ids == "own" else address_id
