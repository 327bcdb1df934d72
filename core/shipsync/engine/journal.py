"""The journal: every remote write recorded as an intent before the call and an outcome after.

A write whose answer is lost (timeout, reset, 5xx) stays an open intent: it may
or may not have been applied, so it is looked up (``settling``) before anything
is sent again. ``journaled`` is the one way the engine makes a remote write.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..http import InDoubtError, TransportError
from ..state import StateStore

__all__ = ["Journal", "Outcome", "attempt", "fingerprint"]

T = TypeVar("T")


def fingerprint(payload: dict[str, Any]) -> str:
    """A short stable hash of a payload: a changed order has a changed fingerprint."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False,
                                     default=str).encode()).hexdigest()[:32]


@dataclass
class Outcome(Generic[T]):
    """What became of one journaled write.

    ``value``: the call's answer (journal: done). ``error``: refused, nothing was
    applied (journal: failed). ``in_doubt``: no answer, it may have been applied
    (journal: intent left open, to be settled by a lookup).
    """

    entry: int
    value: T | None = None
    error: TransportError | None = None
    in_doubt: InDoubtError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.in_doubt is None


def attempt(call: Callable[[], T]) -> Outcome[T]:
    """Make a remote write and say what became of it, without recording anything.

    For a call that carries several journaled writes (an import batch): the caller
    records each one's outcome from the answer.
    """
    try:
        return Outcome(0, value=call())
    except InDoubtError as exc:
        return Outcome(0, in_doubt=exc)  # left open: settled by a lookup
    except TransportError as exc:
        return Outcome(0, error=exc)


class Journal:
    """The journal of one store's run, in the state store."""

    def __init__(self, state: StateStore, run_id: str) -> None:
        self.state = state
        self.run_id = run_id

    def intents(self, target: str, action: str,
                writes: Iterable[tuple[str, dict[str, Any]]]) -> list[int]:
        """Record several intents in one transaction (one sync to disk); their entry ids."""
        with self.state.transaction():
            return [self.state.journal_intent(self.run_id, target, action, key, payload)
                    for key, payload in writes]

    def done(self, entry: int, outcome: dict[str, Any]) -> None:
        self.state.journal_done(entry, outcome)

    def failed(self, entry: int, outcome: dict[str, Any]) -> None:
        self.state.journal_failed(entry, outcome)

    def journaled(self, target: str, action: str, key: str, payload: dict[str, Any],
                  call: Callable[[], T],
                  record: Callable[[T], dict[str, Any]] = lambda _value: {}) -> Outcome[T]:
        """Record the intent, make the call, record its outcome; never raise a transport error.

        ``target`` is the remote system (a source's or sink's name), ``key`` what
        makes the write unique (an order number), ``record`` what of the answer to
        keep in the journal.
        """
        entry = self.state.journal_intent(self.run_id, target, action, key, payload)
        return self.call(entry, call, record)

    def call(self, entry: int, call: Callable[[], T],
             record: Callable[[T], dict[str, Any]] = lambda _value: {}) -> Outcome[T]:
        """Make the call for an intent already recorded and record its outcome."""
        try:
            value = call()
        except InDoubtError as exc:
            return Outcome(entry, in_doubt=exc)  # left open: settled by a lookup
        except TransportError as exc:
            self.failed(entry, {"error": str(exc)})
            return Outcome(entry, error=exc)
        self.done(entry, record(value))
        return Outcome(entry, value=value)

    def open_keys(self, target: str, action: str) -> set[str]:
        """Keys of this kind of write still in doubt (never to be sent again until settled)."""
        return {entry.key for entry in self.state.in_doubt(target) if entry.action == action}
