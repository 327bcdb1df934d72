"""``shipsync plugins`` (list, new) and ``shipsync schema``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.text import Text

from ..config import compose_schema
from ..output import console, err_console, print_json
from .invocation import EXIT_USAGE, Invocation

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    plugins_app = typer.Typer(help="The loaded plugins.", invoke_without_command=True,
                              rich_markup_mode=None)

    @plugins_app.callback()
    def plugins(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """List loaded plugins: distribution, version, hooks and components."""
        if ctx.invoked_subcommand:
            return
        invocation: Invocation = ctx.obj
        invocation.as_json = as_json
        infos = invocation.host.describe()
        disabled = sorted(invocation.host.disabled)
        if as_json:
            print_json({"plugins": [info.__dict__ for info in infos], "disabled": disabled})
            return
        # Lines, never a table: the names are what `[plugins] disable` and the config need,
        # so none is cut to fit a column, at any width and in a pipe.
        out = console()
        for info in infos:
            where = " ".join(x for x in (info.distribution, info.version) if x) or info.module
            out.print(f"{info.name}  ({where})", style="bold", markup=False, highlight=False)
            rows = [("hooks", info.hooks), *info.components.items()]
            width = max(len(kind) for kind, _ in rows) + 1
            for kind, names in rows:
                # Wrapped between names, never inside one, and never cut.
                out.print(Text(f"  {kind + ':':<{width}} {', '.join(names)}"),
                          soft_wrap=not sys.stdout.isatty(), crop=False)
        if disabled:
            out.print(f"disabled: {', '.join(disabled)}", markup=False)

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
        from .. import scaffold  # only this command needs the templates

        invocation: Invocation = ctx.obj
        try:
            created = scaffold.create_plugin(name, path=path, kind=kind,
                                             taken=scaffold.taken_names(invocation.host),
                                             emulated=scaffold.emulated_in(invocation.host),
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
        invocation: Invocation = ctx.obj
        print_json(compose_schema(invocation.host.config_schemas.values()))
