"""The writeback step: printed sink orders back to the source as shipments and a status.

Shipment records come from the sink (printed since the bookmark, and those an
earlier failure left behind); each one shipsync imported is remembered as
``printed``, then the source's current state of its order is read (many orders
per call), the ``shipsync_writeback_decision`` hook decides what to write, and
the shipment, then the status, are written, each journaled.

``Writeback.run`` is the whole step; ``Writeback.write_back`` takes a chunk of
accepted records and ``Writeback.write_back_shipments`` records just read (a
webhook's, the printed list's), with the same rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from .. import records
from ..contracts import Destination, OrderResult, ShipmentRecord
from ..registry import WritebackContext, WritebackDecision
from ..state import Link
from .context import RunContext, Stopped, now_utc, parse_iso
from .settling import settle

__all__ = ["WRITEBACK_CHUNK", "Writeback"]

#: Records gathered before writing back: the more, the fewer calls read their orders' state.
WRITEBACK_CHUNK = 5000
#: Attempts to post a shipment whose answer was lost and which was then not found.
SHIPMENT_ATTEMPTS = 3

_Row = tuple[ShipmentRecord, Link]


class Writeback:
    """The writeback step of one store's run."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.written: set[str] = set()  # order numbers this run wrote back (or would, dry)
        self._in_doubt: set[str] | None = None  # shipment posts still unsettled (read once)

    def run(self) -> None:
        """Write back every shipment printed since the bookmark, and those left pending."""
        ctx = self.ctx
        settle(ctx)
        key = f"writeback:{ctx.sink_name}:{ctx.source_name}:{ctx.store}"
        bookmark = parse_iso(ctx.state.get_bookmark(key))
        days = ctx.options.days or ctx.settings.days
        since = ((bookmark - ctx.sink.capabilities.writeback_overlap) if bookmark
                 else ctx.source_now() - timedelta(days=days))
        # Shipments seen before but not yet written back (an earlier failure) go first.
        pending = [(json.loads(link.detail), link)
                   for link in ctx.state.open_links(ctx.source_name, ctx.store, ("printed",))
                   if link.detail.startswith("{") and link.order_id not in ctx.forgotten]
        if pending:
            self.write_back(pending)
        newest = bookmark  # the sink's own clock: the newest change seen, never ours
        started = now_utc()  # ...but never later than when the read began
        rows: list[_Row] = []
        for page in ctx.sink.shipped_since(since):
            ctx.check_stop()
            with ctx.transaction():  # the page's links, one sync to disk
                for shipment in page:
                    newest = _later(newest, shipment)
                    row = self.accept(shipment)
                    if row:
                        rows.append(row)
            if len(rows) >= WRITEBACK_CHUNK:
                self.write_back(rows)
                rows = []
        if rows:
            self.write_back(rows)
        if not ctx.dry and newest is not None:
            # Never after the read began: a sink time misread into the future (or a label
            # printed while this step ran) must not be passed over.
            ctx.state.set_bookmark(key, min(newest, started).isoformat())

    def write_back_shipment(self, shipment: ShipmentRecord) -> bool:
        """Write back one printed sink order; False when it is not one to write back."""
        return self.write_back_shipments([shipment]) == 1

    def write_back_shipments(self, shipments: Iterable[ShipmentRecord]) -> int:
        """Write back these printed sink orders (those of this store still to write back,
        each once); returns how many were."""
        unique = {shipment.get("order_number", ""): shipment for shipment in shipments}
        with self.ctx.transaction():
            rows = [row for row in map(self.accept, unique.values()) if row is not None]
        if rows:
            self.write_back(rows)
        return len(rows)

    def accept(self, shipment: ShipmentRecord) -> _Row | None:
        """The shipment with its link, when it is this store's and still to write back."""
        ctx = self.ctx
        number = shipment.get("order_number", "")
        link = ctx.state.link_by_number(ctx.sink_name, number)
        if (link is None or link.source != ctx.source_name or link.store != ctx.store
                or link.state != "imported" or number in self.written):
            return None
        if link.order_id in ctx.forgotten:
            ctx.left_alone(link.order_id)
            return None
        problems = records.errors_of("shipment.json", shipment)
        if problems:
            ctx.fail(link.order_id, f"{link.order_number}: invalid shipment record: "
                     + "; ".join(map(str, problems[:5])), shipment, quarantine=False)
            return None
        if not ctx.dry:
            # Remembered as printed first: a failure below is retried from here next run.
            ctx.relink(link, "printed", detail=json.dumps(shipment))
        return shipment, link

    # -- a chunk --------------------------------------------------------------------------
    def write_back(self, rows: Iterable[_Row]) -> None:
        """Write back a chunk of shipments: their orders' state in few calls, orders at once."""
        ctx = self.ctx
        by_order: dict[str, list[_Row]] = {}
        for shipment, link in rows:
            by_order.setdefault(link.order_id, []).append((shipment, link))
        if not by_order:
            return
        ctx.expect("writeback", len(by_order))
        current = ctx.source.current_orders(list(by_order))

        def one(order_id: str) -> None:
            ctx.check_stop()
            ctx.tick("writeback")
            # An incomplete record is read whole here, by the order's own worker: the
            # sink's reads and the source's writes of different orders overlap.
            items = self.completed(by_order[order_id])
            if items:
                self.write_back_order(order_id, items, current.get(order_id))

        workers = min(ctx.concurrency, len(by_order))
        if workers <= 1:
            for order_id in by_order:
                one(order_id)
            return
        # Orders are independent: their shipments go out concurrently, each order's in
        # sequence, paced by the API's rate budget shared by all workers.
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="writeback") as pool:
            futures = [pool.submit(one, order_id) for order_id in by_order]
            errors = [f.exception() for f in futures]
        for error in errors:
            if isinstance(error, Stopped):
                raise error
        for error in errors:
            if error is not None:
                raise error

    def completed(self, rows: list[_Row]) -> list[_Row]:
        """The rows, each incomplete record (``complete`` False) read whole from the sink.

        A list may show one parcel of a label only, or no tracking link: the record
        comes whole from the sink's own record of the order, one call each. One that
        cannot be read now stays ``printed`` and is tried again next run.
        """
        out: list[_Row] = []
        for shipment, link in rows:
            if shipment.get("complete") is not False:
                out.append((shipment, link))
            elif (whole := self._whole(shipment, link)) is not None:
                out.append((whole, link))
        return out

    def _whole(self, shipment: ShipmentRecord, link: Link) -> ShipmentRecord | None:
        ctx = self.ctx
        try:
            record = ctx.sink.shipment(link.order_number)
        except Exception as exc:  # noqa: BLE001 - this order's failure, not the run's
            why = f"its record could not be read ({exc})"
        else:
            if record is not None:
                merged = _merged(shipment, record)
                problems = records.errors_of("shipment.json", merged)
                if problems:
                    ctx.fail(link.order_id, f"{link.order_number}: invalid shipment record: "
                             + "; ".join(map(str, problems[:5])), merged, quarantine=False)
                    return None
                if not ctx.dry:
                    ctx.relink(link, "printed", detail=json.dumps(merged))
                return merged
            why = "the sink no longer shows it printed"
        ctx.fail(link.order_id, f"{link.order_number}: not written back yet: {why}; tried "
                 "again next run", quarantine=False)
        return None

    def write_back_order(self, order_id: str, items: list[_Row],
                         result: OrderResult | None) -> None:
        """Every printed shipment of one order, then its status once."""
        ctx = self.ctx
        numbers = ", ".join(link.order_number for _, link in items)
        if result is None:
            ctx.fail(order_id, f"{numbers}: the order is no longer in the source",
                     quarantine=False)
            return
        if result.error or result.order is None:
            ctx.fail(order_id, f"{numbers}: {result.error or 'not readable'}", quarantine=False)
            return
        order = result.order
        reason = ctx.source.not_shippable_reason(order["status_id"])
        if reason:
            for _shipment, link in items:
                self._not_written_back(link, reason)
            return
        destinations = {d["destination_id"]: d for d in order["destinations"]}
        remaining = {d["destination_id"]: sum(i["quantity"] for i in d["items"])
                     for d in order["destinations"] if d["kind"] == "shipping"}
        final_status: int | None = None
        posted_all = False
        done: list[tuple[Link, WritebackDecision, ShipmentRecord]] = []
        for shipment, link in sorted(items, key=lambda pair: pair[1].destination_id):
            destination = destinations.get(link.destination_id)
            if destination is None:
                ctx.fail(order_id, f"{link.order_number}: its address is no longer on the order",
                         quarantine=False)
                continue
            before = remaining.get(link.destination_id, 0)
            remaining[link.destination_id] = 0
            decision: WritebackDecision = ctx.hook.shipsync_writeback_decision(
                context=WritebackContext(
                    store=ctx.store, store_config=ctx.settings.section, shipment=shipment,
                    source_order=order, destination=destination, policies=ctx.policies,
                    all_destinations_shipped=all(v == 0 for v in remaining.values())))
            if decision.create_shipment and destination["items"]:
                if destination["kind"] != "shipping":
                    remaining[link.destination_id] = before
                    ctx.fail(order_id, f"{link.order_number}: printed with a courier, but it is "
                             f"a pickup consignment: {ctx.source_name} cannot ship it",
                             quarantine=False)
                    continue
                if not self.post_shipment(order_id, link, destination, shipment):
                    remaining[link.destination_id] = before
                    continue
                posted_all = all(v == 0 for v in remaining.values())
            if decision.status_id is not None:
                final_status = decision.status_id
            done.append((link, decision, shipment))
        if final_status is not None and final_status != order["status_id"] and done:
            # A source that moves a fully shipped order to its shipped status needs no call.
            by_itself = ctx.source.capabilities.shipped_status
            if not (posted_all and final_status == by_itself):
                if not self.put_status(order_id, final_status, numbers):
                    return
        with ctx.transaction():
            for link, decision, shipment in done:
                self._written(order_id, link, decision, shipment)
        for _link, decision, shipment in done:  # observers run outside the transaction
            ctx.hook.shipsync_order_written_back(store=ctx.store, order_id=order_id,
                                                 shipment=shipment, decision=decision)

    def _not_written_back(self, link: Link, reason: str) -> None:
        ctx = self.ctx
        with ctx.lock:
            ctx.report.not_written_back += 1
            ctx.report.not_written_back_reasons.append(
                {"order_id": link.order_id, "order_number": link.order_number, "reason": reason})
        ctx.event(link.order_id, "not_written_back", f"{link.order_number}: {reason}")
        ctx.action("not_written_back", link.order_id, reason, link.order_number)
        if not ctx.dry:
            ctx.relink(link, "not_shippable", detail=reason)

    def _written(self, order_id: str, link: Link, decision: WritebackDecision,
                 shipment: ShipmentRecord) -> None:
        ctx = self.ctx
        with ctx.lock:
            if decision.pickup:
                ctx.report.awaiting_pickup += 1
            else:
                ctx.report.written_back += 1
            self.written.add(link.order_number)
        state = "awaiting_pickup" if decision.pickup else "written_back"
        ctx.action(state if decision.pickup else "write_back", order_id, decision.reason,
                   link.order_number)
        if not ctx.dry:
            ctx.relink(link, state, detail=decision.reason)
            numbers = shipment.get("tracking_numbers") or []
            ctx.event(order_id, "written_back", f"{link.order_number}: {decision.reason}"
                      + (f" [{', '.join(numbers)}]" if numbers else ""))

    # -- the writes -----------------------------------------------------------------------
    def post_shipment(self, order_id: str, link: Link, destination: Destination,
                      shipment: ShipmentRecord) -> bool:
        """Post the shipment, journaled; a lost answer is looked up, never blindly resent."""
        ctx = self.ctx
        carrier = ctx.hook.shipsync_tracking_carrier(
            carrier=shipment.get("carrier", ""), carrier_name=shipment.get("carrier_name", ""),
            source=ctx.source_name) or ""
        body = ctx.source.shipment_body(destination, shipment, carrier)
        if ctx.dry:
            return True
        tracking = (shipment.get("tracking_numbers") or [""])[0]
        journal = {"source": ctx.source_name, "store": ctx.store, "order_id": order_id,
                   "destination_id": link.destination_id, "order_number": link.order_number,
                   "tracking_number": tracking}
        key = f"{order_id}:{link.destination_id}:{tracking}"
        if self._in_doubt is None:  # after the step's settling: what is still unknown
            self._in_doubt = ctx.journal.open_keys(ctx.source_name, "create_shipment")
        if key in self._in_doubt:
            # An earlier post's answer was lost and its lookup failed: sending it again
            # could make a second shipment. It is looked up again at the next step.
            ctx.skip(order_id, "an earlier shipment post of it is still in doubt: looked up "
                     "again before anything is sent")
            return False
        last = None
        for _attempt in range(SHIPMENT_ATTEMPTS):
            outcome = ctx.journal.journaled(
                ctx.source_name, "create_shipment", key, journal,
                lambda: ctx.source.create_shipment(order_id, body),
                lambda created: {"shipment_id": created.shipment_id})
            if outcome.ok:
                return True
            if outcome.error is not None:
                ctx.fail(order_id, f"{link.order_number}: shipment refused: {outcome.error}",
                         quarantine=False)
                return False
            try:
                found = ctx.source.find_shipment(order_id, link.destination_id, tracking)
            except Exception as exc:  # noqa: BLE001 - any failure leaves the intent open
                ctx.fail(order_id, f"{link.order_number}: shipment outcome unknown ({exc}); "
                         "it will be looked up before anything is sent again",
                         quarantine=False)
                return False
            if found:
                ctx.journal.done(outcome.entry, {"settled": "found",
                                                 "shipment_id": found.shipment_id})
                return True
            ctx.journal.failed(outcome.entry, {"settled": "not applied"})
            last = outcome.in_doubt
        ctx.fail(order_id, f"{link.order_number}: the source did not answer after "
                 f"{SHIPMENT_ATTEMPTS} attempts (the last: {last})", quarantine=False)
        return False

    def put_status(self, order_id: str, status_id: int, numbers: str) -> bool:
        ctx = self.ctx
        if ctx.dry:
            return True
        journal = {"source": ctx.source_name, "store": ctx.store, "order_id": order_id,
                   "status_id": status_id}
        outcome = ctx.journal.journaled(
            ctx.source_name, "set_status", f"{order_id}:status:{status_id}", journal,
            lambda: ctx.source.set_status(order_id, status_id),
            lambda _none: {"status_id": status_id})
        if not outcome.ok:
            ctx.fail(order_id, f"{numbers}: shipment written, status {status_id} not set: "
                     f"{outcome.error or outcome.in_doubt}", quarantine=False)
            return False
        return True


def _merged(partial: ShipmentRecord, whole: ShipmentRecord) -> ShipmentRecord:
    """The whole record, keeping the list's bookmark time and what the whole one lacks."""
    merged: ShipmentRecord = {**partial, **whole}
    if partial.get("updated"):
        merged["updated"] = partial["updated"]
    merged.pop("complete", None)
    return merged


def _later(newest: datetime | None, shipment: ShipmentRecord) -> datetime | None:
    stamp = parse_iso(shipment.get("updated") or shipment.get("shipped_date"))
    return stamp if stamp and (newest is None or stamp > newest) else newest
