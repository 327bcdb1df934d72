"""A fast yes/no check compiled from a JSON Schema, for records on the hot path.

jsonschema applies each subschema through a generic machinery that costs a few
microseconds per node: about 200 µs for one small order, too slow to validate
thousands of orders a second twice each. This module compiles the subset of
draft 2020-12 that shipsync's schemas use into nested closures that only answer
"valid or not". ``shipsync.records`` asks it first and lets jsonschema explain
the failures, so messages and paths are jsonschema's own; a schema using any
keyword outside the subset is not compiled at all (jsonschema does everything).
A property test holds the two to the same verdict.

The subset: type, enum, const, required, properties, additionalProperties,
unevaluatedProperties (false, over properties reached through $ref and allOf),
items, minItems, maxItems, uniqueItems, minLength, maxLength, minimum, maximum,
exclusiveMinimum, exclusiveMaximum, pattern, allOf, anyOf, oneOf, not and $ref
(local, or to another registered schema's $id). format is an annotation here,
as it is for shipsync's jsonschema validators when no format checker applies.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

__all__ = ["Unsupported", "compile_schema"]

Check = Callable[[Any], bool]

ANNOTATIONS = {"$schema", "$id", "$comment", "$defs", "title", "description", "default",
               "examples", "deprecated", "readOnly", "writeOnly", "format"}


class Unsupported(Exception):
    """The schema uses a keyword this compiler does not know: use jsonschema."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _bounded(compare: Callable[[Any, Any], bool], bound: Any) -> Check:
    return lambda v: not _is_number(v) or compare(v, bound)


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) in (int, float, str, type(None)) and type(b) in (
        int, float, str, type(None))


class _Compiler:
    def __init__(self, root: dict[str, Any], registry: Mapping[str, dict[str, Any]]) -> None:
        self.registry = registry
        self.cache: dict[int, Check] = {}
        self.root = root

    def resolve(self, ref: str, base: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(target schema, its document) for a $ref seen in document ``base``."""
        if ref.startswith("#"):
            document = base
        else:
            uri, _, fragment = ref.partition("#")
            base_id = str(base.get("$id", ""))
            absolute = uri if "://" in uri else base_id.rsplit("/", 1)[0] + "/" + uri
            if absolute not in self.registry:
                raise Unsupported(f"unknown $ref {ref}")
            document = self.registry[absolute]
            ref = "#" + fragment
        node: Any = document
        for part in filter(None, ref[1:].split("/")):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, document

    def property_names(self, schema: dict[str, Any], document: dict[str, Any]) -> set[str] | None:
        """Properties an object schema evaluates (for unevaluatedProperties); None: unknown."""
        names = set(schema.get("properties", {}))
        if "patternProperties" in schema or "additionalProperties" in schema:
            return None
        for keyword in ("anyOf", "oneOf", "if", "dependentSchemas"):
            if keyword in schema:
                return None
        if "$ref" in schema:
            target, target_doc = self.resolve(schema["$ref"], document)
            more = self.property_names(target, target_doc)
            if more is None:
                return None
            names |= more
        for sub in schema.get("allOf", []):
            more = self.property_names(sub, document)
            if more is None:
                return None
            names |= more
        return names

    def compile(self, schema: Any, document: dict[str, Any]) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise Unsupported(f"schema is {type(schema).__name__}")
        key = id(schema)
        if key in self.cache:
            return self.cache[key]
        # A placeholder lets recursive $refs compile; it is replaced below.
        holder: list[Check] = []
        self.cache[key] = lambda v: holder[0](v)
        checks = self._checks(schema, document)
        if not checks:
            def check(value: Any, /) -> bool:
                return True
        elif len(checks) == 1:
            check = checks[0]
        else:
            def check(value: Any, /) -> bool:
                for one in checks:
                    if not one(value):
                        return False
                return True

        holder.append(check)
        self.cache[key] = check
        return check

    def _checks(self, schema: dict[str, Any], document: dict[str, Any]) -> list[Check]:
        if "$id" in schema and schema is not document:
            document = schema
        checks: list[Check] = []
        handled = set(ANNOTATIONS)
        for keyword in schema:
            if keyword.startswith("x-"):
                handled.add(keyword)

        def add(keyword: str, check: Check) -> None:
            handled.add(keyword)
            checks.append(check)

        if "type" in schema:
            names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            tests = [TYPES[n] for n in names]
            add("type", tests[0] if len(tests) == 1 else lambda v: any(t(v) for t in tests))
        if "enum" in schema:
            options = list(schema["enum"])
            add("enum", lambda v: any(_equal(v, o) for o in options))
        if "const" in schema:
            wanted = schema["const"]
            add("const", lambda v: _equal(v, wanted))
        if "minLength" in schema:
            low = schema["minLength"]
            add("minLength", lambda v: not isinstance(v, str) or len(v) >= low)
        if "maxLength" in schema:
            high = schema["maxLength"]
            add("maxLength", lambda v: not isinstance(v, str) or len(v) <= high)
        if "pattern" in schema:
            regex = re.compile(schema["pattern"])
            add("pattern", lambda v: not isinstance(v, str) or regex.search(v) is not None)
        for keyword, compare in (("minimum", lambda v, b: v >= b), ("maximum", lambda v, b: v <= b),
                                 ("exclusiveMinimum", lambda v, b: v > b),
                                 ("exclusiveMaximum", lambda v, b: v < b)):
            if keyword in schema:
                bound = schema[keyword]
                add(keyword, _bounded(compare, bound))
        if "required" in schema:
            required = list(schema["required"])
            add("required", lambda v: not isinstance(v, dict) or all(k in v for k in required))
        properties: dict[str, Check] = {}
        if "properties" in schema:
            properties = {k: self.compile(s, document) for k, s in schema["properties"].items()}
        if "properties" in schema or "additionalProperties" in schema:
            # One pass over the instance's keys checks both keywords.
            extra = (self.compile(schema["additionalProperties"], document)
                     if "additionalProperties" in schema else None)
            handled.update(("properties", "additionalProperties"))

            def object_members(v: Any, props: dict[str, Check] = properties,
                               extra: Check | None = extra) -> bool:
                if not isinstance(v, dict):
                    return True
                for key, item in v.items():
                    check_one = props.get(key, extra)
                    if check_one is not None and not check_one(item):
                        return False
                return True

            checks.append(object_members)
        if "unevaluatedProperties" in schema:
            if schema["unevaluatedProperties"] is not False:
                raise Unsupported("unevaluatedProperties other than false")
            evaluated = self.property_names(schema, document)
            if evaluated is None:
                raise Unsupported("unevaluatedProperties beside dynamic evaluation")
            add("unevaluatedProperties",
                lambda v: not isinstance(v, dict) or all(k in evaluated for k in v))
        if "items" in schema:
            each = self.compile(schema["items"], document)
            add("items", lambda v: not isinstance(v, list) or all(each(i) for i in v))
        if "minItems" in schema:
            low_items = schema["minItems"]
            add("minItems", lambda v: not isinstance(v, list) or len(v) >= low_items)
        if "maxItems" in schema:
            high_items = schema["maxItems"]
            add("maxItems", lambda v: not isinstance(v, list) or len(v) <= high_items)
        if schema.get("uniqueItems"):
            add("uniqueItems", lambda v: not isinstance(v, list) or all(
                not _equal(a, b) for i, a in enumerate(v) for b in v[i + 1:]))
        elif "uniqueItems" in schema:
            handled.add("uniqueItems")
        if "$ref" in schema:
            target, target_doc = self.resolve(schema["$ref"], document)
            add("$ref", self.compile(target, target_doc))
        if "allOf" in schema:
            parts = [self.compile(s, document) for s in schema["allOf"]]
            add("allOf", lambda v: all(p(v) for p in parts))
        if "anyOf" in schema:
            options_any = [self.compile(s, document) for s in schema["anyOf"]]
            add("anyOf", lambda v: any(p(v) for p in options_any))
        if "oneOf" in schema:
            options_one = [self.compile(s, document) for s in schema["oneOf"]]
            add("oneOf", lambda v: sum(1 for p in options_one if p(v)) == 1)
        if "not" in schema:
            negated = self.compile(schema["not"], document)
            add("not", lambda v: not negated(v))
        unknown = set(schema) - handled
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")
        return checks


def compile_schema(schema: dict[str, Any],
                   registry: Mapping[str, dict[str, Any]] | None = None) -> Check:
    """A function telling whether an instance is valid; raises ``Unsupported``."""
    return _Compiler(schema, registry or {}).compile(schema, schema)
