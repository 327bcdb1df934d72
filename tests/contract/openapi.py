"""Load OpenAPI specs from ``../shared/specs`` and validate JSON against them.

The official BigCommerce specs are OpenAPI 3.0 documents whose schemas are not
quite JSON Schema: ``nullable`` instead of a ``"null"`` type, boolean
``exclusiveMinimum``, ``$ref`` siblings that must be ignored. This module turns
one operation's request or response schema into a self-contained JSON Schema
(draft 2020-12, every local ``$ref`` inlined) and validates instances with
``jsonschema``, raising errors that name the JSON path of every violation.

Swagger 2 documents (``definitions``, ``in: body`` parameters, ``x-nullable``)
are understood as well, so the same loader serves every spec in the folder.

Usage::

    schema = response_schema("orders.v2.oas2.yml", "GET", "/orders/{order_id}", 200)
    validate(schema, response.json(), name="GET /v2/orders/100")

A spec that is wrong in a way the real API is known to contradict can be
amended narrowly, by JSON pointer into the raw document, before resolution::

    response_schema(..., amend={"/components/schemas/orderProducts": {"required": ["id"]}})
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = [
    "ContractError",
    "SpecError",
    "require_specs",
    "has_json_body",
    "load_spec",
    "query_parameters",
    "request_schema",
    "response_schema",
    "shared_dir",
    "spec_path",
    "to_json_schema",
    "validate",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
_HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
_JSON_TYPES = ("application/json", "application/problem+json", "*/*")


class SpecError(LookupError):
    """The spec has no such operation, status or body schema."""


class ContractError(AssertionError):
    """An instance does not match the spec's schema."""


# --------------------------------------------------------------------------- locating


def shared_dir(repo_root: Path | str = REPO_ROOT) -> Path:
    """The shared folder: ``$SHIPSYNC_SHARED``, else the repository's sibling ``shared``."""
    override = os.environ.get("SHIPSYNC_SHARED")
    return Path(override) if override else Path(repo_root).resolve().parent / "shared"


REQUIRE_ENV = "SHIPSYNC_REQUIRE_SHARED"


def require_specs(vendor: str = "bigcommerce") -> None:
    """Skip the calling test module when the vendor's specs are not beside this checkout.

    The specs are not part of the repository (they are the vendor's files). On a fresh
    clone the module is skipped with a reason saying how to provide them; with
    ``$SHIPSYNC_REQUIRE_SHARED`` set (``.ci/run`` sets it) their absence is an error,
    so CI never skips these tests silently.
    """
    folder = shared_dir() / "specs" / vendor
    if folder.is_dir() and any(folder.glob("*.y*ml")):
        return
    reason = (f"{vendor}'s OpenAPI specs are not at {folder}: put the shared folder beside "
              "the checkout or set SHIPSYNC_SHARED to it to run these contract tests")
    if os.environ.get(REQUIRE_ENV):
        raise SpecError(f"{reason} (required: ${REQUIRE_ENV} is set)")
    import pytest

    pytest.skip(reason, allow_module_level=True)


def spec_path(spec_file: str | Path, vendor: str = "bigcommerce") -> Path:
    """Resolve ``orders.v2.oas2.yml`` to ``<shared>/specs/<vendor>/orders.v2.oas2.yml``.

    An absolute path (or one that exists relative to the working directory) is used as is.
    """
    candidate = Path(spec_file)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    path = shared_dir() / "specs" / vendor / candidate
    if not path.exists():
        raise SpecError(
            f"spec {spec_file!r} not found at {path}; set SHIPSYNC_SHARED to the folder "
            "that holds specs/ if the shared checkout lives elsewhere"
        )
    return path


@lru_cache(maxsize=32)
def _load_cached(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    if not isinstance(document, dict):
        raise SpecError(f"{path} is not an OpenAPI document")
    return document


def load_spec(spec_file: str | Path, vendor: str = "bigcommerce") -> dict[str, Any]:
    """The raw parsed document (a copy: callers may change it)."""
    return copy.deepcopy(_load_cached(str(spec_path(spec_file, vendor))))


# --------------------------------------------------------------------------- public API


def response_schema(
    spec_file: str | Path,
    method: str,
    path_template: str,
    status: int | str,
    *,
    amend: Mapping[str, Mapping[str, Any]] | None = None,
    vendor: str = "bigcommerce",
) -> dict[str, Any]:
    """The JSON Schema of one response body, all ``$ref`` inlined.

    ``status`` falls back to the spec's ``4XX``-style range and then ``default``.
    Raises ``SpecError`` if the response is undocumented or has no JSON body
    (check with ``has_json_body`` for 204-style responses).
    """
    document = _document(spec_file, vendor, amend)
    response = _response(document, method, path_template, status)
    schema = _body_schema(response, document)
    if schema is None:
        raise SpecError(f"{method.upper()} {path_template} {status} documents no JSON body")
    return to_json_schema(schema, document)


def request_schema(
    spec_file: str | Path,
    method: str,
    path_template: str,
    *,
    amend: Mapping[str, Mapping[str, Any]] | None = None,
    reject_read_only: bool = False,
    vendor: str = "bigcommerce",
) -> dict[str, Any]:
    """The JSON Schema of one operation's request body, all ``$ref`` inlined.

    With ``reject_read_only`` a property the spec marks ``readOnly`` is refused
    (useful to check that a client never sends fields the API will not accept).
    """
    document = _document(spec_file, vendor, amend)
    operation = _operation(document, method, path_template)
    schema: Any = None
    body = operation.get("requestBody")
    if body is not None:
        schema = _body_schema(_deref(body, document), document)
    else:  # Swagger 2: the body is a parameter
        for parameter in operation.get("parameters", []):
            parameter = _deref(parameter, document)
            if parameter.get("in") == "body":
                schema = parameter.get("schema")
    if schema is None:
        raise SpecError(f"{method.upper()} {path_template} documents no JSON request body")
    return to_json_schema(schema, document, reject_read_only=reject_read_only)


def query_parameters(
    spec_file: str | Path, method: str, path_template: str, *, vendor: str = "bigcommerce",
) -> dict[str, dict[str, Any]]:
    """The operation's query parameters (its own and its path's), each as ``{"schema":
    JSON Schema of the value, "description": ..., "style"/"explode": ...}``."""
    document = _document(spec_file, vendor, None)
    operation = _operation(document, method, path_template)
    paths: Mapping[str, Any] = document.get("paths", {})
    item = paths.get(path_template) or next(
        (paths[p] for p in paths if _shape(p) == _shape(path_template)), {})
    found: dict[str, dict[str, Any]] = {}
    for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
        parameter = _deref(parameter, document)
        if parameter.get("in") != "query":
            continue
        schema = parameter.get("schema") or {k: v for k, v in parameter.items()
                                              if k in ("type", "items", "enum", "format")}
        found[parameter["name"]] = {
            "schema": to_json_schema(schema, document),
            "description": str(parameter.get("description") or ""),
            "style": parameter.get("style", "form"),
            "explode": parameter.get("explode", parameter.get("style", "form") == "form"),
        }
    return found


def has_json_body(
    spec_file: str | Path, method: str, path_template: str, status: int | str,
    *, vendor: str = "bigcommerce",
) -> bool:
    """Whether the spec documents a JSON body for this response (False for ``204``)."""
    document = _document(spec_file, vendor, None)
    return _body_schema(_response(document, method, path_template, status), document) is not None


def validate(schema: Mapping[str, Any], instance: Any, *, name: str = "instance") -> None:
    """Raise ``ContractError`` listing every violation with its JSON path."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    lines = list(dict.fromkeys(_describe(error) for error in errors[:20]))  # allOf repeats
    more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
    raise ContractError(f"{name} does not match the spec:\n  " + "\n  ".join(lines) + more)


# --------------------------------------------------------------------------- lookup


def _document(
    spec_file: str | Path, vendor: str, amend: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, Any]:
    document = _load_cached(str(spec_path(spec_file, vendor)))
    if not amend:
        return document
    document = copy.deepcopy(document)
    for pointer, changes in amend.items():
        node = _pointer(document, pointer)
        if not isinstance(node, dict):
            raise SpecError(f"cannot amend {pointer}: not an object")
        node.update(copy.deepcopy(dict(changes)))
    return document


def _operation(document: Mapping[str, Any], method: str, path_template: str) -> dict[str, Any]:
    paths: Mapping[str, Any] = document.get("paths", {})
    item = paths.get(path_template)
    if item is None:
        # Parameter names differ between callers and specs ({id} vs {order_id}).
        wanted = _shape(path_template)
        matches = [p for p in paths if _shape(p) == wanted]
        if len(matches) != 1:
            raise SpecError(f"path {path_template!r} is not in the spec (paths: {sorted(paths)})")
        item = paths[matches[0]]
    operation = item.get(method.lower())
    if operation is None:
        known = sorted(m.upper() for m in item if m in _HTTP_METHODS)
        raise SpecError(f"{method.upper()} {path_template} is not in the spec (methods: {known})")
    return dict(operation)


def _shape(path: str) -> str:
    return "/".join("{}" if part.startswith("{") else part for part in path.rstrip("/").split("/"))


def _response(
    document: Mapping[str, Any], method: str, path_template: str, status: int | str
) -> dict[str, Any]:
    responses: Mapping[str, Any] = _operation(document, method, path_template).get("responses", {})
    code = str(status)
    for key in (code, code[0] + "XX", code[0] + "xx", "default"):
        if key in responses:
            return dict(_deref(responses[key], document))
    raise SpecError(
        f"{method.upper()} {path_template} documents no {code} response "
        f"(documented: {sorted(map(str, responses))})"
    )


def _body_schema(container: Mapping[str, Any], document: Mapping[str, Any]) -> Any:
    if "content" in container:  # OpenAPI 3
        content: Mapping[str, Any] = container.get("content") or {}
        for media_type in _JSON_TYPES:
            if media_type in content and "schema" in content[media_type]:
                return content[media_type]["schema"]
        for media_type, value in content.items():
            if media_type.endswith("+json") and "schema" in value:
                return value["schema"]
        return None
    return container.get("schema")  # Swagger 2


def _deref(node: Any, document: Mapping[str, Any]) -> Any:
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise SpecError(f"circular $ref {ref}")
        seen.add(ref)
        node = _resolve_ref(ref, document)
    return node


def _resolve_ref(ref: str, document: Mapping[str, Any]) -> Any:
    if not ref.startswith("#"):
        raise SpecError(f"only local $refs are supported, not {ref!r}")
    return _pointer(document, ref[1:])


def _pointer(document: Any, pointer: str) -> Any:
    node = document
    for token in filter(None, pointer.split("/")):
        token = token.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(token)] if isinstance(node, list) else node[token]
        except (KeyError, IndexError, ValueError):
            raise SpecError(f"JSON pointer {pointer!r} does not resolve") from None
    return node


# --------------------------------------------------------------------------- conversion


def to_json_schema(
    schema: Any, document: Mapping[str, Any], *, reject_read_only: bool = False
) -> dict[str, Any]:
    """Turn an OpenAPI schema into self-contained JSON Schema 2020-12.

    Local ``$ref``s are inlined; a recursive one is kept as a ``$ref`` into
    ``$defs`` so the result stays finite.
    """
    converter = _Converter(document, reject_read_only)
    result = converter.convert(schema, ())
    if not isinstance(result, dict):
        result = {"allOf": [result]} if result is not True else {}
    if converter.defs:
        result = {**result, "$defs": converter.defs}
    result.setdefault("$schema", "https://json-schema.org/draft/2020-12/schema")
    return result


class _Converter:
    # Keywords whose value is a schema, a list of schemas or a map of schemas.
    _ONE = ("items", "additionalProperties", "not", "contains", "propertyNames",
            "if", "then", "else", "unevaluatedProperties", "unevaluatedItems")
    _MANY = ("allOf", "anyOf", "oneOf", "prefixItems")
    _MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
    # OpenAPI-only annotations with no JSON Schema meaning.
    _DROP = ("nullable", "x-nullable", "discriminator", "xml", "externalDocs", "example",
             "x-examples")

    def __init__(self, document: Mapping[str, Any], reject_read_only: bool) -> None:
        self.document = document
        self.reject_read_only = reject_read_only
        self.defs: dict[str, Any] = {}

    def convert(self, node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, bool) or not isinstance(node, dict):
            return node
        if "$ref" in node:  # OpenAPI 3.0 ignores a $ref's siblings
            return self._ref(node["$ref"], stack)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in self._DROP:
                continue
            if key in self._ONE:
                out[key] = self.convert(value, stack)
            elif key in self._MANY and isinstance(value, list):
                out[key] = [self.convert(v, stack) for v in value]
            elif key in self._MAP and isinstance(value, dict):
                out["$defs" if key == "definitions" else key] = {
                    name: self._property(sub, stack) if key == "properties"
                    else self.convert(sub, stack)
                    for name, sub in value.items()
                }
            else:
                out[key] = copy.deepcopy(value)
        if node.get("type") == "file":  # Swagger 2 uploads: not JSON
            out.pop("type")
        _exclusive_bounds(out)
        if node.get("nullable") or node.get("x-nullable"):
            out = _nullable(out)
        return out

    def _property(self, node: Any, stack: tuple[str, ...]) -> Any:
        if self.reject_read_only and isinstance(node, dict) and node.get("readOnly"):
            return False
        return self.convert(node, stack)

    def _ref(self, ref: str, stack: tuple[str, ...]) -> Any:
        if ref in stack:
            name = ref.rsplit("/", 1)[-1]
            if name not in self.defs:
                self.defs[name] = {}  # placeholder stops endless recursion
                self.defs[name] = self.convert(_resolve_ref(ref, self.document), ())
            return {"$ref": f"#/$defs/{name}"}
        return self.convert(_resolve_ref(ref, self.document), (*stack, ref))


def _exclusive_bounds(schema: dict[str, Any]) -> None:
    # OpenAPI 3.0 / draft 4: boolean flags next to minimum/maximum.
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(schema.get(flag), bool):
            if schema[flag] and bound in schema:
                schema[flag] = schema.pop(bound)
            else:
                schema.pop(flag)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list):
        schema["type"] = [*kind, "null"] if "null" not in kind else kind
    else:
        return {"anyOf": [schema, {"type": "null"}]}
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


# --------------------------------------------------------------------------- messages


def _json_path(parts: Iterable[Any]) -> str:
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _describe(error: jsonschema.ValidationError) -> str:
    where = _json_path(error.absolute_path)
    if error.validator == "oneOf" and not error.context:
        titles = [str(s.get("title") or f"#{i}") for i, s in enumerate(error.validator_value)
                  if isinstance(s, dict)]
        return f"{where}: matches more than one oneOf alternative ({', '.join(titles)})"
    if error.validator in ("oneOf", "anyOf") and error.context:
        # "not valid under any of the given schemas" hides why. The alternative whose
        # errors lie deepest is almost always the one meant; list its reasons.
        reasons = dict.fromkeys(f"{_json_path(leaf.absolute_path)}: {_short(leaf.message)}"
                                for leaf in _closest_leaves(error))
        return f"{where}: matches no {error.validator} alternative; closest fails at " + \
            "; ".join(list(reasons)[:6])
    return f"{where}: {_short(error.message, 300)}"


def _closest_leaves(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The innermost errors, following at every oneOf/anyOf the deepest-failing alternative."""
    if not error.context:
        return [error]
    branches: dict[Any, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).extend(_closest_leaves(sub))
    return max(branches.values(),
               key=lambda leaves: max(len(leaf.absolute_path) for leaf in leaves))


def _short(message: str, limit: int = 160) -> str:
    return message if len(message) <= limit else message[:limit] + "..."
