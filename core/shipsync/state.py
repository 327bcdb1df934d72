"""The state store: what shipsync remembers between runs.

It holds which source order and destination became which sink order, and its
state; a journal of outgoing writes (intent before the call, outcome after);
bookmarks; quarantined records; per-order events (for ``shipsync explain``);
and run history.

``StateStore`` is the interface; ``SQLiteStateStore`` the default backend
(embedded, no server). The schema is versioned with ``PRAGMA user_version``
and migrated forward on open.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from contextlib import AbstractContextManager
from typing import Any, Iterator, Protocol

__all__ = [
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
    """The state store cannot be used (newer schema, locked, unreadable)."""


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
    state: str  # imported | printed | written_back | awaiting_pickup | deleted | not_shippable
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
    def start_run(self, source: str, store: str, steps: str, dry_run: bool) -> str: ...
    def finish_run(self, run_id: str, status: str, report: dict[str, Any]) -> None: ...
    def runs(self, limit: int = 20) -> list[dict[str, Any]]: ...
    def acquire_lease(self, name: str, ttl: float = 300.0) -> str | None: ...
    def lease_holder(self, name: str) -> dict[str, Any] | None: ...
    def renew_lease(self, name: str, holder: str, ttl: float = 300.0) -> bool: ...
    def release_lease(self, name: str, holder: str) -> None: ...
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
    # 4: what `shipsync doctor` (or a run) found of each API's uncertain behaviour, per
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


def _create_private(path: Path) -> None:
    """Create the state file readable by its owner only (it maps customers' orders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


class SQLiteStateStore:
    """The default state backend: one SQLite file, WAL mode, safe across processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            _create_private(self.path)
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
            return self._db.execute(sql, args).fetchall()

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

    # -- leases ---------------------------------------------------------------
    def acquire_lease(self, name: str, ttl: float = 300.0) -> str | None:
        """Take the named lease; return None (and who holds it) if another process has it."""
        holder = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        now = time.time()
        with self._tx():
            row = self._db.execute("SELECT holder, pid, expires FROM leases WHERE name=?",
                                   (name,)).fetchone()
            if row and row["expires"] > now and _pid_alive(row["pid"]):
                return None
            self._db.execute(
                "INSERT INTO leases VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
                "holder=excluded.holder, pid=excluded.pid, expires=excluded.expires",
                (name, holder, os.getpid(), now + ttl))
        return holder

    def lease_holder(self, name: str) -> dict[str, Any] | None:
        rows = self._q("SELECT holder, pid, expires FROM leases WHERE name=?", (name,))
        return dict(rows[0]) if rows else None

    def renew_lease(self, name: str, holder: str, ttl: float = 300.0) -> bool:
        with self._tx():
            cursor = self._db.execute("UPDATE leases SET expires=? WHERE name=? AND holder=?",
                                      (time.time() + ttl, name, holder))
            return cursor.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        with self._tx():
            self._db.execute("DELETE FROM leases WHERE name=? AND holder=?", (name, holder))

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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
        self.outer = not self.store._db.in_transaction
        if self.outer:
            self.store._db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        try:
            if self.outer:
                self.store._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.store._lock.release()


def open_state(section: dict[str, Any]) -> SQLiteStateStore:
    """Open the backend named by ``[state] backend`` (only ``sqlite`` ships today)."""
    backend = section.get("backend", "sqlite")
    if backend != "sqlite":
        raise StateError(f"unknown state backend {backend!r} (known: sqlite)")
    path = Path(section["path"]).expanduser() if section.get("path") else default_state_path()
    return SQLiteStateStore(path)
