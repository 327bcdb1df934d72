"""The status page as an ASGI app: ``create_dashboard(engine, access)``.

Server-rendered pages (Jinja2, every value escaped), one stylesheet and an
icon served by the app itself (no CDN, no script), read-only: every route is a
GET that reads the state store. ``shipsync dashboard`` serves it alone;
``shipsync serve`` mounts the same app. The access rule (``access.guard``) is
applied here, so the page cannot be mounted without it.

Pages: ``/`` (every store, the last 24 hours, a chart per hour), ``/failures``,
``/writeback`` (labels printed, not written back), ``/in-doubt``, ``/search``
and ``/order`` (an order's story, as ``shipsync explain`` tells it).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..engine import Engine, EngineError
from ..explain import story_of
from ..state import StateError
from . import status
from .access import Access, guard
from .chart import Histogram, latency_histogram

__all__ = ["LatencySamples", "Worker", "create_dashboard"]

HERE = Path(__file__).parent
MAX_QUERY = 100  # characters of a search: an order id or number is far shorter

# Webhook latency, once ``shipsync serve`` records it: a series name ("paid → in the sink")
# and its samples in seconds. Absent or empty, the page shows no latency chart at all.
LatencySamples = Callable[[], Mapping[str, Sequence[float]]]


@dataclass(frozen=True)
class Worker:
    """One worker of a cluster, as the cluster reports it; the page lists them when given."""

    name: str
    host: str
    pid: int | None
    stores: tuple[str, ...]
    last_seen: str  # ISO time


SECURITY_HEADERS = [
    # No script at all, nothing from elsewhere, never framed, forms only to itself.
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
     b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    # The pages name customers' orders: no cache keeps them.
    (b"cache-control", b"no-store"),
]


def _with_security_headers(app: ASGIApp) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in SECURITY_HEADERS if h[0] not in names)]
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped


def _parse(iso: str | None) -> datetime | None:
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def when(iso: str | None) -> str:
    """``2025-06-01 14:03 UTC``."""
    moment = _parse(iso)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if moment else "–"


def ago(iso: str | None, now: datetime) -> str:
    """``just now``, ``12 min ago``, ``3 h ago``, ``2 days ago``."""
    moment = _parse(iso)
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400 * 2:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def _root(request: Request) -> str:
    """Where the app is mounted ("" at the root): links and redirects start with it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value: order data may hold markup
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = when
    env.filters["slug"] = lambda text: re.sub(r"[^A-Za-z0-9_-]", "-", str(text))
    env.filters["seconds"] = lambda value: f"{value:.1f} s" if value < 60 else \
        f"{value / 60:.1f} min"
    return env


def create_dashboard(engine: Engine, access: Access | None = None, *,
                     latency: LatencySamples | None = None,
                     workers: Callable[[], Sequence[Worker]] | None = None) -> ASGIApp:
    """The read-only status page over ``engine``'s config and state, behind ``access``.

    ``access`` defaults to loopback without a token. ``latency`` gives webhook
    latency samples and ``workers`` the cluster's workers, once those exist: the
    page shows a section for each only when it has something to show.
    Raises ``access.AccessError`` if the page must not be served as configured.
    """
    access = access or Access()
    env = _environment()
    live_lookups = threading.BoundedSemaphore(2)  # page views asking the source's API at once

    def render(request: Request, template: str, status_code: int = 200,
               **context: Any) -> HTMLResponse:
        now = datetime.now(timezone.utc)
        root = _root(request)

        def url(path: str, **query: Any) -> str:
            query = {k: v for k, v in query.items() if v not in (None, "")}
            return root + path + ("?" + urlencode(query) if query else "")

        page = env.get_template(template).render(
            request_path=request.url.path[len(root):] or "/", url=url, now=now,
            ago=lambda iso: ago(iso, now), query=request.query_params.get("q", "")[:MAX_QUERY],
            **context)
        return HTMLResponse(page, status_code=status_code)

    def home(request: Request) -> Response:
        view = status.overview(engine)
        histograms: list[Histogram] = []
        latency_given = latency is not None
        if latency is not None:
            for name, samples in latency().items():
                histogram = latency_histogram(name, list(samples))
                if histogram is not None:
                    histograms.append(histogram)
        return render(request, "overview.html", view=view, counted=status.COUNTED,
                      histograms=histograms, latency_given=latency_given,
                      workers=list(workers()) if workers else [])

    def failures(request: Request) -> Response:
        rows, total = status.failures(engine)
        return render(request, "failures.html", failures=rows, total=total)

    def writeback(request: Request) -> Response:
        printed, held = status.awaiting_writeback(engine)
        return render(request, "writeback.html", printed=printed, held=held)

    def doubts(request: Request) -> Response:
        return render(request, "in_doubt.html", entries=status.in_doubt(engine))

    def search(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return RedirectResponse(_root(request) + "/", 303)
        if len(query) > MAX_QUERY:
            return render(request, "search.html", 400, matches=[], stores=[],
                          problem=f"An order id or number is at most {MAX_QUERY} characters.")
        matches = status.find_orders(engine, query)
        if len(matches) == 1:
            match = matches[0]
            return RedirectResponse(_root(request) + "/order?" + urlencode(
                {"source": match.source, "store": match.store, "id": match.order_id}), 303)
        return render(request, "search.html", matches=matches, problem="",
                      stores=status.configured_stores(engine))

    def order(request: Request) -> Response:
        params = request.query_params
        source, store, order_id = (params.get("source", ""), params.get("store", ""),
                                   params.get("id", "").strip())
        if not (source and store and order_id) or len(order_id) > MAX_QUERY:
            raise HTTPException(400, "An order is named by its source, store and id.")
        live = params.get("live") == "1"
        busy = False
        try:
            if live and live_lookups.acquire(blocking=False):
                try:
                    story = story_of(engine, source, order_id, store=store, offline=False)
                finally:
                    live_lookups.release()
            else:
                busy = live
                story = story_of(engine, source, order_id, store=store, offline=True)
        except EngineError as exc:
            raise HTTPException(404, str(exc)) from None
        return render(request, "order.html", story=story, live=live and not busy, busy=busy)

    async def not_found(request: Request, exc: Exception) -> Response:
        code = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "Something went wrong."
        return render(request, "error.html", code, code=code, detail=detail)

    async def state_error(request: Request, exc: Exception) -> Response:
        return render(request, "error.html", 503, code=503,
                      detail=f"The state store cannot be read: {exc}")

    async def server_error(request: Request, exc: Exception) -> Response:
        # The trace goes to the server's log, never to the page.
        return render(request, "error.html", 500, code=500,
                      detail="The page could not be drawn; the server's log says why.")

    app = Starlette(routes=[
        Route("/", home, methods=["GET"]),
        Route("/failures", failures, methods=["GET"]),
        Route("/writeback", writeback, methods=["GET"]),
        Route("/in-doubt", doubts, methods=["GET"]),
        Route("/search", search, methods=["GET"]),
        Route("/order", order, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ], exception_handlers={
        HTTPException: not_found, StateError: state_error, Exception: server_error})
    return guard(_with_security_headers(app), access)
