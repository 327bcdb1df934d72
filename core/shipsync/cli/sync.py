"""``shipsync run``, ``shipsync import`` and ``shipsync writeback``.

The three commands take the same options (``SyncOptions``) and share one
execution: the config (the user's, or one pointing at fresh sandboxes with
``--sandbox``), the engine, the loop of ``--every``, the report, the exit code.
"""

from __future__ import annotations

import contextlib
import functools
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..config import Config, ConfigError, load_config
from ..engine import Engine, EngineError, RunOptions, StoreReport
from ..output import console, err_console, print_json, print_json_line
from ..report import render_reports, reports_json
from ..state import StateError
from .invocation import EXIT_API, EXIT_FAILED_RECORDS, EXIT_OK, EXIT_SIGNAL_BASE, Invocation

if TYPE_CHECKING:
    from ..sandboxes import SandboxSet

__all__ = ["MAX_DAYS", "StopSignal", "SyncOptions", "parse_duration", "register",
           "stop_on_signals"]

#: The longest --days window: ten years (a larger one is a typo, not a backfill).
MAX_DAYS = 3650


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


class StopSignal(threading.Event):
    """The run's stop event, remembering which signal set it (for the exit code)."""

    signum: int | None = None


@contextmanager
def stop_on_signals() -> Iterator[StopSignal]:
    """SIGINT/SIGTERM set an event: waits end, calls in flight are abandoned, and the
    engine stops at its next boundary; a second SIGINT stops at once."""
    stop = StopSignal()
    previous = {}

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        stop.signum = signum
        stop.set()
        err_console().print(f"{signal.Signals(signum).name}: stopping (what is in flight is "
                            "finished or left to be looked up)", markup=False)

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Display:
    """The live progress on stderr: one line per store and step, with counts (and totals
    where known), cleared before anything else is printed."""

    def __init__(self, clock: bool) -> None:
        self.clock = clock  # --every: each line says when
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                 TextColumn("{task.fields[count]}"), TimeElapsedColumn(),
                                 console=err_console(), transient=True)
        self.tasks: dict[tuple[str, str], Any] = {}

    def __enter__(self) -> Display:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()  # transient: the lines are cleared, the report follows

    def update(self, store: str, step: str, done: int, total: int | None) -> None:
        key = (store, step)
        count = f"{done}/{total} orders" if total is not None else f"{done} orders"
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(f"{step} {store}", total=total,
                                                     count=count)
        self.progress.update(self.tasks[key], completed=done, total=total, count=count)

    def merchant(self, sandbox: str, done: int, total: int) -> None:
        key = ("sandbox", sandbox)
        count = f"{done}/{total} labels"
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(f"sandbox: the merchant prints labels in "
                                                     f"{sandbox}", total=total, count=count)
        self.progress.update(self.tasks[key], completed=done, total=total, count=count)

    def message(self, text: str) -> None:
        """A line above the live display (never run into it)."""
        self.progress.console.print(_stamp(self.clock) + text, markup=False)


def _stamp(clock: bool) -> str:
    return f"{datetime.now().astimezone():%H:%M:%S} " if clock else ""


def _say(display: Display | None, text: str, clock: bool) -> None:
    if display is not None:
        display.message(text)
    else:
        err_console().print(_stamp(clock) + text, markup=False)


def execute(invocation: Invocation, options: SyncOptions) -> None:
    """Run the steps for each store (again every ``--every``), print the report, exit.

    With ``--json`` the report is one JSON document; with ``--every --json`` one
    compact document per cycle, a line each (JSON Lines), each with its start time.
    """
    invocation.as_json = options.as_json
    interval = parse_duration(options.every) if options.every else None
    days = options.days
    if days is not None and not 1 <= days <= MAX_DAYS:
        invocation.fail(f"--days must be between 1 and {MAX_DAYS}, not {days}")
    if options.sandbox and days is None:
        days = 30  # the sandbox seeds a month of orders: show them all
    code = EXIT_OK
    with stop_on_signals() as stop, _session(invocation, options) as (config, sandboxes):
        store_db = invocation.state(config)
        engine = Engine(invocation.host, config, store_db, stop=stop)
        stopped: list[StoreReport] = []
        try:
            cycle = 0
            while True:
                cycle += 1
                started = datetime.now(timezone.utc)
                show_progress = not options.as_json and sys.stderr.isatty()
                with (Display(interval is not None) if show_progress
                      else contextlib.nullcontext()) as display:
                    run_options = RunOptions(steps=options.steps, days=days,
                                             dry_run=options.dry_run, stop=stop,
                                             progress=display.update if display else None)
                    if sandboxes is not None and set(options.steps) == {"import", "writeback"}:
                        run_options.between_steps = functools.partial(
                            _merchant_step, sandboxes, options.as_json, display,
                            interval is not None)
                    try:
                        reports = engine.run(options.source, store=options.store,
                                             options=run_options)
                    except EngineError as exc:
                        invocation.fail(str(exc))
                    except StateError as exc:
                        if invocation.debug:
                            raise
                        kept = ("nothing was changed (dry run)" if options.dry_run else
                                "what was done is kept, and the next run goes on from there")
                        invocation.fail(f"the run stopped: {exc}; {kept}",
                                        code=EXIT_FAILED_RECORDS)
                code = _exit_code(reports)
                stopped = [r for r in reports if r.stopped]
                _print(invocation, reports, started, cycle, interval is not None,
                       options.as_json)
                if interval is None or stop.is_set():
                    break
                if not options.as_json:
                    err_console().print(f"{_stamp(True)}next run in {options.every} "
                                        "(Ctrl-C to stop)", markup=False)
                if stop.wait(interval):
                    break
        except KeyboardInterrupt:  # a second Ctrl-C: whatever was in flight is looked up later
            err_console().print("Interrupted: stopped at once; the next run looks up what was "
                                "in flight and goes on from there", markup=False)
            raise typer.Exit(EXIT_SIGNAL_BASE + signal.SIGINT) from None
        finally:
            engine.close()
            store_db.close()
    if stop.signum is not None and stopped:
        _say_what_was_finished(stop.signum, stopped)
        # A run cut short exits 128 + the signal; with --every a signal is how the loop is
        # meant to end (each run picks up where the last left off), so it ends as usual.
        if interval is None:
            raise typer.Exit(EXIT_SIGNAL_BASE + stop.signum)
    raise typer.Exit(code)


def _exit_code(reports: list[StoreReport]) -> int:
    """3 when an API could not be reached or refused the credentials; 1 when records failed
    or an API kept failing mid-run; else 0."""
    if any(r.error_kind in ("unreachable", "credentials") for r in reports):
        return EXIT_API
    return EXIT_FAILED_RECORDS if any(r.failed or r.error for r in reports) else EXIT_OK


def _print(invocation: Invocation, reports: list[StoreReport], started: datetime, cycle: int,
           every: bool, as_json: bool) -> None:
    """One cycle's report: tables (and errors) for people, one JSON document for programs."""
    stamp = started.isoformat(timespec="seconds")
    if as_json:
        document = reports_json(reports, started_at=stamp, cycle=cycle,
                                exit_code=_exit_code(reports))
        if every:
            print_json_line(document)  # JSON Lines: one compact document per cycle
        else:
            print_json(document)
        return
    render_reports(console(), reports, started_at=started if every else None)
    out = err_console()
    for report in reports:
        if report.error:
            kept = ("nothing was changed (dry run)" if report.dry_run else
                    "what was done before is kept, and the next run goes on from there")
            out.print("Error:", style="bold red", end=" ")
            out.print(f"store {report.store!r}: the run stopped: {report.error}. {kept}.",
                      markup=False)


def _say_what_was_finished(signum: int, stopped: list[StoreReport]) -> None:
    done = "; ".join(f"store {r.store!r}: {r.imported} imported, {r.updated} updated, "
                     f"{r.written_back} written back" for r in stopped)
    err_console().print(f"Stopped by {signal.Signals(signum).name}"
                        + (f" ({done})" if done else "")
                        + ": the next run goes on from there", markup=False)


def _merchant_step(sandboxes: SandboxSet, quiet: bool, display: Display | None,
                   clock: bool) -> None:
    done = sandboxes.play_merchant(fraction=0.6,
                                   progress=display.merchant if display else None)
    if not quiet:
        printed = sum(d.get("printed", 0) for d in done.values())
        where = ", ".join(sorted(done)) or "the sandbox"
        _say(display, f"sandbox: the merchant printed {printed} labels in {where}", clock)


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


SOURCE = typer.Argument(..., metavar="SOURCE",
                        help="The source: an installed source plugin's name.")
STORE = typer.Option(None, "--store", metavar="NAME",
                     help="Only this store (its name in the config).")
DAYS = typer.Option(None, "--days", metavar="N", help="Import orders created in the last N "
                    "days (a full window, not only what changed).")
DRY_RUN = typer.Option(False, "--dry-run", help="Show what would happen; change nothing.")
AS_JSON = typer.Option(False, "--json", help="Print the report as JSON (with --every: one "
                       "line per cycle).")
EVERY = typer.Option(None, "--every", metavar="DURATION",
                     help="Repeat every DURATION (e.g. 20m) until interrupted.")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(ctx: typer.Context,
            source: str = SOURCE,
            store: Optional[str] = STORE, days: Optional[int] = DAYS,
            dry_run: bool = DRY_RUN, as_json: bool = AS_JSON,
            sandbox: bool = typer.Option(False, "--sandbox", help="Run against the built-in "
                                         "emulators with seeded orders (no account needed)."),
            every: Optional[str] = EVERY,
            sandbox_orders: int = typer.Option(40, "--sandbox-orders", metavar="N",
                                               help="Orders seeded with --sandbox."),
            seed: int = typer.Option(0, "--seed", metavar="N",
                                     help="Seed of the sandbox data."),
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
                  store: Optional[str] = STORE,
                  dry_run: bool = DRY_RUN, as_json: bool = AS_JSON,
                  every: Optional[str] = EVERY) -> None:
        """Only write back: tracking of printed orders to the source."""
        execute(ctx.obj, SyncOptions(source, ("writeback",), store, None, dry_run, as_json,
                                     every))
