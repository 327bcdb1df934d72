"""``shipsync serve``: webhooks in, one order synced at a time, polling as the safety net.

A long-running service (Starlette on uvicorn) that a platform's webhooks reach
at ``POST /webhooks/NAME/...``. Each request is authenticated by the plugin
that registered NAME (``shipsync_webhooks``), turned into triggers (an order to
read again, never data), kept in the state store's inbox and answered 202;
nothing is synced inside the request. A dispatcher hands the triggers to
workers that sync those orders through the engine; a poller keeps the full
run going every ``poll_every`` and reads printed labels every minute, so a
lost webhook costs time, never an order.

Where each part lives:

- ``settings``: the ``[serve]`` section;
- ``dispatch``: ``EventDispatcher`` (the seam a cluster's queue plugs into) and
  ``InProcessDispatcher`` (worker threads in this process: batching per store,
  coalescing, retries, graceful stop);
- ``runner``: ``SyncRunner``, a batch of triggers of one store into engine calls;
- ``polling``: ``SafetyNet``, the full poll and the printed-label check;
- ``metrics``: the Prometheus metrics; ``web``: the Starlette app;
- ``service``: ``Service``, all of it wired together, and ``run``, on uvicorn.

Only ``metrics``, ``web`` and ``service`` import the ``shipsync[serve]`` extra's
libraries, and only the ``serve`` command imports them.
"""
