"""Property-based tests of the pure mapping functions (hypothesis)."""

from __future__ import annotations

import copy
import json
import math
import unicodedata
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shipsync import records
from shipsync_bigcommerce import mapping as bc
from shipsync_bigcommerce.options import map_options
from shipsync_starshipit import mapping as ss

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

junk = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                 st.text(max_size=30), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
number_text = st.one_of(st.floats(0, 1000, allow_nan=False).map(lambda f: f"{f:.4f}"),
                        st.integers(0, 100), junk)
text = st.text(max_size=120)


@st.composite
def bc_lines(draw: Any, index: int) -> dict[str, Any]:
    quantity = draw(st.one_of(st.integers(1, 5), junk))
    return {
        "id": draw(st.one_of(st.just(1000 + index), junk)),
        "product_id": draw(st.one_of(st.integers(0, 500), junk)),
        "name": draw(text),
        "sku": draw(st.text(max_size=60)),
        "type": draw(st.sampled_from(["physical", "physical", "digital", "giftcertificate", "x"])),
        "quantity": quantity,
        "quantity_shipped": draw(st.one_of(st.integers(0, 2), junk)),
        "quantity_refunded": draw(st.one_of(st.just(0), st.integers(0, 2))),
        "weight": draw(number_text),
        "price_inc_tax": draw(number_text),
        "product_options": draw(st.one_of(st.lists(st.fixed_dictionaries({
            "display_name": st.sampled_from(["Size", "colour", "HS Code", "Engraving", ""]),
            "display_value": text}), max_size=3), junk)),
    }


@st.composite
def bc_orders(draw: Any) -> dict[str, Any]:
    def address() -> dict[str, Any]:
        return {"first_name": draw(text), "last_name": draw(text), "street_1": draw(text),
                "street_2": draw(text), "city": draw(text), "state": draw(text),
                "zip": draw(st.text(max_size=14)), "country": draw(text),
                "country_iso2": draw(st.sampled_from(["AU", "NZ", "US", "XX", "", "au"])),
                "shipping_method": draw(text)}
    shipping = [{"id": 10 + i, **address(),
                 "line_items": [draw(bc_lines(i * 10 + j)) for j in range(draw(st.integers(0, 3)))]}
                for i in range(draw(st.integers(0, 3)))]
    return {
        "id": draw(st.one_of(st.integers(1, 10**7), junk)),
        "status_id": draw(st.one_of(st.integers(0, 14), junk)),
        "date_created": draw(st.sampled_from(["Wed, 10 Jan 2018 21:05:30 +0000",
                                              "2026-11-01T10:00:00+00:00", "yesterday", ""])),
        "date_modified": "Wed, 10 Jan 2018 21:05:30 +0000",
        "currency_code": draw(st.sampled_from(["AUD", "usd", "Dollars", ""])),
        "customer_message": draw(text),
        "billing_address": {"first_name": draw(text), "last_name": draw(text)},
        "consignments": draw(st.one_of(st.just({"shipping": shipping, "pickups": []}), junk)),
    }


@SETTINGS
@given(bc_orders(), st.sampled_from(["KGS", "LBS", "Ounces", "Grams", "Tonnes"]))
def test_bigcommerce_mapping_returns_an_order_or_says_why(raw: dict[str, Any], units: str) -> None:
    try:
        order = bc.canonical_order(raw, store="main", weight_units=units)
    except bc.MappingError as exc:
        assert str(exc)
        return
    json.dumps(order)  # serialisable, as the state store and sinks need
    for destination in order["destinations"]:
        for item in destination["items"]:
            assert item["quantity"] >= 1
            assert math.isfinite(item["weight_kg"]) and item["weight_kg"] >= 0
            assert math.isfinite(item["value"]) and item["value"] >= 0


@st.composite
def canonical_orders(draw: Any) -> dict[str, Any]:
    def item(i: int) -> dict[str, Any]:
        return {"line_id": str(100 + i), "product_id": draw(st.integers(0, 99)),
                "description": draw(st.text(min_size=1, max_size=300)),
                "sku": draw(st.text(max_size=60)), "quantity": draw(st.integers(1, 50)),
                "weight_kg": draw(st.floats(0, 500)), "value": draw(st.floats(0, 10**5)),
                "options": draw(st.lists(st.fixed_dictionaries({
                    "name": st.sampled_from(["Size", "SIZE", "Color", "Colour", "HS Code",
                                             "hs  code", "Engraving"]),
                    "value": st.text(max_size=25)}), max_size=4))}
    destinations = []
    for d in range(draw(st.integers(1, 3))):
        destinations.append({
            "destination_id": str(10 + d), "kind": "shipping",
            "shipping_method": draw(st.text(max_size=150)),
            "address": {"name": draw(st.text(min_size=1, max_size=150)),
                        "street": draw(st.text(min_size=1, max_size=260)),
                        "building": draw(st.text(max_size=60)),
                        "suburb": draw(st.text(max_size=120)),
                        "city": draw(st.text(max_size=120)),
                        "state": draw(st.text(max_size=60)),
                        "post_code": draw(st.text(max_size=12)),
                        "country": draw(st.text(min_size=2, max_size=110)),
                        "country_code": "AU"},
            "items": [item(d * 10 + i) for i in range(draw(st.integers(1, 4)))]})
    return {"source": "bigcommerce", "store": "main",
            "order_id": str(draw(st.integers(1, 10**6))),
            "status_id": 11, "date_created": "2026-11-01T10:00:00+00:00",
            "date_modified": "2026-11-01T10:00:00+00:00", "currency": "AUD",
            "reference": draw(st.text(max_size=80)),
            "customer_message": draw(st.text(max_size=200)),
            "destinations": destinations}


@SETTINGS
@given(canonical_orders(), st.text(alphabet="AB-_1", max_size=20))
def test_starshipit_bodies_respect_every_documented_limit(order: dict[str, Any],
                                                          prefix: str) -> None:
    mapped = map_options(copy.deepcopy(order))
    for index, destination in enumerate(mapped["destinations"]):
        number = f"{prefix}{mapped['order_id']}-{index + 1}"
        try:
            body = ss.order_body(number, mapped, destination)
        except ss.LimitError as exc:
            assert str(exc)
            continue
        assert records.schemas_of("shipsync_starshipit").errors("api/order_create.json", body) == []
        for key, value in body["destination"].items():
            if key in ss.LIMITS:
                assert len(value) <= ss.LIMITS[key], key
        for item in body["items"]:
            assert len(item["sku"]) <= ss.LIMITS["sku"]
            assert len(item.get("tariff_code", "")) <= ss.LIMITS["tariff_code"]


@SETTINGS
@given(canonical_orders())
def test_long_streets_lose_no_words(order: dict[str, Any]) -> None:
    destination = order["destinations"][0]
    try:
        body = ss.order_body("1", order, destination)
    except ss.LimitError:
        return
    original = ss.clean_text(destination["address"]["street"]).replace(",", " ").split()
    kept = (body["destination"].get("street", "") + " " +
            body["destination"].get("building", "")).replace(",", " ").split()
    for word in original:
        assert word in kept


@SETTINGS
@given(canonical_orders())
def test_product_option_mapper_is_idempotent_and_keeps_the_order(order: dict[str, Any]) -> None:
    once = map_options(copy.deepcopy(order))
    twice = map_options(copy.deepcopy(once))
    assert once == twice
    assert records.errors_of("order.json", once) == []
    # A mapper keeps every destination, so the lists pair up one to one.
    for destination, before in zip(once["destinations"], order["destinations"], strict=True):
        assert ([i["line_id"] for i in destination["items"]]
                == [i["line_id"] for i in before["items"]])
        for item in destination["items"]:
            for option in item["options"]:
                name = " ".join(option["name"].lower().split())
                field = {"size": "size", "color": "color", "colour": "color",
                         "hs code": "tariff_code"}.get(name)
                if field and option["value"].strip():
                    assert item[field]


@SETTINGS
@given(st.text())
def test_clean_text_is_idempotent_and_drops_control_characters(value: str) -> None:
    cleaned = ss.clean_text(value)
    assert ss.clean_text(cleaned) == cleaned
    assert not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in cleaned)


@SETTINGS
@given(st.integers(1, 1000), st.integers(0, 1000), st.integers(0, 1000))
def test_remaining_quantity_is_ordered_less_shipped_less_refunded(
        quantity: int, shipped: int, refunded: int) -> None:
    line = {"id": 1, "quantity": quantity, "quantity_shipped": shipped,
            "quantity_refunded": refunded}
    if shipped + refunded > quantity:
        try:
            bc.remaining_quantity(line)
        except bc.MappingError:
            return
        raise AssertionError("over-shipped line accepted")
    assert bc.remaining_quantity(line) == quantity - shipped - refunded
