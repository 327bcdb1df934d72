"""``shipsync run``, ``shipsync import`` and ``shipsync writeback``.

The three commands take the same options (``SyncOptions``) and share one
execution: the config (the user's, or one pointing at fresh sandboxes with
``--sandbox``), the engine, the loop of ``--every``, the report, the exit code.
"""

from __future__ import annotations

import re
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..config import Config, ConfigError, load_config
from ..engine import Engine, EngineError, RunOptions
from ..http import TransportError
from ..output import console, err_console, print_json
from ..report import render_reports, reports_json
from ..state import StateError
from .invocation import EXIT_FAILED_RECORDS, EXIT_OK, Invocation

if TYPE_CHECKING:
    from ..sandboxes import SandboxSet

__all__ = ["SyncOptions", "parse_duration", "register"]


def parse_duration(text: str) -> float:
    """``90s``, ``20m``, ``1h30m``, ``2h`` -> seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != re.sub(r"\s+", "", text.lower()):
        raise typer.BadParameter(f"{text!r} is not a duration like 90s, 20m or 1h30m")
    seconds = sum(float(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in parts)
    if seconds < 1:
        raise typer.BadParameter("the interval must be at least 1s")
    return seconds


@dataclass(frozen=True)
class SyncOptions:
    """What ``run``, ``import`` and ``writeback`` were asked to do."""

    source: str
    steps: tuple[str, ...]
    store: str | None = None
    days: int | None = None
    dry_run: bool = False
    as_json: bool = False
    every: str | None = None
    sandbox: bool = False
    sandbox_orders: int = 40
    seed: int = 0
    variants: tuple[str, ...] = ()


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM set an event; the engine stops at the next clean boundary."""
    stop = threading.Event()
    previous = {}

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        stop.set()
        err_console().print(f"{signal.Signals(signum).name}: finishing the current step…")

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, str, int], None] | None]:
    if not enabled:
        yield None
        return
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                        TextColumn("{task.completed} orders"), TimeElapsedColumn(),
                        console=err_console(), transient=True)
    tasks: dict[tuple[str, str], Any] = {}

    def update(store: str, step: str, done: int) -> None:
        key = (store, step)
        if key not in tasks:
            tasks[key] = progress.add_task(f"{step} {store}", total=None)
        progress.update(tasks[key], completed=done)

    with progress:
        yield update


def execute(invocation: Invocation, options: SyncOptions) -> None:
    """Run the steps for each store (again every ``--every``), print the report, exit."""
    interval = parse_duration(options.every) if options.every else None
    days = options.days
    if days is not None and days < 1:
        invocation.fail("--days must be at least 1")
    if options.sandbox and days is None:
        days = 30  # the sandbox seeds a month of orders: show them all
    with stop_on_signals() as stop, _session(invocation, options) as (config, sandboxes):
        store_db = invocation.state(config)
        engine = Engine(invocation.host, config, store_db)
        failed = False
        try:
            while True:
                show_progress = not options.as_json and sys.stderr.isatty()
                with _progress(show_progress) as progress:
                    run_options = RunOptions(steps=options.steps, days=days,
                                             dry_run=options.dry_run, stop=stop,
                                             progress=progress)
                    if sandboxes is not None and set(options.steps) == {"import", "writeback"}:
                        run_options.between_steps = lambda: _merchant_step(sandboxes,
                                                                           options.as_json)
                    try:
                        reports = engine.run(options.source, store=options.store,
                                             options=run_options)
                    except EngineError as exc:
                        invocation.fail(str(exc))
                    except (TransportError, StateError) as exc:
                        if invocation.debug:
                            raise
                        invocation.fail(f"the run stopped: {exc}; what was done is kept, and "
                                        "the next run goes on from there",
                                        code=EXIT_FAILED_RECORDS)
                failed = any(r.failed for r in reports)
                if options.as_json:
                    print_json(reports_json(reports))
                else:
                    render_reports(console(), reports)
                if interval is None or stop.is_set():
                    break
                if not options.as_json:
                    err_console().print(f"next run in {options.every} (Ctrl-C to stop)")
                if stop.wait(interval):
                    break
        finally:
            engine.close()
            store_db.close()
    raise typer.Exit(EXIT_FAILED_RECORDS if failed else EXIT_OK)


def _merchant_step(sandboxes: SandboxSet, quiet: bool) -> None:
    done = sandboxes.play_merchant(fraction=0.6)
    if not quiet:
        printed = sum(d.get("printed", 0) for d in done.values())
        where = ", ".join(sorted(done)) or "the sandbox"
        err_console().print(f"sandbox: the merchant printed {printed} labels in {where}")


@contextmanager
def _session(invocation: Invocation,
             options: SyncOptions) -> Iterator[tuple[Config, SandboxSet | None]]:
    """The config to run with: the user's, or one pointing at fresh sandboxes."""
    if not options.sandbox:
        yield invocation.config(), None
        return
    from ..sandboxes import SandboxSet  # the emulators load only for --sandbox
    from .sandbox_command import variants_of

    chosen = variants_of(invocation, list(options.variants))
    with tempfile.TemporaryDirectory(prefix="shipsync-sandbox-") as tmp:
        sandboxes = SandboxSet(invocation.host, orders=options.sandbox_orders,
                               seed=options.seed, variants=chosen).start()
        try:
            raw = sandboxes.config(state_path=Path(tmp) / "state.db")
            try:
                config = load_config(None, invocation.host.config_schemas.values(), raw=raw)
            except ConfigError as exc:
                invocation.config_error(exc)
            yield config, sandboxes
        finally:
            sandboxes.stop()


SOURCE = typer.Argument(..., help="The source: an installed source plugin's name.")
STORE = typer.Option(None, "--store", help="Only this store (its name in the config).")
DAYS = typer.Option(None, "--days", help="Import orders created in the last N days "
                    "(a full window, not only what changed).")
DRY_RUN = typer.Option(False, "--dry-run", help="Show what would happen; change nothing.")
AS_JSON = typer.Option(False, "--json", help="Print the report as JSON.")
EVERY = typer.Option(None, "--every", help="Repeat every DURATION (e.g. 20m) until interrupted.")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(ctx: typer.Context,
            source: str = SOURCE,
            store: Optional[str] = STORE, days: Optional[int] = DAYS,
            dry_run: bool = DRY_RUN, as_json: bool = AS_JSON,
            sandbox: bool = typer.Option(False, "--sandbox", help="Run against the built-in "
                                         "emulators with seeded orders (no account needed)."),
            every: Optional[str] = EVERY,
            sandbox_orders: int = typer.Option(40, "--sandbox-orders",
                                               help="Orders seeded with --sandbox."),
            seed: int = typer.Option(0, "--seed", help="Seed of the sandbox data."),
            variant: Optional[list[str]] = typer.Option(
                None, "--variant", metavar="SANDBOX.NAME=VALUE",
                help="With --sandbox: how an emulated API behaves where its documentation is "
                     "silent (repeatable; `shipsync sandbox --list-variants`).")) -> None:
        """Import orders into the sink, then write tracking back, for each store."""
        if variant and not sandbox:
            ctx.obj.fail("--variant chooses how the sandboxes behave: use it with --sandbox")
        execute(ctx.obj, SyncOptions(source, ("import", "writeback"), store, days, dry_run,
                                     as_json, every, sandbox, sandbox_orders, seed,
                                     tuple(variant or ())))

    @app.command("import")
    def import_(ctx: typer.Context, source: str = SOURCE,
                store: Optional[str] = STORE, days: Optional[int] = DAYS,
                dry_run: bool = DRY_RUN, as_json: bool = AS_JSON,
                every: Optional[str] = EVERY) -> None:
        """Only import: source orders into the sink."""
        execute(ctx.obj, SyncOptions(source, ("import",), store, days, dry_run, as_json, every))

    @app.command("writeback")
    def writeback(ctx: typer.Context, source: str = SOURCE,
                  store: Optional[str] = STORE, days: Optional[int] = DAYS,
                  dry_run: bool = DRY_RUN, as_json: bool = AS_JSON,
                  every: Optional[str] = EVERY) -> None:
        """Only write back: tracking of printed orders to the source."""
        execute(ctx.obj, SyncOptions(source, ("writeback",), store, days, dry_run, as_json,
                                     every))
