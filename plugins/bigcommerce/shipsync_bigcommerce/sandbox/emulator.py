"""``BigCommerceEmulator``: the stores, their Python API, and the wiring of routes and hooks.

The request handlers live in ``routes/`` (one class per resource, mixed in
here); this module maps the paths to them, answers authentication, rate
limits and injected faults in the API's shapes, and holds the Python API
tests use to set up state.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from shipsync.sandbox import Emulator, Request, Response

from ..variants import choose
from .building import _build_order
from .catalog import WEIGHT_UNITS, generate_customs
from .changes import _apply_changes
from .errors import _STORE_PATH, _answer_bugs, _api_of, _error, _message_of
from .formats import _as_datetime
from .limits import _rate_headers, _retry_after, _WindowLimiter
from .rendering import _address_json, _line_json, _order_json, _shipment_json
from .routes.customs import CustomsRoutes, _customs_json
from .routes.hooks import HookRoutes, order_changed
from .routes.order_parts import OrderPartRoutes
from .routes.orders import OrderRoutes
from .routes.shipments import ShipmentRoutes
from .routes.store import StoreRoutes
from .seed import generate_orders
from .state import SandboxStore, _Order, _Store, _View
from .webhooks import WebhookSender

GATEWAY = "https://api.bigcommerce.com"


class BigCommerceEmulator(OrderRoutes, OrderPartRoutes, ShipmentRoutes, StoreRoutes, CustomsRoutes,
                          HookRoutes, Emulator):
    """BigCommerce stores in memory, served over HTTP by ``EmulatorServer``.

    Python API (tests set up state, then drive shipsync over HTTP); every
    ``store_hash`` argument also takes the alias a store was registered under:

    - ``add_store(store_hash, access_token, *, name, weight_units, currency, rate_limit, alias)``,
      ``remove_store(store_hash)``
    - ``add_order(store_hash, **spec) -> dict``,
      ``update_order(store_hash, order_id, **changes) -> dict``
    - ``get_order``, ``products``, ``shipping_addresses``, ``shipments`` (store_hash, order_id),
      ``order_ids(store_hash)``
    - ``set_customs(store_hash, product_id, country_of_origin, hs_codes)``,
      ``seed(store_hash, count, seed)``
    - ``now``: the clock (assign ``lambda: datetime(...)`` to age orders)
    - ``fault_reset_ms``: X-Rate-Limit-Time-Reset-Ms of injected 429s (None: the store's window)
    - ``webhooks``: the stores' hooks and their callbacks (``webhooks.WebhookSender``:
      ``configure(delay=, jitter=, loss=, duplicate=, retry_scale=, sign=, seed=)``,
      ``deliveries``, ``client_secrets``)
    """

    name = "bigcommerce"

    def __init__(self, *, fault_seed: int = 0,
                 variants: Mapping[str, str] | None = None) -> None:
        super().__init__(fault_seed=fault_seed)
        #: How the API behaves where its documentation is silent, for every store.
        self.variants = choose(variants)
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.stores: dict[str, SandboxStore] = {}
        self.fault_reset_ms: int | None = None
        self._stores: dict[str, _Store] = {}
        self._local = threading.local()  # which API (v2/v3) the current thread answers
        self._rate: tuple[int, int, int, int] | None = None  # set and read under self.lock
        self.webhooks = WebhookSender(seed=fault_seed)
        self._routes()

    # -- Python API -----------------------------------------------------------
    def add_store(
        self,
        store_hash: str,
        access_token: str,
        *,
        name: str = "Sandbox Store",
        weight_units: str = "KGS",
        currency: str = "AUD",
        rate_limit: tuple[int, float] | None = (150, 30.0),
        alias: str | None = None,
    ) -> SandboxStore:
        """Add an empty store; ``alias`` (default: the hash) is its key in ``self.stores``."""
        if weight_units not in WEIGHT_UNITS:
            raise ValueError(f"weight_units {weight_units!r} is not one of "
                             f"{', '.join(WEIGHT_UNITS)}")
        with self.lock:
            if store_hash in self._stores:
                raise ValueError(f"store {store_hash!r} already exists")
            limiter = _WindowLimiter(int(rate_limit[0]), float(rate_limit[1])) if rate_limit \
                else None
            self._stores[store_hash] = _Store(
                store_hash=store_hash, access_token=access_token, name=name,
                weight_units=weight_units, currency=currency, limiter=limiter,
                store_id=int(hashlib.sha256(store_hash.encode()).hexdigest()[:9], 16),
                variants=dict(self.variants),
            )
            handle = SandboxStore(alias or store_hash, store_hash, access_token)
            self.stores[handle.name] = handle
            return handle

    def remove_store(self, store_hash: str) -> None:
        """Forget a store and all its orders (tests sharing one server start clean)."""
        with self.lock:
            state = self._store(store_hash)
            del self._stores[state.store_hash]
            for name in [n for n, s in self.stores.items() if s.store_hash == state.store_hash]:
                del self.stores[name]

    def add_order(self, store_hash: str, **spec: Any) -> dict[str, Any]:
        """Add a coherent order and return it as ``GET /v2/orders/{id}`` would, with its
        consignments inline (every line item, uncapped) so callers see the line and address ids.

        Spec keys (all optional): ``id``, ``status_id`` (11), ``date_created`` (now),
        ``date_modified``, ``date_shipped``, ``customer_id``, ``billing_address`` {field: value},
        ``country``/``country_iso2`` (the default addresses' country), ``shipping_addresses``
        [{address fields, shipping_method, shipping_cost}], ``pickups`` [{pickup_method_id,
        pickup_method_display_name, location {...}}], ``products`` [{product_id, variant_id,
        name, sku, type physical|digital|giftcertificate, price_inc_tax, quantity,
        quantity_shipped, quantity_refunded, weight, width, height, depth, product_options
        [{display_name, display_value, type, value, ...}], address_index, pickup_index,
        recipient_email}], ``weight`` (default line weight), ``shipments`` [{address_index,
        items [{line_index, quantity}] or None for all, tracking_number, tracking_carrier, ...}],
        ``payment_method``, ``payment_status``, ``is_deleted``, ``staff_notes``,
        ``customer_message``, ``tax_rate`` (0.10 to AU, else 0), ``external_order_id``, ...
        """
        with self.lock:
            state = self._store(store_hash)
            order = self._insert(state, spec)
            order_changed(self.webhooks, state, order, None)
            return self._python_view(state, order)

    def update_order(self, store_hash: str, order_id: int, **changes: Any) -> dict[str, Any]:
        """Change an order as the merchant would, and bump ``date_modified`` (to ``now``, or
        to ``date_modified=`` when given).

        Changes: ``status_id``, scalar order fields (``staff_notes``, ``is_deleted``, ...),
        ``billing_address`` / ``shipping_address`` (the first) {field: value},
        ``shipping_addresses`` {address_id: {field: value}}, and per line id
        ``quantities``, ``quantity_shipped``, ``quantity_refunded`` {line_id: n}.
        """
        with self.lock:
            state = self._store(store_hash)
            order = self._order(state, order_id)
            before = order.status_id
            _apply_changes(order, changes)
            order.date_modified = _as_datetime(changes["date_modified"], "date_modified") \
                if changes.get("date_modified") else self._now()
            order_changed(self.webhooks, state, order, before)
            return self._python_view(state, order)

    def corrupt_order(self, store_hash: str, order_id: int,
                      values: Mapping[tuple[Any, ...], Any]) -> None:
        """Serve raw values in an order's JSON, as a misbehaving store or proxy would.

        ``values`` maps a path in the order body (e.g. ``("consignments", "shipping", 0,
        "line_items", 0, "weight")``) to the value served there, or ``DELETE`` to leave
        the field out. Paths absent from a given view are ignored. For bad-input tests:
        the emulator's own state stays coherent. Bumps date_modified.
        """
        with self.lock:
            order = self._order(self._store(store_hash), order_id)
            order.corruptions.extend((tuple(path), value) for path, value in values.items())
            order.date_modified = self._now()

    def heal_order(self, store_hash: str, order_id: int) -> None:
        """Serve the order's real data again (undo ``corrupt_order``); bumps date_modified."""
        with self.lock:
            order = self._order(self._store(store_hash), order_id)
            order.corruptions.clear()
            order.date_modified = self._now()

    def get_order(self, store_hash: str, order_id: int) -> dict[str, Any]:
        """The order as ``add_order`` returns it (deleted orders too)."""
        with self.lock:
            state = self._store(store_hash)
            return self._python_view(state, self._order(state, order_id))

    def products(self, store_hash: str, order_id: int) -> list[dict[str, Any]]:
        with self.lock:
            state = self._store(store_hash)
            order = self._order(state, order_id)
            return [_line_json(order, line) for line in order.lines]

    def shipping_addresses(self, store_hash: str, order_id: int) -> list[dict[str, Any]]:
        with self.lock:
            state = self._store(store_hash)
            order = self._order(state, order_id)
            view = self._gateway_view(state)
            return [_address_json(order, address, view) for address in order.addresses]

    def shipments(self, store_hash: str, order_id: int) -> list[dict[str, Any]]:
        with self.lock:
            state = self._store(store_hash)
            order = self._order(state, order_id)
            return [_shipment_json(order, shipment) for shipment in order.shipments]

    def order_ids(self, store_hash: str, *, include_deleted: bool = False) -> list[int]:
        with self.lock:
            return [o.id for o in self._store(store_hash).orders.values()
                    if include_deleted or not o.is_deleted]

    def set_customs(
        self,
        store_hash: str,
        product_id: int,
        country_of_origin: str,
        hs_codes: Mapping[str, str],
        *,
        commodity_description: str = "",
        international_shipping: bool = True,
    ) -> dict[str, Any]:
        """Upsert a product's customs information, as the v3 customs-information PUT does."""
        with self.lock:
            state = self._store(store_hash)
            now = self._now()
            previous = state.customs.get(product_id)
            record = {
                "product_id": int(product_id),
                "country_of_origin": country_of_origin,
                "commodity_description": commodity_description,
                "international_shipping": international_shipping,
                "hs_codes": dict(hs_codes),
                "created_at": previous["created_at"] if previous else now,
                "updated_at": now,
            }
            state.customs[int(product_id)] = record
            return _customs_json(record)

    def seed(self, store_hash: str, count: int, seed: int = 0, *,
             now: datetime | None = None) -> None:
        """Fill a store with ``count`` generated orders (see ``seed.generate_orders``)."""
        with self.lock:
            state = self._store(store_hash)
            moment = now or self._now()
            first_id = state.counters.get("order", 100)
            for spec in generate_orders(count, seed, now=moment, weight_units=state.weight_units,
                                        first_id=first_id):
                self._insert(state, spec)
            for record in generate_customs(seed, now=moment):
                state.customs.setdefault(record["product_id"], record)

    # -- Python API helpers -----------------------------------------------------
    def _store(self, key: str) -> _Store:
        state = self._stores.get(key)
        if state is None and key in self.stores:
            state = self._stores.get(self.stores[key].store_hash)
        if state is None:
            raise KeyError(f"no store {key!r} (stores: {', '.join(self.stores) or 'none'})")
        return state

    @staticmethod
    def _order(state: _Store, order_id: int) -> _Order:
        order = state.orders.get(int(order_id))
        if order is None:
            raise KeyError(f"no order {order_id} in store {state.store_hash}")
        return order

    def _insert(self, state: _Store, spec: Mapping[str, Any]) -> _Order:
        order = _build_order(state, spec, self._now())
        state.orders[order.id] = order
        return order

    @staticmethod
    def _gateway_view(state: _Store, **options: Any) -> _View:
        return _View(base=f"{GATEWAY}/stores/{state.store_hash}/v2",
                     consignment_ids=state.variants.get("consignment_ids", "address"), **options)

    def _python_view(self, state: _Store, order: _Order) -> dict[str, Any]:
        view = self._gateway_view(state, consignments="object", line_items=True, line_cap=None)
        return _order_json(state, order, view)

    # -- Emulator hooks ---------------------------------------------------------
    def dispatch(self, request: Request) -> tuple[Response, str, str | None]:
        # error_body() gets no request; remember per thread which API shape to use.
        self._local.api = _api_of(request.path)
        response, route, fault = super().dispatch(request)
        if fault in ("500", "502", "503"):
            response.body = self.error_body(response.status, response.body)
        return response, route, fault

    def before_request(self, request: Request) -> Response | None:
        self._rate = None
        found = _STORE_PATH.match(request.path)
        if found is None:
            return None  # not_found() answers
        api = found["api"]
        state = self._stores.get(found["hash"])
        if state is None:
            return Response(404, _error(api, 404, "The requested resource was not found."))
        token = request.header("x-auth-token") or ""
        if not hmac.compare_digest(token.encode(), state.access_token.encode()):
            return Response(401, _error(api, 401, "No valid credential found in the request. "
                                        "Send the API account's access token as X-Auth-Token."))
        if state.limiter is None:
            return None
        allowed, left, reset_ms = state.limiter.consume(state.store_hash)
        self._rate = (state.limiter.quota, int(state.limiter.window_s * 1000), left, reset_ms)
        if allowed:
            return None
        return Response(429, _error(api, 429, "Too many requests: the store's API quota for this "
                                    "window is used up."), _retry_after(reset_ms))

    def decorate(self, request: Request, response: Response) -> None:
        if self._rate is not None:
            quota, window_ms, left, reset_ms = self._rate
            for name, value in _rate_headers(quota, window_ms, left, reset_ms).items():
                response.headers.setdefault(name, value)

    def rate_limited(self, request: Request, bare: bool) -> Response:
        api = _api_of(request.path)
        body = _error(api, 429, "Too many requests: the store's API quota for this window is "
                      "used up.")
        if bare:
            return Response(429, body)
        found = _STORE_PATH.match(request.path)
        with self.lock:
            state = self._stores.get(found["hash"]) if found else None
        limiter = state.limiter if state else None
        quota, window_s = (limiter.quota, limiter.window_s) if limiter else (150, 30.0)
        reset_ms = self.fault_reset_ms if self.fault_reset_ms is not None else (
            limiter.reset_ms(state.store_hash) if limiter and state else int(window_s * 1000))
        headers = {**_rate_headers(quota, int(window_s * 1000), 0, reset_ms),
                   **_retry_after(reset_ms)}
        return Response(429, body, headers)

    def not_found(self, request: Request) -> Response:
        return Response(404, _error(_api_of(request.path), 404,
                                    "The requested resource was not found."))

    def error_body(self, status: int, body: Any) -> Any:
        api = getattr(self._local, "api", "v2")
        if api == "v2" and isinstance(body, list):
            return body
        if api == "v3" and isinstance(body, dict) and "title" in body:
            return body
        message, details = _message_of(status, body)
        return _error(api, status, message, details)

    # -- routes -----------------------------------------------------------------
    def _routes(self) -> None:
        v2, v3 = "/stores/{store_hash}/v2", "/stores/{store_hash}/v3"
        order = v2 + "/orders/{order_id:int}"

        def add(method: str, pattern: str, handler: Callable[[Request], Response]) -> None:
            self.router.add(method, pattern, _answer_bugs(handler))
        add("GET", v2 + "/orders", self._get_orders)
        add("GET", v2 + "/orders/count", self._get_orders_count)
        add("GET", order, self._get_order)
        add("PUT", order, self._put_order)
        add("DELETE", order, self._delete_order)
        add("GET", order + "/products", self._get_products)
        add("GET", order + "/products/{line_id:int}", self._get_product)
        add("GET", order + "/shipping_addresses", self._get_addresses)
        add("GET", order + "/shipping_addresses/{address_id:int}", self._get_address)
        add("GET", order + "/consignments", self._get_consignments)
        add("GET", order + "/shipments", self._get_shipments)
        add("POST", order + "/shipments", self._post_shipment)
        add("GET", order + "/shipments/count", self._get_shipments_count)
        add("GET", order + "/shipments/{shipment_id:int}", self._get_shipment)
        add("GET", v2 + "/order_statuses", self._get_statuses)
        add("GET", v2 + "/order_statuses/{status_id:int}", self._get_status)
        add("GET", v2 + "/store", self._get_store)
        add("GET", v2 + "/time", self._get_time)
        add("GET", v3 + "/settings/store/units-of-measurement", self._get_units)
        add("GET", v3 + "/shipping/products/customs-information", self._get_customs)
        add("GET", v3 + "/hooks", self._get_hooks)
        add("POST", v3 + "/hooks", self._post_hook)
        add("GET", v3 + "/hooks/{webhook_id:int}", self._get_hook)
        add("PUT", v3 + "/hooks/{webhook_id:int}", self._put_hook)
        add("DELETE", v3 + "/hooks/{webhook_id:int}", self._delete_hook)

    def close(self) -> None:
        """Stop delivering webhooks (the server calls it when it stops)."""
        self.webhooks.close()
