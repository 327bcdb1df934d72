"""``shipsync serve`` as a real process against the emulators, for the end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import requests
from shipsync.testing import record_output
from sync_world import World

SERVE_URL = re.compile(r"listening on (http://\S+)")


class Served:
    """One ``shipsync serve`` process for a world, with the emulators pointed at it."""

    def __init__(self, world: World, *, install: bool = True, tracking: bool = True,
                 **serve: Any) -> None:
        self.world = world
        settings = {"port": 0, "poll_every": "10m", "labels_every": "1m",
                    "batch_window": 0.05, "shutdown_grace": "10s", **serve}
        data_path = world.configure()
        self.add_serve_section(data_path, settings)
        self.log_path = world.tmp_path / f"serve-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")}
        environment.update({"NO_COLOR": "1", "COLUMNS": "200"})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shipsync", "--config", str(world.config_path), "serve"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=environment, cwd=world.tmp_path)
        self.url = self._wait_for_url()
        if install:
            result = world.cli("webhooks", "install", "bigcommerce", "--url", self.url)
            assert result.code == 0, result.stderr + result.stdout
        if tracking:
            world.ss.set_webhook(world.ss.accounts()[0][0], f"{self.url}/webhooks/starshipit",
                                 "sandbox-webhook-secret-key")

    @staticmethod
    def add_serve_section(path: Path, settings: dict[str, Any]) -> None:
        lines = ["", "[serve]"]
        for key, value in settings.items():
            lines.append(f"{key} = {value!r}".replace("'", '"') if isinstance(value, str)
                         else f"{key} = {value}")
        with path.open("a") as fh:
            fh.write("\n".join(lines) + "\n")

    def _wait_for_url(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = SERVE_URL.search(self.output())
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                raise AssertionError(f"shipsync serve exited {self.process.returncode}:\n"
                                     f"{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"shipsync serve did not start:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def post(self, path: str, body: bytes | str, headers: dict[str, str] | None = None,
             timeout: float = 10.0) -> requests.Response:
        data = body.encode() if isinstance(body, str) else body
        return requests.post(f"{self.url}{path}", data=data, headers=headers or {},
                             timeout=timeout)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=10, **kwargs)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of a metric's samples whose labels include ``labels``."""
        total = 0.0
        for line in self.get("/metrics").text.splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            head, _, value = line.rpartition(" ")
            metric, _, label_text = head.partition("{")
            if metric != name:
                continue
            pairs = dict(re.findall(r'(\w+)="([^"]*)"', label_text))
            if all(pairs.get(k) == v for k, v in labels.items()):
                total += float(value)
        return total

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._log.close()
            record_output(self.output())
        return code


def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """The first truthy value of ``check()`` within ``timeout`` seconds, else an error."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        time.sleep(interval)
