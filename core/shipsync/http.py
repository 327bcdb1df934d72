"""HTTP for plugin clients: timeouts, retries, rate budgets, request counts.

- Every call has a timeout.
- Reads (idempotent calls) are retried with backoff and jitter on 429, 5xx and
  connection errors.
- A write is never blindly repeated: on a 429 (the server refused it) it is
  retried, but on a timeout, a reset or a 5xx the outcome is unknown and
  ``InDoubtError`` is raised, so the caller's journal can look the result up
  before anything is sent again.
- On a 429 the client waits what the server says (``RateLimitPolicy`` reads the
  API's headers), else backs off exponentially.
- A ``RateBudget`` (token bucket per API key or store, fed by the rate-limit
  headers) paces requests so that 429s are rare.
- ``https`` is required for every host that is not loopback.

Secrets travel only in headers, which are never logged nor put in exceptions.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import requests

__all__ = [
    "API_CALLS",
    "ApiCalls",
    "ApiError",
    "HttpClient",
    "InDoubtError",
    "RateBudget",
    "RateLimitPolicy",
    "RetryPolicy",
    "TransportError",
    "check_url",
    "is_loopback",
]

log = logging.getLogger("shipsync.http")

RETRY_STATUSES = {429, 500, 502, 503, 504}


class TransportError(Exception):
    """A call failed for good (retries exhausted, or not retryable)."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None,
                 applied: bool | None = False) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        #: False: the server did not apply it; None: unknown; True: it did.
        self.applied = applied


class ApiError(TransportError):
    """The server answered with an error status (4xx other than 429, or 5xx given up)."""


class InDoubtError(TransportError):
    """A write may or may not have been applied: look it up before sending it again."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status, applied=None)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str | None:
    """An error message when ``url`` is unusable: https is required off loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"not an http(s) URL: {url!r}"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return f"{url!r} must use https (plain http is allowed only for loopback sandboxes)"
    return None


class ApiCalls:
    """Requests, 429s and retries of every ``HttpClient`` of this process, per API name.

    Clients come and go (one per store run); these totals stay, for
    ``shipsync serve``'s metrics.
    """

    FIELDS = ("requests_made", "throttled", "retries")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, int]] = {}

    def add(self, api: str, field_name: str) -> None:
        with self._lock:
            counts = self._counts.setdefault(api, dict.fromkeys(self.FIELDS, 0))
            counts[field_name] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {api: dict(counts) for api, counts in self._counts.items()}


#: The process's totals, by the clients' ``name`` (one per API).
API_CALLS = ApiCalls()


@dataclass
class RetryPolicy:
    max_retries: int = 6
    base_delay: float = 0.25
    max_delay: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        # "Full jitter": spreads retries of many clients over the whole interval.
        cap = min(self.max_delay, self.base_delay * (2 ** attempt))
        return rng.uniform(cap / 2, cap)


class RateLimitPolicy:
    """How one API tells its rate limit; the default knows only Retry-After."""

    def wait_after_429(self, response: requests.Response) -> float | None:
        """Seconds to wait, or None when the response says nothing (back off)."""
        value = response.headers.get("Retry-After")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def observe(self, response: requests.Response, budget: RateBudget) -> None:
        """Feed the budget from response headers (quota, requests left, reset)."""


class RateBudget:
    """A token bucket shared by every request to one rate-limited key.

    ``rate`` requests per second with ``burst`` tokens; ``update`` lets an API's
    headers correct it (the quota is shared with the merchant's other apps, so
    the server's count of requests left wins over ours). When the headers tell
    the window's reset time, whatever is left in the window, less ``reserve``,
    may be spent at once; at ``reserve`` nobody sends until the window resets.
    """

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, reserve: int = 0) -> None:
        self.rate = rate
        self.burst = burst
        #: Requests left unused at the end of a window: room for the calls already in
        #: flight (and the store's other apps) so they do not meet a 429.
        self.reserve = reserve
        self.tokens = burst
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = threading.Lock()
        self._blocked_until = 0.0
        self.waited = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                wait = max(0.0, self._blocked_until - now)
                # (A hair under 1 is a whole token: float refills must not spin forever.)
                if wait == 0.0 and self.tokens >= 1.0 - 1e-9:
                    self.tokens = max(0.0, self.tokens - 1.0)
                    return
                if wait == 0.0:
                    wait = (1.0 - self.tokens) / self.rate
            self.waited += wait
            self._sleep(wait)

    def block_for(self, seconds: float) -> None:
        """Nobody sends until ``seconds`` from now (after a 429)."""
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + seconds)
            self.tokens = 0.0

    def update(self, *, left: int | None = None, reset_s: float | None = None,
               quota: int | None = None, window_s: float | None = None) -> None:
        with self._lock:
            now = self._clock()
            self._refill(now)
            if quota and window_s:
                self.rate = quota / window_s
                self.burst = max(1.0, float(quota))
            if left is not None:
                usable = float(max(0, left - self.reserve))
                # With the window's reset time the server's count is the truth: what is
                # left in this window may be spent now (the whole budget, not a trickle).
                # Without it, the count can only lower ours.
                self.tokens = usable if reset_s else min(self.tokens, usable)
                if left <= self.reserve and reset_s:
                    self._blocked_until = max(self._blocked_until, now + reset_s)


@dataclass
class HttpClient:
    """A ``requests`` session with shipsync's timeouts, retries and accounting."""

    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_policy: RateLimitPolicy = field(default_factory=RateLimitPolicy)
    budget: RateBudget | None = None
    name: str = "api"
    seed: int | None = None
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        problem = check_url(self.base_url)
        if problem:
            raise ValueError(problem)
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json",
                                     "User-Agent": "shipsync (+https://shipsync.dev)"})
        self.session.headers.update(dict(self.headers))
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self.requests_made = 0
        self.retries = 0
        self.throttled = 0

    def _count(self, field_name: str) -> None:
        with self._lock:
            setattr(self, field_name, getattr(self, field_name) + 1)
        API_CALLS.add(self.name, field_name)

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, idempotent: bool | None = None,
                ok: tuple[int, ...] = (200, 201, 204)) -> requests.Response:
        """Send one call, retrying what is safe to retry; return the response.

        Raises ``ApiError`` for an error answer, ``InDoubtError`` when a write
        may have been applied, ``TransportError`` when retries are exhausted.
        """
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD")
        url = self.url(path)
        attempt = 0
        while True:
            if self.budget:
                self.budget.acquire()
            self._count("requests_made")
            started = time.perf_counter()
            try:
                response = self.session.request(method, url, params=params, json=json,
                                                timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                sent = not isinstance(exc, requests.ConnectTimeout) and not _refused(exc)
                log.debug("%s %s %s: %s", self.name, method, path, type(exc).__name__)
                if not idempotent and sent:
                    raise InDoubtError(
                        f"{self.name}: {method} {path}: no answer ({type(exc).__name__}); "
                        "the write may have been applied") from None
                if attempt >= self.retry.max_retries:
                    raise TransportError(
                        f"{self.name}: {method} {path}: {type(exc).__name__} after "
                        f"{attempt + 1} attempts") from None
                self._pause(self.retry.backoff(attempt, self._rng))
                attempt += 1
                continue
            elapsed = time.perf_counter() - started
            log.debug("%s %s %s -> %s in %.0f ms", self.name, method, path,
                      response.status_code, elapsed * 1000)
            if self.budget:
                self.rate_policy.observe(response, self.budget)
            status = response.status_code
            if status in ok:
                return response
            if status == 429:
                self._count("throttled")
                wait = self.rate_policy.wait_after_429(response)
                if wait is None:
                    wait = self.retry.backoff(attempt, self._rng)
                if self.budget:
                    self.budget.block_for(wait)
                if attempt >= self.retry.max_retries:
                    raise TransportError(f"{self.name}: {method} {path}: still rate-limited "
                                         f"after {attempt + 1} attempts", status=429)
                self._pause(wait if not self.budget else 0.0)
                attempt += 1
                continue
            if status in RETRY_STATUSES:
                if not idempotent:
                    raise InDoubtError(f"{self.name}: {method} {path}: HTTP {status}; "
                                       "the write may have been applied", status=status)
                if attempt >= self.retry.max_retries:
                    raise ApiError(f"{self.name}: {method} {path}: HTTP {status} after "
                                   f"{attempt + 1} attempts", status=status,
                                   body=_body(response), applied=False)
                self._pause(self.retry.backoff(attempt, self._rng))
                attempt += 1
                continue
            raise ApiError(f"{self.name}: {method} {path}: HTTP {status}: "
                           f"{_summary(_body(response))}", status=status, body=_body(response),
                           applied=False)

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self._count("retries")
            self.sleep(seconds)
        else:
            self._count("retries")

    def close(self) -> None:
        self.session.close()


def _refused(exc: Exception) -> bool:
    """A refused connection never reached the server: nothing was applied."""
    text = repr(exc)
    return "Connection refused" in text or "NewConnectionError" in text


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def _summary(body: Any) -> str:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return "; ".join(str(item.get("message", item)) for item in body)
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(
                str(e.get("details") or e.get("message")) if isinstance(e, dict) else str(e)
                for e in errors)
        if isinstance(errors, dict):
            return "; ".join(f"{k}: {v}" for k, v in errors.items())
        return str(body.get("message") or body.get("title") or body)
    return str(body)[:300]
