"""Pickup in Store: a status-policy plugin of its own (entry point ``pickup-in-store``).

With the store's ``pickup_in_store`` on, an order printed with the sink's
pickup-in-store carrier (Starshipit's Pickup In Store; the sink marks the
shipment record ``pickup``) gets no shipment (there is no parcel to track) and
goes to BigCommerce status 8, Awaiting Pickup. Disable the plugin, or leave
``pickup-in-store`` out of a store's ``status_policies``, to change that.
"""

from __future__ import annotations

from shipsync import StatusPolicySpec, WritebackContext, WritebackDecision, hookimpl

__all__ = ["AWAITING_PICKUP", "decide"]

AWAITING_PICKUP = 8


def decide(context: WritebackContext) -> WritebackDecision | None:
    if not context.store_config.get("pickup_in_store") or not context.shipment.get("pickup"):
        return None
    return WritebackDecision(False, AWAITING_PICKUP,
                             "printed with Pickup In Store: no shipment, Awaiting Pickup (8)",
                             pickup=True)


@hookimpl
def shipsync_status_policies() -> list[StatusPolicySpec]:
    return [StatusPolicySpec(
        name="pickup-in-store", decide=decide, order=50,
        description="Pickup In Store labels set Awaiting Pickup (8) instead of a shipment.")]
