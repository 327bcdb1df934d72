"""JSON Schemas of records, and validating records against them.

Every record that crosses the core's boundary (source -> mappers -> sink,
sink -> status policy -> source) is validated here. A failing record yields
``RecordError``s with the JSON path of each problem, so the engine can
quarantine it with a reason a merchant can act on.

Two libraries share the work: jsonschema-rs (compiled, a few microseconds per
order) answers "is it valid?" on the hot path; only for a record that fails is
jsonschema asked to list every error with its path and a readable message.
Both read the same schemas with the same draft (2020-12) and neither checks
``format`` (an annotation in 2020-12), so their verdicts agree (a property
test holds them to it).

The core's schemas (``order.json``, ``shipment.json``, ``config.json``) are a
``SchemaSet``; a plugin keeps its own in a ``schemas/`` folder of its package
and loads them with ``schemas_of(package)``, their ``$ref``s resolving among
themselves and the core's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

__all__ = [
    "RecordError",
    "SchemaSet",
    "core_schemas",
    "errors_of",
    "format_path",
    "is_valid",
    "load_schema",
    "schemas_of",
    "validate",
]


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


def _message(error: ValidationError) -> str:
    if error.validator == "enum" and isinstance(error.validator_value, list) and len(
            error.validator_value) > 10:
        what = error.schema.get("description") if isinstance(error.schema, dict) else None
        return (f"{error.instance!r} is not one of the {len(error.validator_value)} allowed "
                f"values ({what or 'see the schema'})")
    return str(error.message)


class SchemaSet:
    """The JSON Schemas (``*.json``) of one folder, by file name, with their ``$ref``s resolved.

    ``base`` is another set whose schemas the ones here may refer to (a plugin's
    schemas may use the core's ``order.json``).
    """

    def __init__(self, root: Traversable, *, base: SchemaSet | None = None) -> None:
        self.root = root
        self.base = base

    @cached_property
    def _by_name(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}

        def walk(node: Traversable, prefix: str) -> None:
            for child in node.iterdir():
                if child.is_dir():
                    walk(child, f"{prefix}{child.name}/")
                elif child.name.endswith(".json"):
                    found[prefix + child.name] = json.loads(child.read_text(encoding="utf-8"))

        walk(self.root, "")
        return found

    def _by_id(self) -> dict[str, dict[str, Any]]:
        by_id = self.base._by_id() if self.base else {}
        by_id.update({s["$id"]: s for s in self._by_name.values() if "$id" in s})
        return by_id

    @cached_property
    def _registry(self) -> Registry[Any]:
        return Registry().with_resources(
            (uri, Resource.from_contents(schema)) for uri, schema in self._by_id().items())

    @cached_property
    def _rs_registry(self) -> jsonschema_rs.Registry:
        return jsonschema_rs.Registry(list(self._by_id().items()))

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def schema(self, name: str) -> dict[str, Any]:
        """The schema in file ``name`` (e.g. ``order.json``)."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no schema {name!r} in {self.root} "
                           f"(known: {', '.join(self.names())})") from None

    @cache  # noqa: B019 - one per schema; the set lives as long as the process
    def _fast(self, name: str) -> Any:
        schema = self.schema(name)
        return jsonschema_rs.Draft202012Validator(schema, registry=self._rs_registry,
                                                  validate_formats=False)

    @cache  # noqa: B019 - as above
    def validator(self, name: str) -> Draft202012Validator:
        """The jsonschema validator of ``name`` (for error lists and explanations)."""
        return Draft202012Validator(self.schema(name), registry=self._registry)

    def is_valid(self, name: str, record: Any) -> bool:
        return bool(self._fast(name).is_valid(record))

    def errors(self, name: str, record: Any) -> list[RecordError]:
        """Every schema error of ``record`` against ``name``, sorted by path (none: valid)."""
        try:
            if self._fast(name).is_valid(record):
                return []  # the common case, at a fraction of jsonschema's cost
        except ValueError:
            pass  # a value jsonschema-rs cannot take (e.g. an int beyond 64 bits): ask jsonschema
        found = [RecordError(format_path(error.absolute_path), _message(error))
                 for error in self.validator(name).iter_errors(record)]
        return sorted(found, key=lambda e: e.path)

    def validate(self, name: str, record: Any) -> None:
        """Raise ``ValueError`` listing every error (with its path) if the record is invalid."""
        found = self.errors(name, record)
        if found:
            raise ValueError("; ".join(str(e) for e in found))


def _core_root() -> Traversable:
    installed = resources.files("shipsync").joinpath("schemas")
    if installed.is_dir():
        return installed
    # A source checkout (editable install): the schemas/ folder at the repository's top.
    return Path(__file__).resolve().parents[2] / "schemas"


@cache
def core_schemas() -> SchemaSet:
    """The core's schemas: ``order.json``, ``shipment.json``, ``config.json``."""
    return SchemaSet(_core_root())


@cache
def schemas_of(package: str) -> SchemaSet:
    """The schemas in the ``schemas/`` folder of ``package`` (a plugin's), over the core's."""
    return SchemaSet(resources.files(package).joinpath("schemas"), base=core_schemas())


def load_schema(name: str) -> dict[str, Any]:
    """A core schema by file name (``order.json``, ``shipment.json``, ``config.json``)."""
    return core_schemas().schema(name)


def is_valid(name: str, record: Any) -> bool:
    return core_schemas().is_valid(name, record)


def errors_of(name: str, record: Any) -> list[RecordError]:
    """All schema errors of ``record`` against the core schema ``name``, sorted by path."""
    return core_schemas().errors(name, record)


def validate(name: str, record: Any) -> None:
    core_schemas().validate(name, record)
