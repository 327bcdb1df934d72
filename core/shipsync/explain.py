"""``shipsync explain``: an order's story, in time.

First what happened to it (imported when, updated, written back, failed), then
where each of its sink orders stands now, then what the source says of it now,
and only then why a run would or would not import it *today*. An order that
was imported and has since shipped is not "not imported": its history says what
was done, and today's reasons are given as today's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .engine import Engine
from .http import TransportError
from .settings import StoreSettings
from .state import Link

__all__ = ["Story", "explain_order", "story_of"]

LINK_STATES = {
    "imported": "in {sink} as {number}, waiting for its label to be printed",
    "printed": "label printed in {sink} ({number}); the writeback has not gone through yet",
    "written_back": "label printed in {sink} ({number}); written back: {detail}",
    "awaiting_pickup": "printed for Pickup In Store in {sink} ({number}): {detail}",
    "deleted": "was in {sink} as {number}, deleted: {detail}",
    "not_shippable": "label printed in {sink} ({number}) but not written back: {detail}",
    "removed": "was in {sink} as {number}, removed there by hand: not sent again "
               "(`shipsync resend` sends it again)",
}


@dataclass
class Story:
    """What ``explain`` tells of one order."""

    source: str
    store: str
    order_id: str
    found: bool = False  # shipsync has a record of it, or the source has the order
    history: list[dict[str, Any]] = field(default_factory=list)  # events, oldest first
    standing: list[str] = field(default_factory=list)  # where each sink order stands now
    now: list[str] = field(default_factory=list)  # what the source says of it now
    today: list[str] = field(default_factory=list)  # what a run would do with it today
    links: list[Link] = field(default_factory=list)
    quarantine: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> list[str]:
        return self.standing + self.now + self.today

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "store": self.store, "order_id": self.order_id,
                "found": self.found, "summary": self.summary, "standing": self.standing,
                "now": self.now, "today": self.today,
                "links": [link.__dict__ for link in self.links],
                "quarantine": self.quarantine, "events": self.history}


def _live(engine: Engine, source_name: str, settings: StoreSettings, order_id: str,
          imported: bool) -> tuple[list[str], list[str], bool]:
    """What the source says of the order now, and what a run would do with it today."""
    source = engine.source(source_name, settings)
    try:
        result = source.current_orders([order_id]).get(order_id)
        if result is None:
            return [f"not found in {source_name} store {settings.name!r}"], [], False
        if result.error or result.order is None:
            return [f"cannot be read as an order: {result.error}"], [], True
        order = result.order
        label = f"{order.get('status') or 'status'} ({order['status_id']})"
        now = [f"{source_name} says: status {label}"]
        today: list[str] = []
        reason = source.not_importable_reason(order)
        withdrawn = source.not_shippable_reason(order["status_id"])
    except TransportError as exc:
        return [f"could not ask {source_name}: {exc}"], [], False
    finally:
        source.close()
    if withdrawn and imported:
        today.append(f"{withdrawn}: a run withdraws its sink orders whose label is not "
                     "printed yet")
    elif withdrawn:
        today.append(f"{withdrawn}: a run would not import it")
    elif reason and imported:
        # Imported back then; today's status is only why a run would not import it anew.
        today.append(f"a run leaves it be: {reason}, and it was imported already (above)")
    elif reason:
        today.append(f"{reason}: a run would not import it")
    elif imported:
        today.append(f"status {label} is one of the statuses this store imports: a run "
                     "updates its unprinted sink orders if it changes")
    else:
        today.append(f"status {label} is one of the statuses this store imports")
    created = datetime.fromisoformat(order["date_created"])
    if created < datetime.now(timezone.utc) - timedelta(days=settings.days):
        today.append(f"created {created:%Y-%m-%d}, more than {settings.days} days ago "
                     f"(days = {settings.days}): `shipsync run {source_name} --days N` "
                     "imports older orders")
    if not order["destinations"]:
        left = sorted({line["reason"] for line in order.get("left_out") or []})
        today.append("nothing to ship" + (f": {', '.join(left)}" if left else ""))
    for destination in order["destinations"]:
        where = f"destination {destination['destination_id']} ({destination['kind']})"
        if destination["kind"] == "pickup" and not settings.pickup_in_store:
            today.append(f"{where}: pickup in store, skipped because Enable Pickup in Store "
                         "(pickup_in_store) is off")
        elif not destination["items"]:
            today.append(f"{where}: nothing left to ship")
        else:
            count = sum(i["quantity"] for i in destination["items"])
            today.append(f"{where}: {count} item(s) still to ship")
    return now, today, True


def explain_order(engine: Engine, source_name: str, order_id: str, *, store: str | None = None,
                  offline: bool = False) -> dict[str, Any]:
    """The story of ``order_id`` in the store that knows it (or asks each store)."""
    return story_of(engine, source_name, order_id, store=store, offline=offline).to_dict()


def story_of(engine: Engine, source_name: str, order_id: str, *, store: str | None = None,
             offline: bool = False) -> Story:
    stores = engine.stores(source_name, store)
    state = engine.state
    known = [s for s in stores if state.links_for_order(source_name, s.name, order_id)
             or state.events(source_name, s.name, order_id)
             or order_id in state.forgotten(source_name, s.name)]
    candidates = known or stores
    chosen = candidates[0]
    now: list[str] = []
    today: list[str] = []
    found_live = False
    if not offline:
        answers = []
        for settings in candidates:
            imported = bool(state.links_for_order(source_name, settings.name, order_id))
            lines, later, found = _live(engine, source_name, settings, order_id, imported)
            if found or len(candidates) == 1:
                chosen, now, today, found_live = settings, lines, later, found
                break
            answers.append(f"store {settings.name!r}: {lines[0]}")
        else:
            now = answers  # what each store answered: "not found" and "could not ask" differ
    story = Story(source_name, chosen.name, order_id, now=now, today=today)
    story.links = state.links_for_order(source_name, chosen.name, order_id)
    forgotten = state.forgotten(source_name, chosen.name).get(order_id)
    removed = bool(story.links) and all(link.state == "removed" for link in story.links)
    if today and (forgotten or removed):
        # Taken out of shipsync's hands: whatever the source says, a run does not touch it.
        why = "it was forgotten" if forgotten else "it was removed from the sink by hand"
        story.today = [f"a run leaves it alone: {why} (`shipsync resend {source_name} "
                       f"{order_id}` sends it again)"] + today[1:]
    for link in story.links:
        template = LINK_STATES.get(link.state, "{state}: {detail}")
        detail = link.detail if not link.detail.startswith("{") else "see the history"
        story.standing.append(f"destination {link.destination_id}: " + template.format(
            sink=link.sink, number=link.order_number, detail=detail or "-", state=link.state))
    if forgotten:
        story.standing.append(f"forgotten on {forgotten['at'][:10]} (`shipsync forget`): "
                              "shipsync leaves it alone (`shipsync resend` takes it back)")
    story.quarantine = [q for q in state.quarantined(source_name, chosen.name)
                        if q["order_id"] == order_id]
    for entry in story.quarantine:
        story.standing.append(f"failed {entry['attempts']} time(s), last "
                              f"{entry['last_seen'][:19]}: {entry['reason']} — retried on "
                              "every run")
    story.history = state.events(source_name, chosen.name, order_id)
    story.found = bool(story.links or story.quarantine or story.history or found_live
                       or forgotten)
    if not story.found and not story.now:
        story.standing.append("shipsync has no record of this order")
    return story

