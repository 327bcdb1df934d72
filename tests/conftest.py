"""Suite-wide: a secret scan over everything the test suite made shipsync print and write.

Every CLI run's output goes to a transcript (``shipsync.testing.record_output``);
at the end of the session the transcript and every file the tests wrote under
pytest's temporary directory (except config files, where secrets belong) are
searched for the credentials the sandboxes and tests use. A hit fails the run.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from shipsync.testing import TRANSCRIPT_ENV

# The slow tests (kills at 50 points, faults of every kind) run with --slow or this set;
# .ci/run sets it, so CI runs everything while a developer's `pytest` stays quick.
SLOW_ENV = "SHIPSYNC_SLOW"

# Credentials of the sandboxes (plugins' sandbox_spec) and of tests' canaries.
SECRETS = ("sandbox-token-", "sandbox-api-key", "sandbox-subscription-key", "CANARY-SECRET",
           "sandbox-webhook-secret", "sandbox-client-secret")
CONFIG_SUFFIXES = (".toml",)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true",
                     help=f"also run the tests marked slow (or set ${SLOW_ENV}; CI does)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow") or os.environ.get(SLOW_ENV):
        return
    skip = pytest.mark.skip(reason=f"slow: run with --slow or ${SLOW_ENV}=1 (CI runs it)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get(TRANSCRIPT_ENV):
        handle, path = tempfile.mkstemp(prefix="shipsync-transcript-", suffix=".txt")
        os.close(handle)
        os.environ[TRANSCRIPT_ENV] = path
        config._shipsync_transcript = path  # type: ignore[attr-defined]


def _leaks_in(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except OSError:
        return []
    return [s for s in SECRETS if s.encode() in data]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    transcript = getattr(session.config, "_shipsync_transcript", None)
    if not transcript:
        return
    leaks: list[str] = []
    found = _leaks_in(Path(transcript))
    if found:
        leaks.append(f"CLI output: {', '.join(found)}")
    factory = getattr(session.config, "_tmp_path_factory", None)
    base = factory.getbasetemp() if factory is not None else None
    scanned = 0
    if base and base.exists():
        for path in base.rglob("*"):
            if path.is_file() and not path.name.endswith(CONFIG_SUFFIXES):
                scanned += 1
                found = _leaks_in(path)
                if found:
                    leaks.append(f"{path}: {', '.join(found)}")
    os.unlink(transcript)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write("\n")
        size = "no" if not leaks else str(len(leaks))
        reporter.write_line(f"secret scan: {scanned} files and every CLI output, {size} leak(s)")
    if leaks:
        if reporter is not None:
            for leak in leaks:
                reporter.write_line(f"SECRET LEAK: {leak}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
