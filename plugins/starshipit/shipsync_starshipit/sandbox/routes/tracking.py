"""``/api/track``: a parcel's tracking, by tracking number or by order number.

PickupInStore parcels have no tracking URL, and their tracking status is
``PickupInStore``.
"""

from __future__ import annotations

from shipsync.sandbox import Request, Response

from ..envelope import _missing, _ok, _refusal
from ..records import OrderRecords
from ..rendering import track_results


class TrackingRoutes(OrderRecords):
    """GET ``/api/track?tracking_number=`` or ``?order_number=``."""

    def _track(self, request: Request) -> Response:
        account = self._account_of(request)
        number = request.arg("tracking_number")
        if number:
            for record in account.orders.values():
                for package in record.order["packages"]:
                    if package["tracking_number"] == number:
                        return _ok(results=track_results(record, package, self.zone))
            raise _missing(f"No shipment with tracking_number {number!r} in this account")
        order_number = request.arg("order_number")
        if not order_number:
            raise _refusal(400, "Invalid parameter", "tracking_number or order_number is required")
        record = self._find(account, order_number=order_number)
        packages = [p for p in record.order["packages"] if p["tracking_number"]]
        return _ok(results=track_results(record, packages[0] if packages else None, self.zone))
