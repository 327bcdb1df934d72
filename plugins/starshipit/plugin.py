"""Hook implementations of the Starshipit plugin (entry point ``starshipit``)."""

from __future__ import annotations

from shipsync import ConfigSchema, SandboxSpec, SinkSpec, hookimpl

from . import settings
from .sink import StarshipitSink


@hookimpl
def shipsync_sinks() -> list[SinkSpec]:
    return [SinkSpec(name="starshipit", factory=StarshipitSink,
                     description="Starshipit orders API (import, shipped orders).")]


@hookimpl
def shipsync_config_schemas() -> list[ConfigSchema]:
    return [ConfigSchema("starshipit", settings.schema(), check=settings.check)]


@hookimpl
def shipsync_sandboxes() -> list[SandboxSpec]:
    from .sandbox import sandbox_spec  # the emulator loads only when asked for

    return [sandbox_spec()]
