"""The hook specifications every shipsync plugin implements a subset of.

Three kinds of hook, told apart by their names:

- **Registries** (plural nouns) collect every plugin's entries. A duplicate
  name is an error naming both plugins.
- **Decisions** (verbs) are first-result: the first plugin to return something
  other than None wins, and the core's default is registered last.
- **Observers** (past tense) are told what happened; their return value is ignored.

Implementations may accept any subset of a hook's arguments. Hooks gain
arguments over time; they never lose or rename them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .contracts import CanonicalOrder, RunInfo, ShipmentRecord
    from .registry import (
        CommandSpec,
        ConfigSchema,
        DiagnosticSpec,
        MapperSpec,
        SandboxSpec,
        SinkSpec,
        SourceSpec,
        StatusPolicySpec,
        WebhookSpec,
        WritebackContext,
        WritebackDecision,
    )

PROJECT = "shipsync"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------- registries


@hookspec
def shipsync_sources() -> list[SourceSpec]:
    """Register order sources (e-commerce platforms orders are read from).

    Convention: collect-all; every plugin's entries are gathered, and two
    sources with the same name are an error that names both plugins.

    Args:
        (none)

    Returns:
        A list of ``SourceSpec``: the name used on the command line
        (``shipsync run NAME``), a factory building the source for one
        configured store, and a function listing the configured stores.

    Example:
        @hookimpl
        def shipsync_sources():
            return [SourceSpec(name="bigcommerce", factory=BigCommerceSource,
                               stores=configured_stores)]
    """


@hookspec
def shipsync_sinks() -> list[SinkSpec]:
    """Register order sinks (shipping software orders are written to).

    Convention: collect-all; a duplicate name is an error naming both plugins.

    Args:
        (none)

    Returns:
        A list of ``SinkSpec``: the sink's name (chosen by a source's ``sink``
        config key, default ``starshipit``) and a factory taking its config section.

    Example:
        @hookimpl
        def shipsync_sinks():
            return [SinkSpec(name="jsonl", factory=JsonLinesSink)]
    """


@hookspec
def shipsync_mappers() -> list[MapperSpec]:
    """Register mappers: pure functions that transform canonical orders.

    Convention: collect-all; a duplicate name is an error naming both plugins.
    Which mappers run, and in what order, is set by ``[mapping] mappers``;
    by default every registered mapper runs by ascending ``order``.

    Args:
        (none)

    Returns:
        A list of ``MapperSpec``. Each ``map(order, context)`` receives a
        canonical order (schemas/order.json) and returns one; the result is
        validated again before it reaches the sink.

    Example:
        @hookimpl
        def shipsync_mappers():
            def gift_wrap(order, context):
                order["reference"] = "GIFT " + (order.get("reference") or "")
                return order
            return [MapperSpec(name="gift-wrap", map=gift_wrap, order=200)]
    """


@hookspec
def shipsync_status_policies() -> list[StatusPolicySpec]:
    """Register status policies: what is written back once labels are printed.

    Convention: collect-all; a duplicate name is an error naming both plugins.
    A store's ``status_policies`` list picks which run, in order; the first
    policy returning a decision wins.

    Args:
        (none)

    Returns:
        A list of ``StatusPolicySpec`` whose ``decide(context)`` returns a
        ``WritebackDecision`` or None (not mine to decide).

    Example:
        @hookimpl
        def shipsync_status_policies():
            def always_completed(context):
                return WritebackDecision(True, 10, "label printed: Completed")
            return [StatusPolicySpec(name="always-completed", decide=always_completed)]
    """


@hookspec
def shipsync_config_schemas() -> list[ConfigSchema]:
    """Register the JSON Schema of a plugin's top-level config section.

    Convention: collect-all; two schemas for the same section are an error
    naming both plugins. The core composes them into the schema of the whole
    file (``shipsync schema``) and validates shipsync.toml against it.

    Args:
        (none)

    Returns:
        A list of ``ConfigSchema(section, schema)``; secrets are marked with
        ``"x-secret": true`` and may then be given as ``{ env = "NAME" }``.

    Example:
        @hookimpl
        def shipsync_config_schemas():
            return [ConfigSchema("jsonl", {"type": "object",
                    "properties": {"path": {"type": "string"}}})]
    """


@hookspec
def shipsync_sandboxes() -> list[SandboxSpec]:
    """Register API emulators for ``shipsync sandbox``, ``--sandbox`` and tests.

    Convention: collect-all; a duplicate name is an error naming both plugins.

    Args:
        (none)

    Returns:
        A list of ``SandboxSpec``: how to create the seeded emulator, the config
        sections that point shipsync at it, and optionally a merchant step
        (printing labels) used between import and writeback in demos.

    Example:
        @hookimpl
        def shipsync_sandboxes():
            return [SandboxSpec(name="myshop", create=MyShopEmulator,
                                config=lambda emulator, url: {"myshop": {"url": url}})]
    """


@hookspec
def shipsync_commands() -> list[CommandSpec]:
    """Register CLI commands or command groups.

    Convention: collect-all; a duplicate name is an error naming both plugins,
    and a name the core already uses is refused.

    Args:
        (none)

    Returns:
        A list of ``CommandSpec(name, command)`` where ``command`` is a plain
        function (typer builds its options from the signature) or a ``typer.Typer``.

    Example:
        @hookimpl
        def shipsync_commands():
            def hello(name: str = "world"):
                print(f"hello {name}")
            return [CommandSpec(name="hello", command=hello)]
    """


@hookspec
def shipsync_webhooks() -> list[WebhookSpec]:
    """Register webhook receivers: how a platform's pushes reach ``shipsync serve``.

    Convention: collect-all; a duplicate name is an error naming both plugins.
    ``shipsync serve`` answers ``POST /webhooks/NAME/...`` with the entry named
    NAME, and ``shipsync webhooks install|list|remove NAME`` manages its hooks.

    Args:
        (none)

    Returns:
        A list of ``WebhookSpec(name, factory)``; ``factory(context)`` builds a
        ``shipsync.contracts.Webhooks`` that authenticates a request and turns
        its body into ``WebhookTrigger`` (an order to read again, never data),
        and installs, lists and removes the hooks at the sender.

    Example:
        @hookimpl
        def shipsync_webhooks():
            return [WebhookSpec(name="myshop",
                                factory=lazy("shipsync_myshop.webhooks:MyShopWebhooks"))]
    """


@hookspec
def shipsync_diagnostics() -> list[DiagnosticSpec]:
    """Register read-only checks of what a source or sink assumes about its API.

    Convention: collect-all; a duplicate name is an error naming both plugins.
    ``shipsync doctor`` runs each against the source of every configured store
    (or against the sink) it targets, prints what it found and records it in
    the state file, where the plugin reads it back on the next run.

    Args:
        (none)

    Returns:
        A list of ``DiagnosticSpec``: a name, ``kind`` (``source`` or
        ``sink``), the ``target`` source's or sink's name, and ``run(subject)``
        yielding ``Finding``s (confirmed, contradicted with what shipsync does
        instead, or not observable yet). A check never writes to the API.

    Example:
        @hookimpl
        def shipsync_diagnostics():
            def credentials(source):
                source.client.ping()
                yield Finding("token-accepted", "confirmed", "the access token works")
            return [DiagnosticSpec("myshop-credentials", "source", "myshop", credentials)]
    """


# --------------------------------------------------------------------------- decisions


@hookspec(firstresult=True)
def shipsync_writeback_decision(context: WritebackContext) -> WritebackDecision | None:
    """Decide what is written back to the source for one printed order.

    Convention: first-result. The core's default, registered last, asks the
    store's configured ``status_policies`` in order.

    Args:
        context: a ``WritebackContext`` with ``store`` (name), ``store_config``,
            ``shipment`` (schemas/shipment.json) and ``source_order`` (the
            order's current state in the source: ``status_id`` and addresses).

    Returns:
        A ``WritebackDecision``, or None to let the next implementation decide.

    Example:
        @hookimpl(tryfirst=True)
        def shipsync_writeback_decision(context):
            if context.shipment["carrier"] == "PlainLabel":
                return WritebackDecision(True, None, "plain label: tracking only")
    """


@hookspec(firstresult=True)
def shipsync_order_number(order: CanonicalOrder, destination_index: int, prefix: str) -> str | None:
    """Choose the sink order number for one destination of a source order.

    Convention: first-result. The core's default, registered last, gives
    ``prefix + order_id``, with ``-1``, ``-2``, ... when the order has several
    shipping destinations.

    Args:
        order: the canonical order (schemas/order.json).
        destination_index: the destination's position (0-based) in the order.
        prefix: the store's ``order_prefix``.

    Returns:
        The order number as a string (at most 50 characters), or None.

    Example:
        @hookimpl(tryfirst=True)
        def shipsync_order_number(order, destination_index, prefix):
            return f"{prefix}BC{order['order_id']}-{destination_index + 1}"
    """


@hookspec(firstresult=True)
def shipsync_tracking_carrier(carrier: str, carrier_name: str, source: str) -> str | None:
    """Map a sink's carrier to the source platform's tracking-carrier value.

    Convention: first-result; the core's default, registered last, returns "".

    Args:
        carrier: the sink's carrier code (e.g. Starshipit ``AusPost``).
        carrier_name: its display name (e.g. ``Australia Post``).
        source: the source's name (e.g. ``bigcommerce``).

    Returns:
        The source's carrier value (for BigCommerce, a slug from
        tracking_carrier_values.csv such as ``australia-post``), "" when
        unknown, or None to let the next implementation decide.

    Example:
        @hookimpl(tryfirst=True)
        def shipsync_tracking_carrier(carrier, source):
            if source == "bigcommerce" and carrier == "MyLocalCourier":
                return "couriers-please"
    """


# --------------------------------------------------------------------------- observers


@hookspec
def shipsync_run_started(run: RunInfo) -> None:
    """Observe the start of a run (import, writeback or both) for one store.

    Convention: observer; called on every plugin, return value ignored.

    Args:
        run: a ``RunInfo`` with ``run_id``, ``source``, ``store``, ``steps``
            and ``dry_run``.

    Returns:
        None.

    Example:
        @hookimpl
        def shipsync_run_started(run):
            log.info("run %s for store %s", run.run_id, run.store)
    """


@hookspec
def shipsync_run_finished(run: RunInfo, report: dict[str, Any]) -> None:
    """Observe the end of a run for one store, with its report.

    Convention: observer; called on every plugin, return value ignored.

    Args:
        run: the ``RunInfo`` given to ``shipsync_run_started``.
        report: the store's report, as printed by ``--json``.

    Returns:
        None.

    Example:
        @hookimpl
        def shipsync_run_finished(run, report):
            statsd.gauge("shipsync.imported", report["imported"])
    """


@hookspec
def shipsync_order_imported(store: str, order_number: str, order: CanonicalOrder) -> None:
    """Observe one sink order created from a source order's destination.

    Convention: observer; called on every plugin, return value ignored.

    Args:
        store: the store's name.
        order_number: the sink order number.
        order: the canonical order after mapping.

    Returns:
        None.

    Example:
        @hookimpl
        def shipsync_order_imported(store, order_number):
            print(f"{store}: imported {order_number}")
    """


@hookspec
def shipsync_order_updated(store: str, order_number: str, order: CanonicalOrder) -> None:
    """Observe an unprinted sink order updated because the source order changed.

    Convention: observer; called on every plugin, return value ignored.

    Args:
        store: the store's name.
        order_number: the sink order number.
        order: the canonical order after mapping.

    Returns:
        None.

    Example:
        @hookimpl
        def shipsync_order_updated(store, order_number):
            print(f"{store}: updated {order_number}")
    """


@hookspec
def shipsync_order_deleted(store: str, order_number: str, reason: str) -> None:
    """Observe an unprinted sink order deleted because the source order was cancelled.

    Convention: observer; called on every plugin, return value ignored.

    Args:
        store: the store's name.
        order_number: the sink order number.
        reason: why, e.g. ``cancelled in BigCommerce (status 5)``.

    Returns:
        None.

    Example:
        @hookimpl
        def shipsync_order_deleted(store, order_number, reason):
            print(f"{store}: deleted {order_number}: {reason}")
    """


@hookspec
def shipsync_order_skipped(store: str, order_id: str, reason: str) -> None:
    """Observe a source order (or one destination of it) left out on purpose.

    Convention: observer; called on every plugin, return value ignored.

    Args:
        store: the store's name.
        order_id: the source order id.
        reason: one of the report's skip reasons, e.g. ``nothing left to ship``.

    Returns:
        None.

    Example:
        @hookimpl
        def shipsync_order_skipped(store, order_id, reason):
            print(f"{store}: skipped {order_id}: {reason}")
    """


@hookspec
def shipsync_order_failed(store: str, order_id: str, reason: str) -> None:
    """Observe a source order that could not be imported or written back.

    Convention: observer; called on every plugin, return value ignored. The
    order is quarantined and retried on the next run.

    Args:
        store: the store's name.
        order_id: the source order id.
        reason: what failed, with the JSON path for schema errors.

    Returns:
        None.

    Example:
        @hookimpl
        def shipsync_order_failed(store, order_id, reason):
            pager.alert(f"{store} order {order_id}: {reason}")
    """


@hookspec
def shipsync_order_written_back(
    store: str, order_id: str, shipment: ShipmentRecord, decision: WritebackDecision
) -> None:
    """Observe tracking (and status) written back to the source for one shipment.

    Convention: observer; called on every plugin, return value ignored.

    Args:
        store: the store's name.
        order_id: the source order id.
        shipment: the shipment record (schemas/shipment.json).
        decision: the ``WritebackDecision`` that was carried out.

    Returns:
        None.

    Example:
        @hookimpl
        def shipsync_order_written_back(store, order_id, shipment):
            print(f"{store}: {order_id} shipped with {shipment['tracking_numbers']}")
    """
