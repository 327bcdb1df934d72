"""What one store's run reports: counts, reasons, failures, per-order lines, requests, time.

Every run keeps a line per thing it did (or, dry, would do) to an order: imported,
updated, deleted, skipped and why, failed, written back. A run of 100,000 orders
keeps the first ``ACTIONS_KEPT`` lines and counts the rest (``actions_omitted``);
each order's whole story stays in the state file for ``shipsync explain``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ACTIONS_KEPT", "StoreReport"]

#: Per-order lines a report keeps; the rest are counted, never held in memory.
ACTIONS_KEPT = 1000


@dataclass
class StoreReport:
    store: str
    source: str
    sink: str
    dry_run: bool = False
    imported: int = 0
    updated: int = 0
    deleted: int = 0
    already_imported: int = 0
    left_alone: int = 0  # removed from the sink by hand, or forgotten: not touched
    skipped: int = 0
    skipped_reasons: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    written_back: int = 0
    awaiting_pickup: int = 0
    not_written_back: int = 0
    not_written_back_reasons: list[dict[str, str]] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    actions: list[dict[str, str]] = field(default_factory=list)
    actions_omitted: int = 0
    stopped: bool = False
    #: Why the run stopped early: an API could not be reached, refused the credentials, or
    #: kept failing; ``error_kind`` says which (unreachable, credentials, api).
    error: str | None = None
    error_kind: str | None = None
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step

    def add_action(self, action: str, order_id: str, number: str, why: str) -> None:
        """One per-order line (the caller holds the run's lock)."""
        if len(self.actions) < ACTIONS_KEPT:
            self.actions.append({"action": action, "order_id": order_id,
                                 "order_number": number, "why": why})
        else:
            self.actions_omitted += 1

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "store": self.store, "source": self.source, "sink": self.sink,
            "dry_run": self.dry_run, "imported": self.imported, "updated": self.updated,
            "deleted": self.deleted, "already_imported": self.already_imported,
            "left_alone": self.left_alone,
            "skipped": self.skipped, "skipped_reasons": dict(self.skipped_reasons),
            "failed": self.failed, "failures": self.failures,
            "written_back": self.written_back, "awaiting_pickup": self.awaiting_pickup,
            "not_written_back": self.not_written_back,
            "not_written_back_reasons": self.not_written_back_reasons,
            "requests": self.requests, "stopped": self.stopped, "error": self.error,
            "error_kind": self.error_kind,
            "seconds": round(self.seconds, 3),
            "step_seconds": {step: round(value, 3) for step, value in self.step_seconds.items()},
            "actions": self.actions, "actions_omitted": self.actions_omitted,
        }
        return data
