"""Conformance suites: the contract a source, sink or mapper keeps with shipsync's engine.

A plugin proves it keeps the contract by subclassing a suite in its own tests
(``shipsync.testing`` exports them; no conftest needed)::

    from shipsync.testing import MapperConformance

    class TestMyMapper(MapperConformance):
        mapper_name = "my-mapper"

Each suite is a set of ``test_*`` methods plus fixtures the subclass may
override (``mapper_config``, ``sink_config``, ``source_config``, ...). They use
the ``shipsync_host`` and ``sandboxes`` fixtures of ``shipsync.testing``, so the
plugin under test is found through its entry point, as ``shipsync run`` finds it.

- ``MapperConformance``: schema-valid canonical orders out for a corpus of
  canonical orders in (``canonical_orders()``), orders without product options
  handled, deterministic, no network, order and destination ids kept.
- ``SinkConformance``: payloads are JSON and deterministic; create, find,
  update and delete keep the engine's contract; shipped orders come back as
  valid shipment records, and printed orders are left alone (when the sink has
  a sandbox with a merchant step, as Starshipit's does).
- ``SourceConformance``: ``orders_to_import`` yields pages of results holding
  schema-valid canonical orders, once each; ``orders_by_id`` and
  ``current_orders`` agree with it (against the source's sandbox by default).
"""

from __future__ import annotations

import copy
import json
import socket
import subprocess
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, Iterator

import pytest

from . import records
from .contracts import Context, HttpOptions, SinkCapabilities, SourceCapabilities
from .plugins import PluginHost
from .registry import MapperSpec, SinkSpec, SourceSpec
from .sandboxes import SandboxSet

__all__ = [
    "MapperConformance",
    "NetworkBlocked",
    "SinkConformance",
    "SourceConformance",
    "canonical_orders",
    "no_network",
]

# Short timeouts and few retries: a conformance test talks to a local sandbox.
TEST_HTTP_OPTIONS = HttpOptions(timeout=10.0, max_retries=2)


# --------------------------------------------------------------------------- the corpus


def _address(**fields: str) -> dict[str, str]:
    address = {"name": "Ana Silva", "phone": "0400000000", "email": "ana@example.com",
               "street": "12 Harbour St", "building": "Level 3", "suburb": "Sydney",
               "city": "Sydney", "state": "New South Wales", "post_code": "2000",
               "country": "Australia", "country_code": "AU"}
    address.update(fields)
    return address


def _item(line_id: str, description: str, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"line_id": line_id, "product_id": 100 + int(line_id),
                            "description": description, "quantity": 1, "weight_kg": 0.5,
                            "value": 20.0}
    item.update(fields)
    return item


def _order(order_id: str, reference: str, destinations: list[dict[str, Any]],
           **fields: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "source": "conformance", "store": "main", "order_id": order_id, "status_id": 11,
        "status": "Awaiting Fulfillment", "date_created": "2026-03-02T09:30:00+00:00",
        "date_modified": "2026-03-02T10:15:00+00:00", "currency": "AUD",
        "reference": reference, "customer_message": "", "payment_status": "captured",
        "destinations": destinations, "left_out": [],
    }
    order.update(fields)
    return order


def _shipping(destination_id: str, items: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    destination: dict[str, Any] = {
        "destination_id": destination_id, "kind": "shipping", "shipping_method": "Express Post",
        "address": _address(), "items": items,
        "items_total": sum(i["quantity"] for i in items), "items_shipped": 0}
    destination.update(fields)
    return destination


_CORPUS: list[dict[str, Any]] = [
    _order("1001", "conformance: one item, no options", [
        _shipping("11", [_item("1", "Linen Shirt", sku="SHIRT-1", quantity=2, weight_kg=0.4,
                               value=59.95)])]),
    _order("1002", "conformance: product options", [
        _shipping("21", [
            _item("2", "Tee", sku="TEE-XL-NAVY", options=[
                {"name": "Size", "value": "XL"}, {"name": "Colour", "value": "Navy"},
                {"name": "HS Code", "value": "6109.10"}, {"name": "Engraving", "value": "A.B."}]),
            _item("3", "Jersey", sku="JRS-M", options=[
                {"name": "Talla", "value": "M"}, {"name": " size ", "value": " "},
                {"name": "color", "value": ""}]),
            _item("4", "Cap", sku="CAP-1", tariff_code="650500", country_of_origin="CN",
                  options=[{"name": "HS Code", "value": "6505.00.90"}]),
            _item("5", "Gift box", sku="", options=[])])]),
    _order("1003", "conformance: two addresses, unicode, no SKU", [
        _shipping("31", [_item("6", "Café crème ☕ mug", sku="MUG-CAFÉ", quantity=3),
                         _item("7", "Plate without SKU")]),
        _shipping("32", [_item("8", "Bowl", sku="BOWL-1", weight_kg=0.0, value=0.0)],
                  address=_address(name="Ben Müller", city="Auckland", suburb="Ponsonby",
                                   state="Auckland", post_code="1011", country="New Zealand",
                                   country_code="NZ"),
                  shipping_method="International")],
           currency="NZD", customer_message="Leave at the door, s'il vous plaît"),
    _order("1004", "conformance: pickup in store", [
        {"destination_id": "p41", "kind": "pickup", "shipping_method": "Pickup In Store",
         "address": _address(name="Sydney store", building="", phone=""),
         "items": [_item("9", "Lamp", sku="LAMP-1", weight_kg=2.5, value=120.0)],
         "items_total": 1, "items_shipped": 0}]),
    _order("1005", "conformance: nothing left to ship", [],
           left_out=[{"line_id": "10", "reason": "digital"},
                     {"line_id": "11", "reason": "gift certificate"}]),
    _order("1006", "conformance: customs data and extra", [
        _shipping("61", [
            _item("12", "Boots", sku="BOOT-42", quantity=1, weight_kg=1.8, value=189.0,
                  variant_id=4201, tariff_code="640299", country_of_origin="VN",
                  options=[{"name": "Size", "value": "42"}]),
            _item("13", "Socks", sku="SOCK-3P", quantity=5, weight_kg=0.05, value=9.5,
                  size="M", color="Grey")],
            items_total=8, items_shipped=2,
            address=_address(company="Müller & Söhne GmbH", country="United States",
                             country_code="US", state="CA", city="San Francisco",
                             suburb="", post_code="94103"))],
           status_id=9, status="Awaiting Shipment", currency="USD",
           left_out=[{"line_id": "14", "reason": "already shipped"}],
           extra={"customer_group": "wholesale"}),
]


def canonical_orders() -> list[dict[str, Any]]:
    """A corpus of canonical orders (schemas/order.json) covering the shapes a mapper meets.

    One item without options, options by every built-in name and by others (in
    any case, with blank values), several addresses, a pickup destination, an
    order with nothing left to ship, customs data and ``extra``. Fresh copies on
    every call.
    """
    return copy.deepcopy(_CORPUS)


def _label(order: dict[str, Any]) -> str:
    return f"order {order.get('order_id')} ({order.get('reference', '')})"


def _without_options(order: dict[str, Any]) -> dict[str, Any]:
    bare = copy.deepcopy(order)
    for destination in bare["destinations"]:
        for item in destination["items"]:
            item.pop("options", None)
    return bare


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# --------------------------------------------------------------------------- no network


_INHERITED = object()


class NetworkBlocked(RuntimeError):
    """Raised by ``no_network()`` when code inside it opens a connection or a process."""


@contextmanager
def no_network() -> Iterator[None]:
    """Refuse socket connections, DNS look-ups and new processes inside the block.

    Patches are process-wide while the block runs: use it around the call
    under test only.
    """

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise NetworkBlocked("network or process access inside a block that must do no I/O")

    patches: list[tuple[Any, str]] = [
        (socket.socket, "connect"), (socket.socket, "connect_ex"),
        (socket, "create_connection"), (socket, "getaddrinfo"),
        (subprocess.Popen, "__init__"),
    ]
    # socket.socket inherits connect from the C type: put back only what was its own.
    saved = [(owner, name, owner.__dict__.get(name, _INHERITED)) for owner, name in patches]
    try:
        for owner, name in patches:
            setattr(owner, name, refuse)
        yield
    finally:
        for owner, name, original in saved:
            if original is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


# --------------------------------------------------------------------------- mappers


class MapperConformance:
    """The mapper contract. Subclass it and set ``mapper_name``.

    Override ``mapper_config`` (the whole config as the mapper sees it in
    ``context.config``, e.g. ``{"hscodes": {"table": ...}}``),
    ``mapper_store_config`` (``context.store_config``) or ``mapper_orders``
    (the corpus; default ``canonical_orders()``) when the mapper needs them.
    """

    mapper_name: ClassVar[str] = ""

    @pytest.fixture
    def mapper_config(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def mapper_store_config(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def mapper_orders(self) -> list[dict[str, Any]]:
        return canonical_orders()

    @pytest.fixture
    def mapper_spec(self, shipsync_host: PluginHost) -> MapperSpec:
        if not self.mapper_name:
            pytest.fail(f"{type(self).__name__}: set mapper_name to the mapper under test")
        if self.mapper_name not in shipsync_host.mappers:
            pytest.fail(f"no installed plugin registers a mapper named {self.mapper_name!r} "
                        f"(installed: {', '.join(sorted(shipsync_host.mappers)) or 'none'}); "
                        "is the plugin installed (pip install -e .)?")
        spec: MapperSpec = shipsync_host.mappers[self.mapper_name]
        return spec

    @pytest.fixture
    def mapper_context(self, mapper_config: dict[str, Any],
                       mapper_store_config: dict[str, Any]) -> Context:
        return Context(config=mapper_config, store="main", store_config=mapper_store_config)

    @staticmethod
    def map_one(spec: MapperSpec, order: dict[str, Any], context: Any) -> Any:
        """Map a copy of ``order`` with the network blocked, as every test here does."""
        with no_network():
            return spec.map(copy.deepcopy(order), context)

    def test_mapper_entry_is_well_formed(self, mapper_spec: MapperSpec) -> None:
        assert isinstance(mapper_spec, MapperSpec)
        assert mapper_spec.name == self.mapper_name
        assert callable(mapper_spec.map), "MapperSpec.map must be callable(order, context)"
        assert isinstance(mapper_spec.order, int), "MapperSpec.order must be an int"

    def test_corpus_is_canonical(self, mapper_orders: list[dict[str, Any]]) -> None:
        assert mapper_orders, "mapper_orders is empty: there is nothing to check the mapper on"
        problems = [f"{_label(o)}: {e}" for o in mapper_orders
                    for e in records.errors_of("order.json", o)]
        assert not problems, "the corpus itself is not canonical:\n" + "\n".join(problems)

    def test_returns_schema_valid_canonical_orders(
            self, mapper_spec: MapperSpec, mapper_orders: list[dict[str, Any]],
            mapper_context: Context) -> None:
        problems = []
        for order in mapper_orders:
            mapped = self.map_one(mapper_spec, order, mapper_context)
            if not isinstance(mapped, dict):
                problems.append(f"{_label(order)}: returned {type(mapped).__name__}, not the order")
                continue
            problems += [f"{_label(order)}: {e}" for e in records.errors_of("order.json", mapped)]
            try:
                json.dumps(mapped)
            except (TypeError, ValueError) as exc:
                problems.append(f"{_label(order)}: not JSON-serializable: {exc}")
        assert not problems, (f"mapper {self.mapper_name!r} returned orders that are not "
                              "canonical (schemas/order.json):\n" + "\n".join(problems))

    def test_maps_orders_without_product_options(
            self, mapper_spec: MapperSpec, mapper_orders: list[dict[str, Any]],
            mapper_context: Context) -> None:
        for order in mapper_orders:
            bare = _without_options(order)
            mapped = self.map_one(mapper_spec, bare, mapper_context)
            assert isinstance(mapped, dict), f"{_label(order)} without options: not an order"
            problems = records.errors_of("order.json", mapped)
            assert not problems, f"{_label(order)} without options: {problems[0]}"

    def test_is_deterministic(self, mapper_spec: MapperSpec, mapper_orders: list[dict[str, Any]],
                              mapper_context: Context) -> None:
        # The sink payload's fingerprint decides updates: a mapper that varies causes endless ones.
        for order in mapper_orders:
            first = self.map_one(mapper_spec, order, mapper_context)
            second = self.map_one(mapper_spec, order, mapper_context)
            assert _canonical_json(first) == _canonical_json(second), (
                f"{_label(order)}: mapping the same order twice gave different results")

    def test_does_no_network_io(self, mapper_spec: MapperSpec,
                                mapper_orders: list[dict[str, Any]],
                                mapper_context: Context) -> None:
        for order in mapper_orders:
            try:
                self.map_one(mapper_spec, order, mapper_context)
            except NetworkBlocked:
                pytest.fail(f"mapper {self.mapper_name!r} opened a connection or a process "
                            f"mapping {_label(order)}: a mapper must be a pure function; fetch "
                            "what it needs in a source, or load it from a file")

    def test_keeps_order_and_destination_ids(
            self, mapper_spec: MapperSpec, mapper_orders: list[dict[str, Any]],
            mapper_context: Context) -> None:
        # Links, journal and writeback are keyed by these ids.
        for order in mapper_orders:
            mapped = self.map_one(mapper_spec, order, mapper_context)
            label = _label(order)
            for key in ("source", "store", "order_id"):
                assert mapped.get(key) == order[key], f"{label}: {key} changed"
            before = [d["destination_id"] for d in order["destinations"]]
            after = [d.get("destination_id") for d in mapped.get("destinations", [])]
            assert after == before, f"{label}: destination ids {before} became {after}"
            # Same length: the destination ids were just compared.
            for old, new in zip(order["destinations"], mapped["destinations"], strict=True):
                known = {item["line_id"] for item in old["items"]}
                invented = [i.get("line_id") for i in new.get("items", [])
                            if i.get("line_id") not in known]
                assert not invented, (f"{label}: destination {old['destination_id']} has "
                                      f"items with line ids it did not have: {invented}")


# --------------------------------------------------------------------------- sources


class SourceConformance:
    """The source contract, against the source's sandbox. Subclass it and set ``source_name``.

    ``source_config`` is the whole shipsync config the source's stores are read
    from (default: every running sandbox's config); the first store is used.
    The sandbox must hold orders to import (the default ``sandbox_options``
    seeds 20 orders per store).
    """

    source_name: ClassVar[str] = ""
    import_window_days: ClassVar[int] = 365

    @pytest.fixture
    def source_config(self, sandboxes: SandboxSet, tmp_path: Any) -> dict[str, Any]:
        return sandboxes.config(tmp_path / "conformance-state.db")

    @pytest.fixture
    def source_spec(self, shipsync_host: PluginHost) -> SourceSpec:
        if not self.source_name:
            pytest.fail(f"{type(self).__name__}: set source_name to the source under test")
        if self.source_name not in shipsync_host.sources:
            pytest.fail(f"no installed plugin registers a source named {self.source_name!r} "
                        f"(installed: {', '.join(sorted(shipsync_host.sources)) or 'none'})")
        spec: SourceSpec = shipsync_host.sources[self.source_name]
        return spec

    @pytest.fixture
    def source_store(self, source_spec: SourceSpec,
                     source_config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        stores = source_spec.stores(source_config)
        if not stores:
            pytest.fail(f"source {self.source_name!r} finds no store in source_config; "
                        "override source_config to configure one")
        return stores[0]

    @pytest.fixture
    def source(self, source_spec: SourceSpec, source_store: tuple[str, dict[str, Any]],
               source_config: dict[str, Any]) -> Iterator[Any]:
        name, section = source_store
        context = Context(source_config, name, section, HttpOptions(**TEST_HTTP_OPTIONS))
        built = source_spec.factory(name, section, context)
        try:
            yield built
        finally:
            built.close()

    @pytest.fixture
    def source_pages(self, source: Any) -> list[Any]:
        since = datetime.now(timezone.utc) - timedelta(days=self.import_window_days)
        return list(source.orders_to_import(created_since=since, modified_since=None))

    @pytest.fixture
    def source_results(self, source_pages: list[Any]) -> list[Any]:
        return [result for page in source_pages for result in page]

    @staticmethod
    def readable(results: list[Any]) -> list[Any]:
        return [r for r in results if getattr(r, "order", None) and not getattr(r, "error", None)]

    def test_source_entry_is_well_formed(self, source_spec: SourceSpec,
                                         source_config: dict[str, Any]) -> None:
        assert isinstance(source_spec, SourceSpec)
        assert source_spec.name == self.source_name
        assert callable(source_spec.factory)
        stores = source_spec.stores(source_config)
        assert isinstance(stores, list)
        for entry in stores:
            assert isinstance(entry, tuple) and len(entry) == 2, f"store entry {entry!r}"
            assert isinstance(entry[0], str) and isinstance(entry[1], dict)

    def test_orders_to_import_yields_pages_of_order_results(self, source_pages: list[Any],
                                                            source_results: list[Any]) -> None:
        for page in source_pages:
            assert isinstance(page, list), f"a page must be a list, got {type(page).__name__}"
        for result in source_results:
            assert isinstance(result.order_id, str) and result.order_id, repr(result)
            has_order, has_error = bool(result.order), bool(result.error)
            assert has_order != has_error, (f"order {result.order_id}: a result holds either an "
                                            "order or an error, exactly one")
            if has_error:
                assert isinstance(result.error, str)
        assert self.readable(source_results), (
            f"source {self.source_name!r} yielded no order to import: seed its sandbox (or "
            "override source_config) so there is something to check")

    def test_imported_orders_are_schema_valid_canonical_orders(
            self, source_results: list[Any], source_store: tuple[str, dict[str, Any]]) -> None:
        problems = []
        for result in self.readable(source_results):
            order = result.order
            problems += [f"order {result.order_id}: {e}"
                         for e in records.errors_of("order.json", order)]
            if order.get("order_id") != result.order_id:
                problems.append(f"order {result.order_id}: its order_id is "
                                f"{order.get('order_id')!r}")
            if order.get("source") != self.source_name:
                problems.append(f"order {result.order_id}: source is {order.get('source')!r}")
            if order.get("store") != source_store[0]:
                problems.append(f"order {result.order_id}: store is {order.get('store')!r}, "
                                f"not {source_store[0]!r}")
        assert not problems, "\n".join(problems)

    def test_each_order_is_yielded_once(self, source_results: list[Any]) -> None:
        ids = [result.order_id for result in source_results]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        assert not repeated, f"orders yielded more than once: {repeated}"

    def test_modified_since_after_every_order_yields_nothing(self, source: Any) -> None:
        now = datetime.now(timezone.utc)
        found = [r.order_id for page in source.orders_to_import(
                     created_since=now - timedelta(days=self.import_window_days),
                     modified_since=now + timedelta(days=1))
                 for r in page]
        assert found == [], f"modified_since in the future still yielded {found}"

    def test_orders_by_id_returns_the_same_orders(self, source: Any,
                                                  source_results: list[Any]) -> None:
        wanted = {r.order_id: r.order for r in self.readable(source_results)[:3]}
        got = {r.order_id: r.order for page in source.orders_by_id(list(wanted)) for r in page}
        assert set(got) == set(wanted)
        for order_id, order in wanted.items():
            assert _canonical_json(got[order_id]) == _canonical_json(order), (
                f"order {order_id} read by id differs from the order read for import")

    def test_current_orders_maps_ids_to_results(self, source: Any,
                                                source_results: list[Any]) -> None:
        wanted = [r.order_id for r in self.readable(source_results)[:3]]
        current = source.current_orders(wanted)
        assert isinstance(current, dict)
        assert sorted(current) == sorted(wanted)
        for order_id, result in current.items():
            assert result.order_id == order_id
            assert result.order and not records.errors_of("order.json", result.order)

    def test_orders_to_import_are_shippable_and_importable(self, source: Any,
                                                           source_results: list[Any]) -> None:
        for result in self.readable(source_results):
            reason = (source.not_shippable_reason(result.order["status_id"])
                      or source.not_importable_reason(result.order))
            assert reason is None, f"order {result.order_id} was yielded to import but {reason}"

    def test_declares_its_capabilities_and_every_method(self, source: Any) -> None:
        assert isinstance(getattr(source, "capabilities", None), SourceCapabilities), (
            "the source must declare its capabilities (shipsync.contracts.SourceCapabilities)")
        for method in ("now", "orders_to_import", "orders_by_id", "current_orders",
                       "withdrawn_orders", "not_importable_reason", "not_shippable_reason",
                       "shipment_body", "create_shipment", "find_shipment", "set_status",
                       "close"):
            assert callable(getattr(source, method, None)), f"the source has no {method}()"

    def test_now_is_the_platforms_time_with_its_zone(self, source: Any) -> None:
        now = source.now()
        assert isinstance(now, datetime) and now.tzinfo is not None, (
            f"now() must return an aware datetime, not {now!r}")

    def test_withdrawn_orders_yields_pages_of_order_results(self, source: Any) -> None:
        since = datetime.now(timezone.utc) - timedelta(days=self.import_window_days)
        for page in source.withdrawn_orders(since):
            assert isinstance(page, list), f"a page must be a list, got {type(page).__name__}"
            for result in page:
                assert isinstance(result.order_id, str) and result.order_id, repr(result)
                assert result.status_id is not None or result.error, (
                    f"order {result.order_id}: a withdrawn order must say its status_id")

    def test_counts_its_requests(self, source: Any, source_results: list[Any]) -> None:
        assert isinstance(source.requests_made, int) and source.requests_made >= 0


# --------------------------------------------------------------------------- sinks


class SinkConformance:
    """The sink contract. Subclass it and set ``sink_name``.

    ``sink_config`` is the whole shipsync config; the sink is built from its
    ``[sink_name]`` section. The default points at the running sandboxes, which
    suits a sink with a sandbox of the same name (Starshipit); override it for
    any other (e.g. ``{"jsonl": {"path": str(tmp_path / "orders.jsonl")}}``).
    Printed-order behaviour is checked only when the sink's sandbox has a
    merchant step (``SandboxSpec.play_merchant``) that prints labels.
    """

    sink_name: ClassVar[str] = ""
    order_prefix: ClassVar[str] = "CONF-"

    @pytest.fixture
    def sink_config(self, sandboxes: SandboxSet, tmp_path: Any) -> dict[str, Any]:
        return sandboxes.config(tmp_path / "conformance-state.db")

    @pytest.fixture
    def sink_spec(self, shipsync_host: PluginHost) -> SinkSpec:
        if not self.sink_name:
            pytest.fail(f"{type(self).__name__}: set sink_name to the sink under test")
        if self.sink_name not in shipsync_host.sinks:
            pytest.fail(f"no installed plugin registers a sink named {self.sink_name!r} "
                        f"(installed: {', '.join(sorted(shipsync_host.sinks)) or 'none'})")
        spec: SinkSpec = shipsync_host.sinks[self.sink_name]
        return spec

    @pytest.fixture
    def sink(self, sink_spec: SinkSpec, sink_config: dict[str, Any]) -> Iterator[Any]:
        context = Context(sink_config, http_options=HttpOptions(**TEST_HTTP_OPTIONS))
        built = sink_spec.factory(sink_config.get(self.sink_name) or {}, context)
        try:
            yield built
        finally:
            built.close()

    @pytest.fixture
    def sink_orders(self) -> list[dict[str, Any]]:
        return [order for order in canonical_orders() if order["destinations"]]

    def numbered(self, orders: list[dict[str, Any]], sink: Any = None
                 ) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """(order number, order, destination) for every destination, numbered as the core does."""
        pickup_carrier = sink.capabilities.pickup_carrier if sink is not None else ""
        out = []
        for order in orders:
            many = len(order["destinations"]) > 1
            for index, destination in enumerate(order["destinations"]):
                if not destination["items"]:
                    continue
                if destination["kind"] == "pickup" and pickup_carrier:
                    destination["carrier"] = pickup_carrier  # as the engine sets it
                number = f"{self.order_prefix}{order['order_id']}" + (f"-{index + 1}" if many
                                                                       else "")
                out.append((number, order, destination))
        return out

    def create(self, sink: Any, orders: list[dict[str, Any]]) -> dict[str, str]:
        """Create every destination of ``orders``, in batches; order number -> sink order id."""
        created: dict[str, str] = {}
        payloads = [sink.payload(n, o, d) for n, o, d in self.numbered(orders, sink)]
        size = sink.capabilities.batch_size
        for start in range(0, len(payloads), size):
            for result in sink.create_orders(payloads[start:start + size]):
                assert not result.error, f"{result.order_number}: {result.error}"
                created[result.order_number] = result.sink_order_id
        return created

    def printer(self, sandboxes: SandboxSet, shipsync_host: PluginHost) -> Any:
        spec = shipsync_host.sandboxes.entries.get(self.sink_name)
        if spec is None or spec.play_merchant is None or self.sink_name not in sandboxes.servers:
            pytest.skip(f"sink {self.sink_name!r} has no sandbox with a merchant step: "
                        "printed orders not checked")
        return lambda: spec.play_merchant(sandboxes.emulator(self.sink_name),
                                          sandboxes.url(self.sink_name), fraction=1.0, seed=0)

    def test_sink_entry_is_well_formed(self, sink_spec: SinkSpec, sink: Any) -> None:
        assert isinstance(sink_spec, SinkSpec)
        assert sink_spec.name == self.sink_name
        assert isinstance(getattr(sink, "capabilities", None), SinkCapabilities), (
            "the sink must declare its capabilities (shipsync.contracts.SinkCapabilities)")
        batch_size = sink.capabilities.batch_size
        assert isinstance(batch_size, int) and batch_size >= 1, f"batch_size {batch_size!r}"
        assert isinstance(sink.requests_made, int) and sink.requests_made >= 0
        for method in ("payload", "create_orders", "find_order", "update_order", "delete_order",
                       "shipped_since", "shipment", "close"):
            assert callable(getattr(sink, method, None)), f"the sink has no {method}()"

    def test_payload_is_json_deterministic_and_leaves_the_order_alone(
            self, sink: Any, sink_orders: list[dict[str, Any]]) -> None:
        numbered = self.numbered(sink_orders, sink)
        assert numbered, "sink_orders has no destination with items"
        for number, order, destination in numbered:
            before = _canonical_json(order)
            payload = sink.payload(number, order, destination)
            assert isinstance(payload, dict), f"{number}: payload is {type(payload).__name__}"
            assert payload.get("order_number") == number, (
                f"{number}: the payload must carry its order number as order_number")
            json.dumps(payload)
            # The engine fingerprints the payload to decide updates: it must not vary.
            assert _canonical_json(sink.payload(number, order, destination)) == \
                _canonical_json(payload), f"{number}: two payloads of the same order differ"
            assert _canonical_json(order) == before, f"{number}: payload() changed the order"

    def test_create_orders_returns_one_result_per_order(
            self, sink: Any, sink_orders: list[dict[str, Any]]) -> None:
        numbered = self.numbered(sink_orders, sink)
        batch = [sink.payload(n, o, d) for n, o, d in numbered][:sink.capabilities.batch_size]
        results = sink.create_orders(batch)
        assert [r.order_number for r in results] == [p["order_number"] for p in batch]
        for result in results:
            assert not result.error, f"{result.order_number}: {result.error}"
            assert isinstance(result.sink_order_id, str) and result.sink_order_id, (
                f"{result.order_number}: sink_order_id must be a non-empty string")
        ids = [r.sink_order_id for r in results]
        assert len(set(ids)) == len(ids), f"two orders got the same sink_order_id: {ids}"

    def test_creating_an_existing_order_number_adds_no_second_order(
            self, sink: Any, sink_orders: list[dict[str, Any]]) -> None:
        number, order, destination = self.numbered(sink_orders, sink)[0]
        payload = sink.payload(number, order, destination)
        [first] = sink.create_orders([payload])
        [again] = sink.create_orders([payload])
        # After a lost answer the engine may send a create again: adopt it or refuse it.
        assert again.error or again.sink_order_id == first.sink_order_id, (
            f"{number} created twice: {first.sink_order_id} and {again.sink_order_id}")

    def test_find_order_finds_created_orders_only(self, sink: Any,
                                                  sink_orders: list[dict[str, Any]]) -> None:
        created = self.create(sink, sink_orders[:2])
        for number, sink_order_id in created.items():
            found = sink.find_order(number)
            assert found is not None, f"{number} was created but find_order does not find it"
            assert found.sink_order_id == sink_order_id, (
                f"find_order({number!r}).sink_order_id must be its sink_order_id {sink_order_id}")
            assert sink.shipment(number) is None, f"{number} is not printed: no shipment yet"
        assert sink.find_order(f"{self.order_prefix}NEVER-CREATED") is None

    def test_update_order_of_an_unprinted_order(self, sink: Any,
                                                sink_orders: list[dict[str, Any]]) -> None:
        number, order, destination = self.numbered(sink_orders, sink)[0]
        [result] = sink.create_orders([sink.payload(number, order, destination)])
        destination["items"][0]["quantity"] += 1
        assert sink.update_order(result.sink_order_id,
                                 sink.payload(number, order, destination)) == "updated"
        assert sink.find_order(number) is not None

    def test_delete_order_of_an_unprinted_order(self, sink: Any,
                                                sink_orders: list[dict[str, Any]]) -> None:
        number, order, destination = self.numbered(sink_orders, sink)[0]
        [result] = sink.create_orders([sink.payload(number, order, destination)])
        assert sink.delete_order(result.sink_order_id) == "deleted"
        assert sink.find_order(number) is None, f"{number} is still found after its delete"
        assert sink.delete_order(result.sink_order_id) == "gone"

    def test_shipped_since_yields_pages_of_valid_shipment_records(self, sink: Any) -> None:
        since = datetime.now(timezone.utc) - timedelta(days=1)
        for page in sink.shipped_since(since):
            assert isinstance(page, list), f"a page must be a list, got {type(page).__name__}"
            for record in page:
                problems = records.errors_of("shipment.json", record)
                assert not problems, f"shipment record {record}: {problems[0]}"

    def test_printed_orders_come_back_and_are_left_alone(
            self, sink: Any, sink_orders: list[dict[str, Any]], sandboxes: SandboxSet,
            shipsync_host: PluginHost) -> None:
        print_labels = self.printer(sandboxes, shipsync_host)
        since = datetime.now(timezone.utc) - timedelta(minutes=5)
        created = self.create(sink, sink_orders)
        done = print_labels()
        assert sorted(done.get("order_numbers", [])) == sorted(created), done
        shipped = {r["order_number"]: r for page in sink.shipped_since(since) for r in page}
        assert set(created) <= set(shipped), (
            f"printed but not returned by shipped_since: {sorted(set(created) - set(shipped))}")
        for number, sink_order_id in created.items():
            record = shipped[number]
            problems = records.errors_of("shipment.json", record)
            assert not problems, f"{number}: {problems[0]}"
            assert record["sink"] == self.sink_name
            assert record["sink_order_id"] == sink_order_id
            alone = sink.shipment(number)
            assert alone is not None and not records.errors_of("shipment.json", alone), (
                f"{number} is printed: shipment() must give its shipment record")
            assert alone["sink_order_id"] == sink_order_id
            assert alone.get("complete") is not False, (
                f"{number}: shipment() gives the whole record (every parcel), never "
                "complete: false")
        number, order, destination = self.numbered(sink_orders, sink)[0]
        sink_order_id = created[number]
        # The engine never changes a printed order: the sink must say so rather than do it.
        assert sink.update_order(sink_order_id, sink.payload(number, order, destination)) == \
            "printed"
        assert sink.delete_order(sink_order_id) == "printed"
