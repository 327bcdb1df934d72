"""Error answers in each API's shape, and the guard that answers an emulator bug.

v2 errors are JSON arrays of ``{status, message[, details]}``; v3 errors are
problem objects ``{status, title, type, errors}``. Which shape a path gets
depends on the ``v2``/``v3`` segment of ``/stores/{store_hash}/...``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from shipsync.sandbox import HTTPError, Request, Response

STATUS_DOC_URL = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
_STORE_PATH = re.compile(r"^/stores/(?P<hash>[^/]+)/(?P<api>v2|v3)(?:/|$)")


def _answer_bugs(handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """Turn an emulator bug into a 500 that says what broke.

    The core only catches HTTPError; anything else would drop the connection
    without an answer, which looks like a network fault to the client under test.
    """
    def guarded(request: Request) -> Response:
        try:
            return handler(request)
        except HTTPError:
            raise
        except Exception as exc:
            raise HTTPError(500, {"message": f"Sandbox error in {handler.__name__}: "
                                  f"{type(exc).__name__}: {exc}"}) from exc
    return guarded


def _api_of(path: str) -> str:
    found = _STORE_PATH.match(path)
    return found["api"] if found else "v2"


_REASONS = {400: "The request was invalid.", 401: "Authentication is required.",
            403: "You don't have a required scope to access the endpoint.",
            404: "The requested resource was not found.",
            405: "The requested method is not allowed for this resource.",
            413: "The request is too large.", 422: "The request could not be processed.",
            429: "Too many requests.", 500: "Internal server error.", 502: "Bad gateway.",
            503: "The store is down for maintenance."}


def _message_of(status: int, body: Any) -> tuple[str, Any]:
    if isinstance(body, str):
        return body, None
    if isinstance(body, dict):
        message = body.get("message") or body.get("title") or _REASONS.get(status, "Error.")
        return str(message), body.get("details") or body.get("errors")
    return _REASONS.get(status, "Error."), None


def _error(api: str, status: int, message: str, details: Any = None) -> Any:
    """An error body in the API's shape: a v2 array, or a v3 problem object."""
    if api == "v3":
        return {"status": status, "title": message, "type": STATUS_DOC_URL,
                "errors": details if isinstance(details, dict) else {}}
    entry: dict[str, Any] = {"status": status, "message": message}
    if details:
        entry["details"] = details
    return [entry]
