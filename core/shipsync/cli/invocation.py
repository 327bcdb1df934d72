"""What one CLI call shares: the plugin host, the config it runs with, how errors are printed.

Every command gets an ``Invocation`` (``ctx.obj``); the commands' modules import
it, never each other or the app, so there is no import cycle.
"""

from __future__ import annotations

from typing import NoReturn

import typer

from ..config import Config, ConfigError, Problem, find_config_path, load_config, unknown_key
from ..output import err_console, print_json
from ..plugins import PluginHost
from ..state import StateError, StateStore, open_state

__all__ = ["EXIT_API", "EXIT_FAILED_RECORDS", "EXIT_INTERNAL", "EXIT_NOT_FOUND", "EXIT_OK",
           "EXIT_SIGNAL_BASE", "EXIT_USAGE",
           "Invocation"]

EXIT_OK = 0
#: The run finished, and some records failed (each is in the report).
EXIT_FAILED_RECORDS = 1
#: ``explain``/``resend``/``forget``: neither shipsync nor the source knows the order.
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
#: An API could not be reached, or refused the credentials: the run stopped. (An API that
#: answers but keeps failing stops the run with ``EXIT_FAILED_RECORDS``.)
EXIT_API = 3
#: A bug in shipsync or a plugin (an exception nothing expected): one line, the trace with --debug.
EXIT_INTERNAL = 70
#: A run cut short by a signal exits 128 + its number: 130 for SIGINT, 143 for SIGTERM.
EXIT_SIGNAL_BASE = 128


class Invocation:
    """One ``shipsync`` command line: its plugins, ``--config`` and ``--debug``."""

    def __init__(self, host: PluginHost, config_path: str | None, debug: bool) -> None:
        self.host = host
        self.config_path = config_path
        self.debug = debug
        #: Set by a command given ``--json``: its errors are printed as JSON too.
        self.as_json = False

    def load_config(self, path: str | None = None) -> Config:
        """The config, validated against every plugin's schema; raises ``ConfigError``."""
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

    def with_disabled(self, error: ConfigError) -> ConfigError:
        """A section of a disabled plugin is not an unknown key: say which plugin is off."""
        problems = []
        for problem in error.problems:
            name = unknown_key(problem) if problem.path == "$" else None
            if name and self.host.disabled_by(name):
                problem = Problem(f"$.{name}", f"the plugin {name!r} this section configures "
                                  "is disabled ([plugins] disable or $SHIPSYNC_DISABLE_PLUGINS):"
                                  " enable it, or remove the section")
            problems.append(problem)
        return ConfigError(problems, error.path)

    def config(self) -> Config:
        """The config, or exit 2 with every problem printed."""
        try:
            return self.load_config()
        except ConfigError as exc:
            self.config_error(exc)

    def state(self, config: Config) -> StateStore:
        """The state store the config names, or exit 2 saying why it cannot be opened."""
        try:
            store = open_state(config.section("state"))
        except StateError as exc:
            self.fail(str(exc))
        for warning in store.warnings:
            out = err_console()
            out.print("Warning:", style="bold yellow", end=" ")
            out.print(warning, markup=False)
        return store

    def fail(self, message: str, code: int = EXIT_USAGE, kind: str = "error") -> NoReturn:
        """Print ``Error: message`` (never read as markup), or JSON with ``--json``; exit."""
        if self.as_json:  # for programs on stdout; the line below stays for people
            print_json({"ok": False, "error": {"kind": kind, "message": message,
                                               "exit_code": code}})
        out = err_console()
        out.print("Error:", style="bold red", end=" ")
        out.print(message, markup=False)
        raise typer.Exit(code)

    def config_error(self, error: ConfigError) -> NoReturn:
        error = self.with_disabled(error)
        if self.as_json:
            print_json({"ok": False, "error": {
                "kind": "config", "message": str(error), "exit_code": EXIT_USAGE,
                "path": str(error.path) if error.path else None,
                "problems": [p.__dict__ for p in error.problems]}})
        out = err_console()
        out.print("Config error:", style="bold red", end=" ")
        out.print(str(error), markup=False)
        raise typer.Exit(EXIT_USAGE)
