"""Local work per order, no HTTP: how many orders one core maps and validates per second.

Raw orders are the emulator's own (``BigCommerceEmulator.get_order``: the
order with its consignments and line items inline, as the list call with
``include=consignments.line_items`` returns it). Two pipelines are timed:

- ``issue``: what issue 6 names: ``canonical_order`` + ``errors_of("order.json")``
  + the product-options mapper + ``order_body`` per destination;
- ``engine``: what the engine does per order today (core/engine.py
  ``map_order`` and ``plan_destinations``): the above, plus validating again
  after the mapper, validating each body against
  the Starshipit plugin's ``api/order_create.json`` (``StarshipitSink.payload``) and its
  fingerprint.

Each stage is also timed alone, so the slow one is visible.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from harness import seeded_import_orders
from shipsync.engine import fingerprint
from shipsync.records import errors_of, schemas_of
from shipsync_bigcommerce.mapping import canonical_order
from shipsync_bigcommerce.options import map_options
from shipsync_bigcommerce.sandbox import BigCommerceEmulator
from shipsync_bigcommerce.seed import generate_customs
from shipsync_starshipit.mapping import order_body

__all__ = ["local_throughput", "raw_orders"]

WEIGHT_UNITS = "KGS"
STARSHIPIT = schemas_of("shipsync_starshipit")


def raw_orders(count: int, seed: int = 7) -> tuple[list[dict[str, Any]], dict[int, Any]]:
    """``count`` raw BigCommerce orders in the import statuses, and the store's customs data."""
    now = datetime.now(UTC)
    emulator = BigCommerceEmulator()
    emulator.add_store("local", "token", rate_limit=None)
    for spec in seeded_import_orders(count, seed, now=now, days=6):
        emulator.add_order("local", **spec)
    orders = [emulator.get_order("local", order_id) for order_id in emulator.order_ids("local")]
    customs = {record["product_id"]: record for record in generate_customs(seed, now=now)}
    return orders, customs


def _numbers(order: dict[str, Any]) -> list[str]:
    count = len(order["destinations"])
    return [order["order_id"] if count == 1 else f"{order['order_id']}-{i + 1}"
            for i in range(count)]


def _timed(fn: Callable[[], int], min_seconds: float) -> tuple[float, int, int]:
    """Run ``fn`` (one pass over all orders; returns problems found) until min_seconds pass."""
    fn()  # warm-up: schema compilation, caches
    passes = problems = 0
    started = time.process_time()
    while True:
        problems += fn()
        passes += 1
        elapsed = time.process_time() - started
        if elapsed >= min_seconds:
            return elapsed, passes, problems


def local_throughput(count: int = 2000, min_seconds: float = 3.0, seed: int = 7) -> dict[str, Any]:
    orders, customs = raw_orders(count, seed)

    def canonical(raw: dict[str, Any]) -> dict[str, Any]:
        return canonical_order(raw, store="main", weight_units=WEIGHT_UNITS, customs=customs)

    canonicals = [canonical(raw) for raw in orders]
    mapped = [map_options(canonical(raw)) for raw in orders]
    bodies = [order_body(number, order, destination)
              for order in mapped
              for number, destination in zip(_numbers(order), order["destinations"], strict=True)
              if destination["items"]]

    def issue_pipeline() -> int:
        problems = 0
        for raw in orders:
            order = canonical(raw)
            problems += len(errors_of("order.json", order))
            order = map_options(order)
            for number, destination in zip(_numbers(order), order["destinations"], strict=True):
                if destination["items"]:
                    order_body(number, order, destination)
        return problems

    def engine_pipeline() -> int:
        problems = 0
        for raw in orders:
            order = canonical(raw)
            problems += len(errors_of("order.json", order))
            order = map_options(order)
            problems += len(errors_of("order.json", order))
            for number, destination in zip(_numbers(order), order["destinations"], strict=True):
                if destination["items"]:
                    body = order_body(number, order, destination)
                    problems += len(STARSHIPIT.errors("api/order_create.json", body))
                    fingerprint(body)
        return problems

    stages: dict[str, Callable[[], int]] = {
        "canonical_order": lambda: sum(0 for raw in orders if canonical(raw) is None),
        "errors_of(order.json)": lambda: sum(len(errors_of("order.json", o)) for o in canonicals),
        "product-options mapper": lambda: sum(0 for o in canonicals if map_options(o) is None),
        "order_body": lambda: sum(
            0 for o in mapped for n, d in zip(_numbers(o), o["destinations"], strict=True)
            if d["items"] and order_body(n, o, d) is None),
        "errors(starshipit api/order_create.json)": lambda: sum(
            len(STARSHIPIT.errors("api/order_create.json", b)) for b in bodies),
        "fingerprint": lambda: sum(0 for b in bodies if fingerprint(b) is None),
    }
    result: dict[str, Any] = {"orders": len(orders), "destinations": len(bodies),
                              "pipelines": {}, "stages": {}}
    for name, fn in (("issue", issue_pipeline), ("engine", engine_pipeline)):
        elapsed, passes, problems = _timed(fn, min_seconds)
        result["pipelines"][name] = {
            "orders_per_s": round(len(orders) * passes / elapsed),
            "cpu_s": round(elapsed, 3), "passes": passes, "schema_problems": problems}
    for name, fn in stages.items():
        elapsed, passes, _ = _timed(fn, min_seconds / 3)
        result["stages"][name] = {"us_per_order": round(elapsed / (len(orders) * passes) * 1e6, 1)}
    return result


if __name__ == "__main__":
    import json
    import sys

    json.dump(local_throughput(int(sys.argv[1]) if len(sys.argv) > 1 else 2000), sys.stdout,
              indent=2)
    sys.stdout.write("\n")
