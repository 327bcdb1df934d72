"""The sync cycle and `shipsync doctor` under every variant of the emulated APIs.

Where the APIs' documentation is silent, each emulator offers every plausible
behaviour (``shipsync_bigcommerce.variants``, ``shipsync_starshipit.variants``);
shipsync must end in the same correct result under each, and ``shipsync doctor``
must report the behaviour it sees. Each case below is the likely behaviour of
every API but one variant (``likely``: none); any other combination can be run
with ``pytest --sandbox-variant SANDBOX.NAME=VALUE`` over this module or the suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from shipsync.plugins import PluginHost
from shipsync.sandboxes import SandboxSet, variant_cases
from shipsync.testing import CliResult, run_cli, write_config

API_KEY = "sandbox-api-key"
CASES = [("likely", None)] + [(f"{sandbox}.{name}={value}", (sandbox, name, value))
                              for sandbox, name, value in variant_cases(PluginHost.load())]


@pytest.fixture(params=[case for _, case in CASES], ids=[name for name, _ in CASES])
def sandbox_variants(request: pytest.FixtureRequest) -> dict[str, dict[str, str]]:
    if request.param is None:
        return {}
    sandbox, name, value = request.param
    return {sandbox: {name: value}}


def _address(first: str, **fields: str) -> dict[str, str]:
    base = {"first_name": first, "last_name": "Variant", "street_1": f"{len(first)} Test St",
            "city": "Sydney", "state": "New South Wales", "zip": "2000", "country_iso2": "AU",
            "email": f"{first.lower()}@example.com", "shipping_method": "Standard"}
    base.update(fields)
    return base


class Cycle:
    """Both emulators, a config reading Starshipit's lists two rows a page, and the CLI."""

    def __init__(self, sandboxes: SandboxSet, tmp_path: Path) -> None:
        self.bc = sandboxes.emulator("bigcommerce")
        self.ss = sandboxes.emulator("starshipit")
        data = sandboxes.config(tmp_path / "state.db")
        data["starshipit"]["page_size"] = 2  # several pages, so rows can move between them
        data["starshipit"]["rate_limit"] = 1000  # the emulator is not limited here
        data["bigcommerce"]["stores"]["main"]["pickup_in_store"] = True
        self.config = write_config(tmp_path / "shipsync.toml", data)
        self.tmp_path = tmp_path

    def cli(self, *args: str) -> CliResult:
        return run_cli(list(args), config=self.config, cwd=self.tmp_path)

    def run(self) -> dict[str, Any]:
        result = self.cli("run", "bigcommerce", "--json")
        assert result.code == 0, result.stderr + result.stdout
        report: dict[str, Any] = result.json()["stores"][0]
        assert report["failed"] == 0, report["failures"]
        return report

    def print_label(self, number: str, packages: int = 1) -> list[str]:
        printed = self.ss.print_label(API_KEY, number, packages=packages)
        numbers: list[str] = printed["tracking_numbers"]
        return numbers

    def address_ids(self, order_id: int) -> list[int]:
        return [a["id"] for a in self.bc.shipping_addresses("main", order_id)]


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    return {"orders": 0, "seed": 1,
            "per_sandbox": {"bigcommerce": {"rate_limit": None},
                            "starshipit": {"rate_limit": None}}}


def test_the_sync_cycle_ends_in_the_same_result(sandboxes: SandboxSet, tmp_path: Path) -> None:
    cycle = Cycle(sandboxes, tmp_path)
    bc = cycle.bc
    parcels = bc.add_order("main", shipping_addresses=[_address("Ana")],
                           products=[{"name": "Kettle", "quantity": 2},
                                     {"name": "Mug", "quantity": 1, "product_id": 77}])
    bc.set_customs("main", 77, "VN", {"ALL": "691200"})
    two = bc.add_order("main", shipping_addresses=[
        _address("Ben"), _address("Cal", city="Auckland", state="Auckland", zip="1010",
                                  country_iso2="NZ")],
        products=[{"name": "Plate", "address_index": 0}, {"name": "Bowl", "address_index": 1}])
    pickup = bc.add_order("main", pickups=[{}], products=[{"name": "Lamp", "pickup_index": 0}])
    changed = bc.add_order("main", shipping_addresses=[_address("Dee")],
                           products=[{"name": "Vase"}])
    cancelled = bc.add_order("main", shipping_addresses=[_address("Eve")],
                             products=[{"name": "Rug"}])
    plain = [bc.add_order("main", shipping_addresses=[_address(name)],
                          products=[{"name": f"Item {name}"}]) for name in ("Fay", "Gus", "Hal")]
    removed = bc.add_order("main", shipping_addresses=[_address("Kim")],
                           products=[{"name": "Sofa"}])

    imported = cycle.run()

    assert imported["imported"] == 10  # one per address, the pickup among them
    orders = {o["order_number"]: o for o in cycle.ss.orders(API_KEY)}
    assert orders[str(parcels["id"])]["currency"] == "AUD"  # the currency paid in
    [mug] = [i for i in orders[str(parcels["id"])]["items"] if i["description"] == "Mug"]
    assert (mug["tariff_code"], mug["country_of_origin"]) == ("691200", "VN")
    assert orders[f"{two['id']}-2"]["destination"]["country"] == "New Zealand"
    assert orders[str(pickup["id"])]["carrier"] == "PickupInStore"
    assert orders[str(pickup["id"])]["destination"]["country"] == "Australia"

    line = changed["consignments"]["shipping"][0]["line_items"][0]["id"]
    bc.update_order("main", changed["id"], shipping_address={"street_1": "99 New Rd"},
                    quantities={line: 3})
    bc.update_order("main", cancelled["id"], status_id=5)
    cycle.ss.delete_order(API_KEY, str(removed["id"]))  # the merchant, by hand
    bc.update_order("main", removed["id"], shipping_address={"street_1": "7 Other St"})
    second = cycle.run()
    assert (second["updated"], second["deleted"]) == (1, 1)
    assert second["skipped_reasons"] == {"removed from starshipit by hand (not sent again)": 1}
    updated = cycle.ss.get_order(API_KEY, str(changed["id"]))
    assert updated["destination"]["street"] == "99 New Rd"
    assert [(i["description"], i["quantity"]) for i in updated["items"]] == [("Vase", 3)]
    assert cycle.ss.get_order(API_KEY, str(cancelled["id"])) is None

    numbers = cycle.print_label(str(parcels["id"]), packages=3)
    for number in (f"{two['id']}-1", f"{two['id']}-2", str(pickup["id"]), str(changed["id"]),
                   *(str(o["id"]) for o in plain)):
        cycle.print_label(number)
    # The merchant manifests some, and couriers' scans reach others (their rows move).
    cycle.ss.manifest(API_KEY, [str(plain[0]["id"]), str(plain[1]["id"])])
    cycle.ss.touch(API_KEY, str(changed["id"]))
    written = cycle.run()

    assert (written["written_back"], written["awaiting_pickup"]) == (7, 1)
    [shipment] = bc.shipments("main", parcels["id"])
    assert shipment["tracking_number"] == numbers[0] and len(numbers) == 3
    assert all(number in shipment["comments"] for number in numbers[1:])  # every parcel
    assert shipment["order_address_id"] == cycle.address_ids(parcels["id"])[0]
    two_shipments = bc.shipments("main", two["id"])
    assert sorted(s["order_address_id"] for s in two_shipments) == cycle.address_ids(two["id"])
    for order in (parcels, two, changed, *plain):
        assert bc.get_order("main", order["id"])["status_id"] == 2
        for made in bc.shipments("main", order["id"]):
            assert made["tracking_number"] and made["tracking_carrier"] == "australia-post"
            assert made["tracking_link"]  # Starshipit's tracking link, for every label
    assert bc.get_order("main", pickup["id"])["status_id"] == 8
    assert bc.shipments("main", pickup["id"]) == []
    assert bc.shipments("main", cancelled["id"]) == []

    # Later: everything manifested, more scans; one more order printed after the bookmark.
    late = bc.add_order("main", shipping_addresses=[_address("Ivy")], products=[{"name": "Jug"}])
    cycle.run()
    cycle.ss.manifest(API_KEY, [o["order_number"] for o in cycle.ss.shipped(API_KEY)])
    for order in plain:
        cycle.ss.touch(API_KEY, str(order["id"]))
    cycle.print_label(str(late["id"]))
    last = cycle.run()

    assert (last["written_back"], last["awaiting_pickup"]) == (1, 0)
    assert len(bc.shipments("main", late["id"])) == 1
    totals = {o["id"]: len(bc.shipments("main", o["id"]))
              for o in (parcels, two, changed, *plain, late)}
    assert totals == {parcels["id"]: 1, two["id"]: 2, changed["id"]: 1, plain[0]["id"]: 1,
                      plain[1]["id"]: 1, plain[2]["id"]: 1, late["id"]: 1}  # none twice


# -- shipsync doctor ------------------------------------------------------------------------

#: (sandbox, variant) -> (where, assumption, {value: the status doctor must report}).
SEEN_AS = {
    ("bigcommerce", "consignment_ids"): ("bigcommerce:main", "consignment-id-is-order-address-id",
                                         {"own": "contradicted", "address": "confirmed"}),
    ("bigcommerce", "currencies"): ("bigcommerce:main", "display-currency-is-transactional",
                                    {"display-differs": "contradicted", "same": "confirmed"}),
    ("starshipit", "shipped_rows"): ("starshipit", "shipped-rows-flat",
                                     {"flat": "confirmed", "packages": "contradicted"}),
    ("starshipit", "shipped_listing"): ("starshipit", "shipped-lists-at-print",
                                        {"manifest": "contradicted", "print": "confirmed"}),
    ("starshipit", "dates"): ("starshipit", "dates-utc",
                              {"local": "contradicted", "utc": "confirmed"}),
    ("starshipit", "pages"): ("starshipit", "lists-oldest-first",
                              {"newest-first-moving": "contradicted", "oldest-first": "confirmed",
                               "oldest-first-moving": "confirmed"}),
    ("starshipit", "not_found"): ("starshipit", "not-found-200",
                                  {"404": "contradicted", "200": "confirmed"}),
    ("starshipit", "order_includes"): ("starshipit", "order-includes-always",
                                       {"on-request": "contradicted", "always": "confirmed"}),
}


def test_every_variant_has_a_doctor_check() -> None:
    host = PluginHost.load()
    declared = {(sandbox, name) for sandbox in host.sandboxes
                for name in host.sandboxes[sandbox].variants}
    assert declared == set(SEEN_AS)
    for (sandbox, name), (_, _, statuses) in SEEN_AS.items():
        assert set(statuses) == set(host.sandboxes[sandbox].variants[name])


def test_doctor_reports_the_variant_it_sees(sandboxes: SandboxSet, tmp_path: Path,
                                            sandbox_variants: dict[str, dict[str, str]]) -> None:
    cycle = Cycle(sandboxes, tmp_path)
    for name in ("Ana", "Ben", "Cal"):
        cycle.bc.add_order("main", shipping_addresses=[_address(name)],
                           products=[{"name": "Tea"}])
    assert cycle.cli("import", "bigcommerce").code == 0
    numbers = [o["order_number"] for o in cycle.ss.orders(API_KEY)]
    for number in numbers:
        cycle.print_label(number, packages=2)
    cycle.ss.manifest(API_KEY, numbers[:2])  # the third waits for a manifest

    result = cycle.cli("doctor", "--json")

    assert result.code == 0, result.stderr + result.stdout
    found = {(c["subject"], c["assumption"]): c for c in result.json()["checks"]}
    for (sandbox, name), (where, assumption, statuses) in SEEN_AS.items():
        value = sandbox_variants.get(sandbox, {}).get(name) \
            or PluginHost.load().sandboxes[sandbox].variants[name][0]
        check = found[(where, assumption)]
        assert check["status"] == statuses[value], (sandbox, name, value, check)
        if check["status"] == "contradicted":
            assert check["instead"], check  # what shipsync does instead is said
    assert found[("starshipit", "credentials")]["status"] == "confirmed"
    assert found[("bigcommerce:main", "credentials")]["status"] == "confirmed"
    # Recorded in the state file, where the plugins read it on the next run.
    table = cycle.cli("doctor", "--store", "main")
    assert table.code == 0 and "shipped-rows-flat" in table.stdout


# -- what runs and the doctor leave in the state file ---------------------------------------

def _assumptions(tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    from shipsync.state import SQLiteStateStore

    state = SQLiteStateStore(tmp_path / "state.db")
    try:
        return {(row["subject"], row["name"]): row for row in state.assumptions()}
    finally:
        state.close()


@pytest.mark.parametrize("sandbox_variants", [{}], ids=["likely"])
def test_a_run_records_what_it_saw_of_the_apis(sandboxes: SandboxSet, tmp_path: Path) -> None:
    cycle = Cycle(sandboxes, tmp_path)
    order = cycle.bc.add_order("main", shipping_addresses=[_address("Ana")],
                               products=[{"name": "Tea"}])
    cycle.run()
    cycle.print_label(str(order["id"]), packages=2)
    cycle.ss.manifest(API_KEY, [str(order["id"])])  # so that /shipped lists it
    cycle.run()

    seen = _assumptions(tmp_path)
    assert seen[("starshipit", "shipped-rows-flat")]["status"] == "confirmed"
    assert seen[("starshipit", "dates-utc")]["status"] == "contradicted"
    assert seen[("bigcommerce:main", "consignment-id-is-order-address-id")]["status"] == \
        "contradicted"
    assert {row["checked_by"] for row in seen.values()} == {"run"}


@pytest.mark.parametrize("sandbox_variants", [
    {"starshipit": {"shipped_listing": "print", "shipped_rows": "packages"}},
    {}], ids=["print-and-packages", "likely"])
def test_what_the_doctor_confirmed_lets_the_sink_read_one_list_and_a_contradiction_two(
        sandboxes: SandboxSet, tmp_path: Path,
        sandbox_variants: dict[str, dict[str, str]]) -> None:
    cycle = Cycle(sandboxes, tmp_path)
    orders = [cycle.bc.add_order("main", shipping_addresses=[_address(name)],
                                 products=[{"name": "Tea"}]) for name in ("Ana", "Ben")]
    cycle.run()
    cycle.print_label(str(orders[0]["id"]), packages=2)  # printed, waiting for a manifest
    assert cycle.cli("doctor").code == 0
    numbers = cycle.print_label(str(orders[1]["id"]), packages=3)
    cycle.ss.log.clear()

    report = cycle.run()

    assert report["written_back"] == 2
    [shipment] = cycle.bc.shipments("main", orders[1]["id"])
    assert shipment["tracking_number"] == numbers[0]
    assert all(number in shipment["comments"] for number in numbers[1:])
    lists = {e.route for e in cycle.ss.log.entries if e.route.startswith("GET /api/orders/sh")}
    if sandbox_variants:  # confirmed: rows carry every parcel and /shipped lists at print
        assert lists == {"GET /api/orders/shipped"}
    else:  # contradicted: the printed labels are read too
        assert lists == {"GET /api/orders/shipped", "GET /api/orders/shipments"}


@pytest.mark.parametrize("sandbox_variants", [{}], ids=["likely"])
def test_lines_that_name_no_address_are_shipped_to_the_address_the_order_lists(
        sandboxes: SandboxSet, tmp_path: Path) -> None:
    cycle = Cycle(sandboxes, tmp_path)
    order = cycle.bc.add_order("main", shipping_addresses=[_address("Ana"), _address("Ben")],
                               products=[{"name": "Cup", "address_index": 0},
                                         {"name": "Pot", "address_index": 1}])
    # The spec's own text: order_address_id "0 for items not fulfilled by a pickup method".
    cycle.bc.corrupt_order("main", order["id"], {
        ("consignments", "shipping", index, "line_items", 0, "order_address_id"): 0
        for index in (0, 1)})
    cycle.run()
    cycle.print_label(f"{order['id']}-1")
    cycle.print_label(f"{order['id']}-2")

    cycle.run()

    shipped = {s["order_address_id"]: s["items"][0]["order_product_id"]
               for s in cycle.bc.shipments("main", order["id"])}
    lines = {line["order_address_id"]: line["id"] for line in
             cycle.bc.products("main", order["id"])}
    assert shipped == lines  # each address got its own line's shipment


# -- the sandbox option ------------------------------------------------------------------

def test_run_sandbox_takes_variants_and_refuses_unknown_ones(tmp_path: Path) -> None:
    listed = run_cli(["sandbox", "--list-variants"], cwd=tmp_path)
    assert listed.code == 0
    assert "starshipit.shipped_listing: manifest (default); also print" in listed.stdout
    assert "bigcommerce.consignment_ids: own (default); also address" in listed.stdout

    result = run_cli(["run", "bigcommerce", "--sandbox", "--json", "--sandbox-orders", "20",
                      "--variant", "starshipit.dates=utc",
                      "--variant", "bigcommerce.currencies=same"], cwd=tmp_path)
    assert result.code in (0, 1), result.stderr
    [report] = result.json()["stores"]
    assert report["imported"] > 0 and report["written_back"] + report["awaiting_pickup"] > 0

    wrong = run_cli(["run", "bigcommerce", "--sandbox", "--variant", "starshipit.dates=mars"],
                    cwd=tmp_path)
    assert wrong.code == 2
    assert "starshipit.dates is one of local, utc" in wrong.stderr
    without = run_cli(["run", "bigcommerce", "--variant", "starshipit.dates=utc"],
                      cwd=tmp_path)
    assert without.code == 2 and "use it with --sandbox" in without.stderr
