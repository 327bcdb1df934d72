"""The run's lifecycle: which stores, with which plugins, under a lease, with a report.

``Engine`` builds what a run needs from the plugin host and the config: the
configured stores of a source, each store's source, its sink, the mappers and
status policies. ``StoreRun`` runs steps for one store: it takes the store's
lease (never two processes on one store) and keeps it renewed
(``leasing.Heartbeat``), records the run, calls the run hooks and reports,
whatever happens in between. A step is the import
(``importing.Importer``), the writeback (``writeback.Writeback``) or one of
them for a single order.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from ..config import Config
from ..contracts import Context, HttpOptions, RunInfo, ShipmentRecord, Sink, Source
from ..http import DEFAULT_DEADLINE, DEFAULT_MAX_BODY_BYTES, TransportError, Unreachable
from ..plugins import PluginHost
from ..registry import MapperSpec, StatusPolicySpec
from ..settings import StoreSettings
from ..state import LEASE_SECONDS, StateStore
from .assumptions import StateAssumptions, source_subject
from .context import STEPS, EngineError, RunContext, RunOptions, Stopped
from .importing import Importer
from .leasing import Heartbeat
from .report import StoreReport
from .withdrawing import removed_by_hand
from .writeback import Writeback

__all__ = ["Engine", "StoreRun"]


class Engine:
    """Runs sources into sinks for the configured stores."""

    def __init__(self, host: PluginHost, config: Config, state: StateStore,
                 stop: threading.Event | None = None, *, reuse_sources: bool = False) -> None:
        """``stop``: the event SIGINT/SIGTERM set; HTTP waits and calls in flight end on it.
        ``reuse_sources``: keep each store's source between runs (``shipsync serve``: its
        caches, such as the store's units, and its rate budget outlive one order's run)."""
        self.host = host
        self.config = config
        self.state = state
        self.stop = stop or threading.Event()
        self.reuse_sources = reuse_sources
        self._sources: dict[tuple[str, str], Source] = {}
        run = config.section("run")
        max_mb = run.get("max_response_mb")
        self.http_options = HttpOptions(
            timeout=float(run.get("timeout", 30)), max_retries=int(run.get("max_retries", 6)),
            deadline=float(run.get("call_deadline", DEFAULT_DEADLINE)),
            max_body_bytes=int(max_mb) * 1024 * 1024 if max_mb else DEFAULT_MAX_BODY_BYTES,
            stop=self.stop)
        self.concurrency = int(run.get("concurrency", 4))
        self.lease_seconds = float(config.section("state").get("lease_seconds", LEASE_SECONDS))
        self._sinks: dict[str, Sink] = {}
        self._assumptions: dict[str, StateAssumptions] = {}

    def assumptions(self, subject: str) -> StateAssumptions:
        """What is known of ``subject``'s API (a sink's name, or ``SOURCE:STORE``)."""
        if subject not in self._assumptions:
            self._assumptions[subject] = StateAssumptions(self.state, subject)
        return self._assumptions[subject]

    def stores(self, source_name: str, only: str | None = None) -> list[StoreSettings]:
        """The configured stores of a source (or the one named ``only``)."""
        if source_name not in self.host.sources:
            known = ", ".join(sorted(self.host.sources)) or "none"
            raise EngineError(f"no source named {source_name!r} (installed: {known})")
        stores = [StoreSettings.of(name, section)
                  for name, section in self.host.sources[source_name].stores(self.config.data)]
        if not stores:
            raise EngineError(f"no {source_name} stores are configured")
        if only:
            stores = [s for s in stores if s.name == only]
            if not stores:
                raise EngineError(f"no {source_name} store named {only!r} in the config")
        return stores

    def store(self, source_name: str, name: str) -> StoreSettings:
        return self.stores(source_name, name)[0]

    def store_of(self, source_name: str, order_id: str, only: str | None = None) -> StoreSettings:
        """The store an order belongs to: ``only``, else the one shipsync knows it from,
        else the only store configured."""
        stores = self.stores(source_name, only)
        state = self.state
        known = [s for s in stores
                 if state.links_for_order(source_name, s.name, order_id)
                 or state.events(source_name, s.name, order_id)
                 or order_id in state.forgotten(source_name, s.name)]
        if known or len(stores) == 1:
            return (known or stores)[0]
        raise EngineError(f"shipsync has no record of order {order_id} in any {source_name} "
                          f"store: name one with --store ({', '.join(s.name for s in stores)})")

    def forget(self, source_name: str, store: str, order_id: str, *,
               dry_run: bool = False) -> list[str]:
        """Leave one order alone from now on: never imported, updated, deleted or written
        back again, and no longer retried; ``resend`` takes it back. Returns what that
        means for each of its sink orders (nothing is asked of any API)."""
        state = self.state
        links = state.links_for_order(source_name, store, order_id)
        effects = [f"{link.order_number} in {link.sink} ({link.state}): no longer updated, "
                   "deleted or written back" for link in links]
        failing = [q for q in state.quarantined(source_name, store) if q["order_id"] == order_id]
        effects += [f"failed {q['attempts']} time(s) ({q['reason']}): no longer retried"
                    for q in failing]
        if not links:
            effects.append("not in any sink: runs will not import it")
        if order_id in state.forgotten(source_name, store):
            effects = ["already forgotten: nothing changes"]
        elif not dry_run:
            detail = "by `shipsync forget`: " + "; ".join(effects)
            with state.transaction():
                state.forget(source_name, store, order_id, detail)
                state.add_event(source_name, store, order_id, "forgotten", detail)
        return effects

    def sink_name(self, settings: StoreSettings) -> str:
        """The store's sink: its ``sink`` setting, else the only one installed."""
        if settings.sink:
            return settings.sink
        installed = sorted(self.host.sinks)
        if len(installed) == 1:
            return installed[0]
        raise EngineError(f"store {settings.name!r} names no sink and "
                          f"{len(installed) or 'no'} are installed "
                          f"({', '.join(installed) or 'none'}): set its `sink`")

    def sink(self, name: str) -> Sink:
        if name not in self._sinks:
            if name not in self.host.sinks:
                raise EngineError(f"no sink named {name!r} (installed: "
                                  f"{', '.join(sorted(self.host.sinks)) or 'none'})")
            context = Context(self.config.data, http_options=self.http_options,
                              concurrency=self.concurrency, config_path=self.config.path,
                              assumptions=self.assumptions(name))
            self._sinks[name] = self.host.sinks[name].factory(self.config.section(name), context)
        return self._sinks[name]

    def source(self, source_name: str, settings: StoreSettings) -> Source:
        key = (source_name, settings.name)
        if self.reuse_sources and key in self._sources:
            return self._sources[key]
        context = Context(self.config.data, settings.name, settings.section, self.http_options,
                          self.concurrency, self.config.path,
                          self.assumptions(source_subject(source_name, settings.name)))
        source = self.host.sources[source_name].factory(settings.name, settings.section, context)
        if self.reuse_sources:
            self._sources[key] = source
        return source

    def forget_source(self, source_name: str, store: str) -> None:
        """Close a kept source: the next run builds it afresh (its caches read again)."""
        source = self._sources.pop((source_name, store), None)
        if source is not None:
            source.close()

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

    def policies(self, settings: StoreSettings) -> list[StatusPolicySpec]:
        """The store's ``status_policies`` in that order, else every installed one by order."""
        registry = self.host.status_policies
        names = settings.status_policies
        if names is None:
            return sorted(registry.values(), key=lambda p: (p.order, p.name))
        unknown = [name for name in names if name not in registry]
        if unknown:
            raise EngineError(f"store {settings.name!r}: status_policies names "
                              f"{', '.join(map(repr, unknown))}, which no plugin provides "
                              f"(installed: {', '.join(sorted(registry))})")
        return [registry[name] for name in names]

    # -- runs -----------------------------------------------------------------------------
    def run(self, source_name: str, *, store: str | None = None,
            options: RunOptions | None = None) -> list[StoreReport]:
        """The steps of ``options`` (import, then writeback) for each configured store."""
        options = options or RunOptions()
        reports = []
        for settings in self.stores(source_name, store):
            if options.stop.is_set():
                break
            reports.append(StoreRun(self, source_name, settings, options).run(_steps(options)))
        return reports

    def import_order(self, source_name: str, store: str, order_id: str,
                     options: RunOptions | None = None) -> StoreReport:
        """Import, update or withdraw one order of one store (e.g. after a webhook)."""
        return self.import_orders(source_name, store, [order_id], options)

    def import_orders(self, source_name: str, store: str, order_ids: Iterable[str],
                      options: RunOptions | None = None) -> StoreReport:
        """Import, update or withdraw these orders of one store, read by id (webhooks')."""
        options = options or RunOptions(steps=("import",))
        ids = list(order_ids)
        return StoreRun(self, source_name, self.store(source_name, store), options).run(
            lambda ctx: Importer(ctx).import_by_id(ids))

    def write_back_order(self, source_name: str, store: str, order_number: str,
                         options: RunOptions | None = None) -> StoreReport:
        """Write back one sink order, if its label is printed (e.g. after a webhook)."""
        return self.write_back_orders(source_name, store, [order_number], options)

    def write_back_orders(self, source_name: str, store: str, order_numbers: Iterable[str],
                          options: RunOptions | None = None) -> StoreReport:
        """Write back these sink orders whose labels are printed, each read from the sink."""
        options = options or RunOptions(steps=("writeback",))
        numbers = sorted(set(order_numbers))

        def step(ctx: RunContext) -> None:
            shipments: list[ShipmentRecord] = []
            for number in numbers:
                ctx.check_stop()
                shipment = ctx.sink.shipment(number)
                if shipment is not None:
                    shipments.append(shipment)
                    continue
                link = ctx.state.link_by_number(ctx.sink_name, number)
                if (link is not None and link.state == "imported" and link.store == ctx.store
                        and ctx.sink.find_order(number) is None):
                    removed_by_hand(ctx, link)  # not printed, and not there: removed by hand
            Writeback(ctx).write_back_shipments(shipments)

        return StoreRun(self, source_name, self.store(source_name, store), options).run(step)

    def write_back_shipments(self, source_name: str, store: str,
                             shipments: list[ShipmentRecord],
                             options: RunOptions | None = None) -> StoreReport:
        """Write back shipment records just read from the sink (e.g. its printed list)."""
        options = options or RunOptions(steps=("writeback",))

        def step(ctx: RunContext) -> None:
            Writeback(ctx).write_back_shipments(shipments)

        return StoreRun(self, source_name, self.store(source_name, store), options).run(step)

    def resend(self, source_name: str, store: str, order_id: str,
               options: RunOptions | None = None) -> StoreReport:
        """Send one order again (``shipsync resend``): gone sink orders are created anew."""
        options = options or RunOptions(steps=("import",))
        return StoreRun(self, source_name, self.store(source_name, store), options).run(
            lambda ctx: Importer(ctx).resend(order_id))

    def close(self) -> None:
        for sink in self._sinks.values():
            sink.close()
        for source in self._sources.values():
            source.close()
        self._sources.clear()


def _steps(options: RunOptions) -> Callable[[RunContext], None]:
    """The import and writeback steps the options ask for, timed, in order."""

    def steps(ctx: RunContext) -> None:
        if "import" in options.steps:
            with _timed(ctx, "import"):
                Importer(ctx).run()
        if options.between_steps and not options.stop.is_set():
            options.between_steps()
        if "writeback" in options.steps:
            with _timed(ctx, "writeback"):
                Writeback(ctx).run()

    return steps


@contextlib.contextmanager
def _timed(ctx: RunContext, step: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        ctx.report.step_seconds[step] = time.perf_counter() - started


class StoreRun:
    """One store's run: lease, run record, hooks and report around its steps."""

    def __init__(self, engine: Engine, source_name: str, settings: StoreSettings,
                 options: RunOptions) -> None:
        sink_name = engine.sink_name(settings)
        sink = engine.sink(sink_name)
        self.lease_seconds = engine.lease_seconds
        self.owns_source = not engine.reuse_sources
        # A dry run reads what is known of the APIs and records nothing.
        for subject in (sink_name, source_subject(source_name, settings.name)):
            engine.assumptions(subject).dry = options.dry_run
        self.ctx = RunContext(
            hook=engine.host.hook, state=engine.state, config=engine.config,
            concurrency=engine.concurrency, source_name=source_name,
            source=engine.source(source_name, settings), sink_name=sink_name, sink=sink,
            settings=settings, mappers=engine.mappers(), policies=engine.policies(settings),
            options=options)

    def run(self, steps: Callable[[RunContext], None]) -> StoreReport:
        ctx = self.ctx
        started = time.monotonic()
        lease_name = f"{ctx.source_name}:{ctx.store}"
        holder = None
        heartbeat = None
        if not ctx.dry:
            holder = ctx.state.acquire_lease(lease_name, self.lease_seconds)
            if holder is None:
                info = ctx.state.lease_holder(lease_name) or {}
                where = f" on {info['host']}" if info.get("host") else ""
                if self.owns_source:
                    ctx.source.close()
                raise EngineError(
                    f"another shipsync process (pid {info.get('pid', '?')}{where}) is already "
                    f"running store {ctx.store!r} on this state file; try again when it has "
                    "finished")
            try:
                ctx.start(ctx.state.start_run(ctx.source_name, ctx.store,
                                              ",".join(ctx.options.steps), False))
            except BaseException:
                ctx.state.release_lease(lease_name, holder)
                ctx.source.close()
                raise
            heartbeat = Heartbeat(ctx.state, lease_name, holder, self.lease_seconds,
                                  lost=ctx.lease_lost).start()
        run = RunInfo(ctx.run_id, ctx.source_name, ctx.store, ctx.options.steps or STEPS,
                      ctx.dry)
        ctx.hook.shipsync_run_started(run=run)
        sink_before = ctx.sink.requests_made
        source_before = ctx.source.requests_made
        status = "ok"
        try:
            steps(ctx)
        except Stopped:
            ctx.report.stopped = True
            status = "stopped"
        except TransportError as exc:
            if ctx.options.stop.is_set():
                ctx.report.stopped = True  # a call abandoned because the run is stopping
                status = "stopped"
            else:
                # An API could not be reached, refused the credentials or kept failing: this
                # store's run stops here (what was done is kept), and the other stores go on.
                refused = exc.status in (401, 403)
                ctx.report.error = str(exc) + (" (the API refused the credentials: check them "
                                               "in the config)" if refused else "")
                ctx.report.error_kind = ("credentials" if refused else
                                         "unreachable" if isinstance(exc, Unreachable) else "api")
                status = "api_error"
        except BaseException:
            status = "crashed"
            raise
        finally:
            if heartbeat is not None:
                heartbeat.stop()
            ctx.report.requests = {ctx.source_name: ctx.source.requests_made - source_before,
                                   ctx.sink_name: ctx.sink.requests_made - sink_before}
            ctx.report.seconds = time.monotonic() - started
            if status != "crashed":
                if ctx.report.failed and status == "ok":
                    status = "failed_records"
                ctx.hook.shipsync_run_finished(run=run, report=ctx.report.to_dict())
            if not ctx.dry:
                ctx.state.finish_run(ctx.run_id, status, ctx.report.to_dict())
                if holder:
                    ctx.state.release_lease(lease_name, holder)
            if self.owns_source:
                ctx.source.close()
        if heartbeat is not None and heartbeat.lost.is_set():
            raise EngineError(f"the lease on store {ctx.store!r} was lost ({heartbeat.reason}): "
                              "the run stopped before writing more; what was done is kept")
        return ctx.report
