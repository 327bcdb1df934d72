"""The ``shipsync`` command line: the app and its entry point.

The app is built by ``create_app`` (a factory, never at import time) from a
``PluginHost``, so that plugin commands are added through the
``shipsync_commands`` hook and tests can build an app from their own plugins.

Exit codes: 0 ok, 1 finished with failed records, 2 usage or config error.
"""

from __future__ import annotations

import os
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Optional

import typer

from ..config import find_config_path
from ..output import err_console
from ..plugins import PluginHost
from . import config, doctor, explain, plugins, sandbox_command, sync
from .invocation import EXIT_USAGE, Invocation

__all__ = ["create_app", "main"]


def shipsync_version() -> str:
    try:
        return version("shipsync")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def create_app(host: PluginHost | None = None) -> typer.Typer:
    """Build the CLI for ``host`` (default: plugins from the entry-point group)."""
    host = host or PluginHost.load()
    app = typer.Typer(
        name="shipsync",
        help="Move e-commerce orders into shipping software, and tracking back out.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    def show_version(value: bool) -> None:
        if value:
            typer.echo(f"shipsync {shipsync_version()}")
            raise typer.Exit()

    @app.callback()
    def root(
        ctx: typer.Context,
        config_path: Optional[str] = typer.Option(
            None, "--config", "-c",
            help="Config file (default: $SHIPSYNC_CONFIG, ./shipsync.toml)."),
        debug: bool = typer.Option(False, "--debug", help="Show stack traces on errors."),
        _version: bool = typer.Option(False, "--version", callback=show_version, is_eager=True,
                                      help="Show the version and exit."),
    ) -> None:
        ctx.obj = Invocation(host, config_path, debug)

    plugins.register(app)
    config.register(app)
    sync.register(app)
    explain.register(app)
    doctor.register(app)
    sandbox_command.register(app)

    reserved = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    reserved |= {"plugins", "config"}
    for name, spec in sorted(host.commands.entries.items()):
        if name in reserved:
            raise ValueError(
                f"plugin {host.commands.owners[name]!r} registers command {name!r}, "
                "which shipsync already has"
            )
        if isinstance(spec.command, typer.Typer):
            app.add_typer(spec.command, name=name, help=spec.help or None)
        else:
            app.command(name=name, help=spec.help or None)(spec.command)
    return app


def _disabled_in_config(argv: list[str]) -> list[str]:
    """``[plugins] disable`` must be known before plugins load, so read it early."""
    explicit = None
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            explicit = argv[i + 1]
        elif arg.startswith("--config="):
            explicit = arg.split("=", 1)[1]
    path = find_config_path(explicit)
    try:
        with Path(path).open("rb") as fh:
            disable = tomllib.load(fh).get("plugins", {}).get("disable", [])
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        return []  # reported properly once the config is loaded
    return [d for d in disable if isinstance(d, str)] if isinstance(disable, list) else []


def main(argv: list[str] | None = None) -> Any:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or bool(os.environ.get("SHIPSYNC_DEBUG"))
    try:
        host = PluginHost.load(disable=_disabled_in_config(argv))
        host.check()
        app = create_app(host)
    except Exception as exc:  # a broken plugin: say which, keep the trace for --debug
        if debug:
            raise
        out = err_console()
        out.print("Plugin error:", style="bold red", end=" ")
        out.print(str(exc), markup=False)
        sys.exit(EXIT_USAGE)
    return app(args=argv, prog_name="shipsync")
