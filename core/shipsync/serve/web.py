"""The HTTP side: ``POST /webhooks/NAME/...``, ``GET /healthz``, ``GET /metrics``, and the
status page at ``/`` (``shipsync.dashboard``, behind its own access rule).

A webhook request is read up to its receiver's ``max_body`` (a larger one is
answered 413 unread), within ``READ_TIMEOUT``; the receiver authenticates it
and names its triggers; the triggers are kept in the inbox (one transaction)
and handed to the dispatcher; the answer is 202. Nothing is synced here. An
unknown NAME, or a store the receiver does not know, is answered exactly like
any unknown path: ``404 Not Found``, nothing more.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import TYPE_CHECKING

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..contracts import WebhookRequest, WebhookResult
from .metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from .service import Service

__all__ = ["READ_TIMEOUT", "create_app"]

log = logging.getLogger("shipsync.serve")

#: Seconds a sender has to send its body: a slow one holds no worker for long.
READ_TIMEOUT = 10.0

_ANSWERS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized",
            404: "Not Found", 408: "Request Timeout", 413: "Payload Too Large",
            503: "Service Unavailable"}
_OUTCOMES = {200: "ignored", 202: "accepted", 400: "invalid", 401: "unauthorized",
             404: "not_found"}


def _not_found() -> Response:
    return PlainTextResponse("Not Found", status_code=404)  # Starlette's own, for any path


def _plain(status: int) -> Response:
    return PlainTextResponse(_ANSWERS.get(status, "Error"), status_code=status)


def create_app(service: Service) -> Starlette:
    """The ASGI app of one running ``Service``."""

    async def webhook(request: Request) -> Response:
        started = time.perf_counter()
        name = request.path_params["name"]
        receiver = service.receivers.get(name)
        if receiver is None:
            return _not_found()
        status, outcome = await _receive(request, name)
        service.metrics.request(name, outcome, time.perf_counter() - started)
        return _not_found() if status == 404 else _plain(status)

    async def _receive(request: Request, name: str) -> tuple[int, str]:
        receiver = service.receivers[name]
        cap = receiver.max_body
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > cap):
            return 413, "too_large"
        body = bytearray()
        try:
            with anyio.fail_after(READ_TIMEOUT):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > cap:
                        return 413, "too_large"
        except TimeoutError:
            return 408, "timeout"
        except ClientDisconnect:
            return 400, "disconnected"
        incoming = WebhookRequest(
            path=request.path_params.get("path", "").strip("/"),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=bytes(body), received_at=time.time())
        try:
            result = receiver.receive(incoming)
        except Exception:  # noqa: BLE001 - a plugin's bug is a 500 the sender retries, logged
            log.exception("webhook %s: the receiver failed", name)
            return 500, "error"
        if result.status != WebhookResult.ACCEPTED:
            if result.status in (401, 404):
                log.warning("webhook %s/%s: %d: %s", name, incoming.path, result.status,
                            result.reason)
            return result.status, _OUTCOMES.get(result.status, "refused")
        # The inbox write syncs to disk: off the event loop.
        kept = await run_in_threadpool(service.keep, name, result.triggers,
                                       incoming.received_at)
        if kept is None:
            return 503, "unavailable"
        return 202, "accepted"

    async def healthz(request: Request) -> Response:
        health = service.health()
        return JSONResponse(health, status_code=200 if health["status"] == "ok" else 503)

    async def metrics(request: Request) -> Response:
        token = service.settings.metrics_token
        if token is not None:
            given = request.headers.get("authorization", "")
            wanted = f"Bearer {token.reveal()}"
            if not hmac.compare_digest(given.encode(), wanted.encode()):
                return _plain(401)
        payload = await run_in_threadpool(service.metrics.render)
        return Response(payload, media_type=CONTENT_TYPE)

    routes: list[BaseRoute] = [
        Route("/webhooks/{name}", webhook, methods=["POST"]),
        Route("/webhooks/{name}/{path:path}", webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    if service.dashboard is not None:
        # The read-only status page, behind its own access rule (loopback or its token).
        routes.append(Mount("/", app=_reads_only(service.dashboard)))
    return Starlette(routes=routes)


def _reads_only(app: ASGIApp) -> ASGIApp:
    """Only GET and HEAD reach the status page: any other request to a path no webhook
    route has gets the same bare 404 as an unknown webhook store (nothing told apart)."""

    async def reads(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            await _not_found()(scope, receive, send)
            return
        await app(scope, receive, send)

    return reads
