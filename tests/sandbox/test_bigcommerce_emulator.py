"""Behaviour of the BigCommerce emulator, over real HTTP on loopback."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from shipsync import SandboxSpec
from shipsync.sandbox import EmulatorServer, FaultRule
from shipsync_bigcommerce.plugin import shipsync_sandboxes
from shipsync_bigcommerce.sandbox import (
    BigCommerceEmulator,
    format_rfc2822,
    parse_api_date,
    store_hash_for,
)
from shipsync_bigcommerce.seed import CATALOG, generate_customs, generate_orders

STORE = "abc123"
TOKEN = "token-abc"
T0 = datetime(2026, 1, 10, 21, 5, 30, tzinfo=UTC)


def sandbox_spec() -> SandboxSpec:
    """The entry the plugin registers (its callables import the emulator when called)."""
    [spec] = shipsync_sandboxes()
    return spec


class Api:
    """A thin client for one store, the way shipsync's client talks to BigCommerce."""

    def __init__(self, url: str, store_hash: str = STORE, token: str = TOKEN) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers.update({"X-Auth-Token": token, "Accept": "application/json"})
        self.v2 = f"{url}/stores/{store_hash}/v2"
        self.v3 = f"{url}/stores/{store_hash}/v3"

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.session.get(self.v2 + path, params=params, timeout=5)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.session.post(self.v2 + path, json=body, timeout=5)

    def put(self, path: str, body: Any) -> requests.Response:
        return self.session.put(self.v2 + path, json=body, timeout=5)


# The answers this module was written against, before the emulator offered variants:
# consignment ids equal to the shipping addresses' ids, one currency. The other variants
# are tested in test_variants.py.
FIRST_ANSWERS = {"consignment_ids": "address", "currencies": "same"}


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[BigCommerceEmulator, EmulatorServer]]:
    # One server per module: stopping one takes half a second (serve_forever's poll interval).
    emulator = BigCommerceEmulator(variants=FIRST_ANSWERS)
    with EmulatorServer(emulator) as server:
        yield emulator, server


@pytest.fixture
def emulator(running: tuple[BigCommerceEmulator, EmulatorServer]) -> Iterator[BigCommerceEmulator]:
    emulator = running[0]
    emulator.faults.clear()
    emulator.log.clear()
    emulator.fault_reset_ms = None
    emulator.now = lambda: T0 + timedelta(days=1)
    emulator.add_store(STORE, TOKEN, rate_limit=None)
    yield emulator
    for name in list(emulator.stores):
        emulator.remove_store(name)


@pytest.fixture
def server(emulator: BigCommerceEmulator,
           running: tuple[BigCommerceEmulator, EmulatorServer]) -> EmulatorServer:
    return running[1]


@pytest.fixture
def api(server: EmulatorServer) -> Api:
    return Api(server.url)


def two_address_order(emulator: BigCommerceEmulator, **extra: Any) -> dict[str, Any]:
    """Order with two shipping addresses (2 + 1 units) and a pickup line."""
    return emulator.add_order(
        STORE,
        date_created=T0,
        shipping_addresses=[{"first_name": "Zoë", "city": "Sydney", "country_iso2": "AU"},
                            {"first_name": "José", "city": "Auckland", "country_iso2": "NZ"}],
        pickups=[{"pickup_method_id": 1, "location": {"name": "Surry Hills Store"}}],
        products=[{"name": "Tee", "quantity": 2, "address_index": 0},
                  {"name": "Mug", "quantity": 1, "address_index": 1},
                  {"name": "Kettle", "quantity": 1, "pickup_index": 0}],
        **extra,
    )


def shipping_lines(order: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [c["line_items"] for c in order["consignments"]["shipping"]]


# --------------------------------------------------------------------------- auth


def test_missing_token_is_401_in_v2_error_shape(api: Api) -> None:
    response = requests.get(api.v2 + "/orders", timeout=5)
    assert response.status_code == 401
    body = response.json()
    assert isinstance(body, list) and body[0]["status"] == 401 and body[0]["message"]


def test_wrong_token_is_401(server: EmulatorServer) -> None:
    response = Api(server.url, token="not-the-token").get("/orders")
    assert response.status_code == 401


def test_unknown_store_hash_is_404(server: EmulatorServer) -> None:
    response = Api(server.url, store_hash="nosuchstore").get("/orders")
    assert response.status_code == 404
    assert response.json() == [{"status": 404, "message": "The requested resource was not found."}]


def test_v3_errors_are_problem_objects(api: Api) -> None:
    response = requests.get(api.v3 + "/settings/store/units-of-measurement", timeout=5)
    assert response.status_code == 401
    body = response.json()
    assert isinstance(body, dict) and body["status"] == 401 and body["title"]


def test_each_store_accepts_only_its_own_token(emulator: BigCommerceEmulator,
                                               server: EmulatorServer) -> None:
    emulator.add_store("second", "token-second", rate_limit=None)
    emulator.add_order("second", status_id=11)
    assert Api(server.url, "second", "token-second").get("/orders").status_code == 200
    assert Api(server.url, "second", TOKEN).get("/orders").status_code == 401
    assert Api(server.url).get("/orders").status_code == 204  # the first store has none


# --------------------------------------------------------------------------- listing orders


def test_empty_order_list_is_204_with_empty_body(api: Api) -> None:
    response = api.get("/orders")
    assert response.status_code == 204
    assert response.content == b""


def test_paging_past_the_end_is_204(emulator: BigCommerceEmulator, api: Api) -> None:
    for _ in range(3):
        emulator.add_order(STORE)
    assert len(api.get("/orders", limit=2, page=2).json()) == 1
    response = api.get("/orders", limit=2, page=3)
    assert response.status_code == 204 and response.content == b""


def test_limit_above_250_is_413_with_max_limit(api: Api) -> None:
    response = api.get("/orders", limit=251)
    assert response.status_code == 413
    assert response.json() == [{"status": 413,
                                "message": "The specified limit exceeds the maximum allowed.",
                                "details": {"max_limit": 250}}]
    assert api.get("/orders", limit=250).status_code == 204


def test_default_page_is_50_orders_sorted_by_id(emulator: BigCommerceEmulator, api: Api) -> None:
    for order_id in reversed(range(200, 260)):
        emulator.add_order(STORE, id=order_id)
    ids = [o["id"] for o in api.get("/orders").json()]
    assert ids == list(range(200, 250))


def test_status_filter_returns_only_that_status(emulator: BigCommerceEmulator, api: Api) -> None:
    for status_id in (11, 9, 11, 2):
        emulator.add_order(STORE, status_id=status_id)
    assert [o["status_id"] for o in api.get("/orders", status_id=11).json()] == [11, 11]
    assert api.get("/orders", status_id=5).status_code == 204


def test_id_filters_are_inclusive(emulator: BigCommerceEmulator, api: Api) -> None:
    for order_id in range(100, 106):
        emulator.add_order(STORE, id=order_id)
    ids = [o["id"] for o in api.get("/orders", min_id=101, max_id=103).json()]
    assert ids == [101, 102, 103]


@pytest.mark.parametrize("bound", [
    "Sat, 10 Jan 2026 21:05:30 +0000",
    "Sat, 10 Jan 2026 16:05:30 -0500",
    "2026-01-10T21:05:30+00:00",
    "2026-01-11T08:05:30.000+11:00",
    "2026-01-10T21:05:30Z",
])
def test_date_filters_accept_rfc2822_and_iso8601(emulator: BigCommerceEmulator, api: Api,
                                                 bound: str) -> None:
    emulator.add_order(STORE, id=1, date_created=T0 - timedelta(seconds=1))
    emulator.add_order(STORE, id=2, date_created=T0)
    emulator.add_order(STORE, id=3, date_created=T0 + timedelta(hours=1))
    assert [o["id"] for o in api.get("/orders", min_date_created=bound).json()] == [2, 3]
    assert [o["id"] for o in api.get("/orders", max_date_created=bound).json()] == [1, 2]


def test_unencoded_plus_in_a_date_filter_still_works(emulator: BigCommerceEmulator,
                                                     api: Api) -> None:
    emulator.add_order(STORE, id=1, date_created=T0 - timedelta(days=1))
    emulator.add_order(STORE, id=2, date_created=T0)
    # '+' is left raw, so the server's query parser turns it into a space.
    raw = api.v2 + "/orders?min_date_created=Sat, 10 Jan 2026 21:05:30 +0000"
    assert [o["id"] for o in api.session.get(raw, timeout=5).json()] == [2]
    raw_iso = api.v2 + "/orders?min_date_created=2026-01-11T08:05:30+11:00"
    assert [o["id"] for o in api.session.get(raw_iso, timeout=5).json()] == [2]


def test_invalid_date_filter_is_400(api: Api) -> None:
    response = api.get("/orders", min_date_modified="yesterday-ish")
    assert response.status_code == 400
    assert "min_date_modified" in response.json()[0]["message"]


def test_date_modified_filter_and_sort(emulator: BigCommerceEmulator, api: Api) -> None:
    for order_id, hours in ((1, 5), (2, 1), (3, 3)):
        emulator.add_order(STORE, id=order_id, date_created=T0,
                           date_modified=T0 + timedelta(hours=hours))
    since = format_rfc2822(T0 + timedelta(hours=2))
    ascending = api.get("/orders", min_date_modified=since, sort="date_modified:asc").json()
    assert [o["id"] for o in ascending] == [3, 1]
    descending = api.get("/orders", sort="date_modified:desc").json()
    assert [o["id"] for o in descending] == [1, 3, 2]
    assert [o["id"] for o in api.get("/orders", sort="id:desc").json()] == [3, 2, 1]
    assert api.get("/orders", sort="colour").status_code == 400


def test_dates_are_rfc2822_utc_and_money_is_four_decimal_strings(
    emulator: BigCommerceEmulator, api: Api,
) -> None:
    emulator.add_order(STORE, id=7, date_created=T0,
                       products=[{"price_inc_tax": "54", "quantity": 1, "weight": 1.5}])
    order = api.get("/orders/7").json()
    assert order["date_created"] == "Sat, 10 Jan 2026 21:05:30 +0000"
    assert order["date_shipped"] == ""
    assert order["subtotal_inc_tax"] == "54.0000"
    product = api.get("/orders/7/products").json()[0]
    assert product["weight"] == "1.5000" and product["price_inc_tax"] == "54.0000"


def test_deleted_orders_are_left_out_of_lists_and_counts(emulator: BigCommerceEmulator,
                                                         api: Api) -> None:
    emulator.add_order(STORE, id=1)
    emulator.add_order(STORE, id=2, is_deleted=True)
    assert [o["id"] for o in api.get("/orders").json()] == [1]
    assert api.get("/orders/count").json()["count"] == 1
    assert api.get("/orders/2").json()["is_deleted"] is True


def test_count_lists_every_status_with_its_count(emulator: BigCommerceEmulator, api: Api) -> None:
    for status_id in (11, 11, 9):
        emulator.add_order(STORE, status_id=status_id)
    body = api.get("/orders/count").json()
    by_id = {s["id"]: s["count"] for s in body["statuses"]}
    assert body["count"] == 3
    assert sorted(by_id) == list(range(15))
    assert by_id[11] == 2 and by_id[9] == 1 and by_id[2] == 0
    assert api.get("/orders/count", status_id=9).json()["count"] == 1


def test_unknown_order_is_404_in_v2_shape(api: Api) -> None:
    response = api.get("/orders/999")
    assert response.status_code == 404
    assert response.json()[0]["status"] == 404


# --------------------------------------------------------------------------- consignments


def test_consignments_inline_as_object(emulator: BigCommerceEmulator, api: Api) -> None:
    order = two_address_order(emulator)
    emulator.add_order(STORE, id=order["id"] + 1, products=[
        {"type": "digital", "name": "eBook"},
        {"type": "giftcertificate", "recipient_email": "friend@example.com"},
    ])
    listed = api.get("/orders", include="consignments", consignment_structure="object").json()
    consignments = listed[0]["consignments"]
    assert [len(c["line_items"]) for c in consignments["shipping"]] == [1, 1]
    assert set(consignments["shipping"][0]["line_items"][0]) == {"url", "resource"}
    pickup = consignments["pickups"][0]
    assert pickup["location"]["name"] == "Surry Hills Store"
    digital = listed[1]["consignments"]
    assert len(digital["downloads"]) == 1 and digital["shipping"] == []
    assert digital["email"]["gift_certificates"][0]["recipient_email"] == "friend@example.com"
    # Without the include, consignments is a link.
    plain = api.get(f"/orders/{order['id']}").json()["consignments"]
    assert plain["resource"] == f"/orders/{order['id']}/consignments"


def test_consignment_line_items_are_full_products_and_pickup_lines_point_at_the_pickup(
    emulator: BigCommerceEmulator, api: Api,
) -> None:
    order_id = two_address_order(emulator)["id"]
    order = api.get(f"/orders/{order_id}", include="consignments.line_items",
                    consignment_structure="object").json()
    shipping = order["consignments"]["shipping"]
    assert [line["name"] for line in shipping[0]["line_items"]] == ["Tee"]
    assert shipping[0]["line_items"][0]["order_address_id"] == shipping[0]["id"]
    pickup = order["consignments"]["pickups"][0]
    assert pickup["line_items"][0]["order_pickup_method_id"] == pickup["id"]
    assert pickup["line_items"][0]["order_address_id"] == 0


def test_consignment_line_items_stop_at_50_with_a_warning(emulator: BigCommerceEmulator,
                                                          api: Api) -> None:
    emulator.add_order(STORE, id=1, products=[{"name": f"Part {n}"} for n in range(55)])
    order = api.get("/orders", include="consignments,consignments.line_items",
                    consignment_structure="object").json()[0]
    consignment = order["consignments"]["shipping"][0]
    assert len(consignment["line_items"]) == 50
    assert "only 50 are included" in consignment["__warning__"]["message"]
    assert "/v2/orders/{order_id}/products" in consignment["__warning__"]["message"]
    assert consignment["items_total"] == 55
    # The products endpoint pages through all of them.
    assert len(api.get("/orders/1/products").json()) == 50
    assert len(api.get("/orders/1/products", page=2).json()) == 5


def test_consignments_endpoint_serves_links_or_line_items(emulator: BigCommerceEmulator,
                                                          api: Api) -> None:
    order_id = two_address_order(emulator)["id"]
    links = api.get(f"/orders/{order_id}/consignments").json()
    assert set(links["shipping"][0]["line_items"][0]) == {"url", "resource"}
    link = links["shipping"][0]["line_items"][0]
    assert api.session.get(link["url"], timeout=5).json()["name"] == "Tee"
    full = api.get(f"/orders/{order_id}/consignments", include="consignments.line_items").json()
    assert full["shipping"][0]["line_items"][0]["name"] == "Tee"
    assert api.get("/orders/999/consignments").status_code == 404


def test_pickup_only_order_has_no_shipping_addresses(emulator: BigCommerceEmulator,
                                                     api: Api) -> None:
    emulator.add_order(STORE, id=5, status_id=8, pickups=[{}], products=[{"quantity": 1}])
    response = api.get("/orders/5/shipping_addresses")
    assert response.status_code == 204 and response.content == b""
    assert api.get("/orders/5").json()["shipping_address_count"] == 0


def test_order_product_shapes(emulator: BigCommerceEmulator, api: Api) -> None:
    emulator.add_order(STORE, id=9, products=[
        {"product_id": 0, "sku": "", "name": "Custom engraving job"},
        {"product_id": 102, "quantity": 3, "quantity_refunded": 1, "product_options": [
            {"display_name": "Size", "display_value": "XL"},
            {"display_name": "hs code", "display_value": "6110.11", "type": "Text field"}]},
    ])
    custom, hoodie = api.get("/orders/9/products").json()
    assert (custom["product_id"], custom["sku"], custom["variant_id"]) == (0, "", 0)
    assert hoodie["is_refunded"] is True and hoodie["quantity_refunded"] == 1
    options = {o["display_name"]: o["display_value"] for o in hoodie["product_options"]}
    assert options == {"Size": "XL", "hs code": "6110.11"}
    assert hoodie["product_options"][0]["order_product_id"] == hoodie["id"]


# --------------------------------------------------------------------------- shipments


def test_shipments_list_is_204_when_there_are_none(emulator: BigCommerceEmulator,
                                                   api: Api) -> None:
    emulator.add_order(STORE, id=3)
    response = api.get("/orders/3/shipments")
    assert response.status_code == 204 and response.content == b""
    assert api.get("/orders/3/shipments/count").json() == {"count": 0}


def test_partial_then_full_shipment_moves_status_3_then_2(emulator: BigCommerceEmulator,
                                                          api: Api) -> None:
    order = two_address_order(emulator)
    order_id = order["id"]
    (tee,), (mug,) = shipping_lines(order)
    first, second = (c["id"] for c in order["consignments"]["shipping"])
    before = api.get(f"/orders/{order_id}").json()["date_modified"]
    emulator.now = lambda: T0 + timedelta(days=2)

    response = api.post(f"/orders/{order_id}/shipments", {
        "order_address_id": first, "items": [{"order_product_id": tee["id"], "quantity": 1}],
        "tracking_number": "33ABC0001", "shipping_provider": "",
        "tracking_carrier": "australia-post",
    })
    assert response.status_code == 201
    shipment = response.json()
    assert shipment["generated_tracking_link"] == \
        "https://track.aftership.com/australia-post/33ABC0001"
    assert shipment["tracking_link"] == ""
    assert shipment["items"] == [{"order_product_id": tee["id"], "product_id": tee["product_id"],
                                  "quantity": 1}]
    partial = api.get(f"/orders/{order_id}").json()
    assert (partial["status_id"], partial["status"]) == (3, "Partially Shipped")
    assert partial["items_shipped"] == 1 and partial["date_shipped"] == ""
    assert partial["date_modified"] != before

    api.post(f"/orders/{order_id}/shipments", {
        "order_address_id": first, "items": [{"order_product_id": tee["id"], "quantity": 1}]})
    assert api.get(f"/orders/{order_id}").json()["status_id"] == 3
    emulator.now = lambda: T0 + timedelta(days=3)
    api.post(f"/orders/{order_id}/shipments", {
        "order_address_id": str(second),  # the guide sends it as a string
        "items": [{"order_product_id": mug["id"], "quantity": 1}]})

    shipped = api.get(f"/orders/{order_id}").json()
    assert (shipped["status_id"], shipped["status"]) == (2, "Shipped")
    assert shipped["date_shipped"] == format_rfc2822(T0 + timedelta(days=3))
    assert shipped["items_shipped"] == 3  # the pickup line is not shipped, and need not be
    products = {p["id"]: p for p in api.get(f"/orders/{order_id}/products").json()}
    assert products[tee["id"]]["quantity_shipped"] == 2
    addresses = api.get(f"/orders/{order_id}/shipping_addresses").json()
    assert [a["items_shipped"] for a in addresses] == [2, 1]
    assert api.get(f"/orders/{order_id}/shipments/count").json() == {"count": 3}
    assert len(emulator.shipments(STORE, order_id)) == 3
    one = api.get(f"/orders/{order_id}/shipments/{shipment['id']}").json()
    assert one["tracking_number"] == "33ABC0001"


def test_shipment_with_custom_tracking_link_keeps_it(emulator: BigCommerceEmulator,
                                                     api: Api) -> None:
    order = emulator.add_order(STORE, id=4)
    (line,), = shipping_lines(order)
    shipment = api.post("/orders/4/shipments", {
        "order_address_id": line["order_address_id"],
        "items": [{"order_product_id": line["id"], "quantity": 1}],
        "tracking_number": "ZYX1", "tracking_carrier": "star-track",
        "tracking_link": "https://track.example/ZYX1",
    }).json()
    assert shipment["tracking_link"] == "https://track.example/ZYX1"
    assert shipment["generated_tracking_link"] == ""
    assert api.get("/orders/4").json()["status_id"] == 2


def _shipment_cases(order: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str]]:
    (tee,), (mug,) = shipping_lines(order)
    pickup_line = order["consignments"]["pickups"][0]["line_items"][0]
    first = tee["order_address_id"]

    def body(items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {"order_address_id": first, "items": items, **extra}

    return {
        "unknown address": ({"order_address_id": 99999,
                             "items": [{"order_product_id": tee["id"], "quantity": 1}]},
                            "has no shipping address 99999"),
        "unknown product": (body([{"order_product_id": 99999, "quantity": 1}]),
                            "does not belong to order"),
        "line on another address": (body([{"order_product_id": mug["id"], "quantity": 1}]),
                                    f"ships to address {mug['order_address_id']}"),
        "pickup line": (body([{"order_product_id": pickup_line["id"], "quantity": 1}]),
                        "pickup consignment"),
        "zero quantity": (body([{"order_product_id": tee["id"], "quantity": 0}]),
                          "must be at least 1"),
        "over-shipping": (body([{"order_product_id": tee["id"], "quantity": 3}]),
                          "only 2 remain to ship"),
        "over-shipping across items": (body([{"order_product_id": tee["id"], "quantity": 2},
                                             {"order_product_id": tee["id"], "quantity": 1}]),
                                       "Cannot ship 3"),
        "no items": (body([]), "'items' was not supplied"),
        "no address": ({"items": [{"order_product_id": tee["id"], "quantity": 1}]},
                       "'order_address_id' was not supplied"),
        "long tracking number": (body([{"order_product_id": tee["id"], "quantity": 1}],
                                      tracking_number="X" * 51), "'tracking_number' is too long"),
        "long tracking link": (body([{"order_product_id": tee["id"], "quantity": 1}],
                                    tracking_link="https://x/" + "y" * 500),
                               "'tracking_link' is too long"),
        "read-only field": (body([{"order_product_id": tee["id"], "quantity": 1}], id=5),
                            "The field 'id' cannot be written to"),
    }


SHIPMENT_CASES = ["unknown address", "unknown product", "line on another address", "pickup line",
                  "zero quantity", "over-shipping", "over-shipping across items", "no items",
                  "no address", "long tracking number", "long tracking link", "read-only field"]


@pytest.mark.parametrize("case", SHIPMENT_CASES)
def test_invalid_shipments_are_400_and_change_nothing(emulator: BigCommerceEmulator, api: Api,
                                                      case: str) -> None:
    order = two_address_order(emulator)
    body, expected = _shipment_cases(order)[case]
    response = api.post(f"/orders/{order['id']}/shipments", body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert isinstance(error, list) and error[0]["status"] == 400
    assert expected in error[0]["message"]
    after = emulator.get_order(STORE, order["id"])
    assert (after["status_id"], after["items_shipped"]) == (11, 0)
    assert emulator.shipments(STORE, order["id"]) == []


def test_refunded_units_cannot_be_shipped(emulator: BigCommerceEmulator, api: Api) -> None:
    order = emulator.add_order(STORE, id=6, products=[{"quantity": 3, "quantity_refunded": 2}])
    (line,), = shipping_lines(order)
    base = {"order_address_id": line["order_address_id"]}
    too_many = api.post("/orders/6/shipments",
                        {**base, "items": [{"order_product_id": line["id"], "quantity": 2}]})
    assert too_many.status_code == 400 and "only 1 remain" in too_many.json()[0]["message"]
    ok = api.post("/orders/6/shipments",
                  {**base, "items": [{"order_product_id": line["id"], "quantity": 1}]})
    assert ok.status_code == 201
    assert api.get("/orders/6").json()["status_id"] == 2  # shipped + refunded covers all


def test_digital_lines_cannot_be_shipped(emulator: BigCommerceEmulator, api: Api) -> None:
    order = emulator.add_order(STORE, id=8, products=[{}, {"type": "digital"}])
    (physical,), = shipping_lines(order)
    digital = order["consignments"]["downloads"][0]["line_items"][0]
    response = api.post("/orders/8/shipments", {
        "order_address_id": physical["order_address_id"],
        "items": [{"order_product_id": digital["id"], "quantity": 1}]})
    assert response.status_code == 400 and "digital" in response.json()[0]["message"]


# --------------------------------------------------------------------------- PUT order


def test_put_status_changes_it_and_bumps_date_modified(emulator: BigCommerceEmulator,
                                                       api: Api) -> None:
    emulator.add_order(STORE, id=10, date_created=T0)
    emulator.now = lambda: T0 + timedelta(hours=5)
    response = api.put("/orders/10", {"status_id": 2})
    assert response.status_code == 200
    order = response.json()
    assert (order["status_id"], order["status"]) == (2, "Shipped")
    assert order["date_modified"] == format_rfc2822(T0 + timedelta(hours=5))
    assert api.put("/orders/10", {"status_id": 42}).status_code == 400


@pytest.mark.parametrize("field", ["status", "items_total", "date_created", "date_modified", "id"])
def test_put_refuses_read_only_fields(emulator: BigCommerceEmulator, api: Api, field: str) -> None:
    emulator.add_order(STORE, id=11)
    response = api.put("/orders/11", {"status_id": 2, field: "x"})
    assert response.status_code == 400
    assert response.json() == [{"status": 400, "message": (
        f"The field '{field}' cannot be written to. Please remove it from your request "
        "before trying again.")}]
    assert api.get("/orders/11").json()["status_id"] == 11


def test_put_unknown_order_is_404(api: Api) -> None:
    assert api.put("/orders/404", {"status_id": 2}).status_code == 404


# --------------------------------------------------------------------------- store data


def test_order_statuses_are_0_to_14_with_documented_names(api: Api) -> None:
    statuses = {s["id"]: s["name"] for s in api.get("/order_statuses").json()}
    assert sorted(statuses) == list(range(15))
    assert statuses[11] == "Awaiting Fulfillment" and statuses[9] == "Awaiting Shipment"
    assert statuses[8] == "Awaiting Pickup" and statuses[14] == "Partially Refunded"


def test_store_and_units_follow_the_stores_weight_unit(emulator: BigCommerceEmulator,
                                                       server: EmulatorServer) -> None:
    emulator.add_store("imperial", "token-imp", weight_units="Ounces", currency="USD",
                       rate_limit=None)
    api = Api(server.url, "imperial", "token-imp")
    store = api.get("/store").json()
    assert (store["id"], store["weight_units"], store["currency"]) == ("imperial", "Ounces", "USD")
    units = api.session.get(api.v3 + "/settings/store/units-of-measurement", timeout=5).json()
    assert units["data"]["weight_measurement"] == "Ounces"
    assert units["data"]["length_measurement"] == "Inches"
    assert units["meta"] == {}


def test_customs_information_filters_by_product_and_pages(emulator: BigCommerceEmulator,
                                                          api: Api) -> None:
    for product_id in (1, 2, 3):
        emulator.set_customs(STORE, product_id, "AU", {"ALL": f"61091{product_id}"})
    url = api.v3 + "/shipping/products/customs-information"
    body = api.session.get(url, params={"product_id:in": "1,3,7"}, timeout=5).json()
    assert [r["product_id"] for r in body["data"]] == [1, 3]
    assert body["data"][0]["hs_codes"] == {"ALL": "610911"}
    assert body["meta"]["pagination"]["total"] == 2
    page = api.session.get(url, params={"limit": 2, "page": 2}, timeout=5).json()
    assert [r["product_id"] for r in page["data"]] == [3]
    assert page["meta"]["pagination"]["total_pages"] == 2


# --------------------------------------------------------------------------- rate limits


def test_rate_limit_headers_then_429_with_retry_after(emulator: BigCommerceEmulator,
                                                      server: EmulatorServer) -> None:
    emulator.add_store("limited", "token-lim", rate_limit=(5, 30.0))
    api = Api(server.url, "limited", "token-lim")
    lefts = []
    for _ in range(5):
        response = api.get("/orders")
        assert response.headers["X-Rate-Limit-Requests-Quota"] == "5"
        assert response.headers["X-Rate-Limit-Time-Window-Ms"] == "30000"
        assert 0 < int(response.headers["X-Rate-Limit-Time-Reset-Ms"]) <= 30000
        lefts.append(int(response.headers["X-Rate-Limit-Requests-Left"]))
    assert lefts == [4, 3, 2, 1, 0]
    limited = api.get("/orders")
    assert limited.status_code == 429
    assert limited.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert 1 <= int(limited.headers["X-Retry-After"]) <= 30
    assert limited.json()[0]["status"] == 429


def test_rate_limit_window_resets(emulator: BigCommerceEmulator, server: EmulatorServer) -> None:
    emulator.add_store("quick", "token-q", rate_limit=(2, 0.3))
    api = Api(server.url, "quick", "token-q")
    assert [api.get("/orders").status_code for _ in range(3)] == [204, 204, 429]
    time.sleep(0.35)
    assert api.get("/orders").status_code == 204


def test_no_rate_limit_headers_when_limiting_is_off(api: Api) -> None:
    assert "X-Rate-Limit-Requests-Left" not in api.get("/orders").headers


# --------------------------------------------------------------------------- faults


def _faults(emulator: BigCommerceEmulator, **rule: Any) -> None:
    emulator.faults.replace([FaultRule(**rule)])


def test_fault_429_carries_rate_limit_headers(emulator: BigCommerceEmulator,
                                              server: EmulatorServer) -> None:
    emulator.add_store("lim", "token-lim", rate_limit=(150, 30.0))
    api = Api(server.url, "lim", "token-lim")
    _faults(emulator, kind="429", times=1)
    response = api.get("/orders")
    assert response.status_code == 429
    assert response.headers["X-Rate-Limit-Requests-Quota"] == "150"
    assert response.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert int(response.headers["X-Retry-After"]) >= 1
    emulator.fault_reset_ms = 250
    _faults(emulator, kind="429", times=1)
    quick = api.get("/orders")
    assert quick.headers["X-Rate-Limit-Time-Reset-Ms"] == "250"
    assert api.get("/orders").status_code == 204  # the rule fired its one time


def test_fault_429_bare_has_no_rate_limit_headers(emulator: BigCommerceEmulator,
                                                  api: Api) -> None:
    _faults(emulator, kind="429_bare", times=1)
    response = api.get("/orders")
    assert response.status_code == 429
    assert not any(h.lower().startswith("x-rate-limit") or h.lower() == "x-retry-after"
                   for h in response.headers)


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_server_error_faults(emulator: BigCommerceEmulator, api: Api, kind: str) -> None:
    _faults(emulator, kind=kind, times=1, path=r"/orders$")
    response = api.get("/orders")
    assert response.status_code == int(kind)
    assert response.json()[0]["status"] == int(kind)
    assert api.get("/orders").status_code == 204


def test_reset_fault_drops_the_connection_before_handling(emulator: BigCommerceEmulator,
                                                          api: Api) -> None:
    order = emulator.add_order(STORE, id=20)
    (line,), = shipping_lines(order)
    _faults(emulator, kind="reset", times=1, method="POST")
    with pytest.raises(requests.ConnectionError):
        api.post("/orders/20/shipments", {"order_address_id": line["order_address_id"],
                                          "items": [{"order_product_id": line["id"],
                                                     "quantity": 1}]})
    assert emulator.shipments(STORE, 20) == []


def test_lost_response_applies_the_write_but_never_answers(emulator: BigCommerceEmulator,
                                                           api: Api) -> None:
    order = emulator.add_order(STORE, id=21)
    (line,), = shipping_lines(order)
    _faults(emulator, kind="lost_response", times=1, method="POST")
    with pytest.raises(requests.ConnectionError):
        api.post("/orders/21/shipments", {"order_address_id": line["order_address_id"],
                                          "items": [{"order_product_id": line["id"],
                                                     "quantity": 1}]})
    assert len(emulator.shipments(STORE, 21)) == 1
    assert emulator.get_order(STORE, 21)["status_id"] == 2


def test_timeout_after_write_applies_then_hangs(emulator: BigCommerceEmulator, api: Api) -> None:
    emulator.add_order(STORE, id=22)
    _faults(emulator, kind="timeout_after_write", times=1, seconds=0.3, method="PUT")
    started = time.perf_counter()
    with pytest.raises(requests.ConnectionError):
        api.put("/orders/22", {"status_id": 9})
    assert time.perf_counter() - started >= 0.3
    assert emulator.get_order(STORE, 22)["status_id"] == 9
    with pytest.raises(requests.Timeout):  # a client with a shorter timeout gives up first
        _faults(emulator, kind="timeout_after_write", times=1, seconds=0.5, method="PUT")
        api.session.put(api.v2 + "/orders/22", json={"status_id": 10}, timeout=0.1)
    time.sleep(0.5)
    assert emulator.get_order(STORE, 22)["status_id"] == 10


def test_latency_fault_delays_but_answers(emulator: BigCommerceEmulator, api: Api) -> None:
    _faults(emulator, kind="latency", times=1, seconds=0.2)
    started = time.perf_counter()
    assert api.get("/orders").status_code == 204
    assert time.perf_counter() - started >= 0.2


def test_repeat_page_fault_serves_the_previous_page(emulator: BigCommerceEmulator,
                                                    api: Api) -> None:
    for order_id in range(1, 5):
        emulator.add_order(STORE, id=order_id)
    _faults(emulator, kind="repeat_page", times=1)
    assert [o["id"] for o in api.get("/orders", limit=2, page=2).json()] == [1, 2]
    assert [o["id"] for o in api.get("/orders", limit=2, page=2).json()] == [3, 4]


def _log_with(api: Api, total: int) -> dict[str, Any]:
    # The server logs a request just after answering it, so the last entry can lag a moment.
    deadline = time.monotonic() + 2.0
    while True:
        log: dict[str, Any] = requests.get(api.url + "/__sandbox/log", timeout=5).json()
        if log["total"] >= total or time.monotonic() > deadline:
            return log
        time.sleep(0.01)


def test_fault_plan_and_log_over_the_admin_api(emulator: BigCommerceEmulator, api: Api) -> None:
    emulator.add_order(STORE, id=1)
    plan = requests.post(api.url + "/__sandbox/faults",
                         json=[{"kind": "503", "times": 1, "path": "/orders/1$"}], timeout=5)
    assert plan.status_code == 200
    assert api.get("/orders/1").status_code == 503
    assert api.get("/orders/1").status_code == 200
    api.get("/orders")
    api.get("/orders", page=2)
    log = _log_with(api, total=4)
    assert log["counts"]["GET /stores/{store_hash}/v2/orders/{order_id:int}"] == 2
    assert log["counts"]["GET /stores/{store_hash}/v2/orders"] == 2
    assert emulator.log.total(method="GET", path_contains="/orders") == 4
    assert [e["fault"] for e in log["entries"]][:2] == ["503", None]


# --------------------------------------------------------------------------- Python API


def test_update_order_bumps_date_modified_to_now(emulator: BigCommerceEmulator) -> None:
    order = two_address_order(emulator)
    (tee,), _ = shipping_lines(order)
    emulator.now = lambda: T0 + timedelta(days=9)
    changed = emulator.update_order(STORE, order["id"], status_id=9,
                                    shipping_address={"street_1": "9 Long Rd"},
                                    quantities={tee["id"]: 5})
    assert changed["status_id"] == 9
    assert changed["date_modified"] == format_rfc2822(T0 + timedelta(days=9))
    assert changed["consignments"]["shipping"][0]["street_1"] == "9 Long Rd"
    assert changed["consignments"]["shipping"][0]["line_items"][0]["quantity"] == 5
    with pytest.raises(TypeError):
        emulator.update_order(STORE, order["id"], colour="red")
    with pytest.raises(ValueError):
        emulator.update_order(STORE, order["id"], quantity_shipped={tee["id"]: 6})


def test_add_order_defaults_are_coherent(emulator: BigCommerceEmulator) -> None:
    order = emulator.add_order(STORE, country_iso2="NZ")
    assert order["status_id"] == 11 and order["shipping_address_count"] == 1
    shipping = order["consignments"]["shipping"][0]
    assert (shipping["country"], shipping["country_iso2"]) == ("New Zealand", "NZ")
    assert order["total_tax"] == "0.0000"  # no GST on exports
    assert order["date_created"] == format_rfc2822(T0 + timedelta(days=1))
    with pytest.raises(TypeError):
        emulator.add_order(STORE, colour="red")
    with pytest.raises(ValueError):
        emulator.add_order(STORE, id=order["id"])


def test_parse_api_date_repairs_a_lost_plus() -> None:
    assert parse_api_date("Sat, 10 Jan 2026 21:05:30  0000") == T0
    assert parse_api_date("2026-01-11T08:05:30.000 11:00") == T0


# --------------------------------------------------------------------------- seed data


def test_seed_is_deterministic() -> None:
    def snapshot(seed: int) -> str:
        return json.dumps(list(generate_orders(200, seed, now=T0)), default=str, sort_keys=True)

    assert snapshot(1) == snapshot(1)
    assert snapshot(1) != snapshot(2)
    first = sandbox_spec().create(orders=50, seed=4)
    second = sandbox_spec().create(orders=50, seed=4)
    first.now = second.now = lambda: T0
    assert first.stores == second.stores
    ids = first.order_ids("main")
    assert ids == second.order_ids("main")
    assert [first.products("main", i) for i in ids] == [second.products("main", i) for i in ids]


def test_seed_streams_without_building_everything_first() -> None:
    started = time.perf_counter()
    head = list(itertools.islice(generate_orders(100_000, 0, now=T0), 5))
    assert [o["id"] for o in head] == [100, 101, 102, 103, 104]
    assert time.perf_counter() - started < 1.0


def test_seed_builds_20k_orders_quickly() -> None:
    emulator = BigCommerceEmulator()
    emulator.add_store("big", "t", rate_limit=None)
    started = time.perf_counter()
    emulator.seed("big", 20_000, seed=1, now=T0)
    assert time.perf_counter() - started < 20.0  # ~2 s here; 100k orders take ~10 s
    assert len(emulator.order_ids("big", include_deleted=True)) == 20_000


@pytest.fixture(scope="module")
def seeded() -> list[dict[str, Any]]:
    emulator = BigCommerceEmulator()
    emulator.add_store("seeded", "t", rate_limit=None)
    emulator.seed("seeded", 800, seed=7, now=T0)
    return [emulator.get_order("seeded", i) for i in emulator.order_ids("seeded",
                                                                        include_deleted=True)]


def _lines(order: dict[str, Any]) -> list[dict[str, Any]]:
    consignments = order["consignments"]
    groups = consignments["shipping"] + consignments["pickups"] + consignments["downloads"] + \
        consignments["email"]["gift_certificates"]
    return [line for group in groups for line in group["line_items"]]


def test_seed_covers_every_status_with_the_bulk_in_9_and_11(seeded: list[dict[str, Any]]) -> None:
    statuses = [o["status_id"] for o in seeded]
    assert set(statuses) == set(range(15))
    assert sum(s in (9, 11) for s in statuses) > len(statuses) / 2


def test_seed_covers_the_order_shapes_a_store_has(seeded: list[dict[str, Any]]) -> None:
    lines = [line for order in seeded for line in _lines(order)]
    assert any(o["shipping_address_count"] > 1 for o in seeded)
    assert any(o["consignments"]["pickups"] for o in seeded)
    assert any(o["consignments"]["pickups"] and o["status_id"] == 8 for o in seeded)
    assert {"digital", "giftcertificate", "physical"} <= {line["type"] for line in lines}
    assert any(line["product_id"] == 0 and line["sku"] == "" and line["type"] == "physical"
               for line in lines)
    assert any(line["quantity_refunded"] > 0 for line in lines)
    assert any(o["is_deleted"] for o in seeded)
    assert any(len(c["line_items"]) > 50 for o in seeded for c in o["consignments"]["shipping"])


def test_seed_product_options_vary_in_name_and_case(seeded: list[dict[str, Any]]) -> None:
    names = {opt["display_name"] for o in seeded for line in _lines(o)
             for opt in line["product_options"]}
    assert {"Size", "HS Code", "Color", "Colour", "Engraving"} <= names
    assert len({n for n in names if n.lower() == "size"}) > 1
    assert len({n for n in names if n.lower() in ("color", "colour")}) > 2


def test_seed_has_international_non_ascii_and_long_addresses(
    seeded: list[dict[str, Any]],
) -> None:
    addresses = [a for o in seeded for a in o["consignments"]["shipping"]]
    assert {a["country_iso2"] for a in addresses} - {"AU"}
    names = " ".join(f"{a['first_name']} {a['last_name']}" for a in addresses)
    assert any(name in names for name in ("José", "Zoë", "山田", "Müller"))
    assert any(len(a["street_1"]) > 100 for a in addresses)
    international = [o for o in seeded if any(a["country_iso2"] != "AU"
                                              for a in o["consignments"]["shipping"])]
    assert all(o["total_tax"] == "0.0000" for o in international)


def test_seed_dates_spread_over_the_last_30_days(seeded: list[dict[str, Any]]) -> None:
    created = [parse_api_date(o["date_created"]) for o in seeded]
    assert min(created) >= T0 - timedelta(days=30) and max(created) <= T0
    assert max(created) - min(created) > timedelta(days=25)
    assert created == sorted(created)  # ids grow with creation time
    modified = [parse_api_date(o["date_modified"]) for o in seeded]
    assert all(m >= c for m, c in zip(modified, created, strict=True)) and max(modified) <= T0
    shipped = [o for o in seeded if o["status_id"] == 2]
    assert shipped and all(o["date_shipped"] for o in shipped)
    assert all(o["items_shipped"] > 0 for o in seeded if o["status_id"] == 3)


def test_seed_honours_the_store_weight_unit() -> None:
    def first_weight(units: str) -> float:
        emulator = BigCommerceEmulator()
        emulator.add_store("s", "t", weight_units=units, rate_limit=None)
        emulator.seed("s", 20, seed=3, now=T0)
        weights = [float(p["weight"]) for i in emulator.order_ids("s")
                   for p in emulator.products("s", i) if p["product_id"] in
                   {c.product_id for c in CATALOG}]
        return weights[0]

    kilograms, grams, pounds = first_weight("KGS"), first_weight("Grams"), first_weight("LBS")
    assert grams == pytest.approx(kilograms * 1000, rel=1e-3)
    assert pounds == pytest.approx(kilograms * 2.20462, rel=1e-3)


def test_seed_customs_cover_some_catalog_products() -> None:
    customs = generate_customs(0, now=T0)
    with_codes = {c.product_id for c in CATALOG if c.hs_code}
    assert {r["product_id"] for r in customs} == with_codes
    assert len(with_codes) < len(CATALOG)
    assert all(r["hs_codes"]["ALL"].isalnum() and 6 <= len(r["hs_codes"]["ALL"]) <= 14
               for r in customs)


# --------------------------------------------------------------------------- registry entry


def test_sandbox_spec_config_points_shipsync_at_each_store() -> None:
    spec = sandbox_spec()
    emulator = spec.create(orders=20, seed=0, stores=("main", "outlet"), rate_limit=None)
    assert emulator.stores["main"].store_hash == store_hash_for("main")
    assert store_hash_for("main") != store_hash_for("outlet")
    with EmulatorServer(emulator) as server:
        config = spec.config(emulator, server.url)
        stores = config["bigcommerce"]["stores"]
        assert set(stores) == {"main", "outlet"}
        main = stores["main"]
        assert main["access_token"] == "sandbox-token-main"
        assert main["api_path"].endswith(f"/stores/{store_hash_for('main')}/v3/")
        v2 = main["api_path"].removesuffix("v3/") + "v2/orders"
        response = requests.get(v2, headers={"X-Auth-Token": main["access_token"]},
                                params={"limit": 250}, timeout=5)
        assert response.status_code == 200 and 0 < len(response.json()) <= 20
