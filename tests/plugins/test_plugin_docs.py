"""docs/plugins.md documents every hook spec exactly as declared, and no hook that does not
exist."""

from __future__ import annotations

import dataclasses
import inspect
import re

import pytest
from plugin_kit import REPO
from shipsync import hookspecs, registry, testing

DOCS = REPO / "docs" / "plugins.md"
HOOKS = sorted(name for name, value in vars(hookspecs).items()
               if name.startswith("shipsync_") and inspect.isfunction(value))
ENTRY_TYPES = ["SourceSpec", "SinkSpec", "MapperSpec", "StatusPolicySpec", "ConfigSchema",
               "SandboxSpec", "CommandSpec", "WebhookSpec", "DiagnosticSpec", "WritebackDecision",
               "WritebackContext"]
# Names that are not hooks but that the page mentions in backticks: packages and fixtures.
NOT_HOOKS = {"shipsync_bigcommerce", "shipsync_starshipit", "shipsync_hscodes"} | {
    name for name in vars(testing) if name.startswith("shipsync_")}


def signature(name: str) -> str:
    """``def NAME(arg: type, ...) -> type``, the annotations as written in shipsync.hookspecs."""
    spec = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(
        f"{p.name}: {p.annotation}" if p.annotation is not inspect.Parameter.empty else p.name
        for p in spec.parameters.values())
    return f"def {name}({params}) -> {spec.return_annotation}"


@pytest.fixture(scope="module")
def text() -> str:
    return DOCS.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def test_signatures_are_built_from_the_specs() -> None:
    assert signature("shipsync_order_number") == (
        "def shipsync_order_number(order: CanonicalOrder, destination_index: int, "
        "prefix: str) -> str | None")


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_is_documented_with_its_exact_signature(name: str,
                                                            code_blocks: list[str]) -> None:
    wanted = signature(name)
    assert any(wanted in block.splitlines() for block in code_blocks), (
        f"docs/plugins.md has no code block with the line\n    {wanted}")


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_its_own_section_with_convention_and_example(name: str,
                                                                    text: str) -> None:
    sections = re.split(r"^#{2,4} ", text, flags=re.MULTILINE)
    [section] = [s for s in sections if s.startswith(f"`{name}`")]
    assert "**Convention:**" in section
    assert re.search(rf"@hookimpl(\(.*\))?\ndef {name}\(", section), f"{name}: no example"
    firstresult = getattr(getattr(hookspecs, name), f"{hookspecs.PROJECT}_spec")["firstresult"]
    assert ("@hookspec(firstresult=True)\n" in section) == firstresult


def test_no_hook_is_documented_that_does_not_exist(text: str, code_blocks: list[str]) -> None:
    headings = set(re.findall(r"^#+ `(shipsync_\w+)`", text, re.MULTILINE))
    defined = {name for block in code_blocks for name in re.findall(r"def (shipsync_\w+)\(",
                                                                      block)}
    mentioned = set(re.findall(r"`(shipsync_[a-z_]+)`", text)) - NOT_HOOKS

    assert headings == set(HOOKS)
    assert defined <= set(HOOKS), f"not hooks: {sorted(defined - set(HOOKS))}"
    assert mentioned <= set(HOOKS), f"not hooks: {sorted(mentioned - set(HOOKS))}"


@pytest.mark.parametrize("type_name", ENTRY_TYPES)
def test_every_entry_type_is_documented_with_all_its_fields(type_name: str, text: str) -> None:
    [row] = [line for line in text.splitlines() if line.startswith(f"| `{type_name}` |")]
    fields = [f.name for f in dataclasses.fields(getattr(registry, type_name))]
    documented = re.findall(r"`(\w+)`", row.split("|")[2])
    assert documented == fields, f"{type_name}: the docs list {documented}, the type has {fields}"
