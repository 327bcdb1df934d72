"""Fixtures shared by the core's tests: configs on disk and the real CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from shipsync.testing import record_output

# Variables that change how the CLI finds its config or styles its output.
_STYLE_VARS = ("NO_COLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE",
               "TTY_INTERACTIVE", "COLUMNS", "TERM")


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SHIPSYNC_") and k not in _STYLE_VARS}
    env.update({"PYTHONIOENCODING": "utf-8", "COLUMNS": "200"})
    env.update(extra)
    return env


@pytest.fixture
def shipsync_run(tmp_path: Path) -> Callable[..., Ran]:
    """Run ``python -m shipsync ARGS`` with stdout and stderr piped, in ``tmp_path``."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Ran:
        done = subprocess.run(
            [sys.executable, "-m", "shipsync", *args], check=False, capture_output=True, text=True,
            env=clean_env(**(env or {})), cwd=cwd or tmp_path, timeout=60,
            stdin=subprocess.DEVNULL)
        record_output(done.stdout, done.stderr)
        return Ran(done.returncode, done.stdout, done.stderr)

    return run


def minimal_config(state_path: Path, extra: str = "") -> str:
    """The smallest valid shipsync.toml, plus ``extra`` TOML appended."""
    return textwrap.dedent(f"""\
        [state]
        path = "{state_path}"

        [starshipit]
        api_key = "k"
        subscription_key = "s"

        [bigcommerce.stores.main]
        api_path = "https://api.bigcommerce.com/stores/abc123/v3/"
        access_token = "t"
        """) + textwrap.dedent(extra)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config file into ``tmp_path``: the minimal one by default."""

    def write(text: str | None = None, *, name: str = "shipsync.toml", extra: str = "") -> Path:
        path = tmp_path / name
        path.write_text(minimal_config(tmp_path / "s.db", extra) if text is None else text)
        return path

    return write
