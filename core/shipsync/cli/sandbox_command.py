"""``shipsync sandbox``: serve the API emulators on loopback, with a config pointing at them."""

from __future__ import annotations

from pathlib import Path

import typer

from ..config import dump_toml
from ..output import console
from .invocation import Invocation
from .sync import stop_on_signals

__all__ = ["SANDBOX_HEADER", "register"]

SANDBOX_HEADER = "Written by `shipsync sandbox`: points shipsync at the local emulators."


def register(app: typer.Typer) -> None:
    @app.command("sandbox")
    def sandbox(ctx: typer.Context,
                orders: int = typer.Option(500, "--orders", help="Orders to seed per store."),
                seed: int = typer.Option(0, "--seed", help="Seed of the generated data."),
                port: int = typer.Option(0, "--port", help="First port (the next ones follow); "
                                         "0 picks free ports."),
                write_config: Path = typer.Option(Path("shipsync.sandbox.toml"), "--write-config",
                                                  help="Where to write the config pointing at "
                                                  "the sandboxes."),
                force: bool = typer.Option(False, "--force", help="Overwrite the config file."),
                serve: bool = typer.Option(False, "--serve", help="Also run `shipsync serve` "
                                           "with the webhooks installed, and a merchant paying "
                                           "an order and printing its label every "
                                           "--demo-every: the whole loop, live."),
                demo_every: float = typer.Option(5.0, "--demo-every", help="Seconds between "
                                                 "the demo merchant's orders (0: none)."),
                serve_port: int = typer.Option(8080, "--serve-port",
                                               help="Port of serve with --serve (0: any).")
                ) -> None:
        """Serve the API emulators on loopback and write a config pointing at them."""
        invocation: Invocation = ctx.obj
        if not 10 <= orders <= 100_000:
            invocation.fail("--orders must be between 10 and 100000")
        if write_config.exists() and not force:
            if SANDBOX_HEADER not in write_config.read_text(errors="replace")[:200]:
                invocation.fail(f"{write_config} exists and was not written by `shipsync "
                                "sandbox`; use --force or another --write-config")
        out = console()
        from ..sandboxes import SandboxSet

        if serve:
            from .sandbox_serve import serve_sandbox
            from .serve import missing_libraries

            if missing_libraries():
                invocation.fail("--serve needs pip install 'shipsync[serve]'")
            with SandboxSet(invocation.host, port=port, orders=orders, seed=seed) as sandboxes:
                serve_sandbox(invocation, sandboxes, write_config, SANDBOX_HEADER, serve_port,
                              demo_every)
            return
        with stop_on_signals() as stop:
            sandboxes = SandboxSet(invocation.host, port=port, orders=orders, seed=seed).start()
            try:
                state_path = write_config.parent / "shipsync-sandbox.db"
                raw = sandboxes.config(state_path=state_path)
                write_config.write_text(dump_toml(raw, header=SANDBOX_HEADER))
                for name, server in sandboxes.servers.items():
                    out.print(f"{name:<12} {server.url}", markup=False)
                out.print(f"config       {write_config}", markup=False)
                out.print(f"try:         shipsync --config {write_config} run "
                          f"{next(iter(sorted(invocation.host.sources)), 'SOURCE')}",
                          markup=False)
                out.print("Ctrl-C to stop.")
                while not stop.wait(0.5):
                    pass
            finally:
                sandboxes.stop()
