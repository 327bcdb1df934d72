"""The long-running commands: `run --every` and `sandbox`, driven as a user would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import requests
from sync_world import World


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")}
    env.update({"NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    return env


def test_run_every_repeats_until_sigterm_and_stops_cleanly(world: World) -> None:
    world.add_order(shipping_addresses=[{"first_name": "E", "street_1": "1 Loop St",
                                         "city": "Sydney", "zip": "2000", "country_iso2": "AU"}],
                    products=[{"name": "Clock"}])
    process = subprocess.Popen(
        [sys.executable, "-m", "shipsync", "--config", str(world.config_path), "run",
         "bigcommerce", "--json", "--every", "1s"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=_env(), cwd=world.tmp_path)
    deadline = time.monotonic() + 30
    # Wait for a second run, then ask it to stop.
    while time.monotonic() < deadline:
        runs = [r for r in world.bc.log.snapshot()["entries"]
                if "units-of-measurement" in r["path"]]
        if len(runs) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 0, err
    reports = [json.loads(doc) for doc in re.split(r"(?m)^(?=\{)", out) if doc.strip()]
    assert len(reports) >= 2
    assert reports[0]["stores"][0]["imported"] == 1
    assert all(r["stores"][0]["imported"] == 0 for r in reports[1:])
    assert "SIGTERM" in err


def test_sandbox_command_serves_both_apis_and_writes_a_config(tmp_path: Path) -> None:
    config = tmp_path / "sandbox.toml"
    process = subprocess.Popen(
        [sys.executable, "-m", "shipsync", "sandbox", "--orders", "60", "--write-config",
         str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
        cwd=tmp_path)
    try:
        urls = {}
        deadline = time.monotonic() + 30
        while len(urls) < 2 and time.monotonic() < deadline:
            line = process.stdout.readline()  # type: ignore[union-attr]
            match = re.match(r"(bigcommerce|starshipit)\s+(http://127\.0\.0\.1:\d+)", line)
            if match:
                urls[match.group(1)] = match.group(2)
        data = tomllib.loads(config.read_text())
        store = data["bigcommerce"]["stores"]["main"]
        headers = {"X-Auth-Token": store["access_token"], "Accept": "application/json"}
        v2 = store["api_path"].replace("/v3/", "/v2/")
        assert v2.startswith(urls["bigcommerce"])

        listed = requests.get(v2 + "orders", headers=headers, params={"limit": 5}, timeout=10)
        empty = requests.get(v2 + "orders", headers=headers, params={"min_id": 10**8}, timeout=10)
        too_many = requests.get(v2 + "orders", headers=headers, params={"limit": 300}, timeout=10)
        assert listed.status_code == 200 and len(listed.json()) == 5
        assert "+0000" in listed.json()[0]["date_created"]
        assert empty.status_code == 204 and empty.content == b""
        assert too_many.status_code == 413
        assert too_many.json()[0]["details"]["max_limit"] == 250
        assert int(listed.headers["X-Rate-Limit-Requests-Quota"]) == 150
        limited = None
        for _ in range(200):
            answer = requests.get(v2 + "store", headers=headers, timeout=10)
            if answer.status_code == 429:
                limited = answer
                break
        assert limited is not None
        assert "X-Retry-After" in limited.headers
        assert int(limited.headers["X-Rate-Limit-Requests-Left"]) == 0

        starshipit = data["starshipit"]
        answer = requests.get(urls["starshipit"] + "/api/orders/unshipped", headers={
            "StarShipIT-Api-Key": starshipit["api_key"],
            "Ocp-Apim-Subscription-Key": starshipit["subscription_key"]}, timeout=10)
        assert answer.status_code == 200 and answer.json()["success"] is True
        wrong = requests.get(urls["starshipit"] + "/api/orders/unshipped", headers={
            "StarShipIT-Api-Key": "nope", "Ocp-Apim-Subscription-Key": "nope"}, timeout=10)
        assert wrong.status_code == 401 and "statusCode" in wrong.json()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0
