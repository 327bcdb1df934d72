"""An in-memory source and sink written against shipsync.contracts, for the engine's own tests.

No HTTP: the engine is driven through its typed contract alone. mypy checks this file
against the protocols (tests/unit/test_code_quality.py), so the fakes are the contract's
proof as much as the engine's harness.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from shipsync.contracts import (
    CanonicalOrder,
    Context,
    CreateResult,
    DeleteOutcome,
    Destination,
    OrderResult,
    ShipmentRecord,
    Sink,
    SinkCapabilities,
    SinkOrder,
    SinkPayload,
    Source,
    SourceCapabilities,
    SourceShipment,
    UpdateOutcome,
)
from shipsync.http import ApiError, InDoubtError

SHIPPED = 2
CANCELLED = 5
IMPORT_STATUSES = (11,)
NOT_SHIPPABLE = {CANCELLED: "Cancelled in the shop"}


def order(order_id: str, *, destinations: int = 1, status_id: int = 11, quantity: int = 1,
          pickup: bool = False, modified: datetime | None = None) -> CanonicalOrder:
    """A canonical order with ``destinations`` shipping addresses (or one pickup)."""
    stamp = (modified or datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    return {
        "source": "fake", "store": "main", "order_id": order_id, "status_id": status_id,
        "status": "Awaiting Fulfillment", "date_created": stamp, "date_modified": stamp,
        "currency": "AUD", "reference": order_id,
        "destinations": [{
            "destination_id": f"{order_id}{index}", "kind": "pickup" if pickup else "shipping",
            "address": {"name": f"Customer {index}", "street": "1 Main St",
                        "country": "Australia", "country_code": "AU"},
            "items": [{"line_id": f"{order_id}{index}1", "description": "Mug",
                       "quantity": quantity, "weight_kg": 0.5, "value": 10.0}],
        } for index in range(destinations)],
    }


@dataclass
class FakeSource:
    """A shop: orders by id; shipments and statuses written back to it."""

    orders: dict[str, CanonicalOrder] = field(default_factory=dict)
    shipments: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[tuple[str, int]] = field(default_factory=list)
    lose_shipment_answers: int = 0  # create_shipment applies, then the answer is lost
    unreachable_shipment_lookups: bool = False  # find_shipment fails
    drop_shipment_posts: int = 0  # create_shipment never arrives, and no answer comes
    capabilities: SourceCapabilities = SourceCapabilities(shipped_status=SHIPPED)
    calls: int = 0
    clock: datetime | None = None  # the shop's own time, if not the local clock's
    on_read: Any = None  # called as orders are read (a test's observer)

    @property
    def requests_made(self) -> int:
        return self.calls

    def now(self) -> datetime:
        self.calls += 1
        return self.clock or datetime.now(timezone.utc)

    def add(self, canonical: CanonicalOrder) -> CanonicalOrder:
        self.orders[canonical["order_id"]] = canonical
        return canonical

    def _result(self, order_id: str) -> OrderResult:
        return OrderResult(order_id, copy.deepcopy(self.orders[order_id]))

    def orders_to_import(self, *, created_since: datetime,
                         modified_since: datetime | None) -> Iterator[list[OrderResult]]:
        self.calls += 1
        if self.on_read:
            self.on_read()
        yield [self._result(i) for i, o in sorted(self.orders.items())
               if o["status_id"] in IMPORT_STATUSES
               and datetime.fromisoformat(o["date_created"]) >= created_since
               and (modified_since is None
                    or datetime.fromisoformat(o["date_modified"]) >= modified_since)]

    def orders_by_id(self, order_ids: Iterable[str]) -> Iterator[list[OrderResult]]:
        self.calls += 1
        yield [self._result(i) for i in order_ids if i in self.orders]

    def current_orders(self, order_ids: Iterable[str]) -> dict[str, OrderResult]:
        self.calls += 1
        return {i: self._result(i) for i in order_ids if i in self.orders}

    def withdrawn_orders(self, since: datetime) -> Iterator[list[OrderResult]]:
        self.calls += 1
        yield [OrderResult(i, status_id=o["status_id"]) for i, o in self.orders.items()
               if o["status_id"] in NOT_SHIPPABLE]

    def not_importable_reason(self, order: CanonicalOrder) -> str | None:
        return None if order["status_id"] in IMPORT_STATUSES else "not an import status"

    def not_shippable_reason(self, status_id: int) -> str | None:
        return NOT_SHIPPABLE.get(status_id)

    def shipment_body(self, destination: Destination, shipment: ShipmentRecord,
                      tracking_carrier: str) -> dict[str, Any]:
        numbers = shipment.get("tracking_numbers") or []
        return {"destination_id": destination["destination_id"],
                "tracking_number": numbers[0] if numbers else "", "carrier": tracking_carrier}

    def create_shipment(self, order_id: str, body: dict[str, Any]) -> SourceShipment:
        self.calls += 1
        if self.drop_shipment_posts:
            self.drop_shipment_posts -= 1
            raise InDoubtError("fake: no answer (the post never arrived)")
        shipment = {"id": str(len(self.shipments) + 1), "order_id": order_id, **body}
        self.shipments.append(shipment)
        for destination in self.orders[order_id]["destinations"]:
            if destination["destination_id"] == body["destination_id"]:
                destination["items"] = []  # shipped: nothing of it is left to ship
        if self.lose_shipment_answers:
            self.lose_shipment_answers -= 1
            raise InDoubtError("fake: the answer was lost")
        return SourceShipment(shipment["id"], body["destination_id"], body["tracking_number"])

    def find_shipment(self, order_id: str, destination_id: str,
                      tracking_number: str) -> SourceShipment | None:
        self.calls += 1
        if self.unreachable_shipment_lookups:
            raise ApiError("fake: shipment lookups fail")
        for shipment in self.shipments:
            if (shipment["order_id"], shipment["destination_id"],
                    shipment["tracking_number"]) == (order_id, destination_id, tracking_number):
                return SourceShipment(shipment["id"], destination_id, tracking_number)
        return None

    def set_status(self, order_id: str, status_id: int) -> None:
        self.calls += 1
        self.statuses.append((order_id, status_id))
        self.orders[order_id]["status_id"] = status_id

    def close(self) -> None:
        pass


@dataclass
class FakeSink:
    """Shipping software: orders by number; a label printed is a shipment record."""

    orders: dict[str, SinkPayload] = field(default_factory=dict)
    printed: dict[str, ShipmentRecord] = field(default_factory=dict)
    lose_create_answers: int = 0  # create_orders applies, then the answer is lost
    unreachable_lookups: bool = False  # find_order fails (the lookup of a lost answer)
    partial_lists: bool = False  # shipped_since shows the first parcel only (complete: false)
    capabilities: SinkCapabilities = SinkCapabilities(batch_size=2, pickup_carrier="Collect")
    creates: int = 0
    calls: int = 0
    whole_reads: list[str] = field(default_factory=list)  # shipment() calls, by number

    @property
    def requests_made(self) -> int:
        return self.calls

    def payload(self, order_number: str, order: CanonicalOrder,
                destination: Destination) -> SinkPayload:
        if not destination["address"]["street"].strip():
            raise ValueError("destination.street is empty")
        return {"order_number": order_number, "reference": order["reference"],
                "carrier": destination.get("carrier", ""),
                "items": [[i["description"], i["quantity"]] for i in destination["items"]]}

    def create_orders(self, payloads: list[SinkPayload]) -> list[CreateResult]:
        self.calls += 1
        results = []
        for payload in payloads:
            number = payload["order_number"]
            if number not in self.orders:
                self.creates += 1
                self.orders[number] = payload
            results.append(CreateResult(number, f"id-{number}"))
        if self.lose_create_answers:
            self.lose_create_answers -= 1
            raise InDoubtError("fake: the answer was lost")
        return results

    def find_order(self, order_number: str) -> SinkOrder | None:
        self.calls += 1
        if self.unreachable_lookups:
            raise ApiError("fake: lookups fail")
        if order_number not in self.orders:
            return None
        return SinkOrder(f"id-{order_number}", order_number, order_number in self.printed)

    def update_order(self, sink_order_id: str, payload: SinkPayload) -> UpdateOutcome:
        self.calls += 1
        number = sink_order_id.removeprefix("id-")
        if number not in self.orders:
            return "gone"
        if number in self.printed:
            return "printed"
        self.orders[number] = payload
        return "updated"

    def delete_order(self, sink_order_id: str) -> DeleteOutcome:
        self.calls += 1
        number = sink_order_id.removeprefix("id-")
        if number in self.printed:
            return "printed"
        return "deleted" if self.orders.pop(number, None) is not None else "gone"

    def print_label(self, number: str, *tracking: str, carrier: str = "Post") -> ShipmentRecord:
        record: ShipmentRecord = {
            "sink": "fakesink", "sink_order_id": f"id-{number}", "order_number": number,
            "carrier": carrier, "tracking_numbers": list(tracking),
            "updated": datetime.now(timezone.utc).isoformat(),
            "pickup": carrier == self.capabilities.pickup_carrier}
        self.printed[number] = record
        return record

    def shipped_since(self, since: datetime) -> Iterator[list[ShipmentRecord]]:
        self.calls += 1
        records = [record for record in self.printed.values()
                   if datetime.fromisoformat(record["updated"]) >= since]
        if self.partial_lists:
            records = [{**record, "tracking_numbers": record["tracking_numbers"][:1],
                        "complete": False} for record in records]
        yield records

    def shipment(self, order_number: str) -> ShipmentRecord | None:
        self.calls += 1
        self.whole_reads.append(order_number)
        return self.printed.get(order_number)

    def close(self) -> None:
        pass


def as_source(source: FakeSource) -> Source:
    return source  # mypy: the fake keeps the Source protocol


def as_sink(sink: FakeSink) -> Sink:
    return sink  # mypy: the fake keeps the Sink protocol


def source_factory(source: FakeSource) -> Any:
    def build(store: str, section: dict[str, Any], context: Context) -> Source:
        return source
    return build


def sink_factory(sink: FakeSink) -> Any:
    def build(section: dict[str, Any], context: Context) -> Sink:
        return sink
    return build
