"""The ``shipsync.testing`` pytest plugin: sandbox fixtures for shipsync and its plugins.

Installed with shipsync (entry point ``pytest11``), so a third-party plugin's
tests get these fixtures without any conftest:

- ``shipsync_host``: a fresh ``PluginHost`` loaded from the entry points.
- ``sandbox_options``: the options the sandboxes are created with; override
  this fixture to seed more orders or turn rate limits on.
- ``sandbox_variants``: how each emulated API behaves where its documentation is
  silent, ``{sandbox: {name: value}}`` (default: the most likely behaviour, or
  what ``pytest --sandbox-variant SANDBOX.NAME=VALUE`` chose, for the whole run);
  override or parametrize it (``variant_cases(host)`` lists every non-default one).
- ``sandboxes``: every registered API emulator, started on loopback for the test.
- ``shipsync_config``: a shipsync.toml (in the test's tmp_path) pointing at them.
- ``shipsync_cli``: runs the real ``shipsync`` command in a subprocess with that
  config; returns a ``CliResult`` (``code``, ``stdout``, ``stderr``, ``json()``).
- ``misbehaving_server``: starts a ``MisbehavingServer`` (``shipsync.misbehaving``)
  in front of an emulator's URL, or alone: it forwards every request except
  those matching its rules, which get a redirect, a wrong answer, a trickle, an
  endless or huge body, or no answer at all; stopped after the test.

Conformance suites (``shipsync.conformance``) that a plugin's tests subclass:
``MapperConformance``, ``SourceConformance`` and ``SinkConformance``, with
``canonical_orders()`` (their corpus) and ``no_network()``.

Emulators run in the test process, so a test can set state up through their
Python API (``sandboxes.emulator("bigcommerce").add_order(...)``), run the CLI
against them over real HTTP, and check what arrived. ``sandboxes.source_emulator``
and ``sandboxes.sink_emulator`` give an emulator typed as what any source's or
sink's emulator offers (``shipsync.sandbox.SourceEmulator``, ``SinkEmulator``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

# The conformance suites assert in a module of their own: let pytest explain their failures.
pytest.register_assert_rewrite("shipsync.conformance")

from .config import dump_toml  # noqa: E402
from .misbehaving import Misbehaviour, MisbehavingServer  # noqa: E402
from .conformance import (  # noqa: E402
    MapperConformance,
    NetworkBlocked,
    SinkConformance,
    SourceConformance,
    canonical_orders,
    no_network,
)
from .plugins import PluginHost  # noqa: E402
from .sandbox import SinkEmulator, SourceEmulator  # noqa: E402
from .sandboxes import SandboxSet, parse_variants, variant_cases  # noqa: E402

__all__ = [
    "record_output",
    "CliResult",
    "MapperConformance",
    "Misbehaviour",
    "MisbehavingServer",
    "NetworkBlocked",
    "SandboxSet",
    "SinkConformance",
    "SinkEmulator",
    "SourceConformance",
    "SourceEmulator",
    "canonical_orders",
    "no_network",
    "run_cli",
    "variant_cases",
    "write_config",
]

VARIANT_OPTION = "--sandbox-variant"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(VARIANT_OPTION, action="append", default=[],
                     metavar="SANDBOX.NAME=VALUE",
                     help="run the sandboxes of every test with this behaviour of an emulated "
                          "API (repeatable; `shipsync sandbox --list-variants` lists them)")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str
    args: list[str]

    def json(self) -> Any:
        try:
            return json.loads(self.stdout)
        except ValueError:
            raise AssertionError(f"`shipsync {' '.join(self.args)}` did not print JSON "
                                 f"(exit {self.code}):\n{self.stdout}\n{self.stderr}") from None


def run_cli(args: list[str], *, config: Path | None = None, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 300.0) -> CliResult:
    """Run ``python -m shipsync ARGS`` (the real CLI) in a subprocess."""
    command = [sys.executable, "-m", "shipsync"]
    if config is not None:
        command += ["--config", str(config)]
    command += list(args)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")}
    environment.update({"NO_COLOR": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8"})
    environment.update(env or {})
    done = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    record_output(done.stdout, done.stderr)
    return CliResult(done.returncode, done.stdout, done.stderr, list(args))


TRANSCRIPT_ENV = "SHIPSYNC_TEST_TRANSCRIPT"


def record_output(*texts: str) -> None:
    """Append what a CLI run printed to ``$SHIPSYNC_TEST_TRANSCRIPT``, if set.

    A test suite sets it to scan everything it made shipsync print (for secrets).
    """
    path = os.environ.get(TRANSCRIPT_ENV)
    if path:
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as fh:
            for text in texts:
                fh.write(text)
                fh.write("\n")


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(dump_toml(data, header="written by shipsync.testing"))
    return path


@pytest.fixture
def shipsync_host() -> PluginHost:
    return PluginHost.load()


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """Small, fast sandboxes: 20 seeded orders and no rate limits.

    Every option goes to every sandbox's ``create``; ``per_sandbox`` maps a
    sandbox's name to options for it alone.
    """
    return {"orders": 20, "seed": 1, "rate_limit": None}


@pytest.fixture
def sandbox_variants(request: pytest.FixtureRequest,
                     shipsync_host: PluginHost) -> dict[str, dict[str, str]]:
    """How each emulated API behaves: ``--sandbox-variant``'s choice, else the likely way."""
    try:
        return parse_variants(shipsync_host, request.config.getoption(VARIANT_OPTION) or [])
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


@pytest.fixture
def sandboxes(shipsync_host: PluginHost, sandbox_options: dict[str, Any],
              sandbox_variants: dict[str, dict[str, str]]) -> Iterator[SandboxSet]:
    options = dict(sandbox_options)
    per_sandbox = options.pop("per_sandbox", None)
    with SandboxSet(shipsync_host, per_sandbox=per_sandbox, variants=sandbox_variants,
                    **options) as running:
        yield running


@pytest.fixture
def shipsync_config(tmp_path: Path, sandboxes: SandboxSet) -> Path:
    return write_config(tmp_path / "shipsync.toml", sandboxes.config(tmp_path / "state.db"))


@pytest.fixture
def shipsync_cli(shipsync_config: Path, tmp_path: Path) -> Callable[..., CliResult]:
    def run(*args: str, env: dict[str, str] | None = None, config: Path | None = None,
            timeout: float = 300.0) -> CliResult:
        return run_cli(list(args), config=config or shipsync_config, env=env, cwd=tmp_path,
                       timeout=timeout)

    return run


@pytest.fixture
def misbehaving_server() -> Iterator[Callable[..., MisbehavingServer]]:
    """``start(upstream_url=None, accept_delay=0.0)``: a running ``MisbehavingServer``."""
    started: list[MisbehavingServer] = []

    def start(upstream: str | None = None, *, accept_delay: float = 0.0) -> MisbehavingServer:
        server = MisbehavingServer(upstream, accept_delay=accept_delay).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
