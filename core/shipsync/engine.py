"""The sync engine: source -> mappers -> sink, then sink -> status policy -> source.

For one store a run is two steps:

1. **import**: orders to import are read from the source, validated against
   schemas/order.json, transformed by the configured mappers, validated again
   and written to the sink, one sink order per destination. Unprinted sink
   orders whose source order changed are updated; those whose source order was
   cancelled or refunded are deleted.
2. **writeback**: printed sink orders are read back; for each one shipsync
   imported, the ``shipsync_writeback_decision`` hook (by default the store's
   status policies) decides what to write: a shipment with the tracking number
   first, then a status.

Every remote write is journaled (intent before, outcome after). A write whose
outcome is unknown (timeout, reset, 5xx) is looked up before it is ever sent
again, at once and again at the start of the next run. Invalid records are
quarantined with the failing JSON path and retried on the next run; they never
stop the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from . import records
from .config import Config
from .http import InDoubtError, TransportError
from .plugins import PluginHost
from .registry import MapperSpec, StatusPolicySpec, WritebackContext, WritebackDecision
from .state import Link, SQLiteStateStore, utcnow
from .streams import prefetch

__all__ = ["Engine", "EngineError", "RunOptions", "StoreReport", "fingerprint"]

IMPORT_OVERLAP = timedelta(minutes=5)  # clock skew between us and the source
# Shipped rows gathered before writing back: the more, the fewer source calls fetch
# their orders' state (BigCommerce lists 250 orders of an id range per call).
WRITEBACK_CHUNK = 5000
STEPS = ("import", "writeback")


class EngineError(Exception):
    """A run cannot start (unknown source or store, lease held by another process)."""


class Stopped(Exception):
    """SIGINT/SIGTERM: the current step finished its current page; stop cleanly."""


def fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False,
                                     default=str).encode()).hexdigest()[:32]


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def _parse_iso(value: str | None) -> datetime | None:
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
    progress: Callable[[str, str, int], None] | None = None  # (store, step, done)
    between_steps: Callable[[], None] | None = None  # e.g. the sandbox's merchant step


@dataclass
class StoreReport:
    store: str
    source: str
    sink: str
    dry_run: bool = False
    imported: int = 0
    updated: int = 0
    deleted: int = 0
    already_imported: int = 0
    skipped: int = 0
    skipped_reasons: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    written_back: int = 0
    awaiting_pickup: int = 0
    not_written_back: int = 0
    not_written_back_reasons: list[dict[str, str]] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    stopped: bool = False
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step

    def to_dict(self) -> dict[str, Any]:
        data = {
            "store": self.store, "source": self.source, "sink": self.sink,
            "dry_run": self.dry_run, "imported": self.imported, "updated": self.updated,
            "deleted": self.deleted, "already_imported": self.already_imported,
            "skipped": self.skipped, "skipped_reasons": dict(self.skipped_reasons),
            "failed": self.failed, "failures": self.failures,
            "written_back": self.written_back, "awaiting_pickup": self.awaiting_pickup,
            "not_written_back": self.not_written_back,
            "not_written_back_reasons": self.not_written_back_reasons,
            "requests": self.requests, "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "step_seconds": {step: round(value, 3) for step, value in self.step_seconds.items()},
        }
        if self.dry_run:
            data["actions"] = self.actions
        return data


@dataclass
class Context:
    """What sources, sinks and mappers get besides their own config section."""

    config: dict[str, Any]
    store: str | None = None
    store_config: dict[str, Any] = field(default_factory=dict)
    http_options: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 1  # requests a plugin may have in flight at once
    config_path: Path | None = None  # relative paths in the config are relative to it


@dataclass
class _Pending:
    order: dict[str, Any]
    destination: dict[str, Any]
    order_number: str
    payload: dict[str, Any]
    fingerprint: str
    attempts: int = 0


class Engine:
    """Runs sources into sinks for the configured stores."""

    def __init__(self, host: PluginHost, config: Config, state: SQLiteStateStore) -> None:
        self.host = host
        self.config = config
        self.state = state
        run = config.section("run")
        self.http_options = {"timeout": float(run.get("timeout", 30)),
                             "max_retries": int(run.get("max_retries", 6))}
        self.concurrency = int(run.get("concurrency", 4))
        self._sinks: dict[str, Any] = {}

    def stores(self, source_name: str, only: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        if source_name not in self.host.sources:
            known = ", ".join(sorted(self.host.sources)) or "none"
            raise EngineError(f"no source named {source_name!r} (installed: {known})")
        stores = self.host.sources[source_name].stores(self.config.data)
        if not stores:
            raise EngineError(f"no {source_name} stores are configured")
        if only:
            stores = [s for s in stores if s[0] == only]
            if not stores:
                raise EngineError(f"no {source_name} store named {only!r} in the config")
        return stores

    def sink(self, name: str) -> Any:
        if name not in self._sinks:
            if name not in self.host.sinks:
                raise EngineError(f"no sink named {name!r} (installed: "
                                  f"{', '.join(sorted(self.host.sinks)) or 'none'})")
            context = Context(self.config.data, http_options=self.http_options,
                              concurrency=self.concurrency, config_path=self.config.path)
            self._sinks[name] = self.host.sinks[name].factory(self.config.section(name), context)
        return self._sinks[name]

    def mappers(self) -> list[MapperSpec]:
        """``[mapping] mappers`` in that order, else every installed mapper by its order."""
        chosen = self.config.section("mapping").get("mappers")
        registry = self.host.mappers
        if chosen is None:
            return sorted(registry.values(), key=lambda m: (m.order, m.name))
        unknown = [name for name in chosen if name not in registry]
        if unknown:
            raise EngineError(f"[mapping] mappers names {', '.join(map(repr, unknown))}, which "
                              f"no plugin provides (installed: {', '.join(sorted(registry))})")
        return [registry[name] for name in chosen]

    def policies(self, store: str, store_config: dict[str, Any]) -> list[StatusPolicySpec]:
        """The store's ``status_policies`` in that order, else every installed one by order."""
        registry = self.host.status_policies
        names = store_config.get("status_policies")
        if names is None:
            return sorted(registry.values(), key=lambda p: (p.order, p.name))
        unknown = [name for name in names if name not in registry]
        if unknown:
            raise EngineError(f"store {store!r}: status_policies names "
                              f"{', '.join(map(repr, unknown))}, which no plugin provides "
                              f"(installed: {', '.join(sorted(registry))})")
        return [registry[name] for name in names]

    def source(self, source_name: str, store: str, store_config: dict[str, Any]) -> Any:
        context = Context(self.config.data, store, store_config, self.http_options,
                          self.concurrency, self.config.path)
        return self.host.sources[source_name].factory(store, store_config, context)

    def run(self, source_name: str, *, store: str | None = None,
            options: RunOptions | None = None) -> list[StoreReport]:
        options = options or RunOptions()
        reports = []
        for name, store_config in self.stores(source_name, store):
            if options.stop.is_set():
                break
            reports.append(StoreRun(self, source_name, name, store_config, options).run())
        return reports

    def close(self) -> None:
        for sink in self._sinks.values():
            sink.close()


class StoreRun:
    """One store's run: import, then writeback."""

    def __init__(self, engine: Engine, source_name: str, store: str,
                 store_config: dict[str, Any], options: RunOptions) -> None:
        self.engine = engine
        self.hook = engine.host.hook
        self.state = engine.state
        self.source_name = source_name
        self.store = store
        self.store_config = store_config
        self.options = options
        self.dry = options.dry_run
        self.sink_name = store_config.get("sink", "starshipit")
        self.sink = engine.sink(self.sink_name)
        self.batch_size = int(getattr(self.sink, "batch_size", 1)) or 1  # orders per sink call
        self.source = engine.source(source_name, store, store_config)
        self.mappers = engine.mappers()
        self.policies = engine.policies(store, store_config)
        self.report = StoreReport(store, source_name, self.sink_name, dry_run=self.dry)
        self.run_id = ""
        self.pending: list[_Pending] = []
        self._order_reasons: dict[str, set[str]] = {}
        self._done = 0
        self._planned: set[str] = set()  # order numbers this run creates (or would, dry)
        self._written: set[str] = set()  # order numbers this run wrote back (or would, dry)
        self._lock = threading.RLock()  # import and writeback workers share the report
        self._pool: ThreadPoolExecutor | None = None
        self._batches: list[Any] = []  # import batches in flight
        self._quarantined: set[str] = set()  # order ids quarantined when the step began

    # -- bookkeeping ----------------------------------------------------------
    def _event(self, order_id: str, kind: str, detail: str) -> None:
        if not self.dry:
            self.state.add_event(self.source_name, self.store, order_id, kind, detail, self.run_id)

    def _action(self, action: str, order_id: str, detail: str, number: str = "") -> None:
        if self.dry:
            with self._lock:
                    self.report.actions.append({"action": action, "order_id": order_id,
                                            "order_number": number, "why": detail})

    def _tick(self, step: str) -> None:
        with self._lock:
            self._done += 1
            if self.options.progress:
                self.options.progress(self.store, step, self._done)

    def _check_stop(self) -> None:
        if self.options.stop.is_set():
            raise Stopped()

    def skip(self, order_id: str, reason: str) -> None:
        with self._lock:
            seen = self._order_reasons.setdefault(order_id, set())
            if reason in seen:
                return
            seen.add(reason)
            self.report.skipped += 1
            self.report.skipped_reasons[reason] += 1
        self._event(order_id, "skipped", reason)
        self._action("skip", order_id, reason)
        self.hook.shipsync_order_skipped(store=self.store, order_id=order_id, reason=reason)

    def fail(self, order_id: str, reason: str, record: Any = None, quarantine: bool = True) -> None:
        with self._lock:
            self.report.failed += 1
            self.report.failures.append({"order_id": order_id, "reason": reason})
        if not self.dry:
            if quarantine:
                self.state.quarantine(self.source_name, self.store, order_id, reason, record)
            self._event(order_id, "failed", reason)
        self._action("fail", order_id, reason)
        self.hook.shipsync_order_failed(store=self.store, order_id=order_id, reason=reason)

    # -- the run --------------------------------------------------------------
    def run(self) -> StoreReport:
        started = now_utc()
        lease_name = f"{self.source_name}:{self.store}"
        holder = None
        if not self.dry:
            holder = self.state.acquire_lease(lease_name)
            if holder is None:
                info = self.state.lease_holder(lease_name) or {}
                raise EngineError(
                    f"another shipsync process (pid {info.get('pid', '?')}) is already running "
                    f"store {self.store!r} on this state file; try again when it has finished")
            self.run_id = self.state.start_run(self.source_name, self.store,
                                               ",".join(self.options.steps), False)
        run_info = RunInfo(self.run_id, self.source_name, self.store, self.options.steps, self.dry)
        self.hook.shipsync_run_started(run=run_info)
        sink_before = self.sink.requests_made
        status = "ok"
        try:
            if "import" in self.options.steps:
                with self._timed("import"):
                    self.import_step()
            if self.options.between_steps and not self.options.stop.is_set():
                self.options.between_steps()
            if "writeback" in self.options.steps:
                with self._timed("writeback"):
                    self.writeback_step()
        except Stopped:
            self.report.stopped = True
            status = "stopped"
        except BaseException:
            status = "crashed"
            raise
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)  # nothing in flight once the run reports
            self.report.requests = {
                self.source_name: self.source.requests_made,
                self.sink_name: self.sink.requests_made - sink_before,
            }
            self.report.seconds = (now_utc() - started).total_seconds()
            if status != "crashed":
                if self.report.failed and status == "ok":
                    status = "failed_records"
                self.hook.shipsync_run_finished(run=run_info, report=self.report.to_dict())
            if not self.dry:
                self.state.finish_run(self.run_id, status, self.report.to_dict())
                if holder:
                    self.state.release_lease(lease_name, holder)
            self.source.close()
        return self.report

    @contextlib.contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.report.step_seconds[step] = time.perf_counter() - started

    # -- settling writes in doubt ---------------------------------------------
    def settle(self) -> None:
        """Look up every write left in doubt by an earlier run (crash, lost answer)."""
        if self.dry:
            return
        for entry in self.state.in_doubt():
            payload = entry.payload
            if payload.get("store") != self.store or payload.get("source") != self.source_name:
                continue
            try:
                self._settle_one(entry.id, entry.action, payload)
            except TransportError as exc:
                # Still unreachable: leave it in doubt; nothing is sent again until it is settled.
                self._event(payload.get("order_id", "?"), "in_doubt",
                            f"{entry.action} not settled yet: {exc}")

    def _settle_one(self, entry_id: int, action: str, payload: dict[str, Any]) -> None:
        order_id = payload.get("order_id", "")
        if action == "create_order":
            found = self.sink.find_order(payload["order_number"])
            if found:
                self._link(payload, str(found.get("order_id")), "imported", payload["fingerprint"])
                self.state.journal_done(entry_id, {"settled": "found", "sink_order_id":
                                                   str(found.get("order_id"))})
                self._event(order_id, "imported", f"{payload['order_number']} (settled after "
                            "an interrupted run)")
            else:
                self.state.journal_failed(entry_id, {"settled": "not applied"})
        elif action == "create_shipment":
            found = self.source.find_shipment(order_id, payload["destination_id"],
                                              payload.get("tracking_number", ""))
            if found:
                self.state.journal_done(entry_id, {"settled": "found",
                                                   "shipment_id": found.get("id")})
            else:
                self.state.journal_failed(entry_id, {"settled": "not applied"})
        else:
            # Updates, deletes and status changes are idempotent: redone if still needed.
            self.state.journal_failed(entry_id, {"settled": "redo if still needed"})

    def _link(self, payload: dict[str, Any], sink_order_id: str | None, state: str,
              fp: str, detail: str = "") -> None:
        existing = self.state.get_link(self.source_name, self.store, payload["order_id"],
                                       payload["destination_id"])
        now = utcnow()
        self.state.upsert_link(Link(
            source=self.source_name, store=self.store, order_id=payload["order_id"],
            destination_id=payload["destination_id"], sink=self.sink_name,
            order_number=payload["order_number"],
            sink_order_id=sink_order_id or (existing.sink_order_id if existing else None),
            state=state, fingerprint=fp or (existing.fingerprint if existing else ""),
            created_at=existing.created_at if existing else now, updated_at=now, detail=detail))

    # -- import ---------------------------------------------------------------
    def import_step(self) -> None:
        self.settle()
        started = now_utc()
        bookmark_key = f"import:{self.source_name}:{self.store}"
        bookmark = _parse_iso(self.state.get_bookmark(bookmark_key))
        days = self.options.days or int(self.store_config.get("days", 7))
        created_since = started - timedelta(days=days)
        # An explicit --days is a backfill of the whole window; otherwise only what changed.
        modified_since = (bookmark - IMPORT_OVERLAP) if bookmark and not self.options.days else None
        seen: set[str] = set()
        self._quarantined = {q["order_id"] for q in
                             self.state.quarantined(self.source_name, self.store)}
        pages = self.source.orders_to_import(created_since=created_since,
                                             modified_since=modified_since)
        for page in prefetch(pages) if self.engine.concurrency > 1 else pages:
            self._check_stop()
            seen.update(r.order_id for r in page)
            self.handle_page(page)
            self.flush(final=False)
        retry = [order_id for order_id in sorted(self._quarantined) if order_id not in seen]
        if retry:
            for page in self.source.orders_by_id(retry):
                self._check_stop()
                seen.update(r.order_id for r in page)
                self.handle_page(page, retry=True)
        if bookmark:
            self.withdraw_cancelled(bookmark - IMPORT_OVERLAP)
        self.flush(final=True)
        if not self.dry:
            self.state.set_bookmark(bookmark_key, started.isoformat())

    def handle_page(self, page: Iterable[Any], *, retry: bool = False,
                    existing_only: bool = False) -> None:
        import_statuses = set(self.store_config.get("import_statuses") or [])
        for result in page:
            if len(self.pending) >= self.batch_size:
                self.flush(final=False)  # a full batch goes now, not after the whole page
            self._tick("import")
            order_id = result.order_id
            if result.error:
                self.fail(order_id, result.error, result.raw)
                continue
            order = result.order
            if retry and order["status_id"] not in import_statuses:
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
        if not self.dry and order_id in self._quarantined:
            self.state.release(self.source_name, self.store, order_id)
            self._quarantined.discard(order_id)

    def _transaction(self) -> Any:
        return contextlib.nullcontext() if self.dry else self.state.transaction()

    def map_order(self, order: dict[str, Any]) -> dict[str, Any] | None:
        order_id = order["order_id"]
        problems = records.errors_of("order.json", order)
        if problems:
            self.fail(order_id, "invalid order: " + "; ".join(map(str, problems[:5])), order)
            return None
        context = Context(self.engine.config.data, self.store, self.store_config,
                          concurrency=self.engine.concurrency,
                          config_path=self.engine.config.path)
        for mapper in self.mappers:
            try:
                order = mapper.map(order, context)
            except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the run
                self.fail(order_id, f"mapper {mapper.name!r} failed: {type(exc).__name__}: {exc}",
                          order)
                return None
            problems = records.errors_of("order.json", order)
            if problems:
                self.fail(order_id, f"invalid order after mapper {mapper.name!r}: "
                          + "; ".join(map(str, problems[:5])), order)
                return None
        return order

    def plan_destinations(self, order: dict[str, Any], *, existing_only: bool = False) -> None:
        order_id = order["order_id"]
        pickup_on = bool(self.store_config.get("pickup_in_store"))
        prefix = self.store_config.get("order_prefix", "")
        if not order["destinations"]:
            reasons = sorted({line["reason"] for line in order.get("left_out") or []})
            self.skip(order_id, "nothing left to ship" + (f" ({', '.join(reasons)})"
                                                           if reasons else ""))
            return
        for index, destination in enumerate(order["destinations"]):
            link = (self.state.get_link(self.source_name, self.store, order_id,
                                        destination["destination_id"]))
            if destination["kind"] == "pickup":
                if not pickup_on:
                    self.skip(order_id, "pickup in store (Enable Pickup in Store is off)")
                    continue
                destination["carrier"] = "PickupInStore"
            number = self.hook.shipsync_order_number(order=order, destination_index=index,
                                                     prefix=prefix)
            if not destination["items"]:
                if link and link.state == "imported":
                    self.delete(link, "nothing left to ship in the source (refunded or shipped "
                                "outside shipsync)")
                else:
                    self.skip(order_id, "nothing left to ship")
                continue
            try:
                payload = self.sink.payload(number, order, destination)
            except ValueError as exc:
                self.fail(order_id, f"{number}: {exc}", order)
                continue
            fp = fingerprint(payload)
            if link is None or link.state == "deleted":
                if existing_only:
                    continue
                if number in self._planned:
                    continue
                self._planned.add(number)
                self.pending.append(_Pending(order, destination, number, payload, fp))
                self._action("import", order_id, "new order in an import status", number)
            elif link.state == "imported" and link.fingerprint != fp:
                self.update(link, order, payload, fp)
            else:
                self.report.already_imported += 1

    def flush(self, *, final: bool) -> None:
        """Send full batches (all of them when ``final``), several at once when allowed."""
        batch_size = self.batch_size
        while True:
            with self._lock:
                ready = self.pending and (final or len(self.pending) >= batch_size)
                if ready:
                    batch, self.pending = self.pending[:batch_size], self.pending[batch_size:]
            if not ready:
                if final and self._batches:
                    self._wait_batches()  # their retries may refill pending
                    continue
                return
            self._check_stop_between_batches()
            if self.dry:
                self.report.imported += len(batch)
                continue
            if self.engine.concurrency <= 1:
                self.create_batch(batch)
                continue
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.engine.concurrency,
                                                thread_name_prefix="import")
            # Batches are independent; the sink's rate budget paces them.
            self._batches.append(self._pool.submit(self.create_batch, batch))
            while len(self._batches) >= self.engine.concurrency * 2:
                self._wait_batches(first=True)

    def _wait_batches(self, first: bool = False) -> None:
        pending, self._batches = (self._batches[:1], self._batches[1:]) if first else (
            self._batches, [])
        for future in pending:
            future.result()  # re-raises a batch's exception here

    def _check_stop_between_batches(self) -> None:
        if self.options.stop.is_set():
            raise Stopped()

    def _journal_payload(self, item: _Pending) -> dict[str, Any]:
        return {"source": self.source_name, "store": self.store,
                "order_id": item.order["order_id"],
                "destination_id": item.destination["destination_id"],
                "order_number": item.order_number, "fingerprint": item.fingerprint}

    def create_batch(self, batch: list[_Pending]) -> None:
        with self.state.transaction():
            entries = [self.state.journal_intent(self.run_id, self.sink_name, "create_order",
                                                 item.order_number, self._journal_payload(item))
                       for item in batch]
        try:
            results = self.sink.create_orders([item.payload for item in batch])
        except InDoubtError:
            self.settle_batch(batch, entries)
            return
        except TransportError as exc:
            for item, entry in zip(batch, entries, strict=True):
                self.state.journal_failed(entry, {"error": str(exc)})
                self.fail(item.order["order_id"], f"{item.order_number}: {exc}", item.order)
            return
        by_number = {r.order_number: r for r in results}
        with self.state.transaction():
            self._record_results(batch, entries, by_number)

    def _record_results(self, batch: list[_Pending], entries: list[int],
                        by_number: dict[str, Any]) -> None:
        for item, entry in zip(batch, entries, strict=True):
            result = by_number.get(item.order_number)
            if result is None or result.error or not result.sink_order_id:
                reason = result.error if result else "no result from the sink"
                self.state.journal_failed(entry, {"error": reason})
                self.fail(item.order["order_id"], f"{item.order_number}: {reason}", item.order)
                continue
            self.created(item, entry, result.sink_order_id)

    def created(self, item: _Pending, entry: int, sink_order_id: str) -> None:
        payload = self._journal_payload(item)
        self._link(payload, sink_order_id, "imported", item.fingerprint)
        self.state.journal_done(entry, {"sink_order_id": sink_order_id})
        with self._lock:
            self.report.imported += 1
        order_id = item.order["order_id"]
        self._event(order_id, "imported", f"{item.order_number} (destination "
                    f"{item.destination['destination_id']})")
        self.hook.shipsync_order_imported(store=self.store, order_number=item.order_number,
                                          order=item.order)

    def settle_batch(self, batch: list[_Pending], entries: list[int]) -> None:
        """The import call's answer was lost: find out, order by order, what it created."""
        retry: list[_Pending] = []
        for item, entry in zip(batch, entries, strict=True):
            try:
                found = self.sink.find_order(item.order_number)
            except TransportError as exc:
                # Cannot tell yet: leave the intent open and retry this order next run.
                self.fail(item.order["order_id"], f"{item.order_number}: outcome unknown "
                          f"({exc}); it will be looked up before anything is sent again",
                          item.order)
                continue
            if found:
                self.created(item, entry, str(found.get("order_id")))
            else:
                self.state.journal_failed(entry, {"settled": "not applied"})
                item.attempts += 1
                if item.attempts >= 3:
                    self.fail(item.order["order_id"], f"{item.order_number}: the sink did not "
                              "answer after 3 attempts", item.order)
                else:
                    retry.append(item)
        if retry:
            with self._lock:
                self.pending[:0] = retry

    def update(self, link: Link, order: dict[str, Any], payload: dict[str, Any], fp: str) -> None:
        order_id = order["order_id"]
        if self.dry:
            self.report.updated += 1
            self._action("update", order_id, "changed in the source since it was imported",
                         link.order_number)
            return
        journal = {"source": self.source_name, "store": self.store, "order_id": order_id,
                   "destination_id": link.destination_id, "order_number": link.order_number,
                   "fingerprint": fp}
        entry = self.state.journal_intent(self.run_id, self.sink_name, "update_order",
                                          link.order_number, journal)
        try:
            outcome = self.sink.update_order(link.sink_order_id, payload)
        except TransportError as exc:
            self.state.journal_failed(entry, {"error": str(exc)})
            self.fail(order_id, f"{link.order_number}: update failed: {exc}", order)
            return
        self.state.journal_done(entry, {"outcome": outcome})
        if outcome == "printed":
            self._link(journal, link.sink_order_id, "imported", link.fingerprint,
                       detail="changed after its label was printed")
            self.skip(order_id, "changed after the label was printed (not updated)")
            return
        self._link(journal, link.sink_order_id, "imported", fp)
        self.report.updated += 1
        self._event(order_id, "updated", f"{link.order_number}: changed in the source")
        self.hook.shipsync_order_updated(store=self.store, order_number=link.order_number,
                                         order=order)

    def withdraw_cancelled(self, since: datetime) -> None:
        """Orders cancelled, refunded or declined since the last run leave the sink."""
        if not self.state.open_links(self.source_name, self.store, ("imported",)):
            return
        for raw in self.source.watched_orders(since):
            self._check_stop()
            order_id = str(raw.get("id"))
            if not self.state.links_for_order(self.source_name, self.store, order_id):
                continue
            status_id = int(raw.get("status_id", -1))
            if self.source.not_shippable_reason(status_id):
                self.withdraw_order(order_id, status_id)
            else:
                # Partly refunded: refunded lines leave the sink order.
                result = self.source.convert(raw)
                if result.order:
                    mapped = self.map_order(result.order)
                    if mapped:
                        self.plan_destinations(mapped, existing_only=True)

    def withdraw_order(self, order_id: str, status_id: int) -> None:
        reason = self.source.not_shippable_reason(status_id)
        if not reason:
            return
        for link in self.state.links_for_order(self.source_name, self.store, order_id):
            if link.state == "imported":
                self.delete(link, reason)

    def delete(self, link: Link, reason: str) -> None:
        if self.dry:
            self.report.deleted += 1
            self._action("delete", link.order_id, reason, link.order_number)
            return
        journal = {"source": self.source_name, "store": self.store, "order_id": link.order_id,
                   "destination_id": link.destination_id, "order_number": link.order_number,
                   "fingerprint": link.fingerprint}
        entry = self.state.journal_intent(self.run_id, self.sink_name, "delete_order",
                                          link.order_number, journal)
        try:
            outcome = self.sink.delete_order(link.sink_order_id)
        except TransportError as exc:
            self.state.journal_failed(entry, {"error": str(exc)})
            self.fail(link.order_id, f"{link.order_number}: could not delete ({reason}): {exc}",
                      quarantine=False)
            return
        self.state.journal_done(entry, {"outcome": outcome})
        if outcome == "printed":
            # Too late to withdraw: the writeback step reports it as not written back.
            self.skip(link.order_id, f"{reason}, but its label is already printed: "
                      "not withdrawn (void the label in the sink)")
            return
        self._link(journal, link.sink_order_id, "deleted", link.fingerprint, detail=reason)
        self.report.deleted += 1
        self._event(link.order_id, "deleted", f"{link.order_number}: {reason}")
        self.hook.shipsync_order_deleted(store=self.store, order_number=link.order_number,
                                         reason=reason)

    # -- writeback ------------------------------------------------------------
    def writeback_step(self) -> None:
        self.settle()
        started = now_utc()
        bookmark_key = f"writeback:{self.sink_name}:{self.source_name}:{self.store}"
        bookmark = _parse_iso(self.state.get_bookmark(bookmark_key))
        overlap = timedelta(minutes=int(getattr(self.sink, "writeback_overlap_minutes", 10)))
        days = self.options.days or int(self.store_config.get("days", 7))
        since = (bookmark - overlap) if bookmark else started - timedelta(days=days)
        # Shipments seen before but not yet written back (an earlier failure) go first.
        pending = [(json.loads(link.detail), link)
                   for link in self.state.open_links(self.source_name, self.store, ("printed",))
                   if link.detail.startswith("{")]
        if pending:
            self.write_back(pending)
        newest = bookmark
        rows: list[tuple[dict[str, Any], Link]] = []
        for page in self.sink.shipped_since(since):
            self._check_stop()
            with self._transaction():  # the page's links, one sync to disk
                for shipment in page:
                    stamp = _parse_iso(shipment.get("updated") or shipment.get("shipped_date"))
                    if stamp and (newest is None or stamp > newest):
                        newest = stamp
                    row = self._shipped_row(shipment)
                    if row:
                        rows.append(row)
            # Many rows at once let one source call fetch the state of many orders.
            if len(rows) >= WRITEBACK_CHUNK:
                self.write_back(rows)
                rows = []
        if rows:
            self.write_back(rows)
        if not self.dry:
            self.state.set_bookmark(bookmark_key, (newest or started).isoformat())

    def _shipped_row(self, shipment: dict[str, Any]) -> tuple[dict[str, Any], Link] | None:
        """The shipment with its link, when it is ours and still to write back."""
        link = self.state.link_by_number(self.sink_name, shipment.get("order_number", ""))
        if (link is None or link.source != self.source_name or link.store != self.store
                or link.state not in ("imported",)):
            return None
        if shipment.get("order_number") in self._written:
            return None
        problems = records.errors_of("shipment.json", shipment)
        if problems:
            self.fail(link.order_id, f"{link.order_number}: invalid shipment record: "
                      + "; ".join(map(str, problems[:5])), shipment, quarantine=False)
            return None
        if not self.dry:
            # Remembered as printed first: a failure below is retried from here next run.
            self._link(self._link_payload(link), link.sink_order_id, "printed",
                       link.fingerprint, detail=json.dumps(shipment))
        return shipment, link

    def _link_payload(self, link: Link) -> dict[str, Any]:
        return {"order_id": link.order_id, "destination_id": link.destination_id,
                "order_number": link.order_number}

    def write_back(self, rows: list[tuple[dict[str, Any], Link]]) -> None:
        by_order: dict[str, list[tuple[dict[str, Any], Link]]] = {}
        for shipment, link in rows:
            by_order.setdefault(link.order_id, []).append((shipment, link))
        current = self.source.current_orders(list(by_order))

        def one(order_id: str) -> None:
            self._check_stop()
            self._tick("writeback")
            self.write_back_order(order_id, by_order[order_id], current.get(order_id))

        workers = min(self.engine.concurrency, len(by_order))
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

    def write_back_order(self, order_id: str, items: list[tuple[dict[str, Any], Link]],
                         result: Any) -> None:
        numbers = ", ".join(link.order_number for _, link in items)
        if result is None:
            self.fail(order_id, f"{numbers}: the order is no longer in the source",
                      quarantine=False)
            return
        if result.error:
            self.fail(order_id, f"{numbers}: {result.error}", quarantine=False)
            return
        order = result.order
        reason = self.source.not_shippable_reason(order["status_id"])
        if reason:
            for _shipment, link in items:
                with self._lock:
                    self.report.not_written_back += 1
                    self.report.not_written_back_reasons.append(
                        {"order_id": order_id, "order_number": link.order_number,
                         "reason": reason})
                self._event(order_id, "not_written_back", f"{link.order_number}: {reason}")
                self._action("not_written_back", order_id, reason, link.order_number)
                if not self.dry:
                    self._link(self._link_payload(link), link.sink_order_id, "not_shippable",
                               link.fingerprint, detail=reason)
            return
        destinations = {d["destination_id"]: d for d in order["destinations"]}
        remaining = {d["destination_id"]: sum(i["quantity"] for i in d["items"])
                     for d in order["destinations"] if d["kind"] == "shipping"}
        final_status: int | None = None
        posted_all = False
        done: list[tuple[Link, WritebackDecision, dict[str, Any]]] = []
        for shipment, link in sorted(items, key=lambda pair: pair[1].destination_id):
            destination = destinations.get(link.destination_id)
            if destination is None:
                self.fail(order_id, f"{link.order_number}: its address is no longer on the order",
                          quarantine=False)
                continue
            before = remaining.get(link.destination_id, 0)
            remaining[link.destination_id] = 0
            context = WritebackContext(
                store=self.store, store_config=self.store_config, shipment=shipment,
                source_order=order, destination=destination, policies=self.policies,
                all_destinations_shipped=all(v == 0 for v in remaining.values()))
            decision = self.hook.shipsync_writeback_decision(context=context)
            if decision.create_shipment and destination["items"]:
                if destination["kind"] != "shipping":
                    remaining[link.destination_id] = before
                    self.fail(order_id, f"{link.order_number}: printed with a courier, but it is "
                              "a pickup consignment: BigCommerce cannot ship it", quarantine=False)
                    continue
                if not self.post_shipment(order_id, link, destination, shipment):
                    remaining[link.destination_id] = before
                    continue
                posted_all = all(v == 0 for v in remaining.values())
            if decision.status_id is not None:
                final_status = decision.status_id
            done.append((link, decision, shipment))
        if final_status is not None and final_status != order["status_id"] and done:
            # BigCommerce itself moves an order whose every item shipped to Shipped (2).
            if not (final_status == 2 and posted_all):
                if not self.put_status(order_id, final_status, numbers):
                    return
        with self._transaction():
            self._record_written(order_id, done)
        for _link, decision, shipment in done:  # observers run outside the transaction
            self.hook.shipsync_order_written_back(store=self.store, order_id=order_id,
                                                  shipment=shipment, decision=decision)

    def _record_written(self, order_id: str,
                        done: list[tuple[Link, WritebackDecision, dict[str, Any]]]) -> None:
        for link, decision, shipment in done:
            pickup = not decision.create_shipment and decision.status_id == 8
            with self._lock:
                if pickup:
                    self.report.awaiting_pickup += 1
                else:
                    self.report.written_back += 1
                self._written.add(link.order_number)
            self._action("awaiting_pickup" if pickup else "write_back", order_id,
                         decision.reason, link.order_number)
            if not self.dry:
                self._link(self._link_payload(link), link.sink_order_id,
                           "awaiting_pickup" if pickup else "written_back", link.fingerprint,
                           detail=decision.reason)
                self._event(order_id, "written_back", f"{link.order_number}: {decision.reason}"
                            + (f" [{', '.join(shipment.get('tracking_numbers') or [])}]"
                               if shipment.get("tracking_numbers") else ""))

    def post_shipment(self, order_id: str, link: Link, destination: dict[str, Any],
                      shipment: dict[str, Any]) -> bool:
        carrier = self.hook.shipsync_tracking_carrier(
            carrier=shipment.get("carrier", ""), carrier_name=shipment.get("carrier_name", ""),
            source=self.source_name) or ""
        body = self.source.shipment_body(destination, shipment, carrier)
        if self.dry:
            return True
        tracking = body.get("tracking_number", "")
        journal = {"source": self.source_name, "store": self.store, "order_id": order_id,
                   "destination_id": link.destination_id, "order_number": link.order_number,
                   "tracking_number": tracking}
        key = f"{order_id}:{link.destination_id}:{tracking}"
        for _attempt in range(3):
            entry = self.state.journal_intent(self.run_id, self.source_name, "create_shipment",
                                              key, journal)
            try:
                created = self.source.create_shipment(order_id, body)
            except InDoubtError:
                try:
                    found = self.source.find_shipment(order_id, link.destination_id, tracking)
                except TransportError as exc:
                    self.fail(order_id, f"{link.order_number}: shipment outcome unknown ({exc}); "
                              "it will be looked up before anything is sent again",
                              quarantine=False)
                    return False
                if found:
                    self.state.journal_done(entry, {"settled": "found", "shipment_id":
                                                    found.get("id")})
                    return True
                self.state.journal_failed(entry, {"settled": "not applied"})
                continue  # established that it did not happen: send again
            except TransportError as exc:
                self.state.journal_failed(entry, {"error": str(exc)})
                self.fail(order_id, f"{link.order_number}: shipment refused: {exc}",
                          quarantine=False)
                return False
            self.state.journal_done(entry, {"shipment_id": created.get("id")})
            return True
        self.fail(order_id, f"{link.order_number}: the source did not answer after 3 attempts",
                  quarantine=False)
        return False

    def put_status(self, order_id: str, status_id: int, numbers: str) -> bool:
        if self.dry:
            return True
        journal = {"source": self.source_name, "store": self.store, "order_id": order_id,
                   "status_id": status_id}
        entry = self.state.journal_intent(self.run_id, self.source_name, "set_status",
                                          f"{order_id}:status:{status_id}", journal)
        try:
            self.source.set_status(order_id, status_id)
        except TransportError as exc:
            self.state.journal_failed(entry, {"error": str(exc)})
            self.fail(order_id, f"{numbers}: shipment written, status {status_id} not set: {exc}",
                      quarantine=False)
            return False
        self.state.journal_done(entry, {"status_id": status_id})
        return True


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    source: str
    store: str
    steps: tuple[str, ...]
    dry_run: bool
