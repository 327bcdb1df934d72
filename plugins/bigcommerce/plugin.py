"""Hook implementations of the BigCommerce plugin (entry point ``bigcommerce``)."""

from __future__ import annotations

from shipsync import (
    CommandSpec,
    ConfigSchema,
    SandboxSpec,
    SourceSpec,
    StatusPolicySpec,
    hookimpl,
)

from . import settings, status
from .carriers import shipsync_tracking_carrier  # noqa: F401 - a hook implementation
from .source import BigCommerceSource


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
    from .sandbox import sandbox_spec  # the emulator loads only when asked for

    return [sandbox_spec()]


@hookimpl
def shipsync_commands() -> list[CommandSpec]:
    return [CommandSpec(name="statuses", command=status.statuses_command,
                        help="The BigCommerce order status codes.")]
