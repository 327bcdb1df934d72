"""examples/shipsync-hscodes, a separate distribution, installed with pip and run by
`shipsync run`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from plugin_kit import (
    EMPTY_STORES,
    REPO,
    Installed,
    PipInstaller,
    PluginWorld,
    copy_project,
    run_pytest,
)
from shipsync.sandboxes import SandboxSet

EXAMPLE = REPO / "examples" / "shipsync-hscodes"
TABLE = "sku,tariff_code,country_of_origin\nTEE-1,6109.10,PT\nBOOT-1,6403.99,IT\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A copy: building writes egg-info next to the sources, never into the repository.
    return copy_project(EXAMPLE, tmp_path_factory.mktemp("example") / EXAMPLE.name)


@pytest.fixture(scope="module")
def hscodes(project: Path, pip_installer: PipInstaller) -> Iterator[Installed]:
    with pip_installer.installed_for(project) as installed:
        yield installed


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    return EMPTY_STORES


@pytest.fixture
def world(sandboxes: SandboxSet, tmp_path: Path, hscodes: Installed) -> PluginWorld:
    (tmp_path / "hscodes.csv").write_text(TABLE, encoding="utf-8")
    return PluginWorld(sandboxes, tmp_path, hscodes)


def test_example_passes_its_own_tests(project: Path, hscodes: Installed) -> None:
    done = run_pytest(project, hscodes)

    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout.strip().splitlines()[-1]


def test_plugins_lists_it_from_its_own_distribution(world: PluginWorld) -> None:
    hscodes = world.plugins()["hscodes"]

    assert (hscodes["distribution"], hscodes["version"]) == ("shipsync-hscodes", "0.1.0")
    assert hscodes["components"] == {"mappers": ["hscodes"], "config_schemas": ["hscodes"]}


def order_with_customs(world: PluginWorld) -> dict[str, Any]:
    """An order whose boots have BigCommerce customs information (VN) and whose tee has none."""
    order = world.add_order(products=[
        {"name": "Tee", "sku": "TEE-1", "product_id": 9001},
        {"name": "Boots", "sku": "BOOT-1", "product_id": 9002},
        {"name": "Poster", "sku": "POSTER-1", "product_id": 9003}])
    world.bc.set_customs("main", 9002, "VN", {"ALL": "640299"})
    return order


def items_by_sku(world: PluginWorld, order: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["sku"]: item for item in world.starshipit_order(str(order["id"]))["items"]}


def test_run_fills_missing_codes_from_the_table_and_keeps_bigcommerce_ones(
        world: PluginWorld) -> None:
    world.configure({"hscodes": {"table": "hscodes.csv"}})  # relative: the working directory
    order = order_with_customs(world)

    report = world.run()

    items = items_by_sku(world, order)
    assert report["imported"] == 1 and report["failed"] == 0
    assert (items["TEE-1"]["tariff_code"], items["TEE-1"]["country_of_origin"]) == ("610910", "PT")
    assert (items["BOOT-1"]["tariff_code"], items["BOOT-1"]["country_of_origin"]) == ("640299",
                                                                                      "VN")
    assert not items["POSTER-1"].get("tariff_code")


def test_overwrite_lets_the_table_win(world: PluginWorld) -> None:
    world.configure({"hscodes": {"table": str(world.tmp_path / "hscodes.csv"),
                                 "overwrite": True}})
    order = order_with_customs(world)

    world.run()

    items = items_by_sku(world, order)
    assert (items["BOOT-1"]["tariff_code"], items["BOOT-1"]["country_of_origin"]) == ("640399",
                                                                                      "IT")


def test_disabled_plugin_leaves_orders_alone(world: PluginWorld) -> None:
    world.configure({"plugins": {"disable": ["hscodes"]}})
    order = order_with_customs(world)

    world.run()

    assert "hscodes" not in world.plugins()
    assert not items_by_sku(world, order)["TEE-1"].get("tariff_code")


def test_a_bad_table_is_a_config_error_with_its_line(world: PluginWorld) -> None:
    (world.tmp_path / "hscodes.csv").write_text(TABLE + "MUG-1,6912,XX\n", encoding="utf-8")
    world.configure({"hscodes": {"table": "hscodes.csv"}})

    result = world.cli("run", "bigcommerce")

    assert result.code == 2
    assert "$.hscodes.table" in result.stderr
    assert "line 4: tariff_code '6912' of 'MUG-1'" in result.stderr
    assert "country_of_origin 'XX'" in result.stderr
