"""`shipsync plugins new`: a plugin project that installs with pip and passes its own tests."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Iterator

import pytest
from plugin_kit import Installed, PipInstaller, run_pytest
from shipsync.scaffold import ScaffoldError, plugin_names
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
