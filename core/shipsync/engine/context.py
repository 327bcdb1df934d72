"""What one store's run shares between its steps.

``RunContext`` holds the store's source and sink, its settings, the mappers
and status policies chosen for it, the state store and the journal, the
options of the run and its report; and the bookkeeping every step does the
same way: events (the order's history for ``explain``), skips, failures and
quarantine, links between source destinations and sink orders.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pluggy

from ..config import Config
from ..contracts import Context, Sink, Source
from ..registry import MapperSpec, StatusPolicySpec
from ..settings import StoreSettings
from ..state import Link, StateStore, utcnow
from .journal import Journal
from .report import StoreReport

__all__ = ["EngineError", "RunContext", "RunOptions", "STEPS", "Stopped", "now_utc",
           "parse_iso"]

STEPS = ("import", "writeback")


class EngineError(Exception):
    """A run cannot start (unknown source or store, lease held by another process)."""


class Stopped(Exception):
    """SIGINT/SIGTERM (or the lease lost): the current page is finished; stop cleanly."""


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def parse_iso(value: str | None) -> datetime | None:
    """An ISO-8601 time (a bookmark, a canonical date) as an aware datetime, or None."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class RunOptions:
    steps: tuple[str, ...] = STEPS
    days: int | None = None
    dry_run: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    #: (store, step, done, total or None when unknown), called as orders are handled.
    progress: Callable[[str, str, int, int | None], None] | None = None
    between_steps: Callable[[], None] | None = None  # e.g. the sandbox's merchant step


class RunContext:
    """One store's run: its plugins, state, journal, options and report."""

    def __init__(self, *, hook: pluggy.HookRelay, state: StateStore, config: Config,
                 concurrency: int,
                 source_name: str, source: Source, sink_name: str, sink: Sink,
                 settings: StoreSettings, mappers: list[MapperSpec],
                 policies: list[StatusPolicySpec], options: RunOptions) -> None:
        self.hook = hook  # the plugin manager's hook relay: self.hook.shipsync_...(...)
        self.state = state
        self.config = config
        self.concurrency = concurrency
        self.source_name = source_name
        self.source = source
        self.sink_name = sink_name
        self.sink = sink
        self.settings = settings
        self.store = settings.name
        self.mappers = mappers
        self.policies = policies
        self.options = options
        self.dry = options.dry_run
        self.report = StoreReport(self.store, source_name, sink_name, dry_run=self.dry)
        self.run_id = ""
        self.journal = Journal(state, "")
        self.lock = threading.RLock()  # workers of a step share the report
        self._reasons: dict[str, set[str]] = {}
        self._done: dict[str, int] = {}
        self._total: dict[str, int] = {}
        #: Orders ``shipsync forget`` took out of shipsync's hands: never touched.
        self.forgotten = set(state.forgotten(source_name, self.store))
        self._source_now: datetime | None = None
        #: Set when the run's lease was lost: the run stops before writing more.
        self.lease_lost = threading.Event()

    def start(self, run_id: str) -> None:
        self.run_id = run_id
        self.journal = Journal(self.state, run_id)

    def source_now(self) -> datetime:
        """The source's clock, asked once per run: windows are measured by it, never ours."""
        with self.lock:
            if self._source_now is None:
                self._source_now = self.source.now()
            return self._source_now

    def plugin_context(self) -> Context:
        """The ``Context`` mappers get for this store."""
        return Context(self.config.data, self.store, self.settings.section,
                       concurrency=self.concurrency, config_path=self.config.path)

    # -- bookkeeping ------------------------------------------------------------------
    def event(self, order_id: str, kind: str, detail: str) -> None:
        if not self.dry:
            self.state.add_event(self.source_name, self.store, order_id, kind, detail,
                                 self.run_id)

    def action(self, action: str, order_id: str, detail: str, number: str = "") -> None:
        """A line of the report: what was done (or, dry, would be done) to an order."""
        with self.lock:
            self.report.add_action(action, order_id, number, detail)

    def left_alone(self, order_id: str) -> None:
        """An order the merchant took out of shipsync's hands: counted, nothing else."""
        with self.lock:
            self.report.left_alone += 1

    def tick(self, step: str) -> None:
        """One more order handled by ``step``: the progress display counts it."""
        with self.lock:
            done = self._done[step] = self._done.get(step, 0) + 1
            if self.options.progress:
                self.options.progress(self.store, step, done, self._total.get(step))

    def expect(self, step: str, count: int) -> None:
        """``count`` more orders are known to be coming in ``step`` (a total to show)."""
        with self.lock:
            self._total[step] = self._total.get(step, 0) + count
            if self.options.progress:
                self.options.progress(self.store, step, self._done.get(step, 0),
                                      self._total[step])

    def check_stop(self) -> None:
        if self.options.stop.is_set() or self.lease_lost.is_set():
            raise Stopped()

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        """One state transaction (one sync to disk); nothing in a dry run."""
        return contextlib.nullcontext() if self.dry else self.state.transaction()

    def skip(self, order_id: str, reason: str, number: str = "",
             event: tuple[str, str] | None = None) -> None:
        """Leave an order (or a destination of it) out on purpose; counted once per reason.

        ``event``: the (kind, detail) of its history line, when "skipped" says too little.
        """
        with self.lock:
            seen = self._reasons.setdefault(order_id, set())
            if reason in seen:
                return
            seen.add(reason)
            self.report.skipped += 1
            self.report.skipped_reasons[reason] += 1
        self.event(order_id, *(event or ("skipped", reason)))
        self.action("skip", order_id, reason, number)
        self.hook.shipsync_order_skipped(store=self.store, order_id=order_id, reason=reason)

    def fail(self, order_id: str, reason: str, record: Any = None,
             quarantine: bool = True) -> None:
        """Count a failed order; an import failure quarantines it to be retried every run."""
        with self.lock:
            self.report.failed += 1
            self.report.failures.append({"order_id": order_id, "reason": reason})
        if not self.dry:
            if quarantine:
                self.state.quarantine(self.source_name, self.store, order_id, reason, record)
            self.event(order_id, "failed", reason)
        self.action("fail", order_id, reason)
        self.hook.shipsync_order_failed(store=self.store, order_id=order_id, reason=reason)

    def link(self, order_id: str, destination_id: str, order_number: str,
             sink_order_id: str | None, state: str, fingerprint: str = "",
             detail: str = "") -> None:
        """Record which sink order a source destination became, and where it stands."""
        existing = self.state.get_link(self.source_name, self.store, order_id, destination_id)
        now = utcnow()
        self.state.upsert_link(Link(
            source=self.source_name, store=self.store, order_id=order_id,
            destination_id=destination_id, sink=self.sink_name, order_number=order_number,
            sink_order_id=sink_order_id or (existing.sink_order_id if existing else None),
            state=state, fingerprint=fingerprint or (existing.fingerprint if existing else ""),
            created_at=existing.created_at if existing else now, updated_at=now, detail=detail))

    def relink(self, link: Link, state: str, detail: str = "", fingerprint: str = "") -> None:
        """Move an existing link to ``state``."""
        self.link(link.order_id, link.destination_id, link.order_number, link.sink_order_id,
                  state, fingerprint or link.fingerprint, detail)
