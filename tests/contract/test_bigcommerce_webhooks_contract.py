"""The BigCommerce emulator's ``/v3/hooks`` and the callbacks it delivers match the official
webhooks.v3 spec; so do the bodies the plugin sends to ``/v3/hooks``
(``shipsync webhooks install``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from shipsync.contracts import Context
from shipsync.sandbox import EmulatorServer
from shipsync_bigcommerce.sandbox import BigCommerceEmulator
from shipsync_bigcommerce.webhooks import BigCommerceWebhooks

from .openapi import (
    load_spec,
    request_schema,
    require_specs,
    response_schema,
    to_json_schema,
    validate,
)

require_specs()

WEBHOOKS = "webhooks.v3.yml"
HASH = "contracthooks"
TOKEN = "sandbox-token-contract"


class Receiver:
    """A destination on loopback that records every callback."""

    def __init__(self) -> None:
        bodies: list[tuple[dict[str, str], bytes]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                bodies.append((dict(self.headers), self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.bodies = bodies
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/bigcommerce/main"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def world() -> Iterator[tuple[BigCommerceEmulator, str, Receiver]]:
    emulator = BigCommerceEmulator()
    emulator.add_store(HASH, TOKEN, alias="main", rate_limit=None)
    emulator.log.keep_bodies = True
    receiver = Receiver()
    with EmulatorServer(emulator) as server:
        yield emulator, f"{server.url}/stores/{HASH}/v3", receiver
    receiver.close()


def call(method: str, url: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, url, headers={"X-Auth-Token": TOKEN}, timeout=10, **kwargs)


def test_hook_responses_match_the_spec(world: Any) -> None:
    _, v3, receiver = world
    body = {"scope": "store/order/created", "destination": receiver.url, "is_active": True,
            "headers": {"X-Shipsync-Webhook-Secret": "s" * 20}}

    created = call("POST", v3 + "/hooks", json=body)
    hook_id = created.json()["data"]["id"]
    listed = call("GET", v3 + "/hooks", params={"scope": "store/order/created"})
    one = call("GET", f"{v3}/hooks/{hook_id}")
    updated = call("PUT", f"{v3}/hooks/{hook_id}", json={"is_active": False})
    deleted = call("DELETE", f"{v3}/hooks/{hook_id}")
    gone = call("GET", f"{v3}/hooks/{hook_id}")

    validate(request_schema(WEBHOOKS, "POST", "/hooks"), body, name="POST /hooks body")
    validate(response_schema(WEBHOOKS, "POST", "/hooks", 200), created.json(), name="POST")
    validate(response_schema(WEBHOOKS, "GET", "/hooks", 200), listed.json(), name="GET list")
    for response, method in ((one, "GET"), (updated, "PUT"), (deleted, "DELETE")):
        assert response.status_code == 200
        validate(response_schema(WEBHOOKS, method, "/hooks/{webhook_id}", 200), response.json(),
                 name=f"{method} /hooks/{{id}}")
    assert updated.json()["data"]["is_active"] is False
    assert gone.status_code == 404


def test_refused_hooks_answer_the_documented_422(world: Any) -> None:
    _, v3, receiver = world
    unknown_scope = call("POST", v3 + "/hooks", json={"scope": "store/nothing",
                                                      "destination": receiver.url})
    plain_http = call("POST", v3 + "/hooks", json={"scope": "store/order/created",
                                                   "destination": "http://example.com/hook"})
    missing = call("POST", v3 + "/hooks", json={"scope": "store/order/created"})
    schema = response_schema(WEBHOOKS, "POST", "/hooks", 422)
    for response in (unknown_scope, plain_http, missing):
        assert response.status_code == 422
        validate(schema, response.json(), name="422")


def test_delivered_callbacks_match_the_spec(world: Any) -> None:
    emulator, v3, receiver = world
    emulator.webhooks.client_secrets[HASH] = "contract-client-secret"
    for scope in ("store/order/created", "store/order/updated", "store/order/statusUpdated",
                  "store/shipment/created"):
        assert call("POST", v3 + "/hooks", json={"scope": scope,
                                                 "destination": receiver.url}).status_code == 200
    order = emulator.add_order("main", products=[{"name": "Mug", "quantity": 1}])
    emulator.update_order("main", order["id"], status_id=9)
    address = emulator.shipping_addresses("main", order["id"])[0]["id"]
    line = emulator.products("main", order["id"])[0]["id"]
    shipped = requests.post(f"{v3[:-3]}/v2/orders/{order['id']}/shipments",
                            headers={"X-Auth-Token": TOKEN}, timeout=10, json={
                                "order_address_id": address, "tracking_number": "T1",
                                "items": [{"order_product_id": line, "quantity": 1}]})
    assert shipped.status_code == 201

    deadline = time.monotonic() + 10
    while len(receiver.bodies) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    document = load_spec(WEBHOOKS)
    scopes = []
    for headers, raw in receiver.bodies:
        payload = json.loads(raw)
        scopes.append(payload["scope"])
        name = payload["scope"].replace("/", "_")
        validate(to_json_schema(document["components"]["schemas"][name], document), payload,
                 name=payload["scope"])
        assert payload["producer"] == f"stores/{HASH}"
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= {
            k.lower() for k in headers}
    assert sorted(scopes) == sorted([
        "store/order/created", "store/order/statusUpdated", "store/order/updated",
        "store/shipment/created", "store/order/statusUpdated", "store/order/updated"])


def test_what_webhooks_install_sends_matches_the_spec(world: Any) -> None:
    emulator, v3, receiver = world
    section = {"api_path": v3 + "/", "access_token": TOKEN, "webhook_secret": "w" * 24}
    hooks = BigCommerceWebhooks(Context({"bigcommerce": {"stores": {"main": section}}}))
    endpoint = receiver.url.rsplit("/", 1)[0]
    try:
        hooks.install(endpoint)
        emulator.webhooks.store_hooks(HASH)[0].is_active = False
        hooks.install(endpoint)  # the deactivated hook is turned on again: a PUT
    finally:
        hooks.close()

    sent = [e for e in emulator.log.entries if e.path.endswith("/hooks") or "/hooks/" in e.path]
    posts = [json.loads(e.body or "{}") for e in sent if e.method == "POST"]
    puts = [json.loads(e.body or "{}") for e in sent if e.method == "PUT"]
    assert len(posts) == 5 and len(puts) == 1
    for body in posts:
        validate(request_schema(WEBHOOKS, "POST", "/hooks"), body, name="POST /hooks")
    validate(request_schema(WEBHOOKS, "PUT", "/hooks/{webhook_id}"), puts[0], name="PUT")
