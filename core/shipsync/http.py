"""HTTP for plugin clients: deadlines, size caps, no redirects, retries, rate budgets.

- Every call has a deadline (``deadline`` seconds for connecting, sending, the
  headers and the whole body, however slowly the server sends them; past it
  the connection is shut) besides ``timeout``, which bounds each connect and
  each read.
- Every answer's body is read in chunks and refused past ``max_body_bytes``
  (counted after decompression), so a huge or endless answer cannot fill memory.
- No redirect is ever followed (a redirect would carry the credentials
  elsewhere): any 3xx is an error naming the status and the host it points to,
  and a write answered by one is in doubt.
- Reads (idempotent calls) are retried with backoff and jitter on 429, 5xx and
  connection errors.
- A write is never blindly repeated: on a 429 (the server refused it) it is
  retried, but on a timeout, a reset, a 5xx, a 3xx or an unreadable answer the
  outcome is unknown and ``InDoubtError`` is raised, so the caller's journal can
  look the result up before anything is sent again.
- On a 429 the client waits what the server says (``RateLimitPolicy`` reads the
  API's headers), else backs off exponentially.
- A ``RateBudget`` (token bucket per API key or store, fed by the rate-limit
  headers) paces requests so that 429s are rare.
- ``stop`` (an event, set on SIGINT/SIGTERM): every wait (backoff, rate budget)
  ends at once, nothing more is sent and a call in flight is abandoned: a read
  raises ``Interrupted``, a write ``InDoubtError``.
- ``json_of``, ``expect_list`` and ``expect_object`` check that an answer is
  what the caller needs (``ShapeError`` otherwise, naming the endpoint): a
  ``{}`` where a list is expected is never read as "nothing".
- ``https`` is required for every host that is not loopback.

Secrets travel only in headers, which are never logged nor put in exceptions:
an error raised while a request is built (whose text may quote a header) is
replaced by one naming only its type.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = [
    "API_CALLS",
    "ApiCalls",
    "ApiError",
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_BODY_BYTES",
    "HttpClient",
    "InDoubtError",
    "Interrupted",
    "RateBudget",
    "RateLimitPolicy",
    "RetryPolicy",
    "ShapeError",
    "TransportError",
    "Unreachable",
    "check_url",
    "expect_list",
    "expect_object",
    "is_loopback",
    "json_of",
]

log = logging.getLogger("shipsync.http")

RETRY_STATUSES = {429, 500, 502, 503, 504}
#: Seconds one call may take in all (connect, send, headers, body), whatever each read takes.
DEFAULT_DEADLINE = 120.0
#: The largest answer body read (after decompression); a longer one is refused.
DEFAULT_MAX_BODY_BYTES = 50 * 1024 * 1024
_CHUNK = 64 * 1024


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


class Unreachable(TransportError):
    """The host could not be reached at all (refused, no route, no answer), retries spent."""


class InDoubtError(TransportError):
    """A write may or may not have been applied: look it up before sending it again."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message, status=status, applied=None)


class Interrupted(TransportError):
    """The run is stopping: a read was not sent, or was abandoned in flight."""


class ShapeError(TransportError):
    """An answer that is not what the endpoint gives: not JSON, or not the expected shape.

    The message names the endpoint and what came instead (never the body's
    values). Read as "nothing" it would lose data, so it fails the step.
    """


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        keys = ", ".join(sorted(str(k) for k in value)[:5])
        return f"an object with keys {keys}" if value else "an empty object"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return {str: "a string", int: "a number", float: "a number"}.get(type(value),
                                                                     type(value).__name__)


def json_of(response: requests.Response, endpoint: str) -> Any:
    """The answer's JSON; ``ShapeError`` naming ``endpoint`` if it is empty or not JSON."""
    if not response.content:
        raise ShapeError(f"{endpoint}: an empty answer (HTTP {response.status_code}) where "
                         "JSON was expected", status=response.status_code)
    try:
        return response.json()
    except RecursionError:
        raise ShapeError(f"{endpoint}: the answer's JSON is nested too deep to read",
                         status=response.status_code) from None
    except ValueError:
        raise ShapeError(f"{endpoint}: the answer is not valid JSON (HTTP "
                         f"{response.status_code})", status=response.status_code) from None


def expect_list(body: Any, endpoint: str, what: str = "rows") -> list[dict[str, Any]]:
    """``body`` as a list of objects; ``ShapeError`` naming ``endpoint`` otherwise."""
    if not isinstance(body, list):
        raise ShapeError(f"{endpoint}: expected a list of {what}, got {_kind(body)}")
    for index, row in enumerate(body):
        if not isinstance(row, dict):
            raise ShapeError(f"{endpoint}: expected a list of {what}, but item {index} is "
                             f"{_kind(row)}")
    return body


def expect_object(body: Any, endpoint: str, *keys: str, what: str = "an object"
                  ) -> dict[str, Any]:
    """``body`` as an object holding ``keys``; ``ShapeError`` naming ``endpoint`` otherwise."""
    if not isinstance(body, dict):
        raise ShapeError(f"{endpoint}: expected {what}, got {_kind(body)}")
    missing = [key for key in keys if key not in body]
    if missing:
        raise ShapeError(f"{endpoint}: expected {what} with {', '.join(missing)}, got "
                         f"{_kind(body)}")
    return body


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

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Take a token, waiting for one; False (no token taken) once ``stop`` is set."""
        while True:
            with self._lock:
                now = self._clock()
                self._refill(now)
                wait = max(0.0, self._blocked_until - now)
                # (A hair under 1 is a whole token: float refills must not spin forever.)
                if wait == 0.0 and self.tokens >= 1.0 - 1e-9:
                    self.tokens = max(0.0, self.tokens - 1.0)
                    return True
                if wait == 0.0:
                    wait = (1.0 - self.tokens) / self.rate
            self.waited += wait
            if stop is None:
                self._sleep(wait)
            elif stop.wait(wait):
                return False

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


class _Call:
    """One call in flight: its deadline, the run's stop event and its connections."""

    __slots__ = ("deadline", "stop", "connections", "fired")

    def __init__(self, deadline: float, stop: threading.Event | None) -> None:
        self.deadline = deadline
        self.stop = stop
        self.connections: list[Any] = []  # urllib3 connections
        self.fired: str | None = None  # "deadline" or "stopped" once the watchdog acted

    def shut(self) -> None:
        # shutdown() (not close()) wakes a thread blocked reading the socket at once.
        for connection in self.connections:
            sock = getattr(connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _Watchdog:
    """One thread that shuts the connections of calls past their deadline or stopped."""

    POLL = 0.05  # seconds between looks while calls are in flight

    def __init__(self) -> None:
        self._calls: set[_Call] = set()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, call: _Call) -> None:
        with self._wake:
            idle = not self._calls
            self._calls.add(call)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="shipsync-http-watchdog",
                                                daemon=True)
                self._thread.start()
            if idle:
                self._wake.notify()  # it was waiting for a first call: start looking

    def remove(self, call: _Call) -> None:
        with self._wake:
            self._calls.discard(call)

    def _watch(self) -> None:
        while True:
            with self._wake:
                self._wake.wait(self.POLL if self._calls else None)
                calls = list(self._calls)
            now = time.monotonic()
            for call in calls:
                if call.fired is None:
                    if call.stop is not None and call.stop.is_set():
                        call.fired = "stopped"
                    elif now >= call.deadline:
                        call.fired = "deadline"
                if call.fired is not None:
                    call.shut()  # again at each look: the socket may be opened after firing


_WATCHDOG = _Watchdog()
_current = threading.local()  # the _Call this thread is making, for the connection pools


def _watched(connection: Any) -> Any:
    call = getattr(_current, "call", None)
    if call is not None:
        call.connections.append(connection)
    return connection


class _WatchedHTTPPool(HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watched(super()._get_conn(timeout))


class _WatchedHTTPSPool(HTTPSConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> Any:
        return _watched(super()._get_conn(timeout))


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections the watchdog can shut."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool,
                                                   "https": _WatchedHTTPSPool}


class _Abandoned(Exception):
    """The watchdog shut the call (its deadline passed, or the run is stopping)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _TooLarge(Exception):
    def __init__(self, size: int, status: int) -> None:
        super().__init__(size)
        self.size = size
        self.status = status


@dataclass
class HttpClient:
    """A ``requests`` session with shipsync's deadlines, caps, retries and accounting."""

    base_url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    rate_policy: RateLimitPolicy = field(default_factory=RateLimitPolicy)
    budget: RateBudget | None = None
    name: str = "api"
    seed: int | None = None
    sleep: Callable[[float], None] = time.sleep
    deadline: float = DEFAULT_DEADLINE
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    stop: threading.Event | None = None

    def __post_init__(self) -> None:
        problem = check_url(self.base_url)
        if problem:
            raise ValueError(problem)
        self.session = requests.Session()
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, _WatchedAdapter())
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
        """Send one call, retrying what is safe to retry; return the response, body read.

        Raises ``ApiError`` for an error answer (a redirect too), ``InDoubtError``
        when a write may have been applied, ``Interrupted`` when the run is
        stopping, ``TransportError`` when retries are exhausted or the answer is
        too large.
        """
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD")
        url = self.url(path)
        where = f"{self.name}: {method} {path}"
        attempt = 0
        while True:
            if self.stop is not None and self.stop.is_set():
                raise Interrupted(f"{where}: not sent: the run is stopping")
            if self.budget and not self.budget.acquire(stop=self.stop):
                raise Interrupted(f"{where}: not sent: the run is stopping")
            self._count("requests_made")
            started = time.perf_counter()
            try:
                response = self._send(method, url, params, json)
            except _Abandoned as exc:
                log.debug("%s: %s", where, exc.reason)
                if exc.reason == "stopped":
                    if not idempotent:
                        raise InDoubtError(f"{where}: abandoned as the run stops; the write may "
                                           "have been applied") from None
                    raise Interrupted(f"{where}: abandoned: the run is stopping") from None
                if not idempotent:
                    raise InDoubtError(f"{where}: no complete answer within {self.deadline:g} s; "
                                       "the write may have been applied") from None
                if attempt >= self.retry.max_retries:
                    raise TransportError(f"{where}: no complete answer within {self.deadline:g} "
                                         f"s, {attempt + 1} attempts") from None
                self._pause(self.retry.backoff(attempt, self._rng), where)
                attempt += 1
                continue
            except _TooLarge as exc:
                message = (f"{where}: the answer is larger than the {_mb(self.max_body_bytes)} "
                           f"allowed ([run] max_response_mb); refused")
                if not idempotent:
                    raise InDoubtError(message + "; the write may have been applied",
                                       status=exc.status) from None
                raise TransportError(message, status=exc.status) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                sent = not isinstance(exc, requests.ConnectTimeout) and not _refused(exc)
                log.debug("%s: %s", where, type(exc).__name__)
                if not idempotent and sent:
                    raise InDoubtError(
                        f"{where}: no answer ({type(exc).__name__}); "
                        "the write may have been applied") from None
                if attempt >= self.retry.max_retries:
                    raise Unreachable(
                        f"{self.name}: could not reach {urlsplit(url).netloc} "
                        f"({type(exc).__name__} after {attempt + 1} attempts at {method} "
                        f"{path})") from None
                self._pause(self.retry.backoff(attempt, self._rng), where)
                attempt += 1
                continue
            except (requests.RequestException, ValueError) as exc:
                # InvalidHeader and the like: their text may quote a header value (a token).
                raise TransportError(f"{where}: the request could not be sent "
                                     f"({type(exc).__name__})") from None
            elapsed = time.perf_counter() - started
            log.debug("%s -> %s in %.0f ms", where, response.status_code, elapsed * 1000)
            if self.budget:
                self.rate_policy.observe(response, self.budget)
            status = response.status_code
            if 300 <= status < 400:
                location = response.headers.get("Location")
                target = urlsplit(urljoin(url, location)).hostname if location else None
                message = (f"{where}: HTTP {status}, a redirect to "
                           f"{target or 'no location'}: shipsync follows no redirect (is the "
                           "API address right?)")
                if not idempotent:
                    raise InDoubtError(message + "; the write may have been applied",
                                       status=status)
                raise ApiError(message, status=status, applied=False)
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
                    raise TransportError(f"{where}: still rate-limited after {attempt + 1} "
                                         "attempts", status=429)
                self._pause(wait if not self.budget else 0.0, where)
                attempt += 1
                continue
            if status in RETRY_STATUSES:
                if not idempotent:
                    raise InDoubtError(f"{where}: HTTP {status}; "
                                       "the write may have been applied", status=status)
                if attempt >= self.retry.max_retries:
                    raise ApiError(f"{where}: HTTP {status} after {attempt + 1} attempts",
                                   status=status, body=_body(response), applied=False)
                self._pause(self.retry.backoff(attempt, self._rng), where)
                attempt += 1
                continue
            raise ApiError(f"{where}: HTTP {status}: {_summary(_body(response))}", status=status,
                           body=_body(response), applied=False)

    def _send(self, method: str, url: str, params: Mapping[str, Any] | None,
              json: Any) -> requests.Response:
        """One HTTP exchange under the watchdog: headers, then the body within its cap."""
        call = _Call(time.monotonic() + self.deadline, self.stop)
        _current.call = call
        _WATCHDOG.add(call)
        try:
            try:
                response = self.session.request(
                    method, url, params=params, json=json, allow_redirects=False, stream=True,
                    timeout=min(self.timeout, self.deadline))
            except (requests.RequestException, OSError):
                if call.fired:
                    raise _Abandoned(call.fired) from None
                raise
            try:
                body = self._read_body(response, call)
            except _TooLarge:
                response.close()
                raise
            except (requests.RequestException, OSError) as exc:
                response.close()
                if call.fired:
                    raise _Abandoned(call.fired) from None
                # The server answered, then the body broke off: it was received.
                raise requests.ConnectionError(f"the answer broke off ({type(exc).__name__})"
                                               ) from None
            if call.fired:  # shut after the last byte: nothing was lost, keep the answer
                response.close()
            response._content = body
            response._content_consumed = True  # type: ignore[attr-defined]
            return response
        finally:
            _WATCHDOG.remove(call)
            _current.call = None

    def _read_body(self, response: requests.Response, call: _Call) -> bytes:
        cap = self.max_body_bytes
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > cap:
            raise _TooLarge(int(length), response.status_code)
        parts: list[bytes] = []
        size = 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > cap:
                raise _TooLarge(size, response.status_code)
            parts.append(chunk)
            if call.fired:
                raise _Abandoned(call.fired)
        return b"".join(parts)

    def _pause(self, seconds: float, where: str) -> None:
        self._count("retries")
        if seconds <= 0:
            return
        if self.stop is None:
            self.sleep(seconds)
        elif self.stop.wait(seconds):
            raise Interrupted(f"{where}: not retried: the run is stopping")

    def close(self) -> None:
        self.session.close()


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def _refused(exc: Exception) -> bool:
    """A refused connection never reached the server: nothing was applied."""
    text = repr(exc)
    return "Connection refused" in text or "NewConnectionError" in text


def _body(response: requests.Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError):
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
