"""Who may read the status page: the access rule, reusable by any app that serves it.

Bound to a loopback address (the default, ``127.0.0.1``), the page answers only
requests whose ``Host`` is a loopback name, so a web page elsewhere cannot read
it through DNS rebinding. Bound to any other address, it refuses to start
without ``[serve] dashboard_token``; with a token set (on any address), every
request must carry it, as ``Authorization: Bearer TOKEN`` or as the password of
HTTP basic authentication (any user name: the browser's own sign-in prompt),
compared in constant time. The token is never put in a page, a header or an
error.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Secret

__all__ = ["Access", "AccessError", "MIN_TOKEN_LENGTH", "guard", "is_loopback"]

MIN_TOKEN_LENGTH = 16
LOOPBACK_NAMES = ("localhost",)
REALM = "shipsync status"


class AccessError(Exception):
    """The page must not be served as configured (off loopback without a token, weak token)."""


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` and ``localhost``; every other address is the network."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """The address the page is bound to, and the token it asks for (if any)."""

    host: str = "127.0.0.1"
    token: Secret | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, serve: dict[str, Any], host: str | None = None) -> Access:
        """From the ``[serve]`` section; ``host`` (a command-line ``--host``) wins over it."""
        token = serve.get("dashboard_token")
        return cls(host=host or str(serve.get("host") or "127.0.0.1"),
                   token=token if isinstance(token, Secret) else None)

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def check(self) -> None:
        """Raise ``AccessError`` if the page must not start like this."""
        if self.token is None and not self.loopback:
            raise AccessError(
                f"the status page is bound to {self.host}, which is not loopback: anyone who "
                "can reach it could read your orders. Set [serve] dashboard_token (e.g. "
                '`dashboard_token = { env = "SHIPSYNC_DASHBOARD_TOKEN" }` with a value from '
                "`python3 -c 'import secrets; print(secrets.token_urlsafe(24))'`), or bind "
                "it to 127.0.0.1")
        if self.token is not None and len(self.token.reveal()) < MIN_TOKEN_LENGTH:
            raise AccessError(f"[serve] dashboard_token is too short: use at least "
                              f"{MIN_TOKEN_LENGTH} random characters")

    def allows(self, headers: Headers) -> bool:
        """Whether a request with these headers may read the page."""
        if self.token is None:
            return _loopback_host(headers.get("host", ""))
        given = _presented_token(headers.get("authorization", ""))
        # Both sides as bytes of the same kind: compare_digest takes constant time over them.
        return given is not None and hmac.compare_digest(
            given.encode("utf-8"), self.token.reveal().encode("utf-8"))


def _loopback_host(value: str) -> bool:
    """A ``Host`` header naming a loopback address, with or without a port."""
    host = value.strip()
    if host.startswith("["):  # [::1]:8080
        host = host[1:host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return bool(host) and is_loopback(host)


def _presented_token(authorization: str) -> str | None:
    scheme, _, value = authorization.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        _user, colon, password = decoded.partition(":")
        return password if colon else None
    return None


REFUSED_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign-in needed - shipsync</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Sign-in needed</h1>
<p>This status page asks for its access token: sign in with any user name and the token
as the password (the value of <code>[serve] dashboard_token</code>).</p></main></body></html>
"""

WRONG_HOST_PAGE = b"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not served here - shipsync</title></head>
<body><main><h1>Not served here</h1>
<p>This status page answers only at a loopback address (127.0.0.1 or localhost). To reach
it from elsewhere, set <code>[serve] dashboard_token</code>.</p></main></body></html>
"""


def guard(app: ASGIApp, access: Access) -> ASGIApp:
    """``app`` behind the access rule (checked first: refuses to build if it must not start)."""
    access.check()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if access.allows(Headers(scope=scope)):
            await app(scope, receive, send)
            return
        if access.token is not None:
            status, body = 401, REFUSED_PAGE
            extra = [(b"www-authenticate", f'Basic realm="{REALM}", charset="UTF-8"'.encode())]
        else:
            status, body, extra = 421, WRONG_HOST_PAGE, []
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"), *extra]})
        await send({"type": "http.response.body", "body": body})

    return guarded
