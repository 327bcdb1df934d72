"""The engine driven through its typed contract: an in-memory source and sink, no HTTP.

Import (create, update, delete, removed by hand), writeback (shipment, status, pickup),
settling of writes in doubt, one order or one shipment at a time, dry runs; and a
meta-test that every hook spec is implemented by this file's recording plugin and that
the engine calls it.
"""

from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import (
    CANCELLED,
    FakeSink,
    FakeSource,
    order,
    sink_factory,
    source_factory,
)
from shipsync import (
    CommandSpec,
    ConfigSchema,
    DiagnosticSpec,
    Finding,
    MapperSpec,
    SandboxSpec,
    SinkSpec,
    SourceSpec,
    StatusPolicySpec,
    WebhookSpec,
    WritebackContext,
    WritebackDecision,
    hookimpl,
    hookspecs,
)
from shipsync.config import Config
from shipsync.doctor import run_doctor
from shipsync.engine import Engine, RunOptions, StoreReport
from shipsync.plugins import PluginHost, make_plugin_manager
from shipsync.state import SQLiteStateStore

HOOKS = sorted(name for name, value in vars(hookspecs).items()
               if name.startswith("shipsync_") and inspect.isfunction(value))


def shipped_when_all_shipped(context: WritebackContext) -> WritebackDecision:
    if not context.all_destinations_shipped:
        return WritebackDecision(True, None, "other addresses still to ship")
    return WritebackDecision(True, 2, "label printed: Shipped (2)")


def pickup_waits(context: WritebackContext) -> WritebackDecision | None:
    if not context.shipment.get("pickup"):
        return None
    return WritebackDecision(False, 8, "ready for pickup", pickup=True)


def gift_note(order: dict[str, Any], context: Any) -> dict[str, Any]:
    order["reference"] = "GIFT " + order["reference"]
    return order


class Recorder:
    """A plugin implementing every hook spec, recording each call (and giving the fakes)."""

    def __init__(self, source: FakeSource, sink: FakeSink) -> None:
        self.source, self.sink = source, sink
        self.calls: Counter[str] = Counter()
        self.deleted: list[str] = []

    @hookimpl
    def shipsync_sources(self) -> list[SourceSpec]:
        self.calls["shipsync_sources"] += 1
        return [SourceSpec("fake", source_factory(self.source),
                           stores=lambda config: list(config["fake"]["stores"].items()))]

    @hookimpl
    def shipsync_sinks(self) -> list[SinkSpec]:
        self.calls["shipsync_sinks"] += 1
        return [SinkSpec("fakesink", sink_factory(self.sink))]

    @hookimpl
    def shipsync_mappers(self) -> list[MapperSpec]:
        self.calls["shipsync_mappers"] += 1
        return [MapperSpec("gift-note", gift_note)]

    @hookimpl
    def shipsync_status_policies(self) -> list[StatusPolicySpec]:
        self.calls["shipsync_status_policies"] += 1
        return [StatusPolicySpec("pickup-waits", pickup_waits, order=10),
                StatusPolicySpec("shipped", shipped_when_all_shipped)]

    @hookimpl
    def shipsync_config_schemas(self) -> list[ConfigSchema]:
        self.calls["shipsync_config_schemas"] += 1
        return [ConfigSchema("fake", {"type": "object"})]

    @hookimpl
    def shipsync_sandboxes(self) -> list[SandboxSpec]:
        self.calls["shipsync_sandboxes"] += 1
        return []

    @hookimpl
    def shipsync_commands(self) -> list[CommandSpec]:
        self.calls["shipsync_commands"] += 1
        return []

    @hookimpl
    def shipsync_webhooks(self) -> list[WebhookSpec]:
        self.calls["shipsync_webhooks"] += 1
        return []

    @hookimpl
    def shipsync_diagnostics(self) -> list[DiagnosticSpec]:
        self.calls["shipsync_diagnostics"] += 1

        def batches(sink: Any) -> Any:
            yield Finding("batches-of-two", "confirmed", "the sink takes two orders a call",
                          observed=f"batch_size {sink.capabilities.batch_size}")

        return [DiagnosticSpec("fakesink-batches", "sink", "fakesink", batches)]

    @hookimpl
    def shipsync_writeback_decision(self, context: WritebackContext) -> None:
        self.calls["shipsync_writeback_decision"] += 1  # None: the policies decide

    @hookimpl
    def shipsync_order_number(self, order: dict[str, Any], destination_index: int,
                              prefix: str) -> None:
        self.calls["shipsync_order_number"] += 1  # None: the core's numbering

    @hookimpl
    def shipsync_tracking_carrier(self, carrier: str, source: str) -> str:
        self.calls["shipsync_tracking_carrier"] += 1
        return f"{source}-{carrier}".lower()

    @hookimpl
    def shipsync_run_started(self, run: Any) -> None:
        self.calls["shipsync_run_started"] += 1

    @hookimpl
    def shipsync_run_finished(self, run: Any, report: dict[str, Any]) -> None:
        self.calls["shipsync_run_finished"] += 1

    @hookimpl
    def shipsync_order_imported(self, order_number: str) -> None:
        self.calls["shipsync_order_imported"] += 1

    @hookimpl
    def shipsync_order_updated(self, order_number: str) -> None:
        self.calls["shipsync_order_updated"] += 1

    @hookimpl
    def shipsync_order_deleted(self, order_number: str, reason: str) -> None:
        self.calls["shipsync_order_deleted"] += 1
        self.deleted.append(order_number)

    @hookimpl
    def shipsync_order_skipped(self, order_id: str, reason: str) -> None:
        self.calls["shipsync_order_skipped"] += 1

    @hookimpl
    def shipsync_order_failed(self, order_id: str, reason: str) -> None:
        self.calls["shipsync_order_failed"] += 1

    @hookimpl
    def shipsync_order_written_back(self, order_id: str, decision: WritebackDecision) -> None:
        self.calls["shipsync_order_written_back"] += 1


class World:
    """The engine over the fakes, with a state file in a temporary folder."""

    def __init__(self, tmp_path: Path, **store: Any) -> None:
        self.source, self.sink = FakeSource(), FakeSink()
        self.recorder = Recorder(self.source, self.sink)
        self.host = PluginHost(make_plugin_manager(entry_points=False,
                                                   plugins=[("recorder", self.recorder)]))
        self.host.check()
        self.state = SQLiteStateStore(tmp_path / "state.db")
        self.configure(**store)

    def configure(self, **store: Any) -> None:
        data = {"fake": {"stores": {"main": {"sink": "fakesink", **store}}},
                "run": {"concurrency": 1}}
        self.engine = Engine(self.host, Config(data=data, raw=data), self.state)

    def run(self, *steps: str, dry_run: bool = False, days: int | None = None) -> StoreReport:
        options = RunOptions(steps=steps or ("import", "writeback"), dry_run=dry_run, days=days)
        [report] = self.engine.run("fake", options=options)
        return report

    def link(self, order_id: str) -> list[str]:
        return [link.state for link in self.state.links_for_order("fake", "main", order_id)]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_import_creates_one_sink_order_per_destination_once(world: World) -> None:
    world.source.add(order("1"))
    world.source.add(order("2", destinations=2))

    report = world.run("import")
    again = world.run("import")

    assert sorted(world.sink.orders) == ["1", "2-1", "2-2"]
    assert report.imported == 3 and again.imported == 0 and again.already_imported == 3
    assert world.sink.creates == 3
    assert world.sink.orders["1"]["reference"] == "GIFT 1"  # the mapper ran
    assert world.link("2") == ["imported", "imported"]


def test_a_changed_order_updates_its_unprinted_sink_order(world: World) -> None:
    world.source.add(order("1"))
    world.run("import")
    world.source.orders["1"]["destinations"][0]["items"][0]["quantity"] = 3

    report = world.run("import", days=7)

    assert report.updated == 1
    assert world.sink.orders["1"]["items"] == [["Mug", 3]]


def test_a_cancelled_order_is_withdrawn_from_the_sink(world: World) -> None:
    world.source.add(order("1"))
    world.run("import")
    world.source.orders["1"]["status_id"] = CANCELLED

    report = world.run("import")

    assert report.deleted == 1 and "1" not in world.sink.orders
    assert world.link("1") == ["deleted"] and world.recorder.deleted == ["1"]


def test_a_sink_order_removed_by_hand_is_reported_once_not_failed_nor_recreated(
        world: World) -> None:
    world.source.add(order("1"))
    world.run("import")
    del world.sink.orders["1"]
    world.source.orders["1"]["destinations"][0]["items"][0]["quantity"] = 2

    first = world.run("import", days=7)
    second = world.run("import", days=7)

    assert first.failed == 0 and first.skipped_reasons == {
        "removed from fakesink by hand (not sent again)": 1}
    assert second.failed == 0 and second.imported == 0 and "1" not in world.sink.orders
    assert world.link("1") == ["removed"]


def test_a_sink_order_the_writeback_finds_gone_is_removed_like_the_import_finds_it(
        world: World) -> None:
    world.source.add(order("1"))
    world.run("import")
    del world.sink.orders["1"]

    report = world.engine.write_back_order("fake", "main", "1")
    later = world.run("import", days=7)

    assert report.failed == 0 and report.skipped_reasons == {
        "removed from fakesink by hand (not sent again)": 1}
    assert world.link("1") == ["removed"]
    assert later.skipped == 0 and later.left_alone == 1 and later.already_imported == 0
    assert "1" not in world.sink.orders


def test_resend_creates_a_removed_order_again_and_its_dry_run_predicts_it(
        world: World) -> None:
    world.source.add(order("1"))
    world.run("import")
    del world.sink.orders["1"]
    world.run("import", days=7)

    predicted = world.engine.resend("fake", "main", "1", RunOptions(steps=("import",),
                                                                    dry_run=True))
    assert predicted.imported == 1 and "1" not in world.sink.orders
    done = world.engine.resend("fake", "main", "1")

    assert done.imported == 1 and "1" in world.sink.orders
    assert [a["action"] for a in predicted.actions] == [a["action"] for a in done.actions]
    assert world.link("1") == ["imported"]


def test_a_forgotten_order_is_never_touched_until_resent(world: World) -> None:
    world.source.add(order("1"))
    world.run("import")
    world.engine.forget("fake", "main", "1")
    world.source.orders["1"]["status_id"] = CANCELLED
    world.sink.print_label("1", "TRACK1")

    report = world.run(days=7)

    assert report.deleted == 0 and report.written_back == 0 and report.left_alone >= 1
    assert world.link("1") == ["imported"] and world.source.shipments == []


def test_writeback_posts_the_shipment_then_leaves_the_status_the_source_sets_itself(
        world: World) -> None:
    world.source.add(order("1"))
    world.run("import")
    world.sink.print_label("1", "TRACK1", "TRACK2")

    report = world.run("writeback")
    again = world.run("writeback")

    assert report.written_back == 1 and again.written_back == 0
    [shipment] = world.source.shipments
    assert shipment["tracking_number"] == "TRACK1" and shipment["carrier"] == "fake-post"
    # Shipped (2) is the status the fake shop sets by itself once all has shipped.
    assert world.source.statuses == []
    assert world.link("1") == ["written_back"]


def test_a_status_the_source_does_not_set_itself_is_written(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.source.capabilities = type(world.source.capabilities)(shipped_status=None)
    world.source.add(order("1"))
    world.run("import")
    world.sink.print_label("1", "T1")

    world.run("writeback")

    assert world.source.statuses == [("1", 2)]


def test_multi_address_order_is_shipped_only_when_every_address_has_shipped(
        world: World) -> None:
    world.source.capabilities = type(world.source.capabilities)(shipped_status=None)
    world.source.add(order("1", destinations=2))
    world.run("import")
    world.sink.print_label("1-1", "A")
    world.run("writeback")
    assert world.source.statuses == [] and len(world.source.shipments) == 1

    world.sink.print_label("1-2", "B")
    world.run("writeback")
    assert world.source.statuses == [("1", 2)] and len(world.source.shipments) == 2


def test_pickup_goes_with_the_sinks_pickup_carrier_and_waits_for_pickup(tmp_path: Path) -> None:
    off = World(tmp_path / "off")
    off.source.add(order("1", pickup=True))
    assert off.run("import").skipped_reasons == {
        "pickup in store (Enable Pickup in Store is off)": 1}

    world = World(tmp_path / "on", pickup_in_store=True)
    world.source.add(order("1", pickup=True))
    world.run("import")
    assert world.sink.orders["1"]["carrier"] == "Collect"
    world.sink.print_label("1", carrier="Collect")
    report = world.run("writeback")

    assert report.awaiting_pickup == 1 and report.written_back == 0
    assert world.source.shipments == [] and world.source.statuses == [("1", 8)]
    assert world.link("1") == ["awaiting_pickup"]


def test_a_lost_import_answer_is_looked_up_not_sent_twice(world: World) -> None:
    world.source.add(order("1"))
    world.sink.lose_create_answers = 1

    report = world.run("import")

    assert report.imported == 1 and world.sink.creates == 1 and world.link("1") == ["imported"]


def test_an_unsettled_create_is_never_sent_again_until_settled(world: World) -> None:
    world.source.add(order("1"))
    world.sink.lose_create_answers = 1
    world.sink.unreachable_lookups = True
    first = world.run("import")
    world.sink.orders.clear()  # whatever the sink did, nothing is resent while in doubt

    second = world.run("import", days=7)
    assert first.failed == 1 and second.imported == 0 and world.sink.orders == {}
    assert "in doubt" in " ".join(second.skipped_reasons)

    world.sink.unreachable_lookups = False
    third = world.run("import", days=7)
    assert third.imported == 1 and sorted(world.sink.orders) == ["1"]


def test_a_lost_shipment_answer_is_looked_up_not_posted_twice(world: World) -> None:
    world.source.add(order("1"))
    world.run("import")
    world.sink.print_label("1", "T1")
    world.source.lose_shipment_answers = 1

    report = world.run("writeback")

    assert report.written_back == 1 and len(world.source.shipments) == 1


def test_one_order_and_one_shipment_alone(world: World) -> None:
    world.source.add(order("1"))
    world.source.add(order("2"))

    imported = world.engine.import_order("fake", "main", "2")
    assert imported.imported == 1 and sorted(world.sink.orders) == ["2"]

    world.sink.print_label("2", "T2")
    written = world.engine.write_back_order("fake", "main", "2")
    assert written.written_back == 1 and [s["order_id"] for s in world.source.shipments] == ["2"]
    nothing = world.engine.write_back_order("fake", "main", "1")  # not printed: nothing to do
    assert nothing.written_back == 0 and nothing.failed == 0


def test_one_cancelled_order_alone_is_withdrawn(world: World) -> None:
    world.source.add(order("1"))
    world.run("import")
    world.source.orders["1"]["status_id"] = CANCELLED

    report = world.engine.import_order("fake", "main", "1")

    assert report.deleted == 1 and world.sink.orders == {}


def test_a_dry_run_writes_nothing_and_lists_what_it_would_do(world: World) -> None:
    world.source.add(order("1"))

    report = world.run(dry_run=True)

    assert report.imported == 1 and world.sink.orders == {}
    assert [a["action"] for a in report.actions] == ["import"]
    assert world.state.runs() == [] and world.link("1") == []


def test_an_invalid_order_is_quarantined_and_retried_until_fixed(world: World) -> None:
    broken = world.source.add(order("1"))
    broken["destinations"][0]["items"][0]["quantity"] = 0  # schema: minimum 1

    first = world.run("import")
    assert first.failed == 1 and "quantity" in first.failures[0]["reason"]
    assert [q["order_id"] for q in world.state.quarantined("fake", "main")] == ["1"]

    broken["destinations"][0]["items"][0]["quantity"] = 1
    second = world.run("import")  # quarantined orders are read by id, whatever the bookmark
    assert second.imported == 1 and world.state.quarantined("fake", "main") == []


def test_the_import_bookmark_is_the_sources_newest_change_not_our_clock(world: World) -> None:
    from datetime import datetime, timedelta, timezone

    remote = datetime(2026, 11, 29, 8, 0, tzinfo=timezone.utc)
    world.source.add(order("1", modified=remote - timedelta(minutes=30)))
    world.source.add(order("2", modified=remote))

    world.run("import", days=3650)
    world.run("import")  # without --days: reads what changed since the bookmark

    assert world.state.get_bookmark("import:fake:main") == remote.isoformat()


def test_the_import_window_is_measured_by_the_sources_clock_not_ours(world: World) -> None:
    from datetime import datetime, timedelta, timezone

    # The shop's clock says 2020: an order it placed 3 days before is within days = 7,
    # though by our clock it is years old (and the other way round for a fast clock).
    shop_now = datetime(2020, 3, 1, 12, 0, tzinfo=timezone.utc)
    world.source.clock = shop_now
    world.source.add(order("1", modified=shop_now - timedelta(days=3)))
    world.source.add(order("2", modified=shop_now - timedelta(days=8)))

    report = world.run("import")

    assert report.imported == 1 and sorted(world.sink.orders) == ["1"]


def test_two_orders_that_get_one_number_fail_clearly_instead_of_crashing(tmp_path: Path
                                                                        ) -> None:
    world = World(tmp_path)
    world.source.add(order("1"))
    world.run("import")
    # Another store of the same source on the same sink, numbering into the first's numbers.
    world.configure()
    data = world.engine.config.data
    data["fake"]["stores"]["other"] = {"sink": "fakesink"}
    world.engine = Engine(world.host, Config(data=data, raw=data), world.state)

    [_, other] = world.engine.run("fake", options=RunOptions(steps=("import",)))

    assert other.imported == 0 and other.failed == 1
    assert "1 is already the fakesink order of fake store 'main' order 1" in (
        other.failures[0]["reason"])
    assert world.sink.creates == 1


def test_a_lost_lease_stops_the_run_before_it_writes_more(tmp_path: Path) -> None:
    import time

    from shipsync.engine import EngineError

    world = World(tmp_path)
    for n in range(1, 4):
        world.source.add(order(str(n)))
    data = {"fake": {"stores": {"main": {"sink": "fakesink"}}},
            "run": {"concurrency": 1}, "state": {"lease_seconds": 3}}
    world.engine = Engine(world.host, Config(data=data, raw=data), world.state)
    original = world.source.orders_to_import
    pulled: list[str] = []

    def one_order_a_page(**kwargs: Any) -> Any:
        for result in next(original(**kwargs)):
            pulled.append(result.order_id)
            yield [result]
            if result.order_id == "1":  # meanwhile another process takes the lease over
                world.state._db.execute("UPDATE leases SET holder='someone-else'")
                time.sleep(1.5)  # the heartbeat (every 1 s) notices

    world.source.orders_to_import = one_order_a_page  # type: ignore[method-assign]

    with pytest.raises(EngineError, match="the lease on store 'main' was lost"):
        world.run("import")
    assert world.sink.creates == 0  # the first page's order was still in its batch: not sent
    assert pulled == ["1", "2"]  # and no page was read after the loss was noticed


def test_every_hook_spec_is_implemented_here_and_called_by_the_engine(world: World) -> None:
    world.source.add(order("1"))
    world.source.add(order("2"))
    world.source.add(order("3", pickup=True))  # skipped: pickup is off
    bad = world.source.add(order("4"))
    bad["currency"] = "dollars"  # failed
    world.run()
    world.source.orders["1"]["destinations"][0]["items"][0]["quantity"] = 2  # updated
    world.source.orders["2"]["status_id"] = CANCELLED  # deleted
    world.run("import", days=7)
    world.sink.print_label("1", "T1")  # written back
    world.run("writeback")
    world.host.sandboxes, world.host.commands, world.host.webhooks  # noqa: B018 - on first use
    [check] = run_doctor(world.engine)  # gathers the diagnostics and runs the fake sink's
    assert (check.subject, check.finding.status) == ("fakesink", "confirmed")

    implemented = {name for name in HOOKS if hasattr(world.recorder, name)}
    assert implemented == set(HOOKS), f"not implemented here: {set(HOOKS) - implemented}"
    assert {name for name in HOOKS if world.recorder.calls[name] == 0} == set(), (
        f"hooks the engine never called: "
        f"{sorted(n for n in HOOKS if world.recorder.calls[n] == 0)}")


def test_doctor_records_what_it_found_and_the_plugins_read_it_back(world: World) -> None:
    checks = run_doctor(world.engine)

    assert [(c.diagnostic, c.finding.assumption, c.finding.status) for c in checks] == [
        ("fakesink-batches", "batches-of-two", "confirmed")]
    [row] = world.state.assumptions("fakesink")
    assert (row["name"], row["status"], row["checked_by"]) == ("batches-of-two", "confirmed",
                                                                "doctor")
    assert row["observed"] == "batch_size 2"
    # What a plugin's context reads on the next run:
    assert world.engine.assumptions("fakesink").status("batches-of-two") == "confirmed"
    assert world.engine.assumptions("fake:main").status("batches-of-two") is None


def test_a_run_records_what_a_plugin_saw_but_a_dry_run_does_not(world: World) -> None:
    world.source.add(order("1"))
    seen = Finding("orders-listed", "contradicted", "the shop lists every order",
                   observed="one was missing", instead="read them one by one")
    world.source.on_read = lambda: world.engine.assumptions("fake:main").record(seen)

    world.run("import", dry_run=True)
    assert world.state.assumptions("fake:main") == []

    world.run("import")
    [row] = world.state.assumptions("fake:main")
    assert (row["status"], row["checked_by"], row["instead"]) == (
        "contradicted", "run", "read them one by one")


def test_the_writeback_bookmark_never_runs_ahead_of_now(world: World) -> None:
    from datetime import datetime, timedelta, timezone

    world.source.add(order("1"))
    world.run("import")
    record = world.sink.print_label("1", "T1")
    # A sink time misread into the future (a local time taken for UTC, say).
    record["updated"] = (datetime.now(timezone.utc) + timedelta(hours=10)).isoformat()

    world.run("writeback")

    bookmark = datetime.fromisoformat(world.state.get_bookmark("writeback:fakesink:fake:main"))
    assert bookmark <= datetime.now(timezone.utc)


def test_an_incomplete_shipment_record_is_read_whole_before_it_is_written_back(
        world: World) -> None:
    world.source.add(order("1"))
    world.run("import")
    world.sink.print_label("1", "T1", "T2", "T3")
    world.sink.partial_lists = True  # its list shows the first parcel only

    report = world.run("writeback")

    assert report.written_back == 1
    [shipment] = world.source.shipments
    assert shipment["tracking_number"] == "T1"
    assert world.sink.whole_reads == ["1"]
    [event] = [e for e in world.state.events("fake", "main", "1") if e["kind"] == "written_back"]
    assert "T1, T2, T3" in event["detail"]


def test_an_unsettled_shipment_post_is_never_sent_again_until_settled(world: World) -> None:
    world.source.add(order("1"))
    world.run("import")
    world.sink.print_label("1", "T1")
    world.source.drop_shipment_posts = 1  # no answer: for all shipsync knows, it arrived
    world.source.unreachable_shipment_lookups = True

    first = world.run("writeback")
    second = world.run("writeback")  # still unknown: nothing is posted again
    assert first.failed == 1 and second.written_back == 0
    assert world.source.shipments == []
    assert "in doubt" in " ".join(second.skipped_reasons)

    world.source.unreachable_shipment_lookups = False
    third = world.run("writeback")  # settled: it never arrived, so it is posted, once
    assert third.written_back == 1 and len(world.source.shipments) == 1
    assert world.link("1") == ["written_back"]
