"""Issue 12: each way a hostile network, a slow server or a careless config could lose,
duplicate or leak, reproduced over real HTTP through the real CLI, ending safely.

1 leases that hold, 2 redirects, 3 silent empty answers, 4 clocks, 5 colliding
numbers, 6 writes in doubt, 7 calls without a deadline and signals, 8 secrets in
exceptions, 9 tracebacks instead of errors, 10 file modes, 11 import statuses.
``MisbehavingServer`` (``shipsync.misbehaving``, the ``misbehaving_server`` fixture)
stands between shipsync and an emulator where an API must misbehave.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from shipsync.misbehaving import Misbehaviour, MisbehavingServer
from shipsync.sandbox import FaultRule
from shipsync.state import host_identity
from shipsync.testing import CliResult, write_config
from sync_world import API_KEY, World

Start = Callable[..., MisbehavingServer]
CLOCK_SHIM = Path(__file__).parent / "clock_shift"
ACCEPTS_REPEATED_NUMBERS = {"orders": 0, "seed": 1, "per_sandbox": {
    "bigcommerce": {"rate_limit": None},
    "starshipit": {"rate_limit": None, "duplicate_numbers": "accept"}}}


def _address(name: str = "Ann", post_code: str = "2000") -> dict[str, str]:
    return {"first_name": name, "last_name": "Test", "street_1": "1 Main St", "city": "Sydney",
            "state": "NSW", "zip": post_code, "country_iso2": "AU"}


def _order(world: World, name: str = "Ann", **spec: Any) -> dict[str, Any]:
    return world.add_order(shipping_addresses=[_address(name)], products=[{"name": name}],
                           **spec)


def _configure(world: World, *, bc: str | None = None, ss: str | None = None,
               run: dict[str, Any] | None = None, state: dict[str, Any] | None = None,
               stores: dict[str, dict[str, Any]] | None = None, **main: Any) -> Path:
    """The sandboxes' config; ``bc``/``ss``: a MisbehavingServer's URL in front of one."""
    data = world.sandboxes.config(world.tmp_path / "state.db")
    if bc:
        for settings in data["bigcommerce"]["stores"].values():
            settings["api_path"] = settings["api_path"].replace(
                world.sandboxes.url("bigcommerce"), bc)
    if ss:
        data["starshipit"]["base_url"] = ss
    data["run"] = {"max_retries": 1, "timeout": 5, **(run or {})}
    data["state"].update(state or {})
    for name, settings in (stores or {}).items():
        data["bigcommerce"]["stores"][name] = settings
    data["bigcommerce"]["stores"]["main"].update(main)
    return write_config(world.config_path, data)


def _proxy(world: World, start: Start, api: str) -> MisbehavingServer:
    return start(world.sandboxes.url(api))


def _state(world: World) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(world.tmp_path / "state.db",
                                              isolation_level=None))


def _bookmark(world: World, scope: str) -> str | None:
    with _state(world) as db:
        row = db.execute("SELECT value FROM bookmarks WHERE scope=?", (scope,)).fetchone()
    return row[0] if row else None


def _link_states(world: World, order_id: int) -> list[str]:
    with _state(world) as db:
        return [r[0] for r in db.execute("SELECT state FROM links WHERE order_id=?",
                                         (str(order_id),))]


def _error_lines(result: CliResult) -> list[str]:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def _exactly_once(world: World, numbers: list[str]) -> None:
    counts = Counter(o["order_number"] for o in world.ss.orders(API_KEY))
    assert counts == Counter(numbers), counts


def _popen(world: World, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")}
    environment.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", **(env or {})})
    return subprocess.Popen([sys.executable, "-m", "shipsync", "--config", str(world.config_path),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment, cwd=world.tmp_path)


def _wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


# --------------------------------------------------------------------------- 1 leases


def test_a_long_run_keeps_its_lease_renewed_and_a_second_process_is_refused_past_its_ttl(
        world: World) -> None:
    orders = [_order(world, f"L{n}") for n in range(3)]
    _configure(world, state={"lease_seconds": 3}, run={"timeout": 30})
    # A slow list makes the first run last four times the lease's 3 s.
    world.bc.faults.replace([FaultRule("latency", seconds=12, path="/v2/orders$", times=1)])
    first = _popen(world, "run", "bigcommerce", "--json")
    _wait_for(lambda: (world.tmp_path / "state.db").exists() and _lease(world) is not None)

    expiries = []
    second = None
    started = time.monotonic()
    while first.poll() is None:
        lease = _lease(world)
        if lease is not None:
            expiries.append(lease[0])
            assert lease[0] > time.time(), "the lease ran out while its holder lived"
        if second is None and time.monotonic() - started > 4.5:  # past the 3 s lease
            second = world.cli("run", "bigcommerce", "--json")
            assert first.poll() is None  # refused while the first still ran
        time.sleep(0.25)
    out, err = first.communicate()

    assert first.returncode == 0, err
    assert second is not None and second.code == 2
    assert "another shipsync process" in second.stderr and f"pid {first.pid}" in second.stderr
    assert time.monotonic() - started > 12  # four lease times
    assert len(set(expiries)) >= 3  # renewed again and again
    print(f"lease: a {time.monotonic() - started:.1f} s run with a 3 s lease, "
          f"{len(set(expiries))} expiries seen, the second process refused")
    _exactly_once(world, [str(o["id"]) for o in orders])


def _lease(world: World) -> tuple[float, int, str] | None:
    try:
        with _state(world) as db:
            row = db.execute("SELECT expires, pid, host FROM leases").fetchone()
    except sqlite3.OperationalError:
        return None  # not created yet
    return (float(row[0]), int(row[1]), str(row[2])) if row else None


def test_a_lease_left_by_a_dead_pid_1_is_taken_over_at_once(world: World) -> None:
    order = _order(world)
    _configure(world)
    assert world.cli("writeback", "bigcommerce").code == 0  # the state file exists
    # A container's PID 1 ran shipsync and was killed: PID 1 lives again, another process.
    with _state(world) as db:
        db.execute("INSERT OR REPLACE INTO leases (name, holder, pid, expires, host, "
                   "process_started) VALUES ('bigcommerce:main', '1-dead', 1, ?, ?, '1')",
                   (time.time() + 300, host_identity()))

    started = time.monotonic()
    result = world.cli("run", "bigcommerce", "--json")

    assert result.code == 0, result.stderr
    assert time.monotonic() - started < 30  # not the lease's 300 s
    _exactly_once(world, [str(order["id"])])


def test_a_holder_frozen_past_its_lease_is_still_not_taken_over(world: World) -> None:
    order = _order(world)
    _configure(world, state={"lease_seconds": 3})
    world.bc.faults.replace([FaultRule("latency", seconds=0.5)])
    first = _popen(world, "run", "bigcommerce", "--json")
    _wait_for(lambda: _lease(world) is not None)
    first.send_signal(signal.SIGSTOP)  # alive, but its heartbeat stops
    try:
        time.sleep(4)  # its lease runs out
        assert _lease(world)[0] < time.time()  # type: ignore[index]
        second = world.cli("run", "bigcommerce", "--json")
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=60)

    assert second.code == 2 and "another shipsync process" in second.stderr
    assert first.returncode == 0, err
    _exactly_once(world, [str(order["id"])])


# --------------------------------------------------------------------------- 2 redirects


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirected_shipment_post_is_not_recorded_and_nothing_goes_elsewhere(
        world: World, misbehaving_server: Start, status: int) -> None:
    order = _order(world)
    _configure(world)
    world.run()
    world.print_label(str(order["id"]))
    elsewhere = misbehaving_server()
    proxy = _proxy(world, misbehaving_server, "bigcommerce")
    proxy.add(Misbehaviour("redirect", status=status, method="POST", path="/shipments$",
                           location=elsewhere.url.replace("127.0.0.1", "localhost") + "{path}"))
    _configure(world, bc=proxy.url)

    redirected = world.cli("writeback", "bigcommerce", "--json")

    report = redirected.json()["stores"][0]
    assert redirected.code == 1 and report["written_back"] == 0 and report["failed"] == 1
    assert f"HTTP {status}, a redirect to localhost" in report["failures"][0]["reason"]
    assert elsewhere.received() == []  # neither the token nor the shipment went there
    assert world.bc.shipments("main", order["id"]) == []
    assert _link_states(world, order["id"]) == ["printed"]  # not recorded as written back

    proxy.clear()
    again = world.cli("writeback", "bigcommerce", "--json")
    assert again.code == 0 and again.json()["stores"][0]["written_back"] == 1
    assert len(world.bc.shipments("main", order["id"])) == 1


def test_a_redirected_read_fails_the_step_and_sends_nothing_elsewhere(
        world: World, misbehaving_server: Start) -> None:
    order = _order(world)
    elsewhere = misbehaving_server()
    proxy = _proxy(world, misbehaving_server, "bigcommerce")
    proxy.add(Misbehaviour("redirect", status=301, method="GET", path="/v2/orders$",
                           location=elsewhere.url.replace("127.0.0.1", "localhost") + "{path}"))
    _configure(world, bc=proxy.url)

    result = world.cli("import", "bigcommerce")

    [line] = _error_lines(result)
    assert result.code == 1
    assert "bigcommerce: GET orders: HTTP 301, a redirect to localhost" in line
    assert elsewhere.received() == [] and world.ss.orders(API_KEY) == []
    proxy.clear()
    assert world.cli("import", "bigcommerce").code == 0
    _exactly_once(world, [str(order["id"])])


# --------------------------------------------------------------------------- 3 shapes


@pytest.mark.parametrize("body, expected", [
    (b"{}", "expected a list of rows, got an empty object"),
    (b"", "an empty answer (HTTP 200) where JSON was expected"),
    (b'{"status": 500, "title": "Internal error"}',
     "expected a list of rows, got an object with keys status, title"),
    (b'[{"id": 1,', "the answer is not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "the answer's JSON is nested too deep to read"),
], ids=["empty-object", "empty-body", "error-object", "invalid-json", "nested-100k"])
def test_an_order_list_of_the_wrong_shape_fails_the_step_and_keeps_the_bookmark(
        world: World, misbehaving_server: Start, body: bytes, expected: str) -> None:
    """Cases 3 and 9: one error line naming the endpoint; nothing lost, bookmark kept."""
    first = _order(world, "First", status_id=9)
    _configure(world)
    world.run()
    bookmark = _bookmark(world, "import:bigcommerce:main")
    later = [_order(world, "Nine", status_id=9), _order(world, "Eleven", status_id=11)]
    proxy = _proxy(world, misbehaving_server, "bigcommerce")
    proxy.add(Misbehaviour("answer", method="GET", path="/v2/orders$", query="status_id=11",
                           body=body))
    _configure(world, bc=proxy.url)

    result = world.cli("run", "bigcommerce")

    [line] = _error_lines(result)
    assert result.code == 1 and f"bigcommerce GET /v2/orders: {expected}" in line
    assert _bookmark(world, "import:bigcommerce:main") == bookmark
    assert str(later[1]["id"]) not in {o["order_number"] for o in world.ss.orders(API_KEY)}
    _configure(world)
    assert world.cli("run", "bigcommerce").code == 0
    _exactly_once(world, [str(o["id"]) for o in [first, *later]])


def test_a_shipped_list_of_the_wrong_shape_fails_the_writeback_and_keeps_its_bookmark(
        world: World, misbehaving_server: Start) -> None:
    order = _order(world)
    _configure(world)
    world.run()
    world.print_label(str(order["id"]))
    proxy = _proxy(world, misbehaving_server, "starshipit")
    proxy.add(Misbehaviour("answer", method="GET", path="/api/orders/shipped",
                           body=b'{"success": true}'))
    _configure(world, ss=proxy.url)

    result = world.cli("writeback", "bigcommerce")

    [line] = _error_lines(result)
    assert result.code == 1 and "starshipit GET /api/orders/shipped: expected" in line
    assert _bookmark(world, "writeback:starshipit:bigcommerce:main") is None
    assert world.bc.shipments("main", order["id"]) == []
    _configure(world)
    assert world.cli("writeback", "bigcommerce").code == 0
    assert len(world.bc.shipments("main", order["id"])) == 1


# --------------------------------------------------------------------------- 4 clocks


def _shifted(world: World, seconds: float, *args: str) -> dict[str, Any]:
    env = {"CLOCK_SHIFT_SECONDS": str(seconds), "PYTHONPATH": str(CLOCK_SHIM)}
    result = world.cli(*args, "--json", env=env)
    assert result.code == 0, result.stderr
    return dict(result.json()["stores"][0])


def test_a_clock_days_or_an_hour_fast_or_slow_loses_nothing(world: World) -> None:
    probe = subprocess.run([sys.executable, "-c", "import time; print(time.time())"],
                           env={**os.environ, "CLOCK_SHIFT_SECONDS": "3600",
                                "PYTHONPATH": str(CLOCK_SHIM)},
                           capture_output=True, text=True, check=True)
    assert float(probe.stdout) - time.time() > 3500  # the shim shifts the process's clock
    day, hour = 86400.0, 3600.0
    _configure(world)
    one, two = _order(world, "One"), _order(world, "Two")

    # A first run on a host 8 days fast: "the last 7 days" by its clock would miss both.
    assert _shifted(world, 8 * day, "import", "bigcommerce")["imported"] == 2
    world.print_label(str(one["id"]))
    assert _shifted(world, 8 * day, "writeback", "bigcommerce")["written_back"] == 1
    # Orders placed while the clock goes an hour slow, then an hour fast.
    three = _order(world, "Three")
    assert _shifted(world, -hour, "run", "bigcommerce")["imported"] == 1
    four = _order(world, "Four")
    assert _shifted(world, hour, "run", "bigcommerce")["imported"] == 1
    for order in (two, three, four):
        world.print_label(str(order["id"]))
    assert _shifted(world, -hour, "run", "bigcommerce")["written_back"] == 3
    five = _order(world, "Five")
    assert _shifted(world, -8 * day, "run", "bigcommerce")["imported"] == 1

    _exactly_once(world, [str(o["id"]) for o in (one, two, three, four, five)])
    for order in (one, two, three, four):
        assert len(world.bc.shipments("main", order["id"])) == 1


# --------------------------------------------------------------------------- 5 numbers


def test_config_check_refuses_colliding_prefixes_and_a_store_configured_twice(
        world: World) -> None:
    main_path = world.sandboxes.config()["bigcommerce"]["stores"]["main"]
    twin = {**main_path, "order_prefix": "Z-"}
    _configure(world, order_prefix="A", stores={"outlet": {**twin, "order_prefix": "A1",
                                                           "api_path": main_path["api_path"]
                                                           .replace("/stores/", "/stores/x")},
                                                "twin": twin})
    checked = world.cli("config", "check")
    run = world.cli("run", "bigcommerce")

    assert checked.code == 2 and run.code == 2 and "Traceback" not in checked.stderr
    assert ("the order_prefix 'A1' of store 'outlet' and 'A' of store 'main' can make the same "
            "order number") in checked.stderr
    assert "stores 'main' and 'twin' are the same BigCommerce store" in checked.stderr
    _configure(world, order_prefix="A-", stores={"outlet": {
        **twin, "order_prefix": "A1-", "api_path": main_path["api_path"].replace(
            "/stores/", "/stores/x")}})
    assert world.cli("config", "check").code == 0


# The default words, and words with none of "exists", "duplicate" or "unique" in them.
@pytest.mark.parametrize("refusal", [None, "Validation failed: order_number"])
def test_a_number_taken_by_another_order_is_left_alone_and_ours_is_adopted(
        world: World, refusal: str | None) -> None:
    world.ss.duplicate_refusal = refusal
    mine, theirs = _order(world, "Mine"), _order(world, "Theirs")
    # Another system put an order under the number shipsync gives "theirs".
    world.ss.create_order(API_KEY, {"order_number": str(theirs["id"]), "reference": "POS-77",
                                    "destination": {"name": "Walk In", "street": "9 Shop St",
                                                    "post_code": "3000",
                                                    "country": "Australia"},
                                    "items": [{"description": "Till", "quantity": 1}]})
    _configure(world)
    report = world.run(expect=1)

    assert report["imported"] == 1 and report["failed"] == 1
    assert "is not the order shipsync sends" in report["failures"][0]["reason"]
    assert world.ss.get_order(API_KEY, str(theirs["id"]))["reference"] == "POS-77"
    assert _link_states(world, theirs["id"]) == []
    # The state file is lost: "mine" is refused as a repeat, proven ours, and adopted.
    (world.tmp_path / "state.db").unlink()
    again = world.run(expect=1)
    assert again["imported"] == 1 and _link_states(world, mine["id"]) == ["imported"]
    _exactly_once(world, [str(mine["id"]), str(theirs["id"])])


# --------------------------------------------------------------------------- 6 in doubt


@pytest.mark.parametrize("sandbox_options", [ACCEPTS_REPEATED_NUMBERS])
def test_an_order_in_doubt_is_not_sent_again_until_a_lookup_settles_it(world: World) -> None:
    order = _order(world)
    _configure(world, run={"timeout": 1, "max_retries": 1})
    world.ss.faults.replace([
        FaultRule("lost_response", method="POST", path="/api/orders/import", times=1),
        FaultRule("500", method="GET", path="^/api/orders$")])  # every lookup fails

    first = world.cli("run", "bigcommerce", "--json")
    second = world.cli("run", "bigcommerce", "--json")
    posts = world.ss.log.total("POST", "/api/orders/import")

    assert first.code == 1 and posts == 1  # the create was applied, its answer lost
    assert "in doubt" in json.dumps(second.json()["stores"][0]["skipped_reasons"])
    world.ss.faults.clear()
    third = world.cli("run", "bigcommerce", "--json")
    assert third.code == 0 and world.ss.log.total("POST", "/api/orders/import") == 1
    assert _link_states(world, order["id"]) == ["imported"]
    _exactly_once(world, [str(order["id"])])  # the emulator would have taken a second one


# --------------------------------------------------------------------------- 7 deadlines


def test_a_trickling_server_cannot_hold_a_run(world: World, misbehaving_server: Start) -> None:
    _order(world)
    proxy = _proxy(world, misbehaving_server, "bigcommerce")
    proxy.add(Misbehaviour("trickle", method="GET", path="/v2/orders$", interval=0.2))
    _configure(world, bc=proxy.url, run={"call_deadline": 2, "timeout": 5, "max_retries": 1})

    started = time.monotonic()
    result = world.cli("run", "bigcommerce")

    [line] = _error_lines(result)
    assert result.code == 1 and "no complete answer within 2 s" in line
    assert time.monotonic() - started < 20
    print(f"trickle: the run ended after {time.monotonic() - started:.1f} s")


def test_an_endless_answer_is_refused_in_bounded_memory(world: World,
                                                        misbehaving_server: Start) -> None:
    _order(world)
    proxy = _proxy(world, misbehaving_server, "bigcommerce")
    proxy.add(Misbehaviour("endless", method="GET", path="/v2/orders$"))
    _configure(world, bc=proxy.url)  # the default cap: 50 MB

    process = _popen(world, "import", "bigcommerce")
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    err = process.stderr.read()  # type: ignore[union-attr]

    assert process.returncode == 1 and "larger than the 50 MB allowed" in err
    # (ru_maxrss is in kB on Linux.) The bug this guards against grew past 2.5 GB.
    assert usage.ru_maxrss < 300 * 1024, f"peak {usage.ru_maxrss // 1024} MB"
    print(f"endless body: refused, peak memory {usage.ru_maxrss // 1024} MB")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_a_run_in_the_middle_of_its_retries(world: World, signum: int) -> None:
    _order(world)
    _configure(world, run={"max_retries": 8, "timeout": 5})  # backoff up to 30 s a wait
    world.bc.faults.replace([FaultRule("503", method="GET", path="/v2/orders$")])
    process = _popen(world, "run", "bigcommerce")
    _wait_for(lambda: world.bc.log.total("GET", "/v2/orders") >= 3)

    process.send_signal(signum)
    sent = time.monotonic()
    out, err = process.communicate(timeout=30)

    waited = time.monotonic() - sent
    assert waited < 5
    assert process.returncode == 128 + signum, err
    print(f"{signal.Signals(signum).name} mid-retry: exit {process.returncode} after "
          f"{waited:.2f} s")
    assert f"Stopped by {signal.Signals(signum).name} (store 'main': 0 imported" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("sandbox_options", [ACCEPTS_REPEATED_NUMBERS])
def test_sigterm_abandons_a_write_in_flight_and_the_next_run_settles_it(
        world: World, misbehaving_server: Start) -> None:
    order = _order(world)
    proxy = _proxy(world, misbehaving_server, "starshipit")
    proxy.add(Misbehaviour("hang", method="POST", path="/api/orders/import"))
    _configure(world, ss=proxy.url, run={"call_deadline": 120, "timeout": 60})
    process = _popen(world, "run", "bigcommerce")
    _wait_for(lambda: bool(world.ss.orders(API_KEY)))  # applied; its answer never comes

    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    out, err = process.communicate(timeout=30)

    waited = time.monotonic() - sent
    assert waited < 5 and process.returncode == 143, err
    print(f"SIGTERM mid-write: exit 143 after {waited:.2f} s")
    with _state(world) as db:
        assert db.execute("SELECT state FROM journal WHERE action='create_order'"
                          ).fetchall() == [("intent",)]  # in doubt: to be looked up
    _configure(world)
    assert world.cli("run", "bigcommerce").code == 0
    assert _link_states(world, order["id"]) == ["imported"]
    _exactly_once(world, [str(order["id"])])


# --------------------------------------------------------------------------- 8 secrets


@pytest.mark.parametrize("literal", [True, False])
def test_a_secret_with_a_stray_blank_is_refused_at_load_and_never_printed(
        world: World, literal: bool) -> None:
    token = world.sandboxes.config()["bigcommerce"]["stores"]["main"]["access_token"]
    broken = f"{token}\n" if literal else f" {token}"
    _configure(world, access_token=broken if literal else {"env": "BC_TOKEN"})

    result = world.cli("--debug", "run", "bigcommerce", env={"BC_TOKEN": broken})

    assert result.code == 2 and "Traceback" not in result.stderr
    assert "$.bigcommerce.stores.main.access_token" in result.stderr
    assert ("has a blank (or line break) at character" in result.stderr)
    assert token not in result.stderr + result.stdout


# --------------------------------------------------------------------------- 9 errors


def test_a_full_disk_is_one_error_line_and_the_state_stays_consistent(world: World) -> None:
    orders = [_order(world, f"D{n}") for n in range(20)]
    _configure(world)
    world.cli("writeback", "bigcommerce")  # the state file exists, small
    limit = (world.tmp_path / "state.db").stat().st_size + 8192

    def small_files() -> None:  # writes past `limit` bytes fail (EFBIG), as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    environment = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")}
    full = subprocess.run([sys.executable, "-m", "shipsync", "--config",
                           str(world.config_path), "run", "bigcommerce"], capture_output=True,
                          text=True, env=environment, cwd=world.tmp_path,
                          preexec_fn=small_files, timeout=120)

    assert "Traceback" not in full.stderr, full.stderr
    assert full.returncode == 1, full.stderr
    assert "the state file" in full.stderr and "cannot be written" in full.stderr
    print(f"full disk: exit {full.returncode}: {full.stderr.strip()}")
    assert world.cli("run", "bigcommerce").code == 0
    _exactly_once(world, [str(o["id"]) for o in orders])


def test_a_state_file_that_cannot_be_created_is_one_error_line(world: World) -> None:
    _configure(world, state={"path": "/sys/shipsync/state.db"})
    result = world.cli("run", "bigcommerce")
    [line] = _error_lines(result)
    assert result.code == 2 and "cannot create or open the state file /sys/shipsync" in line


def test_absurd_days_and_odd_order_ids_are_clear_errors(world: World) -> None:
    _configure(world)
    days = world.cli("run", "bigcommerce", "--days", "1000000000")
    markup = world.cli("explain", "bigcommerce", "[/bold]")
    escape = world.cli("explain", "bigcommerce", "\x1b[31m1")

    [line] = _error_lines(days)
    assert days.code == 2 and "--days must be between 1 and 3650" in line
    # Printed literally, not read as markup; an order no one knows exits 1 (issue 14).
    assert markup.code == 1 and "bigcommerce order [/bold]" in markup.stdout
    assert "Traceback" not in markup.stderr
    [line] = _error_lines(escape)
    assert escape.code == 2 and "control characters" in line
    assert "\x1b" not in escape.stdout + escape.stderr


def test_a_config_nested_100k_deep_is_a_clear_config_error(world: World) -> None:
    world.config_path.write_text("deep = " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = world.cli("config", "check")
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "not valid TOML: its arrays or tables nest too deep" in result.stderr


# --------------------------------------------------------------------------- 10 file modes


def test_the_state_files_folders_are_private_and_a_loose_file_is_tightened(
        world: World) -> None:
    path = world.tmp_path / "data" / "shipsync" / "state.db"
    _configure(world, state={"path": str(path)})
    assert world.cli("run", "bigcommerce").code == 0
    for folder in (path.parent, path.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    path.chmod(0o644)

    result = world.cli("run", "bigcommerce")

    assert result.code == 0 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"Warning: the state file {path} could be read by others (mode 0644)" in result.stderr


# --------------------------------------------------------------------------- 11 statuses


def test_import_statuses_that_must_not_ship_are_refused(world: World) -> None:
    _order(world, "Cancelled", status_id=5)
    _configure(world, import_statuses=[2, 10, 5])

    checked = world.cli("config", "check")
    run = world.cli("run", "bigcommerce")

    assert checked.code == 2 and run.code == 2
    for index, name in enumerate(["Shipped", "Completed", "Cancelled"]):
        assert f"$.bigcommerce.stores.main.import_statuses[{index}]" in checked.stderr
        assert f"({name}) is not a status to ship from" in checked.stderr
    assert world.ss.orders(API_KEY) == []
    _configure(world, import_statuses=[9, 11, 3])
    assert world.cli("config", "check").code == 0
