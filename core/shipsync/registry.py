"""Typed entries that plugins return from shipsync's registry hooks.

Every registry hook (``shipsync_sources``, ``shipsync_sinks``, ...) returns a
list of one of these. The plugin manager gathers them into a ``Registry`` and
refuses two entries of the same kind with the same name, naming both plugins.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Iterator, Literal, TypeVar

from .contracts import (
    CanonicalOrder,
    Context,
    Destination,
    Finding,
    ShipmentRecord,
    Sink,
    Source,
    Webhooks,
)

if TYPE_CHECKING:
    from .sandbox import Emulator

__all__ = [
    "CommandSpec",
    "ConfigSchema",
    "DiagnosticSpec",
    "DuplicateNameError",
    "MapperSpec",
    "Registry",
    "SandboxSpec",
    "SinkSpec",
    "SourceSpec",
    "StatusPolicySpec",
    "WebhookSpec",
    "WritebackContext",
    "WritebackDecision",
    "lazy",
]


@dataclass(frozen=True)
class SourceSpec:
    """An order source, e.g. a BigCommerce store.

    ``factory(name, section, context)`` builds the source for one configured
    store: ``name`` is the store's name, ``section`` its resolved config.
    ``stores(config)`` lists the configured stores as (name, section) pairs.
    """

    name: str
    factory: Callable[[str, dict[str, Any], Context], Source]
    stores: Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]]
    description: str = ""


@dataclass(frozen=True)
class SinkSpec:
    """A destination for orders, e.g. a Starshipit account.

    ``factory(section, context)`` builds the sink from its resolved config section.
    """

    name: str
    factory: Callable[[dict[str, Any], Context], Sink]
    description: str = ""


@dataclass(frozen=True)
class MapperSpec:
    """A transformation of canonical orders between source and sink.

    ``map(order, context)`` returns the (possibly new) canonical order dict; it
    must not perform I/O. Mappers run by ascending ``order``, then name, unless
    the configuration lists them explicitly.
    """

    name: str
    map: Callable[[CanonicalOrder, Context], CanonicalOrder]
    order: int = 100
    description: str = ""


@dataclass(frozen=True)
class WritebackDecision:
    """What to write back to the source for one shipped sink order.

    ``create_shipment``: post a shipment with the tracking number first.
    ``status_id``: the status to set afterwards (None: leave it as it is).
    ``reason``: one line a merchant can read in reports and ``explain``.
    ``pickup``: the order waits to be picked up in store (no parcel): reported as
    awaiting pickup rather than written back.
    """

    create_shipment: bool
    status_id: int | None
    reason: str
    policy: str = ""
    pickup: bool = False


@dataclass
class WritebackContext:
    """What a status policy sees when deciding a writeback.

    ``shipment``: the printed sink order (schemas/shipment.json).
    ``source_order``: the order's current state in the source (``status_id``,
    ``destinations`` with ``items_total``/``items_shipped``).
    ``destination``: the source destination the shipment belongs to.
    ``store_config``: the store's resolved config section.
    ``policies``: the status policies configured for the store, in order.
    """

    store: str
    store_config: dict[str, Any]
    shipment: ShipmentRecord
    source_order: CanonicalOrder
    destination: Destination
    policies: list[StatusPolicySpec] = field(default_factory=list)
    all_destinations_shipped: bool = True


@dataclass(frozen=True)
class StatusPolicySpec:
    """A named rule for the status written back once labels are printed.

    ``decide(context)`` returns a ``WritebackDecision``, or None to leave the
    decision to the next policy in the configured list.
    """

    name: str
    decide: Callable[[WritebackContext], WritebackDecision | None]
    description: str = ""
    #: Where the policy stands when a store does not list its policies (ascending).
    order: int = 100


@dataclass(frozen=True)
class ConfigSchema:
    """The JSON Schema of one top-level section of shipsync.toml.

    Mark secret strings with ``"x-secret": true``; the core lets every secret be
    a literal or ``{ env = "NAME" }`` and never prints its value.
    """

    section: str
    schema: dict[str, Any]
    description: str = ""
    #: Checks a schema cannot express; returns (json path, message) pairs.
    check: Callable[[dict[str, Any]], list[tuple[str, str]]] | None = None


def lazy(target: str) -> Callable[..., Any]:
    """``"package.module:function"`` as a callable that imports the module when first called.

    For registry entries whose code is heavy and rarely used (an API emulator):
    the hook can return its entry without importing it at every command.
    """
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"lazy target must be 'module:attribute', got {target!r}")

    def call(*args: Any, **kwargs: Any) -> Any:
        function = getattr(importlib.import_module(module_name), attribute)
        return function(*args, **kwargs)

    call.__name__ = attribute
    call.__qualname__ = f"lazy({target})"
    call.__doc__ = f"Imports {module_name} and calls its {attribute}."
    # The real function, for a caller that must know its parameters before calling it.
    call.resolve = lambda: getattr(  # type: ignore[attr-defined]
        importlib.import_module(module_name), attribute)
    return call


@dataclass(frozen=True)
class SandboxSpec:
    """An API emulator that ``shipsync sandbox`` and the test fixtures can start.

    ``create(orders=, seed=, **options)`` returns an ``Emulator`` with seeded
    data. ``config(emulator, url)`` returns the shipsync config sections that
    point at the running emulator. ``play_merchant(emulator, url, fraction,
    seed)``, when given, does what a merchant would do in that system between
    two runs (print labels), over HTTP, and returns a summary dict; if it also
    takes ``progress``, it calls ``progress(done, total)`` as it goes, which
    ``shipsync run --sandbox`` shows.
    ``connect(emulator, endpoint)``, when given, points the emulator's pushes
    at ``shipsync serve`` (``endpoint`` is ``http://HOST:PORT/webhooks/NAME``),
    as a merchant would in the platform's settings when there is no API for it.
    ``variants`` names each behaviour of the real API the emulator can take where
    the API's documentation is silent, with its values, the most likely first (the
    default); ``create(variants={name: value})`` chooses others.
    """

    name: str
    create: Callable[..., Emulator]
    config: Callable[[Emulator, str], dict[str, Any]]
    play_merchant: Callable[..., dict[str, Any]] | None = None
    description: str = ""
    connect: Callable[[Emulator, str], None] | None = None
    variants: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookSpec:
    """A platform's webhooks, received by ``shipsync serve`` at ``POST /webhooks/NAME/...``.

    ``factory(context)`` builds the plugin's ``Webhooks`` (shipsync.contracts)
    from the whole resolved config (``context.config``): it authenticates each
    request, turns its body into triggers, and installs, lists and removes the
    webhooks at the sender (``shipsync webhooks``).
    """

    name: str
    factory: Callable[[Context], Webhooks]
    description: str = ""


@dataclass(frozen=True)
class DiagnosticSpec:
    """Read-only checks of what a source or sink assumes about its API (``shipsync doctor``).

    ``kind`` is ``"source"`` or ``"sink"`` and ``target`` that source's or sink's
    name; ``run(subject)`` gets the source of each configured store (or the sink)
    as the engine builds it, reads what it needs, never writes, and yields a
    ``Finding`` per assumption it checked: confirmed, contradicted (with what
    shipsync does instead) or not observable yet.
    """

    name: str
    kind: Literal["source", "sink"]
    target: str
    run: Callable[[Any], Iterable[Finding]]
    description: str = ""


@dataclass(frozen=True)
class CommandSpec:
    """A CLI command (a function) or command group (a ``typer.Typer``)."""

    name: str
    command: Any
    help: str = ""


class DuplicateNameError(Exception):
    """Two plugins registered an entry of the same kind under the same name."""


T = TypeVar("T")


@dataclass
class Registry(Generic[T]):
    """Entries of one kind by name, remembering which plugin gave each."""

    kind: str
    entries: dict[str, T] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)

    def add(self, entry: T, owner: str) -> None:
        # Config schemas have a section instead of a name; T cannot say so to mypy.
        name = getattr(entry, "name", None) or getattr(entry, "section")  # noqa: B009
        if name in self.entries:
            raise DuplicateNameError(
                f"{self.kind} {name!r} is registered by both plugin {self.owners[name]!r} "
                f"and plugin {owner!r}; disable one of them ([plugins] disable = [...])"
            )
        self.entries[name] = entry
        self.owners[name] = owner

    def __getitem__(self, name: str) -> T:
        try:
            return self.entries[name]
        except KeyError:
            known = ", ".join(sorted(self.entries)) or "none"
            raise KeyError(f"no {self.kind} named {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def values(self) -> list[T]:
        return list(self.entries.values())
