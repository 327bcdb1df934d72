"""The Starshipit sink: creates, updates and deletes orders; reads shipped ones."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterator

from shipsync import records
from shipsync.contracts import (
    CanonicalOrder,
    Context,
    CreateResult,
    DeleteOutcome,
    Destination,
    ShipmentRecord,
    SinkCapabilities,
    SinkOrder,
    SinkPayload,
    UpdateOutcome,
)
from shipsync.http import ApiError

from . import mapping
from .client import IMPORT_LIMIT, StarshipitClient, envelope_errors
from .settings import sink_settings

__all__ = ["CreateResult", "StarshipitSink"]

SCHEMAS = records.schemas_of("shipsync_starshipit")


class StarshipitSink:
    """One Starshipit account, as a shipsync sink (``shipsync.contracts.Sink``)."""

    name = "starshipit"

    def __init__(self, section: dict[str, Any], context: Context | None = None) -> None:
        settings = sink_settings(section)
        self.settings = settings
        options = context.http_options if context is not None else {}
        self.client = StarshipitClient(
            settings["base_url"], settings["api_key"], settings["subscription_key"],
            rate_limit=float(settings["rate_limit"]), **options)
        self.capabilities = SinkCapabilities(
            batch_size=IMPORT_LIMIT, pickup_carrier=mapping.PICKUP_CARRIER,
            writeback_overlap=timedelta(minutes=int(settings["writeback_overlap_minutes"])))

    @property
    def requests_made(self) -> int:
        return self.client.requests_made

    def close(self) -> None:
        self.client.close()

    # -- import ---------------------------------------------------------------
    def payload(self, order_number: str, order: CanonicalOrder,
                destination: Destination) -> SinkPayload:
        """The body for one destination; raises ValueError naming the bad field."""
        body = mapping.order_body(order_number, order, destination)
        problems = SCHEMAS.errors("api/order_create.json", body)
        if problems:
            raise ValueError("; ".join(str(p) for p in problems))
        return body

    def create_orders(self, payloads: list[SinkPayload]) -> list[CreateResult]:
        """Create up to ``batch_size`` orders in one call; one result per order."""
        body = self.client.import_orders(payloads)
        created = {str(o.get("order_number")): o for o in body.get("orders") or []
                   if isinstance(o, dict)}
        errors = body.get("errors") or []
        results = []
        for payload in payloads:
            number = payload["order_number"]
            if number in created and created[number].get("order_id") is not None:
                results.append(CreateResult(number, str(created[number]["order_id"])))
                continue
            reason = _error_for(number, errors) or envelope_errors(body)
            if ("exist" in reason.lower() or "duplicate" in reason.lower()
                    or "unique" in reason.lower()):
                # Already there (an earlier run's lost answer): adopt it, never duplicate it.
                found = self.client.find_order(number)
                if found:
                    results.append(CreateResult(number, str(found.get("order_id")), existed=True))
                    continue
            results.append(CreateResult(number, error=reason))
        return results

    def find_order(self, order_number: str) -> SinkOrder | None:
        """The order with this number, or None; used to settle a write in doubt."""
        found = self.client.find_order(order_number)
        if found is None or found.get("order_id") is None:
            return None
        return SinkOrder(str(found["order_id"]), str(found.get("order_number") or order_number),
                         printed=self.is_printed(found),
                         reference=str(found.get("reference") or ""))

    def is_printed(self, order: dict[str, Any]) -> bool:
        status = str(order.get("status") or "").lower()
        return status not in ("", "unshipped", "saved", "new")

    def update_order(self, sink_order_id: str, payload: SinkPayload) -> UpdateOutcome:
        """Replace an unprinted order's details and items."""
        current = self.client.get_order(sink_order_id)
        if current is None:
            return "gone"
        if self.is_printed(current):
            return "printed"
        items: list[dict[str, Any]] = [
            {"item_id": item["item_id"], "delete": True}
            for item in current.get("items") or [] if item.get("item_id") is not None
        ]
        items.extend(payload["items"])
        update = {k: v for k, v in payload.items() if k not in ("items", "order_number")}
        update.update({"order_id": int(sink_order_id), "items": items})
        self.client.update_order(update)
        return "updated"

    def delete_order(self, sink_order_id: str) -> DeleteOutcome:
        """Delete an unprinted order."""
        current = self.client.get_order(sink_order_id)
        if current is None:
            return "gone"
        if self.is_printed(current):
            return "printed"
        body = self.client.delete_order(sink_order_id)
        if not body.get("success"):
            raise ApiError(f"starshipit: delete of order {sink_order_id} refused: "
                           f"{envelope_errors(body)}", body=body)
        return "deleted"

    # -- writeback ------------------------------------------------------------
    def shipped_since(self, since: datetime) -> Iterator[list[ShipmentRecord]]:
        """Printed orders updated since ``since``, as shipment records, a page at a time."""
        for rows in self.client.shipped(since):
            yield [mapping.shipment_record(row) for row in rows]

    def shipment(self, order_number: str) -> ShipmentRecord | None:
        """The order's shipment if its label is printed (every parcel's tracking number)."""
        found = self.client.find_order(order_number)
        if found is None or not self.is_printed(found):
            return None
        return mapping.shipment_record(found)


def _error_for(order_number: str, errors: list[Any]) -> str:
    for error in errors:
        if not isinstance(error, dict):
            continue
        text = " ".join(str(error.get(k) or "") for k in ("message", "details", "order_number"))
        if order_number in text:
            return " ".join(str(x) for x in (error.get("message"), error.get("details")) if x)
    return ""
