"""jsonschema-rs (the hot path) and jsonschema (the error lists) always give the same verdict."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
import jsonschema_rs
from shipsync import records

STARSHIPIT = records.schemas_of("shipsync_starshipit")

VALID_ORDER: dict[str, Any] = {
    "source": "bigcommerce", "store": "main", "order_id": "1", "status_id": 11,
    "date_created": "2026-11-01T10:00:00+00:00", "date_modified": "2026-11-01T10:00:00+00:00",
    "currency": "AUD", "reference": "1", "left_out": [{"line_id": "9", "reason": "digital"}],
    "destinations": [{
        "destination_id": "10", "kind": "shipping", "shipping_method": "Flat",
        "address": {"name": "A", "street": "B", "country": "Australia", "country_code": "AU",
                    "post_code": "2000"},
        "items": [{"line_id": "1", "description": "x", "quantity": 2, "weight_kg": 1.5,
                   "value": 2.0, "sku": "S", "options": [{"name": "Size", "value": "M"}]}]}],
}
VALID_BODY: dict[str, Any] = {
    "order_number": "1-1", "order_date": "2026-11-01T10:00:00+00:00", "reference": "1",
    "currency": "AUD", "carrier": "AusPost",
    "destination": {"name": "A", "street": "B", "country": "Australia", "post_code": "2000"},
    "items": [{"description": "x", "sku": "S", "quantity": 2, "weight": 1.5, "value": 2.0,
               "tariff_code": "610910", "size": "M"}],
}

junk = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-1, 1e3),
                 st.just(1.0), st.text(max_size=60), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.sampled_from(["a", "name", "line_id"]), st.integers(),
                                 max_size=2))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated(draw: Any, base: dict[str, Any]) -> Any:
    instance = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(instance)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = instance
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["set", "delete", "add"]))
        if action == "set":
            parent[path[-1]] = draw(junk)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "street2", "x"]))] = draw(junk)
    return instance


@pytest.mark.parametrize("schemas,name,base", [
    (records.core_schemas(), "order.json", VALID_ORDER),
    (STARSHIPIT, "api/order_create.json", VALID_BODY)])
def test_the_valid_examples_are_valid(schemas: records.SchemaSet, name: str,
                                      base: dict[str, Any]) -> None:
    assert schemas.validator(name).is_valid(base)
    assert schemas.is_valid(name, base)
    assert schemas.errors(name, base) == []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(VALID_ORDER))
def test_same_verdict_as_jsonschema_on_orders(instance: Any) -> None:
    assert records.is_valid("order.json", instance) == records.core_schemas().validator(
        "order.json").is_valid(instance)
    assert (records.errors_of("order.json", instance) == []) == records.is_valid(
        "order.json", instance)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(VALID_BODY))
def test_same_verdict_as_jsonschema_on_starshipit_bodies(instance: Any) -> None:
    name = "api/order_create.json"
    assert STARSHIPIT.is_valid(name, instance) == STARSHIPIT.validator(name).is_valid(instance)
    assert (STARSHIPIT.errors(name, instance) == []) == STARSHIPIT.is_valid(name, instance)


SMALL_SCHEMAS = [
    {"type": "integer"}, {"type": ["string", "null"]}, {"enum": [1, "a", None]},
    {"const": True}, {"minLength": 2, "maxLength": 3}, {"pattern": "^[A-Z]{2}$"},
    {"minimum": 0, "exclusiveMaximum": 10}, {"required": ["a"], "properties": {"a": {}}},
    {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
    {"items": {"type": "number"}, "minItems": 1, "maxItems": 2, "uniqueItems": True},
    {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    {"oneOf": [{"type": "number"}, {"type": "integer"}]}, {"not": {"type": "null"}},
    {"allOf": [{"$ref": "#/$defs/a"}], "unevaluatedProperties": False,
     "$defs": {"a": {"properties": {"a": {"type": "integer"}}}}},
    {"patternProperties": {"^a": {"type": "integer"}}},
    {"if": {"type": "string"}, "then": {"minLength": 1}, "else": {"type": "integer"}},
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(range(len(SMALL_SCHEMAS))), st.one_of(
    junk, st.dictionaries(st.sampled_from(["a", "b"]), junk, max_size=2),
    st.lists(junk, max_size=3)))
def test_each_keyword_agrees_with_jsonschema(index: int, instance: Any) -> None:
    schema = SMALL_SCHEMAS[index]
    fast = jsonschema_rs.Draft202012Validator(schema, validate_formats=False)
    assert fast.is_valid(instance) == Draft202012Validator(schema).is_valid(instance)


def test_an_invalid_record_gets_every_error_with_its_path() -> None:
    order = copy.deepcopy(VALID_ORDER)
    order["destinations"][0]["items"][0]["quantity"] = 0
    del order["currency"]
    assert [str(e) for e in records.errors_of("order.json", order)] == [
        "$: 'currency' is a required property",
        "$.destinations[0].items[0].quantity: 0 is less than the minimum of 1",
    ]
