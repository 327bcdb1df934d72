"""BigCommerce webhooks for ``shipsync serve``: receiving them and installing them.

Receiving (``POST /webhooks/bigcommerce/STORE``): the store must be configured
with a ``webhook_secret``; every hook ``shipsync webhooks install`` creates
carries it in the ``X-Shipsync-Webhook-Secret`` header, compared in constant
time. When a callback is also signed per Standard Webhooks (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``; newer BigCommerce docs, keyed by
the API account's ``client_secret``) and the store has its ``client_secret``,
the signature is verified too, with its 5-minute replay window, and
``webhook-id`` identifies the message so a repeat is dropped. The payload
gives an order id and nothing else is believed: ``store/order/*`` asks for the
order to be read and imported, updated or withdrawn; ``store/shipment/*`` for
its printed labels to be written back (our own shipments echo back that way
and cost no call). BigCommerce's ``hash`` is not a message id (the same
update of the same order hashes the same), so repeats without ``webhook-id``
are coalesced by the service, not dropped here.

Installing: one hook per scope in ``SCOPES`` per store, to
``https://HOST/webhooks/bigcommerce/STORE`` with the secret header;
idempotent (an identical hook is left alone; a deactivated one, a changed
secret or a changed URL is updated in place).
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from typing import Any
from urllib.parse import urlsplit

from shipsync.config import Secret
from shipsync.contracts import (
    Context,
    TriggerStep,
    WebhookChange,
    WebhookHook,
    WebhookRequest,
    WebhookResult,
    WebhookTrigger,
)
from shipsync.http import is_loopback

from . import settings
from .client import BigCommerceClient

__all__ = ["MAX_BODY", "SCOPES", "SECRET_HEADER", "BigCommerceWebhooks", "store_hash_of"]

SECRET_HEADER = "X-Shipsync-Webhook-Secret"
#: What serve acts on: an order that may have become importable or changed, and shipments.
ORDER_SCOPES = ("store/order/created", "store/order/updated", "store/order/statusUpdated")
SHIPMENT_SCOPES = ("store/shipment/created", "store/shipment/updated")
SCOPES = ORDER_SCOPES + SHIPMENT_SCOPES
#: A callback is a few hundred bytes; this leaves room and nothing more.
MAX_BODY = 16 * 1024

_HASH = re.compile(r"/stores/([A-Za-z0-9]+)/v[23]/?$")


def store_hash_of(api_path: str) -> str:
    found = _HASH.search(api_path.split("?")[0])
    return found.group(1) if found else ""


def _reveal(value: Any) -> str:
    return value.reveal() if isinstance(value, Secret) else str(value or "")


def verify_signature(request: WebhookRequest, client_secret: str) -> str | None:
    """Why the Standard Webhooks signature does not hold (None: it does)."""
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    key = base64.b64encode(client_secret.encode("utf-8")).decode("ascii")
    try:
        Webhook(key).verify(request.body, dict(request.headers), json_parse=False)
    except WebhookVerificationError as exc:
        return f"Standard Webhooks signature: {exc}"
    except (ValueError, TypeError, UnicodeDecodeError):  # malformed headers or body
        return "Standard Webhooks signature: malformed"
    return None


class BigCommerceWebhooks:
    """The BigCommerce stores' webhooks (``shipsync.contracts.Webhooks``)."""

    max_body = MAX_BODY

    def __init__(self, context: Context) -> None:
        self.stores = dict(settings.stores(context.config))
        self.http_options: dict[str, Any] = dict(context.http_options)
        self._clients: list[BigCommerceClient] = []

    # -- receiving ------------------------------------------------------------------------
    def receive(self, request: WebhookRequest) -> WebhookResult:
        store = request.path
        section = self.stores.get(store)
        if section is None or "/" in store:
            return WebhookResult.not_found(f"no store named {store!r} is configured")
        secret = _reveal(section.get("webhook_secret"))
        if not secret:
            return WebhookResult.not_found(f"store {store!r} has no webhook_secret: its "
                                           "webhooks are off")
        given = request.header(SECRET_HEADER) or ""
        if not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
            return WebhookResult.unauthorized(f"store {store!r}: the {SECRET_HEADER} header "
                                              "is missing or wrong")
        delivery = ""
        client_secret = _reveal(section.get("client_secret"))
        if request.header("webhook-signature") and client_secret:
            problem = verify_signature(request, client_secret)
            if problem:
                return WebhookResult.unauthorized(f"store {store!r}: {problem}")
            delivery = request.header("webhook-id") or ""
        try:
            payload = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return WebhookResult.invalid("the body is not JSON")
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            return WebhookResult.invalid("not a webhook callback (no data object)")
        producer = payload.get("producer")
        expected = f"stores/{store_hash_of(section['api_path'])}"
        if producer is not None and producer != expected:
            return WebhookResult.invalid(f"a callback of {producer!r}, not of store {store!r}")
        scope = str(payload.get("scope") or "")
        data = payload["data"]
        step: TriggerStep
        if scope in ORDER_SCOPES:
            step, order_id = "import", data.get("id")
        elif scope in SHIPMENT_SCOPES:
            step, order_id = "writeback", data.get("orderId")
        else:
            return WebhookResult.ignored(f"scope {scope!r} is not one shipsync acts on")
        if isinstance(order_id, bool) or not isinstance(order_id, (int, str)) \
                or not str(order_id).isdigit():
            return WebhookResult.invalid(f"{scope}: no order id in data")
        return WebhookResult.accepted(WebhookTrigger(
            step=step, source="bigcommerce", store=store, order_id=str(int(order_id)),
            delivery=delivery, topic=scope))

    # -- installing -----------------------------------------------------------------------
    def _client(self, section: dict[str, Any]) -> BigCommerceClient:
        client = BigCommerceClient(section["api_path"], section["access_token"],
                                   **self.http_options)
        self._clients.append(client)
        return client

    def _ours(self, endpoint: str, store: str, destination: str) -> bool:
        """A hook shipsync installed for this store (whatever host it pointed at)."""
        wanted = urlsplit(endpoint).path.rstrip("/") + f"/{store}"
        return urlsplit(str(destination)).path.rstrip("/") == wanted

    @staticmethod
    def _check_destination(url: str) -> None:
        parts = urlsplit(url)
        if is_loopback(parts.hostname):
            return  # a sandbox on this machine
        if parts.scheme != "https" or (parts.port or 443) != 443:
            raise ValueError(f"{url}: BigCommerce delivers webhooks only to https on port 443; "
                             "serve behind a TLS proxy listening there (docs/serve.md)")

    def install(self, endpoint: str) -> list[WebhookChange]:
        changes: list[WebhookChange] = []
        for store, section in sorted(self.stores.items()):
            secret = _reveal(section.get("webhook_secret"))
            if not secret:
                raise ValueError(f"store {store!r} has no webhook_secret: set "
                                 f"[bigcommerce.stores.{store}] webhook_secret first")
            destination = f"{endpoint.rstrip('/')}/{store}"
            self._check_destination(destination)
            client = self._client(section)
            existing = client.hooks()
            for scope in SCOPES:
                wanted = {"scope": scope, "destination": destination, "is_active": True,
                          "headers": {SECRET_HEADER: secret}}
                same = [h for h in existing if h.get("scope") == scope
                        and h.get("destination") == destination]
                moved = [h for h in existing if h.get("scope") == scope
                         and self._ours(endpoint, store, h.get("destination", ""))]
                candidates: list[dict[str, Any]] = same or moved
                if not candidates:
                    client.create_hook(wanted)
                    changes.append(WebhookChange("created", store, scope, destination))
                    continue
                found = candidates[0]
                why = []
                if found.get("destination") != destination:
                    why.append(f"URL was {found.get('destination')}")
                if not found.get("is_active", True):
                    why.append("it was deactivated")
                headers = found.get("headers") or {}
                if not hmac.compare_digest(str(headers.get(SECRET_HEADER, "")).encode("utf-8"),
                                           secret.encode("utf-8")):
                    why.append("the secret changed")
                if not why:
                    changes.append(WebhookChange("unchanged", store, scope, destination))
                    continue
                client.update_hook(found["id"], wanted)
                changes.append(WebhookChange("updated", store, scope, destination,
                                             "; ".join(why)))
        return changes

    def hooks(self) -> list[WebhookHook]:
        found = []
        for store, section in sorted(self.stores.items()):
            for hook in self._client(section).hooks():
                found.append(WebhookHook(store, str(hook.get("scope", "")),
                                         str(hook.get("destination", "")),
                                         bool(hook.get("is_active", True)),
                                         str(hook.get("id", ""))))
        return found

    def remove(self, endpoint: str | None) -> list[WebhookChange]:
        changes = []
        for store, section in sorted(self.stores.items()):
            client = self._client(section)
            for hook in client.hooks():
                destination = str(hook.get("destination", ""))
                if endpoint is not None:
                    mine = destination == f"{endpoint.rstrip('/')}/{store}"
                else:
                    mine = urlsplit(destination).path.rstrip("/").endswith(
                        f"/webhooks/bigcommerce/{store}")
                if mine and hook.get("scope") in SCOPES:
                    client.delete_hook(hook["id"])
                    changes.append(WebhookChange("removed", store, str(hook["scope"]),
                                                 destination))
        return changes

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
