"""The run's lifecycle: which stores, with which plugins, under a lease, with a report.

``Engine`` builds what a run needs from the plugin host and the config: the
configured stores of a source, each store's source, its sink, the mappers and
status policies. ``StoreRun`` runs steps for one store: it takes the store's
lease (never two processes on one store), records the run, calls the run hooks
and reports, whatever happens in between. A step is the import
(``importing.Importer``), the writeback (``writeback.Writeback``) or one of
them for a single order.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from ..config import Config
from ..contracts import Context, HttpOptions, RunInfo, ShipmentRecord, Sink, Source
from ..plugins import PluginHost
from ..registry import MapperSpec, StatusPolicySpec
from ..settings import StoreSettings
from ..state import StateStore
from .assumptions import StateAssumptions, source_subject
from .context import STEPS, EngineError, RunContext, RunOptions, Stopped, now_utc
from .importing import Importer
from .report import StoreReport
from .writeback import Writeback

__all__ = ["Engine", "StoreRun"]


class Engine:
    """Runs sources into sinks for the configured stores."""

    def __init__(self, host: PluginHost, config: Config, state: StateStore) -> None:
        self.host = host
        self.config = config
        self.state = state
        run = config.section("run")
        self.http_options = HttpOptions(timeout=float(run.get("timeout", 30)),
                                        max_retries=int(run.get("max_retries", 6)))
        self.concurrency = int(run.get("concurrency", 4))
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
        context = Context(self.config.data, settings.name, settings.section, self.http_options,
                          self.concurrency, self.config.path,
                          self.assumptions(source_subject(source_name, settings.name)))
        return self.host.sources[source_name].factory(settings.name, settings.section, context)

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
        options = options or RunOptions(steps=("import",))
        return StoreRun(self, source_name, self.store(source_name, store), options).run(
            lambda ctx: Importer(ctx).import_order(order_id))

    def write_back_order(self, source_name: str, store: str, order_number: str,
                         options: RunOptions | None = None) -> StoreReport:
        """Write back one sink order, if its label is printed (e.g. after a webhook)."""
        options = options or RunOptions(steps=("writeback",))

        def step(ctx: RunContext) -> None:
            shipment: ShipmentRecord | None = ctx.sink.shipment(order_number)
            if shipment is not None:
                Writeback(ctx).write_back_shipment(shipment)

        return StoreRun(self, source_name, self.store(source_name, store), options).run(step)

    def close(self) -> None:
        for sink in self._sinks.values():
            sink.close()


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
        started = now_utc()
        lease_name = f"{ctx.source_name}:{ctx.store}"
        holder = None
        if not ctx.dry:
            holder = ctx.state.acquire_lease(lease_name)
            if holder is None:
                info = ctx.state.lease_holder(lease_name) or {}
                ctx.source.close()
                raise EngineError(
                    f"another shipsync process (pid {info.get('pid', '?')}) is already running "
                    f"store {ctx.store!r} on this state file; try again when it has finished")
            ctx.start(ctx.state.start_run(ctx.source_name, ctx.store,
                                          ",".join(ctx.options.steps), False))
        run = RunInfo(ctx.run_id, ctx.source_name, ctx.store, ctx.options.steps or STEPS,
                      ctx.dry)
        ctx.hook.shipsync_run_started(run=run)
        sink_before = ctx.sink.requests_made
        status = "ok"
        try:
            steps(ctx)
        except Stopped:
            ctx.report.stopped = True
            status = "stopped"
        except BaseException:
            status = "crashed"
            raise
        finally:
            ctx.report.requests = {ctx.source_name: ctx.source.requests_made,
                                   ctx.sink_name: ctx.sink.requests_made - sink_before}
            ctx.report.seconds = (now_utc() - started).total_seconds()
            if status != "crashed":
                if ctx.report.failed and status == "ok":
                    status = "failed_records"
                ctx.hook.shipsync_run_finished(run=run, report=ctx.report.to_dict())
            if not ctx.dry:
                ctx.state.finish_run(ctx.run_id, status, ctx.report.to_dict())
                if holder:
                    ctx.state.release_lease(lease_name, holder)
            ctx.source.close()
        return ctx.report
