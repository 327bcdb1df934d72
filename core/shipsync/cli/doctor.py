"""``shipsync doctor``: each store's and sink's API checked read-only, and what shipsync
does about what it found."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table
from rich.text import Text

from ..doctor import run_doctor
from ..engine import Engine, EngineError
from ..output import console, print_json
from .invocation import EXIT_FAILED_RECORDS, EXIT_OK, Invocation

__all__ = ["register"]

STATUS_WORDS = {"confirmed": "confirmed", "contradicted": "CONTRADICTED",
                "not_observable": "not observable yet"}


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor(ctx: typer.Context,
               store: Optional[str] = typer.Option(None, "--store",
                                                   help="Only this store (its name in the "
                                                   "config) and its sink."),
               as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Check each store's and sink's API without changing anything: credentials, scopes,
        quotas, units, currencies, and what shipsync assumes where the APIs' documentation
        is silent. Exit 1 when something stops shipsync from running."""
        invocation: Invocation = ctx.obj
        config = invocation.config()
        store_db = invocation.state(config)
        engine = Engine(invocation.host, config, store_db)
        try:
            checks = run_doctor(engine, store=store)
        except EngineError as exc:
            invocation.fail(str(exc))
        finally:
            engine.close()
            store_db.close()
        blocking = [c for c in checks if c.finding.blocking]
        if as_json:
            print_json({"checks": [c.to_dict() for c in checks], "blocking": len(blocking)})
        else:
            table = Table(title="shipsync doctor", show_header=True, title_justify="left")
            for column in ("where", "assumption", "status", "seen", "shipsync does"):
                table.add_column(column)
            for check in checks:
                found = check.finding
                status = STATUS_WORDS.get(found.status, found.status)
                if found.blocking:
                    status += " (blocking)"
                # Text, not str: what an API answers may contain "[...]", rich's markup.
                table.add_row(Text(check.subject), Text(f"{found.assumption}\n{found.summary}"),
                              Text(status), Text(found.observed), Text(found.instead))
            console().print(table)
            if blocking:
                console().print(f"{len(blocking)} problem(s) stop shipsync: see the rows "
                                "marked blocking.")
        raise typer.Exit(EXIT_FAILED_RECORDS if blocking else EXIT_OK)
