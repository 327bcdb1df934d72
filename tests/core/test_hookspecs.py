"""Every hook spec is documented, and its kind (registry, decision, observer) is as named."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

from shipsync import defaults, hookspecs

REGISTRIES = {"shipsync_sources", "shipsync_sinks", "shipsync_mappers",
              "shipsync_status_policies", "shipsync_config_schemas", "shipsync_sandboxes",
              "shipsync_commands", "shipsync_webhooks", "shipsync_diagnostics"}
DECISIONS = {"shipsync_writeback_decision", "shipsync_order_number", "shipsync_tracking_carrier"}
OBSERVERS = {"shipsync_run_started", "shipsync_run_finished", "shipsync_order_imported",
             "shipsync_order_updated", "shipsync_order_deleted", "shipsync_order_skipped",
             "shipsync_order_failed", "shipsync_order_written_back"}

SPEC_ATTR = f"{hookspecs.PROJECT}_spec"
HOOK_NAMES = sorted(name for name, value in vars(hookspecs).items()
                    if name.startswith("shipsync_") and inspect.isfunction(value))


def spec_options(name: str) -> dict[str, Any]:
    return getattr(getattr(hookspecs, name), SPEC_ATTR)


def test_the_hook_list_is_not_empty() -> None:
    assert len(HOOK_NAMES) >= len(REGISTRIES | DECISIONS | OBSERVERS)


def test_every_hook_is_classified_as_registry_decision_or_observer() -> None:
    # A new hook must be added to exactly one of the lists above (and to docs/architecture.md).
    assert set(HOOK_NAMES) == REGISTRIES | DECISIONS | OBSERVERS
    assert not (REGISTRIES & DECISIONS or REGISTRIES & OBSERVERS or DECISIONS & OBSERVERS)


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_every_shipsync_function_is_a_hookspec(name: str) -> None:
    assert hasattr(getattr(hookspecs, name), SPEC_ATTR), f"{name} is not marked @hookspec"


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hookspec_docstring_has_every_section(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    lines = doc.splitlines()
    assert lines and lines[0].strip(), f"{name}: no summary line"
    assert len(lines) == 1 or not lines[1].strip(), f"{name}: the summary is more than one line"
    assert lines[0].rstrip().endswith("."), f"{name}: the summary is not a sentence"
    for section in ("Convention:", "Args:", "Example:"):
        assert re.search(rf"^{section}", doc, re.MULTILINE), f"{name}: no {section!r} section"
    assert re.search(r"^(Returns|Yields):", doc, re.MULTILINE), f"{name}: no 'Returns:'/'Yields:'"


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hookspec_args_section_lists_every_argument(name: str) -> None:
    function = getattr(hookspecs, name)
    doc = inspect.getdoc(function) or ""
    args = doc.split("Args:", 1)[1].split("Returns:", 1)[0].split("Yields:", 1)[0]
    for parameter in inspect.signature(function).parameters:
        assert re.search(rf"^\s+{parameter}:", args, re.MULTILINE), (
            f"{name}: {parameter} not documented")


@pytest.mark.parametrize("name", HOOK_NAMES)
def test_hookspec_example_implements_the_hook_itself(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    example = doc.split("Example:", 1)[1]
    assert "@hookimpl" in example
    assert f"def {name}(" in example


@pytest.mark.parametrize("name", sorted(REGISTRIES))
def test_registries_are_not_firstresult(name: str) -> None:
    assert spec_options(name).get("firstresult") is False


@pytest.mark.parametrize("name", sorted(DECISIONS))
def test_decisions_are_firstresult(name: str) -> None:
    assert spec_options(name).get("firstresult") is True


@pytest.mark.parametrize("name", sorted(OBSERVERS))
def test_observers_are_not_firstresult(name: str) -> None:
    assert spec_options(name).get("firstresult") is False


@pytest.mark.parametrize("name", sorted(DECISIONS))
def test_every_decision_has_a_trylast_core_default(name: str) -> None:
    default = getattr(defaults, name, None)
    assert default is not None, f"{name} has no default in shipsync.defaults"
    assert getattr(default, f"{hookspecs.PROJECT}_impl").get("trylast") is True
