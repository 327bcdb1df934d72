"""A stateful emulator of the Starshipit REST API, served over HTTP on loopback.

It imitates what shipsync uses (fact sheet: /work/shared/reference/starshipit-api.md):
creating and importing orders, looking them up, updating and deleting them,
listing unshipped and shipped orders, printing labels and tracking. Request
bodies are checked against the plugin's ``schemas/*.json``, the same schemas the
contract tests hold the emulator's answers to.

Choices where the fact sheet is silent (⚠ in the sheet):

- **HTTP status of business errors.** Validation failures and refused actions
  (duplicate order number, editing or deleting a printed order, printing twice
  without ``reprint``, ``limit`` above 250, more than 50 orders in an import)
  answer **400** with ``{"success": false, "errors": [{message, details}]}``.
  Lookups that find nothing (GET/PUT ``/api/orders``, delete, shipment, track)
  answer **200** with ``success: false``, so a client must read the body on
  2xx as well as 4xx.
- **Gateway errors** (missing or wrong keys, unknown path, rate limit, injected
  5xx) use the API Management shape ``{"statusCode", "message"}``, not the
  envelope. An unknown path answers 404 before any key is checked, as APIM
  matches the operation first. The rate limit is counted per subscription key,
  and several API keys may share one; an API key only works with the
  subscription key it was added with.
- **Duplicate order numbers** are refused (never duplicated, never updated).
- **Import partial semantics.** A malformed batch (not ``{"orders": [...]}``,
  empty, more than 50) is refused whole with 400. Otherwise each order stands
  alone: valid ones are created, each refused one gets an entry in ``errors``
  whose ``details`` start with its order number, the answer is 200 with the
  created orders in ``orders``, and ``success`` is false if any was refused.
- **Status rules.** ``Unshipped``/``Saved`` are unshipped; ``Printed`` and
  ``Delivered`` are shipped and listed by ``/orders/shipped``. PUT can move an
  unshipped order between Unshipped and Saved and a printed order forward to
  Delivered; it cannot print (that is ``POST /api/orders/shipment``) or go back.
- **Carrier rules** when neither the print request nor the order names one:
  a shipping method or description containing "pickup" or "click & collect"
  gives ``PickupInStore``, "express" gives ``StarTrack``, anything else ``AusPost``.
- **PickupInStore** labels get tracking numbers but no tracking URL, and their
  tracking status is ``PickupInStore``.
- **Timestamps** carry 7 fractional digits; ``last_updated``, ``shipped_date``
  and ``shipment_date`` end in Z, while the generated ``order_date`` and the
  track endpoint's ``last_updated_date`` and event times have no offset, as the
  fact sheet saw in real answers.
- **Paging.** Rows are ordered by last update then order id, so pages are
  stable; ``since_last_updated`` is inclusive and defaults to 24 hours ago;
  ``total_pages`` is 0 when nothing matches.
"""

from __future__ import annotations

import base64
import copy
import itertools
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from jsonschema.exceptions import ValidationError
from shipsync.records import schemas_of
from shipsync.sandbox import Emulator, FixedWindowLimiter, HTTPError, Request, Response

__all__ = [
    "SANDBOX_API_KEY",
    "SANDBOX_SUBSCRIPTION_KEY",
    "StarshipitEmulator",
    "StarshipitRefusal",
    "choose_carrier",
    "create_sandbox",
    "parse_since",
    "play_merchant",
    "sandbox_config",
    "ticks",
    "tracking_number",
    "tracking_url",
]

SANDBOX_API_KEY = "sandbox-api-key"
SANDBOX_SUBSCRIPTION_KEY = "sandbox-subscription-key"

IMPORT_MAX = 50
LIMIT_DEFAULT = 50
LIMIT_MAX = 250
DEFAULT_WINDOW = timedelta(hours=24)
UNSHIPPED_STATUSES = ("Unshipped", "Saved")
SHIPPED_STATUSES = ("Printed", "Delivered")
STATUS_SEQUENCE = ("Unshipped", "Saved", "Printed", "Delivered")

CARRIER_NAMES = {
    "AusPost": "Australia Post",
    "AusPostMail": "Australia Post Mail",
    "MyPostBusiness": "MyPost Business",
    "StarTrack": "StarTrack",
    "StarTrackCourier": "StarTrack Courier",
    "CouriersPlease": "Couriers Please",
    "Fastways": "Aramex",
    "PickupInStore": "Pickup In Store",
    "PlainLabel": "Plain Label",
    "NZPost": "NZ Post",
    "CourierPost": "CourierPost",
    "DHL": "DHL Express",
    "TollIPEC": "Toll IPEC",
    "TollPriority": "Toll Priority",
    "HunterExpress": "Hunter Express",
    "Sendle": "Sendle",
}
TRACKING_PREFIXES = {
    "AusPost": "SSA",
    "StarTrack": "SST",
    "PickupInStore": "PIS",
    "CouriersPlease": "CPL",
    "Sendle": "SND",
    "DHL": "DHL",
    "NZPost": "NZP",
    "CourierPost": "CPO",
}
TRACKING_URLS = {
    "AusPost": "https://auspost.com.au/mypost/track/#/details/{number}",
    "StarTrack": "https://startrack.com.au/track/details/{number}",
    "CouriersPlease": "https://www.couriersplease.com.au/tools-track/no/{number}",
    "Sendle": "https://track.sendle.com/tracking?ref={number}",
    "DHL": "https://www.dhl.com/global-en/home/tracking.html?tracking-id={number}",
    "NZPost": "https://www.nzpost.co.nz/tools/tracking/item/{number}",
    "CourierPost": "https://www.nzpost.co.nz/tools/tracking/item/{number}",
}
SERVICE_NAMES = {
    "7D55": "Parcel Post",
    "7B05": "Parcel Post + Signature",
    "7J55": "Express Post",
    "EXP": "Express",
}
# The product an account's Rules would pick when nothing names one.
DEFAULT_SERVICES = {"AusPost": "7D55", "StarTrack": "EXP"}
SIGNATURE_SERVICES = {"AusPost": "7B05"}

SANDBOX_SENDER = {
    "name": "Sandbox Warehouse",
    "company": "Shipsync Sandbox Pty Ltd",
    "street": "1 Example Street",
    "suburb": "Alexandria",
    "city": "Sydney",
    "state": "NSW",
    "post_code": "2015",
    "country": "Australia",
}

_SERVER_ERRORS = {500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable"}
_SINCE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


class StarshipitRefusal(ValueError):
    """The emulator's Python API refused an action, for the reason the HTTP API gives."""


@dataclass
class _Record:
    order: dict[str, Any]  # the full order model, exactly as served
    last_updated: datetime
    shipped_at: datetime | None = None
    label: str | None = None  # base64 PDF of the printed label


@dataclass
class _Account:
    api_key: str
    subscription_key: str
    orders: dict[int, _Record] = field(default_factory=dict)
    order_ids: dict[str, int] = field(default_factory=dict)  # order_number -> order_id


# --------------------------------------------------------------------------- pure helpers


def ticks(moment: datetime, zulu: bool = True) -> str:
    """ISO-8601 UTC with 7 fractional digits, like .NET's DateTime."""
    utc = moment.astimezone(UTC)
    # The 7th digit is derived, not random, so the same instant prints the same text.
    text = utc.strftime("%Y-%m-%dT%H:%M:%S") + f".{utc.microsecond:06d}{utc.microsecond % 10}"
    return text + "Z" if zulu else text


def parse_since(value: str) -> datetime:
    """Parse a ``since_last_updated`` value leniently (7 digits, with or without Z)."""
    text = value.strip()
    # A '+' in an unencoded query string arrives as a space.
    text = re.sub(r"(T[\d:.]+) (\d{2}:?\d{2})$", r"\1+\2", text)
    found = _SINCE.match(text)
    if not found:
        raise ValueError(value)
    year, month, day, hour, minute, second, fraction, offset = found.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
        tzinfo=UTC,
    )
    if offset and offset.upper() != "Z":
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def carrier_name(carrier: str | None) -> str | None:
    if carrier is None:
        return None
    if carrier.startswith("PlainLabel"):
        return "Plain Label"
    return CARRIER_NAMES.get(carrier, carrier)


def service_name(code: str | None) -> str | None:
    return None if code is None else SERVICE_NAMES.get(code, code)


def choose_carrier(shipping_method: str | None, shipping_description: str | None = None) -> str:
    """The carrier the sandbox account's Rules pick from the delivery method's name."""
    text = f"{shipping_method or ''} {shipping_description or ''}".lower()
    if (
        "pickup" in text
        or "pick up" in text
        or "click & collect" in text
        or "click and collect" in text
    ):
        return "PickupInStore"
    if "express" in text:
        return "StarTrack"
    return "AusPost"


def tracking_number(carrier: str, order_id: int, index: int) -> str:
    """Deterministic per carrier, order and parcel (1-based), so reprints match."""
    prefix = TRACKING_PREFIXES.get(carrier, carrier[:3].upper())
    return f"{prefix}{order_id:09d}{index:02d}"


def tracking_url(carrier: str, number: str) -> str | None:
    template = TRACKING_URLS.get(carrier)
    return template.format(number=number) if template else None


def fake_label_pdf(lines: Sequence[str]) -> bytes:
    """A tiny but well-formed one-page 4x6" PDF holding the given lines."""
    text = " / ".join(lines).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = f"BT /F1 9 Tf 18 400 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 432] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _dotted(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(error: ValidationError, skip: int = 0) -> str:
    """One schema error as 'path: problem', the path relative to ``skip`` levels down."""
    path = _dotted(list(error.absolute_path)[skip:])
    # jsonschema would print the whole carrier enum; the value is what the user needs.
    message = (
        f"{error.instance!r} is not an accepted value"
        if error.validator == "enum"
        else error.message
    )
    return f"{path}: {message}" if path else message


def schema_errors(name: str, body: Any) -> list[ValidationError]:
    """Errors of ``body`` against the plugin's ``schemas/NAME.json``, in path order."""
    found = schemas_of("shipsync_starshipit").validator(f"api/{name}.json").iter_errors(body)
    return sorted(found, key=lambda e: [str(p) for p in e.absolute_path])


def _error(message: str, details: str) -> dict[str, str]:
    return {"message": message, "details": details}


def _refusal(status: int, message: str, details: str | Sequence[str]) -> HTTPError:
    listed = [details] if isinstance(details, str) else list(details)
    return HTTPError(status, {"success": False, "errors": [_error(message, d) for d in listed]})


def _missing(details: str) -> HTTPError:
    # Lookups that find nothing answer 200 + success false (see the module docstring).
    return _refusal(200, "Not found", details)


def _ok(**payload: Any) -> Response:
    return Response(200, {**payload, "success": True})


def _gateway(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"statusCode": status, "message": message}, dict(headers or {}))


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")


def _int_arg(request: Request, name: str, default: int) -> int:
    value = request.arg(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise _refusal(
            400, "Invalid parameter", f"{name} must be a whole number, got {value!r}"
        ) from None


def _total_weight(order: dict[str, Any]) -> float:
    weight = sum(
        (item.get("weight") or 0) * (item.get("quantity") or 1) for item in order.get("items") or []
    )
    return round(weight, 3) or 0.5  # an order without item weights still ships as one small parcel


def _refusal_text(exc: HTTPError) -> str:
    errors = exc.body.get("errors", []) if isinstance(exc.body, dict) else []
    return "; ".join(e.get("details") or e.get("message", "") for e in errors) or str(exc.body)


# --------------------------------------------------------------------------- the emulator


class StarshipitEmulator(Emulator):
    """Starshipit accounts with their orders, behind the API's HTTP interface.

    ``rate_limit`` is (requests, seconds) per subscription key, None for no limit.
    Set ``emulator.now`` to a function returning a datetime to control the clock
    that stamps ``last_updated`` and the default 24-hour listing window.
    """

    name = "starshipit"

    def __init__(
        self,
        *,
        rate_limit: tuple[int, float] | None = (2, 1.0),
        fault_seed: int = 0,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(fault_seed=fault_seed)
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.rate_limit = rate_limit
        self._limiter = FixedWindowLimiter(*rate_limit) if rate_limit else None
        self._accounts: dict[str, _Account] = {}
        self._order_ids = itertools.count(30_000_001)
        self._item_ids = itertools.count(1)
        self._package_ids = itertools.count(1)
        for method, pattern, handler in (
            ("POST", "/api/orders", self._create),
            ("GET", "/api/orders", self._get),
            ("PUT", "/api/orders", self._update),
            ("POST", "/api/orders/import", self._import),
            ("DELETE", "/api/orders/delete", self._delete),
            ("GET", "/api/orders/unshipped", self._list_unshipped),
            ("GET", "/api/orders/shipped", self._list_shipped),
            ("POST", "/api/orders/shipment", self._shipment),
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
        """ShippedOrder rows of printed orders, regardless of when they changed, by order id."""
        with self.lock:
            account = self._python_account(api_key)
            return [
                shipped_row(account.orders[i])
                for i in sorted(account.orders)
                if account.orders[i].order["status"] in SHIPPED_STATUSES
            ]

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

    # -- Emulator hooks -------------------------------------------------------
    def before_request(self, request: Request) -> Response | None:
        if not self._is_api_route(request):
            return None  # not_found answers: the gateway matches the path before it checks keys
        subscription_key = request.header("Ocp-Apim-Subscription-Key")
        if not subscription_key:
            return _gateway(
                401,
                "Access denied due to missing subscription key. Make sure to include "
                "subscription key when making requests to an API.",
            )
        if subscription_key not in {a.subscription_key for a in self._accounts.values()}:
            return _gateway(
                401,
                "Access denied due to invalid subscription key. Make sure to provide "
                "a valid key for an active subscription.",
            )
        if self._limiter is not None:
            allowed, _, reset_ms = self._limiter.consume(subscription_key)
            if not allowed:
                return self._too_many(max(1, math.ceil(reset_ms / 1000)))
        api_key = request.header("StarShipIT-Api-Key")
        if not api_key:
            return _gateway(401, "Access denied due to missing StarShipIT-Api-Key header.")
        account = self._accounts.get(api_key)
        if account is None or account.subscription_key != subscription_key:
            return _gateway(
                401,
                "Access denied due to invalid StarShipIT-Api-Key: no account with this "
                "API key under this subscription key.",
            )
        return None

    def rate_limited(self, request: Request, bare: bool) -> Response:
        window = self.rate_limit[1] if self.rate_limit else 1.0
        return self._too_many(max(1, math.ceil(window)))

    def not_found(self, request: Request) -> Response:
        return _gateway(404, "Resource not found")

    def error_body(self, status: int, body: Any) -> Any:
        if isinstance(body, dict) and ("success" in body or "statusCode" in body):
            return body
        details = body.get("message") if isinstance(body, dict) else str(body)
        return {"success": False, "errors": [_error("Invalid request", str(details))]}

    def dispatch(self, request: Request) -> tuple[Response, str, str | None]:
        response, route, fault = super().dispatch(request)
        if route == "?" and response.status == 405:
            # APIM matches method and path together: a known path with another method is not found.
            response = self.not_found(request)
        elif fault in ("500", "502", "503"):
            response = _gateway(response.status, _SERVER_ERRORS[response.status])
        return response, route, fault

    def admin(self, action: str, request: Request) -> Response | None:
        if action == "orders" and request.method == "GET":
            with self.lock:
                return Response(200, {key: self.orders(key) for key in self._accounts})
        return None

    # -- handlers ---------------------------------------------------------------
    def _create(self, request: Request) -> Response:
        body = request.json()
        errors = schema_errors("create_request", body)
        if errors:
            raise _refusal(400, "Validation failed", [_describe(e) for e in errors])
        record = self._insert(self._account_of(request), body["order"])
        return _ok(order=copy.deepcopy(record.order))

    def _import(self, request: Request) -> Response:
        body = request.json()
        batch = body.get("orders") if isinstance(body, dict) else None
        if isinstance(batch, list) and len(batch) > IMPORT_MAX:
            raise _refusal(
                400,
                "Too many orders",
                f"{len(batch)} orders in one request; "
                f"/api/orders/import takes at most {IMPORT_MAX}. Split the batch.",
            )
        errors = schema_errors("import_request", body)
        whole = [e for e in errors if len(e.absolute_path) < 2]
        if whole:
            raise _refusal(400, "Validation failed", [_describe(e) for e in whole])
        per_order: dict[int, list[ValidationError]] = {}
        for error in errors:
            per_order.setdefault(int(error.absolute_path[1]), []).append(error)
        account = self._account_of(request)
        created: list[dict[str, Any]] = []
        refused: list[dict[str, str]] = []
        for index, order in enumerate(body["orders"]):
            label = _order_label(order, index)
            if index in per_order:
                reasons = "; ".join(_describe(e, skip=2) for e in per_order[index])
                refused.append(
                    _error(f"Order {label} was not imported", f"order_number {label}: {reasons}")
                )
                continue
            try:
                created.append(copy.deepcopy(self._insert(account, order).order))
            except HTTPError as exc:
                refused.append(_error(f"Order {label} was not imported", _refusal_text(exc)))
        return Response(200, {"orders": created, "errors": refused, "success": not refused})

    def _get(self, request: Request) -> Response:
        record = self._find(
            self._account_of(request),
            order_id=request.arg("order_id"),
            order_number=request.arg("order_number"),
        )
        return _ok(order=copy.deepcopy(record.order))

    def _update(self, request: Request) -> Response:
        body = request.json()
        errors = schema_errors("update_request", body)
        if errors:
            raise _refusal(400, "Validation failed", [_describe(e) for e in errors])
        account = self._account_of(request)
        changes = body["order"]
        record = self._find(account, order_id=changes["order_id"])
        self._apply_update(account, record, changes)
        return _ok(order=copy.deepcopy(record.order))

    def _delete(self, request: Request) -> Response:
        if not request.arg("order_id"):
            raise _refusal(
                400,
                "Invalid parameter",
                "order_id is required: DELETE /api/orders/delete?order_id=",
            )
        account = self._account_of(request)
        record = self._find(account, order_id=request.arg("order_id"))
        order = record.order
        if order["status"] in SHIPPED_STATUSES:
            raise _refusal(
                400,
                "Order cannot be deleted",
                f"Order {order['order_number']} (order_id {order['order_id']}) is "
                f"{order['status']}; only unshipped orders can be deleted.",
            )
        del account.orders[order["order_id"]]
        del account.order_ids[order["order_number"]]
        return _ok()

    def _list_unshipped(self, request: Request) -> Response:
        return self._listing(request, UNSHIPPED_STATUSES, lambda r: copy.deepcopy(r.order))

    def _list_shipped(self, request: Request) -> Response:
        return self._listing(request, SHIPPED_STATUSES, shipped_row)

    def _shipment(self, request: Request) -> Response:
        body = request.json()
        if isinstance(body, dict) and "order_id" not in body and "order_number" not in body:
            raise _refusal(400, "Validation failed", "order_id or order_number is required")
        errors = schema_errors("shipment_request", body)
        if errors:
            raise _refusal(400, "Validation failed", [_describe(e) for e in errors])
        record = self._find(
            self._account_of(request),
            order_id=body.get("order_id"),
            order_number=body.get("order_number"),
        )
        answer = self._print(
            record,
            carrier=body.get("carrier"),
            service_code=body.get("carrier_service_code"),
            parcels=body.get("packages"),
            reprint=bool(body.get("reprint")),
        )
        return Response(200, answer)

    def _track(self, request: Request) -> Response:
        account = self._account_of(request)
        number = request.arg("tracking_number")
        if number:
            for record in account.orders.values():
                for package in record.order["packages"]:
                    if package["tracking_number"] == number:
                        return _ok(results=track_results(record, package))
            raise _missing(f"No shipment with tracking_number {number!r} in this account")
        order_number = request.arg("order_number")
        if not order_number:
            raise _refusal(400, "Invalid parameter", "tracking_number or order_number is required")
        record = self._find(account, order_number=order_number)
        packages = [p for p in record.order["packages"] if p["tracking_number"]]
        return _ok(results=track_results(record, packages[0] if packages else None))

    # -- internals ----------------------------------------------------------------
    def _now(self) -> datetime:
        moment = self.now()
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    def _too_many(self, seconds: int) -> Response:
        return _gateway(
            429,
            f"Rate limit is exceeded. Try again in {seconds} seconds.",
            {"Retry-After": str(seconds)},
        )

    def _is_api_route(self, request: Request) -> bool:
        try:
            return self.router.match(request.method, request.path) is not None
        except HTTPError:
            return False

    def _account_of(self, request: Request) -> _Account:
        # before_request has checked the key, so it names an account.
        return self._accounts[request.header("StarShipIT-Api-Key") or ""]

    def _python_account(self, api_key: str) -> _Account:
        try:
            return self._accounts[api_key]
        except KeyError:
            raise KeyError(
                f"no Starshipit account with API key {api_key!r}; add it with add_account()"
            ) from None

    def _find(
        self, account: _Account, order_id: int | str | None = None, order_number: str | None = None
    ) -> _Record:
        if order_id is None and not order_number:
            raise _refusal(400, "Invalid parameter", "order_id or order_number is required")
        if order_id is not None:
            try:
                wanted = int(order_id)
            except (TypeError, ValueError):
                raise _refusal(
                    400, "Invalid parameter", f"order_id must be a whole number, got {order_id!r}"
                ) from None
            record = account.orders.get(wanted)
            if record is None:
                raise _missing(f"No order with order_id {wanted} in this account")
            if order_number and record.order["order_number"] != order_number:
                raise _refusal(
                    400,
                    "Invalid parameter",
                    f"order_id {wanted} is order_number "
                    f"{record.order['order_number']!r}, not {order_number!r}",
                )
            return record
        found = account.order_ids.get(order_number or "")
        if found is None:
            raise _missing(f"No order with order_number {order_number!r} in this account")
        return account.orders[found]

    def _insert(self, account: _Account, body: dict[str, Any]) -> _Record:
        number = body["order_number"]
        existing = account.order_ids.get(number)
        if existing is not None:
            raise _refusal(
                400,
                "Duplicate order number",
                f"order_number {number!r} already exists as order_id {existing}; each order "
                "number must be unique. Change that order with PUT /api/orders instead.",
            )
        now = self._now()
        order = self._build_order(next(self._order_ids), body, now)
        record = _Record(order, now)
        account.orders[order["order_id"]] = record
        account.order_ids[number] = order["order_id"]
        return record

    def _build_order(self, order_id: int, body: dict[str, Any], now: datetime) -> dict[str, Any]:
        items = [self._new_item(item) for item in body.get("items", [])]
        carrier = body.get("carrier")
        code = body.get("carrier_service_code")
        return {
            "order_id": order_id,
            "order_date": body.get("order_date") or ticks(now, zulu=False),
            "order_number": body["order_number"],
            "reference": body.get("reference"),
            "carrier": carrier,
            "carrier_name": carrier_name(carrier),
            "carrier_service_code": code,
            "carrier_service_name": service_name(code),
            "shipping_method": body.get("shipping_method"),
            "shipping_description": body.get("shipping_description"),
            "signature_required": body.get("signature_required", False),
            "dangerous_goods": body.get("dangerous_goods", False),
            "currency": body.get("currency", "AUD"),
            "sender_details": copy.deepcopy(body.get("sender_details") or SANDBOX_SENDER),
            "destination": copy.deepcopy(body["destination"]),
            "items": items,
            "packages": [self._new_package(p) for p in body.get("packages", [])],
            "metadatas": copy.deepcopy(body.get("metadatas", [])),
            "events": [_event(now, "Order", "Created", "Order created through the API")],
            "declared_value": body.get(
                "declared_value",
                round(sum((i["value"] or 0) * (i["quantity"] or 1) for i in items), 2),
            ),
            "archived": False,
            "manifest_number": None,
            "manifested": False,
            "address_validation": "NotChecked",
            "type": "Return" if body.get("return_order") else "Outgoing",
            "platform": "API",
            "status": "Unshipped",
            "last_updated": ticks(now),
        }

    def _new_item(self, item: dict[str, Any]) -> dict[str, Any]:
        quantity = item.get("quantity", 1)
        fields = (
            "description",
            "sku",
            "tariff_code",
            "country_of_origin",
            "weight",
            "value",
            "color",
            "size",
            "barcode",
        )
        # Starshipit numbers items itself; an item_id sent on create is not kept.
        return {
            "item_id": next(self._item_ids),
            **{name: item.get(name) for name in fields},
            "quantity": quantity,
            "quantity_to_ship": item.get("quantity_to_ship", quantity),
        }

    def _new_package(self, package: dict[str, Any]) -> dict[str, Any]:
        return {
            "package_id": next(self._package_ids),
            "name": None,
            "weight": package.get("weight"),
            "height": package.get("height"),
            "width": package.get("width"),
            "length": package.get("length"),
            "packaging_type": None,
            "carrier_service_code": None,
            "carrier_service_name": None,
            "tracking_number": None,
            "tracking_url": None,
            "delivery_status": None,
            "shipment_type": None,
            "label_created_date": None,
        }

    def _touch(self, record: _Record, now: datetime, event: dict[str, Any]) -> None:
        record.last_updated = now
        record.order["last_updated"] = ticks(now)
        record.order["events"].append(event)

    def _apply_update(self, account: _Account, record: _Record, changes: dict[str, Any]) -> None:
        order = record.order
        number = order["order_number"]
        locked = sorted(set(changes) - {"order_id", "status"})
        if order["status"] in SHIPPED_STATUSES and locked:
            raise _refusal(
                400,
                "Order is printed",
                f"Order {number} is {order['status']}; once a label is printed only status can "
                f"change (refused: {', '.join(locked)}).",
            )
        # Work on a copy so that a refused item change leaves the order untouched.
        updated = copy.deepcopy(order)
        if "status" in changes:
            updated["status"] = _next_status(order, changes["status"])
        new_number = changes.get("order_number", number)
        if new_number != number and new_number in account.order_ids:
            raise _refusal(
                400,
                "Duplicate order number",
                f"order_number {new_number!r} already exists as order_id "
                f"{account.order_ids[new_number]}.",
            )
        for key in (
            "order_number",
            "order_date",
            "reference",
            "shipping_method",
            "shipping_description",
            "carrier",
            "carrier_service_code",
            "signature_required",
            "currency",
            "dangerous_goods",
            "declared_value",
            "metadatas",
        ):
            if key in changes:
                updated[key] = copy.deepcopy(changes[key])
        updated["carrier_name"] = carrier_name(updated["carrier"])
        updated["carrier_service_name"] = service_name(updated["carrier_service_code"])
        for key in ("destination", "sender_details"):
            if key in changes:
                updated[key] = {**(updated[key] or {}), **copy.deepcopy(changes[key])}
        if "items" in changes:
            updated["items"] = self._merge_items(updated, changes["items"])
        if "packages" in changes:
            updated["packages"] = [self._new_package(p) for p in changes["packages"]]
        if updated == order:
            return
        if updated["status"] == "Delivered":
            for package in updated["packages"]:
                package["delivery_status"] = "Delivered"
        if new_number != number:
            del account.order_ids[number]
            account.order_ids[new_number] = updated["order_id"]
        record.order = updated
        now = self._now()
        self._touch(record, now, _event(now, "Order", "Updated", "Order updated through the API"))

    def _merge_items(
        self, order: dict[str, Any], changes: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        items = {item["item_id"]: item for item in order["items"]}
        for change in changes:
            item_id = change.get("item_id")
            if item_id is None:
                if change.get("delete"):
                    raise _refusal(
                        400,
                        "Validation failed",
                        "delete: true needs the item_id of the item to remove",
                    )
                new = self._new_item({k: v for k, v in change.items() if k != "delete"})
                items[new["item_id"]] = new
            elif item_id not in items:
                raise _refusal(
                    400,
                    "Validation failed",
                    f"Order {order['order_number']} has no item with item_id {item_id}",
                )
            elif change.get("delete"):
                del items[item_id]
            else:
                items[item_id].update(
                    {k: v for k, v in change.items() if k not in ("item_id", "delete")}
                )
        return list(items.values())

    def _listing(
        self, request: Request, statuses: tuple[str, ...], row: Callable[[_Record], dict[str, Any]]
    ) -> Response:
        account = self._account_of(request)
        since = self._since(request)
        limit = _int_arg(request, "limit", LIMIT_DEFAULT)
        if not 1 <= limit <= LIMIT_MAX:
            raise _refusal(
                400, "Invalid parameter", f"limit must be between 1 and {LIMIT_MAX}, got {limit}"
            )
        page = _int_arg(request, "page", 1)
        if page < 1:
            raise _refusal(400, "Invalid parameter", f"page counts from 1, got {page}")
        records = sorted(
            (
                r
                for r in account.orders.values()
                if r.order["status"] in statuses and r.last_updated >= since
            ),
            key=lambda r: (r.last_updated, r.order["order_id"]),
        )
        total_pages = math.ceil(len(records) / limit)
        chosen = records[(page - 1) * limit : page * limit]
        if _flag(request.arg("ids_only")):
            return _ok(order_ids=[r.order["order_id"] for r in chosen], total_pages=total_pages)
        return _ok(orders=[row(r) for r in chosen], total_pages=total_pages)

    def _since(self, request: Request) -> datetime:
        value = request.arg("since_last_updated")
        if not value:
            return self._now() - DEFAULT_WINDOW
        try:
            return parse_since(value)
        except ValueError:
            raise _refusal(
                400,
                "Invalid parameter",
                f"since_last_updated must be an RFC3339 UTC "
                f"timestamp like 2026-11-27T10:00:00Z, got {value!r}",
            ) from None

    def _print(
        self,
        record: _Record,
        carrier: str | None = None,
        service_code: str | None = None,
        parcels: list[dict[str, Any]] | None = None,
        reprint: bool = False,
    ) -> dict[str, Any]:
        order = record.order
        if order["status"] in SHIPPED_STATUSES:
            if not reprint:
                numbers = ", ".join(p["tracking_number"] or "-" for p in order["packages"])
                raise _refusal(
                    400,
                    "Label already printed",
                    f"Order {order['order_number']} (order_id {order['order_id']}) already has a "
                    f"label (tracking {numbers}); send reprint: true to get it again.",
                )
            return _label_answer(record)
        now = self._now()
        chosen = (
            carrier
            or order["carrier"]
            or choose_carrier(order["shipping_method"], order["shipping_description"])
        )
        kept_code = order["carrier_service_code"] if chosen == order["carrier"] else None
        code = (
            service_code or kept_code or _default_service(chosen, bool(order["signature_required"]))
        )
        if parcels:
            packages = [self._new_package(p) for p in parcels]
        elif order["packages"]:
            packages = copy.deepcopy(order["packages"])
        else:
            packages = [self._new_package({"weight": _total_weight(order)})]
        for index, package in enumerate(packages, start=1):
            number = tracking_number(chosen, order["order_id"], index)
            package.update(
                {
                    "name": f"Package {index}",
                    "carrier_service_code": code,
                    "carrier_service_name": service_name(code),
                    "tracking_number": number,
                    "tracking_url": tracking_url(chosen, number),
                    "delivery_status": "Printed",
                    "label_created_date": ticks(now),
                }
            )
        order.update(
            {
                "carrier": chosen,
                "carrier_name": carrier_name(chosen),
                "carrier_service_code": code,
                "carrier_service_name": service_name(code),
                "packages": packages,
                "status": "Printed",
            }
        )
        record.shipped_at = now
        lines = [
            order["order_number"],
            carrier_name(chosen) or chosen,
            *(p["tracking_number"] for p in packages),
        ]
        record.label = base64.b64encode(fake_label_pdf(lines)).decode("ascii")
        self._touch(
            record,
            now,
            _event(now, "Label", "Printed", f"Label printed with {carrier_name(chosen)}"),
        )
        return _label_answer(record)


# --------------------------------------------------------------------------- views of a record


def _order_label(order: Any, index: int) -> str:
    number = order.get("order_number") if isinstance(order, dict) else None
    return (
        repr(number)
        if isinstance(number, str) and number
        else f"(orders[{index}] has no order_number)"
    )


def _event(now: datetime, category: str, name: str, description: str) -> dict[str, Any]:
    return {
        "time": ticks(now),
        "category": category,
        "name": name,
        "method": "API",
        "description": description,
    }


def _default_service(carrier: str, signature_required: bool) -> str | None:
    if signature_required and carrier in SIGNATURE_SERVICES:
        return SIGNATURE_SERVICES[carrier]
    return DEFAULT_SERVICES.get(carrier)


def _next_status(order: dict[str, Any], wanted: str) -> str:
    current = order["status"]
    if wanted == current:
        return wanted
    if current in SHIPPED_STATUSES and STATUS_SEQUENCE.index(wanted) < STATUS_SEQUENCE.index(
        current
    ):
        raise _refusal(
            400,
            "Invalid status",
            f"Order {order['order_number']} is {current}; its status cannot go back to {wanted}.",
        )
    if current in UNSHIPPED_STATUSES and wanted in SHIPPED_STATUSES:
        raise _refusal(
            400,
            "Invalid status",
            f"Order {order['order_number']} has no label; print one with POST /api/orders/shipment "
            f"instead of setting status {wanted}.",
        )
    return wanted


def _tracking_status(order: dict[str, Any]) -> tuple[str, str]:
    """(short, full) tracking status of a printed order."""
    if order["status"] == "Delivered":
        return "Delivered", "Delivered"
    if order["carrier"] == "PickupInStore":
        return "PickupInStore", "Ready for pickup in store"
    return "Printed", "Label printed, awaiting dispatch"


def _label_answer(record: _Record) -> dict[str, Any]:
    order = record.order
    return {
        "order_id": order["order_id"],
        "order_number": order["order_number"],
        "carrier_name": order["carrier_name"],
        "tracking_numbers": [p["tracking_number"] for p in order["packages"]],
        "labels": [record.label],
        "label_types": ["Default"],
        "success": True,
    }


def shipped_row(record: _Record) -> dict[str, Any]:
    """The flat ShippedOrder row of /api/orders/shipped, plus every parcel in ``packages``."""
    order = record.order
    first = order["packages"][0] if order["packages"] else {}
    destination = order["destination"] or {}
    short, full = _tracking_status(order)
    return {
        "order_id": order["order_id"],
        "order_date": order["order_date"],
        "shipped_date": ticks(record.shipped_at) if record.shipped_at else None,
        "order_number": order["order_number"],
        "reference": order["reference"],
        "integration_source_name": order["platform"],
        "name": destination.get("name"),
        "country": destination.get("country"),
        "state": destination.get("state"),
        "carrier": order["carrier"],
        "carrier_name": order["carrier_name"],
        "carrier_service_code": order["carrier_service_code"],
        "carrier_service_name": order["carrier_service_name"],
        "shipment_type": None,
        "tracking_number": first.get("tracking_number"),
        "tracking_url": first.get("tracking_url"),
        "tracking_short_status": short,
        "tracking_full_status": full,
        "manifest_number": order["manifest_number"],
        "manifest_sent": order["manifested"],
        "writeback_status": None,
        "writeback_details": None,
        "packages": copy.deepcopy(order["packages"]),
    }


def track_results(record: _Record, package: dict[str, Any] | None) -> dict[str, Any]:
    """The ``results`` of GET /api/track for one parcel (None: the order has no label yet)."""
    order = record.order
    if package is None or record.shipped_at is None:
        return {
            "order_number": order["order_number"],
            "order_status": order["status"],
            "carrier_name": order["carrier_name"],
            "carrier_service": order["carrier_service_code"],
            "tracking_number": None,
            "tracking_url": None,
            "shipment_date": None,
            "tracking_status": None,
            "last_updated_date": ticks(record.last_updated, zulu=False),
            "tracking_events": [],
        }
    short, full = _tracking_status(order)
    events = [
        {
            "event_datetime": ticks(record.shipped_at, zulu=False),
            "status": "Printed",
            "details": "Label printed",
        }
    ]
    if short != "Printed":
        events.append(
            {
                "event_datetime": ticks(record.last_updated, zulu=False),
                "status": short,
                "details": full,
            }
        )
    return {
        "order_number": order["order_number"],
        "order_status": "Delivered" if order["status"] == "Delivered" else "Awaiting Dispatch",
        "carrier_name": order["carrier_name"],
        "carrier_service": package["carrier_service_code"],
        "tracking_number": package["tracking_number"],
        "tracking_url": package["tracking_url"],
        "shipment_date": ticks(record.shipped_at),
        "tracking_status": short,
        "last_updated_date": ticks(record.last_updated, zulu=False),
        "tracking_events": events,
    }


# --------------------------------------------------------------------------- sandbox entry


def create_sandbox(
    seed: int = 0, rate_limit: tuple[int, float] | None = (2, 1.0), **_: Any
) -> StarshipitEmulator:
    """An emulator with one empty account: orders arrive from shipsync's own sync."""
    emulator = StarshipitEmulator(rate_limit=rate_limit, fault_seed=seed)
    emulator.add_account(SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY)
    return emulator


def sandbox_config(emulator: Emulator, url: str) -> dict[str, Any]:
    """The [starshipit] config section pointing at a running emulator's first account."""
    if not isinstance(emulator, StarshipitEmulator):
        raise TypeError(f"expected a StarshipitEmulator, got {type(emulator).__name__}")
    api_key, subscription_key = emulator.accounts()[0]
    return {
        "starshipit": {"api_key": api_key, "subscription_key": subscription_key, "base_url": url}
    }


def play_merchant(
    emulator: Emulator,
    url: str,
    fraction: float = 0.5,
    seed: int = 0,
    packages: Sequence[int] = (1, 1, 1, 2),
    timeout: float = 10.0,
) -> dict[str, Any]:
    """Print labels for ``fraction`` of each account's unshipped orders, over HTTP.

    Orders are picked with a seeded RNG; ``packages`` lists parcel counts to draw
    from for each label. Orders whose carrier is PickupInStore are printed as
    PickupInStore. Honours 429 by sleeping Retry-After. Returns
    ``{"printed": n, "order_numbers": [...], "failed": [...]}``.
    """
    if not isinstance(emulator, StarshipitEmulator):
        raise TypeError(f"expected a StarshipitEmulator, got {type(emulator).__name__}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be between 0 and 1")
    rng = random.Random(seed)
    printed: list[str] = []
    failed: list[str] = []
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
            for order in picked:
                body = _merchant_print_body(order, rng.choice(list(packages) or [1]))
                done = _post_shipment(
                    session, url.rstrip("/") + "/api/orders/shipment", body, timeout
                )
                (printed if done else failed).append(order["order_number"])
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
