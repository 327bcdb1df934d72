"""Serving the status page with uvicorn, on a socket bound before anything is printed.

``shipsync dashboard`` calls ``serve_dashboard``; ``shipsync serve`` mounts
``create_dashboard`` in its own app instead and keeps only ``bind``.
"""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from ..engine import Engine
from .access import Access
from .app import create_dashboard

__all__ = ["bind", "serve", "serve_dashboard", "url_of"]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port); raises ``OSError``."""
    family, _type, _proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(app: ASGIApp, sock: socket.socket,
          started: Callable[[str], None] | None = None) -> None:
    """Serve ``app`` on ``sock`` until SIGINT or SIGTERM (in-flight requests finish first)."""
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", proxy_headers=False,
        server_header=False, limit_concurrency=64, timeout_keep_alive=5,
        timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    if started:
        started(url_of(sock))
    # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again with the
    # handlers it found: ours end the call normally, so the caller closes what it opened.
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    except _Stop:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Stop(Exception):
    """The server was asked to stop, and has."""


def _stopped(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop()


def serve_dashboard(engine: Engine, access: Access, port: int = 8080,
                    started: Callable[[str], None] | None = None) -> None:
    """Build the page for ``engine`` behind ``access``, bind ``access.host:port``, serve it.

    Raises ``AccessError`` before binding if the page must not start, ``OSError``
    if the address cannot be bound.
    """
    app = create_dashboard(engine, access)
    sock = bind(access.host, port)
    try:
        serve(app, sock, started)
    finally:
        sock.close()
