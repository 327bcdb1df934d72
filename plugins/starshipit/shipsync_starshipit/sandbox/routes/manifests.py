"""``/api/orders/manifest``: printed orders handed to the carrier (``manifested``).

In the ``manifest`` listing variant, ``/api/orders/shipped`` lists an order only
from here on.
"""

from __future__ import annotations

import base64
from typing import Any

from shipsync.sandbox import Request, Response

from ..envelope import _refusal
from ..records import OrderRecords
from ..rendering import _event, fake_label_pdf
from ..state import SHIPPED_STATUSES, _Account, _Record


class ManifestRoutes(OrderRecords):
    """POST ``/api/orders/manifest`` ``{order_ids: [...]}``."""

    _manifest_numbers: int = 0

    def _manifest(self, request: Request) -> Response:
        body = request.json()
        ids = body.get("order_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
            raise _refusal(400, "Validation failed", "order_ids must be a list of order ids")
        account = self._account_of(request)
        records = [self._find(account, order_id=order_id) for order_id in ids]
        return Response(200, self._manifest_records(account, records))

    def _manifest_records(self, account: _Account, records: list[_Record]) -> dict[str, Any]:
        for record in records:
            order = record.order
            if order["status"] not in SHIPPED_STATUSES:
                raise _refusal(400, "Order is not printed",
                               f"Order {order['order_number']} has no label; only printed "
                               "orders can be manifested.")
        self._manifest_numbers += 1
        number = f"M{self._manifest_numbers:06d}"
        now = self._now()
        for record in records:
            if record.order["manifested"]:
                continue
            record.order.update({"manifested": True, "manifest_number": number})
            self._touch(record, now, _event(now, "Manifest", "Manifested",
                                            f"Manifested in {number}", self.zone))
        pdf = fake_label_pdf([f"Manifest {number}",
                              *(r.order["order_number"] for r in records)])
        return {"pdf": base64.b64encode(pdf).decode("ascii"), "success": True}
