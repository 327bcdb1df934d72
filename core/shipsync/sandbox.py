"""Building blocks for shipsync's API emulators ("sandboxes").

An emulator is a stateful, in-memory imitation of a remote API served over real
HTTP on loopback. This module holds what every emulator shares: the HTTP server,
routing, fault injection, the request log and rate-limit windows. The emulators
themselves live in the plugins (``shipsync_bigcommerce.sandbox``,
``shipsync_starshipit.sandbox``) and are registered through the
``shipsync_sandboxes`` hook. ``SourceEmulator`` and ``SinkEmulator`` say what
shipsync's test kit (and the tests ``shipsync plugins new`` writes) asks of a
source's and a sink's emulator.

Every emulator also answers a small admin API under ``/__sandbox/`` so that a
test or a person driving a sandbox started in another process can steer it:

- ``GET  /__sandbox/log``      the request log and call counters
- ``POST /__sandbox/faults``   replace the fault plan (JSON list of rules)
- ``DELETE /__sandbox/faults`` clear the fault plan
- ``POST /__sandbox/reset-log`` clear the request log and counters
"""

from __future__ import annotations

import json
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence, runtime_checkable
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "Emulator",
    "EmulatorServer",
    "FaultPlan",
    "FaultRule",
    "FixedWindowLimiter",
    "HTTPError",
    "LogEntry",
    "Request",
    "RequestLog",
    "Response",
    "Router",
    "SinkEmulator",
    "SourceEmulator",
    "FAULT_KINDS",
]

FAULT_KINDS = (
    "latency",  # sleep `seconds` before handling (the request still succeeds)
    "429",  # rate-limited answer, with the emulator's rate-limit headers
    "429_bare",  # rate-limited answer without any headers
    "500",
    "502",
    "503",
    "reset",  # connection reset before the request is handled
    "lost_response",  # the request is applied, then the connection is reset
    "timeout_after_write",  # applied, then the server hangs `seconds` and closes
    "repeat_page",  # a paged GET answers with the previous page again
)


class HTTPError(Exception):
    """Raised by a handler to answer with an error body."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    params: dict[str, Any] = field(default_factory=dict)  # path parameters

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        if not self.body:
            raise HTTPError(400, {"message": "A JSON body is required."})
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPError(
                400, {"message": f"The request body is not valid JSON: {exc}"}) from None


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serialisable, bytes, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        try:
            return json.dumps(self.body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: send them \u-escaped, still valid JSON
            return json.dumps(self.body).encode("ascii")


Handler = Callable[[Request], Response]

_PARAM = re.compile(r"\{(\w+)(?::(int))?\}")


class Router:
    """Maps ``METHOD /path/{name}/{id:int}`` patterns to handlers."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = "^" + _PARAM.sub(
            lambda m: (rf"(?P<{m.group(1)}>\d+)" if m.group(2) == "int"
                       else rf"(?P<{m.group(1)}>[^/]+)"),
            pattern.rstrip("/"),
        ) + "/?$"
        self._routes.append((method.upper(), re.compile(regex), pattern, handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            self.add(method, pattern, handler)
            return handler

        return decorator

    def match(self, method: str, path: str) -> tuple[str, Handler, dict[str, Any]] | None:
        """Return (pattern, handler, params); raise 405 if only the method differs."""
        path_known = False
        for route_method, regex, pattern, handler in self._routes:
            found = regex.match(path)
            if not found:
                continue
            path_known = True
            if route_method == method.upper():
                params: dict[str, Any] = {
                    k: int(v) if v.isdigit() and "{" + k + ":int}" in pattern else v
                    for k, v in found.groupdict().items()
                }
                return pattern, handler, params
        if path_known:
            raise HTTPError(405, {"message": "Method not allowed."})
        return None


@dataclass
class FaultRule:
    """One kind of fault, applied to matching requests.

    ``rate`` is a probability per matching request (drawn from the plan's seeded
    RNG); ``times`` caps how often the rule fires (None: no cap); ``after`` skips
    the first N matching requests. ``method`` and ``path`` (a regular expression
    searched in the path) narrow which requests match.
    """

    kind: str
    rate: float = 1.0
    times: int | None = None
    after: int = 0
    method: str | None = None
    path: str | None = None
    seconds: float = 0.0
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path or re.search(self.path, path) is not None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        allowed = {"kind", "rate", "times", "after", "method", "path", "seconds"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault rule fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "rate": self.rate, "times": self.times, "after": self.after,
            "method": self.method, "path": self.path, "seconds": self.seconds,
            "seen": self.seen, "fired": self.fired,
        }


class FaultPlan:
    """A seeded, thread-safe list of fault rules; at most one fault per request."""

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.rules: list[FaultRule] = list(rules)

    def replace(self, rules: Iterable[FaultRule], seed: int | None = None) -> None:
        with self._lock:
            self.rules = list(rules)
            if seed is not None:
                self._rng = random.Random(seed)

    def clear(self) -> None:
        self.replace([])

    def draw(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                rule.seen += 1
                if rule.seen <= rule.after:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                rule.fired += 1
                return rule
        return None


@dataclass(frozen=True)
class LogEntry:
    method: str
    path: str
    query: str
    status: int  # 0 when the connection was dropped without an answer
    duration_ms: float
    route: str  # the matched pattern, e.g. "GET /stores/{store_hash}/v2/orders"
    fault: str | None = None
    body: str | None = None  # the request body, when the log keeps bodies
    at: float = 0.0  # time.time() when the request arrived (for timelines)


class RequestLog:
    """Every request an emulator served, with counters per route."""

    def __init__(self, keep_bodies: bool = False) -> None:
        self._lock = threading.Lock()
        self.entries: list[LogEntry] = []
        self.counts: Counter[str] = Counter()
        #: Keep request bodies (for contract tests of what a client sends).
        self.keep_bodies = keep_bodies

    def add(self, entry: LogEntry) -> None:
        with self._lock:
            self.entries.append(entry)
            self.counts[entry.route] += 1

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
            self.counts.clear()

    def total(self, method: str | None = None, path_contains: str | None = None) -> int:
        with self._lock:
            return sum(
                1 for e in self.entries
                if (method is None or e.method == method)
                and (path_contains is None or path_contains in e.path)
            )

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": len(self.entries),
                "counts": dict(self.counts),
                "entries": [e.__dict__ for e in self.entries],
            }


class FixedWindowLimiter:
    """A request quota per fixed time window, per key (store, subscription key).

    ``consume`` returns (allowed, requests_left, ms_until_reset).
    """

    def __init__(self, quota: int, window_s: float, clock: Callable[[], float] = time.monotonic):
        if quota < 1 or window_s <= 0:
            raise ValueError("a rate limit needs a quota >= 1 and a window > 0")
        self.quota = quota
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[float, int]] = {}

    def consume(self, key: str) -> tuple[bool, int, int]:
        with self._lock:
            now = self._clock()
            start, used = self._windows.get(key, (now, 0))
            if now - start >= self.window_s:
                start, used = now, 0
            reset_ms = max(0, int((start + self.window_s - now) * 1000))
            if used >= self.quota:
                self._windows[key] = (start, used)
                return False, 0, reset_ms
            used += 1
            self._windows[key] = (start, used)
            return True, self.quota - used, reset_ms


class _DropConnection(Exception):
    """Close the socket without answering (a reset or a lost response)."""

    def __init__(self, route: str, kind: str) -> None:
        super().__init__(route)
        self.route = route
        self.kind = kind


class Emulator:
    """Base class of an API emulator: a router plus fault plan and request log.

    Subclasses fill ``self.router`` and may override ``rate_limited`` (the
    answer to a 429 fault) and ``before_request`` (authentication, rate limits).
    Handlers run under ``self.lock``, so emulator state needs no other locking.
    """

    name = "emulator"

    def __init__(self, *, fault_seed: int = 0) -> None:
        self.router = Router()
        self.faults = FaultPlan(seed=fault_seed)
        self.log = RequestLog()
        self.lock = threading.RLock()

    # -- hooks for subclasses -------------------------------------------------
    def before_request(self, request: Request) -> Response | None:
        """Return a response to answer early (401, 429), or None to go on."""
        return None

    def rate_limited(self, request: Request, bare: bool) -> Response:
        return Response(429, {"message": "Too many requests."})

    def not_found(self, request: Request) -> Response:
        return Response(404, {"message": "Not found."})

    def error_body(self, status: int, body: Any) -> Any:
        """Shape an HTTPError body in this API's error format."""
        return body

    def decorate(self, request: Request, response: Response) -> None:
        """Add headers every response carries (rate-limit headers)."""

    def repeat_page(self, request: Request) -> Request:
        """For a 'repeat_page' fault: the same request for the previous page."""
        page = request.arg("page")
        if page and page.isdigit() and int(page) > 1:
            query = dict(request.query)
            query["page"] = [str(int(page) - 1)]
            return Request(request.method, request.path, query, request.headers, request.body)
        return request

    # -- dispatch -------------------------------------------------------------
    def dispatch(self, request: Request) -> tuple[Response, str, str | None]:
        """Answer one request. Returns (response, route, fault kind)."""
        if request.path.startswith("/__sandbox/"):
            return self._admin(request), "ADMIN " + request.path, None
        try:
            found = self.router.match(request.method, request.path)
        except HTTPError as exc:
            return Response(exc.status, self.error_body(exc.status, exc.body)), "?", None
        route = f"{request.method} {found[0]}" if found else f"{request.method} ?"
        rule = self.faults.draw(request.method, request.path)
        kind = rule.kind if rule else None
        if kind == "latency":
            time.sleep(rule.seconds)  # type: ignore[union-attr]
        elif kind in ("429", "429_bare"):
            response = self.rate_limited(request, bare=kind == "429_bare")
            if kind == "429_bare":
                response.headers = {}
            return response, route, kind
        elif kind in ("500", "502", "503"):
            return Response(int(kind), {"message": "Injected server error."}), route, kind
        elif kind == "reset":
            raise _DropConnection(route, kind)
        elif kind == "repeat_page":
            request = self.repeat_page(request)

        response = self._handle(request, found)
        if kind == "lost_response":
            raise _DropConnection(route, kind)
        if kind == "timeout_after_write":
            time.sleep(rule.seconds or 5.0)  # type: ignore[union-attr]
            raise _DropConnection(route, kind)
        return response, route, kind

    def _handle(self, request: Request,
                found: tuple[str, Handler, dict[str, Any]] | None) -> Response:
        with self.lock:
            early = self.before_request(request)
            if early is not None:
                response = early
            elif found is None:
                response = self.not_found(request)
            else:
                request.params = found[2]
                try:
                    response = found[1](request)
                except HTTPError as exc:
                    response = Response(exc.status, self.error_body(exc.status, exc.body),
                                        exc.headers)
                except Exception as exc:  # noqa: BLE001 - an emulator bug answers 500, not silence
                    response = Response(500, self.error_body(
                        500, {"message": f"sandbox error: {type(exc).__name__}: {exc}"}))
            self.decorate(request, response)
            return response

    def _admin(self, request: Request) -> Response:
        action = request.path[len("/__sandbox/"):].strip("/")
        if action == "log" and request.method == "GET":
            return Response(200, self.log.snapshot())
        if action == "reset-log" and request.method == "POST":
            self.log.clear()
            return Response(204)
        if action == "faults" and request.method == "DELETE":
            self.faults.clear()
            return Response(204)
        if action == "faults" and request.method == "GET":
            return Response(200, [r.to_dict() for r in self.faults.rules])
        if action == "faults" and request.method == "POST":
            try:
                payload = request.json()
                rules = payload["rules"] if isinstance(payload, dict) else payload
                seed = payload.get("seed") if isinstance(payload, dict) else None
                self.faults.replace([FaultRule.from_dict(r) for r in rules], seed=seed)
            except (ValueError, TypeError, KeyError) as exc:
                return Response(400, {"message": f"Bad fault plan: {exc}"})
            except HTTPError as exc:
                return Response(exc.status, exc.body)
            return Response(200, [r.to_dict() for r in self.faults.rules])
        return self.admin(action, request) or Response(404, {"message": "Unknown sandbox action."})

    def admin(self, action: str, request: Request) -> Response | None:
        """Emulator-specific admin actions (e.g. seeding); None when unknown."""
        return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every keep-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the emulator keeps its own request log

    def _serve(self) -> None:
        started = time.perf_counter()
        emulator = self.server.emulator
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response, route, fault = emulator.dispatch(request)
        except _DropConnection as drop:
            self._log(request, parts.query, 0, drop.route, drop.kind, started)
            self._reset()
            return
        # Logged before the answer is written: whoever reads the answer finds it in the log.
        self._log(request, parts.query, response.status, route, fault, started)
        payload = response.encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection or (request.header("connection") or "").lower() == "close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def _log(self, request: Request, query: str, status: int, route: str, fault: str | None,
             started: float) -> None:
        if request.path.startswith("/__sandbox/"):
            return
        log = self.server.emulator.log
        body = request.body.decode("utf-8", "replace") if log.keep_bodies and request.body else None
        log.add(LogEntry(
            method=request.method, path=request.path, query=query, status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 3), route=route,
            fault=fault, body=body, at=time.time() - (time.perf_counter() - started),
        ))

    def _reset(self) -> None:
        # SO_LINGER 0 makes close() send a RST: the client sees "connection reset".
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator):
        super().__init__(address, _Handler)
        self.emulator = emulator


class EmulatorServer:
    """Serves one emulator over HTTP on loopback, in a background thread."""

    def __init__(self, emulator: Emulator, host: str = "127.0.0.1", port: int = 0):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("emulators only listen on loopback")
        self.emulator = emulator
        self._server = _Server((host, port), emulator)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.emulator.name}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        close = getattr(self.emulator, "close", None)
        if callable(close):  # e.g. an emulator that delivers webhooks from a thread
            close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- what tests drive


@runtime_checkable
class SourceEmulator(Protocol):
    """An order source's emulator as tests drive it (e.g. ``BigCommerceEmulator``).

    The tests ``shipsync plugins new`` writes set orders up and read them back
    through these members only, so they run against any source whose emulator
    has them. The source's sandbox config (``SandboxSpec.config``) holds each
    store's settings at ``config[SOURCE]["stores"][NAME]``, NAME a key of
    ``stores``: that is where a test adds store settings such as ``sink`` or
    ``status_policies``.
    """

    @property
    def stores(self) -> Mapping[str, object]:
        """The emulator's stores, by the name its sandbox config gives each."""
        ...

    def add_order(self, store: str, /, *, products: list[dict[str, Any]]) -> dict[str, Any]:
        """Add an order ready to import to ``store`` and return it, with its ``id``.

        ``products`` are its items, all to one shipping address: dicts of ``name``
        and, optionally, ``sku``, ``quantity`` and ``product_id``. shipsync's
        default order number in the sink is ``str(order["id"])``.
        """
        ...

    def get_order(self, store: str, order_id: int, /) -> dict[str, Any]:
        """The order as it is now, with its ``status_id`` (what writeback changes)."""
        ...


@runtime_checkable
class SinkEmulator(Protocol):
    """A sink's emulator as tests drive it (e.g. ``StarshipitEmulator``).

    A test finds what shipsync sent and does what the merchant does in the sink
    (print a label) through these members only.
    """

    def accounts(self) -> Sequence[tuple[str, ...]]:
        """Every account, each a tuple whose first item is its key: the ``account``
        the other methods take. The sandbox config points shipsync at the first."""
        ...

    def get_order(self, account: str, order_number: str, /) -> dict[str, Any] | None:
        """The order shipsync created under ``order_number``, or None.

        As the sink holds it, with ``items``: one dict per item sent, carrying
        its ``country_of_origin`` when the canonical item had one.
        """
        ...

    def print_label(self, account: str, order_number: str, /) -> dict[str, Any]:
        """Print the order's label, as the merchant would: the next run writes the
        shipment (its tracking number) back to the source."""
        ...
