"""What is known of each API's uncertain behaviour, kept in the state file between runs.

``shipsync doctor`` records what its read-only checks found; a source or sink
records what it sees during a run (a contradicted assumption makes it take the
safe way from then on). The plugins read it through ``Context.assumptions``.
The subject of a source is ``SOURCE:STORE`` (one store's API), of a sink its
name (one account).
"""

from __future__ import annotations

from ..contracts import ASSUMPTION_STATUSES, AssumptionStatus, Finding
from ..state import StateStore

__all__ = ["StateAssumptions", "source_subject"]


def source_subject(source: str, store: str) -> str:
    return f"{source}:{store}"


class StateAssumptions:
    """``Assumptions`` of one subject, read from and written to the state store.

    ``dry``: a dry run reads what is known but records nothing.
    """

    def __init__(self, state: StateStore, subject: str, *, checked_by: str = "run") -> None:
        self.state = state
        self.subject = subject
        self.checked_by = checked_by
        self.dry = False

    def status(self, name: str) -> AssumptionStatus | None:
        for row in self.state.assumptions(self.subject):
            if row["name"] == name:
                status = row["status"]
                for known in ASSUMPTION_STATUSES:
                    if status == known:
                        return known
        return None

    def record(self, finding: Finding) -> None:
        if self.dry:
            return
        previous = self.status(finding.assumption)
        if self.checked_by == "run" and previous == finding.status:
            return  # a run confirms what is known: nothing to write
        self.state.record_assumption(
            self.subject, finding.assumption, finding.status, summary=finding.summary,
            observed=finding.observed, instead=finding.instead, checked_by=self.checked_by)
