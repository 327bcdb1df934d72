"""The import step: source orders into sink orders, one per destination.

For each order read from the source: validate it (schemas/order.json), run the
mappers (each output validated again), then plan each destination: a new one
is batched for the sink, a changed one updates its unprinted sink order, one
with nothing left to ship withdraws it. Orders the source reports cancelled or
refunded since the last run are withdrawn too. Every sink write is journaled.

``Importer.run`` is the whole step for a store; ``Importer.import_orders``
handles a page of results and ``Importer.import_order`` one order by id (a
webhook's), with the same rules.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from typing import Any, Iterable

from .. import records
from ..contracts import CanonicalOrder, CreateResult, Destination, OrderResult, SinkPayload
from ..state import Link
from ..streams import prefetch
from .context import RunContext, now_utc, parse_iso
from .journal import attempt, fingerprint
from .settling import settle

__all__ = ["IMPORT_OVERLAP", "Importer"]

#: Read again before the bookmark: changes that landed while the last read was under way.
IMPORT_OVERLAP = timedelta(minutes=5)
#: Attempts to create an order whose import answer was lost and which was then not found.
CREATE_ATTEMPTS = 3


@dataclass
class _Pending:
    """A destination waiting in a batch for the sink."""

    order: CanonicalOrder
    destination: Destination
    order_number: str
    payload: SinkPayload
    fingerprint: str
    attempts: int = 0

    def journal_payload(self, ctx: RunContext) -> dict[str, Any]:
        return {"source": ctx.source_name, "store": ctx.store,
                "order_id": self.order["order_id"],
                "destination_id": self.destination["destination_id"],
                "order_number": self.order_number, "fingerprint": self.fingerprint}


class Importer:
    """The import step of one store's run."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.batch_size = max(1, int(ctx.sink.capabilities.batch_size))
        self.pending: list[_Pending] = []
        self.planned: set[str] = set()  # order numbers this run creates (or would, dry)
        self.quarantined: set[str] = set()  # order ids quarantined when the step began
        self.in_doubt: set[str] = set()  # order numbers whose create is still unsettled
        self._pool: ThreadPoolExecutor | None = None
        self._batches: list[Future[None]] = []

    # -- the step -----------------------------------------------------------------------
    def run(self) -> None:
        """Import every order to import since the bookmark (or the last ``days``)."""
        ctx = self.ctx
        self._begin()
        key = f"import:{ctx.source_name}:{ctx.store}"
        bookmark = parse_iso(ctx.state.get_bookmark(key))
        days = ctx.options.days or ctx.settings.days
        created_since = now_utc() - timedelta(days=days)
        # An explicit --days is a backfill of the whole window; otherwise only what changed.
        overlap = self._overlap(ctx)
        modified_since = (bookmark - overlap) if bookmark and not ctx.options.days else None
        started = monotonic()
        newest = bookmark  # the source's own clock: the newest change seen, never ours
        seen: set[str] = set()
        try:
            pages = ctx.source.orders_to_import(created_since=created_since,
                                                modified_since=modified_since)
            for page in prefetch(pages) if ctx.concurrency > 1 else pages:
                ctx.check_stop()
                seen.update(r.order_id for r in page)
                newest = _newest(newest, page)
                self.import_orders(page)
                self.flush(final=False)
            retry = [order_id for order_id in sorted(self.quarantined) if order_id not in seen]
            if retry:
                for page in ctx.source.orders_by_id(retry):
                    ctx.check_stop()
                    self.import_orders(page, retry=True)
            if bookmark:
                self.withdraw_changed(bookmark - overlap)
            self.flush(final=True)
        finally:
            self.close()
        if not ctx.dry and newest is not None:
            ctx.state.set_bookmark(key, newest.isoformat())
            # How long the read took: the next one must reach that far back at least.
            ctx.state.set_bookmark(f"{key}:read_seconds", f"{monotonic() - started:.1f}")

    def import_order(self, order_id: str) -> None:
        """Import, update or withdraw one order, as a run would (e.g. after a webhook)."""
        self._begin()
        try:
            for page in self.ctx.source.orders_by_id([order_id]):
                self.import_orders(page, retry=True)
            self.flush(final=True)
        finally:
            self.close()

    def _begin(self) -> None:
        ctx = self.ctx
        settle(ctx)
        self.quarantined = {q["order_id"] for q in
                            ctx.state.quarantined(ctx.source_name, ctx.store)}
        self.in_doubt = set() if ctx.dry else ctx.journal.open_keys(ctx.sink_name,
                                                                     "create_order")

    @staticmethod
    def _overlap(ctx: RunContext) -> timedelta:
        last_read = ctx.state.get_bookmark(f"import:{ctx.source_name}:{ctx.store}:read_seconds")
        try:
            read = timedelta(seconds=float(last_read or 0))
        except ValueError:
            read = timedelta(0)
        return max(IMPORT_OVERLAP, read + IMPORT_OVERLAP)

    def close(self) -> None:
        """Wait for batches in flight: nothing is sent once the step has returned."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- a page -------------------------------------------------------------------------
    def import_orders(self, page: Iterable[OrderResult], *, retry: bool = False,
                      existing_only: bool = False) -> None:
        """Map and plan each order of a page; full batches go to the sink as they fill.

        ``retry``: the orders were read by id, whatever their status (quarantined
        ones, a webhook's): one the store no longer imports is released and, if it
        must not ship, withdrawn. ``existing_only``: only touch destinations already
        in the sink (an order partly refunded).
        """
        ctx = self.ctx
        for result in page:
            if len(self.pending) >= self.batch_size:
                self.flush(final=False)  # a full batch goes now, not after the whole page
            ctx.tick("import")
            order_id = result.order_id
            if result.error:
                ctx.fail(order_id, result.error, result.raw)
                continue
            order = result.order
            if order is None:
                continue
            if retry and ctx.source.not_importable_reason(order):
                # No longer to import: the merchant moved it on; stop retrying it.
                self._release(order_id)
                self.withdraw_order(order_id, order["status_id"])
                continue
            mapped = self.map_order(order)
            if mapped is None:
                continue
            self._release(order_id)
            self.plan_destinations(mapped, existing_only=existing_only)

    def _release(self, order_id: str) -> None:
        if not self.ctx.dry and order_id in self.quarantined:
            self.ctx.state.release(self.ctx.source_name, self.ctx.store, order_id)
            self.quarantined.discard(order_id)

    def map_order(self, order: CanonicalOrder) -> CanonicalOrder | None:
        """The order through the configured mappers, valid before and after each; or None."""
        ctx = self.ctx
        order_id = order["order_id"]
        problems = records.errors_of("order.json", order)
        if problems:
            ctx.fail(order_id, "invalid order: " + "; ".join(map(str, problems[:5])), order)
            return None
        context = ctx.plugin_context()
        for mapper in ctx.mappers:
            try:
                order = mapper.map(order, context)
            except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the run
                ctx.fail(order_id, f"mapper {mapper.name!r} failed: {type(exc).__name__}: {exc}",
                         order)
                return None
            problems = records.errors_of("order.json", order)
            if problems:
                ctx.fail(order_id, f"invalid order after mapper {mapper.name!r}: "
                         + "; ".join(map(str, problems[:5])), order)
                return None
        return order

    def plan_destinations(self, order: CanonicalOrder, *, existing_only: bool = False) -> None:
        """Decide each destination: batch it, update or withdraw its sink order, or skip it."""
        ctx = self.ctx
        order_id = order["order_id"]
        if not order["destinations"]:
            reasons = sorted({line["reason"] for line in order.get("left_out") or []})
            ctx.skip(order_id, "nothing left to ship" + (f" ({', '.join(reasons)})"
                                                         if reasons else ""))
            return
        for index, destination in enumerate(order["destinations"]):
            link = ctx.state.get_link(ctx.source_name, ctx.store, order_id,
                                      destination["destination_id"])
            if destination["kind"] == "pickup":
                if not ctx.settings.pickup_in_store:
                    ctx.skip(order_id, "pickup in store (Enable Pickup in Store is off)")
                    continue
                if ctx.sink.capabilities.pickup_carrier:
                    destination["carrier"] = ctx.sink.capabilities.pickup_carrier
            number = ctx.hook.shipsync_order_number(order=order, destination_index=index,
                                                    prefix=ctx.settings.order_prefix)
            if not destination["items"]:
                if link and link.state == "imported":
                    self.delete(link, "nothing left to ship in the source (refunded or shipped "
                                "outside shipsync)")
                else:
                    ctx.skip(order_id, "nothing left to ship")
                continue
            try:
                payload = ctx.sink.payload(number, order, destination)
            except ValueError as exc:
                ctx.fail(order_id, f"{number}: {exc}", order)
                continue
            fp = fingerprint(payload)
            if link is None or link.state == "deleted":
                if existing_only or number in self.planned:
                    continue
                if number in self.in_doubt:
                    ctx.skip(order_id, "an earlier create of it is still in doubt: looked up "
                             "again before anything is sent")
                    continue
                self.planned.add(number)
                self.pending.append(_Pending(order, destination, number, payload, fp))
                ctx.action("import", order_id, "new order in an import status", number)
            elif link.state == "imported" and link.fingerprint != fp:
                self.update(link, order, payload, fp)
            else:
                with ctx.lock:
                    ctx.report.already_imported += 1

    # -- creating -----------------------------------------------------------------------
    def flush(self, *, final: bool) -> None:
        """Send full batches (all of them when ``final``), several at once when allowed."""
        ctx = self.ctx
        while True:
            with ctx.lock:
                ready = bool(self.pending) and (final or len(self.pending) >= self.batch_size)
                if ready:
                    batch = self.pending[:self.batch_size]
                    self.pending = self.pending[self.batch_size:]
            if not ready:
                if final and self._batches:
                    self._wait_batches()  # their retries may refill pending
                    continue
                return
            ctx.check_stop()
            if ctx.dry:
                ctx.report.imported += len(batch)
                continue
            if ctx.concurrency <= 1:
                self.create_batch(batch)
                continue
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=ctx.concurrency,
                                                thread_name_prefix="import")
            # Batches are independent; the sink's rate budget paces them.
            self._batches.append(self._pool.submit(self.create_batch, batch))
            while len(self._batches) >= ctx.concurrency * 2:
                self._wait_batches(first=True)

    def _wait_batches(self, first: bool = False) -> None:
        waiting, self._batches = ((self._batches[:1], self._batches[1:]) if first
                                  else (self._batches, []))
        for future in waiting:
            future.result()  # re-raises a batch's exception here

    def create_batch(self, batch: list[_Pending]) -> None:
        """One sink call for a batch, each order journaled; a lost answer is looked up."""
        ctx = self.ctx
        entries = ctx.journal.intents(ctx.sink_name, "create_order",
                                      [(item.order_number, item.journal_payload(ctx))
                                       for item in batch])
        outcome = attempt(lambda: ctx.sink.create_orders([item.payload for item in batch]))
        if outcome.in_doubt is not None:
            self._settle_batch(batch, entries)
            return
        if outcome.error is not None:
            for item, entry in zip(batch, entries, strict=True):
                ctx.journal.failed(entry, {"error": str(outcome.error)})
                ctx.fail(item.order["order_id"], f"{item.order_number}: {outcome.error}",
                         item.order)
            return
        by_number = {result.order_number: result for result in outcome.value or []}
        with ctx.state.transaction():
            for item, entry in zip(batch, entries, strict=True):
                self._record(item, entry, by_number.get(item.order_number))

    def _record(self, item: _Pending, entry: int, result: CreateResult | None) -> None:
        ctx = self.ctx
        if result is None or result.error or not result.sink_order_id:
            reason = result.error if result else "no result from the sink"
            ctx.journal.failed(entry, {"error": reason})
            ctx.fail(item.order["order_id"], f"{item.order_number}: {reason}", item.order)
            return
        self._created(item, entry, result.sink_order_id)

    def _created(self, item: _Pending, entry: int, sink_order_id: str) -> None:
        ctx = self.ctx
        order_id = item.order["order_id"]
        destination_id = item.destination["destination_id"]
        ctx.link(order_id, destination_id, item.order_number, sink_order_id, "imported",
                 item.fingerprint)
        ctx.journal.done(entry, {"sink_order_id": sink_order_id})
        with ctx.lock:
            ctx.report.imported += 1
        ctx.event(order_id, "imported", f"{item.order_number} (destination {destination_id})")
        ctx.hook.shipsync_order_imported(store=ctx.store, order_number=item.order_number,
                                         order=item.order)

    def _settle_batch(self, batch: list[_Pending], entries: list[int]) -> None:
        """The import call's answer was lost: find out, order by order, what it created."""
        ctx = self.ctx
        retry: list[_Pending] = []
        for item, entry in zip(batch, entries, strict=True):
            try:
                found = ctx.sink.find_order(item.order_number)
            except Exception as exc:  # noqa: BLE001 - any failure leaves the intent open
                # Cannot tell yet: the intent stays open; looked up again at the next step.
                ctx.fail(item.order["order_id"], f"{item.order_number}: outcome unknown "
                         f"({exc}); it will be looked up before anything is sent again",
                         item.order)
                continue
            if found:
                self._created(item, entry, found.sink_order_id)
                continue
            ctx.journal.failed(entry, {"settled": "not applied"})
            item.attempts += 1
            if item.attempts >= CREATE_ATTEMPTS:
                ctx.fail(item.order["order_id"], f"{item.order_number}: the sink did not "
                         f"answer after {CREATE_ATTEMPTS} attempts", item.order)
            else:
                retry.append(item)
        if retry:
            with ctx.lock:
                self.pending[:0] = retry

    # -- updating and withdrawing -------------------------------------------------------
    def update(self, link: Link, order: CanonicalOrder, payload: SinkPayload, fp: str) -> None:
        """Replace an unprinted sink order whose source order changed."""
        ctx = self.ctx
        order_id = order["order_id"]
        if ctx.dry:
            ctx.report.updated += 1
            ctx.action("update", order_id, "changed in the source since it was imported",
                       link.order_number)
            return
        journal = {"source": ctx.source_name, "store": ctx.store, "order_id": order_id,
                   "destination_id": link.destination_id, "order_number": link.order_number,
                   "fingerprint": fp}
        outcome = ctx.journal.journaled(
            ctx.sink_name, "update_order", link.order_number, journal,
            lambda: ctx.sink.update_order(str(link.sink_order_id), payload),
            lambda value: {"outcome": value})
        if not outcome.ok:
            ctx.fail(order_id, f"{link.order_number}: update failed: "
                     f"{outcome.error or outcome.in_doubt}", order)
            return
        if outcome.value == "printed":
            ctx.relink(link, "imported", detail="changed after its label was printed")
            ctx.skip(order_id, "changed after the label was printed (not updated)")
            return
        if outcome.value == "gone":
            self.removed(link)
            return
        ctx.relink(link, "imported", fingerprint=fp)
        ctx.report.updated += 1
        ctx.event(order_id, "updated", f"{link.order_number}: changed in the source")
        ctx.hook.shipsync_order_updated(store=ctx.store, order_number=link.order_number,
                                        order=order)

    def removed(self, link: Link) -> None:
        """The sink no longer has the order: the merchant removed it there; not recreated."""
        ctx = self.ctx
        detail = (f"{link.order_number} is no longer in {ctx.sink_name}: removed there by "
                  "hand; not sent again (`shipsync resend` sends it again)")
        ctx.relink(link, "removed", detail=detail)
        ctx.skip(link.order_id, f"removed from {ctx.sink_name} by hand (not sent again)")
        ctx.event(link.order_id, "removed", detail)

    def withdraw_changed(self, since: datetime) -> None:
        """Orders cancelled, refunded or declined since ``since`` leave the sink."""
        ctx = self.ctx
        if not ctx.state.open_links(ctx.source_name, ctx.store, ("imported",)):
            return
        for page in ctx.source.withdrawn_orders(since):
            for result in page:
                ctx.check_stop()
                if not ctx.state.links_for_order(ctx.source_name, ctx.store, result.order_id):
                    continue
                status = result.status_id
                if status is not None and ctx.source.not_shippable_reason(status):
                    self.withdraw_order(result.order_id, status)
                elif result.order is not None:
                    # Partly refunded: refunded lines leave the sink order.
                    mapped = self.map_order(result.order)
                    if mapped:
                        self.plan_destinations(mapped, existing_only=True)

    def withdraw_order(self, order_id: str, status_id: int) -> None:
        """Delete the unprinted sink orders of an order that must not ship."""
        reason = self.ctx.source.not_shippable_reason(status_id)
        if not reason:
            return
        for link in self.ctx.state.links_for_order(self.ctx.source_name, self.ctx.store,
                                                   order_id):
            if link.state == "imported":
                self.delete(link, reason)

    def delete(self, link: Link, reason: str) -> None:
        ctx = self.ctx
        if ctx.dry:
            ctx.report.deleted += 1
            ctx.action("delete", link.order_id, reason, link.order_number)
            return
        journal = {"source": ctx.source_name, "store": ctx.store, "order_id": link.order_id,
                   "destination_id": link.destination_id, "order_number": link.order_number,
                   "fingerprint": link.fingerprint}
        outcome = ctx.journal.journaled(
            ctx.sink_name, "delete_order", link.order_number, journal,
            lambda: ctx.sink.delete_order(str(link.sink_order_id)),
            lambda value: {"outcome": value})
        if not outcome.ok:
            ctx.fail(link.order_id, f"{link.order_number}: could not delete ({reason}): "
                     f"{outcome.error or outcome.in_doubt}", quarantine=False)
            return
        if outcome.value == "printed":
            # Too late to withdraw: the writeback step reports it as not written back.
            ctx.skip(link.order_id, f"{reason}, but its label is already printed: "
                     "not withdrawn (void the label in the sink)")
            return
        ctx.relink(link, "deleted", detail=reason)
        ctx.report.deleted += 1
        ctx.event(link.order_id, "deleted", f"{link.order_number}: {reason}")
        ctx.hook.shipsync_order_deleted(store=ctx.store, order_number=link.order_number,
                                        reason=reason)


def _newest(newest: datetime | None, page: list[OrderResult]) -> datetime | None:
    for result in page:
        stamp = parse_iso(result.order.get("date_modified")) if result.order else None
        if stamp and (newest is None or stamp > newest):
            newest = stamp
    return newest

