"""shipsync serve's core over the engine's in-memory fakes: batching, coalescing, retries,
the inbox, the label check and stopping. (Over real HTTP: tests/e2e/test_serve.py.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import order
from shipsync.serve.dispatch import InProcessDispatcher
from shipsync.serve.metrics import Metrics
from shipsync.serve.polling import SafetyNet
from shipsync.serve.runner import SyncRunner
from shipsync.serve.settings import ServeSettings, parse_duration
from shipsync.state import InboxEvent
from test_engine import World

LANE = ("fake", "main")


class Harness:
    """The engine over the fakes, with a runner and an in-process dispatcher."""

    def __init__(self, tmp_path: Path, **options: Any) -> None:
        self.world = World(tmp_path)
        self.metrics = Metrics()
        self.stop = threading.Event()
        self.runner = SyncRunner(self.world.engine, self.world.state, self.metrics, self.stop)
        self.dispatcher = InProcessDispatcher(self.runner, self.world.state, self.metrics,
                                              **{"batch_window": 0.05, **options})

    def trigger(self, *order_ids: str, step: str = "import", delivery: str = "",
                **fields: Any) -> list[InboxEvent]:
        events = [InboxEvent(webhook="fake", step=step, received_at=time.time(),
                             delivery=delivery, **({"source": "fake", "store": "main",
                                                    "order_id": i} if i else fields))
                  for i in order_ids]
        kept = self.world.state.inbox_add(events)
        self.dispatcher.submit(kept)
        return kept

    def settled(self, timeout: float = 10.0) -> None:
        wait_for(lambda: self.dispatcher.depth() == 0, timeout)

    def runs(self) -> list[dict[str, Any]]:
        return self.world.state.runs(100)


def wait_for(check: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("not true in time")
        time.sleep(0.01)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    running = Harness(tmp_path)
    running.dispatcher.start()
    yield running
    running.dispatcher.stop(grace=5)


def test_triggers_of_one_store_are_synced_in_one_batch_each_order_once(harness: Harness) -> None:
    for order_id in ("1", "2", "3"):
        harness.world.source.add(order(order_id))

    harness.trigger("1", "1", "2", "3", "3")  # created, updated, statusUpdated ...
    harness.settled()

    assert sorted(harness.world.sink.orders) == ["1", "2", "3"]
    assert [run["steps"] for run in harness.runs()] == ["import"]  # one run for all
    assert harness.world.sink.creates == 3
    assert harness.metrics.coalesced.labels("import")._value.get() == 2
    assert harness.world.state.inbox_counts() == {"done": 5}


def test_a_trigger_arriving_while_its_store_syncs_waits_for_the_next_batch(
        harness: Harness) -> None:
    harness.world.source.add(order("1"))
    with harness.runner.store_lock(LANE):  # the store is busy (a poll, say)
        harness.trigger("1")
        time.sleep(0.2)  # its batch has started and waits for the store
        harness.trigger("1")  # a later change of the same order
        time.sleep(0.2)
    harness.settled()

    assert [run["steps"] for run in harness.runs()] == ["import", "import"]
    assert harness.world.sink.creates == 1


def test_a_store_busy_in_another_process_is_retried_then_synced(harness: Harness) -> None:
    harness.world.source.add(order("1"))
    holder = harness.world.state.acquire_lease("fake:main")
    assert holder is not None
    [event] = harness.trigger("1")

    wait_for(lambda: harness.metrics.syncs.labels("webhook", "import", "retry")._value.get())
    assert harness.world.sink.orders == {}
    harness.world.state.release_lease("fake:main", holder)
    harness.settled()

    assert sorted(harness.world.sink.orders) == ["1"]
    assert harness.world.state.inbox_counts() == {"done": 1}


def test_a_trigger_is_left_to_the_poll_after_its_last_attempt(tmp_path: Path) -> None:
    running = Harness(tmp_path, max_attempts=1)
    running.dispatcher.start()
    try:
        running.world.source.add(order("1"))
        assert running.world.state.acquire_lease("fake:main")
        running.trigger("1")
        running.settled()
    finally:
        running.dispatcher.stop(grace=1)

    assert running.world.state.inbox_counts() == {"failed": 1}
    [row] = running.world.state._q("SELECT outcome FROM inbox")
    assert "poll" in row["outcome"] and "another shipsync process" in row["outcome"]


def test_a_label_trigger_finds_its_store_and_an_unknown_order_costs_nothing(
        harness: Harness) -> None:
    harness.world.source.add(order("1"))
    harness.world.run("import")
    harness.world.sink.print_label("1", "T1")
    calls = harness.world.sink.calls

    harness.trigger("", step="writeback", sink="fakesink", order_number="999")
    harness.settled()
    assert harness.world.sink.calls == calls  # not ours: not even read

    harness.trigger("", step="writeback", sink="fakesink", order_number="1")
    harness.settled()
    assert [s["order_id"] for s in harness.world.source.shipments] == ["1"]
    assert harness.world.sink.calls == calls + 1  # the shipment read once


def test_our_own_shipment_echoing_back_costs_no_call(harness: Harness) -> None:
    harness.world.source.add(order("1"))
    harness.world.run("import")
    harness.world.sink.print_label("1", "T1")
    harness.world.run("writeback")
    calls = harness.world.sink.calls, harness.world.source.calls

    harness.trigger("1", step="writeback")  # the shipment webhook of our own writeback
    harness.settled()

    assert (harness.world.sink.calls, harness.world.source.calls) == calls
    assert len(harness.world.source.shipments) == 1


def test_a_repeated_delivery_is_dropped_by_the_inbox(harness: Harness) -> None:
    harness.world.source.add(order("1"))
    first = harness.trigger("1", delivery="msg_1")
    again = harness.trigger("1", delivery="msg_1")
    other = harness.trigger("1", delivery="msg_2")
    harness.settled()

    assert (len(first), len(again), len(other)) == (1, 0, 1)


def test_triggers_left_in_the_inbox_are_taken_up_at_start(tmp_path: Path) -> None:
    running = Harness(tmp_path)
    running.world.source.add(order("1"))
    running.world.state.inbox_add([InboxEvent(webhook="fake", step="import", source="fake",
                                              store="main", order_id="1",
                                              received_at=time.time())])
    running.dispatcher.start()
    try:
        running.settled()
    finally:
        running.dispatcher.stop(grace=5)

    assert sorted(running.world.sink.orders) == ["1"]


def test_stopping_leaves_what_was_not_synced_in_the_inbox(tmp_path: Path) -> None:
    running = Harness(tmp_path)
    running.world.source.add(order("1"))
    running.dispatcher.start()
    with running.runner.store_lock(LANE):
        running.trigger("1")
        time.sleep(0.2)  # its batch waits for the store
        stopper = threading.Thread(target=running.dispatcher.stop, kwargs={"grace": 0.2})
        stopper.start()
        time.sleep(0.4)  # past the grace: the engine is asked to stop
    stopper.join(10)

    assert not stopper.is_alive() and running.stop.is_set()
    assert running.world.sink.orders == {}
    assert running.world.state.inbox_counts() == {"pending": 1}


def test_the_label_check_reads_each_sink_once(tmp_path: Path) -> None:
    world = Harness(tmp_path).world
    for order_id in ("1", "2", "3"):
        world.source.add(order(order_id))
    world.run("import")
    world.sink.print_label("1", "T1")
    world.sink.print_label("2", "T2")
    calls = world.sink.calls
    net = SafetyNet(world.engine, world.state, world.state,
                    SyncRunner(world.engine, world.state, Metrics(), threading.Event()),
                    Metrics(), ServeSettings())

    net.check_labels()
    net.check_labels()  # nothing left: read again, nothing written

    assert world.sink.calls - calls == 2  # one shipped list per check, no per-order read
    assert sorted(s["order_id"] for s in world.source.shipments) == ["1", "2"]
    assert world.state.get_bookmark("labels:fakesink")


def test_serve_settings_read_durations_and_say_what_is_wrong() -> None:
    settings = ServeSettings.of({"poll_every": "1h30m", "labels_every": 30, "port": 9000},
                                port=0)

    assert (settings.poll_every, settings.labels_every, settings.port) == (5400.0, 30.0, 0)
    assert parse_duration("90s") == 90.0
    with pytest.raises(ValueError, match="duration"):
        parse_duration("soon")
    assert ServeSettings(poll_every=5, public_url="http://example.com").problems() == [
        "poll_every must be at least 10s",
        "public_url: 'http://example.com' must use https (plain http is allowed only for "
        "loopback sandboxes)"]


def test_a_kept_source_serves_every_run_and_each_report_counts_its_own_requests(
        tmp_path: Path) -> None:
    world = World(tmp_path)
    built: list[object] = []
    spec = world.host.sources["fake"]
    factory = spec.factory

    def counting(*args: Any) -> Any:
        built.append(args)
        return factory(*args)

    object.__setattr__(spec, "factory", counting)
    engine = type(world.engine)(world.host, world.engine.config, world.state,
                                reuse_sources=True)
    world.source.add(order("1"))
    world.source.add(order("2"))

    first = engine.import_orders("fake", "main", ["1"])
    second = engine.import_orders("fake", "main", ["2"])
    engine.forget_source("fake", "main")
    engine.import_orders("fake", "main", ["1"])

    assert len(built) == 2  # one source for the first two runs, a fresh one after forget
    assert first.requests["fake"] == second.requests["fake"] == 1  # its own, not a total
    assert sorted(world.sink.orders) == ["1", "2"]
