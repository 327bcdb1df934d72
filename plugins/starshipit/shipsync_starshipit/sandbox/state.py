"""The emulator's in-memory data model: accounts and their order records.

An ``_Account`` (one API key, under one subscription key) holds its orders by
``order_id`` and an index from ``order_number`` to ``order_id``; each
``_Record`` keeps the full order model exactly as served, plus what the model
does not show (when it last changed, when it was printed, its label).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

UNSHIPPED_STATUSES = ("Unshipped", "Saved")
SHIPPED_STATUSES = ("Printed", "Delivered")
STATUS_SEQUENCE = ("Unshipped", "Saved", "Printed", "Delivered")


@dataclass
class _Record:
    order: dict[str, Any]  # the full order model, exactly as served
    last_updated: datetime
    shipped_at: datetime | None = None
    label: str | None = None  # base64 PDF of the printed label


@dataclass
class _Account:
    api_key: str
    subscription_key: str
    orders: dict[int, _Record] = field(default_factory=dict)
    order_ids: dict[str, int] = field(default_factory=dict)  # order_number -> order_id
