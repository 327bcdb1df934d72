"""BigCommerce order statuses and the default status policy (``update-status``)."""

from __future__ import annotations

from typing import Any

import typer
from shipsync import WritebackContext, WritebackDecision
from shipsync.output import console, print_json
from rich.table import Table

__all__ = ["STATUS_NAMES", "NOT_SHIPPABLE", "update_status", "statuses_command"]

STATUS_NAMES: dict[int, str] = {
    0: "Incomplete", 1: "Pending", 2: "Shipped", 3: "Partially Shipped", 4: "Refunded",
    5: "Cancelled", 6: "Declined", 7: "Awaiting Payment", 8: "Awaiting Pickup",
    9: "Awaiting Shipment", 10: "Completed", 11: "Awaiting Fulfillment",
    12: "Manual Verification Required", 13: "Disputed", 14: "Partially Refunded",
}

# An order in one of these must not be shipped: its Starshipit order is withdrawn.
NOT_SHIPPABLE = {0, 4, 5, 6}

ROLES = {9: "imported by default", 11: "imported by default", 2: "written back (default)",
         10: "written back (update_status = 10)", 8: "written back for Pickup In Store",
         3: "set by BigCommerce while some addresses remain",
         4: "withdrawn from Starshipit", 5: "withdrawn from Starshipit",
         6: "withdrawn from Starshipit"}


def update_status(context: WritebackContext) -> WritebackDecision:
    """Post the shipment, then set the store's update_status once every address has shipped."""
    status = int(context.store_config.get("update_status", 2))
    if not context.all_destinations_shipped:
        return WritebackDecision(True, None, "shipment posted; other addresses still to ship "
                                 "(BigCommerce shows Partially Shipped)")
    return WritebackDecision(True, status, f"label printed: {STATUS_NAMES[status]} ({status})")


def statuses_command(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The BigCommerce order status codes, and what shipsync does with each."""
    rows: list[dict[str, Any]] = [
        {"id": i, "name": name, "shipsync": ROLES.get(i, "")} for i, name in STATUS_NAMES.items()
    ]
    if as_json:
        print_json({"statuses": rows})
        return
    table = Table(title="BigCommerce order statuses")
    table.add_column("id", justify="right")
    table.add_column("name")
    table.add_column("shipsync")
    for row in rows:
        table.add_row(str(row["id"]), row["name"], row["shipsync"])
    console().print(table)
