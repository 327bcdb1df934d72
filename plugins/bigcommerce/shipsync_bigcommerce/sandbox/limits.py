"""Rate limits: each store's fixed request window and the headers that report it.

Every answer to a store path carries ``X-Rate-Limit-Requests-Left``,
``-Requests-Quota``, ``-Time-Reset-Ms`` and ``-Time-Window-Ms``; a 429 adds
``X-Retry-After`` (whole seconds).
"""

from __future__ import annotations

import math

from shipsync.sandbox import FixedWindowLimiter


class _WindowLimiter(FixedWindowLimiter):
    def reset_ms(self, key: str) -> int:
        """Milliseconds left in the key's current window (a whole window if none is open)."""
        # The core limiter has no read-only peek; this reads its window table under its lock.
        with self._lock:
            now = self._clock()
            start, _ = self._windows.get(key, (now, 0))
            if now - start >= self.window_s:
                start = now
            return max(0, int((start + self.window_s - now) * 1000))


def _rate_headers(quota: int, window_ms: int, left: int, reset_ms: int) -> dict[str, str]:
    return {
        "X-Rate-Limit-Requests-Left": str(left),
        "X-Rate-Limit-Requests-Quota": str(quota),
        "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
        "X-Rate-Limit-Time-Window-Ms": str(window_ms),
    }


def _retry_after(reset_ms: int) -> dict[str, str]:
    return {"X-Retry-After": str(max(1, math.ceil(reset_ms / 1000)))}
