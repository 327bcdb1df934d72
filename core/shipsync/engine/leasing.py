"""The run's lease, kept alive: a heartbeat renews it while the run lasts.

A store's run holds the lease ``SOURCE:STORE`` in the state store (never two
processes on one store). ``Heartbeat`` renews it every third of its time from
a thread of its own, so a run of any length keeps it; when a renewal is
refused (another process took the lease over) or cannot be made before the
lease would run out, ``lost`` is set and the run stops at its next boundary,
before writing more.
"""

from __future__ import annotations

import threading
import time

from ..state import StateError, StateStore

__all__ = ["Heartbeat"]


class Heartbeat:
    """Renews the lease ``name`` held by ``holder`` every ``ttl / 3`` seconds."""

    def __init__(self, state: StateStore, name: str, holder: str, ttl: float,
                 lost: threading.Event | None = None) -> None:
        """``lost``: the event to set when the lease is lost (the run's, to stop it)."""
        self.state = state
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self.lost = lost or threading.Event()
        self.reason = ""
        self.renewals = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{name}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        # By when a renewal must have gone through (the lease's expiry, by our monotonic clock).
        runs_out = time.monotonic() + self.ttl
        while not self._done.wait(self.ttl / 3):
            try:
                renewed = self.state.renew_lease(self.name, self.holder, self.ttl)
            except StateError as exc:
                if time.monotonic() < runs_out:
                    continue  # e.g. the file is busy: try again at the next beat
                self._lose(f"it could not be renewed ({exc})")
                return
            if not renewed:
                self._lose("another process took it over")
                return
            self.renewals += 1
            runs_out = time.monotonic() + self.ttl

    def _lose(self, reason: str) -> None:
        self.reason = reason
        self.lost.set()
