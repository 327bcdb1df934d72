"""``shipsync config check`` and ``shipsync config show``."""

from __future__ import annotations

import json
from typing import Optional

import typer

from ..config import ConfigError
from ..output import console, print_json
from .invocation import EXIT_USAGE, Invocation

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Check and show the configuration.", no_args_is_help=True)

    @config_app.command("check")
    def check(
        ctx: typer.Context,
        path: Optional[str] = typer.Argument(None, help="Config file to check."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Validate a config file and report every problem with its path."""
        invocation: Invocation = ctx.obj
        try:
            config = invocation.load_config(path)
        except ConfigError as error:
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
        """Show the configuration with every secret redacted."""
        invocation: Invocation = ctx.obj
        data = invocation.config().redacted()
        if as_json:
            print_json(data)
        else:
            console().print_json(json.dumps(data, ensure_ascii=False))

    app.add_typer(config_app, name="config")
