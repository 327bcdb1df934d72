"""``/api/orders/import``: up to 50 orders in one request, each created or refused on its own."""

from __future__ import annotations

import copy
from typing import Any

from jsonschema.exceptions import ValidationError
from shipsync.sandbox import HTTPError, Request, Response

from ..envelope import _describe, _error, _refusal, _refusal_text, schema_errors
from ..records import OrderRecords

IMPORT_MAX = 50


class ImportRoutes(OrderRecords):
    """POST ``/api/orders/import``."""

    def _import(self, request: Request) -> Response:
        body = request.json()
        batch = body.get("orders") if isinstance(body, dict) else None
        if isinstance(batch, list) and len(batch) > IMPORT_MAX:
            raise _refusal(
                400,
                "Too many orders",
                f"{len(batch)} orders in one request; "
                f"/api/orders/import takes at most {IMPORT_MAX}. Split the batch.",
            )
        errors = schema_errors("import_request", body)
        whole = [e for e in errors if len(e.absolute_path) < 2]
        if whole:
            raise _refusal(400, "Validation failed", [_describe(e) for e in whole])
        per_order: dict[int, list[ValidationError]] = {}
        for error in errors:
            per_order.setdefault(int(error.absolute_path[1]), []).append(error)
        account = self._account_of(request)
        created: list[dict[str, Any]] = []
        refused: list[dict[str, str]] = []
        for index, order in enumerate(body["orders"]):
            label = _order_label(order, index)
            if index in per_order:
                reasons = "; ".join(_describe(e, skip=2) for e in per_order[index])
                refused.append(
                    _error(f"Order {label} was not imported", f"order_number {label}: {reasons}")
                )
                continue
            try:
                created.append(copy.deepcopy(self._insert(account, order).order))
            except HTTPError as exc:
                refused.append(_error(f"Order {label} was not imported", _refusal_text(exc)))
        return Response(200, {"orders": created, "errors": refused, "success": not refused})


def _order_label(order: Any, index: int) -> str:
    number = order.get("order_number") if isinstance(order, dict) else None
    return (
        repr(number)
        if isinstance(number, str) and number
        else f"(orders[{index}] has no order_number)"
    )
