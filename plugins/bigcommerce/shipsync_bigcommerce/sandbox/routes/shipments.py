"""An order's ``shipments``: list, count, get, and create (which moves the order's status).

A new shipment must name one of the order's shipping addresses and only lines
shipped there, at most what remains to ship of each; the order then becomes
Shipped (2) or Partially Shipped (3).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shipsync.sandbox import HTTPError, Request, Response

from ..building import _generated_link
from ..formats import _dec
from ..rendering import _shipment_json
from ..state import _Address, _Line, _Order, _Shipment
from .common import RouteBase, _json_object, _page_of, _paging, _text_field, _v2_list, _whole_number
from .hooks import shipment_created

_SHIPMENT_FIELDS = ("order_address_id", "items", "tracking_number", "tracking_link",
                    "merchant_shipping_cost", "shipping_method", "shipping_provider",
                    "tracking_carrier", "comments")
_SHIPMENT_READ_ONLY = ("id", "order_id", "customer_id", "date_created", "billing_address",
                       "shipping_address", "shipping_provider_display_name",
                       "generated_tracking_link")


class ShipmentRoutes(RouteBase):
    """GET/POST ``/v2/orders/{id}/shipments``, GET ``.../shipments/count`` and ``.../{id}``."""

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
        before = order.status_id
        _after_shipment(order, now)
        shipment_created(self.webhooks, state, order, shipment.id, before)
        return Response(201, _shipment_json(order, shipment))


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
