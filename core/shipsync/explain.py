"""``shipsync explain``: why an order was or was not imported, and its writeback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from .engine import Engine
from .http import TransportError

__all__ = ["explain_order"]

LINK_STATES = {
    "imported": "in {sink} as {number}, waiting for its label to be printed",
    "printed": "label printed in {sink} ({number}); the writeback has not gone through yet: "
               "{detail}",
    "written_back": "label printed in {sink} ({number}); written back: {detail}",
    "awaiting_pickup": "printed for Pickup In Store in {sink} ({number}): {detail}",
    "deleted": "was in {sink} as {number}, deleted: {detail}",
    "not_shippable": "label printed in {sink} ({number}) but not written back: {detail}",
}


def _live(engine: Engine, source_name: str, store: str, cfg: dict[str, Any],
          order_id: str) -> tuple[list[str], bool]:
    """What the source says of the order now; (lines, found)."""
    source = engine.source(source_name, store, cfg)
    try:
        result = source.current_orders([order_id]).get(order_id)
    except TransportError as exc:
        return [f"could not ask {source_name}: {exc}"], False
    finally:
        source.close()
    if result is None:
        return [f"not found in {source_name} store {store!r}"], False
    if result.error:
        return [f"cannot be read as an order: {result.error}"], True
    order = result.order
    lines = []
    statuses = cfg.get("import_statuses") or []
    status = order["status_id"]
    label = f"{order.get('status') or 'status'} ({status})"
    if status in statuses:
        lines.append(f"status {label} is one of import_statuses {statuses}")
    else:
        lines.append(f"status {label} is not one of import_statuses {statuses}: not imported")
    reason = source.not_shippable_reason(status)
    if reason:
        lines.append(f"{reason}: never imported, and withdrawn if it was")
    created = datetime.fromisoformat(order["date_created"])
    days = int(cfg.get("days", 7))
    if created < datetime.now(timezone.utc) - timedelta(days=days):
        lines.append(f"created {created:%Y-%m-%d}, more than {days} days ago (days = {days}): "
                     f"`shipsync run {source_name} --days N` imports older orders")
    if not order["destinations"]:
        left = sorted({line["reason"] for line in order.get("left_out") or []})
        lines.append("nothing to ship" + (f": {', '.join(left)}" if left else ""))
    for destination in order["destinations"]:
        where = f"destination {destination['destination_id']} ({destination['kind']})"
        if destination["kind"] == "pickup" and not cfg.get("pickup_in_store"):
            lines.append(f"{where}: pickup in store, skipped because Enable Pickup in Store "
                         "(pickup_in_store) is off")
        elif not destination["items"]:
            lines.append(f"{where}: nothing left to ship")
        else:
            count = sum(i["quantity"] for i in destination["items"])
            lines.append(f"{where}: {count} item(s) still to ship")
    return lines, True


def explain_order(engine: Engine, source_name: str, order_id: str, *, store: str | None = None,
                  offline: bool = False) -> dict[str, Any]:
    stores = engine.stores(source_name, store)
    state = engine.state
    known = [(name, cfg) for name, cfg in stores
             if state.links_for_order(source_name, name, order_id)
             or state.events(source_name, name, order_id)]
    candidates = known or stores
    chosen_name = candidates[0][0]
    live_lines: list[str] = []
    if not offline:
        answers = []
        for name, cfg in candidates:
            lines, found = _live(engine, source_name, name, cfg, order_id)
            if found or len(candidates) == 1:
                chosen_name, live_lines = name, lines
                break
            answers.append(f"store {name!r}: {lines[0]}")
        else:
            # Say what each store answered: "not found" and "could not ask" differ.
            live_lines = answers
    summary = list(live_lines)
    links = state.links_for_order(source_name, chosen_name, order_id)
    for link in links:
        template = LINK_STATES.get(link.state, "{state}: {detail}")
        detail = link.detail if not link.detail.startswith("{") else "see the history below"
        summary.append(f"destination {link.destination_id}: " + template.format(
            sink=link.sink, number=link.order_number, detail=detail or "-", state=link.state))
    quarantined = [q for q in state.quarantined(source_name, chosen_name)
                   if q["order_id"] == order_id]
    for entry in quarantined:
        summary.append(f"failed {entry['attempts']} time(s), last {entry['last_seen'][:19]}: "
                       f"{entry['reason']} — retried on every run")
    if not links and not quarantined and not live_lines:
        summary.append("shipsync has no record of this order")
    return {
        "source": source_name,
        "store": chosen_name,
        "order_id": order_id,
        "summary": summary,
        "links": [link.__dict__ for link in links],
        "quarantine": quarantined,
        "events": state.events(source_name, chosen_name, order_id),
    }
