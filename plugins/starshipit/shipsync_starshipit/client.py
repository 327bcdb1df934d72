"""The Starshipit REST client: orders in, shipped orders out.

Every answer comes in the envelope ``{success, errors: [{message, details}],
order | orders}``; gateway errors (bad key, rate limit) come as
``{statusCode, message}``. Both become ``ApiError`` with a readable message.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator

from shipsync.config import Secret
from shipsync.http import ApiError, HttpClient, RateBudget
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
                 budget: RateBudget | None = None) -> None:
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
        self.http = HttpClient(base_url, headers, timeout=timeout, budget=budget, name="starshipit")
        self.http.retry.max_retries = max_retries

    @property
    def requests_made(self) -> int:
        return self.http.requests_made

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.http.request(method, path, ok=(200, 201), **kwargs)
        except ApiError as exc:
            raise ApiError(f"starshipit: {method} {path}: {envelope_errors(exc.body)}",
                           status=exc.status, body=exc.body, applied=exc.applied) from None
        body = response.json() if response.content else {}
        return body if isinstance(body, dict) else {"success": False, "errors": [body]}

    # -- orders ---------------------------------------------------------------
    def import_orders(self, orders: list[dict[str, Any]]) -> dict[str, Any]:
        """``POST /api/orders/import``: up to 50 orders; the envelope says which failed."""
        if not 0 < len(orders) <= IMPORT_LIMIT:
            raise ValueError(f"import takes 1 to {IMPORT_LIMIT} orders, not {len(orders)}")
        try:
            return self._call("POST", "api/orders/import", json={"orders": orders})
        except ApiError as exc:
            if isinstance(exc.body, dict) and "success" in exc.body:
                return exc.body  # a business error: per-order results are in the envelope
            raise

    def find_order(self, order_number: str) -> dict[str, Any] | None:
        body = self._call("GET", "api/orders", params={"order_number": order_number})
        order = body.get("order")
        return order if body.get("success") and isinstance(order, dict) else None

    def get_order(self, order_id: str | int) -> dict[str, Any] | None:
        body = self._call("GET", "api/orders", params={"order_id": order_id})
        order = body.get("order")
        return order if body.get("success") and isinstance(order, dict) else None

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
            if not body.get("success", True):
                raise ApiError(f"starshipit: shipped orders: {envelope_errors(body)}", body=body)
            total = body.get("total_pages")
            return Page(list(body.get("orders") or []),
                        int(total) if isinstance(total, int) else None)

        yield from paginate(fetch, PageNumbers(PAGE_LIMIT, key=lambda row: row.get("order_id")),
                            name="starshipit GET /api/orders/shipped")
