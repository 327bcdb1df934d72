"""The status page without a browser: its access rule, charts, advice, headers and seams.

The app runs in a real uvicorn server on loopback and is asked over HTTP; the
state it reads is written through the state store's own API. What a browser
sees after real runs is tested in tests/e2e/test_dashboard.py.
"""

from __future__ import annotations

import base64
import html
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from shipsync.config import Config, Secret, load_config
from shipsync.dashboard import Access, AccessError, Worker, bind, create_dashboard, is_loopback
from shipsync.dashboard.chart import hourly_chart, latency_histogram, nice_ceiling, percentile
from shipsync.dashboard.fixes import how_to_fix
from shipsync.engine import Engine
from shipsync.plugins import PluginHost
from shipsync.state import SQLiteStateStore
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "CANARY-SECRET-unit-dashboard-token"


# --------------------------------------------------------------------------- the access rule


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.9.9.9", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("app.localhost", True),
    ("0.0.0.0", False), ("::", False), ("", False), ("192.168.1.20", False),
    ("10.0.0.1", False), ("example.com", False), ("localhost.example.com", False)])
def test_only_loopback_addresses_and_names_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_off_loopback_without_a_token_or_with_a_short_one_the_page_refuses_to_start() -> None:
    Access("127.0.0.1").check()
    Access("0.0.0.0", Secret("x" * 16)).check()
    with pytest.raises(AccessError, match="not loopback.*dashboard_token"):
        Access("0.0.0.0").check()
    with pytest.raises(AccessError, match="too short"):
        Access("127.0.0.1", Secret("short-token")).check()
    with pytest.raises(AccessError):
        create_dashboard(_engine_for(None), Access("192.168.1.20"))


def test_from_config_reads_serve_and_a_command_line_host_wins() -> None:
    serve = {"host": "0.0.0.0", "dashboard_token": Secret(TOKEN)}
    assert Access.from_config(serve).host == "0.0.0.0"
    assert Access.from_config(serve, "127.0.0.1").host == "127.0.0.1"
    assert Access.from_config({}).host == "127.0.0.1" and Access.from_config({}).token is None
    assert TOKEN not in repr(Access.from_config(serve))


# --------------------------------------------------------------------------- charts


def test_nice_ceiling_rounds_up_to_one_two_or_five_times_a_power_of_ten() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 2, 3, 7, 10, 11, 240, 501)] == \
        [1, 1, 2, 5, 10, 10, 20, 500, 1000]


def test_hourly_chart_puts_each_count_in_its_hour_and_leaves_out_the_rest() -> None:
    now = datetime(2025, 6, 2, 10, 30, tzinfo=timezone.utc)
    rows = [{"kind": "imported", "hour": "2025-06-02T10", "n": 4},
            {"kind": "imported", "hour": "2025-06-01T11", "n": 2},  # the oldest hour shown
            {"kind": "imported", "hour": "2025-06-01T10", "n": 9},  # 25 hours ago: left out
            {"kind": "written_back", "hour": "2025-06-02T09", "n": 1},
            {"kind": "skipped", "hour": "2025-06-02T10", "n": 50}]  # not a series
    chart = hourly_chart(rows, now, series={"imported": "imported", "written_back": "back"})

    assert chart.labels[0] == "11:00" and chart.labels[-1] == "10:00"
    assert chart.series["imported"][-1] == 4 and chart.series["imported"][0] == 2
    assert chart.total("imported") == 6 and chart.total("written_back") == 1
    bars = {(b.series, b.value): b for b in chart.bars if b.value}
    # Heights are proportional to the counts, on a scale whose top is 5.
    assert bars[("imported", 4)].height == pytest.approx(bars[("written_back", 1)].height * 4)
    assert [t.label for t in chart.y_ticks] == ["0", "5"]
    assert not chart.empty
    assert hourly_chart([], now, series={"imported": "x"}).empty


def test_latency_histogram_counts_each_bucket_and_gives_the_percentiles() -> None:
    samples = [0.2, 0.4, 0.9, 1.5, 1.8, 3.0, 45.0, 400.0]
    histogram = latency_histogram("paid → in the sink", samples)
    assert histogram is not None
    counts = dict(histogram.buckets)
    assert counts["≤ 0.5 s"] == 2 and counts["≤ 1 s"] == 1 and counts["≤ 2 s"] == 2
    assert counts["≤ 5 s"] == 1 and counts["≤ 1 min"] == 1 and counts["> 5 min"] == 1
    assert sum(counts.values()) == len(samples) == histogram.count
    assert histogram.p50 == percentile(samples, 0.5) == 1.5
    assert histogram.p95 == 400.0 and histogram.maximum == 400.0
    assert latency_histogram("none", []) is None


# --------------------------------------------------------------------------- how to fix it


@pytest.mark.parametrize("reason, words", [
    ("invalid order: $.destinations[0].address.street: '' is too short", "Correct it in shop"),
    ("mapper 'hs-codes' failed: KeyError: 'x'", "The mapper hs-codes stopped"),
    ("invalid order after mapper 'hs-codes': $.x", "The mapper hs-codes turned"),
    ("105: outcome unknown (sink: GET api/orders: ConnectionError after 1 attempts); it will be "
     "looked up before anything is sent again", "looks the order up"),
    ("102: shipment outcome unknown (x); it will be looked up", "answer to the shipment"),
    ("7: the sink did not answer after 3 attempts", "did not answer"),
    ("7: the source did not answer after 3 attempts", "did not answer"),
    ("7: update failed: 400 bad", "refused the change"),
    ("7: could not delete (cancelled): 500", "could not be deleted"),
    ("7: the order is no longer in the source", "deleted in shop"),
    ("7-2: its address is no longer on the order", "address this label was printed for"),
    ("7: shipment refused: 422 quantity", "refused the shipment"),
    ("7: shipment written, status 2 not set: 500", "new status"),
    ("7: invalid shipment record: $.tracking_numbers", "cannot read"),
    ("7: printed with a courier, but it is a pickup consignment: shop cannot ship it",
     "collected in store"),
    ("line 6 quantity is not a number: '<i>two</i>'", "read again on every run"),
])
def test_each_kind_of_failure_gets_its_own_advice(reason: str, words: str) -> None:
    assert words in how_to_fix(reason, source="shop", sink="sink")


def test_the_advice_matches_what_the_engine_writes() -> None:
    """Every phrase the advice looks for is still in the engine's own wording."""
    engine_text = "".join(p.read_text() for p in (ROOT / "core/shipsync/engine").glob("*.py"))
    for phrase in ("invalid order: ", "invalid order after mapper", "mapper {mapper.name!r} "
                   "failed", "outcome unknown", "did not answer after", "update failed",
                   "could not delete", "no longer in the source", "address is no longer on "
                   "the order", "shipment refused", "not set: ", "invalid shipment record",
                   "printed with a courier"):
        assert phrase in engine_text, phrase


# --------------------------------------------------------------------------- the app over HTTP


def _engine_for(state_path: Path | None) -> Engine:
    host = PluginHost.load()
    raw: dict[str, Any] = {
        "state": {"path": str(state_path or ":memory:")},
        "starshipit": {"api_key": "k", "subscription_key": "s"},
        "bigcommerce": {"stores": {"main": {
            "api_path": "https://api.bigcommerce.com/stores/abc123/v3/",
            "client_id": "c", "access_token": "t"}}}}
    config: Config = load_config(None, host.config_schemas.values(), raw=raw)
    return Engine(host, config, SQLiteStateStore(state_path or ":memory:"))


class Served:
    def __init__(self, app: ASGIApp) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, allow_redirects=False, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    running: list[Served] = []
    engines: list[Engine] = []

    def start(*, mount: str = "", **options: Any) -> Served:
        engine = _engine_for(tmp_path / "state.db")
        engines.append(engine)
        app = create_dashboard(engine, options.pop("access", None), **options)
        if mount:
            app = Starlette(routes=[Mount(mount, app=app)])
        served = Served(app)
        running.append(served)
        return served

    yield start
    for served in running:
        served.stop()
    for engine in engines:
        engine.state.close()


def test_on_loopback_without_a_token_only_loopback_host_names_are_answered(
        serve: Callable[..., Served]) -> None:
    served = serve()
    assert served.get("/").status_code == 200
    assert served.get("/", headers={"Host": f"localhost:{served.port}"}).status_code == 200
    # DNS rebinding: a page from elsewhere whose name now points here gets nothing.
    rebound = served.get("/", headers={"Host": f"attacker.example:{served.port}"})
    assert rebound.status_code == 421 and "Sync status" not in rebound.text


def test_with_a_token_every_request_must_carry_it_as_bearer_or_basic_password(
        serve: Callable[..., Served]) -> None:
    served = serve(access=Access("127.0.0.1", Secret(TOKEN)))
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    wrong = base64.b64encode(b"anyone:CANARY-SECRET-not-it-at-all").decode()
    no_colon = base64.b64encode(TOKEN.encode()).decode()
    assert served.get("/").status_code == 401
    assert served.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert served.get("/", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    for header in (f"Basic {wrong}", f"Basic {no_colon}", "Basic !!!", f"Bearer {TOKEN}x",
                   f"Token {TOKEN}", "Bearer "):
        refused = served.get("/", headers={"Authorization": header})
        assert refused.status_code == 401, header
        assert TOKEN not in refused.text and "Sync status" not in refused.text
    # The static files are behind the rule too.
    assert served.get("/static/dashboard.css").status_code == 401


def test_every_page_is_read_only_and_sent_with_protective_headers(
        serve: Callable[..., Served]) -> None:
    served = serve()
    for path in ("/", "/failures", "/writeback", "/in-doubt", "/search?q=1",
                 "/order?source=bigcommerce&store=main&id=1", "/static/dashboard.css"):
        answer = served.get(path)
        assert answer.status_code == 200, path
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Cache-Control"] == "no-store"
        assert requests.post(served.url + path, timeout=10).status_code == 405, path
    page = served.get("/").text
    # Everything the page loads comes from the app itself: no other origin, no script.
    assert "<script" not in page
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', page)


def test_unknown_pages_and_stores_are_answered_with_a_page_not_a_trace(
        serve: Callable[..., Served]) -> None:
    served = serve()
    missing = served.get("/nothing-here")
    assert missing.status_code == 404 and "Not found" in missing.text
    unknown = served.get("/order?source=bigcommerce&store=nope&id=1")
    assert unknown.status_code == 404
    assert "no bigcommerce store named 'nope'" in html.unescape(unknown.text)
    assert served.get("/order?source=bigcommerce&store=main").status_code == 400
    assert "Traceback" not in unknown.text
    long = served.get("/search?q=" + "9" * 101)
    assert long.status_code == 400 and "at most 100" in long.text


def test_links_and_redirects_keep_the_prefix_it_is_mounted_at(
        serve: Callable[..., Served], tmp_path: Path) -> None:
    served = serve(mount="/status")
    state = SQLiteStateStore(tmp_path / "state.db")
    state.add_event("bigcommerce", "main", "321", "imported", "321 (destination 1)")
    state.close()
    page = served.get("/status/").text
    assert 'href="/status/static/dashboard.css"' in page and 'action="/status/search"' in page
    found = served.get("/status/search?q=321")
    assert found.status_code == 303
    assert found.headers["location"] == "/status/order?source=bigcommerce&store=main&id=321"
    assert served.get(found.headers["location"]).status_code == 200


def test_latency_and_workers_are_shown_only_from_what_their_providers_give(
        serve: Callable[..., Served]) -> None:
    plain = serve()
    assert "latency" not in plain.get("/").text.lower()
    assert "Workers" not in plain.get("/").text

    quiet = serve(latency=lambda: {"paid → in the sink": []})
    assert "No webhook was received" in quiet.get("/").text

    samples = [0.3, 0.8, 1.2, 1.4, 6.0]
    workers = [Worker("w1", "host-a", 4242, ("main",), datetime.now(timezone.utc).isoformat())]
    busy = serve(latency=lambda: {"paid → in the sink": samples}, workers=lambda: workers)
    page = busy.get("/").text
    assert "5 deliveries: median 1.2 s, 95% within 6.0 s, slowest 6.0 s" in page
    assert "paid → in the sink" in page
    assert "host-a" in page and "4242" in page


# --------------------------------------------------------------------------- contrast


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_stylesheets_colour_pairs_meet_wcag_aa() -> None:
    css = (ROOT / "core/shipsync/dashboard/static/dashboard.css").read_text()
    colours = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    text_pairs = [("text", "bg"), ("text", "panel"), ("muted", "bg"), ("muted", "panel"),
                  ("link", "bg"), ("link", "panel"), ("ok-text", "ok-bg"), ("ok-text", "bg"),
                  ("bad-text", "bad-bg"), ("warn-text", "warn-bg"), ("run-text", "run-bg"),
                  ("none-text", "none-bg"), ("link", "bad-bg")]
    for fore, back in text_pairs:
        assert contrast(colours[fore], colours[back]) >= 4.5, (fore, back)
    assert contrast("#ffffff", colours["link"]) >= 4.5  # the button's text
    # Bars, the focus ring and borders of controls: 3:1 against the page (WCAG 1.4.11).
    for graphic in ("imported", "written_back", "latency", "focus", "muted"):
        assert contrast(colours[graphic], colours["bg"]) >= 3, graphic


def test_without_the_serve_extra_the_command_says_what_to_install(tmp_path: Path) -> None:
    """The base install has no Starlette: `shipsync dashboard` says how to get it, exit 2."""
    blocked = ("import sys; sys.modules['starlette'] = None; "
               "from shipsync.cli import main; main(['dashboard'])")
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 2, done.stderr
    assert "pip install 'shipsync[serve]'" in done.stderr and "starlette" in done.stderr
