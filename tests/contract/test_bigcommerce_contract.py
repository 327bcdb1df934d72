"""Every response the BigCommerce emulator serves matches the official OpenAPI specs.

Specs: ``../shared/specs/bigcommerce`` (unmodified copies of bigcommerce/docs).
Where a spec cannot be applied literally, the amendment is below, narrow and
explained; where the real API differs from the spec, the fact sheet
(``shared/reference/bigcommerce-api.md``) is cited next to the check.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from shipsync.sandbox import EmulatorServer
from shipsync_bigcommerce.sandbox import BigCommerceEmulator

from .openapi import has_json_body, request_schema, require_specs, response_schema, validate

require_specs()  # skipped with a reason on a clone without the vendor specs

ORDERS = "orders.v2.oas2.yml"
STORE_INFO = "store_information.v2.yml"
SETTINGS = "settings.v3.yml"
SHIPPING = "shipping.v3.yml"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# The orders spec's oneOf alternatives overlap: products_Resource and
# orderConsignments_Resource require nothing, so a full order product (or a
# consignment object) also "is" a link, and oneOf fails because both match.
# Real links always carry url and resource, and the object structure always
# has its four groups; requiring them makes the alternatives exclusive
# without loosening anything.
ORDERS_AMEND = {
    "/components/schemas/products_Resource": {"required": ["url", "resource"]},
    "/components/schemas/orderConsignments_Resource": {"required": ["url", "resource"]},
    "/components/schemas/orderConsignment_Get": {
        "required": ["pickups", "shipping", "downloads", "email"]},
}


def orders_response(method: str, path: str, status: int) -> dict[str, Any]:
    return response_schema(ORDERS, method, path, status, amend=ORDERS_AMEND)


# A v2 error body: the spec documents this array shape on PUT shipping address (400).
V2_ERRORS = orders_response("PUT", "/orders/{order_id}/shipping_addresses/{id}", 400)
V3_ERROR = response_schema(SETTINGS, "GET", "/settings/store/units-of-measurement", 422)


class Client:
    def __init__(self, url: str, store_hash: str, token: str) -> None:
        self.url = url
        self.headers = {"X-Auth-Token": token, "Accept": "application/json"}
        self.v2 = f"{url}/stores/{store_hash}/v2"
        self.v3 = f"{url}/stores/{store_hash}/v3"

    def call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        # A fresh connection per call: on keep-alive connections the loopback server
        # answers ~40 ms late (two small writes meet delayed ACKs).
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(method, url, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.call("GET", self.v2 + path, params=params)


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[BigCommerceEmulator, Client, dict[str, int]]]:
    emulator = BigCommerceEmulator()
    emulator.now = lambda: NOW
    store = emulator.add_store("contract", "token", rate_limit=(10_000, 30.0))
    emulator.seed("contract", 300, seed=11, now=NOW)
    special = _special_orders(emulator)
    with EmulatorServer(emulator) as server:
        yield emulator, Client(server.url, store.store_hash, store.access_token), special


def _special_orders(emulator: BigCommerceEmulator) -> dict[str, int]:
    """Orders whose shapes a seed of 300 may not contain, with fixed ids."""
    options = [{"display_name": "Size", "display_value": "M"},
               {"display_name": "Colour", "display_value": "Rust", "type": "Swatch"},
               {"display_name": "HS Code", "display_value": "6109.10", "type": "Text field"}]
    emulator.add_order("contract", id=9001, date_created=NOW - timedelta(days=1),
                       products=[{"name": f"Part {n}", "sku": f"P-{n}"} for n in range(55)])
    emulator.add_order(
        "contract", id=9002, date_created=NOW - timedelta(days=1), status_id=11,
        shipping_addresses=[{"first_name": "山田", "country_iso2": "JP", "shipping_cost": "40"},
                            {"first_name": "Zoë", "country_iso2": "AU"}],
        pickups=[{"pickup_method_id": 2}],
        products=[{"name": "Tee", "quantity": 3, "address_index": 0, "product_options": options},
                  {"product_id": 0, "sku": "", "name": "Custom", "address_index": 1},
                  {"name": "Kettle", "pickup_index": 0},
                  {"type": "digital", "name": "eBook"},
                  {"type": "giftcertificate", "recipient_email": "friend@example.com"}],
    )
    emulator.add_order("contract", id=9003, date_created=NOW - timedelta(days=1), status_id=11)
    emulator.set_customs("contract", 101, "IN", {"ALL": "610910", "US": "6109100012"},
                         commodity_description="Cotton t-shirt")
    return {"bulk": 9001, "mixed": 9002, "plain": 9003}


def _all_pages(client: Client, **params: Any) -> Iterator[requests.Response]:
    page = 1
    while True:
        response = client.get("/orders", page=page, limit=250, **params)
        yield response
        if response.status_code == 204 or len(response.json()) < 250:
            return
        page += 1


def _sample_ids(emulator: BigCommerceEmulator, special: dict[str, int]) -> list[int]:
    """Orders covering every status, plus the special shapes: enough to exercise each branch."""
    by_status: dict[int, int] = {}
    for order_id in emulator.order_ids("contract"):
        by_status.setdefault(emulator.get_order("contract", order_id)["status_id"], order_id)
    return sorted(set(by_status.values()) | set(special.values()))


def _assert_empty_204(response: requests.Response) -> None:
    assert response.status_code == 204, response.text
    assert response.content == b""


# --------------------------------------------------------------------------- orders


@pytest.mark.parametrize("params", [
    {},
    {"include": "consignments", "consignment_structure": "object"},
    {"include": "consignments,consignments.line_items", "consignment_structure": "object"},
    {"status_id": 11, "sort": "date_modified:asc"},
], ids=["plain", "consignments", "line_items", "filtered"])
def test_order_pages_match_the_spec(world: Any, params: dict[str, Any]) -> None:
    _, client, _ = world
    schema = orders_response("GET", "/orders", 200)
    pages = list(_all_pages(client, **params))
    assert pages[0].status_code == 200
    for number, page in enumerate(pages, 1):
        if page.status_code == 200:
            validate(schema, page.json(), name=f"GET /v2/orders page {number} {params}")
        else:
            # The spec documents no 204 here; real stores send it for an empty page
            # (fact sheet §3 and §14.1, bigcommerce/catalyst#2410).
            _assert_empty_204(page)


def test_empty_order_page_is_204_without_a_body(world: Any) -> None:
    _, client, _ = world
    _assert_empty_204(client.get("/orders", min_id=10**9))  # fact sheet §3: 204, not []


def test_single_orders_match_the_spec(world: Any) -> None:
    emulator, client, special = world
    schema = orders_response("GET", "/orders/{order_id}", 200)
    for order_id in _sample_ids(emulator, special):
        for params in ({}, {"include": "consignments.line_items",
                            "consignment_structure": "object"}):
            response = client.get(f"/orders/{order_id}", **params)
            assert response.status_code == 200
            validate(schema, response.json(), name=f"GET /v2/orders/{order_id} {params}")


def test_bulk_order_warning_still_matches_the_spec(world: Any) -> None:
    _, client, special = world
    order = client.get(f"/orders/{special['bulk']}", include="consignments.line_items",
                       consignment_structure="object").json()
    assert "__warning__" in order["consignments"]["shipping"][0]  # the undocumented extra key
    validate(orders_response("GET", "/orders/{order_id}", 200), order, name="bulk order")


# Endpoints the emulator serves (for tests and other clients) that shipsync never calls;
# tests/contract/test_client_requests.py checks a whole cycle calls none of them.
NOT_CALLED = {"GET /v2/orders/count", "GET /v2/orders/{order_id}/consignments",
              "GET /v2/order_statuses", "GET /v2/order_statuses/{status_id}",
              "GET /v2/orders/{order_id}/shipments/count"}


@pytest.mark.not_called("GET /v2/orders/count")
def test_order_count_matches_the_spec(world: Any) -> None:
    _, client, _ = world
    schema = orders_response("GET", "/orders/count", 200)
    for params in ({}, {"status_id": 11}):
        response = client.get("/orders/count", **params)
        validate(schema, response.json(), name=f"GET /v2/orders/count {params}")


def test_order_update_matches_the_spec(world: Any) -> None:
    _, client, special = world
    body = {"status_id": 9, "staff_notes": "Packed"}
    validate(request_schema(ORDERS, "PUT", "/orders/{order_id}", amend=ORDERS_AMEND,
                            reject_read_only=True), body, name="PUT body")
    response = client.call("PUT", f"{client.v2}/orders/{special['plain']}", json=body)
    assert response.status_code == 200
    validate(orders_response("PUT", "/orders/{order_id}", 200), response.json(),
             name="PUT /v2/orders/{id}")


# --------------------------------------------------------------------------- sub-resources


def test_order_products_match_the_spec(world: Any) -> None:
    emulator, client, special = world
    collection = orders_response("GET", "/orders/{order_id}/products", 200)
    single = orders_response("GET", "/orders/{order_id}/products/{product_id}", 200)
    for order_id in _sample_ids(emulator, special):
        response = client.get(f"/orders/{order_id}/products")
        validate(collection, response.json(), name=f"products of {order_id}")
        first = response.json()[0]["id"]
        validate(single, client.get(f"/orders/{order_id}/products/{first}").json(),
                 name=f"product {first} of {order_id}")


def test_shipping_addresses_match_the_spec(world: Any) -> None:
    emulator, client, special = world
    collection = orders_response("GET", "/orders/{order_id}/shipping_addresses", 200)
    single = orders_response("GET", "/orders/{order_id}/shipping_addresses/{id}", 200)
    for order_id in _sample_ids(emulator, special):
        response = client.get(f"/orders/{order_id}/shipping_addresses")
        if response.status_code == 204:
            # Pickup-only and digital orders have no address (fact sheet §8).
            _assert_empty_204(response)
            continue
        validate(collection, response.json(), name=f"addresses of {order_id}")
        first = response.json()[0]["id"]
        validate(single, client.get(f"/orders/{order_id}/shipping_addresses/{first}").json(),
                 name=f"address {first} of {order_id}")


@pytest.mark.not_called("GET /v2/orders/{order_id}/consignments")
def test_consignments_match_the_spec(world: Any) -> None:
    emulator, client, special = world
    schema = orders_response("GET", "/orders/{order_id}/consignments", 200)
    for order_id in _sample_ids(emulator, special):
        for params in ({}, {"include": "consignments.line_items"}):
            response = client.get(f"/orders/{order_id}/consignments", **params)
            validate(schema, response.json(), name=f"consignments of {order_id} {params}")


def test_shipments_match_the_spec(world: Any) -> None:
    emulator, client, special = world
    collection = orders_response("GET", "/orders/{order_id}/shipments", 200)
    single = orders_response("GET", "/orders/{order_id}/shipments/{shipment_id}", 200)
    count = orders_response("GET", "/orders/{order_id}/shipments/count", 200)
    assert not has_json_body(ORDERS, "GET", "/orders/{order_id}/shipments", 204)
    seen_list = seen_empty = False
    for order_id in _sample_ids(emulator, special):
        response = client.get(f"/orders/{order_id}/shipments")
        validate(count, client.get(f"/orders/{order_id}/shipments/count").json(),
                 name=f"shipment count of {order_id}")
        if response.status_code == 204:
            _assert_empty_204(response)  # documented: "No Content (No shipments exist)"
            seen_empty = True
            continue
        seen_list = True
        validate(collection, response.json(), name=f"shipments of {order_id}")
        first = response.json()[0]["id"]
        validate(single, client.get(f"/orders/{order_id}/shipments/{first}").json(),
                 name=f"shipment {first}")
    assert seen_list and seen_empty


def test_created_shipment_matches_the_spec(world: Any) -> None:
    emulator, client, special = world
    order = emulator.get_order("contract", special["mixed"])
    tee = order["consignments"]["shipping"][0]["line_items"][0]
    body = {"order_address_id": tee["order_address_id"],
            "items": [{"order_product_id": tee["id"], "quantity": 1}],
            "tracking_number": "33ABC0001", "shipping_provider": "",
            "tracking_carrier": "australia-post", "comments": "Thanks, 山田さん"}
    validate(request_schema(ORDERS, "POST", "/orders/{order_id}/shipments",
                            reject_read_only=True), body, name="POST shipments body")
    response = client.call("POST", f"{client.v2}/orders/{special['mixed']}/shipments", json=body)
    assert response.status_code == 201
    validate(orders_response("POST", "/orders/{order_id}/shipments", 201), response.json(),
             name="POST /v2/orders/{id}/shipments")


# --------------------------------------------------------------------------- statuses, store, v3


@pytest.mark.not_called("GET /v2/order_statuses")
def test_order_statuses_match_the_spec(world: Any) -> None:
    _, client, _ = world
    validate(orders_response("GET", "/order_statuses", 200), client.get("/order_statuses").json(),
             name="GET /v2/order_statuses")
    validate(orders_response("GET", "/order_statuses/{status_id}", 200),
             client.get("/order_statuses/11").json(), name="GET /v2/order_statuses/11")


def test_store_matches_the_spec(world: Any) -> None:
    _, client, _ = world
    validate(response_schema(STORE_INFO, "GET", "/store", 200), client.get("/store").json(),
             name="GET /v2/store")


def test_units_of_measurement_match_the_spec(world: Any) -> None:
    _, client, _ = world
    response = client.call("GET", client.v3 + "/settings/store/units-of-measurement")
    validate(response_schema(SETTINGS, "GET", "/settings/store/units-of-measurement", 200),
             response.json(), name="GET /v3/settings/store/units-of-measurement")


def test_customs_information_matches_the_spec(world: Any) -> None:
    _, client, _ = world
    schema = response_schema(SHIPPING, "GET", "/shipping/products/customs-information", 200)
    url = client.v3 + "/shipping/products/customs-information"
    for params in ({}, {"product_id:in": "101,102,999"}, {"limit": 2, "page": 2}):
        body = client.call("GET", url, params=params).json()
        assert body["data"], params
        validate(schema, body, name=f"GET customs-information {params}")
    # The spec's metaCollection says total_page; real v3 responses (and the catalog
    # specs) say total_pages (fact sheet §3). Neither is required, so both validate.
    assert "total_pages" in body["meta"]["pagination"]


# --------------------------------------------------------------------------- errors


def test_v2_errors_match_the_documented_error_array(world: Any) -> None:
    _, client, special = world
    plain = f"{client.v2}/orders/{special['plain']}"
    cases = {
        "401": client.call("GET", client.v2 + "/orders", headers={"X-Auth-Token": "wrong"}),
        "404": client.get("/orders/424242"),
        "413": client.get("/orders", limit=251),
        "400 read-only": client.call("PUT", plain, json={"status": "Shipped"}),
        "400 shipment": client.call("POST", plain + "/shipments",
                                    json={"order_address_id": 1, "items": []}),
    }
    for name, response in cases.items():
        assert response.status_code == int(name[:3]), name
        validate(V2_ERRORS, response.json(), name=f"v2 error {name}")
    not_found = client.get("/orders/424242/consignments")
    validate(orders_response("GET", "/orders/{order_id}/consignments", 404), not_found.json(),
             name="404 consignments")


def test_v3_errors_match_the_documented_error_object(world: Any) -> None:
    _, client, _ = world
    unauthorised = client.call("GET", client.v3 + "/settings/store/units-of-measurement",
                               headers={"X-Auth-Token": "wrong"})
    bad_filter = client.call("GET", client.v3 + "/shipping/products/customs-information",
                             params={"product_id:in": "one,two"})
    for response, status in ((unauthorised, 401), (bad_filter, 422)):
        assert response.status_code == status
        validate(V3_ERROR, response.json(), name=f"v3 error {status}")


def test_amended_spec_rejects_what_the_literal_spec_waves_through(world: Any) -> None:
    emulator, _, special = world
    order = emulator.get_order("contract", special["mixed"])
    order["consignments"]["shipping"][0]["line_items"][0]["colour"] = "red"
    literal = response_schema(ORDERS, "GET", "/orders/{order_id}", 200)
    # Literally, any object passes as a consignments *link*, so nothing inside is checked.
    validate(literal, order, name="corrupted order, literal spec")
    with pytest.raises(AssertionError, match=r"consignments"):
        validate(orders_response("GET", "/orders/{order_id}", 200), order, name="amended spec")
