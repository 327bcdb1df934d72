"""The HTTP routes of the Starshipit emulator, one module per resource.

Each module holds a class of request handlers that ``StarshipitEmulator``
mixes in (its ``__init__`` maps the paths to them); all build on
``records.OrderRecords``:

- ``orders``: ``/api/orders`` (create, get, update) and ``/api/orders/delete``;
- ``order_import``: ``/api/orders/import`` (up to 50 orders, each standing alone);
- ``listings``: ``/api/orders/unshipped`` and ``/api/orders/shipped`` (paged, since a time);
- ``labels``: ``/api/orders/shipment``, printing (and reprinting) labels;
- ``tracking``: ``/api/track``, by tracking number or order number.
"""
