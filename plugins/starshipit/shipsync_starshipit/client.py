"""The Starshipit REST client: orders in, shipped orders and printed labels out.

Every answer comes in the envelope ``{success, errors: [{message, details}],
order | orders}``; gateway errors (bad key, rate limit, a wrong path) come as
``{statusCode, message}``. Both become ``ApiError`` with a readable message.
An answer without the envelope (``{}``, an empty body, a list) is a
``ShapeError`` naming the endpoint: a lookup answered so is not "not found",
and an import answered so is in doubt.

Where the API's documentation is silent (``shipsync_starshipit.variants``), the
client takes every plausible answer: a lookup that finds nothing is ``200`` or
``404`` with the envelope; an order's items and packages are asked for with
``include`` (harmless where they always come); the lists of changes are read
through ``shipsync.pagination.paginate_changes``, oldest or newest first, with
rows moving while they are read.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
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
from shipsync.pagination import Page, paginate_changes

from .mapping import parse_time

__all__ = ["StarshipitClient", "IMPORT_LIMIT", "PAGE_LIMIT", "envelope_errors"]

IMPORT_LIMIT = 50  # orders per POST /api/orders/import
PAGE_LIMIT = 250  # rows per page of the lists (the most Starshipit returns)
PACING = 0.95  # share of the configured rate_limit actually sent (see StarshipitClient)
#: ``include`` values of an order lookup: the key repeated, as the API reads it.
ORDER_INCLUDE = ("Items", "Packages")


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
                 stop: threading.Event | None = None, page_size: int = PAGE_LIMIT) -> None:
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
        if not 1 <= page_size <= PAGE_LIMIT:
            raise ValueError(f"page_size must be between 1 and {PAGE_LIMIT}, not {page_size}")
        self.page_size = page_size

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

    def _lookup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """``GET /api/orders`` by id or number, items and packages included: the order, or
        None only when it is not there.

        Not there is ``success: false``, with ``200`` or ``404`` (both are seen); the
        gateway's own 404 (``{statusCode, message}``: a wrong path or base URL) is an
        error, and a ``success: true`` without an order is a ``ShapeError``, never "not
        found".
        """
        endpoint = "starshipit GET /api/orders"
        try:
            body = self._call("GET", "api/orders",
                              params={**params, "include": list(ORDER_INCLUDE)})
        except ApiError as exc:
            if exc.status == 404 and isinstance(exc.body, dict) and "success" in exc.body:
                return None
            raise
        if body.get("success") is not True:
            return None
        return expect_object(body.get("order"), endpoint + " (order)", "order_id",
                             what="an order")

    def find_order(self, order_number: str) -> dict[str, Any] | None:
        return self._lookup({"order_number": order_number})

    def get_order(self, order_id: str | int) -> dict[str, Any] | None:
        return self._lookup({"order_id": order_id})

    def update_order(self, order: dict[str, Any]) -> dict[str, Any]:
        # The same update sent twice leaves the same order: safe to retry.
        body = self._call("PUT", "api/orders", json={"order": order}, idempotent=True)
        if not body.get("success"):
            raise ApiError(f"starshipit: update of order {order.get('order_id')} refused: "
                           f"{envelope_errors(body)}", body=body)
        return body.get("order") or {}

    def delete_order(self, order_id: str | int) -> dict[str, Any]:
        try:
            return self._call("DELETE", "api/orders/delete", params={"order_id": order_id},
                              idempotent=True)
        except ApiError as exc:
            if exc.status == 404 and isinstance(exc.body, dict) and "success" in exc.body:
                return exc.body  # no such order: the envelope says so
            raise

    def shipped(self, since: datetime) -> Iterator[list[dict[str, Any]]]:
        """``GET /api/orders/shipped``: rows updated since ``since``, a page at a time.

        A row does not show the time the list is sorted by (its last update), so
        the list is read by page numbers, then its first pages again for rows that
        moved there while it was read.
        """
        def fetch(moment: str, page: int) -> Page[dict[str, Any]]:
            return self._page("api/orders/shipped", {"since_last_updated": moment,
                                                     "limit": self.page_size, "page": page})

        yield from paginate_changes(fetch, since=since_text(since), limit=self.page_size,
                                    key=lambda row: row.get("order_id"),
                                    name="starshipit GET /api/orders/shipped")

    def shipments(self, since: datetime, status: str = "recently_printed"
                  ) -> Iterator[list[dict[str, Any]]]:
        """``GET /api/orders/shipments``: labels printed since ``since``, each with every
        parcel's tracking number, a page at a time (a keyset on the print time when the
        list comes oldest first)."""
        def fetch(moment: str, page: int) -> Page[dict[str, Any]]:
            return self._page("api/orders/shipments", {
                "status": status, "since_created_date": moment, "limit": self.page_size,
                "page": page})

        yield from paginate_changes(fetch, since=since_text(since), limit=self.page_size,
                                    key=lambda row: row.get("order_id"),
                                    changed=lambda row: parse_time(row.get("date")),
                                    since_of=lambda row: since_text_of(row.get("date")),
                                    name="starshipit GET /api/orders/shipments")

    def _page(self, path: str, params: dict[str, Any]) -> Page[dict[str, Any]]:
        endpoint = f"starshipit GET /{path}"
        body = self._call("GET", path, params=params)
        if body.get("success") is not True:
            raise ApiError(f"{endpoint}: {envelope_errors(body)}", body=body)
        rows = expect_list(expect_object(body, endpoint, "orders")["orders"],
                           endpoint + " (orders)", "rows")
        total = body.get("total_pages")
        return Page(rows, int(total) if isinstance(total, int) else None)

    def get(self, path: str, params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any],
                                                                            dict[str, str]]:
        """One read for ``shipsync doctor``: (status, body, headers), whatever the status."""
        try:
            response = self.http.request("GET", path, params=params, ok=(200, 201))
        except ApiError as exc:
            body = exc.body if isinstance(exc.body, dict) else {"body": exc.body}
            return exc.status or 0, body, {}
        try:
            body = json_of(response, f"starshipit GET /{path}")
        except ShapeError as exc:
            body = {"body": str(exc)}
        return (response.status_code, body if isinstance(body, dict) else {"body": body},
                dict(response.headers))


def since_text(moment: datetime) -> str:
    """A ``since_*`` value from our own time: UTC to the second, floored (inclusive filters)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def since_text_of(stamp: Any) -> str:
    """A ``since_*`` value that starts a read at a row stamped ``stamp``, in the stamp's own
    notation (UTC with Z, or the account's wall time without an offset), to the
    microsecond (the stamp's 7th digit cut) and one microsecond earlier: never after it."""
    moment = parse_time(stamp)
    if moment is None:
        raise ValueError(f"not a Starshipit time: {stamp!r}")
    earlier = moment - timedelta(microseconds=1)
    text = earlier.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text + "Z" if has_offset(stamp) else text


def has_offset(stamp: Any) -> bool:
    """Whether a Starshipit time says its zone (``Z`` or ``+hh:mm``); many do not."""
    text = str(stamp or "").strip()
    return text.upper().endswith("Z") or bool(len(text) > 19 and text[-6] in "+-"
                                               and text[-3] == ":")
