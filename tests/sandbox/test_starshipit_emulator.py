"""Behaviour of the Starshipit emulator, over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from shipsync import SandboxSpec
from shipsync.sandbox import EmulatorServer, FaultRule
from shipsync_starshipit.plugin import shipsync_sandboxes
from shipsync_starshipit.sandbox import (
    SANDBOX_API_KEY,
    SANDBOX_SUBSCRIPTION_KEY,
    SANDBOX_WEBHOOK_SECRET,
    StarshipitEmulator,
    StarshipitRefusal,
    create_sandbox,
    parse_since,
    ticks,
)


def sandbox_spec() -> SandboxSpec:
    """The entry the plugin registers (its callables import the emulator when called)."""
    [spec] = shipsync_sandboxes()
    return spec


START = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)


class Clock:
    """A settable clock for ``emulator.now``."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class Api:
    """A thin HTTP client with one account's keys; one connection per call."""

    def __init__(
        self,
        url: str,
        api_key: str = SANDBOX_API_KEY,
        subscription_key: str = SANDBOX_SUBSCRIPTION_KEY,
    ) -> None:
        self.url = url
        self.headers = {
            "StarShipIT-Api-Key": api_key,
            "Ocp-Apim-Subscription-Key": subscription_key,
        }

    def call(
        self, method: str, path: str, body: Any = None, timeout: float = 5.0, **params: Any
    ) -> requests.Response:
        return requests.request(
            method,
            self.url + path,
            json=body,
            params=params or None,
            headers=self.headers,
            timeout=timeout,
        )

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.call("GET", path, **params)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, body, **kwargs)

    def put(self, path: str, body: Any) -> requests.Response:
        return self.call("PUT", path, body)

    def delete(self, path: str, **params: Any) -> requests.Response:
        return self.call("DELETE", path, **params)


def order_body(number: str, **fields: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "order_number": number,
        "shipping_method": "Standard Shipping",
        "destination": {
            "name": "Jane Citizen",
            "street": "2 Example Road",
            "suburb": "Newtown",
            "state": "NSW",
            "post_code": "2042",
            "country": "Australia",
        },
        "items": [
            {"description": "Mug", "sku": "MUG-1", "quantity": 2, "weight": 0.4, "value": 12.5}
        ],
    }
    order.update(fields)
    return order


serving = EmulatorServer  # a context manager: serves on loopback, stops on exit


def settled_log(emulator: StarshipitEmulator, total: int) -> None:
    """The server logs a request before answering it: the log is complete at once."""
    assert emulator.log.total() >= total


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


# The answers this module was written against, before the emulator offered variants. The
# other variants are tested in test_variants.py.
FIRST_ANSWERS = {"shipped_rows": "packages", "shipped_listing": "print", "dates": "utc",
                 "pages": "oldest-first", "not_found": "200", "order_includes": "always"}


@pytest.fixture
def emulator(clock: Clock) -> StarshipitEmulator:
    emulator = create_sandbox(rate_limit=None, variants=FIRST_ANSWERS)
    emulator.now = clock
    return emulator


@pytest.fixture
def server(emulator: StarshipitEmulator) -> Iterator[EmulatorServer]:
    with serving(emulator) as running:
        yield running


@pytest.fixture
def api(server: EmulatorServer) -> Api:
    return Api(server.url)


def create(api: Api, number: str, **fields: Any) -> dict[str, Any]:
    answer = api.post("/api/orders", {"order": order_body(number, **fields)})
    assert answer.status_code == 200, answer.text
    order: dict[str, Any] = answer.json()["order"]
    return order


# ----------------------------------------------------------------------- auth and gateway shapes


def test_missing_subscription_key_answers_in_gateway_shape(server: EmulatorServer) -> None:
    answer = requests.get(
        server.url + "/api/orders/unshipped", headers={"StarShipIT-Api-Key": SANDBOX_API_KEY}
    )
    assert answer.status_code == 401
    body = answer.json()
    assert body["statusCode"] == 401 and "missing subscription key" in body["message"]
    assert "success" not in body


@pytest.mark.parametrize(
    "headers",
    [
        {"Ocp-Apim-Subscription-Key": "not-a-key", "StarShipIT-Api-Key": SANDBOX_API_KEY},
        {"Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY},
        {"Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY, "StarShipIT-Api-Key": "wrong"},
    ],
)
def test_wrong_or_missing_keys_answer_401(server: EmulatorServer, headers: dict[str, str]) -> None:
    answer = requests.get(server.url + "/api/orders/unshipped", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["statusCode"] == 401


def test_api_key_only_works_with_its_own_subscription_key(
    emulator: StarshipitEmulator, server: EmulatorServer
) -> None:
    emulator.add_account("other-api-key", "other-subscription-key")
    assert (
        Api(server.url, "other-api-key", "other-subscription-key")
        .get("/api/orders/unshipped")
        .status_code
        == 200
    )
    assert (
        Api(server.url, "other-api-key", SANDBOX_SUBSCRIPTION_KEY)
        .get("/api/orders/unshipped")
        .status_code
        == 401
    )


def test_unknown_path_is_resource_not_found_even_without_keys(server: EmulatorServer) -> None:
    answer = requests.get(server.url + "/api/nothing-here")
    assert answer.status_code == 404
    assert answer.json() == {"statusCode": 404, "message": "Resource not found"}


def test_known_path_with_another_method_is_not_found(api: Api) -> None:
    answer = api.call("PATCH", "/api/orders")
    assert answer.status_code == 404
    assert answer.json()["statusCode"] == 404


# ----------------------------------------------------------------------- envelope and validation


def test_body_that_is_not_json_answers_envelope_400(api: Api) -> None:
    answer = requests.post(api.url + "/api/orders", data=b"{not json", headers=api.headers)
    assert answer.status_code == 400
    body = answer.json()
    assert body["success"] is False
    assert "not valid JSON" in body["errors"][0]["details"]


def test_validation_error_names_the_field_and_creates_nothing(
    api: Api, emulator: StarshipitEmulator
) -> None:
    body = order_body("1001")
    del body["destination"]["street"]
    answer = api.post("/api/orders", {"order": body})
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    details = answer.json()["errors"][0]["details"]
    assert "order.destination" in details and "street" in details
    assert emulator.orders(SANDBOX_API_KEY) == []


# ----------------------------------------------------------------------------- create and import


def test_create_returns_the_full_order_with_starshipit_ids(api: Api) -> None:
    order = create(api, "1001", reference="PO-7")
    assert isinstance(order["order_id"], int)
    assert order["order_number"] == "1001" and order["reference"] == "PO-7"
    assert order["status"] == "Unshipped"
    assert [item["sku"] for item in order["items"]] == ["MUG-1"]
    assert isinstance(order["items"][0]["item_id"], int)
    assert order["last_updated"] == "2026-11-27T10:00:00.1234566Z"


def test_create_keeps_order_date_as_sent(api: Api) -> None:
    assert create(api, "1001", order_date="2026-11-20")["order_date"] == "2026-11-20"
    assert (
        create(api, "1002", order_date="2026-11-20T01:02:03.1234567Z")["order_date"]
        == "2026-11-20T01:02:03.1234567Z"
    )


def test_duplicate_order_number_is_refused_not_duplicated(
    api: Api, emulator: StarshipitEmulator
) -> None:
    first = create(api, "1001")
    answer = api.post("/api/orders", {"order": order_body("1001")})
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert "1001" in answer.json()["errors"][0]["details"]
    assert [o["order_id"] for o in emulator.orders(SANDBOX_API_KEY)] == [first["order_id"]]


def test_duplicate_numbers_accepted_make_a_second_order_found_after_the_first(
    clock: Clock,
) -> None:
    emulator = create_sandbox(rate_limit=None, duplicate_numbers="accept")
    emulator.now = clock
    with serving(emulator) as running:
        api = Api(running.url)
        first = create(api, "1001")
        again = api.post("/api/orders/import", {"orders": [order_body("1001", reference="B")]})
        assert again.status_code == 200 and again.json()["success"] is True
        second = again.json()["orders"][0]
        assert second["order_id"] != first["order_id"]
        assert [o["order_number"] for o in emulator.orders(SANDBOX_API_KEY)] == ["1001", "1001"]
        found = api.get("/api/orders", order_number="1001").json()["order"]
        assert found["order_id"] == first["order_id"]  # a lookup finds the first
        api.delete("/api/orders/delete", order_id=first["order_id"])
        found = api.get("/api/orders", order_number="1001").json()["order"]
        assert found["order_id"] == second["order_id"]  # then the one left


def test_duplicate_numbers_can_be_refused_in_other_words(clock: Clock) -> None:
    emulator = create_sandbox(rate_limit=None, duplicate_refusal="Order number must be unique")
    with serving(emulator) as running:
        api = Api(running.url)
        create(api, "1001")
        answer = api.post("/api/orders/import", {"orders": [order_body("1001")]})
        assert answer.json()["errors"][0]["details"] == "Order number must be unique"
        assert len(emulator.orders(SANDBOX_API_KEY)) == 1
    with pytest.raises(ValueError, match="'refuse' or 'accept'"):
        create_sandbox(duplicate_numbers="update")


def test_import_creates_fifty_orders_in_one_call(api: Api, emulator: StarshipitEmulator) -> None:
    answer = api.post("/api/orders/import", {"orders": [order_body(f"B{i}") for i in range(50)]})
    assert answer.status_code == 200
    assert answer.json()["success"] is True
    assert len(answer.json()["orders"]) == 50
    assert len(emulator.orders(SANDBOX_API_KEY)) == 50


def test_import_of_51_orders_is_refused_whole(api: Api, emulator: StarshipitEmulator) -> None:
    answer = api.post("/api/orders/import", {"orders": [order_body(f"B{i}") for i in range(51)]})
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert "at most 50" in answer.json()["errors"][0]["details"]
    assert emulator.orders(SANDBOX_API_KEY) == []


def test_import_creates_valid_orders_and_reports_each_refused_one(
    api: Api, emulator: StarshipitEmulator
) -> None:
    create(api, "EXISTING")
    bad = order_body("BAD-1")
    bad["items"][0]["quantity"] = 0
    batch = [
        order_body("OK-1"),
        bad,
        order_body("EXISTING"),
        order_body("OK-2"),
        order_body("OK-2"),
    ]
    answer = api.post("/api/orders/import", {"orders": batch})
    assert answer.status_code == 200
    body = answer.json()
    assert body["success"] is False
    assert [o["order_number"] for o in body["orders"]] == ["OK-1", "OK-2"]
    details = [e["details"] for e in body["errors"]]
    assert len(details) == 3
    assert "'BAD-1'" in details[0] and "items[0].quantity" in details[0]
    assert "'EXISTING'" in details[1] and "already exists" in details[1]
    assert "'OK-2'" in details[2]
    numbers = sorted(o["order_number"] for o in emulator.orders(SANDBOX_API_KEY))
    assert numbers == ["EXISTING", "OK-1", "OK-2"]


# --------------------------------------------------------------------------------------- lookups


def test_get_by_order_id_and_by_order_number(api: Api) -> None:
    created = create(api, "1001")
    by_id = api.get("/api/orders", order_id=created["order_id"]).json()
    by_number = api.get("/api/orders", order_number="1001").json()
    assert by_id["success"] is True and by_id["order"]["order_number"] == "1001"
    assert by_number["order"]["order_id"] == created["order_id"]


def test_get_unknown_order_answers_200_with_success_false(api: Api) -> None:
    answer = api.get("/api/orders", order_number="nope")
    assert answer.status_code == 200
    assert answer.json()["success"] is False
    assert "nope" in answer.json()["errors"][0]["details"]
    assert "order" not in answer.json()


def test_orders_of_another_account_are_invisible(
    emulator: StarshipitEmulator, server: EmulatorServer, api: Api
) -> None:
    emulator.add_account("child-api-key", SANDBOX_SUBSCRIPTION_KEY)
    create(api, "1001")
    child = Api(server.url, "child-api-key")
    assert child.get("/api/orders", order_number="1001").json()["success"] is False
    assert (
        child.post("/api/orders", {"order": order_body("1001")}).status_code == 200
    )  # unique per account


@pytest.mark.parametrize("params", [{}, {"order_id": "abc"}])
def test_get_without_a_usable_key_is_400(api: Api, params: dict[str, str]) -> None:
    answer = api.get("/api/orders", **params)
    assert answer.status_code == 400
    assert answer.json()["success"] is False


# ---------------------------------------------------------------------------------------- update


def test_update_edits_adds_and_deletes_items(api: Api, clock: Clock) -> None:
    created = create(
        api,
        "1001",
        items=[
            {"sku": "A", "quantity": 1, "weight": 0.1, "value": 1.0},
            {"sku": "B", "quantity": 1, "weight": 0.2, "value": 2.0},
        ],
    )
    first, second = (item["item_id"] for item in created["items"])
    clock.advance(minutes=5)
    answer = api.put(
        "/api/orders",
        {
            "order": {
                "order_id": created["order_id"],
                "items": [
                    {"item_id": first, "quantity": 3},
                    {"item_id": second, "delete": True},
                    {"sku": "C", "quantity": 1},
                ],
            }
        },
    )
    assert answer.status_code == 200, answer.text
    items = answer.json()["order"]["items"]
    assert [(i["sku"], i["quantity"]) for i in items] == [("A", 3), ("C", 1)]
    assert items[1]["item_id"] not in (first, second)
    assert answer.json()["order"]["last_updated"] > created["last_updated"]


def test_update_merges_destination_field_by_field(api: Api) -> None:
    created = create(api, "1001")
    answer = api.put(
        "/api/orders",
        {"order": {"order_id": created["order_id"], "destination": {"post_code": "2000"}}},
    )
    destination = answer.json()["order"]["destination"]
    assert destination["post_code"] == "2000"
    assert destination["street"] == "2 Example Road"


def test_update_with_unknown_item_id_changes_nothing(
    api: Api, emulator: StarshipitEmulator
) -> None:
    created = create(api, "1001")
    answer = api.put(
        "/api/orders",
        {
            "order": {
                "order_id": created["order_id"],
                "reference": "NEW",
                "items": [{"item_id": 999999, "quantity": 5}],
            }
        },
    )
    assert answer.status_code == 400
    assert "999999" in answer.json()["errors"][0]["details"]
    assert emulator.get_order(SANDBOX_API_KEY, "1001")["reference"] is None  # type: ignore[index]


def test_update_to_an_existing_order_number_is_refused(api: Api) -> None:
    create(api, "1001")
    second = create(api, "1002")
    answer = api.put(
        "/api/orders", {"order": {"order_id": second["order_id"], "order_number": "1001"}}
    )
    assert answer.status_code == 400
    assert api.get("/api/orders", order_number="1002").json()["success"] is True


def test_update_of_unknown_order_answers_success_false(api: Api) -> None:
    answer = api.put("/api/orders", {"order": {"order_id": 1, "reference": "x"}})
    assert answer.status_code == 200
    assert answer.json()["success"] is False


def test_printed_order_refuses_every_change_but_status(
    api: Api, emulator: StarshipitEmulator
) -> None:
    created = create(api, "1001")
    emulator.print_label(SANDBOX_API_KEY, "1001")
    refused = api.put(
        "/api/orders", {"order": {"order_id": created["order_id"], "reference": "late"}}
    )
    assert refused.status_code == 400
    assert "only status" in refused.json()["errors"][0]["details"]
    delivered = api.put(
        "/api/orders", {"order": {"order_id": created["order_id"], "status": "Delivered"}}
    )
    assert delivered.status_code == 200
    assert delivered.json()["order"]["status"] == "Delivered"
    assert emulator.shipped(SANDBOX_API_KEY)[0]["tracking_short_status"] == "Delivered"


def test_printed_status_cannot_go_back_to_unshipped(api: Api, emulator: StarshipitEmulator) -> None:
    created = create(api, "1001")
    emulator.print_label(SANDBOX_API_KEY, "1001")
    answer = api.put(
        "/api/orders", {"order": {"order_id": created["order_id"], "status": "Unshipped"}}
    )
    assert answer.status_code == 400
    assert emulator.get_order(SANDBOX_API_KEY, "1001")["status"] == "Printed"  # type: ignore[index]


def test_status_printed_needs_a_label(api: Api) -> None:
    created = create(api, "1001")
    answer = api.put(
        "/api/orders", {"order": {"order_id": created["order_id"], "status": "Printed"}}
    )
    assert answer.status_code == 400
    assert "/api/orders/shipment" in answer.json()["errors"][0]["details"]


# ---------------------------------------------------------------------------------------- delete


def test_delete_removes_an_unshipped_order(api: Api, emulator: StarshipitEmulator) -> None:
    created = create(api, "1001")
    answer = api.delete("/api/orders/delete", order_id=created["order_id"])
    assert answer.status_code == 200 and answer.json()["success"] is True
    assert emulator.get_order(SANDBOX_API_KEY, "1001") is None
    assert (
        api.post("/api/orders", {"order": order_body("1001")}).status_code == 200
    )  # the number is free again


def test_delete_refuses_a_printed_order(api: Api, emulator: StarshipitEmulator) -> None:
    created = create(api, "1001")
    emulator.print_label(SANDBOX_API_KEY, "1001")
    answer = api.delete("/api/orders/delete", order_id=created["order_id"])
    assert answer.status_code == 400
    assert "Printed" in answer.json()["errors"][0]["details"]
    assert emulator.get_order(SANDBOX_API_KEY, "1001") is not None


def test_delete_of_unknown_order_answers_success_false(api: Api) -> None:
    answer = api.delete("/api/orders/delete", order_id=42)
    assert answer.status_code == 200 and answer.json()["success"] is False


# ------------------------------------------------------------------- unshipped / shipped listing


def test_unshipped_pages_are_stable_and_report_total_pages(api: Api, clock: Clock) -> None:
    for number in ["E", "D", "C", "B", "A"]:
        create(api, number)
        clock.advance(seconds=1)
    pages = [api.get("/api/orders/unshipped", limit=2, page=page).json() for page in (1, 2, 3, 4)]
    assert [p["total_pages"] for p in pages] == [3, 3, 3, 3]
    numbers = [[o["order_number"] for o in p["orders"]] for p in pages]
    assert numbers == [["E", "D"], ["C", "B"], ["A"], []]


def test_rows_changed_at_the_same_instant_are_ordered_by_order_id(api: Api) -> None:
    created = [create(api, n)["order_id"] for n in ("Z", "Y", "X")]
    rows = api.get("/api/orders/unshipped").json()["orders"]
    assert [o["order_id"] for o in rows] == sorted(created)


def test_unshipped_defaults_to_orders_updated_in_the_last_24_hours(api: Api, clock: Clock) -> None:
    create(api, "OLD")
    clock.advance(hours=23)
    create(api, "NEW")
    clock.advance(hours=2)
    assert [o["order_number"] for o in api.get("/api/orders/unshipped").json()["orders"]] == ["NEW"]


@pytest.mark.parametrize(
    "since",
    [
        "2026-11-27T11:00:00Z",
        "2026-11-27T11:00:00.0000000Z",
        "2026-11-27T11:00:00.1234567",
        "2026-11-27T11:00:00",
        "2026-11-27T12:00:00+01:00",
    ],
)
def test_since_last_updated_is_inclusive_and_lenient(api: Api, clock: Clock, since: str) -> None:
    create(api, "BEFORE")
    clock.at = datetime(2026, 11, 27, 11, 0, 0, 123456, tzinfo=UTC)
    create(api, "AT")
    rows = api.get("/api/orders/unshipped", since_last_updated=since).json()["orders"]
    assert [o["order_number"] for o in rows] == ["AT"]


def test_an_unencoded_plus_offset_is_understood(api: Api, clock: Clock) -> None:
    create(api, "BEFORE")
    clock.advance(hours=2)
    create(api, "AFTER")
    answer = requests.get(
        api.url + "/api/orders/unshipped?since_last_updated=2026-11-27T11:00:00+00:00",
        headers=api.headers,
    )
    assert [o["order_number"] for o in answer.json()["orders"]] == ["AFTER"]


def test_malformed_since_last_updated_is_400(api: Api) -> None:
    answer = api.get("/api/orders/shipped", since_last_updated="yesterday")
    assert answer.status_code == 400
    assert "since_last_updated" in answer.json()["errors"][0]["details"]


@pytest.mark.parametrize(("limit", "status"), [(250, 200), (251, 400), (0, 400)])
def test_limit_is_at_most_250(api: Api, limit: int, status: int) -> None:
    assert api.get("/api/orders/unshipped", limit=limit).status_code == status


def test_empty_listing_has_zero_pages(api: Api) -> None:
    body = api.get("/api/orders/shipped").json()
    assert body == {"orders": [], "total_pages": 0, "success": True}


def test_ids_only_lists_order_ids(api: Api) -> None:
    created = create(api, "1001")
    body = api.get("/api/orders/unshipped", ids_only="true").json()
    assert body["order_ids"] == [created["order_id"]] and "orders" not in body


def test_printing_moves_the_order_to_shipped_as_a_flat_row(
    api: Api, emulator: StarshipitEmulator, clock: Clock
) -> None:
    created = create(api, "1001", reference="PO-7")
    clock.advance(hours=1)
    cursor = ticks(clock())
    emulator.print_label(SANDBOX_API_KEY, "1001", packages=2)
    assert api.get("/api/orders/unshipped").json()["orders"] == []
    rows = api.get("/api/orders/shipped", since_last_updated=cursor).json()["orders"]
    assert len(rows) == 1
    row = rows[0]
    assert row["order_id"] == created["order_id"] and row["reference"] == "PO-7"
    assert row["carrier"] == "AusPost" and row["carrier_name"] == "Australia Post"
    assert row["tracking_number"] == row["packages"][0]["tracking_number"]
    assert len({p["tracking_number"] for p in row["packages"]}) == 2
    assert row["shipped_date"] == "2026-11-27T11:00:00.1234566Z"
    assert row["name"] == "Jane Citizen" and row["country"] == "Australia"
    assert "items" not in row and "destination" not in row


# ----------------------------------------------------------------------------------- print label


@pytest.mark.parametrize(
    ("method", "carrier", "url_prefix"),
    [
        ("Express Shipping", "StarTrack", "https://startrack.com.au/track/details/"),
        ("Store Pickup", "PickupInStore", None),
        ("Standard Shipping", "AusPost", "https://auspost.com.au/mypost/track/#/details/"),
    ],
)
def test_print_chooses_the_carrier_from_the_shipping_method(
    api: Api, method: str, carrier: str, url_prefix: str | None
) -> None:
    created = create(api, "1001", shipping_method=method)
    answer = api.post("/api/orders/shipment", {"order_id": created["order_id"]})
    assert answer.status_code == 200 and answer.json()["success"] is True
    order = api.get("/api/orders", order_id=created["order_id"]).json()["order"]
    assert order["status"] == "Printed" and order["carrier"] == carrier
    package = order["packages"][0]
    assert package["tracking_number"] == answer.json()["tracking_numbers"][0]
    if url_prefix is None:
        assert package["tracking_url"] is None
    else:
        assert package["tracking_url"] == url_prefix + package["tracking_number"]


def test_print_prefers_the_requested_carrier_then_the_orders(api: Api) -> None:
    create(api, "1001", carrier="CouriersPlease", shipping_method="Express")
    create(api, "1002", carrier="CouriersPlease")
    by_order = api.post("/api/orders/shipment", {"order_number": "1001"}).json()
    by_request = api.post(
        "/api/orders/shipment", {"order_number": "1002", "carrier": "Sendle"}
    ).json()
    assert by_order["carrier_name"] == "Couriers Please"
    assert by_request["carrier_name"] == "Sendle"


def test_print_with_two_packages_gives_two_tracking_numbers(api: Api) -> None:
    create(api, "1001")
    answer = api.post(
        "/api/orders/shipment",
        {"order_number": "1001", "packages": [{"weight": 0.4}, {"weight": 0.4}]},
    )
    numbers = answer.json()["tracking_numbers"]
    assert len(numbers) == 2 and numbers[0] != numbers[1]
    order = api.get("/api/orders", order_number="1001").json()["order"]
    assert [p["tracking_number"] for p in order["packages"]] == numbers


def test_second_print_needs_reprint_and_reprint_keeps_tracking_numbers(api: Api) -> None:
    create(api, "1001")
    first = api.post("/api/orders/shipment", {"order_number": "1001"}).json()
    again = api.post("/api/orders/shipment", {"order_number": "1001"})
    assert again.status_code == 400
    assert "reprint" in again.json()["errors"][0]["details"]
    reprint = api.post("/api/orders/shipment", {"order_number": "1001", "reprint": True}).json()
    assert reprint["tracking_numbers"] == first["tracking_numbers"]
    assert reprint["labels"] == first["labels"]


def test_pickup_in_store_gets_a_tracking_number_but_no_url(api: Api) -> None:
    create(api, "1001")
    answer = api.post(
        "/api/orders/shipment", {"order_number": "1001", "carrier": "PickupInStore"}
    ).json()
    assert answer["carrier_name"] == "Pickup In Store" and answer["tracking_numbers"]
    row = api.get("/api/orders/shipped").json()["orders"][0]
    assert row["carrier"] == "PickupInStore" and row["tracking_url"] is None
    assert row["tracking_short_status"] == "PickupInStore"


def test_label_is_a_base64_pdf(api: Api) -> None:
    create(api, "1001")
    answer = api.post("/api/orders/shipment", {"order_number": "1001"}).json()
    pdf = base64.b64decode(answer["labels"][0])
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert answer["label_types"] == ["Default"]


def test_print_refuses_an_unknown_carrier(api: Api, emulator: StarshipitEmulator) -> None:
    create(api, "1001")
    answer = api.post("/api/orders/shipment", {"order_number": "1001", "carrier": "Pigeon"})
    assert answer.status_code == 400
    assert "'Pigeon' is not an accepted value" in answer.json()["errors"][0]["details"]
    assert emulator.get_order(SANDBOX_API_KEY, "1001")["status"] == "Unshipped"  # type: ignore[index]


def test_print_of_unknown_order_answers_success_false(api: Api) -> None:
    answer = api.post("/api/orders/shipment", {"order_number": "ghost"})
    assert answer.status_code == 200 and answer.json()["success"] is False


# ----------------------------------------------------------------------------------------- track


def test_track_by_tracking_number_and_by_order_number(api: Api) -> None:
    create(api, "1001")
    numbers = api.post(
        "/api/orders/shipment", {"order_number": "1001", "packages": [{"weight": 1}, {"weight": 1}]}
    ).json()["tracking_numbers"]
    second = api.get("/api/track", tracking_number=numbers[1]).json()
    assert second["success"] is True
    assert second["results"]["tracking_number"] == numbers[1]
    assert second["results"]["order_number"] == "1001"
    by_order = api.get("/api/track", order_number="1001").json()["results"]
    assert by_order["tracking_number"] == numbers[0]  # one shipment only, as documented
    assert by_order["tracking_status"] == "Printed"
    assert not by_order["last_updated_date"].endswith("Z")


def test_track_of_an_unprinted_order_has_no_tracking_number(api: Api) -> None:
    create(api, "1001")
    results = api.get("/api/track", order_number="1001").json()["results"]
    assert results["order_status"] == "Unshipped" and results["tracking_number"] is None


def test_track_of_an_unknown_tracking_number_answers_success_false(api: Api) -> None:
    answer = api.get("/api/track", tracking_number="NOPE")
    assert answer.status_code == 200 and answer.json()["success"] is False


# ------------------------------------------------------------------------------------ rate limit


def test_third_request_in_a_second_is_429_with_retry_after(clock: Clock) -> None:
    emulator = create_sandbox(rate_limit=(2, 1.0))
    with serving(emulator) as server:
        api = Api(server.url)
        statuses = [api.get("/api/orders/unshipped").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = api.get("/api/orders/unshipped")
        assert limited.headers["Retry-After"] == "1"
        assert limited.json() == {
            "statusCode": 429,
            "message": "Rate limit is exceeded. Try again in 1 seconds.",
        }


def test_rate_limit_is_per_subscription_key_and_shared_by_its_api_keys() -> None:
    emulator = create_sandbox(rate_limit=(2, 60.0))
    emulator.add_account("child-api-key", SANDBOX_SUBSCRIPTION_KEY)
    emulator.add_account("other-api-key", "other-subscription-key")
    with serving(emulator) as server:
        parent, child = Api(server.url), Api(server.url, "child-api-key")
        other = Api(server.url, "other-api-key", "other-subscription-key")
        assert parent.get("/api/orders/unshipped").status_code == 200
        assert child.get("/api/orders/unshipped").status_code == 200
        assert child.get("/api/orders/unshipped").status_code == 429
        assert parent.get("/api/orders/unshipped").status_code == 429
        assert other.get("/api/orders/unshipped").status_code == 200


def test_rate_limit_window_resets() -> None:
    emulator = create_sandbox(rate_limit=(1, 0.5))
    with serving(emulator) as server:
        api = Api(server.url)
        assert [api.get("/api/orders/unshipped").status_code for _ in range(2)] == [200, 429]
        time.sleep(0.55)
        assert api.get("/api/orders/unshipped").status_code == 200


# ------------------------------------------------------------------------------- fault injection


def test_injected_429_answers_like_the_gateway(api: Api, emulator: StarshipitEmulator) -> None:
    emulator.faults.replace([FaultRule("429", times=1)])
    limited = api.get("/api/orders/unshipped")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["statusCode"] == 429
    assert api.get("/api/orders/unshipped").status_code == 200


def test_injected_bare_429_has_no_retry_after(api: Api, emulator: StarshipitEmulator) -> None:
    emulator.faults.replace([FaultRule("429_bare", times=1)])
    limited = api.get("/api/orders/unshipped")
    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers


@pytest.mark.parametrize("status", [500, 502, 503])
def test_injected_server_errors_apply_nothing(
    api: Api, emulator: StarshipitEmulator, status: int
) -> None:
    emulator.faults.replace([FaultRule(str(status), times=1)])
    answer = api.post("/api/orders", {"order": order_body("1001")})
    assert answer.status_code == status
    assert answer.json()["statusCode"] == status
    assert emulator.get_order(SANDBOX_API_KEY, "1001") is None


def test_reset_drops_the_connection_before_applying(api: Api, emulator: StarshipitEmulator) -> None:
    emulator.faults.replace([FaultRule("reset", times=1)])
    with pytest.raises(requests.ConnectionError):
        api.post("/api/orders", {"order": order_body("1001")})
    assert emulator.get_order(SANDBOX_API_KEY, "1001") is None


def test_lost_response_applies_the_request_but_never_answers(
    api: Api, emulator: StarshipitEmulator
) -> None:
    emulator.faults.replace([FaultRule("lost_response", times=1, method="POST")])
    with pytest.raises(requests.ConnectionError):
        api.post("/api/orders", {"order": order_body("1001")})
    assert emulator.get_order(SANDBOX_API_KEY, "1001") is not None
    retry = api.post("/api/orders", {"order": order_body("1001")})
    assert retry.status_code == 400 and "already exists" in retry.json()["errors"][0]["details"]


def test_timeout_after_write_applies_then_hangs(api: Api, emulator: StarshipitEmulator) -> None:
    emulator.faults.replace([FaultRule("timeout_after_write", times=1, seconds=0.6)])
    with pytest.raises(requests.Timeout):
        api.post("/api/orders", {"order": order_body("1001")}, timeout=0.2)
    assert emulator.get_order(SANDBOX_API_KEY, "1001") is not None


def test_latency_delays_a_successful_answer(api: Api, emulator: StarshipitEmulator) -> None:
    emulator.faults.replace([FaultRule("latency", seconds=0.3, times=1)])
    started = time.perf_counter()
    answer = api.get("/api/orders/unshipped")
    assert time.perf_counter() - started >= 0.3
    assert answer.status_code == 200


def test_repeat_page_answers_the_previous_page_again(
    api: Api, emulator: StarshipitEmulator, clock: Clock
) -> None:
    for number in ("A", "B"):
        create(api, number)
        clock.advance(seconds=1)
    emulator.faults.replace([FaultRule("repeat_page", times=1, path="/api/orders/unshipped")])
    page2 = api.get("/api/orders/unshipped", limit=1, page=2).json()
    assert [o["order_number"] for o in page2["orders"]] == ["A"]
    assert [
        o["order_number"]
        for o in api.get("/api/orders/unshipped", limit=1, page=2).json()["orders"]
    ] == ["B"]


def test_faults_can_be_set_over_the_admin_api(server: EmulatorServer, api: Api) -> None:
    assert (
        requests.post(
            server.url + "/__sandbox/faults", json=[{"kind": "503", "times": 1}]
        ).status_code
        == 200
    )
    assert api.get("/api/orders/unshipped").status_code == 503
    assert api.get("/api/orders/unshipped").status_code == 200


# ----------------------------------------------------------------------------------- request log


def test_request_log_counts_calls_per_route(
    server: EmulatorServer, api: Api, emulator: StarshipitEmulator
) -> None:
    create(api, "1001")
    api.get("/api/orders", order_number="1001")
    api.get("/api/orders", order_number="1001")
    api.post("/api/orders/shipment", {"order_number": "1001"})
    settled_log(emulator, 4)
    assert emulator.log.counts["POST /api/orders"] == 1
    assert emulator.log.counts["GET /api/orders"] == 2
    assert emulator.log.counts["POST /api/orders/shipment"] == 1
    snapshot = requests.get(server.url + "/__sandbox/log").json()
    assert snapshot["total"] == 4
    assert [e["status"] for e in snapshot["entries"]] == [200, 200, 200, 200]


def test_admin_orders_lists_every_account(server: EmulatorServer, api: Api) -> None:
    create(api, "1001")
    listing = requests.get(server.url + "/__sandbox/orders").json()
    assert [o["order_number"] for o in listing[SANDBOX_API_KEY]] == ["1001"]


# ------------------------------------------------------------------------------------ Python API


def test_python_api_prints_like_the_endpoint(emulator: StarshipitEmulator, api: Api) -> None:
    emulator.create_order(SANDBOX_API_KEY, order_body("1001", shipping_method="Click & Collect"))
    answer = emulator.print_label(SANDBOX_API_KEY, "1001")
    assert answer["carrier_name"] == "Pickup In Store"
    assert api.get("/api/orders/shipped").json()["orders"][0]["order_number"] == "1001"
    assert emulator.unshipped(SANDBOX_API_KEY) == []
    with pytest.raises(StarshipitRefusal, match="reprint"):
        emulator.print_label(SANDBOX_API_KEY, "1001")


def test_python_api_refuses_what_the_http_api_refuses(emulator: StarshipitEmulator) -> None:
    with pytest.raises(StarshipitRefusal, match="order_number"):
        emulator.create_order(
            SANDBOX_API_KEY, {"destination": {"name": "a", "street": "b", "country": "AU"}}
        )
    with pytest.raises(KeyError, match="no Starshipit account"):
        emulator.orders("unknown-key")


def test_timestamps_have_seven_fraction_digits_and_parse_back() -> None:
    moment = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
    assert ticks(moment) == "2026-11-27T10:00:00.1234566Z"
    assert ticks(moment, zulu=False) == "2026-11-27T10:00:00.1234566"
    assert parse_since(ticks(moment)) == moment
    assert parse_since("2026-11-27") == datetime(2026, 11, 27, tzinfo=UTC)


# --------------------------------------------------------------------- sandbox spec and merchant


def test_sandbox_spec_config_points_at_the_running_emulator() -> None:
    spec = sandbox_spec()
    emulator = spec.create(seed=3)
    assert spec.name == "starshipit"
    assert spec.config(emulator, "http://127.0.0.1:9") == {
        "starshipit": {
            "api_key": SANDBOX_API_KEY,
            "subscription_key": SANDBOX_SUBSCRIPTION_KEY,
            "base_url": "http://127.0.0.1:9",
            "webhook_secret": SANDBOX_WEBHOOK_SECRET,
        }
    }


def test_play_merchant_prints_the_fraction_over_http(
    emulator: StarshipitEmulator, server: EmulatorServer
) -> None:
    for i in range(6):
        emulator.create_order(SANDBOX_API_KEY, order_body(f"M{i}"))
    summary = sandbox_spec().play_merchant(emulator, server.url, fraction=0.5, seed=1)  # type: ignore[misc]
    assert summary["printed"] == 3 and len(summary["order_numbers"]) == 3
    settled_log(emulator, 3)
    assert emulator.log.counts["POST /api/orders/shipment"] == 3
    assert sorted(o["order_number"] for o in emulator.unshipped(SANDBOX_API_KEY)) == sorted(
        {f"M{i}" for i in range(6)} - set(summary["order_numbers"])
    )


def test_play_merchant_uses_pickup_in_store_and_several_packages(
    emulator: StarshipitEmulator, server: EmulatorServer
) -> None:
    emulator.create_order(SANDBOX_API_KEY, order_body("PICKUP", carrier="PickupInStore"))
    emulator.create_order(SANDBOX_API_KEY, order_body("POST"))
    sandbox_spec().play_merchant(emulator, server.url, fraction=1.0, packages=(2,))  # type: ignore[misc]
    pickup = emulator.get_order(SANDBOX_API_KEY, "PICKUP")
    posted = emulator.get_order(SANDBOX_API_KEY, "POST")
    assert pickup is not None and posted is not None
    assert pickup["carrier"] == "PickupInStore" and len(pickup["packages"]) == 1
    assert posted["carrier"] == "AusPost" and len(posted["packages"]) == 2


def test_play_merchant_waits_out_a_429_and_survives_a_lost_answer(
    emulator: StarshipitEmulator, server: EmulatorServer
) -> None:
    emulator.create_order(SANDBOX_API_KEY, order_body("A"))
    emulator.create_order(SANDBOX_API_KEY, order_body("B"))
    emulator.faults.replace(
        [
            FaultRule("429", times=1, path="/api/orders/shipment"),
            FaultRule("lost_response", times=1, after=1, path="/api/orders/shipment"),
        ]
    )
    started = time.perf_counter()
    summary = sandbox_spec().play_merchant(emulator, server.url, fraction=1.0)  # type: ignore[misc]
    assert time.perf_counter() - started >= 1.0  # slept Retry-After
    assert summary["printed"] == 2 and summary["failed"] == []
    assert emulator.unshipped(SANDBOX_API_KEY) == []


def test_a_printed_label_posts_a_signed_tracking_event_unless_turned_off(
    emulator: StarshipitEmulator,
) -> None:
    import hashlib
    import hmac
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    listener = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    try:
        emulator.set_webhook(SANDBOX_API_KEY, f"http://127.0.0.1:{listener.server_address[1]}/x",
                             "emulator-webhook-secret")
        emulator.create_order(SANDBOX_API_KEY, order_body("W-1"))
        emulator.create_order(SANDBOX_API_KEY, order_body("W-2"))
        emulator.print_label(SANDBOX_API_KEY, "W-1")
        emulator.tracking.configure(on_print=False)
        emulator.print_label(SANDBOX_API_KEY, "W-2")
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        emulator.close()
        listener.shutdown()
        listener.server_close()

    [(headers, body)] = received  # W-2's print sent nothing
    event = json.loads(body)
    assert event["order_number"] == "W-1" and event["tracking_status"] == "Printed"
    printed = emulator.get_order(SANDBOX_API_KEY, "W-1")
    assert printed is not None
    assert event["tracking_number"] == printed["packages"][0]["tracking_number"] != ""
    digest = hmac.new(b"emulator-webhook-secret", body, hashlib.sha256).digest()
    assert headers["X-Starshipit-Signature"] == base64.b64encode(digest).decode()
