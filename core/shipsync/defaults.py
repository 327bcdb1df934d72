"""The core's last-resort implementations of the decision hooks.

Registered directly (not through an entry point) and ``trylast``, so that any
plugin's implementation of the same hook is asked first.
"""

from __future__ import annotations

from dataclasses import replace

from .contracts import CanonicalOrder
from .hookspecs import hookimpl
from .registry import WritebackContext, WritebackDecision


@hookimpl(trylast=True)
def shipsync_writeback_decision(context: WritebackContext) -> WritebackDecision | None:
    """Ask the store's configured status policies in order; the first answer wins."""
    for policy in context.policies:
        decision = policy.decide(context)
        if decision is not None:
            return decision if decision.policy else replace(decision, policy=policy.name)
    return WritebackDecision(True, None, "no status policy decided: tracking only", "")


@hookimpl(trylast=True)
def shipsync_order_number(order: CanonicalOrder, destination_index: int, prefix: str) -> str:
    """``prefix + order_id``, suffixed -1, -2, ... when the order has several destinations."""
    number = f"{prefix}{order['order_id']}"
    if len(order["destinations"]) > 1:
        number += f"-{destination_index + 1}"
    return number


@hookimpl(trylast=True)
def shipsync_tracking_carrier(carrier: str, carrier_name: str, source: str) -> str:
    """Unknown carrier: an empty value lets the source fall back to its default."""
    return ""
