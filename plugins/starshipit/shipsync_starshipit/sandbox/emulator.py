"""``StarshipitEmulator``: the accounts, their Python API, and the wiring of routes and hooks.

The request handlers live in ``routes/`` (one class per resource, mixed in
here) on top of ``records.OrderRecords``; the gateway's hooks (keys, rate
limit, its error shape) in ``gateway``. This module maps the paths to the
handlers and holds the Python API that tests and the sandbox command use.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from shipsync.sandbox import FixedWindowLimiter, HTTPError, Request, Response

from ..variants import ACCOUNT_ZONE, choose
from .envelope import StarshipitRefusal, _describe, _refusal_text, schema_errors
from .gateway import Gateway
from .rendering import shipped_row
from .routes.labels import LabelRoutes, _total_weight
from .routes.listings import ListingRoutes
from .routes.manifests import ManifestRoutes
from .routes.order_import import ImportRoutes
from .routes.orders import OrderRoutes
from .routes.tracking import TrackingRoutes
from .state import SHIPPED_STATUSES, UNSHIPPED_STATUSES, _Account
from .webhooks import TrackingWebhooks


class StarshipitEmulator(OrderRoutes, ImportRoutes, ListingRoutes, LabelRoutes, TrackingRoutes,
                         ManifestRoutes, Gateway):
    """Starshipit accounts with their orders, behind the API's HTTP interface.

    ``rate_limit`` is (requests, seconds) per subscription key, None for no limit.
    Set ``emulator.now`` to a function returning a datetime to control the clock
    that stamps ``last_updated`` and the default 24-hour listing window.
    ``duplicate_numbers`` is "refuse" (a repeated order number is refused, in the
    words of ``duplicate_refusal`` if given) or "accept" (a second order is created).
    ``variants`` chooses how the API behaves where its documentation is silent
    (``shipsync_starshipit.variants``; the most likely behaviour by default).
    """

    name = "starshipit"

    def __init__(
        self,
        *,
        rate_limit: tuple[int, float] | None = (2, 1.0),
        fault_seed: int = 0,
        now: Callable[[], datetime] | None = None,
        duplicate_numbers: str = "refuse",
        duplicate_refusal: str | None = None,
        variants: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(fault_seed=fault_seed)
        if duplicate_numbers not in ("refuse", "accept"):
            raise ValueError(
                f"duplicate_numbers is 'refuse' or 'accept', not {duplicate_numbers!r}"
            )
        self.duplicate_numbers = duplicate_numbers
        self.duplicate_refusal = duplicate_refusal
        self.variants = choose(variants)
        self.zone: tzinfo | None = _account_zone() if self.variants["dates"] == "local" else None
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.rate_limit = rate_limit
        self._limiter = FixedWindowLimiter(*rate_limit) if rate_limit else None
        self._accounts: dict[str, _Account] = {}
        self._order_ids = itertools.count(30_000_001)
        self._item_ids = itertools.count(1)
        self._package_ids = itertools.count(1)
        self.tracking = TrackingWebhooks()
        for method, pattern, handler in (
            ("POST", "/api/orders", self._create),
            ("GET", "/api/orders", self._get),
            ("PUT", "/api/orders", self._update),
            ("POST", "/api/orders/import", self._import),
            ("DELETE", "/api/orders/delete", self._delete),
            ("GET", "/api/orders/unshipped", self._list_unshipped),
            ("GET", "/api/orders/shipped", self._list_shipped),
            ("GET", "/api/orders/shipments", self._list_shipments),
            ("POST", "/api/orders/shipment", self._shipment),
            ("POST", "/api/orders/manifest", self._manifest),
            ("GET", "/api/track", self._track),
        ):
            self.router.add(method, pattern, handler)

    # -- Python API (for tests and the sandbox command) -------------------------
    def add_account(self, api_key: str, subscription_key: str) -> None:
        """Add an account; several API keys may share one subscription key (and its rate limit)."""
        with self.lock:
            if api_key in self._accounts:
                raise ValueError(f"an account with API key {api_key!r} already exists")
            self._accounts[api_key] = _Account(api_key, subscription_key)

    def accounts(self) -> list[tuple[str, str]]:
        """(api_key, subscription_key) of every account, in the order they were added."""
        with self.lock:
            return [(a.api_key, a.subscription_key) for a in self._accounts.values()]

    def create_order(self, api_key: str, order: dict[str, Any]) -> dict[str, Any]:
        """Create an order as POST /api/orders would; raises StarshipitRefusal if refused."""
        with self.lock:
            account = self._python_account(api_key)
            errors = schema_errors("order_create", order)
            if errors:
                raise StarshipitRefusal("; ".join(_describe(e) for e in errors))
            try:
                return copy.deepcopy(self._insert(account, order).order)
            except HTTPError as exc:
                raise StarshipitRefusal(_refusal_text(exc)) from None

    def orders(self, api_key: str) -> list[dict[str, Any]]:
        """Every order of the account (full model), by order id."""
        with self.lock:
            account = self._python_account(api_key)
            return [copy.deepcopy(account.orders[i].order) for i in sorted(account.orders)]

    def get_order(self, api_key: str, order_number: str) -> dict[str, Any] | None:
        """The order with this number (full model), or None."""
        with self.lock:
            account = self._python_account(api_key)
            order_id = account.order_ids.get(order_number)
            return None if order_id is None else copy.deepcopy(account.orders[order_id].order)

    def unshipped(self, api_key: str) -> list[dict[str, Any]]:
        """Orders not yet printed, regardless of when they changed, by order id."""
        return [o for o in self.orders(api_key) if o["status"] in UNSHIPPED_STATUSES]

    def shipped(self, api_key: str) -> list[dict[str, Any]]:
        """ShippedOrder rows of printed orders, regardless of when they changed or whether
        ``/api/orders/shipped`` lists them yet (the listing variant), by order id."""
        with self.lock:
            account = self._python_account(api_key)
            return [
                shipped_row(account.orders[i], self.variants["shipped_rows"] == "packages",
                            self.zone)
                for i in sorted(account.orders)
                if account.orders[i].order["status"] in SHIPPED_STATUSES
            ]

    def delete_by_hand(self, api_key: str, order_number: str) -> None:
        """The merchant deletes an unprinted order in Starshipit's web app (not the API)."""
        with self.lock:
            account = self._python_account(api_key)
            order_id = account.order_ids.get(order_number)
            if order_id is None:
                raise StarshipitRefusal(f"no order {order_number!r} in this account")
            if account.orders[order_id].order["status"] in SHIPPED_STATUSES:
                raise StarshipitRefusal(f"order {order_number!r} is printed; only unshipped "
                                        "orders can be deleted")
            del account.orders[order_id]
            del account.order_ids[order_number]

    def manifest(self, api_key: str, order_numbers: Sequence[str]) -> dict[str, Any]:
        """Manifest printed orders as ``POST /api/orders/manifest`` would; returns its answer."""
        with self.lock:
            account = self._python_account(api_key)
            try:
                records = [self._find(account, order_number=n) for n in order_numbers]
                return self._manifest_records(account, records)
            except HTTPError as exc:
                raise StarshipitRefusal(_refusal_text(exc)) from None

    def print_label(
        self, api_key: str, order_number: str, carrier: str | None = None, packages: int = 1
    ) -> dict[str, Any]:
        """Print a label as POST /api/orders/shipment would; returns that answer's body."""
        if packages < 1:
            raise ValueError("packages must be at least 1")
        with self.lock:
            account = self._python_account(api_key)
            try:
                record = self._find(account, order_number=order_number)
                order = record.order
                parcels = None  # the order's own packages, when there are as many as asked for
                if len(order["packages"]) != packages:
                    share = round(_total_weight(order) / packages, 3)
                    parcels = [{"weight": share} for _ in range(packages)]
                return self._print(record, carrier=carrier, parcels=parcels)
            except HTTPError as exc:
                raise StarshipitRefusal(_refusal_text(exc)) from None

    def set_webhook(self, api_key: str, url: str, secret: str) -> None:
        """The tracking webhook, as the merchant sets it in Settings > Tracking &
        notifications (see ``webhooks.TrackingWebhooks``; ``tracking.configure(on_print=)``)."""
        self._python_account(api_key)
        self.tracking.set(api_key, url, secret)

    def close(self) -> None:
        """Stop sending webhooks (the server calls it when it stops)."""
        self.tracking.close()

    def delete_order(self, api_key: str, order_number: str) -> None:
        """The merchant deletes an unshipped order by hand (``DELETE /api/orders/delete``)."""
        with self.lock:
            account = self._python_account(api_key)
            try:
                record = self._find(account, order_number=order_number)
            except HTTPError as exc:
                raise StarshipitRefusal(_refusal_text(exc)) from None
            if record.order["status"] in SHIPPED_STATUSES:
                raise StarshipitRefusal(f"Order {order_number} is {record.order['status']}; "
                                        "only unshipped orders can be deleted.")
            del account.orders[record.order["order_id"]]
            del account.order_ids[order_number]

    def touch(self, api_key: str, order_number: str) -> None:
        """Record a tracking update from the courier: the order's ``last_updated`` moves."""
        with self.lock:
            account = self._python_account(api_key)
            self._tracking_update(self._find(account, order_number=order_number))

    # -- Emulator hooks (the gateway's are in gateway.Gateway) ------------------
    def admin(self, action: str, request: Request) -> Response | None:
        if action == "orders" and request.method == "GET":
            with self.lock:
                return Response(200, {key: self.orders(key) for key in self._accounts})
        if action == "webhook":
            return self._admin_webhook(request)
        return None

    def _admin_webhook(self, request: Request) -> Response:
        """``POST /__sandbox/webhook`` {api_key?, url?, secret?, on_print?, delay?, scheme?};
        ``GET``: the settings (without secrets) and the deliveries."""
        if request.method == "POST":
            body = request.json()
            if not isinstance(body, dict):
                return Response(400, {"message": "A JSON object is required."})
            try:
                if "url" in body:
                    api_key = body.get("api_key") or self.accounts()[0][0]
                    self.set_webhook(api_key, str(body["url"]), str(body.get("secret") or ""))
                self.tracking.configure(on_print=body.get("on_print"), delay=body.get("delay"),
                                        scheme=body.get("scheme"))
            except (KeyError, ValueError, TypeError) as exc:
                return Response(400, {"message": f"Bad webhook settings: {exc}"})
        return Response(200, {"on_print": self.tracking.on_print, "delay": self.tracking.delay,
                              "scheme": self.tracking.scheme,
                              "urls": {k: url for k, (url, _) in self.tracking.endpoints.items()},
                              "deliveries": list(self.tracking.deliveries)})


def _account_zone() -> tzinfo:
    try:
        return ZoneInfo(ACCOUNT_ZONE)
    except ZoneInfoNotFoundError:  # no time zone database (install tzdata): standard time
        return timezone(timedelta(hours=10), "AEST")
