"""The HTTP routes of the BigCommerce emulator, one module per resource.

Each module holds a class of request handlers that ``BigCommerceEmulator``
mixes in (``emulator._routes`` maps the paths to them):

- ``orders``: ``/v2/orders`` (list, count, get, update, delete);
- ``order_parts``: an order's ``products``, ``shipping_addresses`` and ``consignments``;
- ``shipments``: an order's ``shipments`` (list, count, get, create);
- ``store``: ``/v2/order_statuses``, ``/v2/store``, ``/v2/time`` and the v3
  units of measurement;
- ``customs``: the v3 products' customs information;
- ``hooks``: the v3 webhooks (``/v3/hooks``), and what changes send to them;
- ``common``: ``RouteBase``, what every handler reads (the request's store,
  order and view, the clock), and parsing of query arguments and bodies.
"""
