"""Rendering run reports: a rich table per store, or one JSON document."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .engine import StoreReport

__all__ = ["render_reports", "reports_json"]


def reports_json(reports: list[StoreReport], **extra: Any) -> dict[str, Any]:
    return {"stores": [r.to_dict() for r in reports], **extra}


def _reasons(counter: dict[str, int]) -> str:
    return "\n".join(f"{n} × {reason}" for reason, n in sorted(counter.items(),
                                                               key=lambda kv: (-kv[1], kv[0])))


def _row(table: Table, *cells: str) -> None:
    # Text, not str: order data may contain "[...]", which rich would read as markup.
    table.add_row(*(Text(cell) for cell in cells))


def render_reports(console: Console, reports: list[StoreReport]) -> None:
    for report in reports:
        title = f"{report.source} store {report.store!r} → {report.sink}"
        if report.dry_run:
            title += " (dry run: nothing was changed)"
        if report.stopped:
            title += " (stopped early)"
        table = Table(title=title, show_header=True, title_justify="left")
        table.add_column("", style="bold")
        table.add_column("count", justify="right")
        table.add_column("details")
        would = "would be " if report.dry_run else ""
        _row(table, f"{would}imported", str(report.imported), "")
        _row(table, f"{would}updated", str(report.updated), "")
        _row(table, f"{would}deleted", str(report.deleted), "")
        _row(table, "already imported", str(report.already_imported), "")
        _row(table, "skipped", str(report.skipped), _reasons(dict(report.skipped_reasons)))
        failures = "\n".join(f"{f['order_id']}: {f['reason']}" for f in report.failures[:20])
        if len(report.failures) > 20:
            failures += f"\n… and {len(report.failures) - 20} more (see --json)"
        _row(table, "failed", str(report.failed), failures)
        _row(table, f"{would}written back", str(report.written_back), "")
        _row(table, f"{would}awaiting pickup", str(report.awaiting_pickup), "")
        not_written = "\n".join(f"{r['order_number']}: {r['reason']}"
                                for r in report.not_written_back_reasons[:20])
        _row(table, "not written back", str(report.not_written_back), not_written)
        _row(table, "requests", str(sum(report.requests.values())),
                      ", ".join(f"{api}: {n}" for api, n in report.requests.items()))
        console.print(table)
        if report.dry_run and report.actions:
            plan = Table(title="what would happen", title_justify="left")
            for column in ("action", "order", "sink order", "why"):
                plan.add_column(column)
            for action in report.actions[:200]:
                _row(plan, action["action"], action["order_id"], action["order_number"],
                             action["why"])
            console.print(plan)
