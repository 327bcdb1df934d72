"""The SQLite state store: file safety, migrations, and each table's operations."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

import shipsync.state as state_module
from shipsync.state import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Link,
    SQLiteStateStore,
    StateError,
    default_state_path,
    open_state,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStateStore]:
    db = SQLiteStateStore(tmp_path / "state.db")
    yield db
    db.close()


def link(order_id: str = "100", destination_id: str = "1", number: str = "100",
         state: str = "imported", **fields: Any) -> Link:
    values: dict[str, Any] = {
        "source": "bigcommerce", "store": "main", "order_id": order_id,
        "destination_id": destination_id, "sink": "starshipit", "order_number": number,
        "sink_order_id": "S" + number, "state": state, "fingerprint": "fp",
        "created_at": "2024-01-01T00:00:00+00:00", "updated_at": "2024-01-01T00:00:00+00:00"}
    values.update(fields)
    return Link(**values)


# --------------------------------------------------------------------------- the file


def test_new_state_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "state.db"
    db = SQLiteStateStore(path)
    db.set_bookmark("x", "y")  # something written, so the WAL file exists too
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for sidecar in path.parent.glob("state.db-*"):
            assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600, sidecar.name
    finally:
        db.close()


def test_new_state_file_is_at_the_latest_version(store: SQLiteStateStore) -> None:
    assert store.version == SCHEMA_VERSION == len(MIGRATIONS)


def test_reopening_keeps_data(tmp_path: Path) -> None:
    first = SQLiteStateStore(tmp_path / "state.db")
    first.upsert_link(link())
    first.close()
    again = SQLiteStateStore(tmp_path / "state.db")
    try:
        assert again.get_link("bigcommerce", "main", "100", "1") == link()
        assert again.version == SCHEMA_VERSION
    finally:
        again.close()


def test_open_state_uses_the_configured_path_and_refuses_unknown_backends(
        tmp_path: Path) -> None:
    db = open_state({"path": str(tmp_path / "configured.db")})
    db.close()
    assert (tmp_path / "configured.db").exists()
    with pytest.raises(StateError, match="'postgres'"):
        open_state({"backend": "postgres", "path": str(tmp_path / "x.db")})


def test_default_state_path_is_in_the_xdg_data_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_state_path() == tmp_path / "data" / "shipsync" / "state.db"
    db = open_state({})
    db.close()
    assert (tmp_path / "data" / "shipsync" / "state.db").exists()


def test_a_file_that_is_not_sqlite_raises_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database, just some text " * 100)
    with pytest.raises(StateError, match="cannot open the state file"):
        SQLiteStateStore(path)


# --------------------------------------------------------------------------- migrations

# Rows written by a shipsync whose schema was at version N (only tables that existed then).
ROWS_AT_VERSION: dict[int, list[str]] = {
    1: [
        ("INSERT INTO links VALUES ('bigcommerce','main','100','1','starshipit','100','S1',"
         "'imported','fp','2024-01-01','2024-01-01','')"),
        ("INSERT INTO journal (run_id, target, action, key, payload, state, created_at) "
         "VALUES ('r1','starshipit','create_order','100','{\"order_id\": \"100\"}','intent',"
         "'2024-01-01')"),
        ("INSERT INTO bookmarks VALUES ('import:bigcommerce:main','2024-01-01T00:00:00+00:00',"
         "'2024-01-01')"),
        ("INSERT INTO quarantine VALUES ('bigcommerce','main','200','bad',NULL,2,'2024-01-01',"
         "'2024-01-02')"),
        ("INSERT INTO runs VALUES ('r1','bigcommerce','main','import',0,'2024-01-01',NULL,NULL,"
         "NULL)"),
    ],
    2: [("INSERT INTO events (source, store, order_id, at, kind, detail) "
         "VALUES ('bigcommerce','main','100','2024-01-01','imported','100')")],
    5: [("INSERT INTO forgotten VALUES ('bigcommerce','main','400','2024-01-01','by hand')")],
}


def old_database(path: Path, version: int) -> None:
    """A state file as a shipsync at schema ``version`` left it, with rows in every table."""
    db = sqlite3.connect(path)
    for index in range(version):
        db.executescript(MIGRATIONS[index])
        for statement in ROWS_AT_VERSION.get(index + 1, []):
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {version}")
    db.commit()
    db.close()


@pytest.mark.parametrize("version", range(SCHEMA_VERSION))
def test_older_state_file_migrates_to_the_latest_keeping_its_rows(tmp_path: Path,
                                                                  version: int) -> None:
    path = tmp_path / "old.db"
    old_database(path, version)
    db = SQLiteStateStore(path)
    try:
        assert db.version == SCHEMA_VERSION
        if version >= 1:
            assert db.get_link("bigcommerce", "main", "100", "1") is not None
            assert [e.key for e in db.in_doubt()] == ["100"]
            assert db.get_bookmark("import:bigcommerce:main") == "2024-01-01T00:00:00+00:00"
            assert db.quarantined("bigcommerce", "main")[0]["attempts"] == 2
            assert [r["run_id"] for r in db.runs()] == ["r1"]
        if version >= 2:
            assert [e["kind"] for e in db.events("bigcommerce", "main", "100")] == ["imported"]
        if version >= 5:
            assert list(db.forgotten("bigcommerce", "main")) == ["400"]
        # Every table of the latest schema is usable after the migration.
        db.add_event("bigcommerce", "main", "300", "skipped", "why")
        assert db.acquire_lease("bigcommerce:main") is not None
        db.forget("bigcommerce", "main", "200", "left alone")
        assert "200" in db.forgotten("bigcommerce", "main")
        assert db.quarantined("bigcommerce", "main") == []  # forgetting releases it
    finally:
        db.close()


def test_state_file_newer_than_this_shipsync_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    old_database(path, SCHEMA_VERSION)
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(StateError, match="upgrade shipsync"):
        SQLiteStateStore(path)


# --------------------------------------------------------------------------- links


def test_link_upsert_and_get(store: SQLiteStateStore) -> None:
    assert store.get_link("bigcommerce", "main", "100", "1") is None
    store.upsert_link(link())
    assert store.get_link("bigcommerce", "main", "100", "1") == link()


def test_link_upsert_updates_in_place_and_keeps_created_at(store: SQLiteStateStore) -> None:
    store.upsert_link(link())
    store.upsert_link(link(state="printed", detail="label", created_at="2030-01-01",
                           updated_at="2030-01-01"))
    got = store.get_link("bigcommerce", "main", "100", "1")
    assert got is not None
    assert (got.state, got.detail, got.updated_at) == ("printed", "label", "2030-01-01")
    assert got.created_at == "2024-01-01T00:00:00+00:00"
    assert len(store.links_for_order("bigcommerce", "main", "100")) == 1


def test_links_by_number_and_by_order(store: SQLiteStateStore) -> None:
    store.upsert_link(link("100", "2", "100-2"))
    store.upsert_link(link("100", "1", "100-1"))
    store.upsert_link(link("101", "1", "101"))
    found = store.link_by_number("starshipit", "100-2")
    assert found is not None and (found.order_id, found.destination_id) == ("100", "2")
    assert store.link_by_number("starshipit", "999") is None
    assert store.link_by_number("other-sink", "100-2") is None
    ordered = [x.destination_id for x in store.links_for_order("bigcommerce", "main", "100")]
    assert ordered == ["1", "2"]


def test_open_links_filters_by_store_and_state(store: SQLiteStateStore) -> None:
    store.upsert_link(link("1", number="1", state="imported"))
    store.upsert_link(link("2", number="2", state="printed"))
    store.upsert_link(link("3", number="3", state="written_back"))
    store.upsert_link(link("4", number="4", state="imported", store="other"))
    open_ = store.open_links("bigcommerce", "main", ("imported", "printed"))
    assert sorted(x.order_id for x in open_) == ["1", "2"]
    assert store.count_links("bigcommerce", "main") == {"imported": 1, "printed": 1,
                                                        "written_back": 1}


def test_second_link_with_the_same_sink_order_number_is_refused(
        store: SQLiteStateStore) -> None:
    store.upsert_link(link("100", "1", "SAME"))
    with pytest.raises(sqlite3.IntegrityError):
        store.upsert_link(link("200", "1", "SAME"))
    assert store.link_by_number("starshipit", "SAME").order_id == "100"  # type: ignore[union-attr]
    # The same number on another sink is another order.
    store.upsert_link(link("200", "1", "SAME", sink="other-sink"))


# --------------------------------------------------------------------------- journal


def test_journal_intent_is_in_doubt_until_done_or_failed(store: SQLiteStateStore) -> None:
    created = store.journal_intent("run1", "starshipit", "create_order", "100",
                                   {"order_id": "100", "n": 1})
    shipped = store.journal_intent("run1", "bigcommerce", "create_shipment", "100:1:T",
                                   {"order_id": "100"})
    status = store.journal_intent("run1", "bigcommerce", "set_status", "100:status:2", {})
    assert [e.id for e in store.in_doubt()] == [created, shipped, status]
    assert [e.id for e in store.in_doubt("bigcommerce")] == [shipped, status]
    entry = store.in_doubt("starshipit")[0]
    assert (entry.action, entry.key, entry.payload, entry.state, entry.outcome) == (
        "create_order", "100", {"order_id": "100", "n": 1}, "intent", None)

    store.journal_done(created, {"sink_order_id": "S1"})
    store.journal_failed(shipped, {"error": "422"})
    assert [e.id for e in store.in_doubt()] == [status]
    done, = store.journal(key="100")
    assert (done.state, done.outcome) == ("done", {"sink_order_id": "S1"})
    assert done.finished_at is not None
    failed, = store.journal(key="100:1:T")
    assert (failed.state, failed.outcome) == ("failed", {"error": "422"})


# --------------------------------------------------------------------------- bookmarks


def test_bookmarks_are_set_overwritten_and_scoped(store: SQLiteStateStore) -> None:
    assert store.get_bookmark("import:bigcommerce:main") is None
    store.set_bookmark("import:bigcommerce:main", "2024-01-01T00:00:00+00:00")
    store.set_bookmark("import:bigcommerce:main", "2024-02-01T00:00:00+00:00")
    store.set_bookmark("import:bigcommerce:other", "2023-01-01T00:00:00+00:00")
    assert store.get_bookmark("import:bigcommerce:main") == "2024-02-01T00:00:00+00:00"
    assert store.get_bookmark("import:bigcommerce:other") == "2023-01-01T00:00:00+00:00"


# --------------------------------------------------------------------------- quarantine


def test_quarantine_counts_attempts_and_release_removes(store: SQLiteStateStore) -> None:
    store.quarantine("bigcommerce", "main", "100", "first reason", {"id": 100})
    store.quarantine("bigcommerce", "main", "100", "second reason")
    store.quarantine("bigcommerce", "main", "101", "other order")
    store.quarantine("bigcommerce", "other", "100", "other store")
    entries = {q["order_id"]: q for q in store.quarantined("bigcommerce", "main")}
    assert sorted(entries) == ["100", "101"]
    assert entries["100"]["attempts"] == 2
    assert entries["100"]["reason"] == "second reason"
    assert entries["100"]["first_seen"] <= entries["100"]["last_seen"]
    assert entries["101"]["attempts"] == 1
    store.release("bigcommerce", "main", "100")
    assert [q["order_id"] for q in store.quarantined("bigcommerce", "main")] == ["101"]
    assert [q["order_id"] for q in store.quarantined("bigcommerce", "other")] == ["100"]


# --------------------------------------------------------------------------- events and runs


def test_events_are_kept_per_order_in_order(store: SQLiteStateStore) -> None:
    store.add_event("bigcommerce", "main", "100", "imported", "100 (destination 1)", "run1")
    store.add_event("bigcommerce", "main", "101", "skipped", "nothing left to ship")
    store.add_event("bigcommerce", "main", "100", "written_back", "100: Shipped", "run2")
    events = store.events("bigcommerce", "main", "100")
    assert [(e["kind"], e["run_id"]) for e in events] == [("imported", "run1"),
                                                          ("written_back", "run2")]
    assert store.events("bigcommerce", "other", "100") == []


def test_runs_are_started_finished_and_listed_newest_first(store: SQLiteStateStore) -> None:
    first = store.start_run("bigcommerce", "main", "import,writeback", False)
    time.sleep(0.002)  # started_at has microseconds; make the order unambiguous
    second = store.start_run("bigcommerce", "main", "import", True)
    assert first != second
    store.finish_run(first, "ok", {"imported": 3})
    runs = store.runs()
    assert [r["run_id"] for r in runs] == [second, first]
    assert runs[0]["finished_at"] is None and runs[0]["dry_run"] == 1
    assert (runs[1]["status"], runs[1]["report"]) == ("ok", {"imported": 3})
    assert [r["run_id"] for r in store.runs(limit=1)] == [second]


# --------------------------------------------------------------------------- leases


def test_lease_is_refused_while_held_and_free_after_release(store: SQLiteStateStore) -> None:
    holder = store.acquire_lease("bigcommerce:main")
    assert holder is not None
    assert store.acquire_lease("bigcommerce:main") is None  # another holder, same live pid
    assert store.acquire_lease("bigcommerce:other") is not None  # leases are per name
    assert store.renew_lease("bigcommerce:main", holder) is True
    store.release_lease("bigcommerce:main", "someone-else")
    assert store.acquire_lease("bigcommerce:main") is None  # only the holder releases
    store.release_lease("bigcommerce:main", holder)
    assert store.acquire_lease("bigcommerce:main") is not None


def test_lease_is_free_after_it_expires(store: SQLiteStateStore,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    holder = store.acquire_lease("bigcommerce:main", ttl=60)
    assert holder is not None
    assert store.acquire_lease("bigcommerce:main") is None
    later = time.time() + 61
    monkeypatch.setattr(state_module, "time", SimpleNamespace(time=lambda: later))
    taken = store.acquire_lease("bigcommerce:main")
    assert taken is not None and taken != holder
    assert store.renew_lease("bigcommerce:main", holder) is False  # the old holder lost it


HOLD_LEASE = textwrap.dedent("""\
    import sys
    from shipsync.state import SQLiteStateStore
    store = SQLiteStateStore(sys.argv[1])
    print(store.acquire_lease("bigcommerce:main", ttl=600), flush=True)
    sys.stdin.read()  # hold it until the test closes our stdin
    """)


def test_lease_of_a_live_process_is_refused_and_free_once_it_died(tmp_path: Path,
                                                                  store: SQLiteStateStore) -> None:
    other = subprocess.Popen([sys.executable, "-c", HOLD_LEASE, str(store.path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        holder = other.stdout.readline().strip()  # type: ignore[union-attr]
        assert holder.startswith(f"{other.pid}-")
        assert store.acquire_lease("bigcommerce:main") is None
        assert store.lease_holder("bigcommerce:main")["pid"] == other.pid  # type: ignore[index]
    finally:
        other.stdin.close()  # type: ignore[union-attr]
        other.wait(timeout=30)
    # The process died without releasing its (unexpired) lease.
    assert store.lease_holder("bigcommerce:main") is not None
    assert store.acquire_lease("bigcommerce:main") is not None


# --------------------------------------------------------------------------- status page reads


def test_last_run_is_the_newest_and_with_a_step_the_newest_that_had_it(
        store: SQLiteStateStore) -> None:
    assert store.last_run("bigcommerce", "main") is None
    both = store.start_run("bigcommerce", "main", "import,writeback", False)
    time.sleep(0.002)
    only_import = store.start_run("bigcommerce", "main", "import", False)
    time.sleep(0.002)
    store.start_run("bigcommerce", "other", "writeback", False)
    store.finish_run(only_import, "failed_records", {"imported": 2, "failed": 1})

    newest = store.last_run("bigcommerce", "main")
    assert newest is not None and newest["run_id"] == only_import
    assert newest["status"] == "failed_records" and newest["report"]["failed"] == 1
    writeback = store.last_run("bigcommerce", "main", "writeback")
    assert writeback is not None and writeback["run_id"] == both
    assert store.last_run("bigcommerce", "main", "port") is None  # a whole step, not a part


def test_count_events_counts_each_kind_since_a_time_per_store_and_per_hour(
        store: SQLiteStateStore) -> None:
    rows = [("main", "100", "imported", "2025-06-01T09:59:59.000000+00:00"),
            ("main", "101", "imported", "2025-06-01T10:00:00.000000+00:00"),
            ("main", "101", "imported", "2025-06-01T10:30:00.000000+00:00"),
            ("main", "102", "failed", "2025-06-01T10:40:00.000000+00:00"),
            ("main", "102", "failed", "2025-06-01T11:05:00.000000+00:00"),
            ("other", "7", "imported", "2025-06-01T11:10:00.000000+00:00")]
    for shop, order_id, kind, _at in rows:
        store.add_event("bigcommerce", shop, order_id, kind, "detail")
    # add_event stamps the present; the rows above need their own times.
    with store.transaction():
        for number, (_shop, _order_id, _kind, at) in enumerate(rows, 1):
            store._db.execute("UPDATE events SET at=? WHERE id=?", (at, number))

    counts = {(r["store"], r["kind"]): (r["n"], r["orders"])
              for r in store.count_events("2025-06-01T10:00:00+00:00")}
    assert counts == {("main", "imported"): (2, 1), ("main", "failed"): (2, 1),
                      ("other", "imported"): (1, 1)}
    hourly = {(r["store"], r["kind"], r["hour"]): r["n"]
              for r in store.count_events("2025-06-01T00:00:00+00:00", per_hour=True)}
    assert hourly == {("main", "imported", "2025-06-01T09"): 1,
                      ("main", "imported", "2025-06-01T10"): 2,
                      ("main", "failed", "2025-06-01T10"): 1,
                      ("main", "failed", "2025-06-01T11"): 1,
                      ("other", "imported", "2025-06-01T11"): 1}


def test_recent_events_are_the_newest_of_the_kinds_asked_for(store: SQLiteStateStore) -> None:
    for order_id, kind in (("1", "failed"), ("2", "imported"), ("3", "failed"),
                           ("4", "not_written_back")):
        store.add_event("bigcommerce", "main", order_id, kind, f"{kind} {order_id}")
        time.sleep(0.002)

    recent = store.recent_events(("failed", "not_written_back"), "2000-01-01")
    assert [e["order_id"] for e in recent] == ["4", "3", "1"]
    assert recent[0] == {**recent[0], "source": "bigcommerce", "store": "main",
                         "kind": "not_written_back", "detail": "not_written_back 4"}
    assert [e["order_id"] for e in store.recent_events(("failed",), "2000-01-01", limit=1)] \
        == ["3"]
    assert store.recent_events(("failed",), "2999-01-01") == []
    assert store.recent_events((), "2000-01-01") == []


def test_a_lease_held_on_another_host_is_refused_while_renewed_and_free_once_expired(
        tmp_path: Path, store: SQLiteStateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = SQLiteStateStore(store.path, host="other-host/boot/pid:[1]")
    try:
        holder = elsewhere.acquire_lease("bigcommerce:main", ttl=30)
        assert holder is not None
        assert store.acquire_lease("bigcommerce:main", ttl=30) is None
        assert store.lease_holder("bigcommerce:main")["host"] == "other-host"  # type: ignore[index]
        now = time.time()
        # Renewed every 10 s (the heartbeat): after 60 s the holder still has it.
        for step in (10, 20, 30, 40, 50, 60):
            monkeypatch.setattr(state_module, "time", SimpleNamespace(time=lambda s=step: now + s))
            assert elsewhere.renew_lease("bigcommerce:main", holder, ttl=30)
            assert store.acquire_lease("bigcommerce:main", ttl=30) is None
        # Its heartbeat stopped (the host died): taken over once the lease ran out.
        monkeypatch.setattr(state_module, "time", SimpleNamespace(time=lambda: now + 91))
        assert store.acquire_lease("bigcommerce:main", ttl=30) is not None
        assert elsewhere.renew_lease("bigcommerce:main", holder, ttl=30) is False
    finally:
        elsewhere.close()


def test_a_live_holder_on_this_host_keeps_its_lease_even_past_its_expiry(
        store: SQLiteStateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    other = subprocess.Popen([sys.executable, "-c", HOLD_LEASE.replace("ttl=600", "ttl=5"),
                              str(store.path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert other.stdout.readline().strip().startswith(f"{other.pid}-")  # type: ignore[union-attr]
        later = time.time() + 3600
        monkeypatch.setattr(state_module, "time", SimpleNamespace(time=lambda: later))
        assert store.acquire_lease("bigcommerce:main") is None  # alive: never taken
    finally:
        other.stdin.close()  # type: ignore[union-attr]
        other.wait(timeout=30)
    assert store.acquire_lease("bigcommerce:main") is not None  # dead: taken at once


@pytest.mark.parametrize("pid", [1, "parent"])
def test_a_recycled_pid_is_not_mistaken_for_the_holder(store: SQLiteStateStore,
                                                       pid: int | str) -> None:
    # The holder was PID 1 of a container (or any pid) that died; a new process runs under
    # that pid now, started at another time: the lease is taken over at once, unexpired.
    live_pid = os.getppid() if pid == "parent" else int(pid)
    assert state_module.process_start(live_pid), "needs /proc"
    with store.transaction():
        store._db.execute("INSERT INTO leases (name, holder, pid, expires, host, "
                          "process_started) VALUES (?,?,?,?,?,?)",
                          ("bigcommerce:main", f"{live_pid}-dead", live_pid,
                           time.time() + 3600, store.host, "1"))
    assert store.acquire_lease("bigcommerce:main") is not None


def test_folders_made_for_the_state_file_are_private_and_a_loose_file_is_tightened(
        tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "state.db"
    SQLiteStateStore(path).close()
    for folder in (tmp_path / "new", tmp_path / "new" / "deeper"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    path.chmod(0o644)
    reopened = SQLiteStateStore(path)
    reopened.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert reopened.warnings == [f"the state file {path} could be read by others (mode 0644); "
                                 "it is now 0600, for its owner only"]
    assert SQLiteStateStore(path).warnings == []


def test_a_state_file_that_cannot_be_created_is_a_state_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="cannot create or open the state file /sys/"):
        SQLiteStateStore("/sys/shipsync-test/state.db")


def test_a_full_disk_is_a_state_error_and_the_file_stays_consistent(
        store: SQLiteStateStore) -> None:
    store.upsert_link(link("100", "1", "100"))
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # what a full disk makes SQLite say
    with pytest.raises(StateError, match="cannot be written: database or disk is full"):
        for _n in range(2000):
            store.add_event("bigcommerce", "main", "100", "imported", "x" * 500, "run")
    store._db.execute("PRAGMA max_page_count = 1073741823")
    assert store.link_by_number("starshipit", "100") is not None
    store.upsert_link(link("200", "1", "200"))
    assert store.link_by_number("starshipit", "200") is not None
