"""``shipsync serve`` and ``shipsync webhooks install|list|remove NAME``.

``webhooks`` is the core's, generic over ``shipsync_webhooks``: the URL layout
(``/webhooks/NAME/...``) is ``serve``'s, so the command that points a platform
at it builds the endpoint, checks it, and lets the plugin register it; one
command, one output and one ``--json`` for every platform, whether it has an
API for hooks or needs the merchant to enter them in its UI.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import sys
from typing import TYPE_CHECKING, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..contracts import Context, HttpOptions, WebhookChange, Webhooks
from ..http import TransportError, check_url
from ..output import console, err_console, print_json
from .invocation import EXIT_FAILED_RECORDS, Invocation

if TYPE_CHECKING:
    from ..config import Config
    from ..serve.service import Service

__all__ = ["SERVE_LIBRARIES", "register"]

#: What ``shipsync[serve]`` installs, by import name.
SERVE_LIBRARIES = ("starlette", "uvicorn", "prometheus_client")


def _log_to_stderr(debug: bool) -> None:
    logger = logging.getLogger("shipsync")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO)


def missing_libraries() -> list[str]:
    return [name for name in SERVE_LIBRARIES if importlib.util.find_spec(name) is None]


def receiver(invocation: Invocation, config: Config, name: str) -> Webhooks:
    """The plugin's ``Webhooks`` for ``name``, or exit 2 saying which names exist."""
    specs = invocation.host.webhooks
    if name not in specs:
        invocation.fail(f"no plugin receives webhooks named {name!r} "
                        f"(installed: {', '.join(sorted(specs)) or 'none'})")
    run = config.section("run")
    context = Context(config.data, http_options=HttpOptions(
        timeout=float(run.get("timeout", 30)), max_retries=int(run.get("max_retries", 6))),
        config_path=config.path)
    try:
        return specs[name].factory(context)
    except ValueError as exc:
        invocation.fail(str(exc))


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(ctx: typer.Context,
              host: Optional[str] = typer.Option(
                  None, "--host", help="Address to listen on (default: [serve] host, "
                  "127.0.0.1: behind a TLS proxy on this machine)."),
              port: Optional[int] = typer.Option(
                  None, "--port", help="Port (default: [serve] port, 8080; 0: any free one).")
              ) -> None:
        """Receive webhooks and sync each order within seconds; poll as the safety net."""
        invocation: Invocation = ctx.obj
        missing = missing_libraries()
        if missing:
            invocation.fail(f"shipsync serve needs {', '.join(missing)}: "
                            "pip install 'shipsync[serve]'")
        config = invocation.config()
        from ..serve.settings import ServeSettings

        try:
            settings = ServeSettings.of(config.section("serve"), host=host, port=port)
        except ValueError as exc:
            invocation.fail(f"[serve]: {exc}")
        problems = settings.problems()
        if problems:
            invocation.fail("[serve]: " + "; ".join(problems))
        _log_to_stderr(invocation.debug)
        from ..serve.service import serve as run_service
        from ..state import StateError

        def ready(url: str, service: Service) -> None:
            out = err_console()
            out.print(f"shipsync serve: listening on {url}", markup=False)
            for name in sorted(service.receivers):
                out.print(f"  POST {url}/webhooks/{name}/...", markup=False)
            out.print(f"  GET  {url}/healthz, {url}/metrics", markup=False)
            out.print(f"  GET  {url}/ (the status page)", markup=False)
            sys.stderr.flush()

        from ..dashboard import AccessError

        try:
            run_service(invocation.host, config, settings, ready=ready)
        except AccessError as exc:
            invocation.fail(str(exc))
        except StateError as exc:
            invocation.fail(str(exc))
        except OSError as exc:
            invocation.fail(f"cannot listen on {settings.host}:{settings.port}: {exc}")

    webhooks = typer.Typer(help="The webhooks `shipsync serve` receives: install, list, remove.",
                           no_args_is_help=True)

    def endpoint(invocation: Invocation, config: Config, name: str,
                 url: str | None) -> str:
        base = url or str(config.section("serve").get("public_url") or "")
        if not base:
            invocation.fail("give the public URL of shipsync serve with --url https://... "
                            "(or set [serve] public_url)")
        problem = check_url(base)
        if problem:
            invocation.fail(problem)
        return f"{base.rstrip('/')}/webhooks/{name}"

    def show(changes: list[WebhookChange], as_json: bool, title: str) -> None:
        rows = [dataclasses.asdict(c) for c in changes]
        if as_json:
            print_json({"changes": rows})
            return
        table = Table(title=title)
        for column in ("action", "target", "topic", "destination", "detail"):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(escape(str(row[c])) for c in ("action", "target", "topic",
                                                          "destination", "detail")))
        console().print(table)

    @webhooks.command("install")
    def install(ctx: typer.Context,
                name: str = typer.Argument(..., help="The webhooks' plugin, e.g. a source."),
                url: Optional[str] = typer.Option(
                    None, "--url", help="The public https URL of shipsync serve (default: "
                    "[serve] public_url); /webhooks/NAME/... is added."),
                as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Register the webhooks serve needs (idempotent: twice changes nothing)."""
        invocation: Invocation = ctx.obj
        config = invocation.config()
        target = endpoint(invocation, config, name, url)
        hooks = receiver(invocation, config, name)
        try:
            changes = hooks.install(target)
        except (TransportError, ValueError) as exc:
            invocation.fail(str(exc), code=EXIT_FAILED_RECORDS)
        finally:
            hooks.close()
        show(list(changes), as_json, f"{name} webhooks -> {target}")

    @webhooks.command("list")
    def list_(ctx: typer.Context,
              name: str = typer.Argument(..., help="The webhooks' plugin."),
              as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """The webhooks registered at the platform, and those it has deactivated."""
        invocation: Invocation = ctx.obj
        config = invocation.config()
        hooks = receiver(invocation, config, name)
        try:
            found = hooks.hooks()
        except (TransportError, ValueError) as exc:
            invocation.fail(str(exc), code=EXIT_FAILED_RECORDS)
        finally:
            hooks.close()
        rows = [dataclasses.asdict(h) for h in found]
        inactive = [h for h in found if not h.active]
        if as_json:
            print_json({"hooks": rows, "deactivated": len(inactive)})
        else:
            table = Table(title=f"{name} webhooks")
            for column in ("target", "topic", "destination", "active", "id"):
                table.add_column(column, overflow="fold")
            for hook in found:
                table.add_row(escape(hook.target), escape(hook.topic), escape(hook.destination),
                              "yes" if hook.active else "DEACTIVATED", escape(hook.id))
            console().print(table)
        if inactive:
            err_console().print(
                f"{len(inactive)} webhook(s) deactivated by the platform (it stopped sending "
                f"them): `shipsync webhooks install {name} --url ...` turns them on again; "
                "the poll has kept the orders in sync meanwhile.", markup=False)

    @webhooks.command("remove")
    def remove(ctx: typer.Context,
               name: str = typer.Argument(..., help="The webhooks' plugin."),
               url: Optional[str] = typer.Option(
                   None, "--url", help="Remove only the hooks pointing at this serve URL "
                   "(default: every hook shipsync installed)."),
               as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Remove the webhooks shipsync installed."""
        invocation: Invocation = ctx.obj
        config = invocation.config()
        target = endpoint(invocation, config, name, url) if url else None
        hooks = receiver(invocation, config, name)
        try:
            changes = hooks.remove(target)
        except (TransportError, ValueError) as exc:
            invocation.fail(str(exc), code=EXIT_FAILED_RECORDS)
        finally:
            hooks.close()
        show(list(changes), as_json, f"{name} webhooks removed")

    app.add_typer(webhooks, name="webhooks")
