"""The Starshipit sink: creates, updates and deletes orders; reads printed and shipped ones.

Printed labels are read from two lists, because the API's documentation does not
say which shows a label when (``variants``): ``GET /api/orders/shipments?status=
recently_printed`` (every printed label, each with every parcel's tracking number)
and ``GET /api/orders/shipped`` (flat rows, perhaps only once manifested, with the
carrier's code and tracking link). A label in both becomes one record with both's
facts; one ``/shipped`` shows alone (a flat row) is ``complete: false``, and the
engine reads the order for every parcel before writing it back.

Starshipit does not document what it does with an order number it already has
(it may refuse it, or create a second order). A refused number is looked up and
adopted only when the order found is provably the one shipsync sent (the same
``reference`` and destination post code); an import answer that says nothing of
an order is in doubt (``InDoubtError``), so the engine looks each order up
before anything is sent again.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Iterator

from shipsync import records
from shipsync.contracts import (
    Assumptions,
    CanonicalOrder,
    Context,
    CreateResult,
    DeleteOutcome,
    Destination,
    Finding,
    MemoryAssumptions,
    ShipmentRecord,
    SinkCapabilities,
    SinkOrder,
    SinkPayload,
    UpdateOutcome,
)
from shipsync.http import ApiError, InDoubtError, TransportError

from . import mapping
from .assumptions import ASSUMPTIONS, DATES_UTC, LISTS_AT_PRINT, ROWS_FLAT
from .client import IMPORT_LIMIT, StarshipitClient, envelope_errors, has_offset
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
        self.assumptions: Assumptions = (context.assumptions if context is not None
                                         else MemoryAssumptions())
        self.client = StarshipitClient(
            settings["base_url"], settings["api_key"], settings["subscription_key"],
            rate_limit=float(settings["rate_limit"]), page_size=int(settings["page_size"]),
            **options)
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
        body, refused = self.client.import_orders(payloads)
        created = {str(o.get("order_number")): o for o in body.get("orders") or []
                   if o.get("order_id") is not None}
        errors = body.get("errors") or []
        results = []
        unaccounted = []
        for payload in payloads:
            number = payload["order_number"]
            if number in created:
                results.append(CreateResult(number, str(created[number]["order_id"])))
                continue
            reason = _error_for(number, errors)
            if not reason and not refused:
                unaccounted.append(number)  # accepted, yet the answer does not say how
                continue
            results.append(self._refused(payload, reason or envelope_errors(body)))
        if unaccounted:
            raise InDoubtError(f"starshipit: POST /api/orders/import answered without a word of "
                               f"{', '.join(unaccounted[:5])}"
                               f"{' and others' if len(unaccounted) > 5 else ''}: they may "
                               "have been created")
        return results

    def _refused(self, payload: SinkPayload, reason: str) -> CreateResult:
        """A refused order: adopt the order already under its number only if it is ours."""
        number = payload["order_number"]
        try:
            found = self.client.find_order(number)
        except TransportError as exc:
            return CreateResult(number, error=f"{reason} (looking {number} up failed: {exc})")
        if found is None:
            return CreateResult(number, error=reason)
        if _provably_ours(found, payload):
            # Already there (an earlier run's lost answer): adopt it, never duplicate it.
            return CreateResult(number, str(found["order_id"]), existed=True)
        return CreateResult(number, error=(
            f"{reason}: Starshipit order {found.get('order_id')} already has the number "
            f"{number}, and it is not the order shipsync sends (its reference or destination "
            "differ), so it is left alone; give this store an order_prefix, or renumber or "
            "delete that order in Starshipit"))

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
        """Labels printed, and shipped orders changed, since ``since``, a page at a time."""
        labels: dict[str, ShipmentRecord] = {}
        if not self.shipped_list_is_enough():
            for rows in self.client.shipments(since):
                for row in rows:
                    record = mapping.shipments_row_record(row)
                    labels[record["sink_order_id"]] = record
        seen = _Seen()
        for rows in self.client.shipped(since):
            page = []
            for row in rows:
                seen.row(row)
                record = mapping.shipment_record(row)
                label = labels.pop(record["sink_order_id"], None)
                page.append(mapping.merged_record(record, label) if label else record)
            if page:
                yield page
        self._record(seen)
        # Printed labels /shipped does not list (yet): it may wait for the manifest.
        rest = list(labels.values())
        for start in range(0, len(rest), self.client.page_size):
            yield rest[start:start + self.client.page_size]

    def shipped_list_is_enough(self) -> bool:
        """``/shipped`` alone shows every printed label with every parcel: only once both
        are confirmed (``shipsync doctor``) is the list of printed labels left unread."""
        return (self.assumptions.status(LISTS_AT_PRINT) == "confirmed"
                and self.assumptions.status(ROWS_FLAT) == "contradicted")

    def _record(self, seen: _Seen) -> None:
        """What this read showed of the rows and their times, for the next runs."""
        if seen.flat:
            self.assumptions.record(Finding(
                ROWS_FLAT, "confirmed", ASSUMPTIONS[ROWS_FLAT],
                observed=f"order {seen.flat}: a row without packages",
                instead="every parcel's number comes from GET /api/orders/shipments or the "
                        "order itself"))
        elif seen.packages:
            self.assumptions.record(Finding(
                ROWS_FLAT, "contradicted", ASSUMPTIONS[ROWS_FLAT],
                observed=f"order {seen.packages}: a row with packages",
                instead="every parcel's number is taken from the row's packages"))
        if seen.naive:
            self.assumptions.record(Finding(
                DATES_UTC, "contradicted", ASSUMPTIONS[DATES_UTC],
                observed=f"a time without an offset: {seen.naive}",
                instead="times without an offset are read as the earliest instant they can "
                        "be (UTC+14): rows are read again, never missed"))
        elif seen.zoned:
            self.assumptions.record(Finding(DATES_UTC, "confirmed", ASSUMPTIONS[DATES_UTC],
                                            observed=f"a time with its offset: {seen.zoned}"))

    def shipment(self, order_number: str) -> ShipmentRecord | None:
        """The order's shipment if its label is printed (every parcel's tracking number)."""
        found = self.client.find_order(order_number)
        if found is None or not self.is_printed(found):
            return None
        return mapping.shipment_record(found, complete=True)


class _Seen:
    """What the rows of one read of ``/shipped`` showed: one example of each."""

    def __init__(self) -> None:
        self.flat = self.packages = self.naive = self.zoned = ""

    def row(self, row: dict[str, Any]) -> None:
        label = str(row.get("order_number") or row.get("order_id"))
        if isinstance(row.get("packages"), list):
            self.packages = self.packages or label
        else:
            self.flat = self.flat or label
        stamp = row.get("shipped_date")
        if stamp:
            if has_offset(stamp):
                self.zoned = self.zoned or str(stamp)
            else:
                self.naive = self.naive or str(stamp)


def _error_for(order_number: str, errors: list[Any]) -> str:
    """The error naming this order number (as a whole word: "1" is not in "'10'")."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(order_number)}(?![\w-])")
    for error in errors:
        if not isinstance(error, dict):
            continue
        if str(error.get("order_number") or "") == order_number or any(
                pattern.search(str(error.get(k) or "")) for k in ("message", "details")):
            return " ".join(str(x) for x in (error.get("message"), error.get("details")) if x)
    return ""


def _provably_ours(found: dict[str, Any], payload: SinkPayload) -> bool:
    """The order Starshipit has is the one this payload describes, not another system's.

    The number alone proves nothing (that is what collided); the reference (the
    source order's) and the destination's post code are what shipsync sent, and
    what a merchant seldom changes.
    """
    def post_code(order: dict[str, Any]) -> str:
        destination = order.get("destination")
        value = destination.get("post_code") if isinstance(destination, dict) else None
        return re.sub(r"\s+", "", str(value or "")).casefold()

    reference = str(payload.get("reference") or "")
    return (bool(reference) and str(found.get("reference") or "") == reference
            and post_code(found) == post_code(payload))
