"""``shipsync explain``: an order's story, printed."""

from __future__ import annotations

from typing import Optional

import typer

from ..engine import Engine, EngineError
from ..explain import story_of
from ..output import console, print_json
from .invocation import EXIT_NOT_FOUND, Invocation

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("explain")
    def explain(ctx: typer.Context,
                source: str = typer.Argument(..., metavar="SOURCE", help="The source: an "
                                             "installed source plugin's name."),
                order_id: str = typer.Argument(..., metavar="ORDER_ID",
                                               help="The source order id."),
                store: Optional[str] = typer.Option(None, "--store", metavar="NAME",
                                                    help="Only this store "
                                                    "(its name in the config)."),
                as_json: bool = typer.Option(False, "--json", help="Print JSON."),
                offline: bool = typer.Option(False, "--offline",
                                             help="Use only the state file; ask no API.")) -> None:
        """Why an order was or was not imported, and where its writeback stands.

        Exits 1 when neither shipsync nor the source knows the order.
        """
        invocation: Invocation = ctx.obj
        invocation.as_json = as_json
        if not order_id.isprintable():
            invocation.fail(f"the order id {order_id!r} holds control characters; "
                            "give the id as the shop shows it")
        config = invocation.config()
        store_db = invocation.state(config)
        try:
            story = story_of(Engine(invocation.host, config, store_db), source, order_id,
                             store=store, offline=offline)
        except EngineError as exc:
            invocation.fail(str(exc))
        finally:
            store_db.close()
        code = 0 if story.found else EXIT_NOT_FOUND
        if as_json:
            print_json(story.to_dict())
            raise typer.Exit(code)
        out = console()
        out.print(f"{source} order {order_id} (store {story.store!r})", style="bold",
                  markup=False)
        if story.history:
            out.print("what happened:", style="bold")
            for event in story.history:
                out.print(f"  {event['at'][:19]}  {event['kind']:<16} {event['detail']}",
                          markup=False)
        for title, lines in (("where it stands:", story.standing), ("now:", story.now),
                             ("today:", story.today)):
            if lines:
                out.print(title, style="bold")
                for line in lines:
                    out.print(f"  • {line}", markup=False)
        raise typer.Exit(code)
