"""The ``shipsync`` command line.

The app is built by ``create_app`` (a factory, never at import time) from a
``PluginHost``, so that plugin commands are added through the
``shipsync_commands`` hook and tests can build an app from their own plugins.

Exit codes: 0 ok, 1 finished with failed records, 2 usage or config error.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from . import commands_run
from .config import Config, ConfigError, Problem, compose_schema, find_config_path, load_config
from .output import console, err_console, print_json
from .plugins import PluginHost

__all__ = ["create_app", "main", "EXIT_OK", "EXIT_FAILED_RECORDS", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_FAILED_RECORDS = 1
EXIT_USAGE = 2


def shipsync_version() -> str:
    try:
        return version("shipsync")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


class State:
    """Per-invocation context shared by the commands."""

    def __init__(self, host: PluginHost, config_path: str | None, debug: bool) -> None:
        self.host = host
        self.config_path = config_path
        self.debug = debug

    def load_config(self, path: str | None = None) -> Config:
        config = load_config(find_config_path(path or self.config_path),
                             self.host.config_schemas.values())
        problems = [
            Problem(f"$.mapping.mappers[{i}]", f"no installed plugin provides a mapper named "
                    f"{name!r} (installed: {', '.join(sorted(self.host.mappers)) or 'none'})")
            for i, name in enumerate(config.section("mapping").get("mappers") or [])
            if name not in self.host.mappers
        ]
        if problems:
            raise ConfigError(problems, config.path)
        return config


def fail_config(error: ConfigError) -> None:
    out = err_console()
    out.print("Config error:", style="bold red", end=" ")
    out.print(str(error), markup=False)
    raise typer.Exit(EXIT_USAGE)


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
        config: Optional[str] = typer.Option(
            None, "--config", "-c",
            help="Config file (default: $SHIPSYNC_CONFIG, ./shipsync.toml)."),
        debug: bool = typer.Option(False, "--debug", help="Show stack traces on errors."),
        _version: bool = typer.Option(False, "--version", callback=show_version, is_eager=True,
                                      help="Show the version and exit."),
    ) -> None:
        ctx.obj = State(host, config, debug)

    _add_plugins_commands(app)
    _add_config_commands(app)
    commands_run.register(app)

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


# --------------------------------------------------------------------------- plugins


def _add_plugins_commands(app: typer.Typer) -> None:
    plugins_app = typer.Typer(help="The loaded plugins.", invoke_without_command=True)

    @plugins_app.callback()
    def plugins(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """List loaded plugins: distribution, version, hooks and components."""
        if ctx.invoked_subcommand:
            return
        state: State = ctx.obj
        infos = state.host.describe()
        if as_json:
            print_json({"plugins": [info.__dict__ for info in infos]})
            return
        table = Table(title="shipsync plugins")
        for column in ("plugin", "distribution", "version", "hooks", "components"):
            table.add_column(column)
        for info in infos:
            components = "\n".join(f"{k}: {', '.join(v)}" for k, v in info.components.items())
            table.add_row(info.name, info.distribution or "-", info.version or "-",
                          "\n".join(info.hooks), components)
        console().print(table)

    @plugins_app.command("new")
    def new(
        ctx: typer.Context,
        name: str = typer.Argument(
            ..., metavar="NAME",
            help="The plugin's name (e.g. gift-note): its entry point, component and "
                 "directory; the distribution is shipsync-NAME."),
        path: Path = typer.Option(Path("."), "--path", help="Where to create the NAME/ directory."),
        kind: str = typer.Option("mapper", "--kind", help="What it gives: mapper, policy or sink."),
        source: Optional[str] = typer.Option(
            None, "--source", metavar="NAME",
            help="The source whose emulator the plugin's tests import orders from. Default: "
                 "the installed source with a sandbox (with several, the alphabetically first)."),
        sink: Optional[str] = typer.Option(
            None, "--sink", metavar="NAME",
            help="The sink whose emulator a mapper's or policy's tests send orders to. Default: "
                 "the installed sink with a sandbox (with several, the alphabetically first)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Scaffold a plugin project: pyproject with the entry point, hooks, config schema, tests."""  # noqa: E501 - one line: --help lists it
        from . import scaffold  # only this command needs the templates

        state: State = ctx.obj
        try:
            created = scaffold.create_plugin(name, path=path, kind=kind,
                                             taken=scaffold.taken_names(state.host),
                                             emulated=scaffold.emulated_in(state.host),
                                             source=source, sink=sink)
        except scaffold.ScaffoldError as exc:
            out = err_console()
            out.print("Cannot create the plugin:", style="bold red", end=" ")
            out.print(str(exc), markup=False)
            raise typer.Exit(EXIT_USAGE) from None
        files = [str(f.relative_to(created.root)) for f in created.files]
        if as_json:
            print_json({"path": str(created.root.resolve()), "name": created.names.name,
                        "distribution": created.names.distribution,
                        "package": created.names.package, "kind": created.kind,
                        "source": created.source, "sink": created.sink, "files": files})
            return
        out = console()
        out.print(f"Created the {created.kind} plugin {created.names.name!r} "
                  f"(distribution {created.names.distribution}) in {created.root}:", markup=False)
        for file in files:
            out.print(f"  {file}", markup=False)
        out.print(f"Its tests run against the emulator of the source {created.source}"
                  + (f" and of the sink {created.sink}." if created.sink else "."), markup=False)
        out.print("Next:", markup=False)
        out.print(f"  cd {created.root}\n  pip install -e '.[test]'\n  pytest\n"
                  f"  shipsync plugins        # lists {created.names.name}", markup=False)

    app.add_typer(plugins_app, name="plugins")

    @app.command("schema")
    def schema(ctx: typer.Context) -> None:
        """Print the composed JSON Schema of shipsync.toml (core and every plugin)."""
        state: State = ctx.obj
        print_json(compose_schema(state.host.config_schemas.values()))


# --------------------------------------------------------------------------- config


def _add_config_commands(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Check and show the configuration.", no_args_is_help=True)

    @config_app.command("check")
    def check(
        ctx: typer.Context,
        path: Optional[str] = typer.Argument(None, help="Config file to check."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Validate a config file and report every problem with its path."""
        state: State = ctx.obj
        try:
            config = state.load_config(path)
        except ConfigError as error:
            if as_json:
                print_json({"ok": False, "path": str(error.path),
                            "problems": [p.__dict__ for p in error.problems]})
                raise typer.Exit(EXIT_USAGE) from None
            fail_config(error)
            return
        if as_json:
            print_json({"ok": True, "path": str(config.path)})
        else:
            console().print(f"{config.path}: OK")

    @config_app.command("show")
    def show(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Show the configuration with every secret redacted."""
        state: State = ctx.obj
        try:
            config = state.load_config()
        except ConfigError as error:
            fail_config(error)
            return
        data = config.redacted()
        if as_json:
            print_json(data)
        else:
            console().print_json(json.dumps(data, ensure_ascii=False))

    app.add_typer(config_app, name="config")


# --------------------------------------------------------------------------- entry point


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
