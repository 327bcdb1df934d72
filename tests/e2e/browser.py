"""A real browser for the status page's tests, and the page served by the real CLI.

Chromium comes from the system's packages (``apt-get install chromium``) and is
driven by Playwright for Python with that executable: Playwright's own browser
download is never used. Where either is missing the tests skip with the reason;
with ``$SHIPSYNC_REQUIRE_BROWSER`` set (``.ci/run`` sets it) that is a failure.
``$SHIPSYNC_CHROMIUM`` points at another Chromium.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import pytest
from shipsync.testing import record_output

REQUIRE_ENV = "SHIPSYNC_REQUIRE_BROWSER"
CHROMIUM_ENV = "SHIPSYNC_CHROMIUM"
SCREENSHOTS_ENV = "SHIPSYNC_SCREENSHOTS"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    return os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or "/usr/bin/chromium"


def require_browser() -> None:
    """Skip the calling module (or fail, under ``$SHIPSYNC_REQUIRE_BROWSER``) without one."""
    problem = ""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "Playwright for Python is not installed (pip install -e '.[test]')"
    if not problem and not os.access(chromium_path(), os.X_OK):
        problem = f"no Chromium at {chromium_path()} (apt-get install chromium)"
    if problem:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"${REQUIRE_ENV} is set but {problem}", pytrace=False)
        pytest.skip(f"the status page's browser tests need a browser: {problem}",
                    allow_module_level=True)


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


class DashboardProcess:
    """``shipsync dashboard --port 0`` in a subprocess; ``url`` is what it printed."""

    def __init__(self, config: Path, cwd: Path, *args: str,
                 env: dict[str, str] | None = None) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")}
        environment.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", **(env or {})})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shipsync", "--config", str(config), "dashboard",
             "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True, env=environment, cwd=cwd)
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.process.stdout, self.lines.put),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.process.stderr, self.stderr.append),
                         daemon=True).start()
        self.url = ""

    @staticmethod
    def _pump(stream: IO[str] | None, put: Any) -> None:
        assert stream is not None
        for line in stream:
            put(line)

    def wait_started(self, timeout: float = 30.0) -> str:
        """The page's address, once the process has bound its socket."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise AssertionError("shipsync dashboard printed no address: "
                                 + "".join(self.stderr)) from None
        assert line.startswith("status page: http://"), line + "".join(self.stderr)
        self.url = line.split(": ", 1)[1].strip()
        return self.url

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        record_output("".join(self.stderr))
        return self.process.returncode
