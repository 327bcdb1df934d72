"""Installing plugin distributions with pip for a test, and driving the real CLI with them.

A plugin is installed with ``pip install --no-deps --target DIR`` into a folder
of its own, which the CLI subprocesses get on ``PYTHONPATH``: shipsync finds
it through the same entry-point scan (importlib.metadata over sys.path) as in
site-packages, while the shared virtual environment, and every other process
using it, never sees it. Removing the folder uninstalls it, even when the test
process was killed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import util
from importlib.metadata import version
from pathlib import Path
from typing import Any

from shipsync.sandboxes import SandboxSet
from shipsync.testing import CliResult, run_cli, write_config

REPO = Path(__file__).resolve().parents[2]
EMPTY_STORES: dict[str, Any] = {
    "orders": 0, "seed": 1,
    "per_sandbox": {"bigcommerce": {"rate_limit": None}, "starshipit": {"rate_limit": None}}}
# setuptools builds wheels without the separate `wheel` package from 70.1 on.
SELF_SUFFICIENT_SETUPTOOLS = (70, 1)


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _can_build_here() -> bool:
    if util.find_spec("setuptools") is None:
        return False
    return (util.find_spec("wheel") is not None
            or _version_tuple(version("setuptools")) >= SELF_SUFFICIENT_SETUPTOOLS)


def _clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SHIPSYNC_", "PYTEST_", "PIP_TARGET", "PYTHONPATH"))}
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Installed:
    """A distribution pip installed into ``target``."""

    project: Path
    target: Path

    @property
    def env(self) -> dict[str, str]:
        """What a subprocess needs to see the plugin: its folder on PYTHONPATH."""
        return {"PYTHONPATH": str(self.target)}


@dataclass
class PipInstaller:
    """``pip install --no-deps --no-build-isolation --target`` of plugin projects."""

    root: Path
    installed: list[Installed] = field(default_factory=list)
    _build_path: str | None = None

    def build_env(self) -> dict[str, str]:
        """A PYTHONPATH whose setuptools builds a wheel without an isolated build env.

        The virtual environment's own setuptools does when it is recent (or has
        `wheel`); otherwise a recent setuptools is fetched once per session into
        a folder of its own, which is faster than an isolated build per install.
        """
        if _can_build_here():
            return {}
        if self._build_path is None:
            tools = self.root / "build-tools"
            done = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(tools),
                 "setuptools>=70.1"], check=False, capture_output=True, text=True,
                env=_clean_env(), timeout=300, stdin=subprocess.DEVNULL)
            if done.returncode:
                raise RuntimeError(f"could not fetch setuptools to build plugins with:\n"
                                   f"{done.stdout}\n{done.stderr}")
            self._build_path = str(tools)
        return {"PYTHONPATH": self._build_path}

    def install(self, project: Path) -> Installed:
        target = self.root / f"site-{project.name}-{len(self.installed)}"
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--no-build-isolation", "--no-compile", "--target", str(target), str(project)],
            check=False, capture_output=True, text=True, env=_clean_env(self.build_env()),
            timeout=300, stdin=subprocess.DEVNULL)
        if done.returncode:
            raise RuntimeError(f"pip could not install {project}:\n{done.stdout}\n{done.stderr}")
        installed = Installed(project, target)
        self.installed.append(installed)
        return installed

    @contextmanager
    def installed_for(self, project: Path) -> Iterator[Installed]:
        """Install ``project`` for the block, uninstall it afterwards, even on failure."""
        installed = self.install(project)
        try:
            yield installed
        finally:
            self.uninstall(installed)

    def uninstall(self, installed: Installed) -> None:
        shutil.rmtree(installed.target, ignore_errors=True)
        if installed in self.installed:
            self.installed.remove(installed)

    def uninstall_all(self) -> None:
        for installed in list(self.installed):
            self.uninstall(installed)


def copy_project(source: Path, destination: Path) -> Path:
    """A copy of a project without build leftovers, so that building it never writes to
    ``source``."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    return destination


def run_pytest(project: Path, installed: Installed, *args: str) -> subprocess.CompletedProcess[str]:
    """The project's own test suite, in a subprocess that sees the installed plugin."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project, check=False, capture_output=True, text=True, env=_clean_env(installed.env),
        timeout=300, stdin=subprocess.DEVNULL)


class PluginWorld:
    """The emulators, a config and the real CLI, with some plugins installed."""

    def __init__(self, sandboxes: SandboxSet, tmp_path: Path, *installed: Installed) -> None:
        self.sandboxes = sandboxes
        self.tmp_path = tmp_path
        self.bc = sandboxes.emulator("bigcommerce")
        self.ss = sandboxes.emulator("starshipit")
        self.config_path = tmp_path / "shipsync.toml"
        self.env = {"PYTHONPATH": os.pathsep.join(str(i.target) for i in installed)}
        self.configure()

    @property
    def api_key(self) -> str:
        return str(self.sandboxes.config()["starshipit"]["api_key"])

    def configure(self, sections: dict[str, Any] | None = None,
                  store: dict[str, Any] | None = None) -> Path:
        """The sandboxes' config plus ``sections``; ``store`` updates the store ``main``."""
        data = self.sandboxes.config(self.tmp_path / "state.db")
        data.update(sections or {})
        data["bigcommerce"]["stores"]["main"].update(store or {})
        return write_config(self.config_path, data)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        return run_cli(list(args), config=self.config_path, env={**self.env, **(env or {})},
                       cwd=self.tmp_path)

    def run(self, *args: str, env: dict[str, str] | None = None,
            expect: int = 0) -> dict[str, Any]:
        """``shipsync run bigcommerce --json``; the store ``main``'s report."""
        result = self.cli("run", "bigcommerce", "--json", *args, env=env)
        assert result.code == expect, result.stderr + result.stdout
        report: dict[str, Any] = result.json()["stores"][0]
        return report

    def plugins(self, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
        result = self.cli("plugins", "--json", env=env)
        assert result.code == 0, result.stderr
        return {p["name"]: p for p in result.json()["plugins"]}

    def add_order(self, **spec: Any) -> dict[str, Any]:
        return self.bc.add_order("main", **spec)

    def starshipit_order(self, order_number: str) -> dict[str, Any]:
        order = self.ss.get_order(self.api_key, order_number)
        assert order is not None, f"{order_number} is not in Starshipit"
        return order

    def print_label(self, order_number: str) -> dict[str, Any]:
        return self.ss.print_label(self.api_key, order_number)
