"""``/api/orders/shipment``: printing a label, which ships the order (status ``Printed``).

The carrier is the request's, else the order's, else the account's Rules'
(``carriers.choose_carrier``); each parcel gets a tracking number. Printing a
printed order again needs ``reprint: true`` and answers the same label.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from shipsync.sandbox import Request, Response

from ..carriers import (
    _default_service,
    carrier_name,
    choose_carrier,
    service_name,
    tracking_number,
    tracking_url,
)
from ..envelope import _describe, _refusal, schema_errors
from ..records import OrderRecords
from ..rendering import _event, _label_answer, fake_label_pdf
from ..state import SHIPPED_STATUSES, _Record
from ..webhooks import TrackingWebhooks


class LabelRoutes(OrderRecords):
    """POST ``/api/orders/shipment``; ``_print`` also serves the Python API's ``print_label``."""

    tracking: TrackingWebhooks  # the tracking webhook sent when a label prints

    def _shipment(self, request: Request) -> Response:
        body = request.json()
        if isinstance(body, dict) and "order_id" not in body and "order_number" not in body:
            raise _refusal(400, "Validation failed", "order_id or order_number is required")
        errors = schema_errors("shipment_request", body)
        if errors:
            raise _refusal(400, "Validation failed", [_describe(e) for e in errors])
        record = self._find(
            self._account_of(request),
            order_id=body.get("order_id"),
            order_number=body.get("order_number"),
        )
        answer = self._print(
            record,
            carrier=body.get("carrier"),
            service_code=body.get("carrier_service_code"),
            parcels=body.get("packages"),
            reprint=bool(body.get("reprint")),
        )
        return Response(200, answer)

    def _print(
        self,
        record: _Record,
        carrier: str | None = None,
        service_code: str | None = None,
        parcels: list[dict[str, Any]] | None = None,
        reprint: bool = False,
    ) -> dict[str, Any]:
        order = record.order
        if order["status"] in SHIPPED_STATUSES:
            if not reprint:
                numbers = ", ".join(p["tracking_number"] or "-" for p in order["packages"])
                raise _refusal(
                    400,
                    "Label already printed",
                    f"Order {order['order_number']} (order_id {order['order_id']}) already has a "
                    f"label (tracking {numbers}); send reprint: true to get it again.",
                )
            return _label_answer(record)
        now = self._now()
        chosen = (
            carrier
            or order["carrier"]
            or choose_carrier(order["shipping_method"], order["shipping_description"])
        )
        kept_code = order["carrier_service_code"] if chosen == order["carrier"] else None
        code = (
            service_code or kept_code or _default_service(chosen, bool(order["signature_required"]))
        )
        if parcels:
            packages = [self._new_package(p) for p in parcels]
        elif order["packages"]:
            packages = copy.deepcopy(order["packages"])
        else:
            packages = [self._new_package({"weight": _total_weight(order)})]
        for index, package in enumerate(packages, start=1):
            number = tracking_number(chosen, order["order_id"], index)
            package.update(
                {
                    "name": f"Package {index}",
                    "carrier_service_code": code,
                    "carrier_service_name": service_name(code),
                    "tracking_number": number,
                    "tracking_url": tracking_url(chosen, number),
                    "delivery_status": "Printed",
                    "label_created_date": self._stamp(now),
                }
            )
        order.update(
            {
                "carrier": chosen,
                "carrier_name": carrier_name(chosen),
                "carrier_service_code": code,
                "carrier_service_name": service_name(code),
                "packages": packages,
                "status": "Printed",
            }
        )
        record.shipped_at = now
        lines = [
            order["order_number"],
            carrier_name(chosen) or chosen,
            *(p["tracking_number"] for p in packages),
        ]
        record.label = base64.b64encode(fake_label_pdf(lines)).decode("ascii")
        self._touch(
            record,
            now,
            _event(now, "Label", "Printed", f"Label printed with {carrier_name(chosen)}",
                   self.zone),
        )
        self.tracking.label_printed(self._accounts, order)
        return _label_answer(record)


def _total_weight(order: dict[str, Any]) -> float:
    weight = sum(
        (item.get("weight") or 0) * (item.get("quantity") or 1) for item in order.get("items") or []
    )
    return round(weight, 3) or 0.5  # an order without item weights still ships as one small parcel
