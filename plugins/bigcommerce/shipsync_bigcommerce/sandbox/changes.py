"""Merchant-side changes to an existing order (``update_order``, and ``PUT /v2/orders/{id}``).

Every change is checked before any is applied, so a refused change leaves the
order as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .building import _check_keys
from .formats import _as_datetime
from .state import ADDRESS_FIELDS, ORDER_STATUSES, _Order

_SCALAR_CHANGES = frozenset((
    "status_id", "customer_id", "staff_notes", "customer_message", "payment_method",
    "payment_status", "is_deleted", "channel_id", "external_order_id", "order_source",
    "customer_locale", "cart_id", "ip_address", "currency_code", "is_email_opt_in",
))
_CHANGE_KEYS = _SCALAR_CHANGES | {
    "date_created", "date_shipped", "date_modified", "billing_address", "shipping_address",
    "shipping_addresses", "quantities", "quantity_shipped", "quantity_refunded",
}


def _apply_changes(order: _Order, changes: Mapping[str, Any]) -> None:
    """Apply merchant-side changes; validates everything before changing anything."""
    _check_keys("order change", changes, frozenset(_CHANGE_KEYS))
    if "status_id" in changes and changes["status_id"] not in ORDER_STATUSES:
        raise ValueError(f"status_id {changes['status_id']!r} is not one of 0-14")
    lines = {line.id: line for line in order.lines}
    addresses = {address.id: address for address in order.addresses}
    counts: dict[int, dict[str, int]] = {}
    for key in ("quantities", "quantity_shipped", "quantity_refunded"):
        for line_id, value in (changes.get(key) or {}).items():
            if int(line_id) not in lines:
                raise KeyError(f"order {order.id} has no line {line_id}")
            counts.setdefault(int(line_id), {})[key] = int(value)
    for line_id, new in counts.items():
        line = lines[line_id]
        quantity = new.get("quantities", line.quantity)
        shipped = new.get("quantity_shipped", line.quantity_shipped)
        refunded = new.get("quantity_refunded", line.quantity_refunded)
        if quantity < 1 or min(shipped, refunded) < 0 or shipped + refunded > quantity:
            raise ValueError(f"line {line_id}: quantity {quantity} cannot cover {shipped} shipped "
                             f"and {refunded} refunded")
    address_changes: dict[int, Mapping[str, Any]] = {
        int(k): v for k, v in (changes.get("shipping_addresses") or {}).items()}
    if changes.get("shipping_address"):
        if not order.addresses:
            raise ValueError(f"order {order.id} has no shipping address")
        address_changes[order.addresses[0].id] = changes["shipping_address"]
    for address_id, fields in address_changes.items():
        if address_id not in addresses:
            raise KeyError(f"order {order.id} has no shipping address {address_id}")
        _check_keys("address", fields, frozenset(ADDRESS_FIELDS))
    _check_keys("address", changes.get("billing_address") or {}, frozenset(ADDRESS_FIELDS))

    for name in _SCALAR_CHANGES & set(changes):
        setattr(order, name, changes[name])
    for name in ("date_created", "date_shipped"):
        if name in changes:
            value = changes[name]
            setattr(order, name, _as_datetime(value, name) if value else None)
    for name, value in (changes.get("billing_address") or {}).items():
        setattr(order.billing, name, str(value))
    for address_id, fields in address_changes.items():
        for name, value in fields.items():
            setattr(addresses[address_id], name, str(value))
    for line_id, new in counts.items():
        line = lines[line_id]
        line.quantity = new.get("quantities", line.quantity)
        line.quantity_shipped = new.get("quantity_shipped", line.quantity_shipped)
        line.quantity_refunded = new.get("quantity_refunded", line.quantity_refunded)
