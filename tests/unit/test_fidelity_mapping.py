"""Pure mapping where the APIs' documentation is silent: times without an offset, flat
shipped rows and printed-label rows, countries by name or code, the currency paid in, and
the address a consignment's lines name."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from shipsync_bigcommerce import mapping as bc
from shipsync_starshipit import mapping as ss
from shipsync_starshipit.client import has_offset, since_text_of


def test_a_time_with_z_is_exact_and_one_without_an_offset_is_its_earliest_instant() -> None:
    assert ss.earliest_instant("2026-11-30T10:00:00.1234567Z") == \
        "2026-11-30T10:00:00.123456+00:00"
    assert ss.earliest_instant("2026-11-30T21:00:00+11:00") == "2026-11-30T10:00:00+00:00"
    # Sydney's 21:00 is 10:00 UTC; read as UTC it would be 11 hours ahead: never later
    # than the earliest it can be (UTC+14).
    assert ss.earliest_instant("2026-11-30T21:00:00.5") == "2026-11-30T07:00:00.500000+00:00"
    assert ss.earliest_instant("not a time") == "" and ss.earliest_instant(None) == ""


@pytest.mark.parametrize("stamp, zoned", [("2026-11-30T10:00:00Z", True),
                                          ("2026-11-30T10:00:00.1234567", False),
                                          ("2026-11-30T10:00:00+10:00", True)])
def test_a_since_value_keeps_the_notation_of_the_row_it_starts_at(stamp: str,
                                                                   zoned: bool) -> None:
    assert has_offset(stamp) is zoned
    text = since_text_of(stamp)
    assert text.endswith("Z") is zoned
    start = ss.parse_time(text)
    row = ss.parse_time(stamp)
    assert start is not None and row is not None and start < row  # never after the row


def test_a_flat_shipped_row_is_incomplete_and_one_with_packages_is_whole() -> None:
    flat = {"order_id": 7, "order_number": "100", "carrier": "AusPost",
            "carrier_name": "Australia Post", "tracking_number": "T1",
            "tracking_url": "https://t/1", "shipped_date": "2026-11-30T10:00:00Z"}
    record = ss.shipment_record(flat)
    assert record["tracking_numbers"] == ["T1"] and record["complete"] is False
    assert record["updated"] == "2026-11-30T10:00:00+00:00"

    whole = ss.shipment_record({**flat, "packages": [{"tracking_number": "T1"},
                                                     {"tracking_number": "T2"}]})
    assert whole["tracking_numbers"] == ["T1", "T2"] and "complete" not in whole


def test_a_printed_label_row_gives_every_parcel_and_the_carrier_from_its_name() -> None:
    row = {"order_id": 7, "order_number": "100", "date": "2026-11-30T21:00:00.1",
           "carrier_name": "Australia Post", "carrier_service_code": "7D55",
           "tracking_numbers": ["T1", "T2", "T2"]}
    record = ss.shipments_row_record(row)
    assert record["carrier"] == "AusPost" and record["tracking_numbers"] == ["T1", "T2"]
    assert record["complete"] is False  # no tracking link: the order itself gives it
    assert record["updated"] == "2026-11-30T07:00:00.100000+00:00"

    merged = ss.merged_record(ss.shipment_record({
        "order_id": 7, "order_number": "100", "carrier": "AusPost", "tracking_number": "T1",
        "tracking_url": "https://t/1", "shipped_date": "2026-11-30T21:00:00.1"}), record)
    assert merged["tracking_numbers"] == ["T1", "T2"] and "complete" not in merged
    assert merged["tracking_url"] == "https://t/1"

    pickup = ss.shipments_row_record({**row, "carrier_name": "Pickup In Store",
                                      "tracking_numbers": []})
    assert pickup["pickup"] is True and "complete" not in pickup


def test_destination_countries_go_by_name_and_countries_of_origin_by_code() -> None:
    assert ss.destination_country("New Zealand", "NZ") == "New Zealand"
    assert ss.destination_country("AU", "AU") == "Australia"  # a bare code becomes a name
    assert ss.destination_country("", "KR") == "South Korea"
    assert ss.destination_country("", "XK") == "Kosovo"
    assert ss.origin_country("vn") == "VN"
    assert ss.origin_country("Vietnam") == "VN"
    assert ss.origin_country("Atlantis") == "Atlantis"  # unknown: kept as given


def _order(**fields: object) -> dict:
    line = {"id": 5, "product_id": 0, "name": "Cup", "quantity": 1, "order_address_id": 9,
            "type": "physical", "price_inc_tax": "10.0000", "weight": "1.0000"}
    consignment = {"id": 1009, "first_name": "A", "last_name": "B", "street_1": "1 St",
                   "city": "Sydney", "zip": "2000", "country": "Australia",
                   "country_iso2": "AU", "line_items": [line]}
    order = {"id": 100, "status_id": 11, "date_created": "Mon, 30 Nov 2026 10:00:00 +0000",
             "currency_code": "USD", "default_currency_code": "AUD",
             "consignments": {"shipping": [consignment], "pickups": [], "downloads": []}}
    order.update(fields)
    return order


def test_the_currency_is_the_one_paid_in_not_the_one_shown() -> None:
    order = bc.canonical_order(_order(), store="main", weight_units="KGS")
    assert order["currency"] == "AUD"
    shown_only = bc.canonical_order(_order(default_currency_code=None), store="main",
                                    weight_units="KGS")
    assert shown_only["currency"] == "USD"  # an older answer without it: the one there is


def test_a_consignment_whose_id_is_not_its_address_names_the_address_of_its_lines() -> None:
    [destination] = bc.canonical_order(_order(), store="main",
                                       weight_units="KGS")["destinations"]
    assert (destination["destination_id"], destination["address_id"]) == ("1009", "9")
    same = _order()
    same["consignments"]["shipping"][0]["id"] = 9
    [destination] = bc.canonical_order(same, store="main", weight_units="KGS")["destinations"]
    assert "address_id" not in destination  # the consignment's id is the address's


def test_a_pickup_location_gives_its_country_by_name() -> None:
    order = _order()
    order["consignments"]["pickups"] = [{
        "id": 3, "pickup_method_display_name": "Pick up",
        "location": {"name": "Shop", "address_line_1": "2 Rd", "city": "Perth",
                     "postal_code": "6000", "country_alpha2": "AU"},
        "line_items": [{**order["consignments"]["shipping"][0]["line_items"][0], "id": 6,
                        "order_address_id": 0, "order_pickup_method_id": 3}]}]
    pickup = [d for d in bc.canonical_order(order, store="main", weight_units="KGS")[
        "destinations"] if d["kind"] == "pickup"][0]
    assert pickup["address"]["country"] == "Australia"
    assert pickup["address"]["country_code"] == "AU"


def test_a_since_value_from_our_clock_is_floored_to_the_second() -> None:
    from shipsync_starshipit.client import since_text

    moment = datetime(2026, 11, 30, 10, 0, 59, 999999, tzinfo=timezone.utc)
    assert since_text(moment) == "2026-11-30T10:00:59Z"
