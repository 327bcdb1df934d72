"""The contract between the engine and its sources and sinks.

A **source** is an e-commerce platform orders are read from and tracking is
written back to (the built-in one: BigCommerce); a **sink** is shipping
software orders are written to and printed labels are read back from (the
built-in one: Starshipit). Each is a class a plugin registers through
``shipsync_sources`` / ``shipsync_sinks``; the engine talks to it only through
the ``Source`` and ``Sink`` protocols below and the result types they return,
and mypy holds both sides to them.

Records crossing the contract are plain dicts valid against the core's JSON
Schemas (``CanonicalOrder``: schemas/order.json; ``ShipmentRecord``:
schemas/shipment.json); the engine validates them at every boundary. What is a
platform's own fact (a status it sets by itself, a carrier it uses for pickup
in store) is declared by the source or sink as a capability, never known by
the engine.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator, Literal, Mapping, Protocol, TypedDict

__all__ = [
    "AssumptionStatus",
    "Assumptions",
    "CanonicalOrder",
    "Context",
    "CreateResult",
    "DeleteOutcome",
    "Destination",
    "Finding",
    "HttpOptions",
    "MemoryAssumptions",
    "OrderResult",
    "RunInfo",
    "ShipmentRecord",
    "Sink",
    "SinkCapabilities",
    "SinkOrder",
    "SinkPayload",
    "Source",
    "SourceCapabilities",
    "SourceShipment",
    "TriggerStep",
    "UpdateOutcome",
    "WebhookChange",
    "WebhookHook",
    "WebhookRequest",
    "WebhookResult",
    "WebhookTrigger",
    "Webhooks",
]

#: An order as it crosses the core: a dict valid against schemas/order.json.
CanonicalOrder = dict[str, Any]
#: One destination (``destinations[i]``) of a canonical order: one sink order.
Destination = dict[str, Any]
#: The body a sink sends for one destination; fingerprinted to notice changes.
SinkPayload = dict[str, Any]


class ShipmentRecord(TypedDict, total=False):
    """A printed sink order on its way back to the source (schemas/shipment.json)."""

    sink: str  # required
    sink_order_id: str  # required
    order_number: str  # required
    carrier: str  # required: the sink's carrier code, e.g. AusPost
    tracking_numbers: list[str]  # required: one per parcel (empty for pickup in store)
    carrier_name: str
    carrier_service_code: str
    tracking_url: str
    shipped_date: str
    updated: str  # when the sink last changed the order (the writeback bookmark)
    pickup: bool  # printed with the sink's pickup-in-store carrier: nothing to track
    #: False: read from a list that may show one parcel only (or no carrier code); the
    #: engine asks ``Sink.shipment(order_number)`` for the whole record before writing back.
    complete: bool


#: What a check found about an assumption: it holds, it does not, or nothing shows it yet.
AssumptionStatus = Literal["confirmed", "contradicted", "not_observable"]
ASSUMPTION_STATUSES: tuple[AssumptionStatus, ...] = ("confirmed", "contradicted",
                                                     "not_observable")


@dataclass(frozen=True)
class Finding:
    """What one read-only check (``shipsync doctor``) or a run saw of one assumption.

    ``assumption`` is a stable name (``shipped-rows-flat``); ``summary`` the
    assumption in words; ``observed`` what was seen; ``instead`` what shipsync
    does given what was seen (for a contradicted assumption, the safe way it
    switched to). ``blocking``: shipsync cannot run this store as it is (a
    refused token, a missing scope).
    """

    assumption: str
    status: AssumptionStatus
    summary: str
    observed: str = ""
    instead: str = ""
    blocking: bool = False


class Assumptions(Protocol):
    """What is known of one source store's or sink's behaviour, kept between runs.

    Plugins read it to choose between an economical way that relies on an
    assumption and the safe way (taken until the assumption is confirmed, and
    again once it is contradicted), and record what they see during a run.
    """

    def status(self, name: str) -> AssumptionStatus | None:
        """The last status recorded for ``name`` (None: never checked)."""

    def record(self, finding: Finding) -> None:
        """Remember a finding (the doctor's, or seen during a run)."""


class MemoryAssumptions:
    """``Assumptions`` held in memory (a plugin built outside the engine, tests)."""

    def __init__(self) -> None:
        self.findings: dict[str, Finding] = {}
        self._lock = threading.Lock()

    def status(self, name: str) -> AssumptionStatus | None:
        with self._lock:
            found = self.findings.get(name)
        return found.status if found else None

    def record(self, finding: Finding) -> None:
        with self._lock:
            self.findings[finding.assumption] = finding


class HttpOptions(TypedDict, total=False):
    """``[run]`` settings every HTTP client of a plugin should honour (``HttpClient`` takes
    each as a keyword of the same name), and the run's stop event."""

    timeout: float  # seconds for each connect and each read
    max_retries: int
    deadline: float  # seconds for a whole call, however slowly the answer comes
    max_body_bytes: int  # the largest answer read; a larger one is refused
    stop: threading.Event  # set on SIGINT/SIGTERM: waits end, calls in flight are abandoned


@dataclass
class Context:
    """What source and sink factories and mappers get besides their own config section.

    ``config`` is the whole resolved config (a plugin reads its own section from
    it); ``store``/``store_config`` the store being run, when there is one;
    ``concurrency`` how many requests a plugin may have in flight at once;
    ``config_path`` what relative paths in the config are relative to;
    ``assumptions`` what is known of this store's (or this sink's) API behaviour,
    kept in the state file (``shipsync doctor`` and runs record it).
    """

    config: dict[str, Any]
    store: str | None = None
    store_config: dict[str, Any] = field(default_factory=dict)
    http_options: HttpOptions = field(default_factory=lambda: HttpOptions())
    concurrency: int = 1
    config_path: Path | None = None
    assumptions: Assumptions = field(default_factory=MemoryAssumptions)


@dataclass
class OrderResult:
    """One source order as read: a canonical order, or why it could not be read.

    ``status_id`` is the order's status as the source reported it, known even
    when the order could not be converted (``error``) or was read without its
    lines (``order`` None and no error: a status is all the engine needs to
    withdraw a cancelled order). ``raw`` is the source's own record, kept with a
    quarantined order so the merchant can see what came in.
    """

    order_id: str
    order: CanonicalOrder | None = None
    error: str | None = None
    raw: Any = None
    status_id: int | None = None

    def __post_init__(self) -> None:
        if self.status_id is None and self.order is not None:
            self.status_id = self.order.get("status_id")


@dataclass(frozen=True)
class CreateResult:
    """What became of one payload of ``Sink.create_orders``: its sink order id, or why not.

    ``existed``: the sink already had an order with this number and it was proven
    to be this one (e.g. after a lost answer), so it was adopted, not created.
    """

    order_number: str
    sink_order_id: str | None = None
    error: str | None = None
    existed: bool = False


@dataclass(frozen=True)
class SinkOrder:
    """An order found in the sink by its number (``Sink.find_order``)."""

    sink_order_id: str
    order_number: str
    printed: bool = False
    #: The reference the sink holds (what shipsync sent), so adoption can check it is ours.
    reference: str = ""


@dataclass(frozen=True)
class SourceShipment:
    """A shipment in the source, created or found (``Source.create_shipment``/``find_shipment``)."""

    shipment_id: str
    destination_id: str = ""
    tracking_number: str = ""


#: ``Sink.update_order``: changed; the label is already printed (nothing changed); or the
#: sink no longer has the order (removed by the merchant).
UpdateOutcome = Literal["updated", "printed", "gone"]
#: ``Sink.delete_order``: deleted; the label is printed (nothing changed); already gone.
DeleteOutcome = Literal["deleted", "printed", "gone"]


@dataclass(frozen=True)
class SourceCapabilities:
    """Platform facts a source declares, so the engine never has to know them.

    ``shipped_status``: the status the source moves an order to by itself once
    every item has a shipment (BigCommerce: 2, Shipped), or None: the engine then
    sets a decided status itself even when it is that one.
    """

    shipped_status: int | None = None


@dataclass(frozen=True)
class SinkCapabilities:
    """Platform facts a sink declares.

    ``batch_size``: orders one ``create_orders`` call takes. ``pickup_carrier``:
    the carrier the sink uses for pickup-in-store orders (Starshipit:
    PickupInStore); "" when it has none, and pickup destinations are then sent
    like the others. ``writeback_overlap``: how far before the last writeback
    bookmark printed orders are read again (the sink widens it where the
    timestamps it reads are uncertain).
    """

    batch_size: int = 1
    pickup_carrier: str = ""
    writeback_overlap: timedelta = timedelta(minutes=10)


class Source(Protocol):
    """An order source for one configured store (built by ``SourceSpec.factory``)."""

    capabilities: SourceCapabilities

    @property
    def requests_made(self) -> int:
        """Requests sent so far (for the report)."""

    def now(self) -> datetime:
        """The platform's current time by its own clock (an aware datetime), never the
        local one: the import window (``days``) is measured by it."""

    def orders_to_import(self, *, created_since: datetime,
                         modified_since: datetime | None) -> Iterator[list[OrderResult]]:
        """Orders to import created since ``created_since``, a page at a time, each once.

        ``modified_since`` None means all of them; otherwise only those changed since.
        """

    def orders_by_id(self, order_ids: Iterable[str]) -> Iterator[list[OrderResult]]:
        """These orders, whatever their status (retrying quarantined ones, one order)."""

    def current_orders(self, order_ids: Iterable[str]) -> dict[str, OrderResult]:
        """The orders' state now, for writeback: ``{order_id: result}`` (missing: not found)."""

    def withdrawn_orders(self, since: datetime) -> Iterator[list[OrderResult]]:
        """Orders changed since ``since`` that may have left shipping: cancelled, refunded,
        declined (``status_id`` suffices) or partly refunded (with the order, so the lines
        left to ship are known)."""

    def not_importable_reason(self, order: CanonicalOrder) -> str | None:
        """Why this order is not one the store imports today (e.g. its status), or None."""

    def not_shippable_reason(self, status_id: int) -> str | None:
        """Why an order in this status must not ship (it is withdrawn from the sink), or None."""

    def shipment_body(self, destination: Destination, shipment: ShipmentRecord,
                      tracking_carrier: str) -> dict[str, Any]:
        """The request body that ships ``destination`` with ``shipment``'s tracking."""

    def create_shipment(self, order_id: str, body: dict[str, Any]) -> SourceShipment:
        """Post one shipment; raises ``InDoubtError`` when the answer was lost."""

    def find_shipment(self, order_id: str, destination_id: str,
                      tracking_number: str) -> SourceShipment | None:
        """The shipment of this destination with this tracking number, if it exists."""

    def set_status(self, order_id: str, status_id: int) -> None:
        """Set the order's status (idempotent)."""

    def close(self) -> None:
        """Release connections."""


class Sink(Protocol):
    """Shipping software orders are written to (built by ``SinkSpec.factory``)."""

    capabilities: SinkCapabilities

    @property
    def requests_made(self) -> int:
        """Requests sent so far (for the report)."""

    def payload(self, order_number: str, order: CanonicalOrder,
                destination: Destination) -> SinkPayload:
        """The body for one destination, the same for the same input, leaving ``order``
        unchanged; raises ``ValueError`` naming the field it cannot send."""

    def create_orders(self, payloads: list[SinkPayload]) -> list[CreateResult]:
        """Create up to ``batch_size`` orders: one result per payload, in order. A number
        the sink already has is adopted only when proven ours, else refused; never twice."""

    def find_order(self, order_number: str) -> SinkOrder | None:
        """The order with this number, or None: settles a create whose answer was lost."""

    def update_order(self, sink_order_id: str, payload: SinkPayload) -> UpdateOutcome:
        """Replace an unprinted order's details and items."""

    def delete_order(self, sink_order_id: str) -> DeleteOutcome:
        """Delete an unprinted order."""

    def shipped_since(self, since: datetime) -> Iterator[list[ShipmentRecord]]:
        """Orders printed (or changed once printed) since ``since``, a page at a time.

        Each record's ``updated`` is a time of the sink's own clock no later than the
        change it reports (the engine's next read starts there, less the overlap);
        ``complete`` False when the list showed less than the whole record."""

    def shipment(self, order_number: str) -> ShipmentRecord | None:
        """This order's shipment if its label is printed, else None (one order's writeback)."""

    def close(self) -> None:
        """Release connections."""


@dataclass(frozen=True)
class RunInfo:
    """One run of one store, as the run hooks see it."""

    run_id: str
    source: str
    store: str
    steps: tuple[str, ...]
    dry_run: bool


# --------------------------------------------------------------------------- webhooks


@dataclass(frozen=True)
class WebhookRequest:
    """One ``POST /webhooks/NAME/PATH`` as ``shipsync serve`` received it.

    ``path`` is what follows ``/webhooks/NAME/`` (e.g. a store's name; "" for
    none); ``headers`` have lower-case names; ``body`` is the raw body, already
    within the receiver's ``max_body``; ``received_at`` is ``time.time()``.
    """

    path: str
    headers: Mapping[str, str]
    body: bytes
    received_at: float

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


#: What a trigger asks for: the source order read and imported, updated or withdrawn;
#: or the sink order's shipment read and written back if printed.
TriggerStep = Literal["import", "writeback"]


@dataclass(frozen=True)
class WebhookTrigger:
    """One order a webhook asks shipsync to look at again: a trigger, never data.

    Whatever the payload said, shipsync reads the order from the API before it
    acts, so a forged or replayed call costs at most one read. A trigger names
    either a source order (``source``, ``store``, ``order_id``) or a sink order
    (``sink``, ``order_number``: the core finds its store from what it imported).
    ``delivery``: the sender's id of this message, kept for a day, so that the
    same message delivered again is dropped (only an id the sender never reuses
    for another message belongs here). ``topic``: what the sender said happened,
    for logs and metrics.
    """

    step: TriggerStep
    source: str = ""
    store: str = ""
    order_id: str = ""
    sink: str = ""
    order_number: str = ""
    delivery: str = ""
    topic: str = ""

    def problem(self) -> str | None:
        """Why this trigger names no order, or None."""
        if self.step not in ("import", "writeback"):
            return f"unknown step {self.step!r}"
        if self.source and self.store and self.order_id:
            return None
        if self.step == "writeback" and self.sink and self.order_number:
            return None
        return ("a trigger names a source order (source, store, order_id) or, to write back, "
                "a sink order (sink, order_number)")


@dataclass(frozen=True)
class WebhookResult:
    """What a receiver made of one request: the triggers, or why it is refused.

    ``status`` is what the sender is answered: 202 (``accepted``), 200
    (``ignored``: nothing to do, so the sender must not retry), 400
    (``invalid``), 401 (``unauthorized``) or 404 (``not_found``: an unknown
    store; answered exactly like an unknown path). ``reason`` goes to the log,
    never to the sender.
    """

    status: int
    triggers: tuple[WebhookTrigger, ...] = ()
    reason: str = ""

    ACCEPTED: ClassVar[int] = 202

    @classmethod
    def accepted(cls, *triggers: WebhookTrigger) -> WebhookResult:
        return cls(202, tuple(triggers))

    @classmethod
    def ignored(cls, reason: str) -> WebhookResult:
        return cls(200, (), reason)

    @classmethod
    def invalid(cls, reason: str) -> WebhookResult:
        return cls(400, (), reason)

    @classmethod
    def unauthorized(cls, reason: str) -> WebhookResult:
        return cls(401, (), reason)

    @classmethod
    def not_found(cls, reason: str) -> WebhookResult:
        return cls(404, (), reason)


@dataclass(frozen=True)
class WebhookHook:
    """One webhook registered at the sender (``shipsync webhooks list``).

    ``target``: the store or account it belongs to; ``topic``: what it sends
    (BigCommerce's scope); ``active`` False when the sender has deactivated it.
    """

    target: str
    topic: str
    destination: str
    active: bool = True
    id: str = ""


#: ``created``/``updated``/``removed``: changed at the sender; ``unchanged``: it was already
#: so; ``manual``: the sender has no API for it: ``detail`` says what to enter in its UI.
ChangeAction = Literal["created", "updated", "unchanged", "removed", "manual"]


@dataclass(frozen=True)
class WebhookChange:
    """What ``shipsync webhooks install|remove`` did (or asks the merchant to do)."""

    action: ChangeAction
    target: str
    topic: str = ""
    destination: str = ""
    detail: str = ""


class Webhooks(Protocol):
    """A plugin's webhooks (built by ``WebhookSpec.factory``): receiving, and managing them.

    ``receive`` runs inside the HTTP request: no I/O, no waiting; it checks the
    request is authentic and turns it into triggers. ``install``, ``hooks`` and
    ``remove`` manage the webhooks at the sender (``shipsync webhooks``);
    ``endpoint`` is this plugin's public URL, ``https://HOST/webhooks/NAME``.
    """

    #: The largest body accepted, in bytes (a larger one is answered 413 unread).
    max_body: int

    def receive(self, request: WebhookRequest) -> WebhookResult:
        """Authenticate the request and turn its body into triggers."""

    def install(self, endpoint: str) -> list[WebhookChange]:
        """Register what ``serve`` needs at the sender, idempotently: twice changes nothing."""

    def hooks(self) -> list[WebhookHook]:
        """The webhooks registered at the sender (deactivated ones too)."""

    def remove(self, endpoint: str | None) -> list[WebhookChange]:
        """Remove the webhooks pointing at ``endpoint`` (None: every one shipsync made)."""

    def close(self) -> None:
        """Release connections."""
