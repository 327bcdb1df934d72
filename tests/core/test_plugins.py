"""The plugin manager: validation, registries, entry points, disabling, decision defaults."""

from __future__ import annotations

import json
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import pluggy
import pytest

from shipsync import (
    CommandSpec,
    ConfigSchema,
    MapperSpec,
    SandboxSpec,
    SinkSpec,
    SourceSpec,
    StatusPolicySpec,
    WritebackContext,
    WritebackDecision,
    hookimpl,
)
from shipsync.plugins import DISABLE_ENV, PluginHost, make_plugin_manager
from shipsync.registry import DuplicateNameError

BUILT_INS = {"bigcommerce", "starshipit", "product-options", "pickup-in-store"}

# One entry named NAME for each registry hook.
ENTRIES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "sources": ("shipsync_sources",
                lambda name: SourceSpec(name=name, factory=dict, stores=lambda config: [])),
    "sinks": ("shipsync_sinks", lambda name: SinkSpec(name=name, factory=dict)),
    "mappers": ("shipsync_mappers",
                lambda name: MapperSpec(name=name, map=lambda order, context: order)),
    "status_policies": ("shipsync_status_policies",
                        lambda name: StatusPolicySpec(name=name, decide=lambda context: None)),
    "config_schemas": ("shipsync_config_schemas",
                       lambda name: ConfigSchema(name, {"type": "object"})),
    "sandboxes": ("shipsync_sandboxes",
                  lambda name: SandboxSpec(name=name, create=dict, config=lambda e, url: {})),
    "commands": ("shipsync_commands", lambda name: CommandSpec(name=name, command=lambda: None)),
}
KINDS = sorted(ENTRIES)


def plugin_with(hook_name: str, result: Callable[[], Any], **opts: Any) -> SimpleNamespace:
    """A plugin object implementing one hook."""

    def impl() -> Any:
        return result()

    impl.__name__ = hook_name
    return SimpleNamespace(**{hook_name: hookimpl(**opts)(impl)})


def registry_plugin(kind: str, *names: str) -> SimpleNamespace:
    hook_name, make = ENTRIES[kind]
    return plugin_with(hook_name, lambda: [make(n) for n in names])


def host_of(*plugins: tuple[str, Any]) -> PluginHost:
    return PluginHost(make_plugin_manager(entry_points=False, plugins=plugins))


# --------------------------------------------------------------------------- validation


def test_misspelled_hook_implementation_is_rejected() -> None:
    class Typo:
        @hookimpl
        def shipsync_sourcez(self) -> list[Any]:
            return []

    with pytest.raises(pluggy.PluginValidationError, match="shipsync_sourcez"):
        make_plugin_manager(entry_points=False, plugins=[("typo", Typo())])


def test_misspelled_hook_error_names_the_plugin() -> None:
    class Typo:
        @hookimpl
        def shipsync_sourcez(self) -> list[Any]:
            return []

    with pytest.raises(pluggy.PluginValidationError) as caught:
        make_plugin_manager(entry_points=False, plugins=[("typo-plugin", Typo())])
    assert "'typo-plugin'" in str(caught.value)


def test_implementation_with_unknown_argument_is_rejected() -> None:
    class Extra:
        @hookimpl
        def shipsync_order_number(self, order: Any, colour: str) -> str:
            return "X"

    with pytest.raises(pluggy.PluginValidationError, match="colour"):
        make_plugin_manager(entry_points=False, plugins=[("extra", Extra())])


def test_implementation_may_take_a_subset_of_the_arguments() -> None:
    class Subset:
        @hookimpl
        def shipsync_order_number(self, order: dict[str, Any]) -> str:
            return f"S{order['order_id']}"

    pm = make_plugin_manager(entry_points=False, plugins=[("subset", Subset())])
    number = pm.hook.shipsync_order_number(order={"order_id": "7", "destinations": [{}]},
                                           destination_index=0, prefix="P")
    assert number == "S7"


def test_plain_function_without_the_marker_is_not_a_hook() -> None:
    # Only @hookimpl functions are implementations; a helper with a shipsync_ name is ignored.
    plugin = SimpleNamespace(shipsync_sourcez=lambda: [])
    pm = make_plugin_manager(entry_points=False, plugins=[("helper", plugin)])
    assert pm.get_plugin("helper") is plugin


# --------------------------------------------------------------------------- registries


@pytest.mark.parametrize("kind", KINDS)
def test_duplicate_name_names_both_plugins(kind: str) -> None:
    host = host_of(("alpha", registry_plugin(kind, "x")), ("beta", registry_plugin(kind, "x")))
    with pytest.raises(DuplicateNameError) as caught:
        host.check()
    message = str(caught.value)
    assert "'alpha'" in message and "'beta'" in message
    assert "'x'" in message


@pytest.mark.parametrize("kind, words", [("status_policies", "status policy 'x'"),
                                         ("sandboxes", "sandbox 'x'")])
def test_duplicate_name_error_names_the_kind_in_words(kind: str, words: str) -> None:
    host = host_of(("alpha", registry_plugin(kind, "x")), ("beta", registry_plugin(kind, "x")))
    with pytest.raises(DuplicateNameError) as caught:
        host.check()
    assert words in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_registry_collects_every_plugins_entries(kind: str) -> None:
    host = host_of(("alpha", registry_plugin(kind, "a1", "a2")),
                   ("beta", registry_plugin(kind, "b1")))
    registry = getattr(host, kind)
    assert sorted(registry) == ["a1", "a2", "b1"]
    assert registry.owners == {"a1": "alpha", "a2": "alpha", "b1": "beta"}


@pytest.mark.parametrize("kind", KINDS)
def test_entry_of_the_wrong_type_names_the_plugin(kind: str) -> None:
    hook_name, _ = ENTRIES[kind]
    other_kind = KINDS[(KINDS.index(kind) + 1) % len(KINDS)]
    wrong = ENTRIES[other_kind][1]("x")
    host = host_of(("sloppy", plugin_with(hook_name, lambda: [wrong])))
    with pytest.raises(TypeError) as caught:
        getattr(host, kind)
    assert "'sloppy'" in str(caught.value)
    assert hook_name in str(caught.value)


def test_registry_lookup_of_unknown_name_lists_the_known_ones() -> None:
    host = host_of(("alpha", registry_plugin("sinks", "jsonl", "csv")))
    with pytest.raises(KeyError, match="known: csv, jsonl"):
        host.sinks["starshipit"]


# --------------------------------------------------------------------------- entry points


@pytest.fixture
def make_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Install a fake distribution ``fakeplug`` 1.0 whose entry point ``fake`` is MODULE."""
    created: list[str] = []

    def make(module_source: str, module: str = "fakeplug_mod") -> Path:
        site = tmp_path / "site"
        dist_info = site / "fakeplug-1.0.dist-info"
        dist_info.mkdir(parents=True)
        (dist_info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: fakeplug\nVersion: 1.0\n")
        (dist_info / "entry_points.txt").write_text(f"[shipsync]\nfake = {module}\n")
        (site / f"{module}.py").write_text(textwrap.dedent(module_source))
        monkeypatch.syspath_prepend(str(site))
        created.append(module)
        return site

    yield make
    for module in created:
        sys.modules.pop(module, None)


FAKE_SINK_PLUGIN = """\
    from shipsync import SinkSpec, hookimpl

    @hookimpl
    def shipsync_sinks():
        return [SinkSpec(name="fake-sink", factory=dict)]
    """


def test_entry_point_plugin_is_loaded_with_its_distribution(make_distribution: Any) -> None:
    make_distribution(FAKE_SINK_PLUGIN)
    host = PluginHost(make_plugin_manager())
    infos = {info.name: info for info in host.describe()}
    assert "fake" in infos
    fake = infos["fake"]
    assert (fake.distribution, fake.version) == ("fakeplug", "1.0")
    assert fake.hooks == ["shipsync_sinks"]
    assert fake.components == {"sinks": ["fake-sink"]}
    assert host.sinks.owners["fake-sink"] == "fake"


def test_disable_keeps_an_entry_point_from_loading(make_distribution: Any) -> None:
    make_distribution(FAKE_SINK_PLUGIN)
    pm = make_plugin_manager(disable=["fake"])
    assert pm.get_plugin("fake") is None
    assert "fake-sink" not in PluginHost(pm).sinks
    assert pm.get_plugin("starshipit") is not None


def test_disable_env_var_keeps_plugins_from_loading(make_distribution: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    make_distribution(FAKE_SINK_PLUGIN)
    monkeypatch.setenv(DISABLE_ENV, "fake, product-options")
    pm = make_plugin_manager()
    assert pm.get_plugin("fake") is None
    assert pm.get_plugin("product-options") is None
    assert pm.get_plugin("bigcommerce") is not None


def test_disable_applies_to_explicitly_registered_plugins() -> None:
    pm = make_plugin_manager(entry_points=False, disable=["extra"],
                             plugins=[("extra", registry_plugin("sinks", "x")),
                                      ("kept", registry_plugin("sinks", "y"))])
    assert pm.get_plugin("extra") is None
    assert sorted(PluginHost(pm).sinks) == ["y"]


def test_installed_package_loads_the_built_in_entry_points() -> None:
    host = PluginHost(make_plugin_manager())
    infos = {info.name: info for info in host.describe()}
    assert BUILT_INS <= set(infos)
    for name in BUILT_INS:
        assert infos[name].distribution == "shipsync", name
    assert "shipsync.defaults" not in infos  # the core's defaults are not a plugin


def test_built_ins_are_disabled_like_any_plugin() -> None:
    pm = make_plugin_manager(disable=["starshipit", "pickup-in-store"])
    host = PluginHost(pm)
    assert "starshipit" not in host.sinks
    assert "pickup-in-store" not in host.status_policies
    assert "bigcommerce" in host.sources


def test_plugins_json_lists_the_built_ins_with_hooks_and_components(shipsync_run: Any) -> None:
    ran = shipsync_run("plugins", "--json")
    assert ran.code == 0, ran.stderr
    plugins = {p["name"]: p for p in json.loads(ran.stdout)["plugins"]}
    bigcommerce, starshipit = plugins["bigcommerce"], plugins["starshipit"]
    for info in (bigcommerce, starshipit):
        assert info["distribution"] == "shipsync"
        assert info["version"] == version("shipsync")
    assert "shipsync_sources" in bigcommerce["hooks"]
    assert bigcommerce["components"]["sources"] == ["bigcommerce"]
    assert "shipsync_sinks" in starshipit["hooks"]
    assert starshipit["components"]["sinks"] == ["starshipit"]
    assert starshipit["components"]["config_schemas"] == ["starshipit"]


def test_cli_lists_a_third_party_plugin_and_honours_config_disable(
        make_distribution: Any, shipsync_run: Any, tmp_path: Path) -> None:
    site = make_distribution(FAKE_SINK_PLUGIN)
    env = {"PYTHONPATH": str(site)}
    listed = shipsync_run("plugins", "--json", env=env)
    assert listed.code == 0, listed.stderr
    fake = [p for p in json.loads(listed.stdout)["plugins"] if p["name"] == "fake"]
    assert fake and fake[0]["distribution"] == "fakeplug" and fake[0]["version"] == "1.0"

    config = tmp_path / "disable.toml"
    config.write_text('[plugins]\ndisable = ["fake"]\n')
    disabled = shipsync_run("--config", str(config), "plugins", "--json", env=env)
    assert disabled.code == 0, disabled.stderr
    assert "fake" not in {p["name"] for p in json.loads(disabled.stdout)["plugins"]}


BROKEN_PLUGINS = {
    "duplicate sink": ("""\
        from shipsync import SinkSpec, hookimpl

        @hookimpl
        def shipsync_sinks():
            return [SinkSpec(name="starshipit", factory=dict)]
        """, "'starshipit'"),
    "core command": ("""\
        from shipsync import CommandSpec, hookimpl

        @hookimpl
        def shipsync_commands():
            return [CommandSpec(name="run", command=lambda: None)]
        """, "'run'"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN_PLUGINS))
def test_cli_reports_a_broken_plugin_by_name_and_exits_2(make_distribution: Any,
                                                         shipsync_run: Any, broken: str) -> None:
    source, named = BROKEN_PLUGINS[broken]
    site = make_distribution(source)
    ran = shipsync_run("plugins", env={"PYTHONPATH": str(site)})
    assert ran.code == 2
    assert "Plugin error" in ran.stderr
    assert "'fake'" in ran.stderr and named in ran.stderr
    assert "Traceback" not in ran.stderr


# --------------------------------------------------------------------------- decision defaults


def order_with(destinations: int) -> dict[str, Any]:
    return {"order_id": "100", "destinations": [{"destination_id": str(i)}
                                                for i in range(destinations)]}


def test_order_number_default_is_prefix_and_order_id() -> None:
    pm = make_plugin_manager(entry_points=False)
    number = pm.hook.shipsync_order_number(order=order_with(1), destination_index=0, prefix="BC-")
    assert number == "BC-100"


def test_order_number_default_suffixes_only_several_destinations() -> None:
    pm = make_plugin_manager(entry_points=False)
    numbers = [pm.hook.shipsync_order_number(order=order_with(2), destination_index=i, prefix="")
               for i in range(2)]
    assert numbers == ["100-1", "100-2"]


def test_plugin_tryfirst_order_number_wins_over_the_default() -> None:
    plugin = plugin_with("shipsync_order_number", lambda: "CUSTOM", tryfirst=True)
    pm = make_plugin_manager(entry_points=False, plugins=[("numbers", plugin)])
    number = pm.hook.shipsync_order_number(order=order_with(1), destination_index=0, prefix="P")
    assert number == "CUSTOM"


def test_plugin_returning_none_leaves_the_decision_to_the_default() -> None:
    plugin = plugin_with("shipsync_order_number", lambda: None, tryfirst=True)
    pm = make_plugin_manager(entry_points=False, plugins=[("abstains", plugin)])
    number = pm.hook.shipsync_order_number(order=order_with(1), destination_index=0, prefix="P")
    assert number == "P100"


def test_tracking_carrier_default_is_empty() -> None:
    pm = make_plugin_manager(entry_points=False)
    assert pm.hook.shipsync_tracking_carrier(carrier="Nope", carrier_name="", source="x") == ""


def writeback_context(policies: list[StatusPolicySpec]) -> WritebackContext:
    return WritebackContext(store="main", store_config={}, shipment={"carrier": "AusPost"},
                            source_order={"status_id": 11}, destination={}, policies=policies)


def test_writeback_default_walks_policies_in_order_and_first_answer_wins() -> None:
    asked: list[str] = []

    def policy(name: str, decision: WritebackDecision | None) -> StatusPolicySpec:
        def decide(context: Any) -> WritebackDecision | None:
            asked.append(name)
            return decision

        return StatusPolicySpec(name=name, decide=decide)

    policies = [policy("abstains", None),
                policy("first", WritebackDecision(True, 2, "first says shipped")),
                policy("second", WritebackDecision(True, 10, "second says completed"))]
    pm = make_plugin_manager(entry_points=False)
    decision = pm.hook.shipsync_writeback_decision(context=writeback_context(policies))
    assert decision == WritebackDecision(True, 2, "first says shipped", "first")
    assert asked == ["abstains", "first"]


def test_writeback_default_without_a_deciding_policy_posts_tracking_only() -> None:
    abstain = StatusPolicySpec(name="abstains", decide=lambda context: None)
    pm = make_plugin_manager(entry_points=False)
    decision = pm.hook.shipsync_writeback_decision(context=writeback_context([abstain]))
    assert decision.create_shipment is True
    assert decision.status_id is None


def test_plugin_tryfirst_writeback_decision_wins_over_the_policies() -> None:
    mine = WritebackDecision(False, 8, "mine")
    plugin = plugin_with("shipsync_writeback_decision", lambda: mine, tryfirst=True)
    never = StatusPolicySpec(name="never", decide=lambda context: pytest.fail("asked"))
    pm = make_plugin_manager(entry_points=False, plugins=[("override", plugin)])
    assert pm.hook.shipsync_writeback_decision(context=writeback_context([never])) is mine
