"""The BigCommerce source: reads orders to import, writes shipments and statuses back."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, Iterable, Iterator

from shipsync.contracts import (
    Assumptions,
    CanonicalOrder,
    Context,
    Destination,
    Finding,
    MemoryAssumptions,
    OrderResult,
    ShipmentRecord,
    SourceCapabilities,
    SourceShipment,
)
from shipsync.http import ApiError, RateBudget
from shipsync.streams import merge

from . import mapping
from .assumptions import ASSUMPTIONS, CONSIGNMENT_IDS
from .client import BigCommerceClient
from .settings import store_settings
from .status import NOT_SHIPPABLE, STATUS_NAMES

__all__ = ["BigCommerceSource", "OrderResult"]

# Orders in these statuses may hold a Starshipit order that must be withdrawn (the status is
# enough) or updated (14, Partially Refunded: its lines say what is left to ship).
WITHDRAWN_STATUSES = (4, 5, 6)
PARTLY_REFUNDED = 14
TRUNCATED_LINES = 50
TRACKING_LIMIT = 50  # characters of a shipment's tracking_number


class BigCommerceSource:
    """One BigCommerce store, as a shipsync source (``shipsync.contracts.Source``)."""

    name = "bigcommerce"
    # BigCommerce moves an order to Shipped (2) by itself once every item has a shipment.
    capabilities = SourceCapabilities(shipped_status=2)

    def __init__(self, store: str, section: dict[str, Any], context: Context | None = None
                 ) -> None:
        self.store = store
        self.settings = store_settings(section)
        options = getattr(context, "http_options", {}) or {}
        workers = int(getattr(context, "concurrency", 4) or 4)
        self.concurrency = workers
        # Left unused at the end of each window: room for our calls already in flight,
        # and what the merchant keeps for the store's other apps.
        reserve = workers + int(self.settings["rate_limit_reserve"])
        budget = RateBudget(rate=self.settings["rate_limit"] / 30.0,
                            burst=max(1.0, self.settings["rate_limit"] / 10.0), reserve=reserve)
        self.client = BigCommerceClient(self.settings["api_path"], self.settings["access_token"],
                                        budget=budget, **options)
        self.assumptions: Assumptions = (getattr(context, "assumptions", None)
                                         or MemoryAssumptions())
        # (order id, destination id) -> the order_address_id its shipments must name.
        self._address_ids: dict[tuple[str, str], str] = {}
        self._seen_consignment_ids = False
        self._weight_units: str | None = None
        self._units_future: Future[str] | None = None
        self._customs: dict[int, dict[str, Any]] = {}
        # The status readers share these caches: one fetches, the others wait for it.
        self._units_lock = threading.Lock()
        self._customs_lock = threading.Lock()

    @property
    def requests_made(self) -> int:
        return self.client.requests_made

    def close(self) -> None:
        self.client.close()

    def now(self) -> datetime:
        """The store's own clock (``GET /v2/time``): windows are measured by it, not ours."""
        return self.client.now()

    # -- import ---------------------------------------------------------------
    @property
    def weight_units(self) -> str:
        if self._weight_units is not None:
            return self._weight_units
        future = self._units_future
        if future is not None:  # asked for alongside the first orders page
            self._weight_units = future.result()
            return self._weight_units
        with self._units_lock:
            if self._weight_units is None:  # once per run
                self._weight_units = self.client.weight_units()
            return self._weight_units

    def _ask_units_early(self) -> None:
        """Fetch the store's units (once) while the first page's other calls are made.

        Not before a page has orders: a run with nothing to import needs no units.
        """
        future: Future[str] = Future()
        with self._units_lock:  # the status readers may both get here first
            if self._weight_units is not None or self._units_future is not None:
                return
            self._units_future = future

        def fetch() -> None:
            try:
                future.set_result(self.client.weight_units())
            except BaseException as exc:  # noqa: BLE001 - raised where the units are used
                future.set_exception(exc)

        threading.Thread(target=fetch, name="bigcommerce-units", daemon=True).start()

    def _params(self, status_id: int | None, created_since: datetime | None,
                modified_since: datetime | None) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if status_id is not None:
            params["status_id"] = status_id
        if created_since is not None:
            params["min_date_created"] = mapping.rfc2822(created_since)
        if modified_since is not None:
            params["min_date_modified"] = mapping.rfc2822(modified_since)
        return params

    def orders_to_import(self, *, created_since: datetime,
                         modified_since: datetime | None) -> Iterator[list[OrderResult]]:
        """Orders in the import statuses, a page at a time (one status per call).

        BigCommerce filters on one status per call and pages each status by id;
        with concurrency the statuses are read side by side, pages in the order
        they arrive.
        """
        def status_pages(status_id: int) -> Iterator[list[OrderResult]]:
            params = self._params(status_id, created_since, modified_since)
            for page in self.client.orders(params):
                yield self._convert(page)

        statuses = list(self.settings["import_statuses"])
        if self.concurrency <= 1:
            for status_id in statuses:
                yield from status_pages(status_id)
            return
        yield from merge(status_pages(status_id) for status_id in statuses)

    def orders_by_id(self, order_ids: Iterable[str]) -> Iterator[list[OrderResult]]:
        """Specific orders (quarantined ones, retried), batched by id range."""
        ids = sorted({int(i) for i in order_ids if str(i).isdigit()})
        for low, high in _clusters(ids, span=250):
            yield self._convert(self._raw_range(ids, low, high))

    def _raw_range(self, ids: list[int], low: int, high: int) -> list[dict[str, Any]]:
        """The raw orders among ``ids`` between ``low`` and ``high``: one call for many."""
        wanted = {i for i in ids if low <= i <= high}
        if len(wanted) == 1:
            raw = self.client.order(low)
            return [raw] if raw else []
        return [r for page in self.client.orders({"min_id": low, "max_id": high})
                for r in page if int(r.get("id", 0)) in wanted]

    def withdrawn_orders(self, since: datetime) -> Iterator[list[OrderResult]]:
        """Orders cancelled, refunded or declined since ``since`` (their status is all that
        is read), and orders partly refunded (with their lines, to update what is left)."""
        for status_id in WITHDRAWN_STATUSES:
            for page in self.client.orders(self._params(status_id, None, since),
                                           include_lines=False):
                yield [OrderResult(str(row.get("id")), status_id=_status_of(row), raw=row)
                       for row in page]
        for page in self.client.orders(self._params(PARTLY_REFUNDED, None, since)):
            yield self._convert(page)

    def _convert(self, rows: list[dict[str, Any]]) -> list[OrderResult]:
        """Raw orders to results: few calls for the whole page, then no call per order.

        BigCommerce inlines 50 lines per consignment; the products of the orders it
        truncated are fetched side by side, then the customs information of every
        product on the page (the fetched lines' too) in batches.
        """
        if rows and self.concurrency > 1:
            self._ask_units_early()  # alongside this page's products and customs calls
        truncated = [row for row in rows if _truncated(row)]
        products: dict[str, list[dict[str, Any]] | ApiError] = {}
        if truncated:
            workers = max(1, min(self.concurrency, len(truncated)))
            with ThreadPoolExecutor(max_workers=workers,
                                    thread_name_prefix="bigcommerce-products") as pool:
                ids = [str(row.get("id")) for row in truncated]
                products = dict(zip(ids, pool.map(self._order_products, ids), strict=True))
        product_ids: set[int] = set()
        for row in rows:
            product_ids |= _product_ids(row)
        for lines in products.values():
            if not isinstance(lines, ApiError):
                product_ids |= _line_product_ids(lines)
        with self._customs_lock:  # one reader fetches a product's customs; the others wait
            missing = sorted(product_ids - self._customs.keys())
            if missing:
                fetched = self.client.customs_information(missing)
                for product_id in missing:
                    self._customs[product_id] = fetched.get(product_id, {})
        units = self.weight_units if rows else ""
        return [self._convert_one(row, products.get(str(row.get("id"))), units) for row in rows]

    def _order_products(self, order_id: str) -> list[dict[str, Any]] | ApiError:
        try:
            return self.client.order_products(order_id)
        except ApiError as exc:  # this order's answer, not the API's: the others go on
            return exc

    def _convert_one(self, row: dict[str, Any], products: list[dict[str, Any]] | ApiError | None,
                     weight_units: str) -> OrderResult:
        order_id = str(row.get("id"))
        status_id = _status_of(row)
        if isinstance(products, ApiError):
            return OrderResult(order_id, error=f"its products could not be read ({products})",
                               raw=row, status_id=status_id)
        try:
            order = mapping.canonical_order(row, store=self.store, weight_units=weight_units,
                                            customs=self._customs, products=products)
        except mapping.MappingError as exc:
            return OrderResult(order_id, error=str(exc), raw=row, status_id=status_id)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            # Whatever shape the data came in, one odd order must not stop the others.
            return OrderResult(order_id, error=f"malformed order data ({type(exc).__name__}: "
                               f"{exc})", raw=row, status_id=status_id)
        self._remember_addresses(order)
        return OrderResult(order_id, order=order, raw=row)

    def _remember_addresses(self, order: CanonicalOrder) -> None:
        """Which order_address_id each shipping destination's shipments name; a consignment
        whose id is not it is recorded (once) as what this store's API does."""
        for destination in order["destinations"]:
            if destination["kind"] != "shipping":
                continue
            address_id = destination.get("address_id")
            if address_id:
                self._address_ids[(order["order_id"], destination["destination_id"])] = \
                    address_id
                if not self._seen_consignment_ids:
                    self._seen_consignment_ids = True
                    self.assumptions.record(Finding(
                        CONSIGNMENT_IDS, "contradicted", ASSUMPTIONS[CONSIGNMENT_IDS],
                        observed=f"order {order['order_id']}: consignment "
                                 f"{destination['destination_id']}, order_address_id "
                                 f"{address_id}",
                        instead="each shipment names the order_address_id of the "
                                "consignment's lines (or of the order's shipping addresses)"))

    def not_importable_reason(self, order: CanonicalOrder) -> str | None:
        statuses = list(self.settings["import_statuses"])
        status = order["status_id"]
        if status in statuses:
            return None
        name = order.get("status") or STATUS_NAMES.get(status, "status")
        return f"status {name} ({status}) is not one of import_statuses {statuses}"

    def not_shippable_reason(self, status_id: int) -> str | None:
        if status_id in NOT_SHIPPABLE:
            return f"{STATUS_NAMES.get(status_id, status_id)} in BigCommerce (status {status_id})"
        return None

    # -- writeback ------------------------------------------------------------
    def current_orders(self, order_ids: Iterable[str]) -> dict[str, OrderResult]:
        """The orders' state now, for writeback: few calls for many orders, in parallel."""
        ids = sorted({int(i) for i in order_ids if str(i).isdigit()})
        ranges = list(_clusters(ids, span=250))

        def read(bounds: tuple[int, int]) -> list[OrderResult]:
            results = self._convert(self._raw_range(ids, *bounds))
            for result in results:
                result.raw = None  # the canonical order is all writeback needs
            return results

        # Each range is converted as soon as it arrives: only one raw page per worker
        # is in memory at a time, not the raw orders of the whole chunk.
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(ranges) or 1)),
                                thread_name_prefix="bigcommerce") as pool:
            found = {result.order_id: result for results in pool.map(read, ranges)
                     for result in results}
        for result in found.values():
            if result.order is not None:
                self._resolve_addresses(result.order)
        return found

    def _resolve_addresses(self, order: CanonicalOrder) -> None:
        """Give each shipping destination whose lines named no order_address_id the id of
        its shipping address (``GET …/shipping_addresses``, one call for the order), unless
        the consignment's id is itself one of them."""
        missing = [d for d in order["destinations"]
                   if d["kind"] == "shipping" and not d.get("address_id") and d["items"]]
        if not missing:
            return
        addresses = self.client.shipping_addresses(order["order_id"])
        ids = {str(a.get("id")) for a in addresses}
        shipping = [d for d in order["destinations"] if d["kind"] == "shipping"]
        for destination in missing:
            if destination["destination_id"] in ids:
                continue  # the consignment's id is the address's
            match = (addresses if len(addresses) == 1 and len(shipping) == 1
                     else [a for a in addresses
                           if _same_address(a, destination["address"])])
            if len(match) == 1:
                destination["address_id"] = str(match[0].get("id"))
                self._address_ids[(order["order_id"], destination["destination_id"])] = \
                    destination["address_id"]

    def shipment_body(self, destination: Destination, shipment: ShipmentRecord,
                      tracking_carrier: str) -> dict[str, Any]:
        numbers = shipment.get("tracking_numbers") or []
        body: dict[str, Any] = {
            # The shipping address's id: a consignment's own id need not be it.
            "order_address_id": int(destination.get("address_id")
                                    or destination["destination_id"]),
            "items": [{"order_product_id": int(item["line_id"]), "quantity": item["quantity"]}
                      for item in destination["items"]],
            "tracking_number": numbers[0][:TRACKING_LIMIT] if numbers else "",
            "shipping_provider": "",
            "tracking_carrier": tracking_carrier,
        }
        if shipment.get("tracking_url"):
            body["tracking_link"] = shipment["tracking_url"][:500]
        if len(numbers) > 1:
            body["comments"] = "Tracking numbers: " + ", ".join(numbers)
        if shipment.get("carrier_name"):
            body["shipping_method"] = shipment["carrier_name"][:100]
        return body

    def create_shipment(self, order_id: str, body: dict[str, Any]) -> SourceShipment:
        created = self.client.create_shipment(order_id, body)
        return SourceShipment(str(created.get("id", "")), str(body.get("order_address_id", "")),
                              str(body.get("tracking_number", "")))

    def find_shipment(self, order_id: str, destination_id: str,
                      tracking_number: str) -> SourceShipment | None:
        """An existing shipment for this address and tracking number (to settle a doubt)."""
        wanted = tracking_number[:TRACKING_LIMIT]  # as shipment_body sent it
        address_id = self._address_id(order_id, destination_id)
        for shipment in self.client.shipments(order_id):
            if (str(shipment.get("order_address_id")) == address_id
                    and (shipment.get("tracking_number") or "") == wanted):
                return SourceShipment(str(shipment.get("id", "")), str(destination_id), wanted)
        return None

    def _address_id(self, order_id: str, destination_id: str) -> str:
        """The order_address_id of a destination: remembered, else read from the order."""
        key = (str(order_id), str(destination_id))
        if key not in self._address_ids:
            self.current_orders([str(order_id)])  # remembers what it converts
        return self._address_ids.get(key, str(destination_id))

    def set_status(self, order_id: str, status_id: int) -> None:
        self.client.set_status(order_id, status_id)


def _same_address(address: dict[str, Any], canonical: dict[str, Any]) -> bool:
    """A shipping address (``GET …/shipping_addresses``) is the canonical destination's."""
    name = " ".join(str(address.get(k) or "").strip() for k in ("first_name", "last_name"))
    return (str(address.get("street_1") or "").strip() == canonical.get("street", "")
            and str(address.get("zip") or "").strip() == canonical.get("post_code", "")
            and str(address.get("country_iso2") or "").strip().upper()
            == canonical.get("country_code", "")
            and " ".join(name.split()) == canonical.get("name", ""))


def _status_of(row: dict[str, Any]) -> int | None:
    try:
        return int(row["status_id"])
    except (KeyError, TypeError, ValueError):
        return None


def _truncated(row: dict[str, Any]) -> bool:
    try:
        return mapping.is_truncated(row)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return False  # malformed: converting it says how


def _line_product_ids(lines: Iterable[Any]) -> set[int]:
    found: set[int] = set()
    for line in lines:
        product_id = line.get("product_id") if isinstance(line, dict) else None
        if isinstance(product_id, int) and product_id > 0:
            found.add(product_id)
    return found


def _product_ids(row: dict[str, Any]) -> set[int]:
    """Product ids of an order's inline lines; malformed parts are left to ``convert``."""
    found: set[int] = set()
    consignments = row.get("consignments")
    if not isinstance(consignments, dict):
        return found
    for kind in ("shipping", "pickups"):
        group = consignments.get(kind)
        for consignment in group if isinstance(group, list) else []:
            lines = consignment.get("line_items") if isinstance(consignment, dict) else None
            found |= _line_product_ids(lines if isinstance(lines, list) else [])
    return found


def _clusters(ids: list[int], span: int) -> Iterator[tuple[int, int]]:
    """Group sorted ids into ranges no wider than ``span`` (one list call each)."""
    start = None
    last = None
    for value in ids:
        if start is None:
            start = last = value
        elif value - start >= span:
            yield start, last  # type: ignore[misc]
            start = last = value
        else:
            last = value
    if start is not None:
        yield start, last  # type: ignore[misc]
