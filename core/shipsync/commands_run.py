"""The sync commands: run, import, writeback, explain, sandbox."""

from __future__ import annotations

import re
import signal
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .config import Config, ConfigError, dump_toml, load_config
from .engine import Engine, EngineError, RunOptions
from .http import TransportError
from .output import console, err_console, print_json
from .report import render_reports, reports_json
from .state import StateError, open_state

if TYPE_CHECKING:
    from .cli import State
    from .sandboxes import SandboxSet

__all__ = ["register", "parse_duration"]

SANDBOX_HEADER = "Written by `shipsync sandbox`: points shipsync at the local emulators."


def parse_duration(text: str) -> float:
    """``90s``, ``20m``, ``1h30m``, ``2h`` -> seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != re.sub(r"\s+", "", text.lower()):
        raise typer.BadParameter(f"{text!r} is not a duration like 90s, 20m or 1h30m")
    seconds = sum(float(n) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[u] for n, u in parts)
    if seconds < 1:
        raise typer.BadParameter("the interval must be at least 1s")
    return seconds


def _fail(message: str, code: int = 2) -> None:
    out = err_console()
    out.print("Error:", style="bold red", end=" ")
    out.print(message, markup=False)
    raise typer.Exit(code)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
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
def _progress(enabled: bool) -> Iterator[Any]:
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


def _execute(ctx: typer.Context, source: str, steps: tuple[str, ...], *, store: Optional[str],
             days: Optional[int], dry_run: bool, as_json: bool, sandbox: bool,
             every: Optional[str], sandbox_orders: int, seed: int) -> None:
    state: State = ctx.obj
    interval = parse_duration(every) if every else None
    if days is not None and days < 1:
        _fail("--days must be at least 1")
    if sandbox and days is None:
        days = 30  # the sandbox seeds a month of orders: show them all
    with _stop_on_signals() as stop, _session(state, sandbox, sandbox_orders, seed) as session:
        config, sandboxes = session
        try:
            store_db = open_state(config.section("state"))
        except StateError as exc:
            _fail(str(exc))
            return
        engine = Engine(state.host, config, store_db)
        failed = False
        try:
            while True:
                show_progress = not as_json and sys.stderr.isatty()
                with _progress(show_progress) as progress:
                    options = RunOptions(steps=steps, days=days, dry_run=dry_run, stop=stop,
                                         progress=progress)
                    if sandboxes is not None and "writeback" in steps and "import" in steps:
                        options.between_steps = lambda: _merchant_step(sandboxes, as_json)
                    try:
                        reports = engine.run(source, store=store, options=options)
                    except EngineError as exc:
                        _fail(str(exc))
                        return
                    except (TransportError, StateError) as exc:
                        if state.debug:
                            raise
                        _fail(f"the run stopped: {exc}; what was done is kept, and the next "
                              "run goes on from there", code=1)
                        return
                failed = any(r.failed for r in reports)
                if as_json:
                    print_json(reports_json(reports))
                else:
                    render_reports(console(), reports)
                if interval is None or stop.is_set():
                    break
                if not as_json:
                    err_console().print(f"next run in {every} (Ctrl-C to stop)")
                if stop.wait(interval):
                    break
        finally:
            engine.close()
            store_db.close()
    raise typer.Exit(1 if failed else 0)


def _merchant_step(sandboxes: SandboxSet, quiet: bool) -> None:
    done = sandboxes.play_merchant(fraction=0.6)
    if not quiet:
        printed = sum(d.get("printed", 0) for d in done.values())
        err_console().print(f"sandbox: the merchant printed {printed} labels in Starshipit")


@contextmanager
def _session(state: State, sandbox: bool, orders: int,
             seed: int) -> Iterator[tuple[Config, SandboxSet | None]]:
    """The config to run with: the user's, or one pointing at fresh sandboxes."""
    if not sandbox:
        try:
            config = state.load_config()
        except ConfigError as exc:
            from .cli import fail_config

            fail_config(exc)
            return
        yield config, None
        return
    from .sandboxes import SandboxSet  # the emulators load only for --sandbox

    with tempfile.TemporaryDirectory(prefix="shipsync-sandbox-") as tmp:
        sandboxes = SandboxSet(state.host, orders=orders, seed=seed).start()
        try:
            raw = sandboxes.config(state_path=Path(tmp) / "state.db")
            try:
                config = load_config(None, state.host.config_schemas.values(), raw=raw)
            except ConfigError as exc:
                from .cli import fail_config

                fail_config(exc)
                return
            yield config, sandboxes
        finally:
            sandboxes.stop()


def register(app: typer.Typer) -> None:
    store_opt = typer.Option(None, "--store", help="Only this store (its name in the config).")
    days_opt = typer.Option(None, "--days", help="Import orders created in the last N days "
                            "(a full window, not only what changed).")
    dry_opt = typer.Option(False, "--dry-run", help="Show what would happen; change nothing.")
    json_opt = typer.Option(False, "--json", help="Print the report as JSON.")
    sandbox_opt = typer.Option(False, "--sandbox", help="Run against the built-in emulators "
                               "with seeded orders (no account needed).")
    every_opt = typer.Option(None, "--every", help="Repeat every DURATION (e.g. 20m) until "
                             "interrupted.")
    orders_opt = typer.Option(40, "--sandbox-orders", help="Orders seeded with --sandbox.")
    seed_opt = typer.Option(0, "--seed", help="Seed of the sandbox data.")

    @app.command("run")
    def run(ctx: typer.Context, source: str = typer.Argument(..., help="The source, e.g. "
                                                           "bigcommerce."),
            store: Optional[str] = store_opt, days: Optional[int] = days_opt,
            dry_run: bool = dry_opt, as_json: bool = json_opt, sandbox: bool = sandbox_opt,
            every: Optional[str] = every_opt, sandbox_orders: int = orders_opt,
            seed: int = seed_opt) -> None:
        """Import orders into the sink, then write tracking back, for each store."""
        _execute(ctx, source, ("import", "writeback"), store=store, days=days, dry_run=dry_run,
                 as_json=as_json, sandbox=sandbox, every=every, sandbox_orders=sandbox_orders,
                 seed=seed)

    @app.command("import")
    def import_(ctx: typer.Context, source: str = typer.Argument(...),
                store: Optional[str] = store_opt, days: Optional[int] = days_opt,
                dry_run: bool = dry_opt, as_json: bool = json_opt,
                every: Optional[str] = every_opt) -> None:
        """Only import: source orders into the sink."""
        _execute(ctx, source, ("import",), store=store, days=days, dry_run=dry_run,
                 as_json=as_json, sandbox=False, every=every, sandbox_orders=0, seed=0)

    @app.command("writeback")
    def writeback(ctx: typer.Context, source: str = typer.Argument(...),
                  store: Optional[str] = store_opt, days: Optional[int] = days_opt,
                  dry_run: bool = dry_opt, as_json: bool = json_opt,
                  every: Optional[str] = every_opt) -> None:
        """Only write back: tracking of printed orders to the source."""
        _execute(ctx, source, ("writeback",), store=store, days=days, dry_run=dry_run,
                 as_json=as_json, sandbox=False, every=every, sandbox_orders=0, seed=0)

    @app.command("explain")
    def explain(ctx: typer.Context, source: str = typer.Argument(...),
                order_id: str = typer.Argument(..., help="The source order id."),
                store: Optional[str] = store_opt, as_json: bool = json_opt,
                offline: bool = typer.Option(False, "--offline",
                                             help="Use only the state file; ask no API.")) -> None:
        """Why an order was or was not imported, and where its writeback stands."""
        from .explain import explain_order

        state: State = ctx.obj
        try:
            config = state.load_config()
        except ConfigError as exc:
            from .cli import fail_config

            fail_config(exc)
            return
        try:
            store_db = open_state(config.section("state"))
        except StateError as exc:
            _fail(str(exc))
            return
        engine = Engine(state.host, config, store_db)
        try:
            answer = explain_order(engine, source, order_id, store=store, offline=offline)
        except EngineError as exc:
            _fail(str(exc))
            return
        finally:
            store_db.close()
        if as_json:
            print_json(answer)
        else:
            out = console()
            out.print(f"{source} order {order_id} (store {answer['store']!r})", style="bold")
            for line in answer["summary"]:
                out.print(f"• {line}", markup=False)
            if answer["events"]:
                out.print("history:", style="bold")
                for event in answer["events"]:
                    out.print(f"  {event['at'][:19]}  {event['kind']:<16} {event['detail']}",
                              markup=False)

    @app.command("sandbox")
    def sandbox(ctx: typer.Context,
                orders: int = typer.Option(500, "--orders", help="Orders to seed per store."),
                seed: int = typer.Option(0, "--seed", help="Seed of the generated data."),
                port: int = typer.Option(0, "--port", help="First port (the next ones follow); "
                                         "0 picks free ports."),
                write_config: Path = typer.Option(Path("shipsync.sandbox.toml"), "--write-config",
                                                  help="Where to write the config pointing at "
                                                  "the sandboxes."),
                force: bool = typer.Option(False, "--force", help="Overwrite the config file.")
                ) -> None:
        """Serve the API emulators on loopback and write a config pointing at them."""
        state: State = ctx.obj
        if not 10 <= orders <= 100_000:
            _fail("--orders must be between 10 and 100000")
        if write_config.exists() and not force:
            if SANDBOX_HEADER not in write_config.read_text(errors="replace")[:200]:
                _fail(f"{write_config} exists and was not written by `shipsync sandbox`; "
                      "use --force or another --write-config")
        out = console()
        from .sandboxes import SandboxSet

        with _stop_on_signals() as stop:
            sandboxes = SandboxSet(state.host, port=port, orders=orders, seed=seed).start()
            try:
                state_path = write_config.parent / "shipsync-sandbox.db"
                raw = sandboxes.config(state_path=state_path)
                write_config.write_text(dump_toml(raw, header=SANDBOX_HEADER))
                for name, server in sandboxes.servers.items():
                    out.print(f"{name:<12} {server.url}", markup=False)
                out.print(f"config       {write_config}", markup=False)
                out.print(f"try:         shipsync --config {write_config} run "
                          f"{next(iter(sorted(state.host.sources)), 'SOURCE')}", markup=False)
                out.print("Ctrl-C to stop.")
                while not stop.wait(0.5):
                    pass
            finally:
                sandboxes.stop()
