"""``shipsync sandbox``: serve the API emulators on loopback, with a config pointing at them.

A sandbox session and its state belong together: every session seeds new
emulators, so it starts a new state file (``shipsync-sandbox.db`` beside the
config), removing the one an earlier session left. A file of that name that no
sandbox session made is never removed: the command refuses, naming it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Optional

import typer

from ..config import dump_toml
from ..output import console
from ..state import SQLiteStateStore, StateError
from .invocation import Invocation
from .sync import stop_on_signals

__all__ = ["SANDBOX_HEADER", "SESSION_BOOKMARK", "STATE_NAME", "print_variants", "register",
           "variants_of"]

SANDBOX_HEADER = "Written by `shipsync sandbox`: points shipsync at the local emulators."
STATE_NAME = "shipsync-sandbox.db"
#: Marks a state file as a sandbox session's (the session's id), so it may be replaced.
SESSION_BOOKMARK = "sandbox:session"


def _session_of(path: Path) -> str | None:
    """The sandbox session that made the state file at ``path``, or None if none did."""
    try:
        state = SQLiteStateStore(path)
    except StateError:
        return None
    try:
        return state.get_bookmark(SESSION_BOOKMARK)
    finally:
        state.close()


def fresh_state(path: Path) -> tuple[str, bool]:
    """A new state file for a new session at ``path``: (session id, an old one was removed).

    Raises ``FileExistsError`` when a file there was not made by a sandbox session.
    """
    replaced = False
    if path.exists():
        if _session_of(path) is None:
            raise FileExistsError(str(path))
        for stale in (path, path.with_name(path.name + "-wal"),
                      path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)
        replaced = True
    session = uuid.uuid4().hex[:12]
    state = SQLiteStateStore(path)
    try:
        state.set_bookmark(SESSION_BOOKMARK, session)
    finally:
        state.close()
    return session, replaced


def register(app: typer.Typer) -> None:
    @app.command("sandbox")
    def sandbox(ctx: typer.Context,
                orders: int = typer.Option(500, "--orders", metavar="N",
                                           help="Orders to seed per store."),
                seed: int = typer.Option(0, "--seed", metavar="N",
                                         help="Seed of the generated data."),
                port: int = typer.Option(0, "--port", metavar="PORT",
                                         help="First port (the next ones follow); "
                                         "0 picks free ports."),
                write_config: Path = typer.Option(Path("shipsync.sandbox.toml"), "--write-config",
                                                  metavar="PATH", help="Where to write the "
                                                  "config pointing at the sandboxes."),
                force: bool = typer.Option(False, "--force", help="Overwrite the config file."),
                serve: bool = typer.Option(False, "--serve", help="Also run `shipsync serve` "
                                           "with the webhooks installed, and a merchant paying "
                                           "an order and printing its label every "
                                           "--demo-every: the whole loop, live."),
                demo_every: float = typer.Option(5.0, "--demo-every", help="Seconds between "
                                                 "the demo merchant's orders (0: none)."),
                serve_port: int = typer.Option(8080, "--serve-port",
                                               help="Port of serve with --serve (0: any)."),
                variant: Optional[list[str]] = typer.Option(
                    None, "--variant", metavar="SANDBOX.NAME=VALUE",
                    help="How an emulated API behaves where its documentation is silent "
                         "(repeatable; --list-variants shows them)."),
                list_variants: bool = typer.Option(False, "--list-variants",
                                                   help="List every sandbox's variants and "
                                                        "exit.")
                ) -> None:
        """Serve the API emulators on loopback and write a config pointing at them."""
        invocation: Invocation = ctx.obj
        if list_variants:
            print_variants(invocation)
            return
        chosen = variants_of(invocation, variant or [])
        if not 10 <= orders <= 100_000:
            invocation.fail("--orders must be between 10 and 100000")
        if write_config.exists() and not force:
            if SANDBOX_HEADER not in write_config.read_text(errors="replace")[:200]:
                invocation.fail(f"{write_config} exists and was not written by `shipsync "
                                "sandbox`; use --force or another --write-config")
        out = console()
        from ..sandboxes import SandboxSet

        state_path = write_config.parent / STATE_NAME
        try:
            _session, replaced = fresh_state(state_path)
        except FileExistsError:
            invocation.fail(f"{state_path} exists and was not made by `shipsync sandbox`: "
                            "the sandbox will not replace it; move it away, or give "
                            "--write-config in another folder")
        if serve:
            from .sandbox_serve import serve_sandbox
            from .serve import missing_libraries

            if missing_libraries():
                invocation.fail("--serve needs pip install 'shipsync[serve]'")
            with SandboxSet(invocation.host, port=port, orders=orders, seed=seed,
                            variants=chosen) as sandboxes:
                serve_sandbox(invocation, sandboxes, write_config, SANDBOX_HEADER, serve_port,
                              demo_every)
            return
        with stop_on_signals() as stop:
            sandboxes = SandboxSet(invocation.host, port=port, orders=orders, seed=seed,
                                   variants=chosen).start()
            try:
                raw = sandboxes.config(state_path=state_path)
                write_config.write_text(dump_toml(raw, header=SANDBOX_HEADER))
                for name, server in sandboxes.servers.items():
                    out.print(f"{name:<12} {server.url}", markup=False)
                out.print(f"config       {write_config}", markup=False)
                out.print(f"state        {state_path} (new for this session"
                          + (", replacing the last session's)" if replaced else ")"),
                          markup=False)
                out.print(f"try:         shipsync --config {write_config} run "
                          f"{next(iter(sorted(invocation.host.sources)), 'SOURCE')}",
                          markup=False)
                out.print("Ctrl-C to stop.")
                while not stop.wait(0.5):
                    pass
            finally:
                sandboxes.stop()


def variants_of(invocation: Invocation, texts: list[str]) -> dict[str, dict[str, str]]:
    """``--variant`` values as ``{sandbox: {name: value}}``, or exit 2 saying what is wrong."""
    from ..sandboxes import parse_variants

    try:
        return parse_variants(invocation.host, texts)
    except ValueError as exc:
        invocation.fail(str(exc))


def print_variants(invocation: Invocation) -> None:
    """Every sandbox's variants, the default (the most likely behaviour) first."""
    out = console()
    for name in sorted(invocation.host.sandboxes):
        for variant, values in sorted(invocation.host.sandboxes[name].variants.items()):
            others = ", ".join(values[1:])
            out.print(f"{name}.{variant}: {values[0]} (default)"
                      + (f"; also {others}" if others else ""), markup=False)
