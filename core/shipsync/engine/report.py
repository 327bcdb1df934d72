"""What one store's run reports: counts, reasons, failures, requests and time."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["StoreReport"]


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
    stopped: bool = False
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "store": self.store, "source": self.source, "sink": self.sink,
            "dry_run": self.dry_run, "imported": self.imported, "updated": self.updated,
            "deleted": self.deleted, "already_imported": self.already_imported,
            "skipped": self.skipped, "skipped_reasons": dict(self.skipped_reasons),
            "failed": self.failed, "failures": self.failures,
            "written_back": self.written_back, "awaiting_pickup": self.awaiting_pickup,
            "not_written_back": self.not_written_back,
            "not_written_back_reasons": self.not_written_back_reasons,
            "requests": self.requests, "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "step_seconds": {step: round(value, 3) for step, value in self.step_seconds.items()},
        }
        if self.dry_run:
            data["actions"] = self.actions
        return data
