"""Settling writes in doubt: looking up what a lost answer did before anything is sent again.

A create whose answer was lost may have been applied; sending it again could
make a second order or a second shipment. So each open intent of the store is
looked up at the start of every step (and at once, for an import batch whose
answer was lost): found, it is recorded as done (and linked); established as
not applied, it is marked failed and may be sent again; still unknown (the
lookup failed too), it stays open and nothing is sent for it.
"""

from __future__ import annotations

from ..http import TransportError
from ..state import JournalEntry
from .context import RunContext

__all__ = ["settle"]


def settle(ctx: RunContext) -> None:
    """Look up every write of this store left in doubt by an earlier run (crash, lost answer)."""
    if ctx.dry:
        return
    for entry in ctx.state.in_doubt():
        payload = entry.payload
        if payload.get("store") != ctx.store or payload.get("source") != ctx.source_name:
            continue
        try:
            _settle_one(ctx, entry)
        except TransportError as exc:
            # Still unreachable: left in doubt; nothing is sent again until it is settled.
            ctx.event(str(payload.get("order_id", "?")), "in_doubt",
                      f"{entry.action} not settled yet: {exc}")


def _settle_one(ctx: RunContext, entry: JournalEntry) -> None:
    payload = entry.payload
    order_id = str(payload.get("order_id", ""))
    if entry.action == "create_order":
        number = str(payload["order_number"])
        found = ctx.sink.find_order(number)
        if found:
            ctx.link(order_id, str(payload["destination_id"]), number, found.sink_order_id,
                     "imported", str(payload.get("fingerprint", "")))
            ctx.journal.done(entry.id, {"settled": "found", "sink_order_id": found.sink_order_id})
            ctx.event(order_id, "imported", f"{number} (settled after an interrupted run)")
        else:
            ctx.journal.failed(entry.id, {"settled": "not applied"})
    elif entry.action == "create_shipment":
        shipment = ctx.source.find_shipment(order_id, str(payload["destination_id"]),
                                            str(payload.get("tracking_number", "")))
        if shipment:
            ctx.journal.done(entry.id, {"settled": "found", "shipment_id": shipment.shipment_id})
        else:
            ctx.journal.failed(entry.id, {"settled": "not applied"})
    else:
        # Updates, deletes and status changes are idempotent: redone if still needed.
        ctx.journal.failed(entry.id, {"settled": "redo if still needed"})
