"""The Starshipit emulator against the plugin's schemas/api/: what it serves and what it refuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from shipsync.records import schemas_of
from shipsync.sandbox import EmulatorServer, FaultRule
from shipsync_starshipit.sandbox import (
    SANDBOX_API_KEY,
    SANDBOX_SUBSCRIPTION_KEY,
    StarshipitEmulator,
    create_sandbox,
)

SCHEMAS = schemas_of("shipsync_starshipit")
SCHEMA_DIR = Path(str(SCHEMAS.root)) / "api"
SCHEMA_FILES = sorted(p.name for p in SCHEMA_DIR.glob("*.json"))
SOURCE_TAGS = (
    "[KB-API]",
    "[DEV]",
    "[PM]",
    "[KB]",
    "[DART]",
    "[DART2]",
    "[ODOO]",
    "[TAP]",
    "[FIELD]",
    "[MCP]",
)
RESPONSE_SCHEMAS = {
    "delete_response",
    "failure_response",
    "gateway_error",
    "import_response",
    "manifest_response",
    "order_response",
    "orders_list_response",
    "shipment_response",
    "shipments_list_response",
    "shipped_list_response",
    "track_response",
}
# The schema of a successful answer, per route.
SUCCESS_SCHEMAS = {
    ("POST", "/api/orders"): "order_response",
    ("GET", "/api/orders"): "order_response",
    ("PUT", "/api/orders"): "order_response",
    ("POST", "/api/orders/import"): "import_response",
    ("DELETE", "/api/orders/delete"): "delete_response",
    ("GET", "/api/orders/unshipped"): "orders_list_response",
    ("GET", "/api/orders/shipped"): "shipped_list_response",
    ("GET", "/api/orders/shipments"): "shipments_list_response",
    ("POST", "/api/orders/shipment"): "shipment_response",
    ("POST", "/api/orders/manifest"): "manifest_response",
    ("GET", "/api/track"): "track_response",
}
HEADERS = {
    "StarShipIT-Api-Key": SANDBOX_API_KEY,
    "Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY,
}


def errors(schema: str, instance: Any) -> list[str]:
    return [e.message for e in SCHEMAS.validator(f"api/{schema}.json").iter_errors(instance)]


def valid_order(number: str = "1001") -> dict[str, Any]:
    return {
        "order_number": number,
        "order_date": "2026-11-27T09:00:00.1234567Z",
        "reference": "PO-1",
        "shipping_method": "Standard",
        "shipping_description": "Standard (3-5 days)",
        "carrier": "AusPost",
        "carrier_service_code": "7B05",
        "signature_required": True,
        "currency": "AUD",
        "destination": {
            "name": "Jane Citizen",
            "email": "jane@example.com",
            "phone": "0400000000",
            "company": "Acme",
            "street": "2 Example Road Unit 4",
            "suburb": "Newtown",
            "city": "Sydney",
            "state": "NSW",
            "post_code": "2042",
            "country": "Australia",
            "delivery_instructions": "Leave at door",
            "tax_number": "ABN123",
        },
        "items": [
            {
                "description": "Mug",
                "sku": "MUG-1",
                "tariff_code": "6912.00",
                "country_of_origin": "China",
                "quantity": 2,
                "weight": 0.4,
                "value": 12.5,
                "color": "Blue",
                "size": "L",
            }
        ],
        "packages": [{"weight": 0.9, "height": 0.1, "width": 0.2, "length": 0.3}],
        "metadatas": [{"metafield_key": "bc_order_address_id", "value": "7"}],
    }


serving = EmulatorServer  # a context manager: serves on loopback, stops on exit


def settled_log(emulator: StarshipitEmulator, total: int) -> None:
    """The server logs a request before answering it: the log is complete at once."""
    assert emulator.log.total() >= total


class CheckedClient:
    """Calls the emulator and validates every answer against its schema."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.used: set[str] = set()
        self.calls = 0

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> requests.Response:
        answer = requests.request(
            method,
            self.url + path,
            json=body,
            params=params or None,
            headers=HEADERS if headers is None else headers,
            timeout=5,
        )
        self.calls += 1
        schema = self.schema_for(method, path, answer)
        found = errors(schema, answer.json())
        assert not found, (
            f"{method} {path} -> {answer.status_code} does not match {schema}.json: {found}"
        )
        self.used.add(schema)
        return answer

    @staticmethod
    def schema_for(method: str, path: str, answer: requests.Response) -> str:
        body = answer.json()
        if "statusCode" in body:
            return "gateway_error"
        if path == "/api/orders/import" and answer.status_code == 200:
            return "import_response"  # per-order results, success false when any was refused
        if not body.get("success"):
            return "failure_response"
        return SUCCESS_SCHEMAS[(method, path)]


# The answers the emulator gave before it offered variants, and (VARIANTS' first values)
# the most likely ones: every answer must match its schema under both.
FIRST_ANSWERS = {"shipped_rows": "packages", "shipped_listing": "print", "dates": "utc",
                 "pages": "oldest-first", "not_found": "200", "order_includes": "always"}
LIKELY: dict[str, str] = {}


@pytest.fixture(params=[FIRST_ANSWERS, LIKELY], ids=["first-answers", "likely"])
def emulator(request: pytest.FixtureRequest) -> StarshipitEmulator:
    return create_sandbox(rate_limit=None, variants=request.param)


@pytest.fixture
def client(emulator: StarshipitEmulator) -> Iterator[CheckedClient]:
    with serving(emulator) as server:
        yield CheckedClient(server.url)


# ------------------------------------------------------------------------ the schemas themselves


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_is_draft_2020_12_with_its_id_and_a_source_tag(name: str) -> None:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    SCHEMAS.validator(f"api/{name}").check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://shipsync.dev/schemas/starshipit/{name}"
    assert any(tag in schema["description"] for tag in SOURCE_TAGS), (
        f"{name}: description names no source"
    )


def _fields(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property of a schema, nested ones too, with its path."""
    if not isinstance(node, dict):
        return
    for name, field in (node.get("properties") or {}).items():
        if isinstance(field, dict):
            yield f"{path}.{name}", field
            yield from _fields(field, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _fields(node["items"], f"{path}[]")
    for key in ("allOf", "anyOf", "oneOf"):
        for part in node.get(key) or []:
            yield from _fields(part, path)
    for name, part in (node.get("$defs") or {}).items():
        yield from _fields(part, f"{path}${name}")


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_every_field_cites_its_source_and_the_schema_says_it_is_not_official(
        name: str) -> None:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    assert "Derived from documentation, not an official schema" in schema["description"]
    untagged = [path for path, field in _fields(schema)
                if not any(tag in field.get("description", "") for tag in SOURCE_TAGS)
                and "(no source: emulator only)" not in field.get("description", "")]
    assert untagged == [], f"{name}: fields citing no source: {untagged}"


def test_the_schemas_folder_says_they_are_derived_not_official() -> None:
    readme = (SCHEMA_DIR / "README.md").read_text(encoding="utf-8")
    assert "derived from documentation, not official" in readme
    assert all(tag in readme for tag in SOURCE_TAGS)


def test_every_response_schema_has_a_file() -> None:
    assert {f"{name}.json" for name in RESPONSE_SCHEMAS} <= set(SCHEMA_FILES)


def test_envelope_accepts_a_numeric_success_as_dart2_saw() -> None:
    assert errors("envelope", {"success": 1}) == []
    assert (
        errors("failure_response", {"success": 0, "errors": [{"message": "x", "details": "y"}]})
        == []
    )
    assert errors("failure_response", {"success": True, "errors": [{"message": "x"}]}) != []


def test_gateway_error_is_not_an_envelope() -> None:
    assert errors("gateway_error", {"statusCode": 404, "message": "Resource not found"}) == []
    assert errors("gateway_error", {"statusCode": 401, "message": "x", "success": False}) != []


# ------------------------------------------------------------------------ every answer validates


def test_every_answer_of_a_full_session_matches_its_schema(
    emulator: StarshipitEmulator, client: CheckedClient
) -> None:
    emulator.add_account("child-api-key", SANDBOX_SUBSCRIPTION_KEY)
    created = client.call("POST", "/api/orders", {"order": valid_order("1001")}).json()["order"]
    client.call("POST", "/api/orders", {"order": valid_order("1001")})  # duplicate
    client.call("POST", "/api/orders", {"order": {"order_number": "x"}})  # invalid
    client.call(
        "POST",
        "/api/orders/import",
        {"orders": [valid_order("1002"), valid_order("1003"), {"order_number": ""}]},
    )
    client.call("POST", "/api/orders/import", {"orders": [valid_order(f"B{i}") for i in range(51)]})
    client.call("GET", "/api/orders", order_id=created["order_id"])
    client.call("GET", "/api/orders", order_number="1002")
    client.call("GET", "/api/orders", order_number="missing")
    client.call(
        "PUT",
        "/api/orders",
        {"order": {"order_id": created["order_id"], "items": [{"sku": "NEW", "quantity": 1}]}},
    )
    client.call("GET", "/api/orders/unshipped", limit=2, page=1)
    client.call("GET", "/api/orders/unshipped", ids_only="true")
    client.call("GET", "/api/orders/unshipped", limit=251)
    client.call(
        "POST",
        "/api/orders/shipment",
        {"order_id": created["order_id"], "packages": [{"weight": 0.5}, {"weight": 0.4}]},
    )
    client.call(
        "POST", "/api/orders/shipment", {"order_number": "1002", "carrier": "PickupInStore"}
    )
    client.call("POST", "/api/orders/shipment", {"order_number": "1002"})  # already printed
    client.call("POST", "/api/orders/shipment", {"order_number": "1002", "reprint": True})
    client.call(
        "PUT", "/api/orders", {"order": {"order_id": created["order_id"], "status": "Delivered"}}
    )
    client.call("GET", "/api/orders/shipped", since_last_updated="2000-01-01T00:00:00Z")
    client.call(
        "GET", "/api/orders/shipped", since_last_updated="2000-01-01T00:00:00Z", ids_only="1"
    )
    client.call("GET", "/api/orders/shipments", status="recently_printed",
                since_created_date="2000-01-01T00:00:00Z")
    client.call("POST", "/api/orders/manifest", {"order_ids": [created["order_id"]]})
    client.call("GET", "/api/track", order_number="1001")
    client.call("GET", "/api/track", order_number="1003")
    client.call("GET", "/api/track", tracking_number="NOPE")
    client.call("DELETE", "/api/orders/delete", order_id=created["order_id"])
    client.call(
        "DELETE",
        "/api/orders/delete",
        order_id=client.call("GET", "/api/orders", order_number="1003").json()["order"]["order_id"],
    )
    client.call("GET", "/api/orders/unshipped", headers={})
    client.call("GET", "/api/orders/unshipped", headers={**HEADERS, "StarShipIT-Api-Key": "wrong"})
    client.call("GET", "/api/nothing")
    emulator.faults.replace([FaultRule("429", times=1), FaultRule("503", times=1)])
    client.call("GET", "/api/orders/unshipped")
    client.call("GET", "/api/orders/unshipped")

    assert client.used == RESPONSE_SCHEMAS
    settled_log(emulator, client.calls)
    assert emulator.log.total() == client.calls  # every answer served was checked


def test_rate_limited_answer_matches_the_gateway_schema() -> None:
    emulator = create_sandbox(rate_limit=(1, 60.0))
    with serving(emulator) as server:
        client = CheckedClient(server.url)
        client.call("GET", "/api/orders/unshipped")
        assert client.call("GET", "/api/orders/unshipped").status_code == 429
    assert client.used == {"orders_list_response", "gateway_error"}


@pytest.mark.parametrize("emulator", [FIRST_ANSWERS], indirect=True, ids=["first-answers"])
def test_python_api_views_match_the_served_schemas(emulator: StarshipitEmulator) -> None:
    emulator.create_order(SANDBOX_API_KEY, valid_order("1001"))
    emulator.create_order(
        SANDBOX_API_KEY,
        {"order_number": "1002", "destination": {"name": "A", "street": "B", "country": "NZ"}},
    )
    emulator.print_label(SANDBOX_API_KEY, "1001", packages=3)
    for order in emulator.orders(SANDBOX_API_KEY):
        assert errors("full_order", order) == []
    rows = emulator.shipped(SANDBOX_API_KEY)
    assert len(rows) == 1 and len(rows[0]["packages"]) == 3
    assert errors("shipped_order", rows[0]) == []


# ------------------------------------------------------------------------------ refused requests


def _without(path: str) -> Any:
    def change(order: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = order
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[last]

    return change


def _set(path: str, value: Any) -> Any:
    def change(order: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = order
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return change


INVALID_ORDERS = {
    "no order_number": _without("order_number"),
    "empty order_number": _set("order_number", ""),
    "order_number of 51": _set("order_number", "N" * 51),
    "reference of 51": _set("reference", "R" * 51),
    "shipping_method of 101": _set("shipping_method", "S" * 101),
    "unknown carrier": _set("carrier", "Pigeon"),
    "currency of 4": _set("currency", "AUDD"),
    "order_date not a date": _set("order_date", "27/11/2026"),
    "no destination": _without("destination"),
    "no destination name": _without("destination.name"),
    "no destination street": _without("destination.street"),
    "no destination country": _without("destination.country"),
    "country of 1": _set("destination.country", "A"),
    "post_code of 11": _set("destination.post_code", "12345678901"),
    "street2 (not a field)": _set("destination.street2", "Unit 4"),
    "delivery_instructions of 101": _set("destination.delivery_instructions", "D" * 101),
    "tax_number of 21": _set("destination.tax_number", "T" * 21),
    "null email": _set("destination.email", None),
    "sku of 51": _set("items.0.sku", "S" * 51),
    "tariff_code of 19": _set("items.0.tariff_code", "1" * 19),
    "country_of_origin of 51": _set("items.0.country_of_origin", "C" * 51),
    "quantity 0": _set("items.0.quantity", 0),
    "fractional quantity": _set("items.0.quantity", 1.5),
    "negative weight": _set("items.0.weight", -0.1),
    "negative value": _set("items.0.value", -1),
    "unknown item field": _set("items.0.colour", "Blue"),
    "unknown order field": _set("tags", ["vip"]),
}
VALID_ORDERS = {
    "full": lambda order: None,
    "minimal": lambda order: (
        order.clear()
        or order.update(
            {"order_number": "1001", "destination": {"name": "A", "street": "B", "country": "NZ"}}
        )
    ),
    "order_number of 50": _set("order_number", "N" * 50),
    "plain order_date": _set("order_date", "2026-11-27"),
    "order_date without Z": _set("order_date", "2026-11-27T09:00:00.1234567"),
    "post_code of 10": _set("destination.post_code", "1234567890"),
    "PickupInStore": _set("carrier", "PickupInStore"),
    "weight 0": _set("items.0.weight", 0),
}


@pytest.mark.parametrize("change", INVALID_ORDERS.values(), ids=INVALID_ORDERS.keys())
def test_create_bodies_the_schema_rejects_are_refused(
    emulator: StarshipitEmulator, client: CheckedClient, change: Any
) -> None:
    order = valid_order()
    change(order)
    assert errors("create_request", {"order": order}) != []
    answer = client.call("POST", "/api/orders", {"order": order})
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert emulator.orders(SANDBOX_API_KEY) == []


@pytest.mark.parametrize("change", VALID_ORDERS.values(), ids=VALID_ORDERS.keys())
def test_create_bodies_the_schema_accepts_are_created(
    emulator: StarshipitEmulator, client: CheckedClient, change: Any
) -> None:
    order = valid_order()
    change(order)
    assert errors("create_request", {"order": order}) == []
    answer = client.call("POST", "/api/orders", {"order": order})
    assert answer.status_code == 200, answer.text
    assert [o["order_number"] for o in emulator.orders(SANDBOX_API_KEY)] == [order["order_number"]]


def test_import_of_51_is_rejected_by_schema_and_emulator(
    emulator: StarshipitEmulator, client: CheckedClient
) -> None:
    body = {"orders": [valid_order(f"B{i}") for i in range(51)]}
    assert errors("import_request", body) != []
    assert client.call("POST", "/api/orders/import", body).status_code == 400
    assert emulator.orders(SANDBOX_API_KEY) == []


@pytest.mark.parametrize("body", [{}, {"orders": []}, {"orders": "x"}, {"orders": [], "extra": 1}])
def test_malformed_import_batches_are_refused_whole(
    emulator: StarshipitEmulator, client: CheckedClient, body: dict[str, Any]
) -> None:
    assert errors("import_request", body) != []
    assert client.call("POST", "/api/orders/import", body).status_code == 400


def test_import_refuses_exactly_the_orders_the_schema_rejects(
    emulator: StarshipitEmulator, client: CheckedClient
) -> None:
    batch = []
    for index, change in enumerate(INVALID_ORDERS.values()):
        order = valid_order(f"BAD-{index}")
        change(order)
        batch.append(order)
    batch = batch[:45] + [valid_order("GOOD-1"), valid_order("GOOD-2")]
    rejected = [order for order in batch if errors("order_create", order)]
    answer = client.call("POST", "/api/orders/import", {"orders": batch}).json()
    assert len(answer["errors"]) == len(rejected)
    assert [o["order_number"] for o in emulator.orders(SANDBOX_API_KEY)] == ["GOOD-1", "GOOD-2"]


ORDER_ID = "<the created order's id>"
INVALID_UPDATES = {
    "no order_id": {"reference": "x"},
    "order_id as text": {"order_id": "abc"},
    "unknown field": {"order_id": ORDER_ID, "street2": "x"},
    "status Shipped (not a model status)": {"order_id": ORDER_ID, "status": "Shipped"},
    "item quantity 0": {"order_id": ORDER_ID, "items": [{"item_id": 1, "quantity": 0}]},
    "item delete as text": {"order_id": ORDER_ID, "items": [{"item_id": 1, "delete": "yes"}]},
    "destination street of 101": {"order_id": ORDER_ID, "destination": {"street": "S" * 101}},
}


@pytest.mark.parametrize("changes", INVALID_UPDATES.values(), ids=INVALID_UPDATES.keys())
def test_update_bodies_the_schema_rejects_are_refused(
    emulator: StarshipitEmulator, client: CheckedClient, changes: dict[str, Any]
) -> None:
    order = client.call("POST", "/api/orders", {"order": valid_order()}).json()["order"]
    body = {"order": {k: order["order_id"] if v == ORDER_ID else v for k, v in changes.items()}}
    assert errors("update_request", body) != []
    answer = client.call("PUT", "/api/orders", body)
    assert answer.status_code == 400
    assert emulator.orders(SANDBOX_API_KEY) == [order]


INVALID_SHIPMENTS = {
    "neither id nor number": {"carrier": "AusPost"},
    "order_id as text": {"order_id": "abc"},
    "unknown carrier": {"order_number": "1001", "carrier": "Pigeon"},
    "no packages": {"order_number": "1001", "packages": []},
    "negative package weight": {"order_number": "1001", "packages": [{"weight": -1}]},
    "unknown field": {"order_number": "1001", "labels": True},
}


@pytest.mark.parametrize("body", INVALID_SHIPMENTS.values(), ids=INVALID_SHIPMENTS.keys())
def test_shipment_bodies_the_schema_rejects_are_refused(
    emulator: StarshipitEmulator, client: CheckedClient, body: dict[str, Any]
) -> None:
    client.call("POST", "/api/orders", {"order": valid_order()})
    assert errors("shipment_request", body) != []
    answer = client.call("POST", "/api/orders/shipment", body)
    assert answer.status_code == 400
    assert emulator.get_order(SANDBOX_API_KEY, "1001")["status"] == "Unshipped"  # type: ignore[index]
