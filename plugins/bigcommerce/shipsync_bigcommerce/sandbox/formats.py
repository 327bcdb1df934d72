"""Values as the BigCommerce API writes and reads them.

Dates are RFC-2822 in UTC (``Wed, 10 Jan 2018 21:05:30 +0000``), date filters
RFC-2822 or ISO-8601; money, weights and dimensions are strings with 4 decimals.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from typing import Any

from shipsync.sandbox import HTTPError

_ZERO = Decimal(0)
_Q4 = Decimal("0.0001")


def format_rfc2822(moment: datetime) -> str:
    """``Wed, 10 Jan 2018 21:05:30 +0000``: how v2 sends every date, always in UTC."""
    return format_datetime(_utc(moment))


_LOST_PLUS = re.compile(r"(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s+(\d{2}:?\d{2})$")
_ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_api_date(value: str, name: str = "date") -> datetime:
    """Parse a v2 date filter, RFC-2822 or ISO-8601, into an aware UTC datetime.

    An unencoded ``+`` in the query string arrives as a space ("... 21:05:30  0000");
    that is repaired rather than refused, since the intent is unambiguous.
    """
    text = value.strip()
    iso = bool(_ISO_START.match(text))
    text = _LOST_PLUS.sub(r"\1+\2" if iso else r"\1 +\2", text)
    try:
        moment = datetime.fromisoformat(text) if iso \
            else parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise HTTPError(400, {"message": f"The field '{name}' is invalid: {value!r} is neither an "
                              "RFC-2822 nor an ISO-8601 date."}) from None
    return _utc(moment)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None \
        else moment.astimezone(UTC)


def _as_datetime(value: datetime | str, name: str) -> datetime:
    if isinstance(value, datetime):
        return _utc(value)
    try:
        return parse_api_date(value, name)
    except HTTPError as exc:
        raise ValueError(exc.body["message"]) from None


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else _decimal(str(value))


# Seeded stores repeat a few prices and weights many times: share the (immutable) objects.
@lru_cache(maxsize=4096)
def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None


@lru_cache(maxsize=4096)
def _measure(text: str) -> str:
    """A weight or dimension as the API sends it: "1.5" -> "1.5000"."""
    return _money(_decimal(text))


def _money(value: Decimal) -> str:
    return str(value.quantize(_Q4, rounding=ROUND_HALF_UP))
