"""The BigCommerce REST client: v2 orders and shipments, v3 settings and customs.

What it knows of the API's quirks: 204 (not ``[]``) for an empty list or past
the last page; at most 250 per page; one ``status_id`` per request; RFC-2822
dates; the ``X-Rate-Limit-*`` headers, whose quota is shared with every other
app on the store. Every answer is checked against the shape it must have (a
list of objects, an object with its keys): anything else is an error naming
the endpoint, never "no orders", and a write answered so is in doubt.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any, Iterator

import requests
from shipsync.config import Secret
from shipsync.http import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_BODY_BYTES,
    ApiError,
    HttpClient,
    InDoubtError,
    RateBudget,
    RateLimitPolicy,
    ShapeError,
    expect_list,
    expect_object,
    json_of,
)
from shipsync.pagination import Keyset, Page, PageNumbers, paginate

__all__ = ["BigCommerceClient", "BigCommerceRateLimits", "PAGE_LIMIT", "api_bases"]

PAGE_LIMIT = 250  # the most BigCommerce returns per page (413 above)
ORDER_INCLUDE = {"include": "consignments.line_items", "consignment_structure": "object"}


def _order_id(row: dict[str, Any]) -> int:
    try:
        return int(row.get("id", 0))
    except (TypeError, ValueError):
        return 0  # a malformed row: converting it says how


def api_bases(api_path: str) -> tuple[str, str]:
    """The v2 and v3 base URLs from the API path BigCommerce shows (…/v3/ or …/v2/)."""
    base = api_path.rstrip("/")
    if base.endswith("/v3") or base.endswith("/v2"):
        base = base[:-3]
    return base + "/v2", base + "/v3"


class BigCommerceRateLimits(RateLimitPolicy):
    """BigCommerce's ``X-Rate-Limit-*`` headers (quota per 30 s window, shared per store)."""

    def wait_after_429(self, response: requests.Response) -> float | None:
        waits = []
        reset = response.headers.get("X-Rate-Limit-Time-Reset-Ms")
        retry_after = response.headers.get("X-Retry-After")
        try:
            if reset is not None:
                waits.append(float(reset) / 1000.0)
            if retry_after is not None:
                waits.append(float(retry_after))
        except ValueError:
            pass
        # Honour the longer of the two; no header at all means platform load: back off.
        return max(waits) if waits else None

    def observe(self, response: requests.Response, budget: RateBudget) -> None:
        headers = response.headers
        try:
            left = headers.get("X-Rate-Limit-Requests-Left")
            reset = headers.get("X-Rate-Limit-Time-Reset-Ms")
            quota = headers.get("X-Rate-Limit-Requests-Quota")
            window = headers.get("X-Rate-Limit-Time-Window-Ms")
            budget.update(
                left=int(left) if left is not None else None,
                reset_s=float(reset) / 1000.0 if reset is not None else None,
                quota=int(quota) if quota is not None else None,
                window_s=float(window) / 1000.0 if window is not None else None,
            )
        except ValueError:
            pass


class BigCommerceClient:
    """One store's API. ``requests_made`` counts every HTTP call to it."""

    def __init__(self, api_path: str, access_token: Secret | str, *, timeout: float = 30.0,
                 max_retries: int = 6, budget: RateBudget | None = None,
                 deadline: float = DEFAULT_DEADLINE,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 stop: threading.Event | None = None) -> None:
        token = access_token.reveal() if isinstance(access_token, Secret) else access_token
        v2, v3 = api_bases(api_path)
        budget = budget or RateBudget(rate=150 / 30.0, burst=10)
        headers = {"X-Auth-Token": token, "Content-Type": "application/json"}
        policy = BigCommerceRateLimits()
        options: dict[str, Any] = {"timeout": timeout, "rate_policy": policy, "budget": budget,
                                   "name": "bigcommerce", "deadline": deadline,
                                   "max_body_bytes": max_body_bytes, "stop": stop}
        self.v2 = HttpClient(v2, headers, **options)
        self.v3 = HttpClient(v3, headers, **options)
        self.v2.retry.max_retries = self.v3.retry.max_retries = max_retries

    @property
    def requests_made(self) -> int:
        return self.v2.requests_made + self.v3.requests_made

    def close(self) -> None:
        self.v2.close()
        self.v3.close()

    # -- reads ----------------------------------------------------------------
    def _list(self, client: HttpClient, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        response = client.request("GET", path, params=params)
        if response.status_code == 204:  # BigCommerce's empty list (or past the last page)
            return []
        endpoint = _endpoint(client, "GET", path)
        return expect_list(json_of(response, endpoint), endpoint)

    def now(self) -> datetime:
        """The store's clock: ``GET /v2/time`` (never the local clock)."""
        endpoint = "bigcommerce GET /v2/time"
        body = expect_object(json_of(self.v2.request("GET", "time"), endpoint), endpoint, "time")
        stamp = body["time"]
        if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
            raise ShapeError(f"{endpoint}: time is not a number of seconds")
        return datetime.fromtimestamp(stamp, timezone.utc)

    def orders(self, params: dict[str, Any], *, include_lines: bool = True,
               page_size: int = PAGE_LIMIT) -> Iterator[list[dict[str, Any]]]:
        """Orders matching ``params``, a page at a time, by ascending id.

        Pages are keyed on ``min_id`` rather than page numbers, so an order that
        changes status while we page cannot shift another one out of sight.
        """
        query = dict(params)
        query.update({"sort": "id:asc", "limit": page_size})
        if include_lines:
            query.update(ORDER_INCLUDE)
        first = int(query.pop("min_id", 0) or 0)
        last = query.get("max_id")

        def fetch(min_id: int) -> Page[dict[str, Any]]:
            return Page(self._list(self.v2, "orders", {**query, **({"min_id": min_id}
                                                                   if min_id else {})}))

        yield from paginate(fetch, Keyset(page_size, key=_order_id, first=first,
                                          last_id=int(last) if last is not None else None),
                            name="bigcommerce GET /v2/orders")

    def _pages(self, path: str, key: str = "id") -> list[dict[str, Any]]:
        """Every row of a page-numbered v2 list, each once, whatever pages repeat."""

        def fetch(page: int) -> Page[dict[str, Any]]:
            return Page(self._list(self.v2, path, {"page": page, "limit": PAGE_LIMIT}))

        return [row for rows in paginate(fetch, PageNumbers(PAGE_LIMIT, key=lambda r: r.get(key)),
                                         name=f"bigcommerce GET /v2/{path}")
                for row in rows]

    def order(self, order_id: str | int, *, include_lines: bool = True) -> dict[str, Any] | None:
        try:
            response = self.v2.request("GET", f"orders/{order_id}",
                                       params=ORDER_INCLUDE if include_lines else None)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        endpoint = "bigcommerce GET /v2/orders/{id}"
        return expect_object(json_of(response, endpoint), endpoint, "id", what="an order")

    def order_products(self, order_id: str | int) -> list[dict[str, Any]]:
        return self._pages(f"orders/{order_id}/products")

    def shipments(self, order_id: str | int) -> list[dict[str, Any]]:
        return self._pages(f"orders/{order_id}/shipments")

    def shipping_addresses(self, order_id: str | int) -> list[dict[str, Any]]:
        """The order's shipping addresses: their ``id`` is the ``order_address_id``."""
        return self._pages(f"orders/{order_id}/shipping_addresses")

    def store(self) -> dict[str, Any]:
        endpoint = "bigcommerce GET /v2/store"
        return expect_object(json_of(self.v2.request("GET", "store"), endpoint), endpoint)

    def weight_units(self) -> str:
        endpoint = "bigcommerce GET /v3/settings/store/units-of-measurement"
        response = self.v3.request("GET", "settings/store/units-of-measurement")
        body = expect_object(json_of(response, endpoint), endpoint, "data")
        data = expect_object(body["data"], endpoint + " (data)")
        return str(data.get("weight_measurement") or "KGS")

    def customs_information(self, product_ids: list[int],
                            chunk: int = 50) -> dict[int, dict[str, Any]]:
        """Customs data (HS codes, country of origin) for many products per call."""
        found: dict[int, dict[str, Any]] = {}
        ids = sorted({p for p in product_ids if p})
        for start in range(0, len(ids), chunk):
            part = ",".join(map(str, ids[start:start + chunk]))

            def fetch(page: int, part: str = part) -> Page[dict[str, Any]]:
                response = self.v3.request(
                    "GET", "shipping/products/customs-information",
                    params={"product_id:in": part, "page": page, "limit": PAGE_LIMIT})
                if response.status_code == 204:
                    return Page([])
                endpoint = "bigcommerce GET /v3/shipping/products/customs-information"
                body = expect_object(json_of(response, endpoint), endpoint, "data")
                rows = expect_list(body["data"], endpoint + " (data)", "customs records")
                meta = body.get("meta")
                pagination = meta.get("pagination") if isinstance(meta, dict) else None
                total = pagination.get("total_pages") if isinstance(pagination, dict) else None
                return Page(rows, int(total) if isinstance(total, int) else 1)

            for rows in paginate(fetch, PageNumbers(PAGE_LIMIT, key=lambda r: r.get("product_id")),
                                 name="bigcommerce GET /v3/shipping/products/customs-information"):
                for row in rows:
                    found[int(row["product_id"])] = row
        return found

    # -- writes ---------------------------------------------------------------
    def create_shipment(self, order_id: str | int, body: dict[str, Any]) -> dict[str, Any]:
        response = self.v2.request("POST", f"orders/{order_id}/shipments", json=body)
        endpoint = "bigcommerce POST /v2/orders/{id}/shipments"
        try:
            return expect_object(json_of(response, endpoint), endpoint, "id", what="a shipment")
        except ShapeError as exc:
            # Accepted, but the answer does not say what was created: look it up.
            raise InDoubtError(f"{exc}; the shipment may have been created",
                               status=response.status_code) from None

    def set_status(self, order_id: str | int, status_id: int) -> dict[str, Any]:
        # PUT is idempotent here: setting the same status twice changes nothing.
        response = self.v2.request("PUT", f"orders/{order_id}", json={"status_id": status_id},
                                   idempotent=True)
        endpoint = "bigcommerce PUT /v2/orders/{id}"
        return expect_object(json_of(response, endpoint), endpoint, what="an order")


    # -- webhooks (v3 /hooks) -------------------------------------------------
    def hooks(self) -> list[dict[str, Any]]:
        """Every webhook of this API account on the store (active or not)."""

        def fetch(page: int) -> Page[dict[str, Any]]:
            response = self.v3.request("GET", "hooks", params={"page": page, "limit": PAGE_LIMIT})
            if response.status_code == 204 or not response.content:
                return Page([])
            endpoint = "bigcommerce GET /v3/hooks"
            body = expect_object(json_of(response, endpoint), endpoint, "data",
                                 what="a page of hooks")
            pagination = (body.get("meta") or {}).get("pagination") or {}
            return Page(list(body.get("data") or []), int(pagination.get("total_pages") or 1))

        return [row for rows in paginate(fetch, PageNumbers(PAGE_LIMIT, key=lambda r: r.get("id")),
                                         name="bigcommerce GET /v3/hooks")
                for row in rows]

    def create_hook(self, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = "bigcommerce POST /v3/hooks"
        answer = expect_object(json_of(self.v3.request("POST", "hooks", json=body), endpoint),
                               endpoint, "data", what="the created hook")
        return expect_object(answer["data"], endpoint, "id", what="the created hook")

    def update_hook(self, hook_id: int | str, body: dict[str, Any]) -> dict[str, Any]:
        # The same PUT twice leaves the same hook: safe to retry.
        endpoint = "bigcommerce PUT /v3/hooks/{id}"
        response = self.v3.request("PUT", f"hooks/{hook_id}", json=body, idempotent=True)
        answer = expect_object(json_of(response, endpoint), endpoint, "data",
                               what="the updated hook")
        return expect_object(answer["data"], endpoint, what="the updated hook")

    def delete_hook(self, hook_id: int | str) -> None:
        self.v3.request("DELETE", f"hooks/{hook_id}", idempotent=True)


def _endpoint(client: HttpClient, method: str, path: str) -> str:
    """``bigcommerce GET /v2/orders`` (ids in a path as ``{id}``: messages stay readable)."""
    version = client.base_url.rstrip("/").rsplit("/", 1)[-1]
    parts = ["{id}" if part.isdigit() else part for part in path.split("/")]
    return f"{client.name} {method} /{version}/{'/'.join(parts)}"
