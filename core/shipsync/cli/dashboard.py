"""``shipsync dashboard``: the status page, served on its own until ``shipsync serve`` has it."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from ..engine import Engine
from ..output import err_console
from .invocation import Invocation

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard(ctx: typer.Context,
                  host: Optional[str] = typer.Option(
                      None, "--host", help="Address to listen on (default: [serve] host, "
                      "else 127.0.0.1). Any other than loopback needs [serve] dashboard_token."),
                  port: Optional[int] = typer.Option(
                      None, "--port", min=0, max=65535,
                      help="Port (default: [serve] port, else 8080; 0 picks a free one).")) -> None:
        """Serve the read-only status page: stores, failures, writeback, order stories."""
        invocation: Invocation = ctx.obj
        try:
            from ..dashboard import Access, AccessError, serve_dashboard
        except ImportError as exc:
            invocation.fail(f"the status page needs the serve extra ({exc.name} is not "
                            "installed): pip install 'shipsync[serve]'")
        config = invocation.config()
        serve = config.section("serve")
        access = Access.from_config(serve, host)
        try:
            access.check()
        except AccessError as exc:
            invocation.fail(str(exc))
        store_db = invocation.state(config)
        engine = Engine(invocation.host, config, store_db)

        def started(url: str) -> None:
            # stdout: the address, alone on its line (scripts and tests read it).
            print(f"status page: {url}", flush=True)
            err_console().print("read-only; Ctrl-C to stop")
            if not access.loopback:
                err_console().print(
                    "bound off loopback: put it behind TLS (a reverse proxy) so that the "
                    "token never crosses the network in clear")

        try:
            serve_dashboard(engine, access, int(serve.get("port", 8080) if port is None
                                                else port), started)
        except OSError as exc:
            invocation.fail(f"cannot listen on {access.host}: {exc.strerror or exc}")
        finally:
            engine.close()
            store_db.close()
        sys.stdout.flush()
