"""`shipsync run bigcommerce`, end to end: the real CLI against both emulators over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from shipsync.sandbox import FaultRule
from sync_world import API_KEY, World


def _address(**fields: str) -> dict[str, str]:
    base = {"first_name": "Ana", "last_name": "Silva", "street_1": "12 Harbour St",
            "street_2": "Level 3", "city": "Sydney", "state": "New South Wales", "zip": "2000",
            "country_iso2": "AU", "phone": "0400000000", "email": "ana@example.com",
            "shipping_method": "Express Post"}
    base.update(fields)
    return base


def _shipping_ids(order: dict) -> list[int]:
    """The order's shipping address ids (``order_address_id``), which its lines name: a
    consignment's own id need not be one (the ``consignment_ids`` variant)."""
    return sorted({line["order_address_id"] for c in order["consignments"]["shipping"]
                   for line in c["line_items"]})


def _lines(order: dict) -> list[dict]:
    lines = []
    for kind in ("shipping", "pickups"):
        for consignment in order["consignments"][kind]:
            lines.extend(consignment["line_items"])
    return sorted(lines, key=lambda line: line["id"])


def test_import_carries_the_order_over_and_rerun_imports_nothing_twice(world: World) -> None:
    order = world.add_order(shipping_addresses=[_address()], customer_message="Leave at door",
                            products=[{"name": "Linen Shirt", "sku": "SHIRT-1", "quantity": 2,
                                       "price_inc_tax": "59.95", "weight": 0.4}])

    first = world.run()
    second = world.run()

    assert first["imported"] == 1 and first["failed"] == 0
    assert second["imported"] == 0 and second["already_imported"] == 1
    orders = world.starshipit_orders()
    assert list(orders) == [str(order["id"])]
    created = orders[str(order["id"])]
    destination = created["destination"]
    assert destination["name"] == "Ana Silva"
    assert destination["street"] == "12 Harbour St"
    assert destination["building"] == "Level 3"
    assert destination["suburb"] == "Sydney" and destination["city"] == "Sydney"
    assert destination["post_code"] == "2000"
    assert destination["country"] == "Australia"
    assert created["shipping_method"] == "Express Post"
    assert created["currency"] == "AUD"
    [item] = created["items"]
    assert (item["sku"], item["quantity"]) == ("SHIRT-1", 2)
    assert abs(item["weight"] - 0.4) < 1e-9 and abs(item["value"] - 59.95) < 1e-9


def test_multi_address_order_becomes_one_starshipit_order_per_address(world: World) -> None:
    order = world.add_order(
        shipping_addresses=[_address(), _address(first_name="Ben", city="Perth",
                                                 state="Western Australia", zip="6000")],
        products=[{"name": "Mug", "address_index": 0, "quantity": 1},
                  {"name": "Plate", "address_index": 1, "quantity": 3}])

    report = world.run()

    assert report["imported"] == 2
    orders = world.starshipit_orders()
    first, second = f"{order['id']}-1", f"{order['id']}-2"
    assert sorted(orders) == [first, second]
    # Suffixes follow the addresses in id order.
    assert orders[first]["destination"]["city"] == "Sydney"
    assert orders[second]["destination"]["city"] == "Perth"
    assert [i["description"] for i in orders[second]["items"]] == ["Plate"]


def test_product_options_fill_size_color_and_hs_code(world: World) -> None:
    world.add_order(shipping_addresses=[_address()], products=[{
        "name": "Tee", "quantity": 1, "product_options": [
            {"display_name": "size", "display_value": "XL"},
            {"display_name": "Colour", "display_value": "Navy"},
            {"display_name": "HS Code", "display_value": "6109.10"},
            {"display_name": "Engraving", "display_value": "A.B."}]}])

    world.run()

    [created] = world.starshipit_orders().values()
    [item] = created["items"]
    assert item["size"] == "XL"
    assert item["color"] == "Navy"
    assert item["tariff_code"] == "610910"


def test_customs_information_and_store_weight_unit_are_applied(world: World) -> None:
    world.bc.add_store("lbstore", "token-lb", weight_units="LBS", rate_limit=None, alias="lb")
    world.bc.add_order("lb", shipping_addresses=[_address(country_iso2="NZ", city="Auckland",
                                                          state="Auckland", zip="1010")],
                       products=[{"name": "Boots", "product_id": 77, "quantity": 1,
                                  "weight": 2}])
    world.bc.set_customs("lb", 77, "VN", {"ALL": "640299", "NZ": "6402990009"})
    data_path = world.configure(stores={"lb": {
        "api_path": f"{world.sandboxes.url('bigcommerce')}/stores/lbstore/v3/",
        "access_token": "token-lb", "order_prefix": "LB-"}})
    assert data_path.exists()

    result = world.cli("run", "bigcommerce", "--store", "lb", "--json")

    assert result.code == 0, result.stderr
    [created] = world.starshipit_orders().values()
    assert created["order_number"].startswith("LB-")
    [item] = created["items"]
    assert abs(item["weight"] - 2 * 0.45359237) < 1e-4
    assert item["tariff_code"] == "6402990009"  # the destination country's code wins over ALL
    assert item["country_of_origin"] == "VN"
    assert created["destination"]["country"] == "New Zealand"


def test_an_order_of_more_than_50_lines_keeps_every_line_and_its_customs(world: World) -> None:
    # BigCommerce inlines 50 lines per consignment; the rest come from the products call,
    # and the customs of the products only those lines hold must be fetched too.
    world.add_order(shipping_addresses=[_address(country_iso2="NZ", city="Auckland",
                                                 state="Auckland", zip="1010")],
                    products=[{"name": f"Part {n}", "sku": f"P-{n}", "product_id": 500 + n}
                              for n in range(55)])
    world.bc.set_customs("main", 554, "JP", {"ALL": "950300"})

    report = world.run()

    assert report["imported"] == 1 and report["failed"] == 0
    [created] = world.starshipit_orders().values()
    assert len(created["items"]) == 55
    [last] = [item for item in created["items"] if item["sku"] == "P-54"]
    assert last["tariff_code"] == "950300" and last["country_of_origin"] == "JP"


def test_digital_and_gift_certificate_lines_are_left_out(world: World) -> None:
    mixed = world.add_order(shipping_addresses=[_address()], products=[
        {"name": "Poster", "quantity": 1},
        {"name": "E-book", "type": "digital"},
        {"name": "Gift card", "type": "giftcertificate"}])
    digital_only = world.add_order(products=[{"name": "E-book", "type": "digital"}])

    report = world.run()

    orders = world.starshipit_orders()
    assert [i["description"] for i in orders[str(mixed["id"])]["items"]] == ["Poster"]
    assert str(digital_only["id"]) not in orders
    assert report["skipped"] == 1
    assert any(reason.startswith("nothing left to ship") for reason in report["skipped_reasons"])


def test_shipped_and_refunded_quantities_are_not_shipped_again(world: World) -> None:
    order = world.add_order(shipping_addresses=[_address()], products=[
        {"name": "Socks", "quantity": 5, "quantity_shipped": 2, "quantity_refunded": 1},
        {"name": "Cap", "quantity": 1, "quantity_refunded": 1}])

    world.run()

    [item] = world.starshipit_orders()[str(order["id"])]["items"]
    assert (item["description"], item["quantity"]) == ("Socks", 2)


def test_pickup_in_store_off_skips_pickup_consignments(world: World) -> None:
    pickup = world.add_order(pickups=[{}], products=[{"name": "Lamp", "pickup_index": 0}])

    report = world.run()

    assert str(pickup["id"]) not in world.starshipit_orders()
    assert report["skipped_reasons"] == {"pickup in store (Enable Pickup in Store is off)": 1}


def test_pickup_in_store_on_imports_with_pickup_carrier_and_sets_awaiting_pickup(
        world: World) -> None:
    world.configure(pickup_in_store=True)
    pickup = world.add_order(pickups=[{}], products=[{"name": "Lamp", "pickup_index": 0}])

    world.run()
    [created] = world.starshipit_orders().values()
    assert created["carrier"] == "PickupInStore"
    world.print_label(created["order_number"])
    report = world.run()

    assert report["awaiting_pickup"] == 1 and report["written_back"] == 0
    after = world.bc.get_order("main", pickup["id"])
    assert after["status_id"] == 8
    assert world.bc.shipments("main", pickup["id"]) == []


def test_writeback_posts_the_shipment_then_shipped_and_only_once(world: World) -> None:
    order = world.add_order(shipping_addresses=[_address()],
                            products=[{"name": "Kettle", "quantity": 2}])
    world.run()
    printed = world.print_label(str(order["id"]), packages=2)

    report = world.run()
    again = world.run()

    assert report["written_back"] == 1
    assert again["written_back"] == 0
    [shipment] = world.bc.shipments("main", order["id"])
    numbers = printed["tracking_numbers"]
    assert len(numbers) == 2
    assert shipment["tracking_number"] == numbers[0]
    assert numbers[1] in shipment["comments"]  # every parcel's number is kept
    assert shipment["order_address_id"] == _shipping_ids(order)[0]
    assert shipment["tracking_carrier"] in ("australia-post", "star-track")
    assert shipment["tracking_link"]
    assert [(i["order_product_id"], i["quantity"]) for i in shipment["items"]] == [
        (_lines(order)[0]["id"], 2)]
    assert world.bc.get_order("main", order["id"])["status_id"] == 2


def test_update_status_completed_is_set_after_the_shipment(world: World) -> None:
    world.configure(update_status=10)
    order = world.add_order(shipping_addresses=[_address()], products=[{"name": "Pan"}])
    world.run()
    world.print_label(str(order["id"]))

    world.run()

    assert world.bc.get_order("main", order["id"])["status_id"] == 10
    assert len(world.bc.shipments("main", order["id"])) == 1
    # Order of the writes: the shipment before the status.
    log = [e["path"] for e in world.bc.log.snapshot()["entries"]
           if e["method"] in ("POST", "PUT")]
    store_hash = world.bc.stores["main"].store_hash
    assert log == [f"/stores/{store_hash}/v2/orders/{order['id']}/shipments",
                   f"/stores/{store_hash}/v2/orders/{order['id']}"]


def test_multi_address_order_is_shipped_only_when_every_address_has_shipped(world: World) -> None:
    world.configure(update_status=10)
    order = world.add_order(
        shipping_addresses=[_address(), _address(first_name="Ben")],
        products=[{"name": "A", "address_index": 0}, {"name": "B", "address_index": 1}])
    world.run()
    world.print_label(f"{order['id']}-1")

    world.run()
    assert world.bc.get_order("main", order["id"])["status_id"] == 3  # Partially Shipped

    world.print_label(f"{order['id']}-2")
    world.run()
    assert world.bc.get_order("main", order["id"])["status_id"] == 10
    assert len(world.bc.shipments("main", order["id"])) == 2


def test_changed_order_is_updated_and_cancelled_order_is_deleted(world: World) -> None:
    changed = world.add_order(shipping_addresses=[_address()], products=[{"name": "Vase"}])
    cancelled = world.add_order(shipping_addresses=[_address()], products=[{"name": "Rug"}])
    world.run()

    world.bc.update_order("main", changed["id"],
                          shipping_address={"street_1": "99 New Rd", "city": "Hobart"},
                          quantities={_lines(changed)[0]["id"]: 4})
    world.bc.update_order("main", cancelled["id"], status_id=5)
    report = world.run()

    assert report["updated"] == 1 and report["deleted"] == 1
    orders = world.starshipit_orders()
    assert orders[str(changed["id"])]["destination"]["street"] == "99 New Rd"
    assert [i["quantity"] for i in orders[str(changed["id"])]["items"]] == [4]
    assert str(cancelled["id"]) not in orders


def test_cancelled_after_printing_is_not_written_back(world: World) -> None:
    order = world.add_order(shipping_addresses=[_address()], products=[{"name": "Chair"}])
    world.run()
    world.print_label(str(order["id"]))
    world.bc.update_order("main", order["id"], status_id=5)

    report = world.run()

    assert report["written_back"] == 0 and report["not_written_back"] == 1
    assert "Cancelled" in report["not_written_back_reasons"][0]["reason"]
    assert world.bc.shipments("main", order["id"]) == []


def test_days_filter_and_days_override(world: World) -> None:
    old = world.add_order(shipping_addresses=[_address()], products=[{"name": "Old"}],
                          date_created=datetime.now(timezone.utc) - timedelta(days=12))
    recent = world.add_order(shipping_addresses=[_address()], products=[{"name": "New"}])
    not_imported_status = world.add_order(shipping_addresses=[_address()], status_id=7,
                                          products=[{"name": "Unpaid"}])

    world.run()
    assert sorted(world.starshipit_orders()) == [str(recent["id"])]

    world.run("--days", "14")
    orders = world.starshipit_orders()
    assert sorted(orders) == sorted([str(old["id"]), str(recent["id"])])
    assert str(not_imported_status["id"]) not in orders


def test_dry_run_changes_nothing_anywhere(world: World) -> None:
    order = world.add_order(shipping_addresses=[_address()], products=[{"name": "Desk"}])

    report = world.run("--dry-run")

    assert report["dry_run"] is True and report["imported"] == 1
    assert report["actions"][0]["action"] == "import"
    assert report["actions"][0]["order_number"] == str(order["id"])
    assert world.starshipit_orders() == {}
    assert not (world.tmp_path / "state.db").exists() or world.run()["imported"] == 1


def test_two_stores_share_one_starshipit_account_with_prefixes(world: World) -> None:
    world.bc.add_store("outlethash", "token-outlet", rate_limit=None, alias="outlet")
    world.configure(order_prefix="M-", stores={"outlet": {
        "api_path": f"{world.sandboxes.url('bigcommerce')}/stores/outlethash/v3/",
        "access_token": "token-outlet", "order_prefix": "O-"}})
    main = world.add_order(id=500, shipping_addresses=[_address()], products=[{"name": "X"}])
    outlet = world.bc.add_order("outlet", id=500, shipping_addresses=[_address()],
                                products=[{"name": "Y"}])

    result = world.cli("run", "bigcommerce", "--json")

    assert result.code == 0, result.stderr
    reports = {r["store"]: r for r in result.json()["stores"]}
    assert reports["main"]["imported"] == 1 and reports["outlet"]["imported"] == 1
    assert sorted(world.starshipit_orders()) == [f"M-{main['id']}", f"O-{outlet['id']}"]
    # Labels printed for one store are written back to that store only.
    world.print_label(f"O-{outlet['id']}")
    result = world.cli("run", "bigcommerce", "--json")
    reports = {r["store"]: r for r in result.json()["stores"]}
    assert reports["outlet"]["written_back"] == 1 and reports["main"]["written_back"] == 0
    assert world.bc.shipments("outlet", 500) and not world.bc.shipments("main", 500)


def test_same_prefix_for_two_stores_is_a_config_error(world: World) -> None:
    world.bc.add_store("twohash", "token-two", rate_limit=None, alias="two")
    world.configure(stores={"two": {
        "api_path": f"{world.sandboxes.url('bigcommerce')}/stores/twohash/v3/",
        "access_token": "token-two"}})

    result = world.cli("run", "bigcommerce")

    assert result.code == 2
    assert "order_prefix" in result.stderr


def test_json_report_has_every_count_and_requests_per_api(world: World) -> None:
    world.add_order(shipping_addresses=[_address()], products=[{"name": "Z"}])

    report = world.run()

    for key in ("store", "imported", "updated", "deleted", "already_imported", "skipped",
                "failed", "written_back", "awaiting_pickup", "requests"):
        assert key in report
    assert report["requests"]["bigcommerce"] >= 2 and report["requests"]["starshipit"] >= 1
    assert report["requests"]["bigcommerce"] == world.bc.log.snapshot()["total"]
    # Wall time of each step, within the run's own.
    assert set(report["step_seconds"]) == {"import", "writeback"}
    assert 0 < sum(report["step_seconds"].values()) <= report["seconds"]


def test_the_import_statuses_are_read_side_by_side(world: World) -> None:
    # BigCommerce filters one status per call: with 0.4 s per call, reading Awaiting
    # Shipment and Awaiting Fulfillment one after the other would not overlap.
    for status_id in (9, 11, 9, 11):
        world.add_order(shipping_addresses=[_address()], products=[{"name": "Jug"}],
                        status_id=status_id)
    world.bc.faults.replace([FaultRule("latency", seconds=0.4, path="/v2/orders$")])

    report = world.cli("import", "bigcommerce", "--json").json()["stores"][0]

    assert report["imported"] == 4
    lists = [e for e in world.bc.log.entries if e.route.endswith("/v2/orders")]
    by_status = {status: next(e for e in lists if f"status_id={status}" in e.query)
                 for status in (9, 11)}
    first, second = sorted(by_status.values(), key=lambda e: e.at)
    assert second.at < first.at + first.duration_ms / 1000, "statuses were read in sequence"


def test_import_and_writeback_commands_run_each_half(world: World) -> None:
    order = world.add_order(shipping_addresses=[_address()], products=[{"name": "Bowl"}])

    imported = world.cli("import", "bigcommerce", "--json").json()["stores"][0]
    world.print_label(str(order["id"]))
    written = world.cli("writeback", "bigcommerce", "--json").json()["stores"][0]

    assert imported["imported"] == 1 and imported["written_back"] == 0
    assert written["written_back"] == 1 and written["imported"] == 0
    assert set(imported["step_seconds"]) == {"import"}
    assert set(written["step_seconds"]) == {"writeback"}


def test_explain_says_why_an_order_was_not_imported_and_where_writeback_stands(
        world: World) -> None:
    unpaid = world.add_order(shipping_addresses=[_address()], status_id=7,
                             products=[{"name": "Q"}])
    shipped = world.add_order(shipping_addresses=[_address()], products=[{"name": "R"}])
    world.run()
    world.print_label(str(shipped["id"]))
    world.run()

    why_not = world.cli("explain", "bigcommerce", str(unpaid["id"]), "--json").json()
    where = world.cli("explain", "bigcommerce", str(shipped["id"]), "--json").json()

    assert any("not one of import_statuses" in line for line in why_not["summary"])
    assert any("written back" in line for line in where["summary"])
    assert [e["kind"] for e in where["events"]][:2] == ["imported", "written_back"]


def test_run_sandbox_shows_the_whole_cycle_offline(tmp_path) -> None:
    from shipsync.testing import run_cli

    result = run_cli(["run", "bigcommerce", "--sandbox", "--json", "--sandbox-orders", "60"],
                     cwd=tmp_path)

    assert result.code in (0, 1), result.stderr
    [report] = result.json()["stores"]
    assert report["imported"] > 0
    assert report["written_back"] + report["awaiting_pickup"] > 0
    assert API_KEY not in result.stdout + result.stderr
