"""Where recorded triggers go to be synced: the dispatcher.

``EventDispatcher`` is the seam between receiving and syncing: the web layer
keeps each trigger in the state store's inbox, answers, then ``submit``\\s it.
``InProcessDispatcher`` syncs in worker threads of this process; a cluster's
dispatcher would put the same events on its queue instead, and its workers
call the same ``SyncRunner``.

How the in-process one batches: the triggers of one store wait together; the
store's first waiting trigger waits ``batch_window`` for others (the several
webhooks one change sends, repeats, more orders), then every trigger of the
store is synced in one batch, several triggers of one order once. A trigger
arriving while its store syncs waits for the next batch, never joins the
running one: that sync may have read the order before the change it reports.
Stores sync side by side (``workers``), each store one batch at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from ..state import EventInbox, InboxEvent
from .runner import Lane, RetryLater, Stopped, SyncRunner

if TYPE_CHECKING:
    from .metrics import Metrics

__all__ = ["EventDispatcher", "InProcessDispatcher"]

log = logging.getLogger("shipsync.serve")


class EventDispatcher(Protocol):
    """Takes triggers already kept in the inbox and sees them synced."""

    def start(self) -> None:
        """Start syncing (and take up what the inbox still holds from before)."""

    def submit(self, events: list[InboxEvent]) -> None:
        """Triggers just kept in the inbox; returns at once."""

    def depth(self) -> int:
        """Triggers waiting or being synced."""

    def alive(self) -> bool:
        """False once a worker has died or the dispatcher stopped."""

    def stop(self, grace: float) -> None:
        """Sync no new batch; let running ones finish for ``grace`` seconds, then stop them
        at their next order. Whatever is left stays pending in the inbox."""


class InProcessDispatcher:
    """Worker threads in this process, batching triggers per store."""

    def __init__(self, runner: SyncRunner, inbox: EventInbox, metrics: Metrics, *,
                 batch_window: float = 0.25, workers: int = 4, max_attempts: int = 8,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.runner = runner
        self.inbox = inbox
        self.metrics = metrics
        self.batch_window = batch_window
        self.workers = workers
        self.max_attempts = max_attempts
        self._clock = clock
        self._cond = threading.Condition()
        self._unplaced: list[InboxEvent] = []  # sink orders: their store is looked up first
        self._waiting: dict[Lane, list[InboxEvent]] = {}
        self._first: dict[Lane, float] = {}  # when the lane's first waiting trigger came
        self._not_before: dict[Lane, float] = {}  # a retried lane waits until then
        self._running: dict[Lane, int] = {}  # lane -> triggers in its running batch
        self._stopping = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="serve-sync")
        self._thread = threading.Thread(target=self._schedule, name="serve-dispatch",
                                        daemon=True)
        self._failed: BaseException | None = None

    # -- EventDispatcher ------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()
        left = self.inbox.inbox_pending()
        if left:
            log.info("taking up %d trigger(s) left in the inbox", len(left))
            self.submit(left)

    def submit(self, events: list[InboxEvent]) -> None:
        if not events:
            return
        with self._cond:
            self._unplaced.extend(events)
            self._cond.notify()

    def depth(self) -> int:
        with self._cond:
            return (len(self._unplaced) + sum(map(len, self._waiting.values()))
                    + sum(self._running.values()))

    def alive(self) -> bool:
        return self._thread.is_alive() and self._failed is None and not self._stopping

    def stop(self, grace: float) -> None:
        deadline = self._clock() + grace
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            while self._running and self._clock() < deadline:
                self._cond.wait(min(0.1, max(0.0, deadline - self._clock())))
            running = dict(self._running)
        if running:
            log.warning("stopping %d sync(s) still running after %.0f s; their triggers stay "
                        "in the inbox for the next start", len(running), grace)
            self.runner.stop.set()  # the engine stops at its next order
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._thread.join(timeout=5)

    # -- scheduling -----------------------------------------------------------------------
    def _schedule(self) -> None:
        try:
            while True:
                with self._cond:
                    if self._stopping:
                        return
                    unplaced, self._unplaced = self._unplaced, []
                if unplaced:
                    self._place(unplaced)  # state reads, outside the lock
                with self._cond:
                    if self._stopping:
                        return
                    now = self._clock()
                    for lane in self._ready(now):
                        batch = self._waiting.pop(lane)
                        self._first.pop(lane, None)
                        self._running[lane] = len(batch)
                        self._pool.submit(self._run, lane, batch)
                    if not self._unplaced:
                        self._cond.wait(self._next_wake(now))
        except BaseException as exc:  # a bug: /healthz turns red, the log says why
            self._failed = exc
            log.exception("the dispatcher stopped")
            raise

    def _place(self, events: list[InboxEvent]) -> None:
        placed: list[tuple[Lane, InboxEvent]] = []
        orphans: list[InboxEvent] = []
        for event in events:
            lane = self.runner.lane_of(event)
            if lane is None:
                orphans.append(event)
            else:
                placed.append((lane, event))
        if orphans:
            self.inbox.inbox_finish([e.id for e in orphans], "done",
                                    "not an order shipsync imported: nothing to do")
        now = self._clock()
        with self._cond:
            for lane, event in placed:
                self._waiting.setdefault(lane, []).append(event)
                self._first.setdefault(lane, now)

    def _ready(self, now: float) -> list[Lane]:
        return [lane for lane, events in self._waiting.items()
                if events and lane not in self._running
                and now >= self._first[lane] + self.batch_window
                and now >= self._not_before.get(lane, 0.0)]

    def _next_wake(self, now: float) -> float:
        times = [max(self._first[lane] + self.batch_window, self._not_before.get(lane, 0.0))
                 for lane, events in self._waiting.items()
                 if events and lane not in self._running]
        return max(0.005, min(times) - now) if times else 1.0

    # -- one batch ------------------------------------------------------------------------
    def _run(self, lane: Lane, batch: list[InboxEvent]) -> None:
        retry = False
        try:
            for step in ("import", "writeback"):
                orders = {e.order_id or e.order_number for e in batch if e.step == step}
                self.metrics.joined(step, sum(1 for e in batch if e.step == step) - len(orders))
            outcome = self.runner.sync(lane, batch)
            self._done(batch, outcome)
        except Stopped:
            log.info("%s:%s: stopped; %d trigger(s) stay in the inbox", *lane, len(batch))
        except RetryLater as exc:
            retry = True
            self._retry(lane, batch, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in one batch must not stop the others
            retry = True
            log.exception("%s:%s: sync failed", *lane)
            self._retry(lane, batch, f"{type(exc).__name__}: {exc}")
        finally:
            with self._cond:
                self._running.pop(lane, None)
                if not retry:
                    self._not_before.pop(lane, None)
                self._cond.notify_all()

    def _done(self, batch: list[InboxEvent], outcome: str) -> None:
        self.inbox.inbox_finish([e.id for e in batch], "done", outcome)
        now = time.time()
        for event in batch:
            self.metrics.event_done(event.step, now - event.received_at)
        log.info("synced %s", outcome)

    def _retry(self, lane: Lane, batch: list[InboxEvent], reason: str) -> None:
        self.inbox.inbox_retry([e.id for e in batch], reason)
        again: list[InboxEvent] = []
        given_up: list[InboxEvent] = []
        for event in batch:
            event.attempts += 1
            (given_up if event.attempts >= self.max_attempts else again).append(event)
        if given_up:
            self.inbox.inbox_finish([e.id for e in given_up], "failed",
                                    f"given up after {self.max_attempts} attempts: {reason}; "
                                    "the poll syncs the order")
            log.warning("%s:%s: %d trigger(s) left to the poll: %s", *lane, len(given_up),
                        reason)
        if again:
            wait = min(60.0, 0.5 * 2 ** min(again[0].attempts, 7))
            log.info("%s:%s: %s; trying again in %.1f s", *lane, reason, wait)
            with self._cond:
                self._waiting.setdefault(lane, [])[:0] = again
                self._first.setdefault(lane, self._clock())
                self._not_before[lane] = self._clock() + wait
