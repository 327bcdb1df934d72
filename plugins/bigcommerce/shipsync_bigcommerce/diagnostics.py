"""``shipsync doctor``'s checks of a BigCommerce store: read-only, one finding each.

The access token and its scopes (as far as reads can show them), the rate-limit
quota the headers announce, the store's weight unit, and what the source
assumes where the API's documentation is silent (``assumptions``): whether a
recent order's display currency is its transactional one, and whether its
shipping consignments' ids are the ``order_address_id`` a shipment needs.
Nothing is written to the API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests
from shipsync.contracts import Finding
from shipsync.http import ApiError, HttpClient
from shipsync.registry import DiagnosticSpec

from .assumptions import (
    ASSUMPTIONS,
    CONSIGNMENT_IDS,
    CREDENTIALS,
    CURRENCIES,
    RATE_LIMIT,
    SCOPE_CUSTOMS,
    SCOPE_ORDERS_MODIFY,
    SCOPE_ORDERS_READ,
    WEIGHT_UNITS,
)
from .client import ORDER_INCLUDE
from .mapping import KG_PER_UNIT
from .source import BigCommerceSource

__all__ = ["DIAGNOSTICS", "check_store"]

RECENT = 10  # recent orders the checks look at


def _finding(name: str, status: Any, observed: str, instead: str = "",
             blocking: bool = False) -> Finding:
    return Finding(name, status, ASSUMPTIONS[name], observed=observed, instead=instead,
                   blocking=blocking)


def _get(client: HttpClient, path: str, params: dict[str, Any] | None = None
         ) -> tuple[int, Any, requests.Response | None]:
    """(status, JSON body or None, response) of one read, whatever the status."""
    try:
        response = client.request("GET", path, params=params)
    except ApiError as exc:
        return exc.status or 0, exc.body, None
    body = response.json() if response.content else None
    return response.status_code, body, response


def _refused(status: int, what: str, scope: str) -> str:
    return (f"{what}: {status} (the token is refused)" if status == 401
            else f"{what}: {status} (the API account lacks {scope})")


def check_store(source: BigCommerceSource) -> Iterator[Finding]:
    """Every check of one store, in order; the first (credentials) gates the others."""
    client = source.client
    status, store, response = _get(client.v2, "store")
    if status != 200 or not isinstance(store, dict):
        yield _finding(CREDENTIALS, "contradicted",
                       _refused(status, "GET /v2/store", "Information & Settings read-only"),
                       instead="nothing runs until the API path and access token are right",
                       blocking=True)
        return
    yield _finding(CREDENTIALS, "confirmed", f"GET /v2/store: {store.get('name', '?')} "
                   f"({store.get('plan_name') or 'plan not shown'})")
    status, orders, _ = _get(client.v2, "orders", {
        "sort": "date_created:desc", "limit": RECENT, **ORDER_INCLUDE})
    if status not in (200, 204):
        yield _finding(SCOPE_ORDERS_READ, "contradicted",
                       _refused(status, "GET /v2/orders", "Orders read (modify)"),
                       instead="nothing runs until the API account has Orders modify",
                       blocking=True)
        return
    recent = [o for o in orders or [] if isinstance(o, dict)]
    yield _finding(SCOPE_ORDERS_READ, "confirmed",
                   f"GET /v2/orders: {status}, {len(recent)} recent order(s)")
    yield _finding(SCOPE_ORDERS_MODIFY, "not_observable",
                   "only a write shows it, and the doctor writes nothing",
                   instead="a refused shipment or status names the missing scope in the "
                           "run's report")
    status, _, _ = _get(client.v3, "shipping/products/customs-information", {"limit": 1})
    if status in (200, 204):
        yield _finding(SCOPE_CUSTOMS, "confirmed",
                       f"GET /v3/shipping/products/customs-information: {status}")
    else:
        yield _finding(SCOPE_CUSTOMS, "contradicted",
                       _refused(status, "GET /v3/shipping/products/customs-information",
                                "Products read-only"),
                       instead="orders cannot be imported until the API account has Products "
                               "read-only (HS codes and countries of origin come from it)",
                       blocking=True)
    yield _rate_limit(source, response)
    yield _weight_units(source, store)
    yield _currencies(recent, store)
    yield _consignment_ids(source, recent)


def _rate_limit(source: BigCommerceSource, response: requests.Response | None) -> Finding:
    configured = int(source.settings["rate_limit"])
    headers = response.headers if response is not None else {}
    quota, window = headers.get("X-Rate-Limit-Requests-Quota"), headers.get(
        "X-Rate-Limit-Time-Window-Ms")
    try:
        per_30s = round(int(quota or "") * 30000 / int(window or ""))
    except ValueError:
        return _finding(RATE_LIMIT, "not_observable", "no X-Rate-Limit-* headers",
                        instead=f"requests are paced at rate_limit ({configured} per 30 s)")
    seen = f"{quota} per {int(window or 0) / 1000:g} s (= {per_30s} per 30 s), " \
           f"{headers.get('X-Rate-Limit-Requests-Left', '?')} left"
    if per_30s == configured:
        return _finding(RATE_LIMIT, "confirmed", seen)
    return _finding(RATE_LIMIT, "contradicted", f"{seen}; rate_limit is {configured}",
                    instead="requests are paced by what the headers announce, whatever "
                            "rate_limit says; set rate_limit to the quota to start right")


def _weight_units(source: BigCommerceSource, store: dict[str, Any]) -> Finding:
    units = source.client.weight_units()
    seen = f"{units} (GET /v3/settings/store/units-of-measurement); /v2/store says " \
           f"{store.get('weight_units', '?')}"
    if units.strip().lower() in KG_PER_UNIT:
        return _finding(WEIGHT_UNITS, "confirmed", seen,
                        instead=f"weights are converted from {units} to kg")
    return _finding(WEIGHT_UNITS, "contradicted", seen,
                    instead="orders fail with 'unknown store weight unit' until shipsync "
                            "knows this unit", blocking=True)


def _currencies(recent: list[dict[str, Any]], store: dict[str, Any]) -> Finding:
    if not recent:
        return _finding(CURRENCIES, "not_observable", "no order yet")
    for order in recent:
        shown, paid = order.get("currency_code"), order.get("default_currency_code")
        if shown and paid and shown != paid:
            return _finding(CURRENCIES, "contradicted",
                            f"order {order.get('id')}: shown in {shown}, paid in {paid} "
                            f"(store currency {store.get('currency', '?')})",
                            instead="customs values go to the sink in the transactional "
                                    "currency (default_currency_code), which the amounts are in")
    return _finding(CURRENCIES, "confirmed",
                    f"{len(recent)} recent order(s): shown and paid in the same currency",
                    instead="customs values go in default_currency_code all the same")


def _consignment_ids(source: BigCommerceSource, recent: list[dict[str, Any]]) -> Finding:
    for order in recent:
        consignments = order.get("consignments")
        shipping = consignments.get("shipping") if isinstance(consignments, dict) else None
        ids = sorted(str(c.get("id")) for c in shipping or [] if isinstance(c, dict))
        if not ids:
            continue
        addresses = sorted(str(a.get("id")) for a in
                           source.client.shipping_addresses(order.get("id", 0)))
        seen = (f"order {order.get('id')}: consignments {', '.join(ids)}; shipping addresses "
                f"{', '.join(addresses) or 'none'}")
        if ids == addresses:
            return _finding(CONSIGNMENT_IDS, "confirmed", seen,
                            instead="shipments name the order_address_id of the consignment's "
                                    "lines all the same")
        return _finding(CONSIGNMENT_IDS, "contradicted", seen,
                        instead="each shipment names the order_address_id of the "
                                "consignment's lines (or of the order's shipping addresses), "
                                "never the consignment's id")
    return _finding(CONSIGNMENT_IDS, "not_observable",
                    "no recent order ships to an address")


DIAGNOSTICS = [DiagnosticSpec(
    name="bigcommerce-store", kind="source", target="bigcommerce", run=check_store,
    description="BigCommerce: token and scopes, rate-limit quota, weight unit, currencies, "
                "consignment ids")]
