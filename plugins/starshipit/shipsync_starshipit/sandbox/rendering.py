"""Views of a record: timestamps, events, label answers, shipped rows, tracking results.

Timestamps carry 7 fractional digits (``ticks``): UTC with a ``Z``, or (the
``local`` dates variant) the account's wall time without any offset; a printed
label is a tiny but well-formed one-page PDF (``fake_label_pdf``). A shipped row
is flat (one tracking number) or, in the ``packages`` variant, carries every parcel.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from .state import _Record


def ticks(moment: datetime, zulu: bool = True, zone: tzinfo | None = None) -> str:
    """ISO-8601 with 7 fractional digits, like .NET's DateTime: UTC (with ``Z`` unless
    ``zulu`` is False), or the wall time in ``zone`` with no offset at all."""
    wall = moment.astimezone(zone or UTC)
    # The 7th digit is derived, not random, so the same instant prints the same text.
    text = (wall.strftime("%Y-%m-%dT%H:%M:%S")
            + f".{wall.microsecond:06d}{wall.microsecond % 10}")
    return text + "Z" if zulu and zone is None else text


def fake_label_pdf(lines: Sequence[str]) -> bytes:
    """A tiny but well-formed one-page 4x6" PDF holding the given lines."""
    text = " / ".join(lines).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content = f"BT /F1 9 Tf 18 400 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 288 432] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _event(now: datetime, category: str, name: str, description: str,
           zone: tzinfo | None = None) -> dict[str, Any]:
    return {
        "time": ticks(now, zone=zone),
        "category": category,
        "name": name,
        "method": "API",
        "description": description,
    }


def _tracking_status(order: dict[str, Any]) -> tuple[str, str]:
    """(short, full) tracking status of a printed order."""
    if order["status"] == "Delivered":
        return "Delivered", "Delivered"
    if order["carrier"] == "PickupInStore":
        return "PickupInStore", "Ready for pickup in store"
    return "Printed", "Label printed, awaiting dispatch"


def _label_answer(record: _Record) -> dict[str, Any]:
    order = record.order
    return {
        "order_id": order["order_id"],
        "order_number": order["order_number"],
        "carrier_name": order["carrier_name"],
        "tracking_numbers": [p["tracking_number"] for p in order["packages"]],
        "labels": [record.label],
        "label_types": ["Default"],
        "success": True,
    }


def shipped_row(record: _Record, packages: bool = True,
                zone: tzinfo | None = None) -> dict[str, Any]:
    """The flat ShippedOrder row of /api/orders/shipped; with ``packages``, every parcel too."""
    order = record.order
    first = order["packages"][0] if order["packages"] else {}
    destination = order["destination"] or {}
    short, full = _tracking_status(order)
    row = {
        "order_id": order["order_id"],
        "order_date": order["order_date"],
        "shipped_date": ticks(record.shipped_at, zone=zone) if record.shipped_at else None,
        "order_number": order["order_number"],
        "reference": order["reference"],
        "integration_source_name": order["platform"],
        "name": destination.get("name"),
        "country": destination.get("country"),
        "state": destination.get("state"),
        "carrier": order["carrier"],
        "carrier_name": order["carrier_name"],
        "carrier_service_code": order["carrier_service_code"],
        "carrier_service_name": order["carrier_service_name"],
        "shipment_type": None,
        "tracking_number": first.get("tracking_number"),
        "tracking_url": first.get("tracking_url"),
        "tracking_short_status": short,
        "tracking_full_status": full,
        "manifest_number": order["manifest_number"],
        "manifest_sent": order["manifested"],
        "writeback_status": None,
        "writeback_details": None,
    }
    if packages:
        row["packages"] = copy.deepcopy(order["packages"])
    return row


def shipment_row(record: _Record, zone: tzinfo | None = None) -> dict[str, Any]:
    """One row of ``GET /api/orders/shipments``: a printed label and every parcel's number."""
    order = record.order
    destination = order["destination"] or {}
    return {
        "order_id": order["order_id"],
        "order_number": order["order_number"],
        "date": ticks(record.shipped_at, zone=zone) if record.shipped_at else None,
        "name": destination.get("name"),
        "carrier_name": order["carrier_name"],
        "carrier_service_code": order["carrier_service_code"],
        "tracking_numbers": [p["tracking_number"] for p in order["packages"]
                             if p["tracking_number"]],
        "country": destination.get("country"),
    }


def track_results(record: _Record, package: dict[str, Any] | None,
                  zone: tzinfo | None = None) -> dict[str, Any]:
    """The ``results`` of GET /api/track for one parcel (None: the order has no label yet)."""
    order = record.order
    if package is None or record.shipped_at is None:
        return {
            "order_number": order["order_number"],
            "order_status": order["status"],
            "carrier_name": order["carrier_name"],
            "carrier_service": order["carrier_service_code"],
            "tracking_number": None,
            "tracking_url": None,
            "shipment_date": None,
            "tracking_status": None,
            "last_updated_date": ticks(record.last_updated, zulu=False, zone=zone),
            "tracking_events": [],
        }
    short, full = _tracking_status(order)
    events = [
        {
            "event_datetime": ticks(record.shipped_at, zulu=False, zone=zone),
            "status": "Printed",
            "details": "Label printed",
        }
    ]
    if short != "Printed":
        events.append(
            {
                "event_datetime": ticks(record.last_updated, zulu=False, zone=zone),
                "status": short,
                "details": full,
            }
        )
    return {
        "order_number": order["order_number"],
        "order_status": "Delivered" if order["status"] == "Delivered" else "Awaiting Dispatch",
        "carrier_name": order["carrier_name"],
        "carrier_service": package["carrier_service_code"],
        "tracking_number": package["tracking_number"],
        "tracking_url": package["tracking_url"],
        "shipment_date": ticks(record.shipped_at, zone=zone),
        "tracking_status": short,
        "last_updated_date": ticks(record.last_updated, zulu=False, zone=zone),
        "tracking_events": events,
    }
