"""Loading the JSON Schemas in ``schemas/`` and validating records against them.

Every record that crosses the core's boundary (source -> mappers -> sink,
sink -> status policy -> source) is validated here. A failing record yields
``RecordError``s with the JSON path of each problem, so the engine can
quarantine it with a reason a merchant can act on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

__all__ = ["RecordError", "load_schema", "validator", "validate", "errors_of", "format_path"]

SCHEMA_PACKAGE = "shipsync.schemas"


@dataclass(frozen=True)
class RecordError:
    path: str  # e.g. "$.destinations[0].items[2].quantity"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def format_path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    """Load ``schemas/NAME`` (e.g. ``order.json``, ``starshipit/order_create.json``)."""
    node = resources.files(SCHEMA_PACKAGE)
    for part in name.split("/"):
        node = node.joinpath(part)
    return json.loads(node.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resources_: list[tuple[str, Resource]] = []
    root = resources.files(SCHEMA_PACKAGE)

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child, prefix + child.name + "/")
            elif child.name.endswith(".json"):
                schema = json.loads(child.read_text(encoding="utf-8"))
                if "$id" in schema:
                    resources_.append((schema["$id"], Resource.from_contents(schema)))

    walk(root, "")
    return Registry().with_resources(resources_)


@lru_cache(maxsize=None)
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name), registry=_registry(), format_checker=FormatChecker())


def errors_of(name: str, record: Any) -> list[RecordError]:
    """All schema errors of ``record`` against ``schemas/NAME``, sorted by path."""
    found = [
        RecordError(format_path(error.absolute_path), _message(error))
        for error in validator(name).iter_errors(record)
    ]
    return sorted(found, key=lambda e: e.path)


def _message(error: Any) -> str:
    if error.validator == "enum" and len(error.validator_value) > 10:
        what = error.schema.get("description") or "see the schema"
        return (f"{error.instance!r} is not one of the {len(error.validator_value)} allowed "
                f"values ({what})")
    return str(error.message)


def validate(name: str, record: Any) -> None:
    """Raise ``ValueError`` listing every error (with its path) if the record is invalid."""
    found = errors_of(name, record)
    if found:
        raise ValueError("; ".join(str(e) for e in found))
