"""The API Management gateway in front of the API: keys, the rate limit and its error shape.

The gateway matches the path first (an unknown path, or a known path with
another method, answers 404 before any key is checked), then wants a valid
``Ocp-Apim-Subscription-Key``, counts the rate limit per subscription key,
and wants a ``StarShipIT-Api-Key`` added under that subscription key. Its
errors (and injected 5xx) are ``{"statusCode", "message"}``, not the API's
envelope; a 429 says when to retry in ``Retry-After``.
"""

from __future__ import annotations

import math
from typing import Any

from shipsync.sandbox import Emulator, FixedWindowLimiter, HTTPError, Request, Response

from .envelope import _error
from .state import _Account

_SERVER_ERRORS = {500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable"}


def _gateway(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"statusCode": status, "message": message}, dict(headers or {}))


class Gateway(Emulator):
    """The emulator's hooks that answer as the gateway does.

    ``StarshipitEmulator`` holds the accounts and the limiter they read.
    """

    rate_limit: tuple[int, float] | None
    variants: dict[str, str]
    _limiter: FixedWindowLimiter | None
    _accounts: dict[str, _Account]

    def before_request(self, request: Request) -> Response | None:
        if not self._is_api_route(request):
            return None  # not_found answers: the gateway matches the path before it checks keys
        subscription_key = request.header("Ocp-Apim-Subscription-Key")
        if not subscription_key:
            return _gateway(
                401,
                "Access denied due to missing subscription key. Make sure to include "
                "subscription key when making requests to an API.",
            )
        if subscription_key not in {a.subscription_key for a in self._accounts.values()}:
            return _gateway(
                401,
                "Access denied due to invalid subscription key. Make sure to provide "
                "a valid key for an active subscription.",
            )
        if self._limiter is not None:
            allowed, _, reset_ms = self._limiter.consume(subscription_key)
            if not allowed:
                return self._too_many(max(1, math.ceil(reset_ms / 1000)))
        api_key = request.header("StarShipIT-Api-Key")
        if not api_key:
            return _gateway(401, "Access denied due to missing StarShipIT-Api-Key header.")
        account = self._accounts.get(api_key)
        if account is None or account.subscription_key != subscription_key:
            return _gateway(
                401,
                "Access denied due to invalid StarShipIT-Api-Key: no account with this "
                "API key under this subscription key.",
            )
        return None

    def rate_limited(self, request: Request, bare: bool) -> Response:
        window = self.rate_limit[1] if self.rate_limit else 1.0
        return self._too_many(max(1, math.ceil(window)))

    def not_found(self, request: Request) -> Response:
        return _gateway(404, "Resource not found")

    def error_body(self, status: int, body: Any) -> Any:
        if isinstance(body, dict) and ("success" in body or "statusCode" in body):
            return body
        details = body.get("message") if isinstance(body, dict) else str(body)
        return {"success": False, "errors": [_error("Invalid request", str(details))]}

    def dispatch(self, request: Request) -> tuple[Response, str, str | None]:
        response, route, fault = super().dispatch(request)
        if route == "?" and response.status == 405:
            # APIM matches method and path together: a known path with another method is not found.
            response = self.not_found(request)
        elif fault in ("500", "502", "503"):
            response = _gateway(response.status, _SERVER_ERRORS[response.status])
        elif _not_found(response) and self.variants["not_found"] == "404":
            response.status = 404  # the envelope, with the status a REST API would use
        return response, route, fault

    def _too_many(self, seconds: int) -> Response:
        return _gateway(
            429,
            f"Rate limit is exceeded. Try again in {seconds} seconds.",
            {"Retry-After": str(seconds)},
        )

    def _is_api_route(self, request: Request) -> bool:
        try:
            return self.router.match(request.method, request.path) is not None
        except HTTPError:
            return False


def _not_found(response: Response) -> bool:
    """A lookup that found nothing: ``{success: false, errors: [{message: "Not found"}]}``."""
    body = response.body
    if response.status != 200 or not isinstance(body, dict) or body.get("success") is not False:
        return False
    errors = body.get("errors") or []
    return bool(errors) and isinstance(errors[0], dict) and errors[0].get("message") == "Not found"
