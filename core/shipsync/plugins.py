"""The plugin manager: loading plugins and gathering their registries.

Plugins, built-in or third-party, load only through the ``shipsync``
entry-point group. The core registers its own defaults (the last-resort
implementations of decision hooks) directly, and never imports a plugin by name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points
from typing import Any, Iterable

import pluggy

from . import defaults, hookspecs
from .registry import (
    CommandSpec,
    ConfigSchema,
    DiagnosticSpec,
    MapperSpec,
    Registry,
    SandboxSpec,
    SinkSpec,
    SourceSpec,
    StatusPolicySpec,
    WebhookSpec,
)

__all__ = ["PluginHost", "make_plugin_manager", "installed_plugin_names", "DISABLE_ENV",
           "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "shipsync"
DISABLE_ENV = "SHIPSYNC_DISABLE_PLUGINS"
DEFAULTS_NAME = "shipsync.defaults"


def disabled_from_env() -> set[str]:
    return {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def make_plugin_manager(
    *,
    disable: Iterable[str] = (),
    entry_points: bool = True,
    plugins: Iterable[tuple[str, Any]] = (),
) -> pluggy.PluginManager:
    """A fresh plugin manager with the hook specs, the core defaults and the plugins.

    ``disable`` (plus ``$SHIPSYNC_DISABLE_PLUGINS``, comma-separated) names
    entry points not to load. ``plugins`` registers extra (name, module/object)
    pairs, as tests do. Unknown hook implementations are rejected.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in set(disable) | disabled_from_env():
        pm.set_blocked(name)
    if entry_points:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for name, plugin in plugins:
        if not pm.is_blocked(name):
            pm.register(plugin, name=name)
    # Registered last, and trylast: of all implementations, the defaults are asked last.
    pm.register(defaults, name=DEFAULTS_NAME)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise pluggy.PluginValidationError(
            exc.plugin,
            f"plugin {pm.get_name(exc.plugin)!r}: {exc} — a shipsync hook implementation must "
            "match a hook spec (see docs/plugins.md for the list)",
        ) from None
    return pm


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    hooks: list[str]
    components: dict[str, list[str]] = field(default_factory=dict)
    module: str = ""


# kind -> (registry hook, entry type, the kind in words)
_REGISTRIES: dict[str, tuple[str, type, str]] = {
    "sources": ("shipsync_sources", SourceSpec, "source"),
    "sinks": ("shipsync_sinks", SinkSpec, "sink"),
    "mappers": ("shipsync_mappers", MapperSpec, "mapper"),
    "status_policies": ("shipsync_status_policies", StatusPolicySpec, "status policy"),
    "config_schemas": ("shipsync_config_schemas", ConfigSchema, "config section"),
    "sandboxes": ("shipsync_sandboxes", SandboxSpec, "sandbox"),
    "commands": ("shipsync_commands", CommandSpec, "command"),
    "webhooks": ("shipsync_webhooks", WebhookSpec, "webhook receiver"),
    "diagnostics": ("shipsync_diagnostics", DiagnosticSpec, "diagnostic"),
}


def installed_plugin_names() -> set[str]:
    """The names of the plugins installed in the ``shipsync`` entry-point group."""
    return {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}


class PluginHost:
    """A plugin manager plus its gathered registries, built on first use."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.hook = pm.hook

    @classmethod
    def load(cls, **kwargs: Any) -> PluginHost:
        return cls(make_plugin_manager(**kwargs))

    @property
    def disabled(self) -> set[str]:
        """The names switched off (``[plugins] disable``, ``$SHIPSYNC_DISABLE_PLUGINS``)."""
        return {name for name, plugin in self.pm.list_name_plugin() if plugin is None}

    def unknown_disabled(self) -> list[str]:
        """Disabled names that no installed plugin has: a typo, or a plugin uninstalled."""
        disabled = self.disabled
        return sorted(disabled - installed_plugin_names()) if disabled else []

    def disabled_by(self, component: str) -> str | None:
        """The disabled plugin a missing source, sink or config section probably belongs to.

        Entries are named after their plugin by convention (the plugin ``starshipit``
        gives the sink and the config section ``starshipit``).
        """
        return component if component in self.disabled else None

    def _gather(self, kind: str) -> Registry[Any]:
        hook_name, entry_type, words = _REGISTRIES[kind]
        registry: Registry[Any] = Registry(words)
        caller = getattr(self.pm.hook, hook_name)
        # Call each implementation ourselves to know which plugin gave what.
        for impl in reversed(caller.get_hookimpls()):
            for entry in impl.function() or ():
                if not isinstance(entry, entry_type):
                    raise TypeError(
                        f"plugin {impl.plugin_name!r}: {hook_name} must return "
                        f"{entry_type.__name__} entries, got {type(entry).__name__}"
                    )
                registry.add(entry, impl.plugin_name)
        return registry

    @cached_property
    def sources(self) -> Registry[SourceSpec]:
        return self._gather("sources")

    @cached_property
    def sinks(self) -> Registry[SinkSpec]:
        return self._gather("sinks")

    @cached_property
    def mappers(self) -> Registry[MapperSpec]:
        return self._gather("mappers")

    @cached_property
    def status_policies(self) -> Registry[StatusPolicySpec]:
        return self._gather("status_policies")

    @cached_property
    def config_schemas(self) -> Registry[ConfigSchema]:
        return self._gather("config_schemas")

    @cached_property
    def sandboxes(self) -> Registry[SandboxSpec]:
        return self._gather("sandboxes")

    @cached_property
    def commands(self) -> Registry[CommandSpec]:
        return self._gather("commands")

    @cached_property
    def webhooks(self) -> Registry[WebhookSpec]:
        return self._gather("webhooks")

    @cached_property
    def diagnostics(self) -> Registry[DiagnosticSpec]:
        return self._gather("diagnostics")

    def check(self) -> None:
        """Gather every registry now, so that duplicates surface at start-up."""
        for kind in _REGISTRIES:
            getattr(self, kind)

    def describe(self) -> list[PluginInfo]:
        """Every loaded plugin with its distribution, hooks and components."""
        dists = {id(plugin): dist for plugin, dist in self.pm.list_plugin_distinfo()}
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None or name == DEFAULTS_NAME:
                continue
            dist = dists.get(id(plugin))
            hooks = sorted(
                caller.name for caller in self.pm.get_hookcallers(plugin) or []
            )
            components = {}
            for kind in _REGISTRIES:
                registry = getattr(self, kind)
                owned = sorted(n for n, owner in registry.owners.items() if owner == name)
                if owned:
                    components[kind] = owned
            infos.append(PluginInfo(
                name=name,
                distribution=dist.project_name if dist else None,
                version=dist.version if dist else None,
                hooks=hooks,
                components=components,
                module=getattr(plugin, "__name__", type(plugin).__name__),
            ))
        return sorted(infos, key=lambda i: i.name)
