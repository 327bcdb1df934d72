"""Hook implementations of the Starshipit plugin (entry point ``starshipit``)."""

from __future__ import annotations

from shipsync import (
    ConfigSchema,
    DiagnosticSpec,
    SandboxSpec,
    SinkSpec,
    WebhookSpec,
    hookimpl,
    lazy,
)

from . import diagnostics, settings
from .sink import StarshipitSink
from .variants import VARIANTS


@hookimpl
def shipsync_sinks() -> list[SinkSpec]:
    return [SinkSpec(name="starshipit", factory=StarshipitSink,
                     description="Starshipit orders API (import, shipped orders).")]


@hookimpl
def shipsync_config_schemas() -> list[ConfigSchema]:
    return [ConfigSchema("starshipit", settings.schema(), check=settings.check)]


@hookimpl
def shipsync_sandboxes() -> list[SandboxSpec]:
    # The emulator's module loads when a sandbox is started, not at every command.
    return [SandboxSpec(
        name="starshipit",
        create=lazy("shipsync_starshipit.sandbox:create_sandbox"),
        config=lazy("shipsync_starshipit.sandbox:sandbox_config"),
        play_merchant=lazy("shipsync_starshipit.sandbox:play_merchant"),
        connect=lazy("shipsync_starshipit.sandbox:connect_webhook"),
        description=(
            "Starshipit API emulator: orders, import, labels (AusPost, StarTrack, Pickup In "
            "Store), shipped readback and tracking, with 2 requests/s per subscription key."
        ),
        variants=VARIANTS,
    )]


@hookimpl
def shipsync_webhooks() -> list[WebhookSpec]:
    return [WebhookSpec(
        name="starshipit", factory=lazy("shipsync_starshipit.webhooks:StarshipitWebhooks"),
        description="The account's tracking webhook (X-Starshipit-Signature); set in "
                    "Starshipit's settings.")]


@hookimpl
def shipsync_diagnostics() -> list[DiagnosticSpec]:
    return list(diagnostics.DIAGNOSTICS)
