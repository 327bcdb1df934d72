"""The Starshipit sink: creates, updates and deletes orders; reads shipped ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from shipsync import records
from shipsync.http import ApiError

from . import mapping
from .client import IMPORT_LIMIT, StarshipitClient, envelope_errors
from .settings import sink_settings

__all__ = ["CreateResult", "StarshipitSink"]


@dataclass
class CreateResult:
    order_number: str
    sink_order_id: str | None = None
    error: str | None = None
    existed: bool = False  # Starshipit already had this order number


class StarshipitSink:
    """One Starshipit account. ``batch_size`` orders go in one import call."""

    name = "starshipit"
    batch_size = IMPORT_LIMIT

    def __init__(self, section: dict[str, Any], context: Any = None) -> None:
        settings = sink_settings(section)
        self.settings = settings
        options = getattr(context, "http_options", {}) or {}
        self.client = StarshipitClient(
            settings["base_url"], settings["api_key"], settings["subscription_key"],
            rate_limit=float(settings["rate_limit"]), **options)
        self.writeback_overlap_minutes = int(settings["writeback_overlap_minutes"])

    @property
    def requests_made(self) -> int:
        return self.client.requests_made

    def close(self) -> None:
        self.client.close()

    # -- import ---------------------------------------------------------------
    def payload(self, order_number: str, order: dict[str, Any],
                destination: dict[str, Any]) -> dict[str, Any]:
        """The body for one destination; raises ValueError naming the bad field."""
        body = mapping.order_body(order_number, order, destination)
        problems = records.schemas_of("shipsync_starshipit").errors("api/order_create.json", body)
        if problems:
            raise ValueError("; ".join(str(p) for p in problems))
        return body

    def create_orders(self, payloads: list[dict[str, Any]]) -> list[CreateResult]:
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

    def find_order(self, order_number: str) -> dict[str, Any] | None:
        """The order with this number, or None; used to settle a write in doubt."""
        return self.client.find_order(order_number)

    def is_printed(self, order: dict[str, Any]) -> bool:
        status = str(order.get("status") or "").lower()
        return status not in ("", "unshipped", "saved", "new")

    def update_order(self, sink_order_id: str, payload: dict[str, Any]) -> str:
        """Replace an unprinted order's details and items. Returns "updated" or "printed"."""
        current = self.client.get_order(sink_order_id)
        if current is None:
            raise ApiError(f"starshipit: order {sink_order_id} no longer exists")
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

    def delete_order(self, sink_order_id: str) -> str:
        """Delete an unprinted order. Returns "deleted", "printed" or "gone"."""
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
    def shipped_since(self, since: datetime) -> Iterator[list[dict[str, Any]]]:
        """Printed orders updated since ``since``, as shipment records, a page at a time."""
        for rows in self.client.shipped(since):
            yield [mapping.shipment_record(row) for row in rows]


def _error_for(order_number: str, errors: list[Any]) -> str:
    for error in errors:
        if not isinstance(error, dict):
            continue
        text = " ".join(str(error.get(k) or "") for k in ("message", "details", "order_number"))
        if order_number in text:
            return " ".join(str(x) for x in (error.get("message"), error.get("details")) if x)
    return ""
