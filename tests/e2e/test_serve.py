"""``shipsync serve`` end to end: the emulators deliver webhooks to the real service over HTTP.

Each test starts the service as its own process (``serve_world.Served``) with the
BigCommerce hooks installed by ``shipsync webhooks install`` and Starshipit's
tracking webhook set as the merchant would, then checks what reached each API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from serve_world import Served, eventually
from shipsync.testing import record_output
from sync_world import World

PRODUCTS = [{"name": "Mug", "sku": "MUG-1", "quantity": 1}]
SECRET_HEADER = "X-Shipsync-Webhook-Secret"
STORE_SECRET = "sandbox-webhook-secret-main"


@pytest.fixture
def served(world: World) -> Iterator[Served]:
    service = Served(world)
    yield service
    service.stop()


def callback(world: World, order_id: int, scope: str = "store/order/statusUpdated") -> bytes:
    store_hash = world.bc.stores["main"].store_hash
    data = {"type": "order", "id": order_id}
    return json.dumps({"producer": f"stores/{store_hash}", "hash": "0" * 40,
                       "created_at": int(time.time()), "store_id": "1", "scope": scope,
                       "data": data}).encode()


def bc_reads(world: World) -> int:
    return world.bc.log.total("GET")


def test_a_paid_order_reaches_starshipit_through_its_webhook(world: World,
                                                              served: Served) -> None:
    order = world.add_order(products=PRODUCTS)

    number = str(order["id"])
    eventually(lambda: number in world.starshipit_orders())
    assert served.metric("shipsync_webhook_events_total", webhook="bigcommerce",
                         step="import") >= 1
    eventually(lambda: served.metric("shipsync_syncs_total", trigger="webhook", step="import",
                                     result="ok") >= 1)


def test_a_printed_label_reaches_bigcommerce_through_starshipits_webhook(
        world: World, served: Served) -> None:
    order = world.add_order(products=PRODUCTS)
    number = str(order["id"])
    eventually(lambda: number in world.starshipit_orders())

    label = world.print_label(number)

    shipments = eventually(lambda: world.bc.shipments("main", order["id"]))
    assert [s["tracking_number"] for s in shipments] == [
        label["tracking_numbers"][0] if "tracking_numbers" in label
        else world.starshipit_orders()[number]["packages"][0]["tracking_number"]]
    assert world.bc.get_order("main", order["id"])["status_id"] == 2
    assert served.metric("shipsync_webhook_events_total", webhook="starshipit",
                         step="writeback") == 1


def test_without_starshipits_webhook_the_label_check_writes_back(world: World) -> None:
    service = Served(world, tracking=False, labels_every="5s")
    try:
        order = world.add_order(products=PRODUCTS)
        number = str(order["id"])
        eventually(lambda: number in world.starshipit_orders())
        world.print_label(number)

        eventually(lambda: world.bc.shipments("main", order["id"]), timeout=20)
        assert service.metric("shipsync_webhook_events_total", webhook="starshipit") == 0
        eventually(lambda: service.metric("shipsync_syncs_total", trigger="labels",
                                          result="ok") >= 1)
    finally:
        service.stop()


def test_forged_calls_are_refused_and_cost_no_call(world: World, served: Served) -> None:
    order = world.add_order(products=PRODUCTS)
    number = str(order["id"])
    eventually(lambda: number in world.starshipit_orders())
    time.sleep(0.3)
    before = len(world.bc.log.entries), len(world.ss.log.entries)
    body = callback(world, order["id"])

    no_secret = served.post("/webhooks/bigcommerce/main", body)
    wrong = served.post("/webhooks/bigcommerce/main", body, {SECRET_HEADER: "guessed-" * 4})
    unsigned = served.post("/webhooks/starshipit", json.dumps({"order_number": number}))
    badly_signed = served.post("/webhooks/starshipit", json.dumps({"order_number": number}),
                               {"X-Starshipit-Signature": "c2lnbmF0dXJl"})

    assert [r.status_code for r in (no_secret, wrong, unsigned, badly_signed)] == [401] * 4
    time.sleep(0.5)
    assert (len(world.bc.log.entries), len(world.ss.log.entries)) == before
    assert served.metric("shipsync_webhook_requests_total", outcome="unauthorized") == 4


def test_a_replayed_call_costs_one_read_and_writes_nothing(world: World,
                                                            served: Served) -> None:
    order = world.add_order(products=PRODUCTS)
    number = str(order["id"])
    eventually(lambda: number in world.starshipit_orders())
    time.sleep(0.5)  # the webhooks of the order's creation are all synced
    seen, imports = len(world.bc.log.entries), world.ss.log.total("POST", "/api/orders/import")
    syncs = served.metric("shipsync_syncs_total", trigger="webhook", step="import")
    body = callback(world, order["id"])

    answer = served.post("/webhooks/bigcommerce/main", body, {SECRET_HEADER: STORE_SECRET})

    assert answer.status_code == 202
    eventually(lambda: served.metric("shipsync_syncs_total", trigger="webhook",
                                     step="import") == syncs + 1)
    time.sleep(0.3)
    calls = world.bc.log.entries[seen:]
    order_reads = [e for e in calls if e.path.endswith(f"/v2/orders/{order['id']}")]
    assert len(order_reads) == 1  # the order read once, by id
    assert len(calls) <= 3 and {e.method for e in calls} == {"GET"}  # + units and customs
    assert world.ss.log.total("POST", "/api/orders/import") == imports
    assert list(world.starshipit_orders()) == [number]


def test_a_signed_callback_replayed_is_dropped_and_a_stale_one_refused(
        world: World, served: Served) -> None:
    order = world.add_order(products=PRODUCTS)
    eventually(lambda: str(order["id"]) in world.starshipit_orders())
    time.sleep(0.3)
    body = callback(world, order["id"])

    def signed(message_id: str, stamp: int) -> dict[str, str]:
        key = b"sandbox-client-secret-main"
        mac = hmac.new(key, f"{message_id}.{stamp}.".encode() + body, hashlib.sha256)
        return {SECRET_HEADER: STORE_SECRET, "webhook-id": message_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode()}

    first = served.post("/webhooks/bigcommerce/main", body, signed("msg_1", int(time.time())))
    again = served.post("/webhooks/bigcommerce/main", body, signed("msg_1", int(time.time())))
    stale = served.post("/webhooks/bigcommerce/main", body,
                        signed("msg_2", int(time.time()) - 3600))
    tampered = served.post("/webhooks/bigcommerce/main", body + b" ",
                           signed("msg_3", int(time.time())))

    assert [first.status_code, again.status_code] == [202, 202]
    assert [stale.status_code, tampered.status_code] == [401, 401]
    assert served.metric("shipsync_webhook_repeats_total", webhook="bigcommerce") == 1


def test_oversized_bodies_are_refused_unread(world: World, served: Served) -> None:
    huge = b"{" + b" " * (64 * 1024) + b"}"

    answer = served.post("/webhooks/bigcommerce/main", huge, {SECRET_HEADER: STORE_SECRET})
    chunked = requests.post(f"{served.url}/webhooks/starshipit",
                            data=iter([b"x" * 8192] * 8), timeout=10)

    assert answer.status_code == 413 and chunked.status_code == 413
    assert served.metric("shipsync_webhook_requests_total", outcome="too_large") == 2


def test_an_unknown_store_is_answered_like_any_unknown_path(world: World,
                                                             served: Served) -> None:
    body = callback(world, 1)

    unknown_store = served.post("/webhooks/bigcommerce/other", body,
                                {SECRET_HEADER: STORE_SECRET})
    unknown_plugin = served.post("/webhooks/shopify/main", body)
    unknown_path = served.post("/nothing/here", body)

    answers = [(r.status_code, r.text, sorted(r.headers)) for r in
               (unknown_store, unknown_plugin, unknown_path)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][:2] == (404, "Not Found")


def test_lost_webhooks_are_made_up_for_by_the_poll(world: World) -> None:
    world.bc.webhooks.configure(loss=1.0)
    service = Served(world, poll_every="10s")
    try:
        eventually(lambda: service.metric("shipsync_syncs_total", trigger="poll") >= 1)
        order = world.add_order(products=PRODUCTS)  # after the poll at start

        eventually(lambda: str(order["id"]) in world.starshipit_orders(), timeout=25)
        lost = [d for d in world.bc.webhooks.deliveries if d["outcome"] == "lost"]
        assert lost and service.metric("shipsync_webhook_events_total") == 0
        eventually(lambda: service.metric("shipsync_syncs_total", trigger="poll",
                                          result="ok") >= 2)
    finally:
        service.stop()


def test_sigterm_during_a_burst_loses_nothing_and_syncs_nothing_twice(world: World) -> None:
    world.bc.webhooks.configure(retry_scale=0.01)  # BigCommerce's retries, 100x sooner
    service = Served(world)
    orders: list[dict[str, object]] = []

    def burst() -> None:  # 30 orders paid over 1.5 s
        for _ in range(30):
            orders.append(world.add_order(products=PRODUCTS))
            time.sleep(0.05)

    adding = threading.Thread(target=burst)
    adding.start()
    time.sleep(0.4)
    assert service.stop(signal.SIGTERM) == 0  # while orders keep coming
    adding.join()
    assert "stopped" in service.output()
    assert len(world.starshipit_orders()) < 30

    # What was received and not synced waits in the inbox; what was not answered,
    # BigCommerce sends again; the next start takes both up.
    again = Served(world, install=False)
    try:
        numbers = {str(o["id"]) for o in orders}
        eventually(lambda: numbers <= set(world.starshipit_orders()), timeout=30)
        assert len(world.starshipit_orders()) == 30
        eventually(lambda: _pending(world) == 0, timeout=10)
        with sqlite3.connect(world.tmp_path / "state.db") as db:
            creates = db.execute("SELECT key, state FROM journal WHERE action='create_order'")
            assert sorted(creates.fetchall()) == sorted((n, "done") for n in numbers)
    finally:
        again.stop()


def _pending(world: World) -> int:
    with sqlite3.connect(world.tmp_path / "state.db") as db:
        return int(db.execute("SELECT COUNT(*) FROM inbox WHERE state='pending'").fetchone()[0])


def test_webhooks_install_twice_changes_nothing_and_a_new_url_updates(world: World) -> None:
    world.configure()
    first = world.cli("webhooks", "install", "bigcommerce", "--url", "http://127.0.0.1:9",
                      "--json")
    second = world.cli("webhooks", "install", "bigcommerce", "--url", "http://127.0.0.1:9",
                       "--json")
    moved = world.cli("webhooks", "install", "bigcommerce", "--url", "http://127.0.0.1:10",
                      "--json")

    assert first.code == second.code == moved.code == 0, first.stderr + moved.stderr
    assert {c["action"] for c in first.json()["changes"]} == {"created"}
    assert {c["action"] for c in second.json()["changes"]} == {"unchanged"}
    assert {c["action"] for c in moved.json()["changes"]} == {"updated"}
    hooks = world.bc.webhooks.store_hooks(world.bc.stores["main"].store_hash)
    assert len(hooks) == len(first.json()["changes"]) == 5
    assert {h.destination for h in hooks} == {"http://127.0.0.1:10/webhooks/bigcommerce/main"}
    assert all(h.headers == {SECRET_HEADER: STORE_SECRET} for h in hooks)
    assert STORE_SECRET not in first.stdout + first.stderr + moved.stdout


def test_deactivated_hooks_are_reported_and_install_turns_them_on(world: World) -> None:
    world.configure()
    assert world.cli("webhooks", "install", "bigcommerce", "--url", "http://127.0.0.1:9").code == 0
    hooks = world.bc.webhooks.store_hooks(world.bc.stores["main"].store_hash)
    hooks[0].is_active = False  # what BigCommerce does after 48 hours of failed callbacks

    listed = world.cli("webhooks", "list", "bigcommerce", "--json")
    reinstalled = world.cli("webhooks", "install", "bigcommerce", "--url",
                            "http://127.0.0.1:9", "--json")

    assert listed.json()["deactivated"] == 1 and "deactivated" in listed.stderr
    assert [c["action"] for c in reinstalled.json()["changes"]].count("updated") == 1
    assert all(h.is_active for h in hooks)


def test_a_callback_failing_is_retried_then_the_hook_deactivated(world: World) -> None:
    world.configure()
    world.bc.webhooks.configure(retry_scale=0.0001)
    assert world.cli("webhooks", "install", "bigcommerce", "--url", "http://127.0.0.1:9").code == 0

    world.add_order(products=PRODUCTS)  # nobody listens on port 9

    hooks = world.bc.webhooks.store_hooks(world.bc.stores["main"].store_hash)
    created = next(h for h in hooks if h.scope == "store/order/created")
    eventually(lambda: not created.is_active, timeout=30)
    attempts = [d for d in world.bc.webhooks.deliveries if d["hook"] == created.id]
    assert len(attempts) == 12  # the first try and the 11 documented retries


def test_starshipit_install_says_what_to_enter_without_the_secret(world: World) -> None:
    world.configure()
    result = world.cli("webhooks", "install", "starshipit", "--url", "https://sync.example.com",
                       "--json")

    assert result.code == 0, result.stderr
    [change] = result.json()["changes"]
    assert change["action"] == "manual"
    assert change["destination"] == "https://sync.example.com/webhooks/starshipit"
    assert "Tracking & notifications" in change["detail"]
    assert "sandbox-webhook-secret" not in result.stdout
    table = world.cli("webhooks", "install", "starshipit", "--url", "https://sync.example.com",
                      env={"COLUMNS": "300"})
    assert "[starshipit] webhook_secret" in table.stdout  # shown as text, not markup


def test_install_refuses_plain_http_off_loopback(world: World) -> None:
    world.configure()
    result = world.cli("webhooks", "install", "bigcommerce", "--url", "http://sync.example.com")
    assert result.code == 2 and "https" in result.stderr


def test_healthz_and_metrics(world: World, served: Served) -> None:
    order = world.add_order(products=PRODUCTS)
    eventually(lambda: str(order["id"]) in world.starshipit_orders())
    eventually(lambda: served.metric("shipsync_syncs_total", trigger="webhook") >= 1)
    health = served.get("/healthz")
    metrics = served.get("/metrics")

    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert metrics.status_code == 200
    for name in ("shipsync_queue_depth", "shipsync_event_latency_seconds_bucket",
                 "shipsync_api_requests_total", "shipsync_api_throttled_total"):
        assert name in metrics.text
    assert served.metric("shipsync_api_requests_total", api="bigcommerce") > 0


def test_metrics_want_the_token_when_one_is_set(world: World) -> None:
    service = Served(world, metrics_token="CANARY-SECRET-metrics-token")
    try:
        refused = service.get("/metrics")
        wrong = service.get("/metrics", headers={"Authorization": "Bearer nope"})
        allowed = service.get("/metrics",
                              headers={"Authorization": "Bearer CANARY-SECRET-metrics-token"})
        assert (refused.status_code, wrong.status_code, allowed.status_code) == (401, 401, 200)
        assert service.get("/healthz").status_code == 200
    finally:
        service.stop()


def test_sandbox_serve_shows_the_whole_loop(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "shipsync", "sandbox", "--serve", "--orders", "10",
         "--demo-every", "0.5", "--serve-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")},
             "NO_COLOR": "1"})
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "shipped in bigcommerce" in line or not line:
                break
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(lines) + rest
    record_output(output)
    assert "paid -> in starshipit after" in output
    assert "printed -> shipped in bigcommerce after" in output
    assert process.returncode == 0 and "Traceback" not in output


def test_serve_shows_the_status_page_with_the_webhook_latency(world: World,
                                                               served: Served) -> None:
    order = world.add_order(products=PRODUCTS)
    eventually(lambda: str(order["id"]) in world.starshipit_orders())
    eventually(lambda: served.metric("shipsync_event_latency_seconds_count") >= 1)

    page = served.get("/")
    story = served.get("/search", params={"q": str(order["id"])})  # follows to its story
    foreign = served.get("/", headers={"Host": "attacker.example"})

    assert page.status_code == 200 and "Sync status" in page.text
    assert "webhook → order in the sink" in page.text  # the latency chart, from real samples
    assert story.status_code == 200 and "imported" in story.text
    assert foreign.status_code == 421  # loopback without a token: DNS rebinding refused
    assert served.get("/healthz").status_code == 200  # the page does not shadow the service


def test_serve_off_loopback_refuses_to_start_without_a_dashboard_token(world: World) -> None:
    from shipsync.testing import run_cli

    done = run_cli(["serve", "--host", "0.0.0.0", "--port", "0"], config=world.config_path,
                   cwd=world.tmp_path, timeout=60)

    assert done.code == 2, done.stderr
    assert "dashboard_token" in done.stderr and "Traceback" not in done.stderr
