"""The safety net: a lost webhook costs time, never an order.

Every ``poll_every`` (and once at start) each configured store gets its full
run, import then writeback, as ``shipsync run`` does. Every ``labels_every``
each sink account's printed orders are read once (``Sink.shipped_since``, one
call while fewer than a page changed), and those shipsync imported and has not
written back are written back, store by store: the latency of a label when the
sink sends no webhook. Both take the store's lock, so a poll and a webhook
sync never run one store at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta

from ..contracts import ShipmentRecord
from ..engine import Engine, EngineError, RunOptions
from ..engine.context import now_utc, parse_iso
from ..http import TransportError
from ..state import EventInbox, StateError, StateStore
from .metrics import Metrics
from .runner import Lane, SyncRunner
from .settings import ServeSettings

__all__ = ["SafetyNet"]

log = logging.getLogger("shipsync.serve")

#: Finished inbox rows are kept this long (repeats are recognised for as long).
INBOX_KEEP = 86400.0
#: Printed labels written back per run of the label check: a store's webhook syncs wait
#: for one chunk at most, not for the whole minute's labels.
LABEL_CHUNK = 25


class SafetyNet:
    """The full poll and the printed-label check, in a thread of their own."""

    def __init__(self, engine: Engine, state: StateStore, inbox: EventInbox, runner: SyncRunner,
                 metrics: Metrics, settings: ServeSettings) -> None:
        self.engine = engine
        self.state = state
        self.inbox = inbox
        self.runner = runner
        self.metrics = metrics
        self.settings = settings
        self.stop = threading.Event()
        self.last_poll: float | None = None  # time.time() of the last full poll's end
        self.last_labels: float | None = None
        self._thread = threading.Thread(target=self._loop, name="serve-poll", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        self.stop.set()
        self._thread.join(timeout)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        next_poll = next_labels = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_poll:
                self.poll()
                next_poll = time.monotonic() + self.settings.poll_every
                next_labels = max(next_labels, time.monotonic() + self.settings.labels_every)
            elif now >= next_labels:
                self.check_labels()
                next_labels = time.monotonic() + self.settings.labels_every
            self.stop.wait(max(0.0, min(next_poll, next_labels) - time.monotonic()))

    # -- the full poll --------------------------------------------------------------------
    def lanes(self) -> list[Lane]:
        """Every configured store of every installed source."""
        lanes: list[Lane] = []
        for source in sorted(self.engine.host.sources):
            try:
                lanes.extend((source, s.name) for s in self.engine.stores(source))
            except EngineError:
                continue  # an installed source with no store configured
        return lanes

    def poll(self) -> None:
        """Every store's full run, one store after another."""
        for lane in self.lanes():
            if self.stop.is_set():
                return
            started = time.perf_counter()
            result = "ok"
            try:
                with self.runner.store_lock(lane):
                    # The store's source is built afresh: what it caches is read again.
                    self.engine.forget_source(*lane)
                    [report] = self.engine.run(lane[0], store=lane[1],
                                               options=RunOptions(stop=self.stop))
                result = ("stopped" if report.stopped else
                          "failed_records" if report.failed else "ok")
                if report.imported or report.updated or report.deleted or report.written_back:
                    log.info("poll %s:%s: imported %d, updated %d, deleted %d, written back %d",
                             *lane, report.imported, report.updated, report.deleted,
                             report.written_back)
            except (EngineError, TransportError, StateError, OSError) as exc:
                result = "error"
                log.warning("poll %s:%s: %s; the next poll tries again", *lane, exc)
            self.metrics.synced("poll", "run", result, time.perf_counter() - started)
        self.last_poll = time.time()
        try:
            self.inbox.inbox_purge(time.time() - INBOX_KEEP)
        except StateError as exc:
            log.warning("could not purge the inbox: %s", exc)

    # -- printed labels -------------------------------------------------------------------
    def check_labels(self) -> None:
        """Read each sink's printed orders once; write back those still to write back."""
        sinks: dict[str, list[Lane]] = defaultdict(list)
        for lane in self.lanes():
            try:
                sinks[self.engine.sink_name(self.engine.store(*lane))].append(lane)
            except EngineError:
                continue
        for sink_name, lanes in sorted(sinks.items()):
            if self.stop.is_set():
                return
            started = time.perf_counter()
            try:
                self._labels_of(sink_name, set(lanes))
                result = "ok"
            except (EngineError, TransportError, StateError, OSError) as exc:
                result = "error"
                log.warning("printed labels of %s: %s; read again next time", sink_name, exc)
            self.metrics.synced("labels", "writeback", result, time.perf_counter() - started)
        self.last_labels = time.time()

    def _labels_of(self, sink_name: str, lanes: set[Lane]) -> None:
        sink = self.engine.sink(sink_name)
        key = f"labels:{sink_name}"
        bookmark = parse_iso(self.state.get_bookmark(key))
        # Twice the interval back: a label printed while the last read was answered.
        overlap = timedelta(seconds=2 * self.settings.labels_every)
        since = (bookmark or now_utc()) - overlap
        newest: datetime | None = bookmark
        to_write: dict[Lane, list[ShipmentRecord]] = defaultdict(list)
        for page in sink.shipped_since(since):
            for shipment in page:
                stamp = parse_iso(shipment.get("updated") or shipment.get("shipped_date"))
                if stamp and (newest is None or stamp > newest):
                    newest = stamp
                link = self.state.link_by_number(sink_name, shipment.get("order_number", ""))
                lane = (link.source, link.store) if link else None
                if link and link.state == "imported" and lane in lanes:
                    to_write[lane].append(shipment)
        for lane, shipments in sorted(to_write.items()):
            # In chunks, the store's lock released between them: its webhook syncs go on.
            for start in range(0, len(shipments), LABEL_CHUNK):
                if self.stop.is_set():
                    return
                with self.runner.store_lock(lane):
                    report = self.engine.write_back_shipments(
                        *lane, shipments[start:start + LABEL_CHUNK],
                        RunOptions(steps=("writeback",), stop=self.stop))
                if report.written_back or report.failed:
                    log.info("labels %s:%s: written back %d, failed %d", *lane,
                             report.written_back, report.failed)
        if newest is not None:
            self.state.set_bookmark(key, newest.isoformat())
