"""The HTTP client against a misbehaving server over real HTTP on loopback.

Redirects, wrong shapes, trickles, endless and huge bodies, and a stop in the
middle of a retry or a call: each ends in an error naming what happened, in
bounded time and memory, and a write whose answer is unusable is in doubt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from shipsync.http import (
    ApiError,
    HttpClient,
    InDoubtError,
    Interrupted,
    RetryPolicy,
    ShapeError,
    TransportError,
    expect_list,
    expect_object,
    json_of,
)
from shipsync.misbehaving import Misbehaviour, MisbehavingServer

Start = Callable[..., MisbehavingServer]


@pytest.fixture
def upstream(misbehaving_server: Start) -> MisbehavingServer:
    """A plain server answering ``[{"id": 1}]`` to everything: what the client talks to."""
    server = misbehaving_server()
    server.add(Misbehaviour("answer", body=b'[{"id": 1}]'))
    return server


@pytest.fixture
def clients() -> Iterator[list[HttpClient]]:
    made: list[HttpClient] = []
    yield made
    for client in made:
        client.close()


def client_for(made: list[HttpClient], url: str, **options: object) -> HttpClient:
    client = HttpClient(url, {"X-Auth-Token": "secret-token-value"}, name="api",
                        retry=RetryPolicy(max_retries=1, base_delay=0.01, max_delay=0.02),
                        **options)  # type: ignore[arg-type]
    made.append(client)
    return client


def test_a_normal_answer_is_returned_with_its_body(upstream: MisbehavingServer,
                                                   misbehaving_server: Start,
                                                   clients: list[HttpClient]) -> None:
    proxy = misbehaving_server(upstream.url)
    response = client_for(clients, proxy.url).request("GET", "orders")
    assert expect_list(json_of(response, "api GET /orders"), "api GET /orders") == [{"id": 1}]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_no_redirect_is_followed_and_the_error_names_status_and_host(
        status: int, upstream: MisbehavingServer, misbehaving_server: Start,
        clients: list[HttpClient]) -> None:
    elsewhere = misbehaving_server()
    proxy = misbehaving_server(upstream.url)
    proxy.add(Misbehaviour("redirect", status=status,
                           location=elsewhere.url.replace("127.0.0.1", "localhost") + "{path}"))
    client = client_for(clients, proxy.url)

    with pytest.raises(ApiError) as read:
        client.request("GET", "orders")
    with pytest.raises(InDoubtError) as write:
        client.request("POST", "orders/1/shipments", json={"tracking_number": "T1"})

    for caught in (read, write):
        assert f"HTTP {status}" in str(caught.value) and "localhost" in str(caught.value)
    assert read.value.status == status and read.value.applied is False
    assert write.value.applied is None  # looked up before anything is sent again
    assert elsewhere.received() == []  # neither the token nor the body went anywhere
    assert len(proxy.received()) == 2  # and nothing was retried


@pytest.mark.parametrize("body, expected", [
    (b"{}", "expected a list of orders, got an empty object"),
    (b"", "an empty answer"),
    (b'{"status": 500, "title": "Internal error"}', "got an object with keys status, title"),
    (b'"orders"', "got a string"),
    (b"[1, 2]", "item 0 is a number"),
    (b"[{", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
])
def test_an_answer_of_the_wrong_shape_is_an_error_naming_the_endpoint(
        body: bytes, expected: str, misbehaving_server: Start,
        clients: list[HttpClient]) -> None:
    server = misbehaving_server().add(Misbehaviour("answer", body=body))
    response = client_for(clients, server.url).request("GET", "orders")
    with pytest.raises(ShapeError) as caught:
        expect_list(json_of(response, "api GET /orders"), "api GET /orders", "orders")
    assert str(caught.value).startswith("api GET /orders: ")
    assert expected in str(caught.value)


def test_expect_object_names_the_missing_keys() -> None:
    with pytest.raises(ShapeError, match="api GET /time: expected an object with time"):
        expect_object({"now": 1}, "api GET /time", "time")
    assert expect_object({"time": 1}, "api GET /time", "time") == {"time": 1}


def test_a_trickling_answer_ends_at_the_call_deadline(upstream: MisbehavingServer,
                                                      misbehaving_server: Start,
                                                      clients: list[HttpClient]) -> None:
    proxy = misbehaving_server(upstream.url)
    proxy.add(Misbehaviour("trickle", interval=0.2))  # each read well within the timeout
    client = client_for(clients, proxy.url, timeout=5.0, deadline=1.0)
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"no complete answer within 1 s, 2 attempts"):
        client.request("GET", "orders")
    assert time.monotonic() - started < 4.0
    with pytest.raises(InDoubtError, match="no complete answer within 1 s"):
        client.request("POST", "orders", json={})
    assert len(proxy.received("POST")) == 1  # a write is not sent twice


def test_an_endless_body_is_refused_past_the_cap(misbehaving_server: Start,
                                                 clients: list[HttpClient]) -> None:
    server = misbehaving_server().add(Misbehaviour("endless"))
    client = client_for(clients, server.url, max_body_bytes=2 * 1024 * 1024)
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"larger than the 2 MB allowed") as caught:
        client.request("GET", "orders")
    assert not isinstance(caught.value, InDoubtError)
    assert time.monotonic() - started < 10
    with pytest.raises(InDoubtError, match="larger than the 2 MB allowed"):
        client.request("POST", "orders", json={})


def test_a_huge_announced_body_is_refused_before_it_is_read(misbehaving_server: Start,
                                                           clients: list[HttpClient]) -> None:
    server = misbehaving_server().add(Misbehaviour("huge", size=400 * 1024 * 1024))
    client = client_for(clients, server.url, max_body_bytes=1024 * 1024)
    started = time.monotonic()
    with pytest.raises(TransportError, match="larger than the 1 MB allowed"):
        client.request("GET", "orders")
    assert time.monotonic() - started < 5


def test_a_server_that_never_accepts_is_bounded_by_the_deadline(misbehaving_server: Start,
                                                                clients: list[HttpClient]
                                                                ) -> None:
    server = misbehaving_server(accept_delay=30)
    client = client_for(clients, server.url, timeout=10.0, deadline=0.5)
    started = time.monotonic()
    with pytest.raises(TransportError):
        client.request("GET", "orders")
    assert time.monotonic() - started < 3


def test_a_stop_ends_a_retry_wait_at_once(misbehaving_server: Start,
                                          clients: list[HttpClient]) -> None:
    server = misbehaving_server().add(Misbehaviour("answer", status=503, body=b"{}"))
    stop = threading.Event()
    client = HttpClient(server.url, name="api", stop=stop,
                        retry=RetryPolicy(max_retries=8, base_delay=20, max_delay=60))
    clients.append(client)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(Interrupted, match="the run is stopping"):
        client.request("GET", "orders")
    assert time.monotonic() - started < 2
    assert len(server.received()) == 1


def test_a_stop_abandons_a_call_in_flight_a_write_stays_in_doubt(
        upstream: MisbehavingServer, misbehaving_server: Start,
        clients: list[HttpClient]) -> None:
    proxy = misbehaving_server(upstream.url).add(Misbehaviour("hang"))
    stop = threading.Event()
    client = HttpClient(proxy.url, name="api", stop=stop, timeout=60, deadline=60)
    clients.append(client)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(InDoubtError, match="abandoned as the run stops"):
        client.request("POST", "orders", json={"n": 1})
    assert time.monotonic() - started < 2
    assert len(upstream.received("POST")) == 1  # it was applied: hence the doubt
    with pytest.raises(Interrupted):
        client.request("GET", "orders")


def test_a_token_that_breaks_the_request_is_never_quoted(upstream: MisbehavingServer,
                                                         clients: list[HttpClient]) -> None:
    client = HttpClient(upstream.url, {"X-Auth-Token": " leaked-token\n"}, name="api")
    clients.append(client)
    with pytest.raises(TransportError) as caught:
        client.request("GET", "orders")
    assert "leaked-token" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "could not be sent (InvalidHeader)" in str(caught.value)
