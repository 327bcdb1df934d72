"""Malformed orders: each is quarantined with a clear reason; none affects the others."""

from __future__ import annotations

from typing import Any

from shipsync_bigcommerce.sandbox import DELETE
from sync_world import API_KEY, World

S = ("consignments", "shipping", 0)
L = S + ("line_items", 0)

# (case, corruption of the order as served, words the failure reason must contain)
CORPUS: list[tuple[str, dict[tuple[Any, ...], Any], str]] = [
    ("no street", {S + ("street_1",): ""}, "street"),
    ("unknown country", {S + ("country_iso2",): "XX"}, "country_code"),
    ("country name as code", {S + ("country_iso2",): "Australia"}, "country_code"),
    ("no country name", {S + ("country",): ""}, "country"),
    ("no name anywhere", {S + ("first_name",): "", S + ("last_name",): "",
                          ("billing_address", "first_name"): "",
                          ("billing_address", "last_name"): ""}, "name"),
    ("negative quantity", {L + ("quantity",): -2}, "quantity"),
    ("zero quantity", {L + ("quantity",): 0}, "quantity"),
    ("quantity as words", {L + ("quantity",): "two"}, "quantity"),
    ("fractional quantity", {L + ("quantity",): "1.5"}, "quantity"),
    ("shipped more than ordered", {L + ("quantity_shipped",): 9}, "shipped"),
    ("negative refund", {L + ("quantity_refunded",): -1}, "refunded"),
    ("non-numeric weight", {L + ("weight",): "heavy"}, "weight"),
    ("weight NaN", {L + ("weight",): "NaN"}, "weight"),
    ("weight infinite", {L + ("weight",): "1e999"}, "weight"),
    ("negative weight", {L + ("weight",): "-1.5"}, "negative"),
    ("non-numeric price", {L + ("price_inc_tax",): "free"}, "price"),
    ("negative price", {L + ("price_inc_tax",): "-10.0000"}, "negative"),
    ("boolean price", {L + ("price_inc_tax",): True}, "price"),
    ("post code too long", {S + ("zip",): "12345678901234"}, "post_code"),
    ("sku too long", {L + ("sku",): "S" * 60}, "sku"),
    ("HS code too long", {L + ("product_options",): [
        {"display_name": "HS Code", "display_value": "6109.1000.0000.0000.0000"}]}, "tariff_code"),
    ("HS code with symbols", {L + ("product_options",): [
        {"display_name": "HS Code", "display_value": "61#09!"}]}, "tariff_code"),
    ("options not a list", {L + ("product_options",): "Size: XL"}, "product_options"),
    ("an option that is null", {L + ("product_options",): [None]}, "product option"),
    ("unknown line type", {L + ("type",): "subscription"}, "type"),
    ("line without id", {L + ("id",): DELETE}, "id"),
    ("line that is text", {S + ("line_items",): ["oops"]}, "line item"),
    ("status not a number", {("status_id",): "eleven"}, "status_id"),
    ("no date created", {("date_created",): DELETE}, "date"),
    ("date created garbage", {("date_created",): "yesterday"}, "date"),
    # Both currency fields: the one paid in (default_currency_code) is the one sent.
    ("currency not a code", {("currency_code",): "Dollars",
                             ("default_currency_code",): "Dollars"}, "currency"),
    ("no consignments", {("consignments",): DELETE}, "consignments"),
    ("consignments not a list", {("consignments", "shipping"): "none"}, "consignments"),
]


def _good(world: World, **extra: Any) -> dict[str, Any]:
    return world.add_order(shipping_addresses=[{
        "first_name": "Good", "last_name": "Order", "street_1": "5 Fine St", "city": "Sydney",
        "state": "NSW", "zip": "2000", "country_iso2": "AU"}],
        products=[{"name": "Thing", "sku": "T-1", "weight": 1}], **extra)


def test_each_malformed_order_is_quarantined_with_its_reason_and_the_rest_go_on(
        world: World) -> None:
    assert len(CORPUS) >= 30
    bad_ids = {}
    for case, corruption, _words in CORPUS:
        order = _good(world)
        world.bc.corrupt_order("main", order["id"], corruption)
        bad_ids[str(order["id"])] = case
    good = [_good(world) for _ in range(5)]

    first = world.run(expect=1)

    failed = {f["order_id"]: f["reason"] for f in first["failures"]}
    for case, _corruption, words in CORPUS:
        order_id = next(k for k, v in bad_ids.items() if v == case)
        assert order_id in failed, f"{case}: not quarantined"
        assert words in failed[order_id], f"{case}: reason {failed[order_id]!r} lacks {words!r}"
    assert first["imported"] == len(good)
    assert sorted(world.starshipit_orders()) == sorted(str(o["id"]) for o in good)

    # Quarantined orders are retried on every run, and still nothing is imported twice.
    second = world.run(expect=1)
    assert second["failed"] == len(CORPUS) and second["imported"] == 0
    explained = world.cli("explain", "bigcommerce", next(iter(bad_ids)), "--json").json()
    assert any("failed 2 time(s)" in line for line in explained["summary"])

    # Once the data is fixed, the next run imports the order.
    healed = next(iter(bad_ids))
    world.bc.heal_order("main", int(healed))
    third = world.run(expect=1)
    assert third["imported"] == 1 and third["failed"] == len(CORPUS) - 1
    assert healed in world.starshipit_orders()


def test_repairable_input_is_repaired_not_refused(world: World) -> None:
    long_street = "Unit 4, " + "Very Long Industrial Estate Access Road " * 3 + "Gate 7"
    order = world.add_order(shipping_addresses=[{
        "first_name": "Zo\u00eb", "last_name": "M\u00fcller\u200b", "street_1": long_street,
        "street_2": "Building B", "city": "Sydney", "state": "NSW", "zip": "2000",
        "country_iso2": "AU"}], products=[{"name": "Caf\u00e9 \u2615", "quantity": 1}])
    world.bc.corrupt_order("main", order["id"], {S + ("last_name",): "M\u00fcller\udcff"})

    report = world.run()

    assert report["failed"] == 0
    created = world.ss.get_order(API_KEY, str(order["id"]))
    destination = created["destination"]
    assert len(destination["street"]) <= 100
    # Nothing is lost: what does not fit the street moves to the building line.
    joined = (destination["street"] + " " + destination["building"]).replace(",", "")
    assert "Gate 7" in joined and "Building B" in joined
    assert destination["name"] == "Zo\u00eb M\u00fcller"
    assert created["items"][0]["description"] == "Caf\u00e9 \u2615"
