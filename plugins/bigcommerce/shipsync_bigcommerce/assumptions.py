"""What the BigCommerce source assumes of a store's API where the documentation is silent.

Each assumption has a stable name (``shipsync doctor`` shows it, the state file
keeps what was found of it, per store) and a summary in words. The source takes
the way that is right whatever the answer, and records what it sees during a run
(``Context.assumptions``). The variants the emulator offers are in ``variants``.
"""

from __future__ import annotations

__all__ = ["ASSUMPTIONS", "CONSIGNMENT_IDS", "CREDENTIALS", "CURRENCIES", "RATE_LIMIT",
           "SCOPE_CUSTOMS", "SCOPE_ORDERS_MODIFY", "SCOPE_ORDERS_READ", "WEIGHT_UNITS"]

CREDENTIALS = "credentials"
SCOPE_ORDERS_READ = "scope-orders-read"
SCOPE_ORDERS_MODIFY = "scope-orders-modify"
SCOPE_CUSTOMS = "scope-products-read"
RATE_LIMIT = "rate-limit-quota"
WEIGHT_UNITS = "weight-units"
CURRENCIES = "display-currency-is-transactional"
CONSIGNMENT_IDS = "consignment-id-is-order-address-id"

ASSUMPTIONS: dict[str, str] = {
    CREDENTIALS: "the access token is accepted (Information & Settings read: GET /v2/store)",
    SCOPE_ORDERS_READ: "the token reads orders (GET /v2/orders)",
    SCOPE_ORDERS_MODIFY: "the token may create shipments and set statuses (Orders modify)",
    SCOPE_CUSTOMS: "the token reads customs information (Products read)",
    RATE_LIMIT: "the store's quota is the configured rate_limit per 30 s",
    WEIGHT_UNITS: "the store's weight unit is one shipsync converts to kg",
    CURRENCIES: "an order's currency_code (display) is its default_currency_code "
                "(transactional)",
    CONSIGNMENT_IDS: "a shipping consignment's id is the order_address_id a shipment needs",
}
