"""Starshipit's tracking webhook for ``shipsync serve`` (``POST /webhooks/starshipit``).

Starshipit POSTs a flat JSON object (``order_number``, ``tracking_number``,
``tracking_status``, ...) when a tracking update arrives; whether it sends one
when the label is printed, or only at the courier's first scan, is not
established (fact sheet §7, §13.6), which is why printed labels are also read
every minute. Only ``order_number`` is used, as a trigger: the order is read
from Starshipit and written back if printed.

Authenticity: with ``[starshipit] webhook_secret`` set (without it the
endpoint is off and answers 404), the ``X-Starshipit-Signature`` header must
match. Starshipit does not publish how it signs (fact sheet §7 ⚠), so
``webhook_signature = "auto"`` accepts what is plausible, each compared in
constant time and each proving the sender knows the secret: the HMAC-SHA256
of the raw body keyed by the secret, base64 or hex (optionally prefixed
``sha256=``), or the secret itself. Pin one once it is known.

There is no API to register it: ``shipsync webhooks install starshipit`` says
what to enter in Starshipit (Settings > Tracking & notifications).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from shipsync.config import Secret
from shipsync.contracts import (
    Context,
    WebhookChange,
    WebhookHook,
    WebhookRequest,
    WebhookResult,
    WebhookTrigger,
)

__all__ = ["MAX_BODY", "SCHEMES", "SIGNATURE_HEADER", "StarshipitWebhooks", "signatures"]

SIGNATURE_HEADER = "X-Starshipit-Signature"
SCHEMES = ("auto", "hmac-sha256-base64", "hmac-sha256-hex", "secret")
MAX_BODY = 16 * 1024
ORDER_NUMBER_MAX = 50


def signatures(secret: str, body: bytes, scheme: str = "auto") -> list[str]:
    """The header values ``scheme`` accepts for this body."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    values = {
        "hmac-sha256-base64": [base64.b64encode(digest).decode("ascii")],
        "hmac-sha256-hex": [digest.hex()],
        "secret": [secret],
    }
    chosen = [v for name, vs in values.items() if scheme in ("auto", name) for v in vs]
    return chosen + [f"sha256={v}" for v in chosen if v != secret]


class StarshipitWebhooks:
    """The account's tracking webhook (``shipsync.contracts.Webhooks``)."""

    max_body = MAX_BODY

    def __init__(self, context: Context) -> None:
        section: dict[str, Any] = context.config.get("starshipit") or {}
        secret = section.get("webhook_secret")
        self.secret: Secret | None = (secret if isinstance(secret, Secret) or secret is None
                                      else Secret(str(secret)))
        self.scheme = str(section.get("webhook_signature") or "auto")

    def receive(self, request: WebhookRequest) -> WebhookResult:
        if request.path:
            return WebhookResult.not_found(f"no such path {request.path!r}")
        if self.secret is None:
            return WebhookResult.not_found("[starshipit] webhook_secret is not set: the "
                                           "tracking webhook is off")
        given = (request.header(SIGNATURE_HEADER) or "").strip().encode("utf-8")
        accepted = [hmac.compare_digest(given, wanted.encode("utf-8"))
                    for wanted in signatures(self.secret.reveal(), request.body, self.scheme)]
        if not given or not any(accepted):
            return WebhookResult.unauthorized(f"{SIGNATURE_HEADER} is missing or does not "
                                              "match [starshipit] webhook_secret")
        try:
            payload = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return WebhookResult.invalid("the body is not JSON")
        number = payload.get("order_number") if isinstance(payload, dict) else None
        if isinstance(number, int) and not isinstance(number, bool):
            number = str(number)
        if not isinstance(number, str) or not number.strip() \
                or len(number) > ORDER_NUMBER_MAX:
            return WebhookResult.invalid("no order_number in the tracking event")
        status = payload.get("tracking_status")
        return WebhookResult.accepted(WebhookTrigger(
            step="writeback", sink="starshipit", order_number=number.strip(),
            topic=f"tracking {status}" if isinstance(status, str) else "tracking"))

    # -- installing: by hand, in Starshipit's settings -------------------------------------
    def _secret_hint(self) -> str:
        if self.secret is None:
            return "set [starshipit] webhook_secret first (a long random string)"
        where = self.secret.source
        origin = f"the value of ${where[4:]}" if where.startswith("env:") else \
            "the value of [starshipit] webhook_secret in your config"
        return f"Secret key = {origin}"

    def install(self, endpoint: str) -> list[WebhookChange]:
        return [WebhookChange(
            "manual", "account", "tracking", endpoint,
            f"Starshipit has no API for this: in Settings > Tracking & notifications, add a "
            f"webhook with URL = {endpoint} and {self._secret_hint()}")]

    def hooks(self) -> list[WebhookHook]:
        return []  # not readable through the API

    def remove(self, endpoint: str | None) -> list[WebhookChange]:
        where = endpoint or "shipsync serve's /webhooks/starshipit"
        return [WebhookChange(
            "manual", "account", "tracking", endpoint or "",
            f"In Starshipit's Settings > Tracking & notifications, delete the webhook to "
            f"{where}")]

    def close(self) -> None:
        pass
