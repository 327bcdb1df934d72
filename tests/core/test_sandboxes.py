"""SandboxSet: options reach every sandbox, and emulators come typed as what tests drive."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from shipsync import SandboxSpec, hookimpl
from shipsync.plugins import PluginHost, make_plugin_manager
from shipsync.sandbox import Emulator, SinkEmulator, SourceEmulator
from shipsync.sandboxes import SandboxSet


class Recording(Emulator):
    """An emulator that keeps the options its sandbox was created with, and nothing else."""

    name = "recording"

    def __init__(self, **options: Any) -> None:
        super().__init__()
        self.options = options


def host_with_sandbox(name: str) -> PluginHost:
    @hookimpl
    def shipsync_sandboxes() -> list[SandboxSpec]:
        return [SandboxSpec(name=name, create=Recording, config=lambda emulator, url: {})]

    plugin = SimpleNamespace(shipsync_sandboxes=shipsync_sandboxes)
    return PluginHost(make_plugin_manager(entry_points=False, plugins=[(name, plugin)]))


def test_options_go_to_every_sandbox_and_per_sandbox_to_one() -> None:
    with SandboxSet(host_with_sandbox("myshop"), orders=0, rate_limit=None,
                    per_sandbox={"myshop": {"seed": 7}, "other": {"seed": 9}}) as running:
        emulator = running.emulator("myshop")

    assert isinstance(emulator, Recording)
    assert emulator.options == {"orders": 0, "rate_limit": None, "seed": 7}


def test_an_emulator_without_the_members_tests_drive_is_refused_by_name() -> None:
    with SandboxSet(host_with_sandbox("myshop")) as running:
        with pytest.raises(TypeError) as source:
            running.source_emulator("myshop")
        with pytest.raises(TypeError) as sink:
            running.sink_emulator("myshop")

    assert "has no stores, add_order, get_order" in str(source.value)
    assert "shipsync.sandbox.SourceEmulator" in str(source.value)
    assert "has no accounts, get_order, print_label" in str(sink.value)


def test_a_sandbox_that_is_not_running_is_named_with_those_that_are() -> None:
    with SandboxSet(host_with_sandbox("myshop")) as running:
        with pytest.raises(KeyError) as caught:
            running.source_emulator("elsewhere")

    assert "'elsewhere'" in str(caught.value) and "running: myshop" in str(caught.value)


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    return {"orders": 0, "seed": 1, "rate_limit": None}


def test_the_built_in_emulators_follow_the_protocols_tests_drive(sandboxes: SandboxSet) -> None:
    source = sandboxes.source_emulator("bigcommerce")
    sink = sandboxes.sink_emulator("starshipit")
    [store, *_] = source.stores
    [(account, *_), *_] = sink.accounts()

    order = source.add_order(store, products=[{"name": "Mug", "sku": "MUG-1"}])
    assert sink.get_order(account, str(order["id"])) is None
    assert source.get_order(store, order["id"])["id"] == order["id"]
    assert isinstance(source, SourceEmulator) and not isinstance(source, SinkEmulator)
    assert isinstance(sink, SinkEmulator) and not isinstance(sink, SourceEmulator)
