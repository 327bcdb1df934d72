"""Rendering run reports: per store, a table of counts, then a line per order.

The counts come first (what a glance needs), then what was done to each order
(or, in a dry run, what would be): imported, updated, deleted, skipped and why,
failed, written back. ``reports_json`` is the same as one JSON document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .engine import StoreReport
from .engine.report import ACTIONS_KEPT

__all__ = ["ACTIONS_SHOWN", "render_reports", "reports_json"]

#: Per-order lines printed in a terminal; ``--json`` has up to ``ACTIONS_KEPT``.
ACTIONS_SHOWN = 200

_ACTION_WORDS = {
    "import": ("imported", "would be imported"),
    "update": ("updated", "would be updated"),
    "delete": ("deleted", "would be deleted"),
    "skip": ("skipped", "would be skipped"),
    "fail": ("failed", "would fail"),
    "write_back": ("written back", "would be written back"),
    "awaiting_pickup": ("awaiting pickup", "would await pickup"),
    "not_written_back": ("not written back", "would not be written back"),
}


def reports_json(reports: list[StoreReport], **extra: Any) -> dict[str, Any]:
    return {**extra, "stores": [r.to_dict() for r in reports]}


def _reasons(counter: dict[str, int]) -> str:
    return "\n".join(f"{n} × {reason}" for reason, n in sorted(counter.items(),
                                                               key=lambda kv: (-kv[1], kv[0])))


def _row(table: Table, *cells: str) -> None:
    # Text, not str: order data may contain "[...]", which rich would read as markup.
    table.add_row(*(Text(cell) for cell in cells))


def render_reports(console: Console, reports: list[StoreReport],
                   started_at: datetime | None = None) -> None:
    """Each store's counts, then its per-order lines; ``started_at`` titles a cycle."""
    for report in reports:
        title = f"{report.source} store {report.store!r} → {report.sink}"
        if started_at is not None:
            title += f", run of {started_at.astimezone():%Y-%m-%d %H:%M:%S}"
        if report.dry_run:
            title += " (dry run: nothing was changed)"
        if report.stopped:
            title += " (stopped early)"
        if report.error:
            title += " (stopped by an API error)"
        table = Table(title=title, show_header=True, title_justify="left")
        table.add_column("", style="bold")
        table.add_column("count", justify="right")
        table.add_column("details")
        would = "would be " if report.dry_run else ""
        _row(table, f"{would}imported", str(report.imported), "")
        _row(table, f"{would}updated", str(report.updated), "")
        _row(table, f"{would}deleted", str(report.deleted), "")
        _row(table, "already imported", str(report.already_imported), "")
        if report.left_alone:
            _row(table, "left alone", str(report.left_alone),
                 f"removed from {report.sink} by hand, or forgotten (`shipsync resend` sends "
                 "one again)")
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
        _render_actions(console, report)


def _render_actions(console: Console, report: StoreReport) -> None:
    if not report.actions:
        return
    plan = Table(title="what would happen" if report.dry_run else "what was done",
                 title_justify="left")
    for column in ("order", "sink order", "", "why"):
        plan.add_column(column)
    for action in report.actions[:ACTIONS_SHOWN]:
        words = _ACTION_WORDS.get(action["action"], (action["action"], action["action"]))
        _row(plan, action["order_id"], action["order_number"] or "-",
             words[1 if report.dry_run else 0], action["why"])
    console.print(plan)
    more = len(report.actions) - ACTIONS_SHOWN + report.actions_omitted
    if more > 0:
        console.print(Text(f"… and {more} more order lines (`--json` lists up to "
                           f"{ACTIONS_KEPT}; `shipsync explain SOURCE ORDER_ID` tells any "
                           "order's story)"))
