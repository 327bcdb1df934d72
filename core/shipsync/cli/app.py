"""The ``shipsync`` command line: the app and its entry point.

The app is built by ``create_app`` (a factory, never at import time) from a
``PluginHost``, so that plugin commands are added through the
``shipsync_commands`` hook and tests can build an app from their own plugins.

Exit codes: 0 ok; 1 finished with failed records, or stopped by an API that kept
failing or a state failure (or ``explain`` of an order shipsync and the source do
not know); 2 usage or config error; 3 could not reach or authenticate with an API
(the run stopped; the next one goes on from there); 70 an unexpected error (a bug:
one line, the trace with --debug); 130 a run cut short by SIGINT, 143 by SIGTERM.

The root options (``--config``, ``--debug``) may come before or after the command:
``shipsync run bigcommerce --config my.toml`` is ``shipsync --config my.toml run
bigcommerce``.
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
from ..plugins import DISABLE_ENV, PluginHost, disabled_from_env, installed_plugin_names
from . import config, dashboard, doctor, explain, orders, plugins, sandbox_command, serve, sync
from .invocation import EXIT_INTERNAL, EXIT_USAGE, Invocation

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
        rich_markup_mode=None,  # plain help: flags without a "<bool>" type beside them
    )

    def show_version(value: bool) -> None:
        if value:
            typer.echo(f"shipsync {shipsync_version()}")
            raise typer.Exit()

    @app.callback()
    def root(
        ctx: typer.Context,
        config_path: Optional[str] = typer.Option(
            None, "--config", "-c", metavar="PATH",
            help="Config file (default: $SHIPSYNC_CONFIG, ./shipsync.toml); before or "
                 "after the command."),
        debug: bool = typer.Option(False, "--debug", help="Show stack traces on errors."),
        _version: bool = typer.Option(False, "--version", callback=show_version, is_eager=True,
                                      help="Show the version and exit."),
    ) -> None:
        ctx.obj = Invocation(host, config_path, debug)

    plugins.register(app)
    config.register(app)
    sync.register(app)
    explain.register(app)
    orders.register(app)
    doctor.register(app)
    sandbox_command.register(app)
    dashboard.register(app)
    serve.register(app)

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


ROOT_VALUE_OPTIONS = ("--config", "-c")
ROOT_FLAGS = ("--debug",)


def hoist_root_options(argv: list[str]) -> list[str]:
    """Move ``--config PATH`` and ``--debug`` given after the command before it."""
    command_at = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ROOT_VALUE_OPTIONS:
            i += 2
            continue
        if not arg.startswith("-"):
            command_at = i
            break
        i += 1
    if command_at is None:
        return argv
    head, tail, rest = argv[:command_at], [], argv[command_at:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            tail.extend(rest[i:])
            break
        if arg in ROOT_VALUE_OPTIONS and i + 1 < len(rest):
            head += [arg, rest[i + 1]]
            i += 2
            continue
        if arg.startswith("--config=") or arg in ROOT_FLAGS:
            head.append(arg)
        else:
            tail.append(arg)
        i += 1
    return head + tail


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
    except (OSError, tomllib.TOMLDecodeError, AttributeError, RecursionError):
        return []  # reported properly once the config is loaded
    return [d for d in disable if isinstance(d, str)] if isinstance(disable, list) else []


def _warn_unknown_disabled(host: PluginHost, in_config: list[str]) -> None:
    """A disabled name no installed plugin has is a typo or a plugin gone: say so."""
    unknown = host.unknown_disabled()
    if not unknown:
        return
    env = disabled_from_env()
    out = err_console()
    for name in unknown:
        where = " and ".join(w for w, names in (("[plugins] disable", in_config),
                                                (f"${DISABLE_ENV}", env)) if name in names)
        out.print("Warning:", style="bold yellow", end=" ")
        out.print(f"{where} names {name!r}, which is not an installed plugin (installed: "
                  f"{', '.join(sorted(installed_plugin_names())) or 'none'})", markup=False)


def main(argv: list[str] | None = None) -> Any:
    argv = hoist_root_options(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in argv or bool(os.environ.get("SHIPSYNC_DEBUG"))
    try:
        in_config = _disabled_in_config(argv)
        host = PluginHost.load(disable=in_config)
        host.check()
        app = create_app(host)
    except Exception as exc:  # a broken plugin: say which, keep the trace for --debug
        if debug:
            raise
        out = err_console()
        out.print("Plugin error:", style="bold red", end=" ")
        out.print(str(exc), markup=False)
        sys.exit(EXIT_USAGE)
    _warn_unknown_disabled(host, in_config)
    try:
        return app(args=argv, prog_name="shipsync")
    except Exception as exc:  # noqa: BLE001 - a bug: one line, never a trace without --debug
        if debug:
            raise
        # Only the type: an exception's text may quote what it was given (a header, a token).
        out = err_console()
        out.print("Error:", style="bold red", end=" ")
        out.print(f"unexpected {type(exc).__name__}; run again with --debug for the details, "
                  "and report it if it persists (what was done is kept)", markup=False)
        sys.exit(EXIT_INTERNAL)
