"""A batch of triggers of one store, turned into engine calls.

Triggers of one store are synced together: the orders to import in one
``Engine.import_orders`` (one read of the source for orders close together,
one sink call per batch), then the shipments to write back in one
``Engine.write_back_orders`` (each read from the sink, then written). Each
store has a lock that the poller takes too, so a store never runs twice at
once in this process; another process running it (its lease) makes the batch
wait and try again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..engine import Engine, EngineError, RunOptions, StoreReport
from ..http import TransportError
from ..state import InboxEvent, StateError, StateStore

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["Lane", "RetryLater", "Stopped", "SyncRunner"]

log = logging.getLogger("shipsync.serve")

#: A store: (source, store). Its triggers are synced one batch at a time.
Lane = tuple[str, str]


class RetryLater(Exception):
    """The batch could not be synced now (the store is busy elsewhere, an API is down)."""


class Stopped(Exception):
    """The service is stopping: the batch was interrupted; its triggers stay in the inbox."""


class SyncRunner:
    """Syncs batches of triggers through the engine, one store at a time."""

    def __init__(self, engine: Engine, state: StateStore, metrics: Metrics,
                 stop: threading.Event) -> None:
        self.engine = engine
        self.state = state
        self.metrics = metrics
        self.stop = stop
        self._locks: dict[Lane, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    @contextmanager
    def store_lock(self, lane: Lane) -> Iterator[None]:
        """The store's lock: its webhook syncs and its polls never overlap in this process."""
        with self._locks_lock:
            lock = self._locks.setdefault(lane, threading.Lock())
        with lock:
            yield

    def lane_of(self, event: InboxEvent) -> Lane | None:
        """The store a trigger belongs to; a sink order's is found from what was imported."""
        if event.source and event.store:
            return (event.source, event.store)
        link = self.state.link_by_number(event.sink, event.order_number)
        return (link.source, link.store) if link else None

    def sync(self, lane: Lane, events: list[InboxEvent]) -> str:
        """Sync the batch; return what was done. Raises ``RetryLater`` or ``Stopped``."""
        source, store = lane
        import_ids = sorted({e.order_id for e in events if e.step == "import" and e.order_id})
        numbers = self._numbers_to_write_back(lane, events)
        done: list[str] = []
        with self.store_lock(lane):
            if import_ids:
                report = self._run("import", lambda options: self.engine.import_orders(
                    source, store, import_ids, options))
                done.append(_summary("import", report))
            if numbers:
                report = self._run("writeback", lambda options: self.engine.write_back_orders(
                    source, store, sorted(numbers), options))
                done.append(_summary("writeback", report))
        return "; ".join(done) or "nothing to do: no order of this store is waiting for it"

    def _numbers_to_write_back(self, lane: Lane, events: list[InboxEvent]) -> set[str]:
        """The sink orders to look at: those named, and those of the source orders named."""
        numbers = {e.order_number for e in events if e.step == "writeback" and e.order_number}
        for order_id in {e.order_id for e in events
                         if e.step == "writeback" and e.order_id and not e.order_number}:
            for link in self.state.links_for_order(lane[0], lane[1], order_id):
                # Only labels still to write back: our own shipments echo back as webhooks.
                if link.state == "imported":
                    numbers.add(link.order_number)
        return numbers

    def _run(self, step: str, call: Callable[[RunOptions], StoreReport]) -> StoreReport:
        started = time.perf_counter()
        options = RunOptions(steps=(step,), stop=self.stop)
        try:
            report = call(options)
        except EngineError as exc:
            self.metrics.synced("webhook", step, "retry", time.perf_counter() - started)
            raise RetryLater(str(exc)) from None
        except (TransportError, StateError, OSError) as exc:
            self.metrics.synced("webhook", step, "retry", time.perf_counter() - started)
            raise RetryLater(f"{type(exc).__name__}: {exc}") from None
        result = "stopped" if report.stopped else "failed_records" if report.failed else "ok"
        self.metrics.synced("webhook", step, result, time.perf_counter() - started)
        if report.stopped:
            raise Stopped(step)
        return report


def _summary(step: str, report: StoreReport) -> str:
    counts = report.to_dict()
    parts = [f"{name} {counts[name]}" for name in (
        "imported", "updated", "deleted", "written_back", "awaiting_pickup", "skipped",
        "failed") if counts.get(name)]
    text = f"{step}: " + (", ".join(parts) or "nothing changed")
    if report.failed:
        reasons = "; ".join(f["reason"] for f in report.failures[:3])
        text += f" ({reasons}; failed orders are retried by the poll)"
    return text
