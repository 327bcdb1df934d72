"""``/api/orders/unshipped``, ``/shipped`` and ``/shipments``: orders changed since a time, paged.

``since_last_updated`` (``since_created_date`` for shipments) is inclusive and
defaults to 24 hours ago; ``total_pages`` is 0 when nothing matches. The
variants (``shipsync_starshipit.variants``) decide:

- ``pages``: rows oldest first or newest first (by last update, by print time
  for shipments, then order id); in the ``-moving`` variants a courier's
  tracking update reaches the oldest listed order before each page after the
  first is answered, as happens while a client reads a long list: that order
  moves to the newest end of the lists ordered by last update.
- ``shipped_listing``: ``/shipped`` lists printed orders only once manifested,
  or from label print.
- ``shipped_rows``: its rows are flat, or carry every parcel in ``packages``.
- ``dates``: a ``since`` without an offset is the account's local time in the
  ``local`` variant, and an offset sent is then ignored (the wall time counts).

``/shipments`` (``status=recently_printed`` or ``unmanifested``) lists printed
labels, each with every parcel's tracking number.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from shipsync.sandbox import Request, Response

from ..envelope import _ok, _refusal
from ..records import OrderRecords
from ..rendering import shipment_row, shipped_row
from ..state import SHIPPED_STATUSES, UNSHIPPED_STATUSES, _Record

LIMIT_DEFAULT = 50
LIMIT_MAX = 250
DEFAULT_WINDOW = timedelta(hours=24)
SHIPMENT_STATUSES = ("recently_printed", "unmanifested")

_SINCE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


class ListingRoutes(OrderRecords):
    """GET the unshipped orders (full model), the shipped ones (ShippedOrder rows) and the
    printed labels (shipment rows)."""

    def _list_unshipped(self, request: Request) -> Response:
        account = self._account_of(request)
        return self._listing(request, [r for r in account.orders.values()
                                       if r.order["status"] in UNSHIPPED_STATUSES],
                             lambda r: copy.deepcopy(r.order))

    def _list_shipped(self, request: Request) -> Response:
        account = self._account_of(request)
        at_print = self.variants["shipped_listing"] == "print"
        packages = self.variants["shipped_rows"] == "packages"
        listed = [r for r in account.orders.values()
                  if r.order["status"] in SHIPPED_STATUSES
                  and (at_print or r.order["manifested"] or r.order["status"] == "Delivered")]
        return self._listing(request, listed, lambda r: shipped_row(r, packages, self.zone))

    def _list_shipments(self, request: Request) -> Response:
        status = request.arg("status")
        if status not in SHIPMENT_STATUSES:
            raise _refusal(400, "Invalid parameter",
                           f"status is required: one of {', '.join(SHIPMENT_STATUSES)}, "
                           f"got {status!r}")
        account = self._account_of(request)
        printed = [r for r in account.orders.values()
                   if r.order["status"] in SHIPPED_STATUSES and r.shipped_at is not None
                   and (status == "recently_printed" or not r.order["manifested"])]
        return self._listing(request, printed, lambda r: shipment_row(r, self.zone),
                             since_name="since_created_date",
                             moment=lambda r: r.shipped_at or r.last_updated)

    def _listing(self, request: Request, candidates: Iterable[_Record],
                 row: Callable[[_Record], dict[str, Any]], *,
                 since_name: str = "since_last_updated",
                 moment: Callable[[_Record], datetime] = lambda r: r.last_updated) -> Response:
        since = self._since(request, since_name)
        limit = _int_arg(request, "limit", LIMIT_DEFAULT)
        if not 1 <= limit <= LIMIT_MAX:
            raise _refusal(
                400, "Invalid parameter", f"limit must be between 1 and {LIMIT_MAX}, got {limit}"
            )
        page = _int_arg(request, "page", 1)
        if page < 1:
            raise _refusal(400, "Invalid parameter", f"page counts from 1, got {page}")
        candidates = list(candidates)
        order = self.variants["pages"]
        if page > 1 and order.endswith("-moving"):
            # Between two page requests of one read, a courier's update reaches the
            # oldest listed order: it moves to the newest end of the list.
            window = [r for r in candidates if moment(r) >= since
                      and r.order["status"] in SHIPPED_STATUSES]
            if window:
                self._tracking_update(min(window, key=lambda r: (moment(r),
                                                                 r.order["order_id"])))
        records = sorted(
            (r for r in candidates if moment(r) >= since),
            key=lambda r: (moment(r), r.order["order_id"]),
            reverse=order.startswith("newest-first"),
        )
        total_pages = math.ceil(len(records) / limit)
        chosen = records[(page - 1) * limit : page * limit]
        if _flag(request.arg("ids_only")):
            return _ok(order_ids=[r.order["order_id"] for r in chosen], total_pages=total_pages)
        return _ok(orders=[row(r) for r in chosen], total_pages=total_pages)

    def _since(self, request: Request, name: str = "since_last_updated") -> datetime:
        value = request.arg(name)
        if not value:
            return self._now() - DEFAULT_WINDOW
        try:
            if self.zone is not None:  # local times: the wall time counts, an offset is ignored
                wall = parse_since(_without_offset(value)).replace(tzinfo=None)
                return wall.replace(tzinfo=self.zone).astimezone(UTC)
            return parse_since(value)
        except ValueError:
            raise _refusal(
                400,
                "Invalid parameter",
                f"{name} must be an RFC3339 UTC "
                f"timestamp like 2026-11-27T10:00:00Z, got {value!r}",
            ) from None


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


def _without_offset(value: str) -> str:
    text = re.sub(r"(T[\d:.]+) (\d{2}:?\d{2})$", r"\1+\2", value.strip())
    return re.sub(r"(Z|[+-]\d{2}:?\d{2})$", "", text, flags=re.IGNORECASE)


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
