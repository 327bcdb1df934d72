"""The merchant's side: printing labels for some unshipped orders, over HTTP (``play_merchant``).

The ``shipsync sandbox`` command and the tests use it to make orders ship, so
that the writeback step has tracking to send back to the store.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
from shipsync.sandbox import Emulator

from .emulator import StarshipitEmulator
from .routes.labels import _total_weight


def play_merchant(
    emulator: Emulator,
    url: str,
    fraction: float = 0.5,
    seed: int = 0,
    packages: Sequence[int] = (1, 1, 1, 2),
    timeout: float = 10.0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Print labels for ``fraction`` of each account's unshipped orders, over HTTP.

    Orders are picked with a seeded RNG; ``packages`` lists parcel counts to draw
    from for each label. Orders whose carrier is PickupInStore are printed as
    PickupInStore. Honours 429 by sleeping Retry-After (the prints share the
    account's rate limit, 2 a second: 300 labels take two and a half minutes), and
    calls ``progress(printed so far, to print)`` after each label. Returns
    ``{"printed": n, "order_numbers": [...], "failed": [...]}``.
    """
    if not isinstance(emulator, StarshipitEmulator):
        raise TypeError(f"expected a StarshipitEmulator, got {type(emulator).__name__}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be between 0 and 1")
    rng = random.Random(seed)
    printed: list[str] = []
    failed: list[str] = []
    total = 0
    with requests.Session() as session:
        for api_key, subscription_key in emulator.accounts():
            session.headers.update(
                {
                    "StarShipIT-Api-Key": api_key,
                    "Ocp-Apim-Subscription-Key": subscription_key,
                    "Content-Type": "application/json",
                }
            )
            pending = emulator.unshipped(api_key)
            picked = sorted(
                rng.sample(pending, int(len(pending) * fraction + 0.5)), key=lambda o: o["order_id"]
            )
            total += len(picked)
            for order in picked:
                body = _merchant_print_body(order, rng.choice(list(packages) or [1]))
                done = _post_shipment(
                    session, url.rstrip("/") + "/api/orders/shipment", body, timeout
                )
                (printed if done else failed).append(order["order_number"])
                if progress is not None:
                    progress(len(printed) + len(failed), total)
    return {"printed": len(printed), "order_numbers": printed, "failed": failed}


def _merchant_print_body(order: dict[str, Any], parcels: int) -> dict[str, Any]:
    body: dict[str, Any] = {"order_id": order["order_id"]}
    if order["carrier"] == "PickupInStore":
        body["carrier"] = "PickupInStore"  # collected over the counter: one parcel
    elif parcels > 1:
        share = round(_total_weight(order) / parcels, 3)
        body["packages"] = [{"weight": share} for _ in range(parcels)]
    return body


def _post_shipment(
    session: requests.Session, url: str, body: dict[str, Any], timeout: float
) -> bool:
    """POST one print, retrying throttling, server errors and lost answers a few times."""
    for _ in range(8):
        try:
            answer = session.post(url, json=body, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout):
            # The print may have happened before the answer was lost: ask for it again as a reprint.
            body = {**body, "reprint": True}
            time.sleep(0.1)
            continue
        if answer.status_code == 429:
            time.sleep(float(answer.headers.get("Retry-After") or 1))
            continue
        if answer.status_code >= 500:
            time.sleep(0.2)
            continue
        return answer.status_code == 200 and bool(answer.json().get("success"))
    return False
