"""The same import done the way shipsync's open-source peers do it: per-order calls.

The official bigcommerce-api-python client and tap-bigcommerce list orders,
then fetch each order's sub-resources one call at a time (``order.products()``,
``order.shipping_addresses()``). This is that approach, kept small and faithful:

1. ``GET /v2/orders?status_id=S&min_date_created=...&limit=250&page=P`` for each
   import status (the same list calls shipsync makes);
2. for every order, ``GET /v2/orders/{id}/products`` and
   ``GET /v2/orders/{id}/shipping_addresses`` (250 per page);
3. one Starshipit order per shipping address, sent 50 per
   ``POST /api/orders/import`` (the same batching shipsync uses, so the
   comparison isolates the BigCommerce side).

Rate limits are handled as the official client does: when
``X-Rate-Limit-Requests-Left`` reaches 0, sleep ``X-Rate-Limit-Time-Reset-Ms``;
on a 429 sleep the longer of the reset and ``X-Retry-After`` (Starshipit:
``Retry-After``) and send again. Requests go one at a time.

Run: ``python bench/peers.py --bigcommerce URL --store-hash H --token T
--starshipit URL --api-key K --subscription-key S``; prints a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import requests

__all__ = ["PeerImport", "main", "starshipit_orders"]

PAGE_LIMIT = 250
IMPORT_LIMIT = 50


class PeerImport:
    """One store into one Starshipit account, per-order calls, one request at a time."""

    def __init__(self, bigcommerce_url: str, store_hash: str, token: str, starshipit_url: str,
                 api_key: str, subscription_key: str, timeout: float = 30.0) -> None:
        self.v2 = f"{bigcommerce_url.rstrip('/')}/stores/{store_hash}/v2"
        self.starshipit = starshipit_url.rstrip("/")
        self.timeout = timeout
        self.bc = requests.Session()
        self.bc.headers.update({"X-Auth-Token": token, "Accept": "application/json",
                                "Content-Type": "application/json"})
        self.ssi = requests.Session()
        self.ssi.headers.update({"StarShipIT-Api-Key": api_key,
                                 "Ocp-Apim-Subscription-Key": subscription_key,
                                 "Content-Type": "application/json"})
        self.requests = {"bigcommerce": 0, "starshipit": 0}
        self.throttled = {"bigcommerce": 0, "starshipit": 0}
        self.waited_s = 0.0
        self.failures: list[str] = []

    # -- HTTP with the clients' rate-limit handling --------------------------------
    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.waited_s += seconds
            time.sleep(seconds)

    def _bc_get(self, path: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        while True:
            self.requests["bigcommerce"] += 1
            response = self.bc.get(self.v2 + path, params=params, timeout=self.timeout)
            reset_s = float(response.headers.get("X-Rate-Limit-Time-Reset-Ms") or 0) / 1000.0
            if response.status_code == 429:
                self.throttled["bigcommerce"] += 1
                retry = float(response.headers.get("X-Retry-After") or 0)
                self._sleep(max(reset_s, retry, 0.1))
                continue
            response.raise_for_status()
            if response.headers.get("X-Rate-Limit-Requests-Left") == "0":
                self._sleep(reset_s)
            if response.status_code == 204 or not response.content:
                return []
            body = response.json()
            return body if isinstance(body, list) else []

    def _bc_pages(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        page = 1
        while True:
            batch = self._bc_get(path, {**params, "page": page, "limit": PAGE_LIMIT})
            rows.extend(batch)
            if len(batch) < PAGE_LIMIT:
                return rows
            page += 1

    def _import(self, orders: list[dict[str, Any]]) -> int:
        while True:
            self.requests["starshipit"] += 1
            response = self.ssi.post(self.starshipit + "/api/orders/import",
                                     json={"orders": orders}, timeout=self.timeout)
            if response.status_code == 429:
                self.throttled["starshipit"] += 1
                self._sleep(float(response.headers.get("Retry-After") or 1))
                continue
            body = response.json()
            for error in body.get("errors") or []:
                self.failures.append(f"{error.get('message')}: {error.get('details')}")
            return len(body.get("orders") or [])

    # -- the import ---------------------------------------------------------------
    def run(self, statuses: list[int], days: int) -> dict[str, Any]:
        since = format_datetime(datetime.now(UTC) - timedelta(days=days))
        read = created = 0
        batch: list[dict[str, Any]] = []
        for status_id in statuses:
            page = 1
            while True:
                rows = self._bc_get("/orders", {"status_id": status_id, "min_date_created": since,
                                                "sort": "id:asc", "limit": PAGE_LIMIT,
                                                "page": page})
                for order in rows:
                    products = self._bc_pages(f"/orders/{order['id']}/products", {})
                    addresses = self._bc_pages(f"/orders/{order['id']}/shipping_addresses", {})
                    read += 1
                    batch.extend(starshipit_orders(order, products, addresses))
                    while len(batch) >= IMPORT_LIMIT:
                        created += self._import(batch[:IMPORT_LIMIT])
                        batch = batch[IMPORT_LIMIT:]
                if len(rows) < PAGE_LIMIT:
                    break
                page += 1
        if batch:
            created += self._import(batch)
        return {"orders_read": read, "starshipit_orders_created": created,
                "requests": self.requests, "throttled": self.throttled,
                "waited_s": round(self.waited_s, 3), "failures": self.failures[:20],
                "failed": len(self.failures)}


def starshipit_orders(order: dict[str, Any], products: list[dict[str, Any]],
                      addresses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One Starshipit create body per shipping address with something left to ship."""
    bodies = []
    for index, address in enumerate(sorted(addresses, key=lambda a: int(a["id"]))):
        items = []
        for line in products:
            if line.get("order_address_id") != address["id"] or line.get("type") != "physical":
                continue
            quantity = int(line.get("quantity", 0)) - int(line.get("quantity_shipped", 0)) \
                - int(line.get("quantity_refunded", 0))
            if quantity > 0:
                items.append({"description": str(line.get("name") or "Item")[:100],
                              "sku": str(line.get("sku") or "")[:50], "quantity": quantity,
                              "weight": round(float(line.get("weight") or 0), 4),
                              "value": round(float(line.get("price_inc_tax") or 0), 2)})
        if not items:
            continue
        number = str(order["id"]) if len(addresses) == 1 else f"{order['id']}-{index + 1}"
        name = f"{address.get('first_name', '')} {address.get('last_name', '')}".strip()
        destination = {
            "name": name[:100] or "Customer",
            "street": str(address.get("street_1") or "")[:100] or "-",
            "suburb": str(address.get("city") or "")[:100],
            "state": str(address.get("state") or ""),
            "post_code": str(address.get("zip") or "")[:10],
            "country": str(address.get("country_iso2") or address.get("country") or ""),
        }
        bodies.append({"order_number": number, "reference": str(order["id"]),
                       "currency": str(order.get("currency_code") or "AUD"),
                       "shipping_method": str(address.get("shipping_method") or "")[:100],
                       "destination": {k: v for k, v in destination.items() if v},
                       "items": items})
    return bodies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bigcommerce", required=True, help="emulator base URL")
    parser.add_argument("--store-hash", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--starshipit", required=True, help="emulator base URL")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--subscription-key", required=True)
    parser.add_argument("--statuses", default="9,11")
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args(argv)
    peer = PeerImport(args.bigcommerce, args.store_hash, args.token, args.starshipit,
                      args.api_key, args.subscription_key)
    started = time.perf_counter()
    summary = peer.run([int(s) for s in args.statuses.split(",")], args.days)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    json.dump(summary, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
