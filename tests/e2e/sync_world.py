"""The two emulators, the config and the CLI of one end-to-end test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shipsync.sandboxes import SandboxSet
from shipsync.testing import CliResult, run_cli, write_config

API_KEY = "sandbox-api-key"


class World:
    """The two emulators, the config, and the CLI, for one test."""

    def __init__(self, sandboxes: SandboxSet, tmp_path: Path) -> None:
        self.sandboxes = sandboxes
        self.tmp_path = tmp_path
        self.bc = sandboxes.emulator("bigcommerce")
        self.ss = sandboxes.emulator("starshipit")
        self.config_path = tmp_path / "shipsync.toml"
        self.configure()

    def configure(self, stores: dict[str, dict[str, Any]] | None = None, **main: Any) -> Path:
        """Write the config; ``main`` overrides the main store's settings."""
        data = self.sandboxes.config(self.tmp_path / "state.db")
        for name, settings in (stores or {}).items():
            data["bigcommerce"]["stores"].setdefault(name, {}).update(settings)
        data["bigcommerce"]["stores"]["main"].update(main)
        return write_config(self.config_path, data)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        return run_cli(list(args), config=self.config_path, env=env, cwd=self.tmp_path)

    def run(self, *args: str, expect: int = 0) -> dict[str, Any]:
        """``shipsync run bigcommerce --json ARGS``; returns the main store's report."""
        result = self.cli("run", "bigcommerce", "--json", *args)
        assert result.code == expect, result.stderr + result.stdout
        return result.json()["stores"][0]

    def add_order(self, **spec: Any) -> dict[str, Any]:
        return self.bc.add_order("main", **spec)

    def starshipit_orders(self) -> dict[str, dict[str, Any]]:
        return {o["order_number"]: o for o in self.ss.orders(API_KEY)}

    def print_label(self, order_number: str, **kwargs: Any) -> dict[str, Any]:
        return self.ss.print_label(API_KEY, order_number, **kwargs)
