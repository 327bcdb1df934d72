"""Hook implementations of the BigCommerce plugin (entry point ``bigcommerce``)."""

from __future__ import annotations

from shipsync import (
    CommandSpec,
    ConfigSchema,
    DiagnosticSpec,
    SandboxSpec,
    SourceSpec,
    StatusPolicySpec,
    WebhookSpec,
    hookimpl,
    lazy,
)

from . import diagnostics, settings, status
from .carriers import shipsync_tracking_carrier  # noqa: F401 - a hook implementation
from .source import BigCommerceSource
from .variants import VARIANTS


@hookimpl
def shipsync_sources() -> list[SourceSpec]:
    return [SourceSpec(name="bigcommerce", factory=BigCommerceSource, stores=settings.stores,
                       description="BigCommerce stores (orders v2 API).")]


@hookimpl
def shipsync_config_schemas() -> list[ConfigSchema]:
    return [ConfigSchema("bigcommerce", settings.schema(), check=settings.check)]


@hookimpl
def shipsync_status_policies() -> list[StatusPolicySpec]:
    return [StatusPolicySpec(
        name="update-status", decide=status.update_status,
        description="Shipment with tracking, then the store's update_status (2 or 10).")]


@hookimpl
def shipsync_sandboxes() -> list[SandboxSpec]:
    # The emulator's module loads when a sandbox is started, not at every command.
    return [SandboxSpec(
        name="bigcommerce",
        create=lazy("shipsync_bigcommerce.sandbox:create_sandbox"),
        config=lazy("shipsync_bigcommerce.sandbox:sandbox_config"),
        description="BigCommerce stores (v2 orders, shipments, statuses, store; v3 units and "
                    "customs) with seeded orders, rate limits and fault injection.",
        variants=VARIANTS,
    )]


@hookimpl
def shipsync_commands() -> list[CommandSpec]:
    return [CommandSpec(name="statuses", command=status.statuses_command,
                        help="The BigCommerce order status codes.")]


@hookimpl
def shipsync_webhooks() -> list[WebhookSpec]:
    # Loaded when `shipsync serve` or `shipsync webhooks` starts, not at every command.
    return [WebhookSpec(
        name="bigcommerce", factory=lazy("shipsync_bigcommerce.webhooks:BigCommerceWebhooks"),
        description="Order and shipment webhooks of each store (v3 /hooks), with a secret "
                    "header and Standard Webhooks signatures.")]


@hookimpl
def shipsync_diagnostics() -> list[DiagnosticSpec]:
    return list(diagnostics.DIAGNOSTICS)
