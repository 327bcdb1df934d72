"""Under each API's rate limit, a run paces itself: 429s are rare and never a failure."""

from __future__ import annotations

import pytest
from shipsync.sandboxes import SandboxSet
from shipsync.testing import run_cli, write_config

API_KEY = "sandbox-api-key"


@pytest.fixture
def sandbox_options() -> dict:
    # Small windows keep the test short; the quota per window is what matters.
    return {"orders": 0, "seed": 2,
            "per_sandbox": {"bigcommerce": {"rate_limit": (12, 1.0)},
                            "starshipit": {"rate_limit": (4, 1.0)}}}


def test_a_run_under_both_rate_limits_paces_itself_and_fails_nothing(
        sandboxes: SandboxSet, tmp_path) -> None:
    bc, ss = sandboxes.emulator("bigcommerce"), sandboxes.emulator("starshipit")
    for i in range(60):
        bc.add_order("main", shipping_addresses=[{
            "first_name": f"R{i}", "street_1": "1 Quota St", "city": "Sydney", "zip": "2000",
            "country_iso2": "AU"}], products=[{"name": f"P{i}", "product_id": 100 + i % 7}])
    data = sandboxes.config(tmp_path / "state.db")
    data["bigcommerce"]["stores"]["main"]["rate_limit"] = 12 * 30  # quota per 30 s, as configured
    data["starshipit"]["rate_limit"] = 4
    config = write_config(tmp_path / "shipsync.toml", data)

    first = run_cli(["run", "bigcommerce", "--json"], config=config, cwd=tmp_path)
    for order in ss.unshipped(API_KEY)[:40]:
        ss.print_label(API_KEY, order["order_number"])
    second = run_cli(["run", "bigcommerce", "--json"], config=config, cwd=tmp_path)

    assert first.code == 0 and second.code == 0, first.stderr + second.stderr
    assert first.json()["stores"][0]["imported"] == 60
    assert second.json()["stores"][0]["written_back"] == 40
    bc_log, ss_log = bc.log.snapshot(), ss.log.snapshot()
    throttled = sum(1 for e in bc_log["entries"] + ss_log["entries"] if e["status"] == 429)
    total = bc_log["total"] + ss_log["total"]
    assert total >= 50  # 40 shipments alone need more than three windows of BigCommerce quota
    print(f"rate limits: {throttled} of {total} requests refused")
    assert throttled <= 0.1 * total, f"{throttled} of {total} requests were refused"
