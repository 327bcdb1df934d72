"""Every request body shipsync sends validates against the API's request schema.

A whole cycle (import, an update, a cancellation, labels, writeback with
update_status 10) runs through the real CLI against the emulators, which keep
the bodies they receive; each body is then checked: BigCommerce's against the
official spec, Starshipit's against the Starshipit plugin's schemas/api (Starshipit publishes
no machine-readable spec).
"""

from __future__ import annotations

import json
from pathlib import Path

from shipsync import records
from shipsync.plugins import PluginHost
from shipsync.sandboxes import SandboxSet
from shipsync.testing import run_cli, write_config

from .openapi import request_schema, require_specs, validate

require_specs()  # skipped with a reason on a clone without the vendor specs

ORDERS = "orders.v2.oas2.yml"
API_KEY = "sandbox-api-key"

BIGCOMMERCE_BODIES = {
    ("POST", "shipments"): ("/orders/{order_id}/shipments", "POST"),
    ("PUT", "order"): ("/orders/{order_id}", "PUT"),
}
STARSHIPIT_BODIES = {
    ("POST", "/api/orders/import"): "api/import_request.json",
    ("PUT", "/api/orders"): "api/update_request.json",
    ("POST", "/api/orders"): "api/create_request.json",
}


def _address(name: str) -> dict[str, str]:
    return {"first_name": name, "last_name": "Contract", "street_1": "1 Spec St",
            "city": "Sydney", "state": "NSW", "zip": "2000", "country_iso2": "AU"}


def test_every_body_shipsync_sends_matches_the_request_schemas(tmp_path: Path) -> None:
    host = PluginHost.load()
    with SandboxSet(host, orders=0, per_sandbox={"bigcommerce": {"rate_limit": None},
                                                 "starshipit": {"rate_limit": None}}) as boxes:
        bc, ss = boxes.emulator("bigcommerce"), boxes.emulator("starshipit")
        bc.log.keep_bodies = ss.log.keep_bodies = True
        data = boxes.config(tmp_path / "state.db")
        data["bigcommerce"]["stores"]["main"]["update_status"] = 10
        config = write_config(tmp_path / "shipsync.toml", data)
        orders = [bc.add_order("main", shipping_addresses=[_address("A"), _address("B")],
                               products=[{"name": "One", "address_index": 0,
                                          "product_options": [{"display_name": "Size",
                                                               "display_value": "M"}]},
                                         {"name": "Two", "address_index": 1, "quantity": 2}]),
                  bc.add_order("main", shipping_addresses=[_address("C")],
                               products=[{"name": "Three"}]),
                  bc.add_order("main", shipping_addresses=[_address("D")],
                               products=[{"name": "Four"}])]

        def run() -> None:
            result = run_cli(["run", "bigcommerce", "--json"], config=config, cwd=tmp_path)
            assert result.code == 0, result.stderr

        run()
        bc.update_order("main", orders[1]["id"], shipping_address={"street_1": "2 New St"})
        bc.update_order("main", orders[2]["id"], status_id=5)
        run()
        ss.print_label(API_KEY, f"{orders[0]['id']}-1", packages=2)
        ss.print_label(API_KEY, f"{orders[0]['id']}-2")
        ss.print_label(API_KEY, str(orders[1]["id"]))
        run()

        checked = {"bigcommerce": 0, "starshipit": 0}
        for entry in bc.log.snapshot()["entries"]:
            if entry["method"] not in ("POST", "PUT"):
                continue
            kind = "shipments" if entry["path"].endswith("/shipments") else "order"
            template, method = BIGCOMMERCE_BODIES[(entry["method"], kind)]
            schema = request_schema(ORDERS, method, template, reject_read_only=True)
            validate(schema, json.loads(entry["body"]), name=f"{method} {template}")
            checked["bigcommerce"] += 1
        for entry in ss.log.snapshot()["entries"]:
            if entry["method"] not in ("POST", "PUT") or not entry["body"]:
                continue
            name = STARSHIPIT_BODIES[(entry["method"], entry["path"])]
            assert records.schemas_of("shipsync_starshipit").errors(
                name, json.loads(entry["body"])) == [], entry["path"]
            checked["starshipit"] += 1

    # Three shipments and two status updates; an import, an update.
    assert checked["bigcommerce"] >= 4
    assert checked["starshipit"] >= 2
