"""The state store: what shipsync remembers between runs.

It holds which source order and destination became which sink order, and its
state; a journal of outgoing writes (intent before the call, outcome after);
bookmarks; quarantined records; per-order events (for ``shipsync explain``);
and run history.

``StateStore`` is the interface; ``SQLiteStateStore`` the default backend
(embedded, no server). The schema is versioned with ``PRAGMA user_version``
and migrated forward on open.

Leases keep two processes off one store. A holder renews its lease while it
lives (the engine's heartbeat, every third of the lease's time); a lease is
never taken from a live holder, and one whose holder died is taken over at
once. ``SQLiteStateStore`` records who holds it (pid, the process's start
time and the host: its name, boot id and pid namespace), so that on the same
host a recycled pid (a container's PID 1 after a restart) is not mistaken for
the holder; a holder on another host is judged by the expiry its heartbeat
keeps pushing back. Another backend may tie a lease to what dies with its
holder (a database session): ``renew_lease`` then only says it is still held.

Every failure of the file (disk full, read-only, corrupt) is a ``StateError``
with one line saying what failed, never a stack trace.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from contextlib import AbstractContextManager
from typing import Any, Iterator, Protocol

__all__ = [
    "LEASE_SECONDS",
    "EventInbox",
    "InboxEvent",
    "Link",
    "JournalEntry",
    "StateError",
    "StateStore",
    "SQLiteStateStore",
    "MIGRATIONS",
    "default_state_path",
    "open_state",
]


class StateError(Exception):
    """The state store cannot be used (newer schema, locked, unreadable, disk full)."""


#: How long a lease lasts without being renewed (``[state] lease_seconds``).
LEASE_SECONDS = 60.0


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def default_state_path() -> Path:
    """``$XDG_DATA_HOME/shipsync/state.db`` (``~/.local/share`` by default)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "shipsync" / "state.db"


@dataclass
class Link:
    """One source destination and the sink order it became."""

    source: str
    store: str
    order_id: str
    destination_id: str
    sink: str
    order_number: str
    sink_order_id: str | None
    #: imported | printed | written_back | awaiting_pickup | deleted | not_shippable | removed
    state: str
    fingerprint: str
    created_at: str
    updated_at: str
    detail: str = ""


@dataclass
class JournalEntry:
    id: int
    run_id: str
    target: str  # the remote system: a source's or sink's name
    action: str  # create_order | update_order | delete_order | create_shipment | set_status
    key: str  # what makes the write unique, e.g. the order number
    payload: dict[str, Any]
    state: str  # intent | done | failed
    outcome: dict[str, Any] | None
    created_at: str
    finished_at: str | None


@dataclass
class InboxEvent:
    """A webhook's trigger, kept in the state store from before it is answered until synced.

    ``state``: ``pending`` (to sync), ``done``, or ``failed`` (given up: the
    safety-net poll catches the order up). ``received_at`` is ``time.time()``.
    """

    webhook: str
    step: str  # import | writeback
    received_at: float
    source: str = ""
    store: str = ""
    order_id: str = ""
    sink: str = ""
    order_number: str = ""
    delivery: str = ""
    topic: str = ""
    id: int = 0
    state: str = "pending"
    attempts: int = 0
    finished_at: float | None = None
    outcome: str = ""


class EventInbox(Protocol):
    """What ``shipsync serve`` needs from a state backend: the webhook inbox."""

    def inbox_add(self, events: list[InboxEvent],
                  repeat_window: float = 86400.0) -> list[InboxEvent]: ...
    def inbox_pending(self) -> list[InboxEvent]: ...
    def inbox_finish(self, ids: list[int], state: str, outcome: str) -> None: ...
    def inbox_retry(self, ids: list[int], outcome: str) -> None: ...
    def inbox_counts(self) -> dict[str, int]: ...
    def inbox_purge(self, older_than: float) -> int: ...
    def close(self) -> None: ...


class StateStore(Protocol):
    """What the engine needs from a state backend."""

    def get_link(self, source: str, store: str, order_id: str,
                 destination_id: str) -> Link | None: ...
    def links_for_order(self, source: str, store: str, order_id: str) -> list[Link]: ...
    def link_by_number(self, sink: str, order_number: str) -> Link | None: ...
    def upsert_link(self, link: Link) -> None: ...
    def open_links(self, source: str, store: str, states: tuple[str, ...]) -> list[Link]: ...
    def count_links(self, source: str, store: str) -> dict[str, int]: ...
    def journal_intent(self, run_id: str, target: str, action: str, key: str,
                       payload: dict[str, Any]) -> int: ...
    def journal_done(self, entry_id: int, outcome: dict[str, Any]) -> None: ...
    def journal_failed(self, entry_id: int, outcome: dict[str, Any]) -> None: ...
    def in_doubt(self, target: str | None = None) -> list[JournalEntry]: ...
    def journal(self, key: str | None = None, limit: int = 100) -> list[JournalEntry]: ...
    def transaction(self) -> AbstractContextManager[Any]: ...
    def get_bookmark(self, scope: str) -> str | None: ...
    def set_bookmark(self, scope: str, value: str) -> None: ...
    def quarantine(self, source: str, store: str, order_id: str, reason: str,
                   record: Any = None) -> None: ...
    def release(self, source: str, store: str, order_id: str) -> None: ...
    def quarantined(self, source: str, store: str) -> list[dict[str, Any]]: ...
    def add_event(self, source: str, store: str, order_id: str, kind: str, detail: str,
                  run_id: str = "") -> None: ...
    def events(self, source: str, store: str, order_id: str) -> list[dict[str, Any]]: ...
    def forget(self, source: str, store: str, order_id: str, detail: str) -> None: ...
    def unforget(self, source: str, store: str, order_id: str) -> None: ...
    def forgotten(self, source: str, store: str) -> dict[str, dict[str, Any]]: ...
    def start_run(self, source: str, store: str, steps: str, dry_run: bool) -> str: ...
    def finish_run(self, run_id: str, status: str, report: dict[str, Any]) -> None: ...
    def runs(self, limit: int = 20) -> list[dict[str, Any]]: ...
    def last_run(self, source: str, store: str,
                 step: str | None = None) -> dict[str, Any] | None: ...
    def count_events(self, since: str, *, per_hour: bool = False) -> list[dict[str, Any]]: ...
    def recent_events(self, kinds: tuple[str, ...], since: str,
                      limit: int = 200) -> list[dict[str, Any]]: ...
    def acquire_lease(self, name: str, ttl: float = LEASE_SECONDS) -> str | None:
        """Take the lease ``name`` for ``ttl`` seconds: a holder token, or None while
        another live holder has it."""
        ...
    def lease_holder(self, name: str) -> dict[str, Any] | None:
        """Who holds it: at least ``pid`` and ``host`` (for messages), or None."""
        ...
    def renew_lease(self, name: str, holder: str, ttl: float = LEASE_SECONDS) -> bool:
        """Keep holding it ``ttl`` seconds more; False when ``holder`` lost it."""
        ...
    def release_lease(self, name: str, holder: str) -> None:
        """Let it go (only its holder can)."""
        ...
    def record_assumption(self, subject: str, name: str, status: str, *, summary: str = "",
                          observed: str = "", instead: str = "", checked_by: str = "") -> None: ...
    def assumptions(self, subject: str | None = None) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...


# Each migration takes the schema from version N to N+1. Never edit a shipped one.
MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE links (
        source TEXT NOT NULL, store TEXT NOT NULL, order_id TEXT NOT NULL,
        destination_id TEXT NOT NULL, sink TEXT NOT NULL, order_number TEXT NOT NULL,
        sink_order_id TEXT, state TEXT NOT NULL, fingerprint TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (source, store, order_id, destination_id)
    );
    CREATE UNIQUE INDEX links_by_number ON links (sink, order_number);
    CREATE INDEX links_by_state ON links (source, store, state);
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, target TEXT NOT NULL,
        action TEXT NOT NULL, key TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL,
        outcome TEXT, created_at TEXT NOT NULL, finished_at TEXT
    );
    CREATE INDEX journal_open ON journal (state, target);
    CREATE TABLE bookmarks (scope TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE quarantine (
        source TEXT NOT NULL, store TEXT NOT NULL, order_id TEXT NOT NULL, reason TEXT NOT NULL,
        record TEXT, attempts INTEGER NOT NULL DEFAULT 1, first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL, PRIMARY KEY (source, store, order_id)
    );
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY, source TEXT NOT NULL, store TEXT NOT NULL, steps TEXT NOT NULL,
        dry_run INTEGER NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, status TEXT,
        report TEXT
    );
    """,
    # 2: per-order events, for `shipsync explain`
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, store TEXT NOT NULL,
        order_id TEXT NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL,
        run_id TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_by_order ON events (source, store, order_id);
    """,
    # 3: leases, so that two processes never work on the same store at once
    """
    CREATE TABLE leases (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL, pid INTEGER NOT NULL,
        expires REAL NOT NULL
    );
    """,
    # 4: the status page's questions (what happened in the last hours, each store's last
    # run) answered from an index rather than a scan of every event and run ever recorded
    """
    CREATE INDEX events_by_time ON events (at);
    CREATE INDEX runs_by_store ON runs (source, store, started_at);
    """,
    # 5: orders the merchant told shipsync to leave alone (`shipsync forget`)
    """
    CREATE TABLE forgotten (
        source TEXT NOT NULL, store TEXT NOT NULL, order_id TEXT NOT NULL, at TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '', PRIMARY KEY (source, store, order_id)
    );
    """,
    # 6: who holds a lease, beyond a pid: its host and its process's start time
    """
    ALTER TABLE leases ADD COLUMN host TEXT NOT NULL DEFAULT '';
    ALTER TABLE leases ADD COLUMN process_started TEXT NOT NULL DEFAULT '';
    """,
    # 7: the webhook inbox of `shipsync serve`: each trigger kept before it is answered
    """
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, webhook TEXT NOT NULL, step TEXT NOT NULL,
        received_at REAL NOT NULL, source TEXT NOT NULL DEFAULT '',
        store TEXT NOT NULL DEFAULT '', order_id TEXT NOT NULL DEFAULT '',
        sink TEXT NOT NULL DEFAULT '', order_number TEXT NOT NULL DEFAULT '',
        delivery TEXT NOT NULL DEFAULT '', topic TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
        finished_at REAL, outcome TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX inbox_by_state ON inbox (state, id);
    CREATE INDEX inbox_by_delivery ON inbox (webhook, delivery);
    """,
    # 8: what `shipsync doctor` (or a run) found of each API's uncertain behaviour, per
    # subject (a source's store, "SOURCE:STORE", or a sink by its name)
    """
    CREATE TABLE assumptions (
        subject TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '', observed TEXT NOT NULL DEFAULT '',
        instead TEXT NOT NULL DEFAULT '', checked_by TEXT NOT NULL DEFAULT '',
        checked_at TEXT NOT NULL,
        PRIMARY KEY (subject, name)
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


def _create_private(path: Path) -> list[str]:
    """Create the state file (and the folders it needs) for its owner only: it maps
    customers' orders. An existing file others can read is made private; returns
    what was changed, as warnings to show."""
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        os.mkdir(created, 0o700)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        return []
    warnings = []
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            mode = stat.S_IMODE(file.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(file, mode & 0o700)
            warnings.append(f"the state file {file} could be read by others (mode {mode:04o}); "
                            f"it is now {mode & 0o700:04o}, for its owner only")
    return warnings


class SQLiteStateStore:
    """The default state backend: one SQLite file, WAL mode, safe across processes."""

    def __init__(self, path: str | os.PathLike[str], *, host: str | None = None) -> None:
        self.path = Path(path)
        #: What opening the file changed (e.g. its permissions tightened): shown to the user.
        self.warnings: list[str] = []
        if str(self.path) != ":memory:":
            try:
                self.warnings = _create_private(self.path)
            except OSError as exc:
                raise StateError(f"cannot create or open the state file {self.path}: "
                                 f"{exc.strerror or exc}") from None
        #: This process, as lease holders are recorded (tests may pretend to be elsewhere).
        self.host = host if host is not None else host_identity()
        self._started = process_start(os.getpid())
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False,
                                       isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self.migrate()
        except sqlite3.DatabaseError as exc:
            raise StateError(f"cannot open the state file {self.path}: {exc}") from None

    # -- schema ---------------------------------------------------------------
    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, target: int = SCHEMA_VERSION) -> None:
        with self._lock:
            current = self.version
            if current > SCHEMA_VERSION:
                raise StateError(
                    f"the state file {self.path} has schema version {current}, newer than this "
                    f"shipsync understands ({SCHEMA_VERSION}); upgrade shipsync"
                )
            for version in range(current, target):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _statements(MIGRATIONS[version]):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {version + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    def _tx(self) -> _Transaction:
        return _Transaction(self)

    def transaction(self) -> _Transaction:
        """Group writes into one transaction (one sync to disk) until the block ends."""
        return _Transaction(self)

    def _q(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                if not _file_failure(exc):
                    raise
                raise StateError(f"the state file {self.path} cannot be read: {exc}") from None

    # -- links ----------------------------------------------------------------
    def get_link(self, source: str, store: str, order_id: str, destination_id: str) -> Link | None:
        rows = self._q(
            "SELECT * FROM links WHERE source=? AND store=? AND order_id=? AND destination_id=?",
            (source, store, order_id, destination_id),
        )
        return Link(**dict(rows[0])) if rows else None

    def links_for_order(self, source: str, store: str, order_id: str) -> list[Link]:
        rows = self._q(
            "SELECT * FROM links WHERE source=? AND store=? AND order_id=? ORDER BY destination_id",
            (source, store, order_id),
        )
        return [Link(**dict(r)) for r in rows]

    def link_by_number(self, sink: str, order_number: str) -> Link | None:
        rows = self._q("SELECT * FROM links WHERE sink=? AND order_number=?", (sink, order_number))
        return Link(**dict(rows[0])) if rows else None

    def upsert_link(self, link: Link) -> None:
        with self._tx():
            self._db.execute(
                """INSERT INTO links VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
                ON CONFLICT (source, store, order_id, destination_id) DO UPDATE SET
                sink=excluded.sink, order_number=excluded.order_number,
                sink_order_id=excluded.sink_order_id, state=excluded.state,
                fingerprint=excluded.fingerprint, updated_at=excluded.updated_at,
                detail=excluded.detail""",
                (link.source, link.store, link.order_id, link.destination_id, link.sink,
                 link.order_number, link.sink_order_id, link.state, link.fingerprint,
                 link.created_at, link.updated_at, link.detail),
            )

    def open_links(self, source: str, store: str, states: tuple[str, ...]) -> list[Link]:
        marks = ",".join("?" * len(states))
        rows = self._q(
            f"SELECT * FROM links WHERE source=? AND store=? AND state IN ({marks})",
            (source, store, *states),
        )
        return [Link(**dict(r)) for r in rows]

    def count_links(self, source: str, store: str) -> dict[str, int]:
        rows = self._q(
            "SELECT state, COUNT(*) AS n FROM links WHERE source=? AND store=? GROUP BY state",
            (source, store),
        )
        return {r["state"]: r["n"] for r in rows}

    # -- journal --------------------------------------------------------------
    def journal_intent(self, run_id: str, target: str, action: str, key: str,
                       payload: dict[str, Any]) -> int:
        with self._tx():
            cursor = self._db.execute(
                "INSERT INTO journal (run_id, target, action, key, payload, state, created_at) "
                "VALUES (?,?,?,?,?, 'intent', ?)",
                (run_id, target, action, key, json.dumps(payload, default=str), utcnow()),
            )
            return int(cursor.lastrowid or 0)

    def _finish(self, entry_id: int, state: str, outcome: dict[str, Any]) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE journal SET state=?, outcome=?, finished_at=? WHERE id=?",
                (state, json.dumps(outcome, default=str), utcnow(), entry_id),
            )

    def journal_done(self, entry_id: int, outcome: dict[str, Any]) -> None:
        self._finish(entry_id, "done", outcome)

    def journal_failed(self, entry_id: int, outcome: dict[str, Any]) -> None:
        self._finish(entry_id, "failed", outcome)

    def in_doubt(self, target: str | None = None) -> list[JournalEntry]:
        sql = "SELECT * FROM journal WHERE state='intent'"
        args: tuple[Any, ...] = ()
        if target:
            sql += " AND target=?"
            args = (target,)
        return [self._entry(r) for r in self._q(sql + " ORDER BY id", args)]

    def journal(self, key: str | None = None, limit: int = 100) -> list[JournalEntry]:
        if key:
            rows = self._q("SELECT * FROM journal WHERE key=? ORDER BY id DESC LIMIT ?",
                           (key, limit))
        else:
            rows = self._q("SELECT * FROM journal ORDER BY id DESC LIMIT ?", (limit,))
        return [self._entry(r) for r in rows]

    @staticmethod
    def _entry(row: sqlite3.Row) -> JournalEntry:
        data = dict(row)
        data["payload"] = json.loads(data["payload"])
        data["outcome"] = json.loads(data["outcome"]) if data["outcome"] else None
        return JournalEntry(**data)

    # -- bookmarks ------------------------------------------------------------
    def get_bookmark(self, scope: str) -> str | None:
        rows = self._q("SELECT value FROM bookmarks WHERE scope=?", (scope,))
        return rows[0]["value"] if rows else None

    def set_bookmark(self, scope: str, value: str) -> None:
        with self._tx():
            self._db.execute(
                "INSERT INTO bookmarks VALUES (?,?,?) ON CONFLICT(scope) DO UPDATE SET "
                "value=excluded.value, updated_at=excluded.updated_at",
                (scope, value, utcnow()),
            )

    # -- quarantine -----------------------------------------------------------
    def quarantine(self, source: str, store: str, order_id: str, reason: str,
                   record: Any = None) -> None:
        now = utcnow()
        with self._tx():
            self._db.execute(
                """INSERT INTO quarantine VALUES (?,?,?,?,?,1,?,?)
                ON CONFLICT (source, store, order_id) DO UPDATE SET reason=excluded.reason,
                record=excluded.record, attempts=attempts+1, last_seen=excluded.last_seen""",
                (source, store, order_id, reason, json.dumps(record, default=str), now, now),
            )

    def release(self, source: str, store: str, order_id: str) -> None:
        with self._tx():
            self._db.execute(
                "DELETE FROM quarantine WHERE source=? AND store=? AND order_id=?",
                (source, store, order_id),
            )

    def quarantined(self, source: str, store: str) -> list[dict[str, Any]]:
        rows = self._q(
            "SELECT order_id, reason, attempts, first_seen, last_seen FROM quarantine "
            "WHERE source=? AND store=? ORDER BY order_id", (source, store))
        return [dict(r) for r in rows]

    # -- events ---------------------------------------------------------------
    def add_event(self, source: str, store: str, order_id: str, kind: str, detail: str,
                  run_id: str = "") -> None:
        with self._tx():
            self._db.execute(
                "INSERT INTO events (source, store, order_id, at, kind, detail, run_id) "
                "VALUES (?,?,?,?,?,?,?)", (source, store, order_id, utcnow(), kind, detail, run_id))

    def events(self, source: str, store: str, order_id: str) -> list[dict[str, Any]]:
        rows = self._q(
            "SELECT at, kind, detail, run_id FROM events WHERE source=? AND store=? AND order_id=? "
            "ORDER BY id", (source, store, order_id))
        return [dict(r) for r in rows]

    # -- forgotten orders -----------------------------------------------------
    def forget(self, source: str, store: str, order_id: str, detail: str) -> None:
        """Leave this order alone from now on (no import, update, delete or writeback)."""
        with self._tx():
            self._db.execute(
                "INSERT INTO forgotten VALUES (?,?,?,?,?) ON CONFLICT (source, store, order_id) "
                "DO UPDATE SET at=excluded.at, detail=excluded.detail",
                (source, store, order_id, utcnow(), detail))
            self._db.execute("DELETE FROM quarantine WHERE source=? AND store=? AND order_id=?",
                             (source, store, order_id))

    def unforget(self, source: str, store: str, order_id: str) -> None:
        with self._tx():
            self._db.execute("DELETE FROM forgotten WHERE source=? AND store=? AND order_id=?",
                             (source, store, order_id))

    def forgotten(self, source: str, store: str) -> dict[str, dict[str, Any]]:
        """The store's forgotten orders: ``{order_id: {"at": ..., "detail": ...}}``."""
        rows = self._q("SELECT order_id, at, detail FROM forgotten WHERE source=? AND store=?",
                       (source, store))
        return {r["order_id"]: {"at": r["at"], "detail": r["detail"]} for r in rows}

    # -- runs -----------------------------------------------------------------
    def start_run(self, source: str, store: str, steps: str, dry_run: bool) -> str:
        run_id = uuid.uuid4().hex[:12]
        with self._tx():
            self._db.execute(
                "INSERT INTO runs (run_id, source, store, steps, dry_run, started_at) "
                "VALUES (?,?,?,?,?,?)", (run_id, source, store, steps, int(dry_run), utcnow()))
        return run_id

    def finish_run(self, run_id: str, status: str, report: dict[str, Any]) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE runs SET finished_at=?, status=?, report=? WHERE run_id=?",
                (utcnow(), status, json.dumps(report, default=str), run_id))

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._q("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))
        out = []
        for r in rows:
            data = dict(r)
            data["report"] = json.loads(data["report"]) if data["report"] else None
            out.append(data)
        return out

    # -- what the status page reads (portable SQL: every backend answers the same) --------
    def last_run(self, source: str, store: str,
                 step: str | None = None) -> dict[str, Any] | None:
        """The store's newest run, or its newest run that had ``step`` (import, writeback)."""
        sql = "SELECT * FROM runs WHERE source=? AND store=?"
        args: tuple[Any, ...] = (source, store)
        if step:
            # steps is a comma-separated list ("import,writeback"): match one whole item.
            sql += " AND (',' || steps || ',') LIKE ?"
            args += (f"%,{step},%",)
        rows = self._q(sql + " ORDER BY started_at DESC LIMIT 1", args)
        if not rows:
            return None
        data = dict(rows[0])
        data["report"] = json.loads(data["report"]) if data["report"] else None
        return data

    def count_events(self, since: str, *, per_hour: bool = False) -> list[dict[str, Any]]:
        """How many events of each kind each store recorded since ``since`` (ISO, UTC).

        Each row: ``source``, ``store``, ``kind``, ``n`` (events) and ``orders``
        (distinct orders). With ``per_hour`` the counts are split by hour: ``hour``
        is the event time's first 13 characters (``2025-06-01T14``), else ``""``.
        """
        # PostgreSQL refuses a constant in GROUP BY: the hour is grouped on only when asked.
        hour = "SUBSTR(at, 1, 13)" if per_hour else "''"
        by_hour = ", SUBSTR(at, 1, 13)" if per_hour else ""
        rows = self._q(
            f"SELECT source, store, kind, {hour} AS hour, COUNT(*) AS n, "
            f"COUNT(DISTINCT order_id) AS orders FROM events "
            f"WHERE at >= ? GROUP BY source, store, kind{by_hour}", (since,))
        return [dict(r) for r in rows]

    def recent_events(self, kinds: tuple[str, ...], since: str,
                      limit: int = 200) -> list[dict[str, Any]]:
        """Events of these kinds since ``since``, newest first, at most ``limit``."""
        if not kinds:
            return []
        marks = ",".join("?" * len(kinds))
        rows = self._q(
            "SELECT source, store, order_id, at, kind, detail, run_id FROM events "
            f"WHERE at >= ? AND kind IN ({marks}) ORDER BY at DESC, id DESC LIMIT ?",
            (since, *kinds, limit))
        return [dict(r) for r in rows]

    # -- leases ---------------------------------------------------------------
    def acquire_lease(self, name: str, ttl: float = LEASE_SECONDS) -> str | None:
        """Take the named lease; None while another live holder has it.

        On this host (same name, boot and pid namespace) a holder is alive while
        its pid runs the process that took the lease (same start time); a holder
        elsewhere, while its lease has not expired. This process's own earlier
        lease is judged by its expiry.
        """
        pid = os.getpid()
        holder = f"{pid}-{uuid.uuid4().hex[:8]}"
        now = time.time()
        with self._tx():
            row = self._db.execute("SELECT * FROM leases WHERE name=?", (name,)).fetchone()
            if row and self._held(row, now):
                return None
            self._db.execute(
                "INSERT INTO leases (name, holder, pid, expires, host, process_started) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET holder=excluded.holder, "
                "pid=excluded.pid, expires=excluded.expires, host=excluded.host, "
                "process_started=excluded.process_started",
                (name, holder, pid, now + ttl, self.host, self._started))
        return holder

    def _held(self, row: sqlite3.Row, now: float) -> bool:
        if not row["host"]:  # recorded by an older shipsync: its pid and expiry only
            return bool(row["expires"] > now and _pid_alive(row["pid"]))
        if row["host"] != self.host:  # another host: only its heartbeat tells
            return bool(row["expires"] > now)
        if row["pid"] == os.getpid():
            return bool(row["expires"] > now)
        return _process_alive(row["pid"], row["process_started"])

    def lease_holder(self, name: str) -> dict[str, Any] | None:
        rows = self._q("SELECT holder, pid, expires, host, process_started FROM leases "
                       "WHERE name=?", (name,))
        if not rows:
            return None
        found = dict(rows[0])
        found["host"] = str(found["host"]).split("/", 1)[0]  # the host's name, for messages
        return found

    def renew_lease(self, name: str, holder: str, ttl: float = LEASE_SECONDS) -> bool:
        with self._tx():
            cursor = self._db.execute("UPDATE leases SET expires=? WHERE name=? AND holder=?",
                                      (time.time() + ttl, name, holder))
            return cursor.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        with self._tx():
            self._db.execute("DELETE FROM leases WHERE name=? AND holder=?", (name, holder))

    # -- the webhook inbox (shipsync serve) -------------------------------------
    def inbox_add(self, events: list[InboxEvent],
                  repeat_window: float = 86400.0) -> list[InboxEvent]:
        """Keep these events (one transaction, one sync to disk); return those kept.

        An event whose ``delivery`` id was already received from the same webhook
        within ``repeat_window`` seconds is a repeat of the same message: not kept.
        """
        kept: list[InboxEvent] = []
        with self._tx():
            for event in events:
                if event.delivery:
                    seen = self._db.execute(
                        "SELECT 1 FROM inbox WHERE webhook=? AND delivery=? AND received_at>?",
                        (event.webhook, event.delivery,
                         event.received_at - repeat_window)).fetchone()
                    if seen or any(k.delivery == event.delivery and k.webhook == event.webhook
                                   for k in kept):
                        continue
                cursor = self._db.execute(
                    "INSERT INTO inbox (webhook, step, received_at, source, store, order_id, "
                    "sink, order_number, delivery, topic) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (event.webhook, event.step, event.received_at, event.source, event.store,
                     event.order_id, event.sink, event.order_number, event.delivery,
                     event.topic))
                event.id = int(cursor.lastrowid or 0)
                event.state = "pending"
                kept.append(event)
        return kept

    def inbox_pending(self) -> list[InboxEvent]:
        rows = self._q("SELECT * FROM inbox WHERE state='pending' ORDER BY id")
        return [InboxEvent(**dict(r)) for r in rows]

    def inbox_finish(self, ids: list[int], state: str, outcome: str) -> None:
        with self._tx():
            self._db.executemany(
                "UPDATE inbox SET state=?, outcome=?, finished_at=? WHERE id=?",
                [(state, outcome, time.time(), i) for i in ids])

    def inbox_retry(self, ids: list[int], outcome: str) -> None:
        """Count one more failed attempt; the events stay pending."""
        with self._tx():
            self._db.executemany(
                "UPDATE inbox SET attempts=attempts+1, outcome=? WHERE id=?",
                [(outcome, i) for i in ids])

    def inbox_counts(self) -> dict[str, int]:
        rows = self._q("SELECT state, COUNT(*) AS n FROM inbox GROUP BY state")
        return {r["state"]: r["n"] for r in rows}

    def inbox_purge(self, older_than: float) -> int:
        """Forget finished events received before ``older_than`` (``time.time()``)."""
        with self._tx():
            cursor = self._db.execute(
                "DELETE FROM inbox WHERE state!='pending' AND received_at<?", (older_than,))
            return cursor.rowcount

    # -- assumptions ----------------------------------------------------------
    def record_assumption(self, subject: str, name: str, status: str, *, summary: str = "",
                          observed: str = "", instead: str = "", checked_by: str = "") -> None:
        """Remember what was found of one assumption about ``subject``'s API (the latest wins)."""
        with self._tx():
            self._db.execute(
                "INSERT INTO assumptions VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(subject, name) "
                "DO UPDATE SET status=excluded.status, summary=excluded.summary, "
                "observed=excluded.observed, instead=excluded.instead, "
                "checked_by=excluded.checked_by, checked_at=excluded.checked_at",
                (subject, name, status, summary, observed, instead, checked_by, utcnow()))

    def assumptions(self, subject: str | None = None) -> list[dict[str, Any]]:
        """What is known of the assumptions about ``subject`` (every subject: None)."""
        if subject is None:
            rows = self._q("SELECT * FROM assumptions ORDER BY subject, name")
        else:
            rows = self._q("SELECT * FROM assumptions WHERE subject=? ORDER BY name", (subject,))
        return [dict(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_alive(pid: int, started: str) -> bool:
    """``pid`` runs the process that started at ``started`` (not a later one given its pid)."""
    if not _pid_alive(pid):
        return False
    now = process_start(pid)
    return not started or not now or now == started


def process_start(pid: int) -> str:
    """When process ``pid`` started, in clock ticks since boot (Linux); "" if unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return fields[19]  # field 22 of proc(5), counted after "pid (comm)"
    except (OSError, IndexError):
        return ""


def host_identity() -> str:
    """This host as lease holders are told apart: its name, boot id and pid namespace.

    Two containers on one machine share the boot id but not their pid namespace
    (nor, mostly, their name): a pid is only checked on the host that recorded it.
    """
    parts = [socket.gethostname()]
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            parts.append(fh.read().strip())
    except OSError:
        parts.append("")
    try:
        parts.append(os.readlink("/proc/self/ns/pid"))
    except OSError:
        parts.append("")
    return "/".join(parts)


def _file_failure(exc: sqlite3.Error) -> bool:
    """The file failed (full, read-only, locked, corrupt), not the statement (a constraint)."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


def _statements(script: str) -> Iterator[str]:
    for statement in script.split(";"):
        if statement.strip():
            yield statement


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, re-entrant within one thread."""

    def __init__(self, store: SQLiteStateStore) -> None:
        self.store = store
        self.outer = False

    def __enter__(self) -> _Transaction:
        self.store._lock.acquire()
        try:
            self.outer = not self.store._db.in_transaction
            if self.outer:
                self.store._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self.store._lock.release()
            raise StateError(f"the state file {self.store.path} cannot be written: {exc}"
                             ) from None
        return self

    def __exit__(self, exc_type: Any, exc: Any, *rest: Any) -> None:
        # A failure of the file (disk full, read-only) is rolled back and becomes one line.
        failed = isinstance(exc, sqlite3.Error) and _file_failure(exc)
        try:
            if self.outer:
                db = self.store._db
                try:
                    if not exc_type:
                        db.execute("COMMIT")
                    elif db.in_transaction:  # (SQLite rolled back by itself on a full disk)
                        db.execute("ROLLBACK")
                except sqlite3.Error as error:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    if not failed:
                        exc, failed = error, True
        finally:
            self.store._lock.release()
        if failed:
            raise StateError(f"the state file {self.store.path} cannot be written: {exc}"
                             ) from None


def open_state(section: dict[str, Any]) -> SQLiteStateStore:
    """Open the backend named by ``[state] backend`` (only ``sqlite`` ships today)."""
    backend = section.get("backend", "sqlite")
    if backend != "sqlite":
        raise StateError(f"unknown state backend {backend!r} (known: sqlite)")
    path = Path(section["path"]).expanduser() if section.get("path") else default_state_path()
    return SQLiteStateStore(path)
