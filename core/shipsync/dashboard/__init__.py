"""The status page: what the sync did, what failed and why, an order's story, in a browser.

Needs the ``serve`` extra (``pip install 'shipsync[serve]'``: Starlette, uvicorn,
Jinja2). ``create_dashboard(engine, access)`` builds the read-only ASGI app;
``access.Access`` and ``access.guard`` are the access rule (loopback by
default, a token anywhere else); ``server.serve_dashboard`` runs it with uvicorn;
``status`` reads what the pages show from the state store.
"""

from __future__ import annotations

from .access import Access, AccessError, guard, is_loopback
from .app import LatencySamples, Worker, create_dashboard
from .server import bind, serve, serve_dashboard

__all__ = ["Access", "AccessError", "LatencySamples", "Worker", "bind", "create_dashboard",
           "guard", "is_loopback", "serve", "serve_dashboard"]
