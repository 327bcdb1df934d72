"""What the status page shows, read from the state store: plain data, no HTML.

``overview`` answers "is the sync running?": every configured store with its
last import and writeback, what happened in the last 24 hours, and whether it
is failing or running now (its lease). ``failures``, ``awaiting_writeback`` and
``in_doubt`` list the orders that need a person. ``find_orders`` turns what was
typed in the search box (a source order id or a sink order number) into the
orders it names. Everything here reads; nothing writes.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..engine import Engine, EngineError
from ..settings import StoreSettings
from ..state import StateStore
from .chart import HourlyChart, hourly_chart
from .fixes import how_to_fix

__all__ = [
    "DAY",
    "Failure",
    "InDoubt",
    "Match",
    "Overview",
    "RunSummary",
    "StoreStatus",
    "Waiting",
    "awaiting_writeback",
    "configured_stores",
    "failures",
    "find_orders",
    "in_doubt",
    "overview",
]

DAY = timedelta(hours=24)
# Event kinds counted on the overview, and what the page calls them.
COUNTED = {"imported": "imported", "updated": "updated", "deleted": "withdrawn",
           "written_back": "written back", "not_written_back": "not written back",
           "failed": "failed"}
CHART_SERIES = {"imported": "orders imported", "written_back": "labels written back"}
LIST_LIMIT = 200  # rows per list on a page: the page stays readable; the count says the rest


@dataclass(frozen=True)
class Store:
    source: str
    settings: StoreSettings
    sink: str

    @property
    def name(self) -> str:
        return self.settings.name


def configured_stores(engine: Engine) -> list[Store]:
    """Every configured store of every installed source, in the config's order."""
    found = []
    for source in sorted(engine.host.sources):
        try:
            stores = engine.stores(source)
        except EngineError:
            continue  # no store of this source is configured
        for settings in stores:
            try:
                sink = engine.sink_name(settings)
            except EngineError:
                sink = settings.sink or "?"
            found.append(Store(source, settings, sink))
    return found


def since(now: datetime, delta: timedelta = DAY) -> str:
    """The ISO time ``delta`` before ``now``, as the state store writes its times."""
    return (now - delta).astimezone(timezone.utc).isoformat(timespec="microseconds")


@dataclass
class RunSummary:
    run_id: str
    started_at: str
    finished_at: str | None
    status: str | None  # ok | failed_records | stopped | crashed | None (still running or killed)
    steps: str
    report: dict[str, Any]

    @classmethod
    def of(cls, row: dict[str, Any] | None) -> RunSummary | None:
        if row is None:
            return None
        return cls(row["run_id"], row["started_at"], row.get("finished_at"), row.get("status"),
                   row.get("steps", ""), row.get("report") or {})

    def count(self, key: str) -> int:
        value = self.report.get(key, 0)
        return value if isinstance(value, int) else 0

    @property
    def outcome(self) -> str:
        """How the run ended, in words."""
        return {"ok": "finished", "failed_records": "finished with failed orders",
                "stopped": "stopped early (asked to stop)", "crashed": "stopped on an error",
                None: "not finished"}.get(self.status, str(self.status))


@dataclass
class StoreStatus:
    source: str
    store: str
    sink: str
    last_run: RunSummary | None
    last_import: RunSummary | None
    last_writeback: RunSummary | None
    day: dict[str, int]  # event kind -> sink orders (events) in the last 24 h
    failed_orders: int  # distinct orders with a failure in the last 24 h
    links: dict[str, int]
    quarantined: int
    awaiting: int  # labels printed, not yet written back
    in_doubt: int
    lease: dict[str, Any] | None  # the live lease: a run is going on now
    problems: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        """running | failing | ok | never-run: the word on the store's badge."""
        if self.lease:
            return "running"
        if self.problems:
            return "failing"
        return "ok" if self.last_run else "never-run"


@dataclass
class Overview:
    now: datetime
    stores: list[StoreStatus]
    chart: HourlyChart

    def total(self, key: str) -> int:
        return sum(s.day.get(key, 0) for s in self.stores)

    @property
    def failed_orders(self) -> int:
        return sum(s.failed_orders for s in self.stores)

    @property
    def quarantined(self) -> int:
        return sum(s.quarantined for s in self.stores)

    @property
    def awaiting(self) -> int:
        return sum(s.awaiting for s in self.stores)

    @property
    def in_doubt(self) -> int:
        return sum(s.in_doubt for s in self.stores)

    @property
    def failing(self) -> list[StoreStatus]:
        return [s for s in self.stores if s.state == "failing"]

    @property
    def running(self) -> list[StoreStatus]:
        return [s for s in self.stores if s.state == "running"]


def _doubts_by_store(state: StateStore) -> Counter[tuple[str, str]]:
    return Counter((str(e.payload.get("source", "")), str(e.payload.get("store", "")))
                   for e in state.in_doubt())


def _problems(status: StoreStatus) -> list[str]:
    problems = []
    run = status.last_run
    if run is not None and not status.lease:
        if run.status == "crashed":
            problems.append("the last run stopped on an error (its output says which)")
        elif run.status is None:
            problems.append("the last run did not finish (the process was killed or lost)")
        elif run.status == "failed_records":
            problems.append(f"the last run finished with {run.count('failed')} failed "
                            "order(s)")
    if status.quarantined:
        problems.append(f"{status.quarantined} order(s) quarantined, retried on every run")
    if status.in_doubt:
        problems.append(f"{status.in_doubt} write(s) in doubt, looked up on the next run")
    return problems


def overview(engine: Engine, now: datetime | None = None) -> Overview:
    """Every configured store's standing, and the last 24 hours in counts and per hour."""
    now = now or datetime.now(timezone.utc)
    state = engine.state
    day = since(now)
    per_store: dict[tuple[str, str], dict[str, int]] = {}
    failed: dict[tuple[str, str], int] = {}
    for row in state.count_events(day):
        key = (row["source"], row["store"])
        per_store.setdefault(key, {})[row["kind"]] = int(row["n"])
        if row["kind"] == "failed":
            failed[key] = int(row["orders"])
    doubts = _doubts_by_store(state)
    statuses = []
    for store in configured_stores(engine):
        key = (store.source, store.name)
        lease = state.lease_holder(f"{store.source}:{store.name}")
        links = state.count_links(store.source, store.name)
        status = StoreStatus(
            source=store.source, store=store.name, sink=store.sink,
            last_run=RunSummary.of(state.last_run(store.source, store.name)),
            last_import=RunSummary.of(state.last_run(store.source, store.name, "import")),
            last_writeback=RunSummary.of(state.last_run(store.source, store.name,
                                                        "writeback")),
            day=per_store.get(key, {}), failed_orders=failed.get(key, 0),
            links=links, quarantined=len(state.quarantined(store.source, store.name)),
            awaiting=links.get("printed", 0),
            in_doubt=doubts.get(key, 0),
            lease=lease if lease and float(lease["expires"]) > time.time() else None)
        status.problems = _problems(status)
        statuses.append(status)
    chart = hourly_chart(state.count_events(since(now, timedelta(hours=24)), per_hour=True),
                         now, series=CHART_SERIES)
    return Overview(now, statuses, chart)


@dataclass
class Failure:
    source: str
    store: str
    sink: str
    order_id: str
    reason: str
    fix: str
    first_seen: str
    last_seen: str
    attempts: int
    quarantined: bool


def failures(engine: Engine, now: datetime | None = None) -> tuple[list[Failure], int]:
    """Quarantined orders, then orders whose latest event of the last 24 h is a failure.

    Returns at most ``LIST_LIMIT`` of them and how many there are in all.
    """
    now = now or datetime.now(timezone.utc)
    state = engine.state
    found: list[Failure] = []
    stores = {(s.source, s.name): s for s in configured_stores(engine)}
    for (source, name), store in stores.items():
        for entry in state.quarantined(source, name):
            found.append(Failure(source, name, store.sink, entry["order_id"], entry["reason"],
                                 how_to_fix(entry["reason"], source=source, sink=store.sink),
                                 entry["first_seen"], entry["last_seen"],
                                 int(entry["attempts"]), True))
    seen = {(f.source, f.store, f.order_id) for f in found}
    for event in state.recent_events(("failed",), since(now), limit=LIST_LIMIT * 5):
        key = (event["source"], event["store"], event["order_id"])
        if key in seen or (event["source"], event["store"]) not in stores:
            continue
        seen.add(key)
        history = state.events(*key)
        if history and history[-1]["kind"] != "failed":
            continue  # something happened to it since: it is not failing any more
        day = since(now)
        failed_at = [e["at"] for e in history if e["kind"] == "failed" and e["at"] >= day]
        sink = stores[(event["source"], event["store"])].sink
        found.append(Failure(event["source"], event["store"], sink, event["order_id"],
                             event["detail"], how_to_fix(event["detail"], source=event["source"],
                                                         sink=sink),
                             min(failed_at, default=event["at"]), event["at"],
                             max(1, len(failed_at)), False))
    found.sort(key=lambda f: f.last_seen, reverse=True)
    return found[:LIST_LIMIT], len(found)


@dataclass
class Waiting:
    source: str
    store: str
    order_id: str
    order_number: str
    sink: str
    state: str  # printed | not_shippable
    since: str
    detail: str
    fix: str


def awaiting_writeback(engine: Engine) -> tuple[list[Waiting], list[Waiting]]:
    """Labels printed but not written back yet, and those that will not be (with why)."""
    state = engine.state
    printed: list[Waiting] = []
    held: list[Waiting] = []
    for store in configured_stores(engine):
        for link in state.open_links(store.source, store.name, ("printed", "not_shippable")):
            fix = "" if link.state == "printed" else how_to_fix(
                link.detail, source=store.source, sink=link.sink)
            item = Waiting(store.source, store.name, link.order_id, link.order_number,
                           link.sink, link.state, link.updated_at, link.detail, fix)
            (printed if link.state == "printed" else held).append(item)
    printed.sort(key=lambda w: w.since)
    held.sort(key=lambda w: w.since, reverse=True)
    return printed, held


@dataclass
class InDoubt:
    entry_id: int
    source: str
    store: str
    order_id: str
    target: str
    action: str
    key: str
    since: str
    run_id: str


ACTIONS = {"create_order": "create the order", "update_order": "update the order",
           "delete_order": "delete the order", "create_shipment": "create the shipment",
           "set_status": "set the order's status"}


def in_doubt(engine: Engine) -> list[InDoubt]:
    """Writes whose answer was lost (or whose process died): looked up before anything else."""
    return [InDoubt(entry.id, str(entry.payload.get("source", "")),
                    str(entry.payload.get("store", "")), str(entry.payload.get("order_id", "")),
                    entry.target, ACTIONS.get(entry.action, entry.action), entry.key,
                    entry.created_at, entry.run_id)
            for entry in engine.state.in_doubt()]


@dataclass(frozen=True)
class Match:
    source: str
    store: str
    order_id: str
    how: str  # "order id" | "order number NUMBER"


def find_orders(engine: Engine, query: str) -> list[Match]:
    """The orders a search names: a source order id any store knows, or a sink order number."""
    state = engine.state
    query = query.strip()
    matches: list[Match] = []
    stores = configured_stores(engine)
    for store in stores:
        if (state.links_for_order(store.source, store.name, query)
                or state.events(store.source, store.name, query)):
            matches.append(Match(store.source, store.name, query, "order id"))
    for sink in sorted({s.sink for s in stores}):
        link = state.link_by_number(sink, query)
        if link is not None:
            match = Match(link.source, link.store, link.order_id, f"order number {query}")
            if all((m.source, m.store, m.order_id) != (match.source, match.store, match.order_id)
                   for m in matches):
                matches.append(match)
    return matches
