"""What the Starshipit sink assumes of the API where its documentation is silent.

Each assumption has a stable name (``shipsync doctor`` shows it, the state file
keeps what was found of it) and a summary in words. The sink takes the way that
is right whatever the answer; where a cheaper way relies on an assumption, it
takes it only once ``shipsync doctor`` has confirmed it, and records what it sees
during a run (``Context.assumptions``), so that a contradiction switches it back.
The variants the emulator offers for each are in ``variants``.
"""

from __future__ import annotations

__all__ = ["ASSUMPTIONS", "CREDENTIALS", "DATES_UTC", "INCLUDES_ALWAYS", "LISTS_AT_PRINT",
           "LIST_ORDER", "NOT_FOUND_200", "RATE_LIMIT_HEADERS", "ROWS_FLAT"]

CREDENTIALS = "credentials"
RATE_LIMIT_HEADERS = "rate-limit-headers"
ROWS_FLAT = "shipped-rows-flat"
LISTS_AT_PRINT = "shipped-lists-at-print"
DATES_UTC = "dates-utc"
LIST_ORDER = "lists-oldest-first"
NOT_FOUND_200 = "not-found-200"
INCLUDES_ALWAYS = "order-includes-always"

ASSUMPTIONS: dict[str, str] = {
    CREDENTIALS: "the API key and subscription key are accepted",
    RATE_LIMIT_HEADERS: "Starshipit announces no rate-limit headers",
    ROWS_FLAT: "a row of GET /api/orders/shipped has one tracking number and no packages",
    LISTS_AT_PRINT: "GET /api/orders/shipped lists an order once its label is printed",
    DATES_UTC: "Starshipit's times carry Z (UTC)",
    LIST_ORDER: "Starshipit's lists come oldest first",
    NOT_FOUND_200: "a lookup that finds nothing answers 200 with success: false",
    INCLUDES_ALWAYS: "GET /api/orders?order_id= has items and packages without include",
}
