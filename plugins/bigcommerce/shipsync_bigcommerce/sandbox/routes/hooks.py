"""``/v3/hooks``: the store's webhooks (list, create, get, update, delete), and the
``/__sandbox/webhooks`` admin action that steers their delivery.

Held to the official webhooks.v3 spec by the contract tests. Where the spec is
silent the emulator chooses: an unknown scope, a destination that is not https
on port 443 (plain http is allowed on loopback, for sandboxes), a second hook
with the same scope and destination, or an eleventh for one scope answer 422
with the v3 error object.
"""

from __future__ import annotations

import math
import time
from typing import Any
from urllib.parse import urlsplit

from shipsync.http import is_loopback
from shipsync.sandbox import HTTPError, Request, Response

from ..state import _Order, _Store
from ..webhooks import Hook, WebhookSender
from .common import RouteBase, _int_arg, _json_object

#: The scopes a hook may subscribe to (the spec's callbacks of orders, shipments and the app).
SCOPES = (
    "store/order/*", "store/order/created", "store/order/updated", "store/order/archived",
    "store/order/statusUpdated", "store/order/message/created", "store/order/refund/created",
    "store/shipment/*", "store/shipment/created", "store/shipment/updated",
    "store/shipment/deleted", "store/app/uninstalled",
)
MAX_PER_SCOPE = 10
CLIENT_ID = "sandbox-client"


def _unprocessable(field_name: str, message: str) -> HTTPError:
    return HTTPError(422, {"title": "JSON data is missing or invalid", "status": 422,
                           "type": "https://developer.bigcommerce.com/api-docs/getting-started/"
                                   "api-status-codes",
                           "errors": {field_name: message}})


def order_changed(sender: WebhookSender, state: _Store, order: _Order,
                  before_status: int | None) -> None:
    """The callbacks of an order changed (``before_status`` None: just created)."""
    data: dict[str, Any] = {"type": "order", "id": order.id}
    if before_status is None:
        sender.emit(state.store_hash, state.store_id, "store/order/created", data)
        return
    if order.status_id != before_status:
        sender.emit(state.store_hash, state.store_id, "store/order/statusUpdated",
                    {**data, "status": {"previous_status_id": before_status,
                                        "new_status_id": order.status_id}})
    sender.emit(state.store_hash, state.store_id, "store/order/updated", data)


def shipment_created(sender: WebhookSender, state: _Store, order: _Order, shipment_id: int,
                     before_status: int) -> None:
    sender.emit(state.store_hash, state.store_id, "store/shipment/created",
                {"type": "shipment", "id": shipment_id, "orderId": order.id})
    order_changed(sender, state, order, before_status)


def order_archived(sender: WebhookSender, state: _Store, order: _Order) -> None:
    sender.emit(state.store_hash, state.store_id, "store/order/archived",
                {"type": "order", "id": order.id})


class HookRoutes(RouteBase):
    """GET/POST ``/v3/hooks``, GET/PUT/DELETE ``/v3/hooks/{webhook_id}``."""

    webhooks: WebhookSender

    def _hook(self, request: Request, state: _Store) -> Hook:
        hook = self.webhooks.hooks.get(request.params["webhook_id"])
        if hook is None or hook.store_hash != state.store_hash:
            raise HTTPError(404, {"title": "The requested resource was not found.",
                                  "status": 404})
        return hook

    def _checked(self, state: _Store, body: dict[str, Any], current: Hook | None) -> None:
        for name in ("scope", "destination"):
            if current is None and not body.get(name):
                raise _unprocessable(name, "error.path.missing.")
        scope = body.get("scope", current.scope if current else "")
        destination = body.get("destination", current.destination if current else "")
        if scope not in SCOPES:
            raise _unprocessable("scope", f"{scope!r} is not a webhook scope")
        if not isinstance(destination, str):
            raise _unprocessable("destination", "must be a string")
        parts = urlsplit(destination)
        secure = parts.scheme == "https" and (parts.port or 443) == 443
        if not secure and not (parts.scheme in ("http", "https")
                               and is_loopback(parts.hostname)):
            raise _unprocessable("destination", "must be served over https on port 443")
        headers = body.get("headers", {})
        if headers is not None and (not isinstance(headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
            raise _unprocessable("headers", "must be an object of strings")
        if "is_active" in body and not isinstance(body["is_active"], bool):
            raise _unprocessable("is_active", "must be a boolean")
        others = [h for h in self.webhooks.store_hooks(state.store_hash)
                  if h.scope == scope and (current is None or h.id != current.id)]
        if any(h.destination == destination for h in others):
            raise _unprocessable("destination", "a webhook with this scope and destination "
                                 "already exists")
        if len(others) >= MAX_PER_SCOPE:
            raise _unprocessable("scope", f"at most {MAX_PER_SCOPE} webhooks per scope")

    def _get_hooks(self, request: Request) -> Response:
        state = self._request_store(request)
        page = _int_arg(request, "page", 1, minimum=1) or 1
        limit = min(_int_arg(request, "limit", 50, minimum=1) or 50, 250)
        hooks = sorted(self.webhooks.store_hooks(state.store_hash), key=lambda h: h.id)
        active = request.arg("is_active")
        if active in ("true", "false"):
            hooks = [h for h in hooks if h.is_active == (active == "true")]
        for name in ("scope", "destination"):
            wanted = request.arg(name)
            if wanted:
                hooks = [h for h in hooks if getattr(h, name) == wanted]
        total = len(hooks)
        rows = hooks[(page - 1) * limit: page * limit]
        pages = max(1, math.ceil(total / limit))
        return Response(200, {"data": [h.json() for h in rows], "meta": {"pagination": {
            "total": total, "count": len(rows), "per_page": limit, "current_page": page,
            "total_pages": pages, "links": {"current": f"?page={page}&limit={limit}"}}}})

    def _post_hook(self, request: Request) -> Response:
        state = self._request_store(request)
        body = _json_object(request)
        self._checked(state, body, None)
        hook = self.webhooks.add_hook(state.store_hash, CLIENT_ID, body)
        return Response(200, {"data": hook.json(), "meta": {}})

    def _get_hook(self, request: Request) -> Response:
        hook = self._hook(request, self._request_store(request))
        return Response(200, {"data": hook.json(), "meta": {}})

    def _put_hook(self, request: Request) -> Response:
        state = self._request_store(request)
        hook = self._hook(request, state)
        body = _json_object(request)
        self._checked(state, body, hook)
        for name in ("scope", "destination", "is_active"):
            if name in body:
                setattr(hook, name, body[name])
        if "headers" in body:
            hook.headers = dict(body["headers"] or {})
        hook.updated_at = int(time.time())
        return Response(200, {"data": hook.json(), "meta": {}})

    def _delete_hook(self, request: Request) -> Response:
        state = self._request_store(request)
        hook = self._hook(request, state)
        self.webhooks.remove_hook(hook.id)
        return Response(200, {"data": hook.json(), "meta": {}})

    def admin(self, action: str, request: Request) -> Response | None:
        """``GET /__sandbox/webhooks``: the plan and deliveries; ``POST``: a new plan."""
        if action != "webhooks":
            return None
        if request.method == "POST":
            try:
                plan = self.webhooks.configure(**request.json())
            except (TypeError, ValueError) as exc:
                return Response(400, {"message": f"Bad webhook plan: {exc}"})
            return Response(200, {"plan": plan.__dict__})
        with self.webhooks._lock:
            deliveries = list(self.webhooks.deliveries)
        return Response(200, {"plan": self.webhooks.plan.__dict__, "deliveries": deliveries,
                              "pending": self.webhooks.pending()})
