"""``shipsync sandbox``: serve the API emulators on loopback, with a config pointing at them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..config import dump_toml
from ..output import console
from .invocation import Invocation
from .sync import stop_on_signals

__all__ = ["SANDBOX_HEADER", "print_variants", "register", "variants_of"]

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

        with stop_on_signals() as stop:
            sandboxes = SandboxSet(invocation.host, port=port, orders=orders, seed=seed,
                                   variants=chosen).start()
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
