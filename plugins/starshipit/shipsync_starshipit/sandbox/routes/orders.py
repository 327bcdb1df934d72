"""``/api/orders``: create (POST), get (GET), update (PUT), and ``/api/orders/delete``.

A lookup (GET) answers the full order model; in the ``on-request`` includes
variant its ``items`` and ``packages`` only when asked for with ``include``
(``include=Items&include=Packages``, the key repeated; a comma-separated value
is read too).
"""

from __future__ import annotations

import copy

from shipsync.sandbox import Request, Response

from ..envelope import _describe, _ok, _refusal, schema_errors
from ..records import OrderRecords
from ..state import SHIPPED_STATUSES


class OrderRoutes(OrderRecords):
    """One order at a time: create, look up, update and delete."""

    def _create(self, request: Request) -> Response:
        body = request.json()
        errors = schema_errors("create_request", body)
        if errors:
            raise _refusal(400, "Validation failed", [_describe(e) for e in errors])
        record = self._insert(self._account_of(request), body["order"])
        return _ok(order=copy.deepcopy(record.order))

    def _get(self, request: Request) -> Response:
        record = self._find(
            self._account_of(request),
            order_id=request.arg("order_id"),
            order_number=request.arg("order_number"),
        )
        order = copy.deepcopy(record.order)
        if self.variants["order_includes"] == "on-request":
            wanted = {part.strip().lower() for value in request.args("include")
                      for part in value.split(",")}
            for part in ("items", "packages"):
                if part not in wanted:
                    del order[part]
        return _ok(order=order)

    def _update(self, request: Request) -> Response:
        body = request.json()
        errors = schema_errors("update_request", body)
        if errors:
            raise _refusal(400, "Validation failed", [_describe(e) for e in errors])
        account = self._account_of(request)
        changes = body["order"]
        record = self._find(account, order_id=changes["order_id"])
        self._apply_update(account, record, changes)
        return _ok(order=copy.deepcopy(record.order))

    def _delete(self, request: Request) -> Response:
        if not request.arg("order_id"):
            raise _refusal(
                400,
                "Invalid parameter",
                "order_id is required: DELETE /api/orders/delete?order_id=",
            )
        account = self._account_of(request)
        record = self._find(account, order_id=request.arg("order_id"))
        order = record.order
        if order["status"] in SHIPPED_STATUSES:
            raise _refusal(
                400,
                "Order cannot be deleted",
                f"Order {order['order_number']} (order_id {order['order_id']}) is "
                f"{order['status']}; only unshipped orders can be deleted.",
            )
        self._unindex(account, record)
        del account.orders[order["order_id"]]
        return _ok()
