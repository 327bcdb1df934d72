"""Every request shipsync sends validates against the API's request schema: bodies and
query parameters.

A whole cycle (import, an update, a cancellation, an order of more than 50 lines, lines
that name no address, labels, writeback with update_status 10, `shipsync doctor`) runs
through the real CLI against the emulators, which keep what they receive; then each body
is checked (BigCommerce's against the official spec, Starshipit's against the Starshipit
plugin's schemas/api: Starshipit publishes no machine-readable spec), and so is every
query parameter: each one the official BigCommerce spec declares for the operation, its
value of the declared type (a number, one of the enum, a list of them, a date in RFC-2822
or ISO-8601 where the spec says so), and each Starshipit one as the plugin's
schemas/api/query_parameters.json (from the fact sheet) says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs

import jsonschema
import pytest
from shipsync import records
from shipsync.plugins import PluginHost
from shipsync.sandboxes import SandboxSet
from shipsync.testing import run_cli, write_config

from .openapi import query_parameters, request_schema, require_specs, validate
from .test_bigcommerce_contract import NOT_CALLED

require_specs()  # skipped with a reason on a clone without the vendor specs

ORDERS = "orders.v2.oas2.yml"
API_KEY = "sandbox-api-key"

BIGCOMMERCE_BODIES = {
    ("POST", "shipments"): ("/orders/{order_id}/shipments", "POST"),
    ("PUT", "order"): ("/orders/{order_id}", "PUT"),
}
STARSHIPIT_BODIES = {
    ("POST", "/api/orders/import"): "api/import_request.json",
    ("PUT", "/api/orders"): "api/update_request.json",
    ("POST", "/api/orders"): "api/create_request.json",
}
# The spec file of each BigCommerce API path (after /stores/{store_hash}/v2 or /v3).
SPEC_OF = {"v2": {"/store": "store_information.v2.yml"}, "v3": {
    "/settings/store/units-of-measurement": "settings.v3.yml",
    "/shipping/products/customs-information": "shipping.v3.yml"}}


def _address(name: str) -> dict[str, str]:
    return {"first_name": name, "last_name": "Contract", "street_1": "1 Spec St",
            "city": "Sydney", "state": "NSW", "zip": "2000", "country_iso2": "AU"}


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """The requests both emulators received during a whole cycle and a doctor's check."""
    tmp_path = tmp_path_factory.mktemp("cycle")
    host = PluginHost.load()
    with SandboxSet(host, orders=0, per_sandbox={"bigcommerce": {"rate_limit": None},
                                                 "starshipit": {"rate_limit": None}}) as boxes:
        bc, ss = boxes.emulator("bigcommerce"), boxes.emulator("starshipit")
        bc.log.keep_bodies = ss.log.keep_bodies = True
        data = boxes.config(tmp_path / "state.db")
        data["bigcommerce"]["stores"]["main"]["update_status"] = 10
        config = write_config(tmp_path / "shipsync.toml", data)
        orders = [bc.add_order("main", shipping_addresses=[_address("A"), _address("B")],
                               products=[{"name": "One", "address_index": 0,
                                          "product_options": [{"display_name": "Size",
                                                               "display_value": "M"}]},
                                         {"name": "Two", "address_index": 1, "quantity": 2}]),
                  bc.add_order("main", shipping_addresses=[_address("C")],
                               products=[{"name": "Three"}]),
                  bc.add_order("main", shipping_addresses=[_address("D")],
                               products=[{"name": "Four"}]),
                  bc.add_order("main", shipping_addresses=[_address("E")],
                               products=[{"name": f"Part {n}", "product_id": 900 + n}
                                         for n in range(55)]),
                  bc.add_order("main", shipping_addresses=[_address("F")],
                               products=[{"name": "Five"}])]
        bc.corrupt_order("main", orders[4]["id"], {  # lines naming no address (the spec's 0)
            ("consignments", "shipping", 0, "line_items", 0, "order_address_id"): 0})

        def run(*args: str) -> None:
            result = run_cli([*args, "--json"], config=config, cwd=tmp_path)
            assert result.code == 0, result.stderr + result.stdout

        run("run", "bigcommerce")
        bc.update_order("main", orders[1]["id"], shipping_address={"street_1": "2 New St"})
        bc.update_order("main", orders[2]["id"], status_id=5)
        run("run", "bigcommerce")
        ss.print_label(API_KEY, f"{orders[0]['id']}-1", packages=2)
        ss.print_label(API_KEY, f"{orders[0]['id']}-2")
        ss.print_label(API_KEY, str(orders[1]["id"]))
        ss.print_label(API_KEY, str(orders[3]["id"]))
        ss.print_label(API_KEY, str(orders[4]["id"]))
        ss.manifest(API_KEY, [str(orders[1]["id"])])
        run("run", "bigcommerce")
        run("doctor")
        yield {"bigcommerce": bc.log.snapshot()["entries"],
               "starshipit": ss.log.snapshot()["entries"]}


def test_every_body_shipsync_sends_matches_the_request_schemas(
        cycle: dict[str, list[dict[str, Any]]]) -> None:
    checked = {"bigcommerce": 0, "starshipit": 0}
    for entry in cycle["bigcommerce"]:
        if entry["method"] not in ("POST", "PUT"):
            continue
        kind = "shipments" if entry["path"].endswith("/shipments") else "order"
        template, method = BIGCOMMERCE_BODIES[(entry["method"], kind)]
        schema = request_schema(ORDERS, method, template, reject_read_only=True)
        validate(schema, json.loads(entry["body"]), name=f"{method} {template}")
        checked["bigcommerce"] += 1
    for entry in cycle["starshipit"]:
        if entry["method"] not in ("POST", "PUT") or not entry["body"]:
            continue
        name = STARSHIPIT_BODIES[(entry["method"], entry["path"])]
        assert records.schemas_of("shipsync_starshipit").errors(
            name, json.loads(entry["body"])) == [], entry["path"]
        checked["starshipit"] += 1

    # Three shipments and two status updates; an import, an update.
    assert checked["bigcommerce"] >= 4
    assert checked["starshipit"] >= 2


def _bigcommerce_operation(route: str) -> tuple[str, str, str]:
    """(spec file, method, path template) of an emulator route such as
    ``GET /stores/{store_hash}/v2/orders/{order_id:int}/products``."""
    method, pattern = route.split(" ", 1)
    found = re.match(r"/stores/\{store_hash\}/(v[23])(/.*)$", pattern)
    assert found, route
    api, path = found.group(1), re.sub(r":int\}", "}", found.group(2))
    spec = SPEC_OF[api].get(path, ORDERS if api == "v2" else "")
    assert spec, f"no spec known for {route}"
    return spec, method, path


def _date(value: str) -> bool:
    try:
        parsedate_to_datetime(value)
        return True
    except (TypeError, ValueError):
        return bool(re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?"
                             r"(Z|[+-]\d{2}:?\d{2})$", value))


def _check_value(name: str, declared: dict[str, Any], values: list[str], where: str) -> None:
    schema = declared["schema"]
    if schema.get("type") == "array":
        if declared["explode"]:
            items = values
        else:
            assert len(values) == 1, f"{where}: {name} sent {len(values)} times: {values}"
            items = values[0].split(",")
        item_schema = schema.get("items") or {}
        for item in items:
            jsonschema.validate(_typed(item, item_schema), item_schema)
        return
    assert len(values) == 1, f"{where}: {name} sent {len(values)} times: {values}"
    value = values[0]
    if name == "sort":  # the spec's own words: a field, then ":asc" or ":desc"
        field, _, direction = value.partition(":")
        assert direction in ("", "asc", "desc"), f"{where}: sort direction {direction!r}"
        value = field
    if "RFC-2822" in declared["description"]:
        assert _date(value), f"{where}: {name}={value!r} is neither RFC-2822 nor ISO-8601"
    jsonschema.validate(_typed(value, schema), schema)


def _typed(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds:
        assert re.fullmatch(r"-?\d+", value), f"{value!r} is not an integer"
        return int(value)
    if "number" in kinds:
        return float(value)
    return value


def test_every_query_parameter_sent_to_bigcommerce_is_one_the_spec_declares(
        cycle: dict[str, list[dict[str, Any]]]) -> None:
    seen: set[str] = set()
    for entry in cycle["bigcommerce"]:
        if not entry["query"]:
            continue
        spec, method, path = _bigcommerce_operation(entry["route"])
        declared = query_parameters(spec, method, path)
        where = f"{entry['method']} {entry['path']}?{entry['query']}"
        for name, values in parse_qs(entry["query"], keep_blank_values=True).items():
            assert name in declared, f"{where}: {name} is not a parameter of {method} {path}"
            _check_value(name, declared[name], values, where)
            seen.add(name)
    # What the client and the doctor send, every one of them checked at least once.
    assert {"sort", "include", "consignment_structure", "limit", "page", "min_id", "max_id",
            "status_id", "min_date_created", "min_date_modified", "product_id:in"} <= seen


def test_every_query_parameter_sent_to_starshipit_is_one_its_docs_list(
        cycle: dict[str, list[dict[str, Any]]]) -> None:
    schemas = records.schemas_of("shipsync_starshipit")
    seen: set[str] = set()
    for entry in cycle["starshipit"]:
        if not entry["query"]:
            continue
        where = f"{entry['method']} {entry['path']}?{entry['query']}"
        query = {name: values if name == "include" else values[-1]
                 for name, values in parse_qs(entry["query"], keep_blank_values=True).items()}
        wanted = f"{entry['method']} {entry['path']}"
        errors = schemas.errors("api/query_parameters.json", {wanted: query})
        assert errors == [], f"{where}: {errors}"
        seen |= set(query)
    assert {"since_last_updated", "since_created_date", "status", "limit", "page", "include",
            "order_id", "order_number"} <= seen


def test_no_endpoint_marked_not_called_is_called(
        cycle: dict[str, list[dict[str, Any]]]) -> None:
    called = {re.sub(r"/stores/\{store_hash\}", "", re.sub(r":int\}", "}", e["route"]))
              for e in cycle["bigcommerce"]}
    assert called & NOT_CALLED == set()
    assert "GET /v2/orders/{order_id}/shipping_addresses" in called  # the address fallback
