"""Third-party plugins installed with pip replace the built-in mapper and status policy.

The distribution ``shipsync-talla`` is written here, in a temporary folder, as
a plugin author would write it: a product-option mapper that also knows the
Spanish "Talla" (size) but leaves colours and HS codes alone, and a status
policy that always writes Completed (10). ``shipsync-opciones`` registers its
mapper under the built-in's own name, ``product-options``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from plugin_kit import EMPTY_STORES, Installed, PipInstaller, PluginWorld
from shipsync.sandboxes import SandboxSet

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{distribution}"
version = "{version}"
dependencies = ["shipsync"]

[project.entry-points.shipsync]
{entry_points}

[tool.setuptools]
packages = ["{package}"]
"""

SIZE_MAPPER = '''\
from shipsync import MapperSpec, hookimpl

SIZE_NAMES = {{"size", "talla"}}


def map_sizes(order, context):
    for destination in order["destinations"]:
        for item in destination["items"]:
            for option in item.get("options") or []:
                value = option["value"].strip()
                if option["name"].strip().lower() in SIZE_NAMES and value:
                    item["size"] = value
    return order


@hookimpl
def shipsync_mappers():
    return [MapperSpec(name="{mapper}", map=map_sizes, description="Size and Talla options.")]
'''

ALWAYS_COMPLETED = '''\
from shipsync import StatusPolicySpec, WritebackDecision, hookimpl


def always_completed(context):
    return WritebackDecision(True, 10, "label printed: always Completed (10)")


@hookimpl
def shipsync_status_policies():
    # Far behind update-status: changes nothing until a store lists it.
    return [StatusPolicySpec(name="always-completed", decide=always_completed, order=900)]
'''


def write_distribution(root: Path, distribution: str, version: str,
                       modules: dict[str, str]) -> Path:
    """A plugin distribution: one package, one entry point per module (entry point -> source)."""
    package = distribution.replace("-", "_")
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    entry_points = []
    for entry_point, source in modules.items():
        module = entry_point.replace("-", "_")
        (root / package / f"{module}.py").write_text(source)
        entry_points.append(f'{entry_point} = "{package}.{module}"')
    (root / "pyproject.toml").write_text(PYPROJECT.format(
        distribution=distribution, version=version, package=package,
        entry_points="\n".join(entry_points)))
    return root


@pytest.fixture(scope="module")
def talla(tmp_path_factory: pytest.TempPathFactory,
          pip_installer: PipInstaller) -> Iterator[Installed]:
    root = write_distribution(tmp_path_factory.mktemp("talla") / "shipsync-talla",
                              "shipsync-talla", "1.2.0", {
                                  "talla-options": SIZE_MAPPER.format(mapper="talla-options"),
                                  "always-completed": ALWAYS_COMPLETED})
    with pip_installer.installed_for(root) as installed:
        yield installed


@pytest.fixture(scope="module")
def opciones(tmp_path_factory: pytest.TempPathFactory,
             pip_installer: PipInstaller) -> Iterator[Installed]:
    root = write_distribution(tmp_path_factory.mktemp("opciones") / "shipsync-opciones",
                              "shipsync-opciones", "0.3.0", {
                                  "opciones": SIZE_MAPPER.format(mapper="product-options")})
    with pip_installer.installed_for(root) as installed:
        yield installed


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    return EMPTY_STORES


@pytest.fixture
def world(sandboxes: SandboxSet, tmp_path: Path, talla: Installed) -> PluginWorld:
    return PluginWorld(sandboxes, tmp_path, talla)


OPTIONS = [{"display_name": "Talla", "display_value": "M"},
           {"display_name": "Colour", "display_value": "Navy"},
           {"display_name": "HS Code", "display_value": "6109.10"}]


def imported_item(world: PluginWorld, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Import one order whose product has Talla, Colour and HS Code options; its one item."""
    order = world.add_order(products=[{"name": "Camiseta", "sku": "CAM-M", "product_id": 9001,
                                       "product_options": OPTIONS}])
    report = world.run(env=env)
    assert report["imported"] == 1, report
    [item] = world.starshipit_order(str(order["id"]))["items"]
    return item


def test_plugins_lists_the_installed_distribution_and_what_it_gives(world: PluginWorld) -> None:
    plugins = world.plugins()

    mapper, policy = plugins["talla-options"], plugins["always-completed"]
    assert (mapper["distribution"], mapper["version"]) == ("shipsync-talla", "1.2.0")
    assert mapper["hooks"] == ["shipsync_mappers"]
    assert mapper["components"] == {"mappers": ["talla-options"]}
    assert policy["components"] == {"status_policies": ["always-completed"]}
    assert plugins["product-options"]["distribution"] == "shipsync"


def test_without_configuration_both_mappers_run(world: PluginWorld) -> None:
    item = imported_item(world)

    assert item["size"] == "M"  # the third party's Talla
    assert item["color"] == "Navy" and item["tariff_code"] == "610910"  # the built-in's


@pytest.mark.parametrize("how", ["mapping-mappers", "plugins-disable", "disable-env-var"])
def test_third_party_mapper_runs_in_place_of_the_built_in(world: PluginWorld, how: str) -> None:
    env = {}
    if how == "mapping-mappers":
        world.configure({"mapping": {"mappers": ["talla-options"]}})
    elif how == "plugins-disable":
        world.configure({"plugins": {"disable": ["product-options"]}})
    else:
        env = {"SHIPSYNC_DISABLE_PLUGINS": "product-options"}

    item = imported_item(world, env)

    assert item["size"] == "M"
    assert not item.get("color"), "the built-in product-options mapper ran"
    assert not item.get("tariff_code"), "the built-in product-options mapper ran"
    if how != "mapping-mappers":
        assert "product-options" not in world.plugins(env)


def test_disabling_the_third_party_mapper_leaves_the_built_in(world: PluginWorld) -> None:
    item = imported_item(world, {"SHIPSYNC_DISABLE_PLUGINS": "talla-options"})

    assert item["color"] == "Navy" and item["tariff_code"] == "610910"
    assert not item.get("size")


def print_and_write_back(world: PluginWorld) -> tuple[int, dict[str, Any]]:
    """Import an order, print its label, write back; the order's status and the report."""
    order = world.add_order(products=[{"name": "Mug", "product_id": 9001}])
    world.run()
    world.print_label(str(order["id"]))
    report = world.run()
    return world.bc.get_order("main", order["id"])["status_id"], report


def test_store_status_policies_choose_the_third_party_policy(world: PluginWorld) -> None:
    world.configure(store={"status_policies": ["always-completed"], "update_status": 2})

    status, report = print_and_write_back(world)

    assert report["written_back"] == 1
    assert status == 10


def test_installed_policy_changes_nothing_until_a_store_lists_it(world: PluginWorld) -> None:
    status, report = print_and_write_back(world)

    assert report["written_back"] == 1
    assert status == 2  # update-status decided, as before the install


def test_disabled_policy_named_by_a_store_is_refused(world: PluginWorld) -> None:
    world.configure(store={"status_policies": ["always-completed"]})
    world.add_order(products=[{"name": "Mug", "product_id": 9001}])

    result = world.cli("run", "bigcommerce", env={"SHIPSYNC_DISABLE_PLUGINS": "always-completed"})

    assert result.code == 2
    assert "always-completed" in result.stderr
    assert world.ss.orders(world.api_key) == []


def test_same_named_mapper_conflicts_until_the_built_in_is_disabled(
        sandboxes: SandboxSet, tmp_path: Path, opciones: Installed) -> None:
    world = PluginWorld(sandboxes, tmp_path, opciones)

    clash = world.cli("run", "bigcommerce")
    item = imported_item(world, {"SHIPSYNC_DISABLE_PLUGINS": "product-options"})

    assert clash.code == 2
    assert "'product-options'" in clash.stderr and "'opciones'" in clash.stderr
    assert item["size"] == "M" and not item.get("color")  # the same name, the new behaviour
