"""A misbehaving HTTP server, for tests: what a hostile network or a broken API does.

``MisbehavingServer`` listens on loopback and forwards every request to an
upstream (an emulator) unchanged, except those that match one of its rules,
which it answers badly instead:

- ``redirect``: a 3xx (``status``) to ``location`` (``{path}`` in it becomes
  the request's path and query), as a moved or hijacked API would;
- ``answer``: ``status`` with ``body`` as is: ``{}``, an empty body, an error
  object, invalid JSON or JSON nested 100,000 deep where a list was expected;
- ``trickle``: the upstream's answer, one byte every ``interval`` seconds
  (status line and headers too), so that no single read ever times out;
- ``endless``: a 200 whose chunked body never ends;
- ``huge``: a 200 announcing ``size`` bytes and sending them;
- ``hang``: the request is read (and forwarded, so a write is applied), and no
  answer comes for ``seconds`` (or until the server stops).

``accept_delay`` makes the server accept each connection only after that many
seconds (a server too busy to accept). Every request it receives is logged
(``requests``: method, path, query, headers, body), so a test can check what
reached it, e.g. that no credentials followed a redirect to it.

    with MisbehavingServer(emulator_url) as proxy:
        proxy.add(Misbehaviour("answer", method="GET", path=r"/v2/orders$", body=b"{}"))
        ...  # point the client at proxy.url

The ``misbehaving_server`` fixture of ``shipsync.testing`` starts them for a
test and stops them after it.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["KINDS", "Misbehaviour", "MisbehavingServer", "ReceivedRequest"]

KINDS = ("redirect", "answer", "trickle", "endless", "huge", "hang")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
               "proxy-connection", "te", "trailer", "upgrade"}
_MAX_HEAD = 64 * 1024


@dataclass
class Misbehaviour:
    """One rule: which requests (``method``, regular expressions searched in the ``path``
    and the ``query``), how often (``times``, None for always) and what to do."""

    kind: str
    method: str | None = None
    path: str | None = None
    query: str | None = None
    times: int | None = None
    status: int = 200
    location: str = ""
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    interval: float = 1.0
    size: int = 0
    seconds: float | None = None
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown misbehaviour {self.kind!r}; known: {', '.join(KINDS)}")

    def matches(self, method: str, path: str, query: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if self.path and not re.search(self.path, path):
            return False
        if self.query and not re.search(self.query, query):
            return False
        return self.times is None or self.fired < self.times


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    misbehaviour: str | None = None  # the kind applied to it, if any
    at: float = field(default_factory=time.monotonic)


class _Request:
    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.target = target
        parts = urlsplit(target)
        self.path = parts.path
        self.query = parts.query
        self.headers = headers
        self.body = body


class MisbehavingServer:
    """Forwards to ``upstream`` (or answers 404 without one) and misbehaves by its rules."""

    def __init__(self, upstream: str | None = None, *, accept_delay: float = 0.0) -> None:
        self.upstream = upstream.rstrip("/") if upstream else None
        self.accept_delay = accept_delay
        self.rules: list[Misbehaviour] = []
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None

    # -- the test's side ------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def add(self, *rules: Misbehaviour) -> MisbehavingServer:
        with self._lock:
            self.rules.extend(rules)
        return self

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def received(self, method: str | None = None, path: str | None = None
                 ) -> list[ReceivedRequest]:
        """Requests received, optionally those of ``method`` whose path matches ``path``."""
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method.upper())
                    and (path is None or re.search(path, r.path))]

    def start(self) -> MisbehavingServer:
        self._thread = threading.Thread(target=self._accept, name="misbehaving-accept",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        _shut(self._listener)  # wakes the thread blocked in accept()
        self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> MisbehavingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving --------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stopping.is_set():
            if self.accept_delay and self._stopping.wait(self.accept_delay):
                return
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.add(connection)
            threading.Thread(target=self._serve, args=(connection,), name="misbehaving",
                             daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            request = _read_request(connection)
            if request is None:
                return
            rule = self._rule_for(request)
            with self._lock:
                self.requests.append(ReceivedRequest(
                    request.method, request.path, request.query, request.headers, request.body,
                    rule.kind if rule else None))
            self._answer(connection, request, rule)
        except OSError:
            pass
        finally:
            with self._lock:
                self._connections.discard(connection)
            _shut(connection)
            connection.close()

    def _rule_for(self, request: _Request) -> Misbehaviour | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(request.method, request.path, request.query):
                    rule.fired += 1
                    return rule
        return None

    def _answer(self, connection: socket.socket, request: _Request,
                rule: Misbehaviour | None) -> None:
        kind = rule.kind if rule else None
        if rule is None or kind in ("trickle", "hang"):
            status, reason, headers, body = self._forward(request)
            if rule is not None and kind == "hang":
                self._stopping.wait(rule.seconds)
                return
            raw = _response(status, reason, headers, body)
            if rule is None:
                connection.sendall(raw)
                return
            for index in range(len(raw)):
                if self._stopping.wait(rule.interval):
                    return
                connection.sendall(raw[index:index + 1])
            return
        assert rule is not None
        if kind == "redirect":
            location = rule.location.replace("{path}", request.target)
            connection.sendall(_response(rule.status, "Redirect", [("Location", location)], b""))
        elif kind == "answer":
            headers = [("Content-Type", rule.content_type)] if rule.body else []
            connection.sendall(_response(rule.status, "OK", headers, rule.body))
        elif kind == "endless":
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            chunk = b'{"id": 1, "status_id": 11},' * 2048
            frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            connection.sendall(b"1\r\n[\r\n")
            while not self._stopping.is_set():
                connection.sendall(frame)
        elif kind == "huge":
            connection.sendall(f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               f"Content-Length: {rule.size}\r\nConnection: close\r\n\r\n"
                               .encode())
            block = b" " * 65536
            left = rule.size
            while left > 0 and not self._stopping.is_set():
                connection.sendall(block[:left])
                left -= len(block)

    def _forward(self, request: _Request) -> tuple[int, str, list[tuple[str, str]], bytes]:
        if self.upstream is None:
            return 404, "Not Found", [("Content-Type", "application/json")], \
                b'{"message": "nothing here"}'
        parts = urlsplit(self.upstream)
        upstream = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port,
                                              timeout=60)
        try:
            headers = {k: v for k, v in request.headers.items()
                       if k not in _HOP_BY_HOP and k != "host"}
            upstream.request(request.method, parts.path.rstrip("/") + request.target,
                             body=request.body or None, headers=headers)
            answer = upstream.getresponse()
            body = answer.read()
            kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP]
            return answer.status, answer.reason, kept, body
        finally:
            upstream.close()


def _read_request(connection: socket.socket) -> _Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > _MAX_HEAD:
            return None
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return _Request(method, target, headers, body[:length])


def _response(status: int, reason: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _shut(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
