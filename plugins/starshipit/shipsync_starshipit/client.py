"""The Starshipit REST client: orders in, shipped orders out.

Every answer comes in the envelope ``{success, errors: [{message, details}],
order | orders}``; gateway errors (bad key, rate limit) come as
``{statusCode, message}``. Both become ``ApiError`` with a readable message.
An answer without the envelope (``{}``, an empty body, a list) is a
``ShapeError`` naming the endpoint: a lookup answered so is not "not found",
and an import answered so is in doubt.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any, Iterator

from shipsync.config import Secret
from shipsync.http import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_BODY_BYTES,
    ApiError,
    HttpClient,
    InDoubtError,
    RateBudget,
    ShapeError,
    expect_list,
    expect_object,
    json_of,
)
from shipsync.pagination import Page, PageNumbers, paginate

__all__ = ["StarshipitClient", "IMPORT_LIMIT", "PAGE_LIMIT", "envelope_errors"]

IMPORT_LIMIT = 50  # orders per POST /api/orders/import
PAGE_LIMIT = 250  # rows per page of /api/orders/shipped
PACING = 0.95  # share of the configured rate_limit actually sent (see StarshipitClient)


def envelope_errors(body: Any) -> str:
    if not isinstance(body, dict):
        return str(body)[:300]
    errors = body.get("errors") or []
    parts = []
    for error in errors if isinstance(errors, list) else [errors]:
        if isinstance(error, dict):
            parts.append(" ".join(str(x) for x in (error.get("message"), error.get("details"))
                                  if x))
        else:
            parts.append(str(error))
    return "; ".join(p for p in parts if p) or str(body.get("message") or "unknown error")


def _reveal(value: Secret | str) -> str:
    return value.reveal() if isinstance(value, Secret) else value


class StarshipitClient:
    def __init__(self, base_url: str, api_key: Secret | str, subscription_key: Secret | str, *,
                 rate_limit: float = 2.0, timeout: float = 30.0, max_retries: int = 6,
                 budget: RateBudget | None = None, deadline: float = DEFAULT_DEADLINE,
                 max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
                 stop: threading.Event | None = None) -> None:
        headers = {
            "StarShipIT-Api-Key": _reveal(api_key),
            "Ocp-Apim-Subscription-Key": _reveal(subscription_key),
            "Content-Type": "application/json",
        }
        # Starshipit sends no rate-limit headers and counts per fixed window: requests go
        # evenly spaced (no burst), a little under the quota, because the network's jitter
        # would now and then land one more in a window than it admits, and each 429 costs
        # a whole second (Retry-After is in whole seconds).
        budget = budget or RateBudget(rate=rate_limit * PACING, burst=1.0)
        self.http = HttpClient(base_url, headers, timeout=timeout, budget=budget, name="starshipit",
                               deadline=deadline, max_body_bytes=max_body_bytes, stop=stop)
        self.http.retry.max_retries = max_retries

    @property
    def requests_made(self) -> int:
        return self.http.requests_made

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The call's envelope (an object with ``success``); ``ShapeError`` if it has none."""
        endpoint = f"starshipit {method} /{path}"
        try:
            response = self.http.request(method, path, ok=(200, 201), **kwargs)
        except ApiError as exc:
            raise ApiError(f"{endpoint}: {envelope_errors(exc.body)}",
                           status=exc.status, body=exc.body, applied=exc.applied) from None
        return expect_object(json_of(response, endpoint), endpoint, "success",
                             what="the answer envelope")

    # -- orders ---------------------------------------------------------------
    def import_orders(self, orders: list[dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """``POST /api/orders/import``: up to 50 orders; the envelope says which failed.

        Returns the envelope and whether the whole call was refused (an error
        status: nothing was created). An answer that is not that envelope (with
        ``orders`` and ``errors`` lists when present) raises ``InDoubtError``:
        the orders may have been created.
        """
        if not 0 < len(orders) <= IMPORT_LIMIT:
            raise ValueError(f"import takes 1 to {IMPORT_LIMIT} orders, not {len(orders)}")
        endpoint = "starshipit POST /api/orders/import"
        refused = False
        try:
            body = self._call("POST", "api/orders/import", json={"orders": orders})
        except ApiError as exc:
            if isinstance(exc.body, dict) and "success" in exc.body:
                body = exc.body  # a business error: per-order results are in the envelope
                refused = True
            else:
                raise
        except ShapeError as exc:
            raise InDoubtError(f"{exc}; the orders may have been created") from None
        try:
            expect_list(body.get("orders") or [], endpoint + " (orders)", "orders")
            errors = body.get("errors")
            if errors is not None and not isinstance(errors, list):
                raise ShapeError(f"{endpoint}: errors is not a list")
        except ShapeError as exc:
            raise InDoubtError(f"{exc}; the orders may have been created") from None
        return body, refused

    def _order(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """``GET /api/orders`` by id or number: the order, or None only when it is not there.

        Not there is a 404 or ``success: false`` (how Starshipit says "not found");
        a ``success: true`` without an order is a ``ShapeError``, never "not found".
        """
        endpoint = "starshipit GET /api/orders"
        try:
            body = self._call("GET", "api/orders", params=params)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        if body.get("success") is not True:
            return None
        return expect_object(body.get("order"), endpoint + " (order)", "order_id",
                             what="an order")

    def find_order(self, order_number: str) -> dict[str, Any] | None:
        return self._order({"order_number": order_number})

    def get_order(self, order_id: str | int) -> dict[str, Any] | None:
        return self._order({"order_id": order_id})

    def update_order(self, order: dict[str, Any]) -> dict[str, Any]:
        # The same update sent twice leaves the same order: safe to retry.
        body = self._call("PUT", "api/orders", json={"order": order}, idempotent=True)
        if not body.get("success"):
            raise ApiError(f"starshipit: update of order {order.get('order_id')} refused: "
                           f"{envelope_errors(body)}", body=body)
        return body.get("order") or {}

    def delete_order(self, order_id: str | int) -> dict[str, Any]:
        return self._call("DELETE", "api/orders/delete", params={"order_id": order_id},
                          idempotent=True)

    def shipped(self, since: datetime) -> Iterator[list[dict[str, Any]]]:
        """Shipped (printed) orders updated since ``since``, 250 per call."""
        stamp = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

        def fetch(page: int) -> Page[dict[str, Any]]:
            body = self._call("GET", "api/orders/shipped", params={
                "since_last_updated": stamp, "limit": PAGE_LIMIT, "page": page})
            if body.get("success") is not True:
                raise ApiError(f"starshipit: shipped orders: {envelope_errors(body)}", body=body)
            endpoint = "starshipit GET /api/orders/shipped"
            rows = expect_list(expect_object(body, endpoint, "orders")["orders"],
                               endpoint + " (orders)", "shipped orders")
            total = body.get("total_pages")
            return Page(rows, int(total) if isinstance(total, int) else None)

        yield from paginate(fetch, PageNumbers(PAGE_LIMIT, key=lambda row: row.get("order_id")),
                            name="starshipit GET /api/orders/shipped")
