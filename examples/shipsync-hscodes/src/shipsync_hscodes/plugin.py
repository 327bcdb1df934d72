"""Hook implementations of the hscodes plugin (entry point ``hscodes``)."""

from __future__ import annotations

from shipsync import ConfigSchema, MapperSpec, hookimpl

from .mapping import map_order
from .settings import SCHEMA, SECTION, check


@hookimpl
def shipsync_mappers() -> list[MapperSpec]:
    # Order 200: after product-options (100), so an "HS Code" product option is seen first.
    return [MapperSpec(name="hscodes", map=map_order, order=200,
                       description="HS codes and countries of origin from a CSV table by SKU.")]


@hookimpl
def shipsync_config_schemas() -> list[ConfigSchema]:
    return [ConfigSchema(SECTION, SCHEMA, description="The hscodes mapper's CSV table.",
                         check=check)]
