"""Creating, finding and changing order records, for the HTTP routes and the Python API alike.

``OrderRecords`` is the base of the route classes: it builds the full order
model from a create body (Starshipit numbers orders, items and packages
itself), refuses duplicate order numbers, finds orders by id or number, and
applies updates under the status rules (see the package docstring).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from shipsync.sandbox import Request

from .carriers import carrier_name, service_name
from .envelope import _missing, _refusal
from .rendering import _event, ticks
from .state import SHIPPED_STATUSES, STATUS_SEQUENCE, UNSHIPPED_STATUSES, _Account, _Record

SANDBOX_SENDER = {
    "name": "Sandbox Warehouse",
    "company": "Shipsync Sandbox Pty Ltd",
    "street": "1 Example Street",
    "suburb": "Alexandria",
    "city": "Sydney",
    "state": "NSW",
    "post_code": "2015",
    "country": "Australia",
}


#: How a repeated order number is refused unless the emulator is told otherwise.
DUPLICATE_REFUSAL = (
    "order_number {number!r} already exists as order_id {order_id}; each order number must "
    "be unique. Change that order with PUT /api/orders instead."
)


class OrderRecords:
    """The accounts' orders and the operations on them; ``StarshipitEmulator`` holds the state."""

    now: Callable[[], datetime]
    #: "refuse" (the default) or "accept": create a second order under a repeated number.
    duplicate_numbers: str
    #: The refusal's words ({number}, {order_id}), when refused; None for the default.
    duplicate_refusal: str | None
    zone: tzinfo | None
    variants: dict[str, str]
    _accounts: dict[str, _Account]
    _order_ids: itertools.count[int]
    _item_ids: itertools.count[int]
    _package_ids: itertools.count[int]

    def _now(self) -> datetime:
        moment = self.now()
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def _stamp(self, moment: datetime) -> str:
        """A timestamp as this account writes it: UTC with Z, or local without an offset."""
        return ticks(moment, zone=self.zone)

    def _account_of(self, request: Request) -> _Account:
        # before_request has checked the key, so it names an account.
        return self._accounts[request.header("StarShipIT-Api-Key") or ""]

    def _python_account(self, api_key: str) -> _Account:
        try:
            return self._accounts[api_key]
        except KeyError:
            raise KeyError(
                f"no Starshipit account with API key {api_key!r}; add it with add_account()"
            ) from None

    def _find(
        self, account: _Account, order_id: int | str | None = None, order_number: str | None = None
    ) -> _Record:
        if order_id is None and not order_number:
            raise _refusal(400, "Invalid parameter", "order_id or order_number is required")
        if order_id is not None:
            try:
                wanted = int(order_id)
            except (TypeError, ValueError):
                raise _refusal(
                    400, "Invalid parameter", f"order_id must be a whole number, got {order_id!r}"
                ) from None
            record = account.orders.get(wanted)
            if record is None:
                raise _missing(f"No order with order_id {wanted} in this account")
            if order_number and record.order["order_number"] != order_number:
                raise _refusal(
                    400,
                    "Invalid parameter",
                    f"order_id {wanted} is order_number "
                    f"{record.order['order_number']!r}, not {order_number!r}",
                )
            return record
        found = account.order_ids.get(order_number or "")
        if found is None:
            raise _missing(f"No order with order_number {order_number!r} in this account")
        return account.orders[found]

    def _insert(self, account: _Account, body: dict[str, Any]) -> _Record:
        number = body["order_number"]
        existing = account.order_ids.get(number)
        if existing is not None and self.duplicate_numbers != "accept":
            raise _refusal(
                400,
                "Duplicate order number",
                (self.duplicate_refusal or DUPLICATE_REFUSAL).format(
                    number=number, order_id=existing
                ),
            )
        now = self._now()
        order = self._build_order(next(self._order_ids), body, now)
        record = _Record(order, now)
        account.orders[order["order_id"]] = record
        # With duplicates accepted, a lookup by number still finds the first order.
        account.order_ids.setdefault(number, order["order_id"])
        return record

    def _unindex(self, account: _Account, record: _Record) -> None:
        """Forget a removed order's number (or point it at another order of that number)."""
        number = record.order["order_number"]
        if account.order_ids.get(number) != record.order["order_id"]:
            return
        del account.order_ids[number]
        others = sorted(
            i for i, r in account.orders.items()
            if r.order["order_number"] == number and r is not record
        )
        if others:
            account.order_ids[number] = others[0]

    def _build_order(self, order_id: int, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        items = [self._new_item(item) for item in body.get("items", [])]
        carrier = body.get("carrier")
        code = body.get("carrier_service_code")
        return {
            "order_id": order_id,
            "order_date": body.get("order_date") or ticks(now, zulu=False, zone=self.zone),
            "order_number": body["order_number"],
            "reference": body.get("reference"),
            "carrier": carrier,
            "carrier_name": carrier_name(carrier),
            "carrier_service_code": code,
            "carrier_service_name": service_name(code),
            "shipping_method": body.get("shipping_method"),
            "shipping_description": body.get("shipping_description"),
            "signature_required": body.get("signature_required", False),
            "dangerous_goods": body.get("dangerous_goods", False),
            "currency": body.get("currency", "AUD"),
            "sender_details": copy.deepcopy(body.get("sender_details") or SANDBOX_SENDER),
            "destination": copy.deepcopy(body["destination"]),
            "items": items,
            "packages": [self._new_package(p) for p in body.get("packages", [])],
            "metadatas": copy.deepcopy(body.get("metadatas", [])),
            "events": [_event(now, "Order", "Created", "Order created through the API",
                              self.zone)],
            "declared_value": body.get(
                "declared_value",
                round(sum((i["value"] or 0) * (i["quantity"] or 1) for i in items), 2),
            ),
            "archived": False,
            "manifest_number": None,
            "manifested": False,
            "address_validation": "NotChecked",
            "type": "Return" if body.get("return_order") else "Outgoing",
            "platform": "API",
            "status": "Unshipped",
            "last_updated": self._stamp(now),
        }

    def _new_item(self, item: dict[str, Any]) -> dict[str, Any]:
        quantity = item.get("quantity", 1)
        fields = (
            "description",
            "sku",
            "tariff_code",
            "country_of_origin",
            "weight",
            "value",
            "color",
            "size",
            "barcode",
        )
        # Starshipit numbers items itself; an item_id sent on create is not kept.
        return {
            "item_id": next(self._item_ids),
            **{name: item.get(name) for name in fields},
            "quantity": quantity,
            "quantity_to_ship": item.get("quantity_to_ship", quantity),
        }

    def _new_package(self, package: dict[str, Any]) -> dict[str, Any]:
        return {
            "package_id": next(self._package_ids),
            "name": None,
            "weight": package.get("weight"),
            "height": package.get("height"),
            "width": package.get("width"),
            "length": package.get("length"),
            "packaging_type": None,
            "carrier_service_code": None,
            "carrier_service_name": None,
            "tracking_number": None,
            "tracking_url": None,
            "delivery_status": None,
            "shipment_type": None,
            "label_created_date": None,
        }

    def _touch(self, record: _Record, now: datetime, event: dict[str, Any]) -> None:
        record.last_updated = now
        record.order["last_updated"] = self._stamp(now)
        record.order["events"].append(event)

    def _tracking_update(self, record: _Record) -> None:
        """A courier's scan reached the order: it changed (and moves in the lists)."""
        now = self._now()
        self._touch(record, now, _event(now, "Tracking", "InTransit",
                                        "Tracking update from the courier", self.zone))

    def _apply_update(self, account: _Account, record: _Record, changes: dict[str, Any]) -> None:
        order = record.order
        number = order["order_number"]
        locked = sorted(set(changes) - {"order_id", "status"})
        if order["status"] in SHIPPED_STATUSES and locked:
            raise _refusal(
                400,
                "Order is printed",
                f"Order {number} is {order['status']}; once a label is printed only status can "
                f"change (refused: {', '.join(locked)}).",
            )
        # Work on a copy so that a refused item change leaves the order untouched.
        updated = copy.deepcopy(order)
        if "status" in changes:
            updated["status"] = _next_status(order, changes["status"])
        new_number = changes.get("order_number", number)
        if new_number != number and new_number in account.order_ids:
            raise _refusal(
                400,
                "Duplicate order number",
                f"order_number {new_number!r} already exists as order_id "
                f"{account.order_ids[new_number]}.",
            )
        for key in (
            "order_number",
            "order_date",
            "reference",
            "shipping_method",
            "shipping_description",
            "carrier",
            "carrier_service_code",
            "signature_required",
            "currency",
            "dangerous_goods",
            "declared_value",
            "metadatas",
        ):
            if key in changes:
                updated[key] = copy.deepcopy(changes[key])
        updated["carrier_name"] = carrier_name(updated["carrier"])
        updated["carrier_service_name"] = service_name(updated["carrier_service_code"])
        for key in ("destination", "sender_details"):
            if key in changes:
                updated[key] = {**(updated[key] or {}), **copy.deepcopy(changes[key])}
        if "items" in changes:
            updated["items"] = self._merge_items(updated, changes["items"])
        if "packages" in changes:
            updated["packages"] = [self._new_package(p) for p in changes["packages"]]
        if updated == order:
            return
        if updated["status"] == "Delivered":
            for package in updated["packages"]:
                package["delivery_status"] = "Delivered"
        if new_number != number:
            del account.order_ids[number]
            account.order_ids[new_number] = updated["order_id"]
        record.order = updated
        now = self._now()
        self._touch(record, now, _event(now, "Order", "Updated", "Order updated through the API",
                                        self.zone))

    def _merge_items(
        self, order: dict[str, Any], changes: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        items = {item["item_id"]: item for item in order["items"]}
        for change in changes:
            item_id = change.get("item_id")
            if item_id is None:
                if change.get("delete"):
                    raise _refusal(
                        400,
                        "Validation failed",
                        "delete: true needs the item_id of the item to remove",
                    )
                new = self._new_item({k: v for k, v in change.items() if k != "delete"})
                items[new["item_id"]] = new
            elif item_id not in items:
                raise _refusal(
                    400,
                    "Validation failed",
                    f"Order {order['order_number']} has no item with item_id {item_id}",
                )
            elif change.get("delete"):
                del items[item_id]
            else:
                items[item_id].update(
                    {k: v for k, v in change.items() if k not in ("item_id", "delete")}
                )
        return list(items.values())


def _next_status(order: dict[str, Any], wanted: str) -> str:
    current = order["status"]
    if wanted == current:
        return wanted
    if current in SHIPPED_STATUSES and STATUS_SEQUENCE.index(wanted) < STATUS_SEQUENCE.index(
        current
    ):
        raise _refusal(
            400,
            "Invalid status",
            f"Order {order['order_number']} is {current}; its status cannot go back to {wanted}.",
        )
    if current in UNSHIPPED_STATUSES and wanted in SHIPPED_STATUSES:
        raise _refusal(
            400,
            "Invalid status",
            f"Order {order['order_number']} has no label; print one with POST /api/orders/shipment "
            f"instead of setting status {wanted}.",
        )
    return wanted
