"""The conformance suites fail plugins that break the contract, each for the right reason.

Each case is a plugin registered explicitly (no entry point) through an
overridden ``shipsync_host`` fixture, run through the suite in a pytest of its
own (pytester); the test names that fail are the contracts it breaks.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

PLUGINS = '''
import copy
import socket
import uuid
from datetime import datetime, timezone

import pytest
from shipsync import MapperSpec, SinkSpec, SourceSpec, hookimpl
from shipsync.contracts import (CreateResult, OrderResult, SinkCapabilities, SinkOrder,
                                SourceCapabilities)
from shipsync.plugins import PluginHost, make_plugin_manager
from shipsync.testing import (MapperConformance, SinkConformance, SourceConformance,
                              canonical_orders)


# -- mappers: each breaks one rule
def identity(order, context):
    return order


def text_quantities(order, context):
    for destination in order["destinations"]:
        for item in destination["items"]:
            item["quantity"] = str(item["quantity"])
    return order


def needs_options(order, context):
    for destination in order["destinations"]:
        for item in destination["items"]:
            item["size"] = item["options"][0]["value"] if item["options"] else "one size"
    return order


def phones_home(order, context):
    socket.create_connection(("127.0.0.1", 9), timeout=1).close()
    return order


def stamps_a_uuid(order, context):
    order["reference"] = uuid.uuid4().hex
    return order


def renumbers(order, context):
    for index, destination in enumerate(order["destinations"]):
        destination["destination_id"] = str(index)
    return order


# -- sinks: an in-memory sink that keeps the contract, and ways to break it
Result = CreateResult


class MemorySink:
    capabilities = SinkCapabilities(batch_size=10)
    requests_made = 0

    def __init__(self, section, context=None):
        self.orders = {}

    def close(self):
        pass

    def payload(self, order_number, order, destination):
        return {"order_number": order_number, "items": copy.deepcopy(destination["items"])}

    def create_orders(self, payloads):
        results = []
        for payload in payloads:
            number = payload["order_number"]
            self.orders.setdefault(number, payload)
            results.append(Result(number, "id-" + number))
        return results

    def find_order(self, order_number):
        found = self.orders.get(order_number)
        return None if found is None else SinkOrder("id-" + order_number, order_number)

    def update_order(self, sink_order_id, payload):
        self.orders[payload["order_number"]] = payload
        return "updated"

    def delete_order(self, sink_order_id):
        number = sink_order_id[len("id-"):]
        return "deleted" if self.orders.pop(number, None) else "gone"

    def shipped_since(self, since):
        return iter(())

    def shipment(self, order_number):
        return None


class ForgetfulSink(MemorySink):
    def find_order(self, order_number):
        return None


class DuplicatingSink(MemorySink):
    def create_orders(self, payloads):
        return [Result(p["order_number"], uuid.uuid4().hex) for p in payloads]


class GreedySink(MemorySink):
    def payload(self, order_number, order, destination):
        body = super().payload(order_number, order, destination)
        destination["items"].clear()
        return body


# -- sources: an in-memory source that keeps the contract, and ways to break it
class MemorySource:
    name = "listed"
    capabilities = SourceCapabilities()
    requests_made = 0

    def __init__(self, store, section, context=None):
        self.orders = []
        for order in canonical_orders():
            order.update(source=self.name, store=store)
            self.orders.append(order)

    def close(self):
        pass

    def now(self):
        return datetime.now(timezone.utc)

    def orders_to_import(self, *, created_since, modified_since):
        yield [OrderResult(o["order_id"], o) for o in self.orders
               if modified_since is None
               or datetime.fromisoformat(o["date_modified"]) >= modified_since]

    def orders_by_id(self, order_ids):
        yield [OrderResult(o["order_id"], o) for o in self.orders if o["order_id"] in order_ids]

    def current_orders(self, order_ids):
        return {r.order_id: r for page in self.orders_by_id(order_ids) for r in page}

    def withdrawn_orders(self, since):
        return iter(())

    def not_importable_reason(self, order):
        return None

    def not_shippable_reason(self, status_id):
        return None

    def shipment_body(self, destination, shipment, tracking_carrier):
        return {}

    def create_shipment(self, order_id, body):
        raise NotImplementedError

    def find_shipment(self, order_id, destination_id, tracking_number):
        return None

    def set_status(self, order_id, status_id):
        pass


class RepeatingSource(MemorySource):
    name = "repeating"

    def orders_to_import(self, *, created_since, modified_since):
        yield from super().orders_to_import(created_since=created_since, modified_since=None)
        yield from super().orders_to_import(created_since=created_since, modified_since=None)


class CurrencylessSource(MemorySource):
    name = "currencyless"

    def __init__(self, store, section, context=None):
        super().__init__(store, section, context)
        for order in self.orders:
            del order["currency"]


def stores(config):
    return [("main", {})]


class Plugin:
    @hookimpl
    def shipsync_mappers(self):
        return [MapperSpec(name=f.__name__.replace("_", "-"), map=f) for f in (
            identity, text_quantities, needs_options, phones_home, stamps_a_uuid, renumbers)]

    @hookimpl
    def shipsync_sinks(self):
        return [SinkSpec(name=name, factory=factory) for name, factory in (
            ("memory", MemorySink), ("forgetful", ForgetfulSink),
            ("duplicating", DuplicatingSink), ("greedy", GreedySink))]

    @hookimpl
    def shipsync_sources(self):
        return [SourceSpec(name=cls.name, factory=cls, stores=stores)
                for cls in (MemorySource, RepeatingSource, CurrencylessSource)]


@pytest.fixture
def shipsync_host():
    return PluginHost(make_plugin_manager(entry_points=False, plugins=[("cases", Plugin())]))

'''


def case_classes(suite: str, attribute: str, names: list[str], fixture: str = "") -> str:
    return "".join(
        f"\n\nclass Test_{name.replace('-', '_')}({suite}):\n    {attribute} = {name!r}\n{fixture}"
        for name in names)


def empty_config_fixture(name: str) -> str:
    return f"\n    @pytest.fixture\n    def {name}(self):\n        return {{}}\n"


def run_cases(pytester: pytest.Pytester) -> tuple[dict[str, dict[str, str]], str]:
    """Every case through its suite in one pytest run: case -> test -> outcome, and the output."""
    source = PLUGINS
    source += case_classes("MapperConformance", "mapper_name", [
        "identity", "text-quantities", "needs-options", "phones-home", "stamps-a-uuid",
        "renumbers"])
    source += case_classes("SinkConformance", "sink_name", [
        "memory", "forgetful", "duplicating", "greedy"], empty_config_fixture("sink_config"))
    source += case_classes("SourceConformance", "source_name", [
        "listed", "repeating", "currencyless"], empty_config_fixture("source_config"))
    pytester.makepyfile(test_cases=source)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    table: dict[str, dict[str, str]] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
        _, case, test = report.nodeid.split("::")
        if report.when == "call" or report.outcome != "passed":
            outcome = report.outcome if report.when == "call" else f"{report.when} {report.outcome}"
            table.setdefault(case, {})[test] = outcome
    return table, result.stdout.str()


def failed(table: dict[str, dict[str, str]], case: str) -> set[str]:
    return {test for test, outcome in table[case].items() if outcome != "passed"
            and outcome != "skipped" and not outcome.endswith("skipped")}


def test_suites_pass_plugins_that_keep_the_contract_and_fail_each_breach(
        pytester: pytest.Pytester) -> None:
    table, output = run_cases(pytester)

    assert failed(table, "Test_identity") == set(), output
    assert failed(table, "Test_text_quantities") == {
        "test_returns_schema_valid_canonical_orders", "test_maps_orders_without_product_options"}
    assert "test_maps_orders_without_product_options" in failed(table, "Test_needs_options")
    assert "test_does_no_network_io" in failed(table, "Test_phones_home")
    assert "opened a connection or a process" in output
    assert failed(table, "Test_stamps_a_uuid") == {"test_is_deterministic"}
    assert failed(table, "Test_renumbers") == {"test_keeps_order_and_destination_ids"}

    assert failed(table, "Test_memory") == set(), output
    assert table["Test_memory"]["test_printed_orders_come_back_and_are_left_alone"] == "skipped"
    assert failed(table, "Test_forgetful") == {"test_find_order_finds_created_orders_only",
                                               "test_update_order_of_an_unprinted_order"}
    assert "test_creating_an_existing_order_number_adds_no_second_order" in failed(
        table, "Test_duplicating")
    assert "test_payload_is_json_deterministic_and_leaves_the_order_alone" in failed(
        table, "Test_greedy")

    assert failed(table, "Test_listed") == set(), output
    assert failed(table, "Test_repeating") == {
        "test_each_order_is_yielded_once", "test_modified_since_after_every_order_yields_nothing"}
    assert "test_imported_orders_are_schema_valid_canonical_orders" in failed(
        table, "Test_currencyless")
