"""``shipsync plugins new NAME``: a plugin project that installs, loads and passes its tests.

The project is a distribution of its own (``shipsync-NAME``), found by shipsync
through the ``shipsync`` entry-point group like every built-in plugin:

    NAME/
      pyproject.toml            the entry point NAME = "shipsync_NAME.plugin"
      README.md
      src/shipsync_NAME/
        __init__.py
        plugin.py               the hook implementations, nothing else
        mapping.py | policy.py | sink.py
      tests/test_plugin.py      shipsync.testing fixtures and conformance suites

``--kind`` picks what the plugin gives: a mapper (with its config section), a
status policy, or a sink (JSON lines in a file, with its config section).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

__all__ = ["KINDS", "PluginNames", "Scaffold", "ScaffoldError", "create_plugin", "plugin_names",
           "taken_names"]

KINDS = ("mapper", "policy", "sink")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
MAX_NAME = 40


class ScaffoldError(ValueError):
    """The plugin cannot be created as asked; the message says why and what to do."""


@dataclass(frozen=True)
class PluginNames:
    """The names one plugin goes by, all derived from NAME."""

    directory: str  # NAME as given
    name: str  # the entry point and the component: gift-note
    distribution: str  # shipsync-gift-note
    package: str  # shipsync_gift_note
    section: str  # its shipsync.toml section: gift_note (a sink's is its name)
    title: str  # Gift Note


def plugin_names(name: str) -> PluginNames:
    """Validate NAME and derive the others; a leading ``shipsync-`` is not repeated."""
    if not NAME_PATTERN.match(name):
        raise ScaffoldError(
            f"{name!r} is not a plugin name: use lower-case letters and digits, words joined "
            "by single '-' or '_', starting with a letter (e.g. gift-note)")
    if len(name) > MAX_NAME:
        raise ScaffoldError(f"{name!r} is longer than {MAX_NAME} characters")
    short = re.sub(r"^shipsync[-_]", "", name)
    if short == "shipsync" or not short:
        raise ScaffoldError(f"{name!r} names shipsync itself: give the plugin a name of its own")
    words = re.split(r"[-_]", short)
    return PluginNames(
        directory=name,
        name="-".join(words),
        distribution="shipsync-" + "-".join(words),
        package="shipsync_" + "_".join(words),
        section="_".join(words),
        title=" ".join(word.capitalize() for word in words),
    )


# kind -> the PluginHost registry its component is registered in
_REGISTRY_OF_KIND = {"mapper": "mappers", "policy": "status_policies", "sink": "sinks"}


def taken_names(host: Any) -> dict[str, set[str]]:
    """Names in use in ``host``: loaded plugins, components by registry, config sections."""
    taken: dict[str, set[str]] = {
        "plugins": {name for name, plugin in host.pm.list_name_plugin() if plugin is not None},
        "config_schemas": set(host.config_schemas),
    }
    for registry in set(_REGISTRY_OF_KIND.values()):
        taken[registry] = set(getattr(host, registry))
    return taken


def _section(names: PluginNames, kind: str) -> str:
    # The engine builds a sink from the config section named after the sink.
    return names.name if kind == "sink" else names.section


def _check_free(names: PluginNames, kind: str, taken: dict[str, set[str]]) -> None:
    clashes = []
    if names.name in taken.get("plugins", set()):
        clashes.append(f"a loaded plugin is already called {names.name!r}")
    registry = _REGISTRY_OF_KIND[kind]
    if names.name in taken.get(registry, set()):
        clashes.append(f"a {kind} named {names.name!r} is already registered")
    section = _section(names, kind)
    if kind != "policy" and section in taken.get("config_schemas", set()):
        clashes.append(f"the config section [{section}] is already taken")
    if clashes:
        raise ScaffoldError("; ".join(clashes) + ": choose another NAME")


def _shipsync_requirement() -> str:
    try:
        release = version("shipsync")
    except PackageNotFoundError:
        return "shipsync"
    major_minor = ".".join(release.split(".")[:2])
    return f"shipsync>={major_minor}" if re.match(r"^\d+\.\d+$", major_minor) else "shipsync"


def _render(template: str, values: dict[str, str]) -> str:
    text = template
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    left = re.findall(r"\{\{\w+\}\}", text)
    if left:  # a template names a value that does not exist: a bug here, not the user's
        raise AssertionError(f"unfilled placeholders {left}")
    return text


@dataclass(frozen=True)
class Scaffold:
    """A project written by ``create_plugin``."""

    root: Path
    names: PluginNames
    kind: str
    files: list[Path]


def create_plugin(name: str, *, path: str | Path = ".", kind: str = "mapper",
                  taken: dict[str, set[str]] | None = None) -> Scaffold:
    """Write the project ``path/NAME/``; refuses an existing directory or a name in use."""
    if kind not in KINDS:
        raise ScaffoldError(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    names = plugin_names(name)
    _check_free(names, kind, taken or {})
    parent = Path(path)
    if parent.exists() and not parent.is_dir():
        raise ScaffoldError(f"--path {str(parent)!r} is a file, not a directory")
    root = parent / names.directory
    if root.exists():
        raise ScaffoldError(f"{str(root)!r} already exists: choose another NAME or --path")
    module = {"mapper": "mapping", "policy": "policy", "sink": "sink"}[kind]
    values = {
        "name": names.name, "distribution": names.distribution, "package": names.package,
        "section": _section(names, kind), "title": names.title, "kind": kind, "module": module,
        "requirement": _shipsync_requirement(),
        "summary": SUMMARIES[kind].replace("{{section}}", _section(names, kind)),
    }
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README_HEAD + README_BY_KIND[kind] + README_TAIL,
        ".gitignore": GITIGNORE,
        f"src/{names.package}/__init__.py": INIT,
        f"src/{names.package}/plugin.py": PLUGIN_BY_KIND[kind],
        f"src/{names.package}/{module}.py": MODULE_BY_KIND[kind],
        "tests/test_plugin.py": TESTS_HEAD.replace("# <kind imports>\n", TEST_IMPORTS_BY_KIND[kind])
        + TESTS_BY_KIND[kind],
    }
    rendered = {relative: _render(template, values) for relative, template in files.items()}
    written = []
    try:
        root.mkdir(parents=True)
        for relative, text in rendered.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
    except OSError as exc:
        raise ScaffoldError(f"cannot write {str(root)!r}: {exc.strerror or exc}") from None
    return Scaffold(root=root, names=names, kind=kind, files=written)


# --------------------------------------------------------------------------- templates

SUMMARIES = {
    "mapper": "a mapper that gives items without a country of origin the one set in "
              "[{{section}}] country_of_origin",
    "policy": "a status policy: the shipment with its tracking number, then Completed (10) "
              "once every address has shipped",
    "sink": "a sink that writes orders as JSON lines to the file set in [{{section}}] path",
}

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{{distribution}}"
version = "0.1.0"
description = "shipsync plugin: {{summary}}."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["{{requirement}}"]
keywords = ["shipsync", "shipsync-plugin"]

[project.optional-dependencies]
test = ["pytest>=8"]

# shipsync loads plugins from this entry-point group. The name on the left is
# the plugin's name: `shipsync plugins` shows it, and `[plugins] disable` and
# SHIPSYNC_DISABLE_PLUGINS refer to it.
[project.entry-points.shipsync]
{{name}} = "{{package}}.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = "-ra"
'''

GITIGNORE = '''\
__pycache__/
*.egg-info/
build/
dist/
.pytest_cache/
'''

INIT = '''\
"""{{title}}: a shipsync {{kind}} plugin (entry point ``{{name}}``)."""
'''

README_HEAD = '''\
# {{distribution}}

A shipsync plugin: {{summary}}.

## Install

    pip install {{distribution}}

shipsync finds it through its entry point (`{{name}}` in the `shipsync` group);
`shipsync plugins` lists it.

'''

README_BY_KIND = {
    "mapper": '''\
## Configure

```toml
[{{section}}]
country_of_origin = "NZ"   # ISO 3166-1 alpha-2
```

The mapper `{{name}}` runs after the built-in `product-options` mapper. To choose
the mappers and their order yourself:

```toml
[mapping]
mappers = ["product-options", "{{name}}"]
```

''',
    "policy": '''\
## Configure

Installing the policy changes nothing until a store lists it:

```toml
[bigcommerce.stores.main]
status_policies = ["pickup-in-store", "{{name}}"]
```

Policies are asked in that order; the first to decide wins. Pickup in Store
consignments are left to the next policy (here `pickup-in-store`).

''',
    "sink": '''\
## Configure

```toml
[{{section}}]
path = "orders.jsonl"       # relative to the working directory

[bigcommerce.stores.main]
sink = "{{name}}"
```

Nothing is ever printed in a file, so a store using this sink imports orders
and writes nothing back.

''',
}

README_TAIL = '''\
## Develop

    pip install -e '.[test]'
    pytest

The tests use the fixtures that come with shipsync: `sandboxes`,
`shipsync_config` and `shipsync_cli` run the real `shipsync` command against
the BigCommerce and Starshipit emulators, with this plugin loaded from its
entry point. `src/{{package}}/plugin.py` holds the hook implementations; see
shipsync's docs/plugins.md for every hook, the conformance suites and how to
publish.

## Publish

    python -m build
    twine upload dist/*
'''

PLUGIN_BY_KIND = {
    "mapper": '''\
"""Hook implementations of the {{name}} plugin (entry point ``{{name}}``)."""

from __future__ import annotations

from shipsync import ConfigSchema, MapperSpec, hookimpl

from .mapping import SCHEMA, SECTION, map_order


@hookimpl
def shipsync_mappers() -> list[MapperSpec]:
    # Order 150: after the built-in product-options mapper (100) when [mapping] does not choose.
    return [MapperSpec(name="{{name}}", map=map_order, order=150,
                       description="A country of origin for items that have none.")]


@hookimpl
def shipsync_config_schemas() -> list[ConfigSchema]:
    return [ConfigSchema(SECTION, SCHEMA, description="The {{name}} mapper.")]
''',
    "policy": '''\
"""Hook implementations of the {{name}} plugin (entry point ``{{name}}``)."""

from __future__ import annotations

from shipsync import StatusPolicySpec, hookimpl

from .policy import decide


@hookimpl
def shipsync_status_policies() -> list[StatusPolicySpec]:
    # Order 200: behind the built-in update-status (100), which always decides, so
    # installing the plugin changes nothing until a store lists it in status_policies.
    return [StatusPolicySpec(name="{{name}}", decide=decide, order=200,
                             description="Shipment, then Completed (10) once all has shipped.")]
''',
    "sink": '''\
"""Hook implementations of the {{name}} plugin (entry point ``{{name}}``)."""

from __future__ import annotations

from shipsync import ConfigSchema, SinkSpec, hookimpl

from .sink import SCHEMA, SECTION, JsonLinesSink


@hookimpl
def shipsync_sinks() -> list[SinkSpec]:
    return [SinkSpec(name="{{name}}", factory=JsonLinesSink,
                     description="Orders as JSON lines in a file.")]


@hookimpl
def shipsync_config_schemas() -> list[ConfigSchema]:
    return [ConfigSchema(SECTION, SCHEMA, description="The {{name}} sink.")]
''',
}

MODULE_BY_KIND = {
    "mapper": '''\
"""The {{name}} mapper: a pure function of the canonical order (schemas/order.json).

No network, no files written: shipsync validates what it returns and sends it on.
"""

from __future__ import annotations

from typing import Any

SECTION = "{{section}}"

#: The JSON Schema of the [{{section}}] section of shipsync.toml.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "country_of_origin": {
            "type": "string",
            "pattern": "^[A-Z]{2}$",
            "description": "ISO 3166-1 alpha-2 code given to items without a country of origin.",
        },
    },
}


def map_order(order: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Give every item without a country of origin the configured one."""
    section = (getattr(context, "config", None) or {}).get(SECTION) or {}
    country = section.get("country_of_origin")
    if not country:
        return order
    for destination in order["destinations"]:
        for item in destination["items"]:
            if not item.get("country_of_origin"):
                item["country_of_origin"] = country
    return order
''',
    "policy": '''\
"""The {{name}} status policy: what is written back once a label is printed."""

from __future__ import annotations

from shipsync import WritebackContext, WritebackDecision

COMPLETED = 10


def decide(context: WritebackContext) -> WritebackDecision | None:
    """The shipment first; Completed (10) once every address of the order has shipped."""
    if context.destination.get("kind") == "pickup":
        return None  # nothing to track: the next policy (e.g. pickup-in-store) decides
    if not context.all_destinations_shipped:
        return WritebackDecision(True, None, "shipment posted; other addresses still to ship")
    return WritebackDecision(True, COMPLETED, "label printed: Completed (10)")
''',
    "sink": '''\
"""The {{name}} sink: one JSON line per order in a file.

The engine calls ``payload``, ``create_orders``, ``find_order``, ``update_order``,
``delete_order`` and ``shipped_since``; see shipsync's docs/plugins.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

SECTION = "{{section}}"

#: The JSON Schema of the [{{section}}] section of shipsync.toml.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": {"type": "string", "minLength": 1,
                 "description": "The JSON-lines file (relative: to the working directory)."},
    },
}


@dataclass
class CreateResult:
    order_number: str
    sink_order_id: str | None = None
    error: str | None = None


class JsonLinesSink:
    name = "{{name}}"
    batch_size = 100
    requests_made = 0  # no remote API

    def __init__(self, section: dict[str, Any], context: Any = None) -> None:
        self.path = Path(section["path"])

    def close(self) -> None:
        pass

    def _rows(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def _save(self, rows: list[dict[str, Any]]) -> None:
        # Write aside, then rename: a crash never leaves half a file.
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text("".join(json.dumps(row, ensure_ascii=False) + "\\n" for row in rows),
                             encoding="utf-8")
        os.replace(temporary, self.path)

    def payload(self, order_number: str, order: dict[str, Any],
                destination: dict[str, Any]) -> dict[str, Any]:
        """The line for one destination; a ValueError says what cannot be sent."""
        if not destination["items"]:
            raise ValueError("the destination has no items to ship")
        return {
            "order_number": order_number,
            "source_order_id": order["order_id"],
            "store": order["store"],
            "currency": order["currency"],
            "address": destination["address"],
            "items": [{"sku": item.get("sku", ""), "description": item["description"],
                       "quantity": item["quantity"], "weight_kg": item["weight_kg"],
                       "value": item["value"]} for item in destination["items"]],
        }

    def create_orders(self, payloads: list[dict[str, Any]]) -> list[CreateResult]:
        rows = self._rows()
        numbers = {row["order_number"] for row in rows}
        results = []
        for payload in payloads:
            number = payload["order_number"]
            if number not in numbers:  # already there (a repeated create): never twice
                rows.append(payload)
                numbers.add(number)
            results.append(CreateResult(number, sink_order_id=number))
        self._save(rows)
        return results

    def find_order(self, order_number: str) -> dict[str, Any] | None:
        for row in self._rows():
            if row["order_number"] == order_number:
                return {"order_id": order_number, **row}
        return None

    def update_order(self, sink_order_id: str, payload: dict[str, Any]) -> str:
        rows = [row for row in self._rows() if row["order_number"] != sink_order_id]
        self._save(rows + [payload])
        return "updated"

    def delete_order(self, sink_order_id: str) -> str:
        rows = self._rows()
        kept = [row for row in rows if row["order_number"] != sink_order_id]
        if len(kept) == len(rows):
            return "gone"
        self._save(kept)
        return "deleted"

    def shipped_since(self, since: datetime) -> Iterator[list[dict[str, Any]]]:
        """Nothing is printed in a file: no shipments to write back."""
        return iter(())
''',
}

TESTS_HEAD = '''\
"""Tests of the {{name}} plugin, using the fixtures that come with shipsync (shipsync.testing).

``sandboxes`` serves the BigCommerce and Starshipit emulators on loopback,
``shipsync_config`` is a shipsync.toml pointing at them, and ``shipsync_cli``
runs the real ``shipsync`` command with it, so the plugin is loaded from its
entry point exactly as in production. Install the plugin first:
``pip install -e '.[test]'``.
"""

from __future__ import annotations

# <kind imports>


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """Empty stores, no rate limits: each test adds exactly the orders it is about."""
    return {"orders": 0, "seed": 1,
            "per_sandbox": {"bigcommerce": {"rate_limit": None},
                            "starshipit": {"rate_limit": None}}}


def configure(sandboxes: SandboxSet, path: Path, sections: dict[str, Any] | None = None,
              store: dict[str, Any] | None = None) -> dict[str, Any]:
    """Rewrite the config at ``path``: the sandboxes' config plus ``sections``, with
    ``store`` added to the settings of the BigCommerce store ``main``."""
    config = sandboxes.config(path.parent / "state.db")
    config.update(sections or {})
    config["bigcommerce"]["stores"]["main"].update(store or {})
    write_config(path, config)
    return config


def test_shipsync_loads_the_plugin(shipsync_cli: Callable[..., CliResult]) -> None:
    plugins = {p["name"]: p for p in shipsync_cli("plugins", "--json").json()["plugins"]}
    assert "{{name}}" in plugins, sorted(plugins)
    assert plugins["{{name}}"]["distribution"] == "{{distribution}}"

'''

TEST_IMPORTS_BY_KIND = {
    "mapper": '''\
from pathlib import Path
from typing import Any, Callable

import pytest
from shipsync.sandboxes import SandboxSet
from shipsync.testing import CliResult, MapperConformance, write_config

from {{package}}.mapping import map_order
''',
    "policy": '''\
from pathlib import Path
from typing import Any, Callable

import pytest
from shipsync import WritebackContext
from shipsync.sandboxes import SandboxSet
from shipsync.testing import CliResult, write_config

from {{package}}.policy import decide
''',
    "sink": '''\
import json
from pathlib import Path
from typing import Any, Callable

import pytest
from shipsync.sandboxes import SandboxSet
from shipsync.testing import CliResult, SinkConformance, write_config
''',
}

TESTS_BY_KIND = {
    "mapper": '''\

class TestMapperConformance(MapperConformance):
    """The contract every mapper keeps: valid canonical orders, deterministic, no network."""

    mapper_name = "{{name}}"

    @pytest.fixture
    def mapper_config(self) -> dict[str, Any]:
        return {"{{section}}": {"country_of_origin": "NZ"}}


def test_only_items_without_a_country_of_origin_get_one() -> None:
    order = {"destinations": [{"items": [{"description": "Mug"},
                                         {"description": "Boots", "country_of_origin": "VN"}]}]}
    context = type("Context", (), {"config": {"{{section}}": {"country_of_origin": "NZ"}}})()

    mapped = map_order(order, context)

    assert [i["country_of_origin"] for i in mapped["destinations"][0]["items"]] == ["NZ", "VN"]


def test_run_sends_the_configured_country_of_origin_to_starshipit(
        sandboxes: SandboxSet, shipsync_config: Path,
        shipsync_cli: Callable[..., CliResult]) -> None:
    config = configure(sandboxes, shipsync_config, {"{{section}}": {"country_of_origin": "NZ"}})
    order = sandboxes.emulator("bigcommerce").add_order(
        "main", products=[{"name": "Mug", "sku": "MUG-1", "product_id": 9001}])

    result = shipsync_cli("run", "bigcommerce", "--json")

    assert result.code == 0, result.stderr + result.stdout
    created = sandboxes.emulator("starshipit").get_order(config["starshipit"]["api_key"],
                                                         str(order["id"]))
    assert created is not None
    assert [item.get("country_of_origin") for item in created["items"]] == ["NZ"]
''',
    "policy": '''\

def context(kind: str = "shipping", all_shipped: bool = True) -> WritebackContext:
    return WritebackContext(store="main", store_config={}, shipment={}, source_order={},
                            destination={"kind": kind}, all_destinations_shipped=all_shipped)


def test_completed_once_every_address_has_shipped() -> None:
    decision = decide(context())
    assert decision is not None
    assert (decision.create_shipment, decision.status_id) == (True, 10)


def test_no_status_while_other_addresses_are_still_to_ship() -> None:
    decision = decide(context(all_shipped=False))
    assert decision is not None
    assert (decision.create_shipment, decision.status_id) == (True, None)


def test_pickup_is_left_to_the_next_policy() -> None:
    assert decide(context(kind="pickup")) is None


def test_store_listing_the_policy_is_completed_after_the_label_is_printed(
        sandboxes: SandboxSet, shipsync_config: Path,
        shipsync_cli: Callable[..., CliResult]) -> None:
    config = configure(sandboxes, shipsync_config, store={"status_policies": ["{{name}}"]})
    bigcommerce = sandboxes.emulator("bigcommerce")
    order = bigcommerce.add_order("main", products=[{"name": "Mug", "product_id": 9001}])
    assert shipsync_cli("run", "bigcommerce", "--json").code == 0
    sandboxes.emulator("starshipit").print_label(config["starshipit"]["api_key"],
                                                 str(order["id"]))

    result = shipsync_cli("run", "bigcommerce", "--json")

    assert result.code == 0, result.stderr + result.stdout
    assert result.json()["stores"][0]["written_back"] == 1
    assert bigcommerce.get_order("main", order["id"])["status_id"] == 10
''',
    "sink": '''\

class TestSinkConformance(SinkConformance):
    """The contract every sink keeps with the engine: create, find, update, delete, shipped."""

    sink_name = "{{name}}"

    @pytest.fixture
    def sink_config(self, tmp_path: Path) -> dict[str, Any]:
        return {"{{section}}": {"path": str(tmp_path / "conformance.jsonl")}}


def test_run_writes_each_order_as_a_json_line(
        sandboxes: SandboxSet, shipsync_config: Path,
        shipsync_cli: Callable[..., CliResult]) -> None:
    configure(sandboxes, shipsync_config, {"{{section}}": {"path": "orders.jsonl"}},
              store={"sink": "{{name}}"})
    order = sandboxes.emulator("bigcommerce").add_order(
        "main", products=[{"name": "Mug", "sku": "MUG-1", "quantity": 2}])

    result = shipsync_cli("run", "bigcommerce", "--json")

    assert result.code == 0, result.stderr + result.stdout
    assert result.json()["stores"][0]["imported"] == 1
    lines = (shipsync_config.parent / "orders.jsonl").read_text(encoding="utf-8").splitlines()
    [line] = [json.loads(text) for text in lines]
    assert line["order_number"] == str(order["id"])
    assert [(i["sku"], i["quantity"]) for i in line["items"]] == [("MUG-1", 2)]
''',
}
