"""A stateful emulator of the BigCommerce REST API (the parts shipsync uses).

It serves, per store, ``/stores/{store_hash}/v2/...`` (orders, order products,
shipping addresses, consignments, shipments, order statuses, store) and
``/stores/{store_hash}/v3/...`` (units of measurement, customs information)
the way the official OpenAPI specs document them, with the quirks real stores
show (see ``shared/reference/bigcommerce-api.md``):

- empty v2 lists, and pages past the end, answer ``204 No Content``;
- ``limit`` above 250 answers ``413`` with ``details.max_limit``;
- money, weights and dimensions are strings with 4 decimals, dates RFC-2822 UTC;
- consignments inline (``consignment_structure=object``) carry at most 50 line
  items each, with an undocumented ``__warning__`` beyond that;
- creating shipments moves the order to Shipped (2) or Partially Shipped (3);
- a per-store fixed-window rate limit with the ``X-Rate-Limit-*`` headers;
- v2 errors are JSON arrays, v3 errors objects.

Where the specs are silent it offers every plausible behaviour as a variant
(``shipsync_bigcommerce.variants``: the most likely one by default): a shipping
consignment's ``id`` of its own (its lines name the ``order_address_id``) or its
address's; an order shown in another currency (``currency_code``) than the one it
is paid in (``default_currency_code``), or the same.

Tests set up state through the Python API (``add_store``, ``add_order``,
``update_order``, ``set_customs``, ``now``) and then drive shipsync over HTTP.

Where each part lives:

- ``emulator``: ``BigCommerceEmulator``, its Python API, and the hooks that answer
  authentication, rate limits and injected faults;
- ``routes/``: the request handlers, one module per resource (``orders``,
  ``order_parts``, ``shipments``, ``store``, ``customs``, ``hooks``);
- ``webhooks``: the stores' hooks (``/v3/hooks``) and the callbacks POSTed to them
  when orders are created or change and shipments are created, with configurable
  delay, reordering, loss and duplication and BigCommerce's retry schedule;
- ``state``: the in-memory data model; ``building``: order specs into state;
  ``changes``: merchant changes to an order; ``rendering``: state into JSON;
- ``formats``: RFC-2822 dates and 4-decimal money; ``limits``: rate-limit windows
  and headers; ``errors``: v2 and v3 error bodies;
- ``seed``: the seeded orders (``generate_orders``), from the products, units and
  customs information of ``catalog`` and the people and places of ``people``;
- ``registry``: ``create_sandbox`` and ``sandbox_config``, for the sandbox registry.
"""

from __future__ import annotations

from .emulator import GATEWAY, BigCommerceEmulator
from .errors import STATUS_DOC_URL
from .formats import format_rfc2822, parse_api_date
from .registry import create_sandbox, sandbox_config, store_hash_for
from .rendering import DELETE
from .routes.common import DEFAULT_LIMIT, MAX_LIMIT
from .state import ADDRESS_FIELDS, CONSIGNMENT_LINE_CAP, ORDER_STATUSES, SandboxStore

__all__ = [
    "ORDER_STATUSES",
    "BigCommerceEmulator",
    "SandboxStore",
    "create_sandbox",
    "format_rfc2822",
    "parse_api_date",
    "sandbox_config",
    "store_hash_for",
    # Public names of the emulator's single-module days, importable from here as before.
    "ADDRESS_FIELDS",
    "CONSIGNMENT_LINE_CAP",
    "DEFAULT_LIMIT",
    "DELETE",
    "GATEWAY",
    "MAX_LIMIT",
    "STATUS_DOC_URL",
]
