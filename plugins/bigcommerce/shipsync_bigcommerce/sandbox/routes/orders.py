"""``/v2/orders``: list (filtered, sorted, paged), count by status, get, update, delete."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shipsync.sandbox import HTTPError, Request, Response

from ..changes import _apply_changes
from ..formats import parse_api_date
from ..rendering import _order_json, _status_json
from ..state import ADDRESS_FIELDS, ORDER_STATUSES, _Order, _Store
from .common import RouteBase, _int_arg, _json_object, _page_of, _paging, _v2_list
from .hooks import order_archived, order_changed

# PUT /v2/orders/{id}: what the emulator lets a client change ...
_ORDER_WRITABLE = ("status_id", "staff_notes", "customer_message", "external_order_id",
                   "customer_locale", "payment_method", "billing_address")
# ... writable per the spec but not emulated (answered with a clear 400, not ignored) ...
_ORDER_NOT_EMULATED = ("products", "shipping_addresses", "consignments", "fees", "customer_id",
                       "channel_id", "order_source", "external_source", "external_merchant_id")
# ... and everything else the order carries is refused as read-only, as the real API does.


class OrderRoutes(RouteBase):
    """GET/PUT/DELETE ``/v2/orders/{order_id}``, GET ``/v2/orders`` and ``/v2/orders/count``."""

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
        before = order.status_id
        _apply_changes(order, changes)
        order.date_modified = self._now()
        order_changed(self.webhooks, state, order, before)
        return Response(200, _order_json(state, order, self._view(request, state)))

    def _delete_order(self, request: Request) -> Response:
        state = self._request_store(request)
        order = self._request_order(request, state)
        order.is_deleted = True  # DELETE archives; the order stays readable by id
        order.date_modified = self._now()
        order_archived(self.webhooks, state, order)
        return Response(204)


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
