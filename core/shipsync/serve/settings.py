"""The ``[serve]`` section of shipsync.toml, with its defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from ..config import Secret
from ..http import check_url

__all__ = ["ServeSettings", "parse_duration"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str | float | int) -> float:
    """Seconds from a number of seconds or a duration such as ``90s``, ``10m``, ``1h30m``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().lower()
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd])", text)
    if not parts or "".join(n + u for n, u in parts) != re.sub(r"\s+", "", text):
        raise ValueError(f"{value!r} is not a duration like 90s, 10m or 1h30m")
    return sum(float(n) * _UNITS[u] for n, u in parts)


@dataclass(frozen=True)
class ServeSettings:
    """How ``shipsync serve`` listens, polls, batches and stops."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: The URL the platforms reach this service at (behind the TLS proxy).
    public_url: str = ""
    #: The full run of every store (the safety net), and the printed-label check.
    poll_every: float = 600.0
    labels_every: float = 60.0
    #: How long a store's first waiting trigger waits for others before its sync starts.
    batch_window: float = 0.25
    workers: int = 4
    #: Attempts of a trigger whose sync could not run (another process held the store).
    max_attempts: int = 8
    #: On SIGTERM: how long syncs under way may take to finish before they are stopped.
    shutdown_grace: float = 20.0
    #: When set, ``/metrics`` wants ``Authorization: Bearer TOKEN``.
    metrics_token: Secret | None = None

    @classmethod
    def of(cls, section: dict[str, Any], **overrides: Any) -> ServeSettings:
        """The settings of a resolved ``[serve]`` section, then the command line's."""
        values: dict[str, Any] = {}
        for name in ("host", "public_url"):
            if name in section:
                values[name] = str(section[name])
        for name in ("port", "workers", "max_attempts"):
            if name in section:
                values[name] = int(section[name])
        for name in ("poll_every", "labels_every", "batch_window", "shutdown_grace"):
            if name in section:
                values[name] = parse_duration(section[name])
        token = section.get("metrics_token")
        if token is not None:
            values["metrics_token"] = token if isinstance(token, Secret) else Secret(str(token))
        settings = cls(**values)
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})

    def problems(self) -> list[str]:
        """What makes these settings unusable, each a sentence."""
        found = []
        if not 0 <= self.port <= 65535:
            found.append(f"port {self.port} is not a TCP port")
        if self.poll_every < 10:
            found.append("poll_every must be at least 10s")
        if self.labels_every < 5:
            found.append("labels_every must be at least 5s")
        if self.public_url:
            problem = check_url(self.public_url)
            if problem:
                found.append(f"public_url: {problem}")
        return found
