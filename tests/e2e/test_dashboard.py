"""The status page in a real browser, over the state of real runs against the emulators.

One scene for the module: `shipsync run bigcommerce --json` three times against
both emulators (orders imported, one quarantined with markup in its data,
labels printed and written back, then runs whose answers are lost so that two
writes stay in doubt and a label waits for its writeback); then `shipsync
dashboard` serves that state file and headless Chromium reads it. Every test
compares what the page shows with the runs' reports and the state store.
Screenshots of every page at desktop and phone widths go to
``$SHIPSYNC_SCREENSHOTS`` (else the test's temporary directory), with each
page's HTML beside them (the suite's secret scan reads those).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from browser import DESKTOP, PHONE, SCREENSHOTS_ENV, DashboardProcess, launch, require_browser
from shipsync.plugins import PluginHost
from shipsync.sandbox import FaultRule
from shipsync.sandboxes import SandboxSet
from shipsync.state import SQLiteStateStore
from shipsync.testing import write_config
from sync_world import World

require_browser()

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402
from playwright.sync_api import Error as PlaywrightError  # noqa: E402

S = ("consignments", "shipping", 0)
L = S + ("line_items", 0)
TOKEN = "CANARY-SECRET-dashboard-token-5e1d"
SAFE = {"per_sandbox": {"bigcommerce": {"rate_limit": None}, "starshipit": {"rate_limit": None}}}


def _address(first_name: str, city: str, zip_code: str) -> dict[str, str]:
    return {"first_name": first_name, "last_name": "Silva", "street_1": "12 Harbour St",
            "city": city, "state": "NSW", "zip": zip_code, "country_iso2": "AU"}


@dataclass
class Scene:
    world: World
    reports: list[dict[str, Any]]
    orders: dict[str, str]  # role -> source order id
    dashboard: DashboardProcess
    shots: Path

    @property
    def url(self) -> str:
        return self.dashboard.url

    def state(self) -> SQLiteStateStore:
        return SQLiteStateStore(self.world.tmp_path / "state.db")


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    with SandboxSet(PluginHost.load(), orders=0, seed=1, **SAFE) as sandboxes:
        world = World(sandboxes, tmp_path_factory.mktemp("dashboard"))
        data = sandboxes.config(world.tmp_path / "state.db")
        # No retries: a lookup that cannot be made leaves its write in doubt at once.
        data["run"] = {"max_retries": 0, "timeout": 5}
        write_config(world.config_path, data)
        shipped = world.add_order()
        waiting = world.add_order()
        late = world.add_order()
        split = world.add_order(
            shipping_addresses=[_address("Ana", "Sydney", "2000"),
                                _address("Ben", "Perth", "6000")],
            products=[{"name": "Mug", "address_index": 0}, {"name": "Plate", "address_index": 1}])
        bad = world.add_order()
        world.bc.corrupt_order("main", bad["id"], {L + ("quantity",): "<i>two</i>"})
        reports = [world.run(expect=1)]
        world.print_label(str(shipped["id"]))
        world.print_label(f"{split['id']}-1")
        reports.append(world.run(expect=1))
        # A label printed while BigCommerce gives no answer (and its lookups fail), then an
        # order created while Starshipit loses its: both writes stay in doubt, the label
        # waits for its writeback. Two runs: Starshipit's failing lookups would otherwise
        # also stop the label's own reading, before its shipment is ever posted.
        world.print_label(str(late["id"]))
        world.bc.faults.replace([  # the post never arrives, and no answer comes
            FaultRule("reset", method="POST", path="/shipments", times=1),
            FaultRule("reset", method="GET", path="/shipments")])
        reports.append(world.run(expect=1))
        lost = world.add_order()
        world.ss.faults.replace([
            FaultRule("lost_response", method="POST", path="/api/orders/import", times=1),
            FaultRule("reset", method="GET", path="/api/orders$")])
        reports.append(world.run(expect=1))
        world.ss.faults.replace([])
        world.bc.faults.replace([])
        shots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path_factory.mktemp("screenshots"))
        shots.mkdir(parents=True, exist_ok=True)
        dashboard = DashboardProcess(world.config_path, world.tmp_path)
        dashboard.wait_started()
        orders = {"shipped": str(shipped["id"]), "waiting": str(waiting["id"]),
                  "late": str(late["id"]), "split": str(split["id"]), "bad": str(bad["id"]),
                  "lost": str(lost["id"])}
        try:
            yield Scene(world, reports, orders, dashboard, shots)
        finally:
            assert dashboard.stop() == 0, "".join(dashboard.stderr)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def shoot(scene: Scene, browser: Browser, path: str, name: str, **context: Any) -> None:
    """The page at ``path`` at desktop and phone widths: a PNG and its HTML for each."""
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = browser.new_page(viewport=viewport, **context)
        response = page.goto(scene.url.rstrip("/") + path)
        assert response is not None
        target = scene.shots / f"{name}-{width}.png"
        page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 5_000, f"{target} looks blank"
        target.with_suffix(".html").write_text(page.content(), encoding="utf-8")
        # Usable on a phone: nothing wider than the screen but what scrolls on purpose.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} is {overflow}px wider than a {width} screen"
        page.close()


def tile(page: Page, name: str) -> int:
    return int(page.locator(f'[data-total="{name}"]').inner_text())


def test_the_overview_shows_the_counts_of_the_runs_and_of_the_state(
        scene: Scene, browser: Browser) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(scene.url)
    state = scene.state()
    try:
        links = state.count_links("bigcommerce", "main")
        quarantined = state.quarantined("bigcommerce", "main")
        in_doubt = state.in_doubt()
    finally:
        state.close()
    reports = scene.reports
    failed_orders = {f["order_id"] for r in reports for f in r["failures"]}

    assert tile(page, "imported") == sum(r["imported"] for r in reports) == 5
    assert tile(page, "written_back") == sum(
        r["written_back"] + r["awaiting_pickup"] for r in reports) == 2
    assert tile(page, "failed") == len(failed_orders) == 3
    assert tile(page, "quarantined") == len(quarantined) == 2
    assert tile(page, "awaiting") == links["printed"] == 1
    assert tile(page, "in_doubt") == len(in_doubt) == 2
    card = page.locator('article[data-store="main"]')
    assert card.locator('[data-link="imported"]').inner_text() == str(links["imported"])
    assert card.locator('[data-link="written_back"]').inner_text() == str(links["written_back"])
    assert card.locator('[data-count="imported"]').inner_text() == "5"
    # The store failed its last run: it is flagged, with what the last import did.
    assert "Needs attention" in card.inner_text()
    assert f"{reports[-1]['failed']} failed order(s)" in card.inner_text()
    # The chart's bars add up to the same counts, and its table says so in words.
    imported_bars = page.locator("svg.chart rect.bar-imported title").all_text_contents()
    assert sum(int(t.rsplit(": ", 1)[1]) for t in imported_bars) == 5
    assert "5 orders imported, 2 labels written back" in page.locator(
        "svg.chart desc").text_content() or ""
    page.close()
    shoot(scene, browser, "/", "overview")


def test_a_quarantined_order_appears_with_its_reason_and_how_to_fix_it(
        scene: Scene, browser: Browser) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(scene.url)
    page.get_by_role("link", name="Failures", exact=True).click()
    item = page.locator(f'li[data-order="{scene.orders["bad"]}"]')

    assert "Quarantined" in item.inner_text()
    reason = item.locator(".reason").inner_text()
    assert reason == next(f["reason"] for f in scene.reports[0]["failures"]
                          if f["order_id"] == scene.orders["bad"])
    # The order's data held markup: shown as text, never made into an element.
    assert "'<i>two</i>'" in reason
    assert item.locator(".reason i").count() == 0
    assert "quarantined order is read again on every run" in item.locator(".fix").inner_text()
    # The write the sink never answered is quarantined too, with its own advice.
    lost = page.locator(f'li[data-order="{scene.orders["lost"]}"]')
    assert "outcome unknown" in lost.locator(".reason").inner_text()
    assert "looks the order up before sending" in lost.locator(".fix").inner_text()
    # The shipment in doubt is not quarantined: once its post went unanswered it waits for
    # its lookup (the next run skips it, saying so), listed with the writes in doubt.
    assert page.locator(f'li[data-order="{scene.orders["late"]}"]').count() == 0
    page.goto(scene.url.rstrip("/") + "/in-doubt")
    assert scene.orders["late"] in page.locator("main").inner_text()
    page.close()
    shoot(scene, browser, "/failures", "failures")


def test_searching_an_order_number_opens_the_story_explain_tells(
        scene: Scene, browser: Browser) -> None:
    number = f"{scene.orders['split']}-2"
    page = browser.new_page(viewport=DESKTOP)
    page.goto(scene.url)
    # By keyboard alone: the skip link first, then the search box by its label.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    page.get_by_label("Order id or number").fill(number)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/order\?"))

    explained = scene.world.cli("explain", "bigcommerce", scene.orders["split"], "--offline",
                                "--json").json()
    assert page.locator("h1").inner_text().startswith(f"Order {scene.orders['split']}")
    assert page.locator('[data-part="standing"] li').all_inner_texts() == explained["standing"]
    rows = page.locator("table.history tbody tr")
    assert rows.count() == len(explained["events"]) == 3
    kinds = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(rows.count())]
    assert kinds == [e["kind"].replace("_", " ") for e in explained["events"]]
    details = [rows.nth(i).locator("td").nth(2).inner_text() for i in range(rows.count())]
    assert details == [e["detail"] for e in explained["events"]]
    page.close()
    shoot(scene, browser, f"/search?q={number}", "order-story")

    # Asking the source (one read) adds what it says now and what a run would do today.
    page = browser.new_page(viewport=DESKTOP)
    page.goto(scene.url + f"order?source=bigcommerce&store=main&id={scene.orders['split']}")
    page.get_by_role("link", name=re.compile("Ask bigcommerce")).click()
    page.wait_for_url(re.compile("live=1"))
    now = page.locator('[data-part="now"]').inner_text()
    assert "bigcommerce says: status" in now
    page.close()


def test_an_unknown_order_and_markup_typed_in_the_search_are_answered_as_text(
        scene: Scene, browser: Browser) -> None:
    page = browser.new_page(viewport=DESKTOP)
    page.goto(scene.url)
    typed = '<img src=x id="injected">9999'
    page.get_by_label("Order id or number").fill(typed)
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(re.compile(r"/search\?"))

    assert page.locator("#injected").count() == 0
    assert typed in page.locator("h1").inner_text()
    assert "no record of an order" in page.locator("main").inner_text()
    page.close()
    shoot(scene, browser, "/search?q=9999", "search-no-match")


def test_labels_awaiting_writeback_and_writes_in_doubt_are_listed(
        scene: Scene, browser: Browser) -> None:
    state = scene.state()
    try:
        printed = state.open_links("bigcommerce", "main", ("printed",))
        doubts = state.in_doubt()
    finally:
        state.close()
    page = browser.new_page(viewport=DESKTOP)
    page.goto(scene.url + "writeback")
    rows = page.locator("table tbody tr")
    assert rows.count() == len(printed) == 1
    assert rows.first.get_attribute("data-order") == scene.orders["late"]
    assert printed[0].order_number in rows.first.inner_text()

    page.goto(scene.url + "in-doubt")
    shown = sorted(page.locator("table tbody tr td:nth-child(5)").all_inner_texts())
    assert shown == sorted(entry.key for entry in doubts)
    assert {"create the order", "create the shipment"} == set(
        page.locator("table tbody tr td:nth-child(3)").all_inner_texts())
    page.close()
    shoot(scene, browser, "/writeback", "writeback")
    shoot(scene, browser, "/in-doubt", "in-doubt")


def test_off_loopback_the_page_needs_its_token_and_never_shows_it(
        scene: Scene, browser: Browser) -> None:
    world = scene.world
    # Bound to every address without a token: refused before it listens.
    refused = world.cli("dashboard", "--host", "0.0.0.0", "--port", "0")
    assert refused.code == 2
    assert "not loopback" in refused.stderr and "dashboard_token" in refused.stderr

    data = world.sandboxes.config(world.tmp_path / "state.db")
    data["serve"] = {"host": "0.0.0.0", "dashboard_token": {"env": "DASHBOARD_TOKEN"}}
    config = write_config(world.tmp_path / "token.toml", data)
    guarded = DashboardProcess(config, world.tmp_path, env={"DASHBOARD_TOKEN": TOKEN})
    url = guarded.wait_started().replace("0.0.0.0", "127.0.0.1")
    try:
        # Chromium without credentials is refused outright (headless, it cannot prompt);
        # with a wrong token it gets the refusal page, which shows no data and no token.
        context = browser.new_context()
        with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):
            context.new_page().goto(url)
        context.close()
        for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context = browser.new_context(viewport=viewport, http_credentials={
                "username": "warehouse", "password": "not-the-token-1234"})
            page = context.new_page()
            response = page.goto(url)
            assert response is not None and response.status == 401
            assert page.locator("h1").inner_text() == "Sign-in needed"
            assert page.locator('[data-total="imported"]').count() == 0
            target = scene.shots / f"refused-wrong-token-{width}.png"
            page.screenshot(path=str(target), full_page=True)
            target.with_suffix(".html").write_text(page.content(), encoding="utf-8")
            context.close()
        # What the refusal says, to a client without the token: how to sign in, no data.
        anonymous = requests.get(url, timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
        assert "Sign-in needed" in anonymous.text and "imported" not in anonymous.text
        wrong = requests.get(url, headers={"Authorization": "Bearer not-the-token-at-all"},
                             timeout=10)
        assert wrong.status_code == 401 and TOKEN not in wrong.text
        bearer = requests.get(url + "failures", headers={"Authorization": f"Bearer {TOKEN}"},
                              timeout=10)
        assert bearer.status_code == 200

        # The browser's own sign-in: any user name, the token as password.
        context = browser.new_context(http_credentials={"username": "warehouse",
                                                        "password": TOKEN})
        signed_in = context.new_page()
        pages = ["", "failures", "writeback", "in-doubt",
                 f"order?source=bigcommerce&store=main&id={scene.orders['split']}"]
        for path in pages:
            answer = signed_in.goto(url + path)
            assert answer is not None and answer.status == 200, path
            html = signed_in.content()
            assert TOKEN not in html and base64.b64encode(TOKEN.encode()).decode() not in html
        signed_in.goto(url)
        assert tile(signed_in, "imported") == 5
        context.close()
    finally:
        assert guarded.stop() == 0
    assert TOKEN not in "".join(guarded.stderr)

