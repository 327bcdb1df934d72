"""``/api/orders/unshipped`` and ``/api/orders/shipped``: orders changed since a time, paged.

Rows are ordered by last update then order id, so pages are stable;
``since_last_updated`` is inclusive and defaults to 24 hours ago;
``total_pages`` is 0 when nothing matches.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from shipsync.sandbox import Request, Response

from ..envelope import _ok, _refusal
from ..records import OrderRecords
from ..rendering import shipped_row
from ..state import SHIPPED_STATUSES, UNSHIPPED_STATUSES, _Record

LIMIT_DEFAULT = 50
LIMIT_MAX = 250
DEFAULT_WINDOW = timedelta(hours=24)

_SINCE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


class ListingRoutes(OrderRecords):
    """GET the unshipped orders (full model) and the shipped ones (ShippedOrder rows)."""

    def _list_unshipped(self, request: Request) -> Response:
        return self._listing(request, UNSHIPPED_STATUSES, lambda r: copy.deepcopy(r.order))

    def _list_shipped(self, request: Request) -> Response:
        return self._listing(request, SHIPPED_STATUSES, shipped_row)

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
