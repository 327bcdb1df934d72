"""Exactly once under SIGKILL, injected faults and concurrent processes.

Every run here is the real CLI in a subprocess against the emulators over HTTP.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import pytest
from shipsync.sandbox import FaultRule
from sync_world import API_KEY, World

N_ORDERS = 200
KILLS = 52


def _seed_orders(world: World, count: int, rng: random.Random, first_id: int) -> list[str]:
    """``count`` orders, one in ten shipping to two addresses; their Starshipit numbers."""
    numbers = []
    for offset in range(count):
        order_id = first_id + offset
        two = offset % 10 == 3
        addresses = [{"first_name": f"Cust{order_id}", "last_name": "Test", "street_1": "1 Main St",
                      "city": "Sydney", "state": "NSW", "zip": "2000", "country_iso2": "AU"}]
        products = [{"name": f"Item {order_id}", "quantity": rng.randint(1, 3)}]
        if two:
            addresses.append({**addresses[0], "first_name": f"Gift{order_id}"})
            products.append({"name": f"Gift {order_id}", "address_index": 1})
        world.add_order(id=order_id, shipping_addresses=addresses, products=products,
                        status_id=rng.choice([9, 11]))
        numbers += [f"{order_id}-1", f"{order_id}-2"] if two else [str(order_id)]
    return numbers


def _assert_exactly_once(world: World, expected_numbers: list[str]) -> None:
    orders = world.ss.orders(API_KEY)
    counts = Counter(o["order_number"] for o in orders)
    assert not [n for n, c in counts.items() if c > 1], "an order is in Starshipit twice"
    assert sorted(counts) == sorted(expected_numbers)
    for order in orders:
        number = order["order_number"]
        order_id, _, suffix = number.partition("-")
        bc_order = world.bc.get_order("main", int(order_id))
        # The shipping addresses' ids (what shipments name), in the order of the suffixes;
        # a consignment's own id need not be one (the consignment_ids variant).
        address_ids = sorted({line["order_address_id"]
                              for c in bc_order["consignments"]["shipping"]
                              for line in c["line_items"]})
        address_id = address_ids[int(suffix) - 1 if suffix else 0]
        shipments = [s for s in world.bc.shipments("main", int(order_id))
                     if s["order_address_id"] == address_id]
        if order["status"] in ("Printed", "Dispatched", "Delivered"):
            tracking = [p["tracking_number"] for p in order["packages"] if p.get("tracking_number")]
            assert len(shipments) == 1, f"{number}: {len(shipments)} shipments, expected 1"
            assert shipments[0]["tracking_number"] == tracking[0]
        else:
            assert shipments == [], f"{number}: shipped in BigCommerce before its label"


def _total_requests(world: World) -> int:
    return world.bc.log.snapshot()["total"] + world.ss.log.snapshot()["total"]


def _run_and_kill(world: World, after_requests: int) -> bool:
    """Start a run; SIGKILL it once the emulators have seen ``after_requests`` more calls."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "shipsync", "--config", str(world.config_path), "run",
         "bigcommerce", "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL, env=env, cwd=world.tmp_path)
    start = _total_requests(world)
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if _total_requests(world) - start >= after_requests:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.0005)
    process.wait()
    return False


@pytest.mark.slow
def test_sigkill_at_50_points_then_a_clean_rerun_is_exact(world: World) -> None:
    rng = random.Random(7)
    # A little latency on every call, so that kills land inside calls as well as between them.
    for emulator in (world.bc, world.ss):
        emulator.faults.replace([FaultRule("latency", seconds=0.003)])
    expected = _seed_orders(world, N_ORDERS, rng, first_id=1000)
    next_id = 1000 + N_ORDERS
    kills, attempts = 0, 0
    while kills < KILLS:
        attempts += 1
        assert attempts < KILLS * 3, "runs kept finishing before the kill point"
        # The merchant prints some labels and takes a few new orders between runs.
        unshipped = [o["order_number"] for o in world.ss.unshipped(API_KEY)]
        for number in rng.sample(unshipped, min(len(unshipped), rng.randint(3, 12))):
            world.print_label(number, packages=rng.choice([1, 1, 2]))
        added = rng.randint(0, 4)
        expected += _seed_orders(world, added, rng, first_id=next_id)
        next_id += added
        if _run_and_kill(world, after_requests=rng.randint(1, 30)):
            kills += 1
        rerun = world.cli("run", "bigcommerce", "--json")
        assert rerun.code == 0, rerun.stderr + rerun.stdout
        _assert_exactly_once(world, expected)
    assert kills >= 50


_KINDS = ["429", "429_bare", "500", "502", "503", "reset", "lost_response",
          "timeout_after_write", "repeat_page"]


def _inject_everything(world: World, rate: float) -> None:
    kinds = _KINDS
    per_kind = 1 - (1 - rate) ** (1 / len(kinds))
    for emulator in (world.bc, world.ss):
        # Each kind once for certain (at spread-out points), then all of them at random.
        certain = [FaultRule(kind, times=1, after=3 + 4 * i, seconds=1.5 * (
            kind == "timeout_after_write")) for i, kind in enumerate(kinds)]
        emulator.faults.replace(certain + [
            FaultRule(kind, rate=per_kind, seconds=1.5 if kind == "timeout_after_write" else 0)
            for kind in kinds], seed=11)
    world.bc.fault_reset_ms = 100


# Starshipit does not document what it does with a repeated order number: the result must
# be exact whether it refuses one or creates a second order.
REPEATED_NUMBERS = {
    mode: {"orders": 0, "seed": 1,
           "per_sandbox": {"bigcommerce": {"rate_limit": None},
                           "starshipit": {"rate_limit": None, "duplicate_numbers": mode}}}
    for mode in ("refuse", "accept")}


@pytest.mark.slow
@pytest.mark.parametrize("sandbox_options", list(REPEATED_NUMBERS.values()),
                         ids=[f"repeated-numbers-{mode}" for mode in REPEATED_NUMBERS])
def test_twenty_percent_faults_of_every_kind_converge_to_the_exact_result(world: World) -> None:
    rng = random.Random(3)
    expected = _seed_orders(world, 100, rng, first_id=5000)
    data_timeout = {"run": {"timeout": 1.0, "max_retries": 8}}
    _write_with(world, data_timeout)
    _inject_everything(world, rate=0.2)

    def converge(limit: int = 12) -> list[dict[str, Any]]:
        reports = []
        for _ in range(limit):
            result = world.cli("run", "bigcommerce", "--json")
            assert result.code in (0, 1), result.stderr
            reports.append(result.json()["stores"][0])
            if result.code == 0 and not reports[-1]["failed"]:
                break
        return reports

    first = converge()
    assert len(world.ss.orders(API_KEY)) == len(expected)
    for number in rng.sample(expected, 80):
        world.print_label(number, packages=rng.choice([1, 2]))
    second = converge()
    final = converge()[-1]
    print(f"fault test: {len(first)} runs to import, {len(second)} to write back")

    assert final["failed"] == 0
    entries = world.bc.log.snapshot()["entries"] + world.ss.log.snapshot()["entries"]
    faulted = sum(1 for e in entries if e["fault"])
    assert faulted >= 0.1 * len(entries), (faulted, len(entries))
    fired: Counter[str] = Counter()
    for emulator in (world.bc, world.ss):
        for rule in emulator.faults.rules:
            fired[rule.kind] += rule.fired
    assert all(fired[kind] for kind in _KINDS), fired  # every kind of fault happened
    print(f"fault test: {faulted} of {len(entries)} requests faulted: {dict(fired)}")
    assert len(first) >= 1
    _assert_exactly_once(world, expected)
    shipped = [o for o in world.ss.orders(API_KEY) if o["status"] != "Unshipped"]
    for order in shipped:
        order_id = int(order["order_number"].partition("-")[0])
        status = world.bc.get_order("main", order_id)["status_id"]
        assert status in (2, 3)


def _write_with(world: World, extra: dict[str, Any]) -> None:
    from shipsync.testing import write_config

    data = world.sandboxes.config(world.tmp_path / "state.db")
    data.update(extra)
    write_config(world.config_path, data)


def test_a_second_process_on_the_same_state_is_refused_with_a_clear_message(
        world: World) -> None:
    world.add_order(shipping_addresses=[{"first_name": "A", "street_1": "1 St", "city": "X",
                                         "zip": "2000", "country_iso2": "AU"}],
                    products=[{"name": "Slow"}])
    # Slow calls keep the first run busy while the second starts.
    world.bc.faults.replace([FaultRule("latency", seconds=1.0)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPSYNC_")}
    first = subprocess.Popen(
        [sys.executable, "-m", "shipsync", "--config", str(world.config_path), "run",
         "bigcommerce", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env, cwd=world.tmp_path)
    deadline = time.monotonic() + 120  # a loaded machine starts a process slowly
    while world.bc.log.snapshot()["total"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert world.bc.log.snapshot()["total"] > 0, "the first run never started"

    second = world.cli("run", "bigcommerce", "--json")
    out, err = first.communicate(timeout=60)

    assert second.code == 2
    assert "another shipsync process" in second.stderr
    assert first.returncode == 0, err
    assert len(world.ss.orders(API_KEY)) == 1


@pytest.mark.parametrize("kind", ["lost_response", "timeout_after_write", "503"])
def test_a_write_whose_answer_is_lost_is_looked_up_not_repeated(world: World, kind: str) -> None:
    order = world.add_order(shipping_addresses=[{"first_name": "L", "street_1": "1 St",
                                                 "city": "X", "zip": "2000",
                                                 "country_iso2": "AU"}],
                            products=[{"name": "Lost"}])
    _write_with(world, {"run": {"timeout": 1.0}})
    world.ss.faults.replace([FaultRule(kind, method="POST", path="/api/orders/import", times=1,
                                       seconds=1.5)])
    world.bc.faults.replace([FaultRule(kind, method="POST", path="/shipments", times=1,
                                       seconds=1.5)])

    world.run()
    world.print_label(str(order["id"]))
    world.run()

    assert len(world.ss.orders(API_KEY)) == 1
    assert len(world.bc.shipments("main", order["id"])) == 1
    assert world.ss.faults.rules[0].fired == 1 and world.bc.faults.rules[0].fired == 1
