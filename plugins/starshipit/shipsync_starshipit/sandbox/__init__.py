"""A stateful emulator of the Starshipit REST API, served over HTTP on loopback.

It imitates what shipsync uses (fact sheet: /work/shared/reference/starshipit-api.md):
creating and importing orders, looking them up, updating and deleting them,
listing unshipped and shipped orders and printed labels, printing labels,
manifests and tracking. Request bodies are checked against the plugin's
``schemas/*.json``, the same schemas the contract tests hold the emulator's
answers to.

Where the fact sheet is silent the emulator offers every plausible behaviour as
a variant (``shipsync_starshipit.variants``: the most likely one by default;
``create_sandbox(variants=...)``, ``shipsync sandbox --variant starshipit.NAME=VALUE``):

- ``shipped_rows``: a ``/api/orders/shipped`` row is flat (one tracking number)
  or carries every parcel in ``packages``;
- ``shipped_listing``: ``/api/orders/shipped`` lists a printed order once it is
  manifested, or from label print; ``/api/orders/shipments?status=
  recently_printed|unmanifested`` lists printed labels with every parcel either way;
- ``dates``: times in the account's local time (Australia/Sydney) without an
  offset, the ``since_*`` filters read as wall times (an offset sent is ignored),
  or UTC with a ``Z``; either way with 7 fractional digits;
- ``pages``: lists newest first or oldest first, and in the ``-moving`` variants
  the oldest listed printed order gets a courier's update before each page after
  the first is answered (it moves to the newest end);
- ``not_found``: a lookup that finds nothing (GET/PUT ``/api/orders``, delete,
  shipment, track) answers ``404`` or ``200``, with ``success: false`` either way;
- ``order_includes``: ``GET /api/orders`` by id or number has ``items`` and
  ``packages`` only with ``include=Items``/``include=Packages``, or always.

Choices where the fact sheet is silent and that are not variants:

- **HTTP status of business errors.** Validation failures and refused actions
  (duplicate order number, editing or deleting a printed order, printing twice
  without ``reprint``, ``limit`` above 250, more than 50 orders in an import)
  answer **400** with ``{"success": false, "errors": [{message, details}]}``.
- **Gateway errors** (missing or wrong keys, unknown path, rate limit, injected
  5xx) use the API Management shape ``{"statusCode", "message"}``, not the
  envelope. An unknown path answers 404 before any key is checked, as APIM
  matches the operation first. The rate limit is counted per subscription key,
  and several API keys may share one; an API key only works with the
  subscription key it was added with.
- **Duplicate order numbers** are refused (never duplicated, never updated) by
  default. The real API's behaviour is undocumented, so ``duplicate_numbers=
  "accept"`` creates a second order under the number instead (a lookup by
  number still finds the first), and ``duplicate_refusal`` words the refusal
  otherwise: shipsync must never rely on either.
- **Import partial semantics.** A malformed batch (not ``{"orders": [...]}``,
  empty, more than 50) is refused whole with 400. Otherwise each order stands
  alone: valid ones are created, each refused one gets an entry in ``errors``
  whose ``details`` start with its order number, the answer is 200 with the
  created orders in ``orders``, and ``success`` is false if any was refused.
- **Status rules.** ``Unshipped``/``Saved`` are unshipped; ``Printed`` and
  ``Delivered`` are shipped. PUT can move an unshipped order between Unshipped
  and Saved and a printed order forward to Delivered; it cannot print (that is
  ``POST /api/orders/shipment``) or go back. A manifest (``POST
  /api/orders/manifest``) takes printed orders only.
- **Carrier rules** when neither the print request nor the order names one:
  a shipping method or description containing "pickup" or "click & collect"
  gives ``PickupInStore``, "express" gives ``StarTrack``, anything else ``AusPost``.
- **PickupInStore** labels get tracking numbers but no tracking URL, and their
  tracking status is ``PickupInStore``.
- **Paging.** ``since_last_updated`` (``since_created_date`` for printed labels)
  is inclusive and defaults to 24 hours ago; ``total_pages`` is 0 when nothing
  matches.

Where each part lives:

- ``emulator``: ``StarshipitEmulator``, its Python API and the route table;
- ``routes/``: the request handlers, one module per resource (``orders``,
  ``order_import``, ``listings``, ``labels``, ``manifests``, ``tracking``), on top of
  ``records`` (creating, finding and updating order records);
- ``gateway``: API Management's keys, rate limit and error shape;
  ``envelope``: the API's success and refusal answers and the schema checks;
- ``state``: accounts and order records; ``carriers``: carrier names,
  services, tracking numbers and URLs, and the carrier rules; ``rendering``:
  timestamps, label answers, shipped rows and tracking results;
- ``merchant``: ``play_merchant``, the merchant printing labels over HTTP;
- ``webhooks``: ``TrackingWebhooks``, the tracking webhook POSTed when a label prints;
- ``registry``: ``create_sandbox`` and ``sandbox_config``, for the sandbox registry.
"""

from __future__ import annotations

from .carriers import (
    CARRIER_NAMES,
    DEFAULT_SERVICES,
    SERVICE_NAMES,
    SIGNATURE_SERVICES,
    TRACKING_PREFIXES,
    TRACKING_URLS,
    carrier_name,
    choose_carrier,
    service_name,
    tracking_number,
    tracking_url,
)
from .emulator import StarshipitEmulator
from .envelope import StarshipitRefusal, schema_errors
from .merchant import play_merchant
from .records import SANDBOX_SENDER
from .registry import (
    SANDBOX_API_KEY,
    SANDBOX_SUBSCRIPTION_KEY,
    SANDBOX_WEBHOOK_SECRET,
    connect_webhook,
    create_sandbox,
    sandbox_config,
)
from .rendering import fake_label_pdf, shipped_row, ticks, track_results
from .routes.listings import DEFAULT_WINDOW, LIMIT_DEFAULT, LIMIT_MAX, parse_since
from .routes.order_import import IMPORT_MAX
from .state import SHIPPED_STATUSES, STATUS_SEQUENCE, UNSHIPPED_STATUSES

__all__ = [
    "SANDBOX_API_KEY",
    "SANDBOX_SUBSCRIPTION_KEY",
    "SANDBOX_WEBHOOK_SECRET",
    "StarshipitEmulator",
    "connect_webhook",
    "StarshipitRefusal",
    "choose_carrier",
    "create_sandbox",
    "parse_since",
    "play_merchant",
    "sandbox_config",
    "ticks",
    "tracking_number",
    "tracking_url",
    # Public names of the emulator's single-module days, importable from here as before.
    "CARRIER_NAMES",
    "DEFAULT_SERVICES",
    "DEFAULT_WINDOW",
    "IMPORT_MAX",
    "LIMIT_DEFAULT",
    "LIMIT_MAX",
    "SANDBOX_SENDER",
    "SERVICE_NAMES",
    "SHIPPED_STATUSES",
    "SIGNATURE_SERVICES",
    "STATUS_SEQUENCE",
    "TRACKING_PREFIXES",
    "TRACKING_URLS",
    "UNSHIPPED_STATUSES",
    "carrier_name",
    "fake_label_pdf",
    "schema_errors",
    "service_name",
    "shipped_row",
    "track_results",
]
