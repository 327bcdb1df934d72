"""Each variant of the emulators answers as its documentation says (the behaviours of the
real APIs where their documentation is silent), and a variant that does not exist is an
error naming the choices."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from shipsync.sandbox import EmulatorServer
from shipsync_bigcommerce.sandbox import BigCommerceEmulator
from shipsync_starshipit.sandbox import (
    SANDBOX_API_KEY,
    SANDBOX_SUBSCRIPTION_KEY,
    StarshipitEmulator,
    create_sandbox,
)

HEADERS = {"StarShipIT-Api-Key": SANDBOX_API_KEY,
           "Ocp-Apim-Subscription-Key": SANDBOX_SUBSCRIPTION_KEY}
SYDNEY_SUMMER = timedelta(hours=11)  # Australia/Sydney in November
NOW = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)


@contextmanager
def starshipit(**variants: str) -> Iterator[tuple[StarshipitEmulator, Any]]:
    emulator = create_sandbox(rate_limit=None, variants=variants)
    clock = [NOW]
    emulator.now = lambda: clock[0]
    for number in ("1", "2", "3", "4", "5"):
        clock[0] += timedelta(seconds=1)
        emulator.create_order(SANDBOX_API_KEY, {
            "order_number": number, "destination": {"name": "A", "street": "B",
                                                    "country": "Australia"},
            "items": [{"description": "Tea", "quantity": 1, "weight": 0.5, "value": 5}]})
    for number in ("1", "2", "3", "4"):
        clock[0] += timedelta(seconds=1)
        emulator.print_label(SANDBOX_API_KEY, number, packages=2)
    clock[0] += timedelta(seconds=1)
    emulator.manifest(SANDBOX_API_KEY, ["1", "2"])
    with EmulatorServer(emulator) as server:

        def get(path: str, **params: Any) -> requests.Response:
            return requests.get(server.url + path, params=params, headers=HEADERS, timeout=5)

        yield emulator, get


SINCE = "2026-11-27T00:00:00Z"


def test_the_defaults_are_the_likely_behaviours() -> None:
    emulator = create_sandbox(rate_limit=None)
    assert emulator.variants == {"shipped_rows": "flat", "shipped_listing": "manifest",
                                 "dates": "local", "pages": "newest-first-moving",
                                 "not_found": "404", "order_includes": "on-request"}
    assert BigCommerceEmulator().variants == {"consignment_ids": "own",
                                              "currencies": "display-differs"}


@pytest.mark.parametrize("variants, wanted", [
    ({"dates": "nearby"}, "variant dates has no value 'nearby' (values: local, utc)"),
    ({"time_zone": "utc"}, "no variant 'time_zone'")])
def test_an_unknown_variant_or_value_is_refused_with_the_choices(variants: dict[str, str],
                                                                 wanted: str) -> None:
    with pytest.raises(ValueError, match=wanted.replace("(", r"\(").replace(")", r"\)")):
        create_sandbox(variants=variants)
    with pytest.raises(ValueError, match="no variant"):
        BigCommerceEmulator(variants={"pages": "oldest-first"})


@pytest.mark.parametrize("rows", ["flat", "packages"])
def test_shipped_rows_are_flat_or_carry_every_parcel(rows: str) -> None:
    with starshipit(shipped_rows=rows, shipped_listing="print") as (_, get):
        listed = get("/api/orders/shipped", since_last_updated=SINCE).json()["orders"]
    assert all(row["tracking_number"] for row in listed)
    if rows == "flat":
        assert all("packages" not in row for row in listed)
    else:
        assert all(len(row["packages"]) == 2 for row in listed)


@pytest.mark.parametrize("listing, wanted", [("manifest", {"1", "2"}),
                                             ("print", {"1", "2", "3", "4"})])
def test_shipped_lists_printed_orders_once_manifested_or_at_print(listing: str,
                                                                  wanted: set[str]) -> None:
    with starshipit(shipped_listing=listing) as (_, get):
        listed = get("/api/orders/shipped", since_last_updated=SINCE).json()["orders"]
        labels = get("/api/orders/shipments", status="recently_printed",
                     since_created_date=SINCE).json()["orders"]
        waiting = get("/api/orders/shipments", status="unmanifested",
                      since_created_date=SINCE).json()["orders"]
        missing = get("/api/orders/shipments", since_created_date=SINCE)
    assert {row["order_number"] for row in listed} == wanted
    assert {row["order_number"] for row in labels} == {"1", "2", "3", "4"}  # every label
    assert all(len(row["tracking_numbers"]) == 2 for row in labels)
    assert {row["order_number"] for row in waiting} == {"3", "4"}
    assert missing.status_code == 400 and "status is required" in missing.text


def test_local_times_have_no_offset_and_since_is_read_as_a_wall_time() -> None:
    with starshipit(dates="local", pages="oldest-first") as (emulator, get):
        [order] = [o for o in emulator.orders(SANDBOX_API_KEY) if o["order_number"] == "3"]
        labels = get("/api/orders/shipments", status="recently_printed",
                     since_created_date=SINCE).json()["orders"]
        # 10:00:07 UTC is 21:00:07 in Sydney; an offset sent is ignored: the wall counts.
        from_wall = get("/api/orders/shipments", status="recently_printed",
                        since_created_date="2026-11-27T21:00:08").json()["orders"]
        with_z = get("/api/orders/shipments", status="recently_printed",
                     since_created_date="2026-11-27T21:00:08Z").json()["orders"]
    stamp = order["last_updated"]
    assert not stamp.endswith("Z") and "+" not in stamp
    assert stamp.startswith((NOW + timedelta(seconds=8) + SYDNEY_SUMMER).strftime(
        "%Y-%m-%dT%H:%M:%S"))
    assert [row["date"][11:19] for row in labels] == ["21:00:06", "21:00:07", "21:00:08",
                                                      "21:00:09"]
    assert [row["order_number"] for row in from_wall] == ["3", "4"] == \
        [row["order_number"] for row in with_z]


def test_utc_times_carry_z() -> None:
    with starshipit(dates="utc") as (emulator, _):
        assert all(o["last_updated"].endswith("Z") for o in emulator.orders(SANDBOX_API_KEY))


@pytest.mark.parametrize("pages", ["oldest-first", "newest-first-moving"])
def test_lists_come_oldest_or_newest_first(pages: str) -> None:
    with starshipit(pages=pages, dates="utc") as (_, get):
        labels = get("/api/orders/shipments", status="recently_printed",
                     since_created_date=SINCE).json()["orders"]
    numbers = [row["order_number"] for row in labels]
    assert numbers == (["1", "2", "3", "4"] if pages == "oldest-first" else ["4", "3", "2", "1"])


@pytest.mark.parametrize("pages, moved", [("oldest-first", False),
                                          ("oldest-first-moving", True),
                                          ("newest-first-moving", True)])
def test_in_a_moving_variant_a_row_changes_before_each_page_after_the_first(
        pages: str, moved: bool) -> None:
    with starshipit(pages=pages, shipped_listing="print", dates="utc") as (emulator, get):
        first = get("/api/orders/shipped", since_last_updated=SINCE, limit=2, page=1).json()
        before = {o["order_number"]: o["last_updated"] for o in emulator.orders(SANDBOX_API_KEY)}
        get("/api/orders/shipped", since_last_updated=SINCE, limit=2, page=2)
        after = {o["order_number"]: o["last_updated"] for o in emulator.orders(SANDBOX_API_KEY)}
    assert first["total_pages"] == 2
    changed = [number for number in before if before[number] != after[number]]
    # The oldest listed order (3: 1 and 2 changed when manifested) gets a courier's scan.
    assert changed == (["3"] if moved else [])


@pytest.mark.parametrize("not_found, status", [("404", 404), ("200", 200)])
def test_a_lookup_that_finds_nothing_answers_404_or_200_with_the_envelope(
        not_found: str, status: int) -> None:
    with starshipit(not_found=not_found) as (_, get):
        answer = get("/api/orders", order_number="nope")
        wrong_path = get("/api/nothing")
    assert answer.status_code == status and answer.json()["success"] is False
    assert answer.json()["errors"][0]["message"] == "Not found"
    assert wrong_path.status_code == 404 and "statusCode" in wrong_path.json()  # the gateway


@pytest.mark.parametrize("includes", ["on-request", "always"])
def test_an_orders_items_and_packages_come_on_request_or_always(includes: str) -> None:
    with starshipit(order_includes=includes) as (_, get):
        bare = get("/api/orders", order_number="1").json()["order"]
        both = get("/api/orders", order_number="1", include=["Items", "Packages"]).json()[
            "order"]
        joined = get("/api/orders", order_number="1", include="Items,Packages").json()["order"]
    assert ("items" in bare) is (includes == "always")
    assert ("packages" in bare) is (includes == "always")
    assert len(both["items"]) == 1 and len(both["packages"]) == 2
    assert joined["items"] == both["items"]


def test_a_manifest_marks_printed_orders_and_refuses_unprinted_ones() -> None:
    with starshipit() as (emulator, _):
        orders = {o["order_number"]: o for o in emulator.orders(SANDBOX_API_KEY)}
        with pytest.raises(ValueError, match="only printed orders can be manifested"):
            emulator.manifest(SANDBOX_API_KEY, ["5"])
    assert orders["1"]["manifested"] and orders["1"]["manifest_number"]
    assert not orders["3"]["manifested"]


# -- BigCommerce ------------------------------------------------------------------------


@contextmanager
def bigcommerce(**variants: str) -> Iterator[tuple[BigCommerceEmulator, Any, dict[str, Any]]]:
    emulator = BigCommerceEmulator(variants=variants)
    emulator.add_store("store", "token", rate_limit=None)
    order = emulator.add_order("store", shipping_addresses=[{"first_name": "A"},
                                                            {"first_name": "B"}],
                               products=[{"name": "Cup", "address_index": 0},
                                         {"name": "Pot", "address_index": 1}])
    with EmulatorServer(emulator) as server:

        def get(path: str, **params: Any) -> Any:
            return requests.get(f"{server.url}/stores/store/v2{path}", params=params,
                                headers={"X-Auth-Token": "token"}, timeout=5).json()

        yield emulator, get, order


@pytest.mark.parametrize("ids", ["own", "address"])
def test_consignment_ids_are_their_own_or_their_addresses(ids: str) -> None:
    with bigcommerce(consignment_ids=ids) as (emulator, get, order):
        served = get(f"/orders/{order['id']}", include="consignments.line_items",
                     consignment_structure="object")
        addresses = [a["id"] for a in get(f"/orders/{order['id']}/shipping_addresses")]
        alone = get(f"/orders/{order['id']}/consignments")
    consignments = [c["id"] for c in served["consignments"]["shipping"]]
    lines = [c["line_items"][0]["order_address_id"] for c in served["consignments"]["shipping"]]
    assert lines == addresses  # every line names its shipping address
    assert [c["id"] for c in alone["shipping"]] == consignments
    assert (consignments == addresses) is (ids == "address")
    assert not set(consignments) & set(addresses) if ids == "own" else True


@pytest.mark.parametrize("currencies", ["display-differs", "same"])
def test_an_order_is_shown_in_another_currency_than_it_is_paid_in(currencies: str) -> None:
    with bigcommerce(currencies=currencies) as (_, get, order):
        served = get(f"/orders/{order['id']}")
    assert served["default_currency_code"] == "AUD"
    if currencies == "same":
        assert served["currency_code"] == "AUD" and served["currency_exchange_rate"] == \
            "1.0000000000"
    else:
        assert served["currency_code"] == "USD" and served["currency_id"] != \
            served["default_currency_id"]
