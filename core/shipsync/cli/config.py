"""``shipsync config check`` and ``shipsync config show``."""

from __future__ import annotations

import os
from typing import Any, Optional

import typer

from ..config import (
    ConfigError,
    Problem,
    compose_schema,
    find_config_path,
    read_toml,
    redact,
    toml_key,
    toml_value,
    with_defaults,
)
from ..records import format_path
from ..output import console, print_json
from .invocation import EXIT_USAGE, Invocation

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Check and show the configuration.", no_args_is_help=True,
                             rich_markup_mode=None)

    @config_app.command("check")
    def check(
        ctx: typer.Context,
        path: Optional[str] = typer.Argument(None, metavar="[PATH]",
                                                       help="Config file to check."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Validate a config file and report every problem with its path."""
        invocation: Invocation = ctx.obj
        invocation.as_json = as_json
        try:
            config = invocation.load_config(path)
        except ConfigError as error:
            error = invocation.with_disabled(error)
            if as_json:
                print_json({"ok": False, "path": str(error.path),
                            "problems": [p.__dict__ for p in error.problems]})
                raise typer.Exit(EXIT_USAGE) from None
            invocation.config_error(error)
        if as_json:
            print_json({"ok": True, "path": str(config.path)})
        else:
            console().print(f"{config.path}: OK")

    @config_app.command("show")
    def show(
        ctx: typer.Context,
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Show the configuration: secrets redacted, defaults filled in and marked, problems marked.

        An environment variable a secret is read from but which is not set shows as
        ``<from $NAME: not set>``; every problem ``config check`` would report is
        marked where it is, and listed at the end.
        """
        invocation: Invocation = ctx.obj
        invocation.as_json = as_json
        path = find_config_path(invocation.config_path)
        try:
            raw = read_toml(path)
        except ConfigError as exc:
            invocation.config_error(exc)
        schema = compose_schema(invocation.host.config_schemas.values())
        shown, defaults = with_defaults(redact(raw, schema, os.environ), schema)
        try:
            invocation.load_config()
            problems: list[Problem] = []
        except ConfigError as exc:
            problems = invocation.with_disabled(exc).problems
        if as_json:
            print_json({**shown, "_path": str(path),
                        "_defaults": [format_path(p) for p in defaults],
                        "_problems": [p.__dict__ for p in problems]})
            return
        out = console()
        out.print(f"# {path}", markup=False)
        out.print(render_toml(shown, {format_path(p) for p in defaults}, problems),
                  markup=False)
        if problems:
            out.print(f"\n{len(problems)} problem(s), marked above:", markup=False)
            for problem in problems:
                out.print(f"  {problem}", markup=False)

    app.add_typer(config_app, name="config")


def render_toml(data: dict[str, Any], defaults: set[str], problems: list[Problem]) -> str:
    """The config as TOML, each default marked ``# default`` and each problem where it is."""
    by_path: dict[str, list[str]] = {}
    for problem in problems:
        by_path.setdefault(problem.path, []).append(problem.message)
    placed: set[str] = set()
    lines: list[str] = []

    def mark(path: str) -> str:
        notes = (["default"] if path in defaults else []) + [
            f"problem: {m}" for m in by_path.get(path, [])]
        if path in by_path:
            placed.add(path)
        return f"  # {'; '.join(notes)}" if notes else ""

    def table(prefix: tuple[str, ...], node: dict[str, Any]) -> None:
        scalars = {k: v for k, v in node.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in node.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            lines.append("")
            lines.append("[" + ".".join(toml_key(p) for p in prefix) + "]"
                         + mark(format_path(prefix)))
        for key, value in scalars.items():
            lines.append(f"{toml_key(key)} = {toml_value(value)}"
                         + mark(format_path(prefix + (key,))))
        for key, value in tables.items():
            table(prefix + (key,), value)

    table((), data)
    # A problem whose key is not in the file (a required key missing) is marked at its table.
    for path, messages in by_path.items():
        if path not in placed:
            lines.append(f"# {path}: " + "; ".join(f"problem: {m}" for m in messages))
    return "\n".join(lines).lstrip("\n")
