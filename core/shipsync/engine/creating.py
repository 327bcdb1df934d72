"""New sink orders, in batches: sent as they fill, several at once, each order journaled.

A batch is one sink call (``SinkCapabilities.batch_size`` orders). Its orders'
intents are journaled in one transaction before the call; each result links
its order or fails it. When the call's answer is lost, each order is looked up
by number (``Sink.find_order``): found ones are linked, the others are sent
again (3 times at most), and an order whose lookup fails too stays in doubt.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..contracts import CanonicalOrder, CreateResult, Destination, SinkPayload
from .context import RunContext
from .journal import attempt

__all__ = ["CREATE_ATTEMPTS", "Creator", "Pending"]

#: Attempts to create an order whose import answer was lost and which was then not found.
CREATE_ATTEMPTS = 3


@dataclass
class Pending:
    """A destination waiting in a batch for the sink."""

    order: CanonicalOrder
    destination: Destination
    order_number: str
    payload: SinkPayload
    fingerprint: str
    attempts: int = 0
    why: str = "new order in an import status"

    def journal_payload(self, ctx: RunContext) -> dict[str, Any]:
        return {"source": ctx.source_name, "store": ctx.store,
                "order_id": self.order["order_id"],
                "destination_id": self.destination["destination_id"],
                "order_number": self.order_number, "fingerprint": self.fingerprint}


class Creator:
    """The batches of one import step: pending orders, and the batches in flight."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.batch_size = max(1, int(ctx.sink.capabilities.batch_size))
        self.pending: list[Pending] = []
        self._pool: ThreadPoolExecutor | None = None
        self._batches: list[Future[None]] = []

    def add(self, item: Pending) -> None:
        """Queue one order; a full batch goes at once, not after the whole page."""
        with self.ctx.lock:
            self.pending.append(item)
        if len(self.pending) >= self.batch_size:
            self.flush(final=False)

    def close(self) -> None:
        """Wait for batches in flight: nothing is sent once the step has returned."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

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

    def create_batch(self, batch: list[Pending]) -> None:
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

    def _record(self, item: Pending, entry: int, result: CreateResult | None) -> None:
        ctx = self.ctx
        if result is None or result.error or not result.sink_order_id:
            reason = result.error if result else "no result from the sink"
            ctx.journal.failed(entry, {"error": reason})
            ctx.fail(item.order["order_id"], f"{item.order_number}: {reason}", item.order)
            return
        self._created(item, entry, result.sink_order_id)

    def _created(self, item: Pending, entry: int, sink_order_id: str) -> None:
        ctx = self.ctx
        order_id = item.order["order_id"]
        destination_id = item.destination["destination_id"]
        ctx.link(order_id, destination_id, item.order_number, sink_order_id, "imported",
                 item.fingerprint)
        ctx.journal.done(entry, {"sink_order_id": sink_order_id})
        with ctx.lock:
            ctx.report.imported += 1
        ctx.action("import", order_id, item.why, item.order_number)
        ctx.event(order_id, "imported", f"{item.order_number} (destination {destination_id})")
        ctx.hook.shipsync_order_imported(store=ctx.store, order_number=item.order_number,
                                         order=item.order)

    def _settle_batch(self, batch: list[Pending], entries: list[int]) -> None:
        """The import call's answer was lost: find out, order by order, what it created."""
        ctx = self.ctx
        retry: list[Pending] = []
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

