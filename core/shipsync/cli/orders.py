"""``shipsync resend`` and ``shipsync forget``: one order, fixed by hand.

When the merchant removed an order from the sink by hand, shipsync records it
as removed and leaves it alone. ``resend`` sends it again (and takes back an
order that was forgotten); ``forget`` tells shipsync to leave an order alone
from now on (an order that fails on every run, one handled outside shipsync).
Both have ``--dry-run``, which says what the real command would do.
"""

from __future__ import annotations

from typing import Optional

import typer

from ..engine import Engine, EngineError, RunOptions
from ..http import TransportError
from ..output import console, print_json
from ..report import render_reports, reports_json
from .invocation import EXIT_API, EXIT_FAILED_RECORDS, EXIT_OK, Invocation

__all__ = ["register"]

SOURCE = typer.Argument(..., metavar="SOURCE", help="The source: an installed source plugin's "
                        "name.")
ORDER_ID = typer.Argument(..., metavar="ORDER_ID", help="The source order id.")
STORE = typer.Option(None, "--store", help="The store (its name in the config); needed only "
                     "when several are configured and shipsync has no record of the order.")
DRY_RUN = typer.Option(False, "--dry-run", help="Say what would be done; change nothing.")
AS_JSON = typer.Option(False, "--json", help="Print JSON.")


def register(app: typer.Typer) -> None:
    @app.command("resend")
    def resend(ctx: typer.Context, source: str = SOURCE, order_id: str = ORDER_ID,
               store: Optional[str] = STORE, dry_run: bool = DRY_RUN,
               as_json: bool = AS_JSON) -> None:
        """Send an order to the sink again: what was removed there by hand is created anew."""
        invocation: Invocation = ctx.obj
        invocation.as_json = as_json
        config = invocation.config()
        state = invocation.state(config)
        engine = Engine(invocation.host, config, state)
        try:
            settings = engine.store_of(source, order_id, store)
            report = engine.resend(source, settings.name, order_id,
                                   RunOptions(steps=("import",), dry_run=dry_run))
        except EngineError as exc:
            invocation.fail(str(exc))
        except TransportError as exc:
            invocation.fail(f"could not send order {order_id} again: {exc}", code=EXIT_API,
                            kind="api")
        finally:
            engine.close()
            state.close()
        if as_json:
            print_json(reports_json([report]))
        else:
            render_reports(console(), [report])
        raise typer.Exit(EXIT_FAILED_RECORDS if report.failed else EXIT_OK)

    @app.command("forget")
    def forget(ctx: typer.Context, source: str = SOURCE, order_id: str = ORDER_ID,
               store: Optional[str] = STORE, dry_run: bool = DRY_RUN,
               as_json: bool = AS_JSON) -> None:
        """Leave an order alone from now on: never imported, updated or written back again."""
        invocation: Invocation = ctx.obj
        invocation.as_json = as_json
        config = invocation.config()
        state = invocation.state(config)
        engine = Engine(invocation.host, config, state)
        try:
            settings = engine.store_of(source, order_id, store)
            effects = engine.forget(source, settings.name, order_id, dry_run=dry_run)
        except EngineError as exc:
            invocation.fail(str(exc))
        finally:
            engine.close()
            state.close()
        if as_json:
            print_json({"source": source, "store": settings.name, "order_id": order_id,
                        "dry_run": dry_run, "effects": effects})
            return
        out = console()
        verb = "would leave" if dry_run else "leaves"
        out.print(f"shipsync {verb} {source} order {order_id} (store {settings.name!r}) alone "
                  "from now on:", markup=False)
        for effect in effects:
            out.print(f"  • {effect}", markup=False)
        out.print(f"`shipsync resend {source} {order_id}` takes it back."
                  + (" (dry run: nothing was changed)" if dry_run else ""), markup=False)
