"""``shipsync doctor``'s checks of a Starshipit account: read-only, one finding each.

Credentials; rate-limit headers; and what the sink assumes where the API's
documentation is silent (``assumptions``): the shape of shipped rows, the time
zone of Starshipit's times, the order of its lists, which list shows a label
printed but not yet manifested, what a lookup of a missing order answers, and
whether an order's items come without ``include``. Nothing is written to the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from shipsync.contracts import Finding
from shipsync.registry import DiagnosticSpec

from .assumptions import (
    ASSUMPTIONS,
    CREDENTIALS,
    DATES_UTC,
    INCLUDES_ALWAYS,
    LIST_ORDER,
    LISTS_AT_PRINT,
    NOT_FOUND_200,
    RATE_LIMIT_HEADERS,
    ROWS_FLAT,
)
from .client import has_offset, since_text
from .mapping import parse_time
from .sink import StarshipitSink

__all__ = ["DIAGNOSTICS", "check_account"]

LOOKBACK = timedelta(days=30)  # how far back the checks look for printed labels
SAMPLE = 50  # rows a check reads of each list


def _finding(name: str, status: Any, observed: str, instead: str = "",
             blocking: bool = False) -> Finding:
    return Finding(name, status, ASSUMPTIONS[name], observed=observed, instead=instead,
                   blocking=blocking)


def check_account(sink: StarshipitSink) -> Iterator[Finding]:
    """Every check of one account, in order; the first (credentials) gates the others."""
    client = sink.client
    status, body, headers = client.get("api/orders/unshipped", {"limit": 1})
    if status != 200 or not body.get("success", True):
        words = body.get("message") or body.get("errors") or body
        yield _finding(CREDENTIALS, "contradicted", f"GET /api/orders/unshipped: {status} "
                       f"{words}", instead="nothing runs until the API key and subscription "
                       "key are right (Settings > API)", blocking=True)
        return
    yield _finding(CREDENTIALS, "confirmed", "GET /api/orders/unshipped: 200")
    yield from _rate_limit_headers(sink, headers)
    since = datetime.now(timezone.utc) - LOOKBACK
    _, printed, _ = client.get("api/orders/shipments", {
        "status": "recently_printed", "since_created_date": since_text(since), "limit": SAMPLE})
    _, shipped, _ = client.get("api/orders/shipped", {
        "since_last_updated": since_text(since), "limit": SAMPLE})
    labels = [r for r in printed.get("orders") or [] if isinstance(r, dict)]
    rows = [r for r in shipped.get("orders") or [] if isinstance(r, dict)]
    yield _rows_flat(rows)
    yield _dates(rows, labels)
    yield _list_order(labels, rows)
    yield _lists_at_print(sink, since)
    yield _not_found(sink)
    unshipped = [o for o in body.get("orders") or [] if isinstance(o, dict)]
    yield _includes(sink, [*unshipped, *labels, *rows])


def _rate_limit_headers(sink: StarshipitSink, headers: dict[str, str]) -> Iterator[Finding]:
    named = sorted(h for h in headers if "ratelimit" in h.lower().replace("-", "")
                   or h.lower() == "retry-after")
    pace = f"{sink.settings['rate_limit']} per second"
    if named:
        yield _finding(RATE_LIMIT_HEADERS, "contradicted", ", ".join(
            f"{h}: {headers[h]}" for h in named), instead=f"shipsync still spaces its "
            f"requests at 95% of rate_limit ({pace}) and honours Retry-After on a 429")
    else:
        yield _finding(RATE_LIMIT_HEADERS, "confirmed", "no rate-limit header on a 200",
                       instead=f"requests are spaced at 95% of rate_limit ({pace})")


def _rows_flat(rows: list[dict[str, Any]]) -> Finding:
    if not rows:
        return _finding(ROWS_FLAT, "not_observable",
                        "GET /api/orders/shipped lists nothing of the last 30 days")
    with_packages = [r for r in rows if isinstance(r.get("packages"), list)]
    if with_packages:
        return _finding(ROWS_FLAT, "contradicted",
                        f"order {with_packages[0].get('order_number')}: a row with packages",
                        instead="every parcel's number is taken from the row's packages (and "
                                "from GET /api/orders/shipments)")
    return _finding(ROWS_FLAT, "confirmed",
                    f"order {rows[0].get('order_number')}: one tracking_number, no packages",
                    instead="every parcel's number comes from GET /api/orders/shipments or "
                            "the order itself")


def _dates(rows: list[dict[str, Any]], labels: list[dict[str, Any]]) -> Finding:
    stamps = [str(s) for s in ([r.get("shipped_date") for r in rows]
                               + [r.get("date") for r in labels]) if s]
    if not stamps:
        return _finding(DATES_UTC, "not_observable", "no printed label of the last 30 days")
    naive = [s for s in stamps if not has_offset(s)]
    if naive:
        return _finding(DATES_UTC, "contradicted", f"a time without an offset: {naive[0]}",
                        instead="times without an offset are read as the earliest instant "
                                "they can be (UTC+14): rows are read again, never missed")
    return _finding(DATES_UTC, "confirmed", f"a time with its offset: {stamps[0]}")


def _list_order(labels: list[dict[str, Any]], rows: list[dict[str, Any]]) -> Finding:
    for name, listed, field in (("/api/orders/shipments", labels, "date"),
                                ("/api/orders/shipped", rows, "shipped_date")):
        times = [t for t in (parse_time(r.get(field)) for r in listed) if t is not None]
        if len(set(times)) < 2:
            continue
        if times == sorted(times):
            return _finding(LIST_ORDER, "confirmed", f"GET {name}: oldest first",
                            instead="read as a keyset on the time where rows show it")
        if times == sorted(times, reverse=True):
            return _finding(LIST_ORDER, "contradicted", f"GET {name}: newest first",
                            instead="read by page numbers, then its first pages again for "
                                    "rows that moved there during the read")
    return _finding(LIST_ORDER, "not_observable", "no list of two labels or more to compare",
                    instead="either order is read without missing a row")


def _lists_at_print(sink: StarshipitSink, since: datetime) -> Finding:
    _, waiting, _ = sink.client.get("api/orders/shipments", {
        "status": "unmanifested", "since_created_date": since_text(since), "limit": SAMPLE})
    unmanifested = [r for r in waiting.get("orders") or []
                    if isinstance(r, dict) and isinstance(r.get("order_id"), int)]
    if not unmanifested:
        return _finding(LISTS_AT_PRINT, "not_observable",
                        "no printed label waits for a manifest now",
                        instead="printed labels are read from GET /api/orders/shipments too")
    label = unmanifested[0]
    printed = parse_time(label.get("date")) or since
    # From well before the print, whatever zone its time is in (a local time can be up to
    # 14 hours ahead of the same wall time in UTC).
    listed = {row.get("order_id") for rows in sink.client.shipped(printed - timedelta(hours=15))
              for row in rows}
    if label["order_id"] in listed:
        return _finding(LISTS_AT_PRINT, "confirmed",
                        f"order {label.get('order_number')}: printed, not manifested, listed",
                        instead="with rows carrying packages, GET /api/orders/shipped alone "
                                "is read; else the printed labels too")
    return _finding(LISTS_AT_PRINT, "contradicted",
                    f"order {label.get('order_number')}: printed, not manifested, not listed",
                    instead="printed labels are read from GET /api/orders/shipments?status="
                            "recently_printed, so tracking is written back at print")


def _not_found(sink: StarshipitSink) -> Finding:
    number = f"shipsync-doctor-{uuid.uuid4().hex[:12]}"
    status, body, _ = sink.client.get("api/orders", {"order_number": number})
    if status == 200 and body.get("success") is False:
        return _finding(NOT_FOUND_200, "confirmed", "200 with success: false")
    if status == 404 and "success" in body:
        return _finding(NOT_FOUND_200, "contradicted", "404 with success: false",
                        instead="a 404 carrying Starshipit's envelope is read as not found; "
                                "the gateway's own 404 stays an error")
    return _finding(NOT_FOUND_200, "not_observable", f"{status}: {body}")


def _includes(sink: StarshipitSink, known: list[dict[str, Any]]) -> Finding:
    ids = [o.get("order_id") for o in known if isinstance(o.get("order_id"), int)]
    if not ids:
        return _finding(INCLUDES_ALWAYS, "not_observable", "no order to look up",
                        instead="lookups ask include=Items and include=Packages")
    status, body, _ = sink.client.get("api/orders", {"order_id": ids[0]})
    found = body.get("order")
    order: dict[str, Any] = found if isinstance(found, dict) else {}
    if status == 200 and "items" in order:
        return _finding(INCLUDES_ALWAYS, "confirmed", f"order {ids[0]}: items without include",
                        instead="lookups ask include=Items and include=Packages all the same")
    if status == 200:
        return _finding(INCLUDES_ALWAYS, "contradicted",
                        f"order {ids[0]}: no items without include",
                        instead="lookups ask include=Items and include=Packages (the key "
                                "repeated)")
    return _finding(INCLUDES_ALWAYS, "not_observable", f"order {ids[0]}: {status}")


DIAGNOSTICS = [DiagnosticSpec(
    name="starshipit-account", kind="sink", target="starshipit", run=check_account,
    description="Starshipit: keys, rate-limit headers, shipped rows and labels, times, "
                "list order, lookups")]
