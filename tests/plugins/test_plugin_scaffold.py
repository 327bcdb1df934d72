"""`shipsync plugins new`: a plugin project that installs with pip and passes its own tests."""

from __future__ import annotations

import ast
import re
import tomllib
from importlib.resources import files
from pathlib import Path
from types import SimpleNamespace
from typing import Iterator

import pytest
from plugin_kit import Installed, PipInstaller, run_pytest
from shipsync.scaffold import Emulated, ScaffoldError, create_plugin, emulated_in, plugin_names
from shipsync.testing import CliResult, run_cli

KIND_HOOKS = {
    "mapper": ["shipsync_config_schemas", "shipsync_mappers"],
    "policy": ["shipsync_status_policies"],
    "sink": ["shipsync_config_schemas", "shipsync_sinks"],
}


def new(*args: str, cwd: Path) -> CliResult:
    return run_cli(["plugins", "new", *args], cwd=cwd)


def hook_functions(path: Path) -> list[str]:
    """Names of the functions decorated with @hookimpl in a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sorted(node.name for node in tree.body if isinstance(node, ast.FunctionDef)
                  and any(getattr(d, "id", None) == "hookimpl" for d in node.decorator_list))


def test_new_writes_a_project_with_its_entry_point_hooks_and_tests(tmp_path: Path) -> None:
    result = new("gift-note", "--path", "plugins", "--json", cwd=tmp_path)

    assert result.code == 0, result.stderr
    answer = result.json()
    root = tmp_path / "plugins" / "gift-note"
    assert Path(answer["path"]).resolve() == root.resolve()
    assert (answer["distribution"], answer["package"]) == ("shipsync-gift-note",
                                                           "shipsync_gift_note")
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == "shipsync-gift-note"
    assert any(dep.startswith("shipsync") for dep in project["dependencies"])
    assert project["entry-points"]["shipsync"] == {"gift-note": "shipsync_gift_note.plugin"}
    package = root / "src" / "shipsync_gift_note"
    assert hook_functions(package / "plugin.py") == KIND_HOOKS["mapper"]
    tests = (root / "tests" / "test_plugin.py").read_text()
    assert "from shipsync.testing import" in tests and "MapperConformance" in tests
    assert "def test_run_" in tests and "shipsync_cli(\"run\", \"bigcommerce\"" in tests
    assert (root / "README.md").read_text().startswith("# shipsync-gift-note")
    for file in answer["files"]:
        assert (root / file).is_file(), file


@pytest.mark.parametrize("kind", ["policy", "sink"])
def test_each_kind_implements_its_own_hooks(tmp_path: Path, kind: str) -> None:
    assert new(f"my-{kind}", "--kind", kind, cwd=tmp_path).code == 0

    plugin = tmp_path / f"my-{kind}" / "src" / f"shipsync_my_{kind}" / "plugin.py"
    assert hook_functions(plugin) == KIND_HOOKS[kind]


def test_new_refuses_a_directory_that_exists(tmp_path: Path) -> None:
    (tmp_path / "gift-note").mkdir()
    (tmp_path / "gift-note" / "mine.txt").write_text("keep me")

    result = new("gift-note", cwd=tmp_path)

    assert result.code == 2
    assert "already exists" in result.stderr
    assert [p.name for p in (tmp_path / "gift-note").iterdir()] == ["mine.txt"]


@pytest.mark.parametrize("name", ["Gift", "1gift", "gift note", "gift--note", "-gift",
                                  "gift.note", "gift/note", "shipsync", "g" * 41])
def test_new_refuses_names_that_are_not_plugin_names(tmp_path: Path, name: str) -> None:
    result = new("--", name, cwd=tmp_path)

    assert result.code == 2, result.stdout
    assert "Cannot create the plugin" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_new_refuses_a_name_a_loaded_plugin_uses(tmp_path: Path) -> None:
    result = new("product-options", cwd=tmp_path)

    assert result.code == 2
    assert "already called 'product-options'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_new_refuses_an_unknown_kind(tmp_path: Path) -> None:
    result = new("gift-note", "--kind", "source", cwd=tmp_path)

    assert result.code == 2
    assert "mapper, policy, sink" in result.stderr


def test_names_derive_from_the_plugin_name_without_repeating_shipsync() -> None:
    names = plugin_names("shipsync-gift_note")

    assert (names.directory, names.name, names.distribution, names.package, names.section) == (
        "shipsync-gift_note", "gift-note", "shipsync-gift-note", "shipsync_gift_note",
        "gift_note")
    with pytest.raises(ScaffoldError):
        plugin_names("shipsync-")


def test_tests_run_against_the_installed_source_and_sink_by_default(tmp_path: Path) -> None:
    mapper = new("gift-note", "--json", cwd=tmp_path)
    sink = new("gift-sink", "--kind", "sink", "--json", cwd=tmp_path)

    assert mapper.code == 0 and sink.code == 0, mapper.stderr + sink.stderr
    assert (mapper.json()["source"], mapper.json()["sink"]) == ("bigcommerce", "starshipit")
    assert (sink.json()["source"], sink.json()["sink"]) == ("bigcommerce", None)
    tests = (tmp_path / "gift-note" / "tests" / "test_plugin.py").read_text()
    assert 'sandboxes.sink_emulator("starshipit")' in tests
    assert 'store_settings={"sink": "starshipit"}' in tests


@pytest.mark.parametrize("option", ["--source", "--sink"])
def test_new_refuses_a_source_or_sink_without_a_sandbox(tmp_path: Path, option: str) -> None:
    result = new("gift-note", option, "product-options", cwd=tmp_path)

    assert result.code == 2, result.stdout
    role = option.lstrip("-")
    assert f"{option} 'product-options' is not an installed {role} with a sandbox" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_new_names_the_sources_that_could_be_chosen(tmp_path: Path) -> None:
    result = new("gift-note", "--source", "myshop", cwd=tmp_path)

    assert result.code == 2
    assert "(sources with one: bigcommerce)" in " ".join(result.stderr.split())


def test_a_sink_plugin_refuses_sink(tmp_path: Path) -> None:
    result = new("gift-sink", "--kind", "sink", "--sink", "starshipit", cwd=tmp_path)

    assert result.code == 2
    assert "leave --sink out" in " ".join(result.stderr.split())
    assert list(tmp_path.iterdir()) == []


def test_emulated_are_the_sources_and_sinks_with_a_sandbox_sorted() -> None:
    host = SimpleNamespace(sources={"zshop": 1, "ashop": 2, "bare": 3}, sinks={"wms": 4, "ftp": 5},
                           sandboxes={"zshop": 6, "ashop": 7, "wms": 8, "other": 9})

    assert emulated_in(host) == Emulated(sources=("ashop", "zshop"), sinks=("wms",))


def test_with_several_the_alphabetically_first_is_the_default(tmp_path: Path) -> None:
    emulated = Emulated(sources=("ashop", "zshop"), sinks=("ftp", "wms"))

    first = create_plugin("gift-note", path=tmp_path, emulated=emulated)
    chosen = create_plugin("gift-policy", path=tmp_path, kind="policy", emulated=emulated,
                           source="zshop", sink="wms")

    assert (first.source, first.sink, chosen.source, chosen.sink) == ("ashop", "ftp",
                                                                      "zshop", "wms")
    tests = (tmp_path / "gift-policy" / "tests" / "test_plugin.py").read_text()
    assert 'shipsync_cli("run", "zshop", "--json")' in tests
    assert 'config["zshop"]["stores"]' in tests and 'sink_emulator("wms")' in tests
    readme = (tmp_path / "gift-policy" / "README.md").read_text()
    assert "[zshop.stores.main]" in readme


@pytest.mark.parametrize("emulated, wanted", [
    (Emulated(sources=(), sinks=("wms",)), "no installed source has a sandbox"),
    (Emulated(sources=("ashop",), sinks=()), "no installed sink has a sandbox"),
])
def test_without_an_emulated_source_or_sink_nothing_is_written(
        tmp_path: Path, emulated: Emulated, wanted: str) -> None:
    with pytest.raises(ScaffoldError, match=wanted):
        create_plugin("gift-note", path=tmp_path, emulated=emulated)

    assert list(tmp_path.iterdir()) == []


def test_readme_installs_from_a_path_or_a_repository_until_published(tmp_path: Path) -> None:
    assert new("gift-note", cwd=tmp_path).code == 0

    readme = (tmp_path / "gift-note" / "README.md").read_text()
    install = readme.split("## Install")[1].split("## ")[0]
    assert "pip install ./gift-note" in install
    assert 'pip install "git+https://' in install
    assert "published to PyPI" in install and "`pip install shipsync-gift-note`" in install


def test_no_template_names_a_platform() -> None:
    templates = [t for t in (files("shipsync.scaffold") / "templates").iterdir()
                 if t.name.endswith(".tmpl")]

    assert len(templates) >= 10, [t.name for t in templates]
    for template in templates:
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"bigcommerce|starshipit", text, re.IGNORECASE), template.name


@pytest.fixture(params=sorted(KIND_HOOKS))
def scaffolded(request: pytest.FixtureRequest, tmp_path: Path,
               pip_installer: PipInstaller) -> Iterator[tuple[Path, Installed]]:
    """A scaffolded plugin of each kind, pip-installed; uninstalled afterwards."""
    kind = request.param
    result = new(f"acme-{kind}", "--kind", kind, cwd=tmp_path)
    assert result.code == 0, result.stderr
    root = tmp_path / f"acme-{kind}"
    with pip_installer.installed_for(root) as installed:
        yield root, installed


def test_scaffolded_plugin_passes_its_own_tests_out_of_the_box(
        scaffolded: tuple[Path, Installed]) -> None:
    root, installed = scaffolded

    done = run_pytest(root, installed)

    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
