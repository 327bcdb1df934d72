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
from typing import Any, Callable

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from .fastcheck import Unsupported, compile_schema

__all__ = [
    "RecordError", "errors_of", "format_path", "is_valid", "load_schema", "validate", "validator",
]

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
def _by_id() -> dict[str, dict[str, Any]]:
    """Every schema in ``schemas/`` by its ``$id``."""
    found: dict[str, dict[str, Any]] = {}

    def walk(node: Any) -> None:
        for child in node.iterdir():
            if child.is_dir():
                walk(child)
            elif child.name.endswith(".json"):
                schema = json.loads(child.read_text(encoding="utf-8"))
                if "$id" in schema:
                    found[schema["$id"]] = schema

    walk(resources.files(SCHEMA_PACKAGE))
    return found


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resources(
        (uri, Resource.from_contents(schema)) for uri, schema in _by_id().items())


@lru_cache(maxsize=None)
def _fast(name: str) -> Callable[[Any], bool] | None:
    """The compiled yes/no check of a schema, or None if it cannot be compiled."""
    schema = load_schema(name)
    by_id = _by_id()
    try:
        # The registry's copy, so that $refs into this schema and from it agree.
        return compile_schema(by_id.get(schema.get("$id", ""), schema), by_id)
    except Unsupported:
        return None


@lru_cache(maxsize=None)
def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name), registry=_registry(),
                                format_checker=FormatChecker())


def is_valid(name: str, record: Any) -> bool:
    fast = _fast(name)
    return fast(record) if fast is not None else validator(name).is_valid(record)


def errors_of(name: str, record: Any) -> list[RecordError]:
    """All schema errors of ``record`` against ``schemas/NAME``, sorted by path."""
    fast = _fast(name)
    if fast is not None and fast(record):
        return []  # the common case, at a fraction of jsonschema's cost
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
