"""The plugins' webhook receivers: authenticity, what a body becomes, and what is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from shipsync.config import Secret
from shipsync.contracts import Context, WebhookRequest
from shipsync_bigcommerce.webhooks import SECRET_HEADER, BigCommerceWebhooks
from shipsync_starshipit.webhooks import SIGNATURE_HEADER, StarshipitWebhooks, signatures

SECRET = "a-webhook-secret-of-some-length"
CLIENT_SECRET = "the-api-accounts-client-secret"
STORE = {"api_path": "https://api.bigcommerce.com/stores/abc123/v3/",
         "access_token": Secret("token"), "webhook_secret": Secret(SECRET),
         "client_secret": Secret(CLIENT_SECRET)}


def bigcommerce() -> BigCommerceWebhooks:
    return BigCommerceWebhooks(Context({"bigcommerce": {"stores": {"main": STORE}}}))


def callback(scope: str = "store/order/statusUpdated", **data: Any) -> bytes:
    return json.dumps({"producer": "stores/abc123", "hash": "x", "created_at": 1,
                       "store_id": "1", "scope": scope,
                       "data": data or {"type": "order", "id": 250}}).encode()


def request(body: bytes, path: str = "main", **headers: str) -> WebhookRequest:
    return WebhookRequest(path, {k.lower(): v for k, v in headers.items()}, body, time.time())


def signed(body: bytes, message_id: str = "msg_1", stamp: int | None = None,
           key: str = CLIENT_SECRET) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    mac = hmac.new(key.encode(), f"{message_id}.{stamp}.".encode() + body, hashlib.sha256)
    return {SECRET_HEADER: SECRET, "webhook-id": message_id, "webhook-timestamp": str(stamp),
            "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode()}


def test_an_order_callback_with_the_secret_header_is_an_import_trigger() -> None:
    result = bigcommerce().receive(request(callback(), **{SECRET_HEADER: SECRET}))

    assert result.status == 202
    [trigger] = result.triggers
    assert (trigger.step, trigger.source, trigger.store, trigger.order_id, trigger.delivery) == (
        "import", "bigcommerce", "main", "250", "")


def test_a_shipment_callback_is_a_writeback_trigger_for_its_order() -> None:
    body = callback("store/shipment/created", type="shipment", id=12, orderId=251)
    [trigger] = bigcommerce().receive(request(body, **{SECRET_HEADER: SECRET})).triggers
    assert (trigger.step, trigger.order_id) == ("writeback", "251")


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET[:-1]}])
def test_a_missing_or_wrong_secret_header_is_unauthorized(headers: dict[str, str]) -> None:
    assert bigcommerce().receive(request(callback(), **headers)).status == 401


def test_an_unknown_store_or_one_without_a_secret_is_not_found() -> None:
    receiver = BigCommerceWebhooks(Context({"bigcommerce": {"stores": {
        "main": STORE, "quiet": {**STORE, "webhook_secret": None}}}}))
    for path in ("other", "quiet", "main/extra", ""):
        assert receiver.receive(request(callback(), path, **{SECRET_HEADER: SECRET})).status \
            == 404


def test_a_standard_webhooks_signature_is_verified_and_names_the_message() -> None:
    body = callback()
    good = bigcommerce().receive(request(body, **signed(body)))
    stale = bigcommerce().receive(request(body, **signed(body, stamp=int(time.time()) - 600)))
    wrong_key = bigcommerce().receive(request(body, **signed(body, key="another-secret")))
    garbled = bigcommerce().receive(request(body, **{**signed(body),
                                                     "webhook-signature": "garbage"}))

    assert good.status == 202 and good.triggers[0].delivery == "msg_1"
    assert [r.status for r in (stale, wrong_key, garbled)] == [401, 401, 401]


@pytest.mark.parametrize("body, status", [
    (b"not json", 400),
    (b"[]", 400),
    (json.dumps({"producer": "stores/zzz", "scope": "store/order/created",
                 "data": {"id": 1}}).encode(), 400),
    (callback("store/order/created", type="order", id="12; DROP"), 400),
    (callback("store/product/updated", type="product", id=5), 200),
])
def test_bodies_that_name_no_order_of_this_store_trigger_nothing(body: bytes,
                                                                 status: int) -> None:
    result = bigcommerce().receive(request(body, **{SECRET_HEADER: SECRET}))
    assert (result.status, result.triggers) == (status, ())


def starshipit(**section: Any) -> StarshipitWebhooks:
    return StarshipitWebhooks(Context({"starshipit": {"webhook_secret": Secret(SECRET),
                                                      **section}}))


EVENT = json.dumps({"order_number": "1001", "tracking_number": "T1",
                    "tracking_status": "Printed"}).encode()


@pytest.mark.parametrize("header", signatures(SECRET, EVENT))
def test_every_plausible_starshipit_signature_is_accepted(header: str) -> None:
    result = starshipit().receive(request(EVENT, "", **{SIGNATURE_HEADER: header}))

    assert result.status == 202
    [trigger] = result.triggers
    assert (trigger.step, trigger.sink, trigger.order_number) == ("writeback", "starshipit",
                                                                   "1001")


def test_a_pinned_scheme_accepts_only_its_own_signature() -> None:
    digest = hmac.new(SECRET.encode(), EVENT, hashlib.sha256)
    pinned = starshipit(webhook_signature="hmac-sha256-hex")

    assert pinned.receive(request(EVENT, "", **{SIGNATURE_HEADER: digest.hexdigest()})).status \
        == 202
    assert pinned.receive(request(EVENT, "", **{SIGNATURE_HEADER: SECRET})).status == 401
    assert pinned.receive(request(
        EVENT, "", **{SIGNATURE_HEADER: base64.b64encode(digest.digest()).decode()})).status \
        == 401


def test_a_starshipit_event_signed_for_another_body_or_secret_is_unauthorized() -> None:
    other = signatures("another-secret-entirely", EVENT)[0]
    for header in ("", other, signatures(SECRET, EVENT + b" ")[0]):
        assert starshipit().receive(request(EVENT, "", **{SIGNATURE_HEADER: header})).status \
            == 401


def test_without_a_secret_the_starshipit_endpoint_is_off() -> None:
    receiver = StarshipitWebhooks(Context({"starshipit": {}}))
    header = signatures(SECRET, EVENT)[0]
    assert receiver.receive(request(EVENT, "", **{SIGNATURE_HEADER: header})).status == 404


def test_the_starshipit_install_instructions_name_where_the_secret_is_never_it() -> None:
    receiver = starshipit()
    receiver.secret = Secret(SECRET, source="env:STARSHIPIT_WEBHOOK_SECRET")

    [change] = receiver.install("https://sync.example.com/webhooks/starshipit")

    assert change.action == "manual" and SECRET not in change.detail
    assert "$STARSHIPIT_WEBHOOK_SECRET" in change.detail
