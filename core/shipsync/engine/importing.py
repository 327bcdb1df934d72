"""The import step: source orders into sink orders, one per destination.

For each order read from the source: validate it (schemas/order.json), run the
mappers (each output validated again), then plan each destination: a new one
is batched for the sink, a changed one updates its unprinted sink order, one
with nothing left to ship withdraws it. Orders the source reports cancelled or
refunded since the last run are withdrawn too (``withdrawing``); new orders go
out in batches (``creating``). Every sink write is journaled.

``Importer.run`` is the whole step for a store; ``Importer.import_orders``
handles a page of results, ``Importer.import_order`` one order by id and
``Importer.import_by_id`` a few orders by id (webhooks'), with the same rules.
``Importer.resend`` sends one order again (``shipsync resend``): its sink orders
the merchant removed by hand, or that were withdrawn, are created anew.

Orders taken out of shipsync's hands (removed from the sink by hand, or
``shipsync forget``) are counted as left alone and not touched.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from time import monotonic
from typing import Iterable

from .. import records
from ..contracts import CanonicalOrder, OrderResult, SinkPayload
from ..state import Link
from ..streams import prefetch
from .context import RunContext, parse_iso
from .creating import Creator, Pending
from .journal import fingerprint
from .settling import settle
from .withdrawing import Withdrawer

__all__ = ["IMPORT_OVERLAP", "Importer"]

#: Read again before the bookmark: changes that landed while the last read was under way.
IMPORT_OVERLAP = timedelta(minutes=5)
#: Link states of a sink order that is no longer there: ``resend`` creates it anew.
GONE = ("removed", "deleted")


class Importer:
    """The import step of one store's run."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.creator = Creator(ctx)
        self.withdrawer = Withdrawer(ctx, self._replan)
        self.planned: set[str] = set()  # order numbers this run creates (or would, dry)
        self.quarantined: set[str] = set()  # order ids quarantined when the step began
        self.in_doubt: set[str] = set()  # order numbers whose create is still unsettled
        self.resending: set[str] = set()  # order ids whose gone sink orders are sent again
        self.gone: set[str] = set()  # order numbers the sink no longer has (resend)

    # -- the step -----------------------------------------------------------------------
    def run(self) -> None:
        """Import every order to import since the bookmark (or the last ``days``)."""
        ctx = self.ctx
        self._begin()
        key = f"import:{ctx.source_name}:{ctx.store}"
        bookmark = parse_iso(ctx.state.get_bookmark(key))
        days = ctx.options.days or ctx.settings.days
        created_since = ctx.source_now() - timedelta(days=days)
        # An explicit --days is a backfill of the whole window; otherwise only what changed.
        overlap = self._overlap(ctx)
        modified_since = (bookmark - overlap) if bookmark and not ctx.options.days else None
        started = monotonic()
        newest = bookmark  # the source's own clock: the newest change seen, never ours
        seen: set[str] = set()
        try:
            pages = ctx.source.orders_to_import(created_since=created_since,
                                                modified_since=modified_since)
            for page in prefetch(pages) if ctx.concurrency > 1 else pages:
                ctx.check_stop()
                seen.update(r.order_id for r in page)
                newest = _newest(newest, page)
                self.import_orders(page)
            retry = [order_id for order_id in sorted(self.quarantined) if order_id not in seen]
            if retry:
                for page in ctx.source.orders_by_id(retry):
                    ctx.check_stop()
                    self.import_orders(page, retry=True)
            if bookmark:
                self.withdrawer.withdraw_changed(bookmark - overlap)
            self.creator.flush(final=True)
        finally:
            self.creator.close()
        if not ctx.dry and newest is not None:
            ctx.state.set_bookmark(key, newest.isoformat())
            # How long the read took: the next one must reach that far back at least.
            ctx.state.set_bookmark(f"{key}:read_seconds", f"{monotonic() - started:.1f}")

    def import_order(self, order_id: str) -> None:
        """Import, update or withdraw one order, as a run would (e.g. after a webhook)."""
        self.import_by_id([order_id])

    def import_by_id(self, order_ids: Iterable[str]) -> None:
        """Import, update or withdraw these orders (a few webhooks' worth), read by id."""
        self._begin()
        try:
            for page in self.ctx.source.orders_by_id(sorted(set(order_ids))):
                self.ctx.check_stop()
                self.import_orders(page, retry=True)
            self.creator.flush(final=True)
        finally:
            self.creator.close()

    def resend(self, order_id: str) -> None:
        """Send one order again: sink orders removed by hand or withdrawn are created anew.

        The order is read by id and planned as a run would, except that its gone sink
        orders count as new; one the store does not import today is reported, not sent.
        """
        ctx = self.ctx
        self._begin()
        self.resending.add(order_id)
        if not ctx.dry and order_id in ctx.forgotten:
            ctx.state.unforget(ctx.source_name, ctx.store, order_id)
            ctx.event(order_id, "resent", "taken back by `shipsync resend` (it was forgotten)")
        ctx.forgotten.discard(order_id)
        # A sink order removed by hand and never noticed (its order did not change since):
        # asked for, so that it is sent again rather than counted as already there.
        for link in ctx.state.links_for_order(ctx.source_name, ctx.store, order_id):
            if link.state == "imported" and ctx.sink.find_order(link.order_number) is None:
                self.gone.add(link.order_number)
        found = False
        try:
            for page in ctx.source.orders_by_id([order_id]):
                for result in page:
                    found = True
                    order = result.order
                    reason = ctx.source.not_importable_reason(order) if order else None
                    if reason:
                        ctx.skip(order_id, f"not sent again: {reason}")
                        continue
                    self.import_orders([result])
            self.creator.flush(final=True)
        finally:
            self.creator.close()
        if not found:
            ctx.fail(order_id, f"not found in {ctx.source_name} store {ctx.store!r}",
                     quarantine=False)

    def _begin(self) -> None:
        ctx = self.ctx
        settle(ctx)
        self.quarantined = {q["order_id"] for q in
                            ctx.state.quarantined(ctx.source_name, ctx.store)}
        self.in_doubt = set() if ctx.dry else ctx.journal.open_keys(ctx.sink_name,
                                                                     "create_order")

    @staticmethod
    def _overlap(ctx: RunContext) -> timedelta:
        last_read = ctx.state.get_bookmark(f"import:{ctx.source_name}:{ctx.store}:read_seconds")
        try:
            read = timedelta(seconds=float(last_read or 0))
        except ValueError:
            read = timedelta(0)
        return max(IMPORT_OVERLAP, read + IMPORT_OVERLAP)

    # -- a page -------------------------------------------------------------------------
    def import_orders(self, page: Iterable[OrderResult], *, retry: bool = False,
                      existing_only: bool = False) -> None:
        """Map and plan each order of a page; full batches go to the sink as they fill.

        ``retry``: the orders were read by id, whatever their status (quarantined
        ones, a webhook's): one the store no longer imports is released and, if it
        must not ship, withdrawn. ``existing_only``: only touch destinations already
        in the sink (an order partly refunded).
        """
        ctx = self.ctx
        for result in page:
            ctx.tick("import")
            order_id = result.order_id
            if order_id in ctx.forgotten:
                ctx.left_alone(order_id)
                continue
            if result.error:
                ctx.fail(order_id, result.error, result.raw)
                continue
            order = result.order
            if order is None:
                continue
            if retry and ctx.source.not_importable_reason(order):
                # No longer to import: the merchant moved it on; stop retrying it.
                self._release(order_id)
                self.withdrawer.withdraw_order(order_id, order["status_id"])
                continue
            mapped = self.map_order(order)
            if mapped is None:
                continue
            self._release(order_id)
            self.plan_destinations(mapped, existing_only=existing_only)

    def _replan(self, order: CanonicalOrder) -> None:
        """Plan an order's existing destinations again (e.g. lines refunded)."""
        mapped = self.map_order(order)
        if mapped:
            self.plan_destinations(mapped, existing_only=True)

    def _release(self, order_id: str) -> None:
        if not self.ctx.dry and order_id in self.quarantined:
            self.ctx.state.release(self.ctx.source_name, self.ctx.store, order_id)
            self.quarantined.discard(order_id)

    def map_order(self, order: CanonicalOrder) -> CanonicalOrder | None:
        """The order through the configured mappers, valid before and after each; or None."""
        ctx = self.ctx
        order_id = order["order_id"]
        problems = records.errors_of("order.json", order)
        if problems:
            ctx.fail(order_id, "invalid order: " + "; ".join(map(str, problems[:5])), order)
            return None
        context = ctx.plugin_context()
        for mapper in ctx.mappers:
            try:
                order = mapper.map(order, context)
            except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the run
                ctx.fail(order_id, f"mapper {mapper.name!r} failed: {type(exc).__name__}: {exc}",
                         order)
                return None
            problems = records.errors_of("order.json", order)
            if problems:
                ctx.fail(order_id, f"invalid order after mapper {mapper.name!r}: "
                         + "; ".join(map(str, problems[:5])), order)
                return None
        return order

    def plan_destinations(self, order: CanonicalOrder, *, existing_only: bool = False) -> None:
        """Decide each destination: batch it, update or withdraw its sink order, or skip it."""
        ctx = self.ctx
        order_id = order["order_id"]
        if not order["destinations"]:
            reasons = sorted({line["reason"] for line in order.get("left_out") or []})
            ctx.skip(order_id, "nothing left to ship" + (f" ({', '.join(reasons)})"
                                                         if reasons else ""))
            return
        resending = order_id in self.resending
        for index, destination in enumerate(order["destinations"]):
            link = ctx.state.get_link(ctx.source_name, ctx.store, order_id,
                                      destination["destination_id"])
            why = "new order in an import status"
            if link is not None and resending and (link.state in GONE
                                                   or link.order_number in self.gone):
                why = ("sent again: it was withdrawn "
                       f"({link.detail or 'deleted'})" if link.state == "deleted" else
                       "sent again: it was removed from the sink by hand")
                link = None
            elif link is not None and link.state == "removed":
                # Removed from the sink by hand: reported once, when it was noticed.
                ctx.left_alone(order_id)
                continue
            if destination["kind"] == "pickup":
                if not ctx.settings.pickup_in_store:
                    ctx.skip(order_id, "pickup in store (Enable Pickup in Store is off)")
                    continue
                if ctx.sink.capabilities.pickup_carrier:
                    destination["carrier"] = ctx.sink.capabilities.pickup_carrier
            number = ctx.hook.shipsync_order_number(order=order, destination_index=index,
                                                    prefix=ctx.settings.order_prefix)
            if not destination["items"]:
                if link and link.state == "imported":
                    self.withdrawer.delete(link, "nothing left to ship in the source (refunded or "
                                           "shipped "
                                "outside shipsync)")
                else:
                    ctx.skip(order_id, "nothing left to ship")
                continue
            try:
                payload = ctx.sink.payload(number, order, destination)
            except ValueError as exc:
                ctx.fail(order_id, f"{number}: {exc}", order)
                continue
            fp = fingerprint(payload)
            if link is None or link.state == "deleted":
                if existing_only or number in self.planned:
                    continue
                taken = ctx.state.link_by_number(ctx.sink_name, number)
                if taken is not None and (taken.source, taken.store, taken.order_id,
                                          taken.destination_id) != (
                        ctx.source_name, ctx.store, order_id, destination["destination_id"]):
                    # Two orders, one number (a numbering plugin, or prefixes that collide).
                    ctx.fail(order_id, f"{number} is already the {ctx.sink_name} order of "
                             f"{taken.source} store {taken.store!r} order {taken.order_id}: "
                             "order numbers collide; give each store an order_prefix that "
                             "ends with a character that is not a digit", order)
                    continue
                if number in self.in_doubt:
                    ctx.skip(order_id, "an earlier create of it is still in doubt: looked up "
                             "again before anything is sent")
                    continue
                self.planned.add(number)
                self.creator.add(Pending(order, destination, number, payload, fp, why=why))
                if ctx.dry:
                    ctx.action("import", order_id, why, number)
            elif link.state == "imported" and link.fingerprint != fp:
                self.update(link, order, payload, fp)
            else:
                with ctx.lock:
                    ctx.report.already_imported += 1

    # -- updating -----------------------------------------------------------------------
    def update(self, link: Link, order: CanonicalOrder, payload: SinkPayload, fp: str) -> None:
        """Replace an unprinted sink order whose source order changed."""
        ctx = self.ctx
        order_id = order["order_id"]
        why = "changed in the source since it was imported"
        if ctx.dry:
            with ctx.lock:
                ctx.report.updated += 1
            ctx.action("update", order_id, why, link.order_number)
            return
        journal = {"source": ctx.source_name, "store": ctx.store, "order_id": order_id,
                   "destination_id": link.destination_id, "order_number": link.order_number,
                   "fingerprint": fp}
        outcome = ctx.journal.journaled(
            ctx.sink_name, "update_order", link.order_number, journal,
            lambda: ctx.sink.update_order(str(link.sink_order_id), payload),
            lambda value: {"outcome": value})
        if not outcome.ok:
            ctx.fail(order_id, f"{link.order_number}: update failed: "
                     f"{outcome.error or outcome.in_doubt}", order)
            return
        if outcome.value == "printed":
            ctx.relink(link, "imported", detail="changed after its label was printed")
            ctx.skip(order_id, "changed after the label was printed (not updated)")
            return
        if outcome.value == "gone":
            self.withdrawer.removed(link)
            return
        ctx.relink(link, "imported", fingerprint=fp)
        with ctx.lock:
            ctx.report.updated += 1
        ctx.action("update", order_id, why, link.order_number)
        ctx.event(order_id, "updated", f"{link.order_number}: changed in the source")
        ctx.hook.shipsync_order_updated(store=ctx.store, order_number=link.order_number,
                                        order=order)

def _newest(newest: datetime | None, page: list[OrderResult]) -> datetime | None:
    for result in page:
        stamp = parse_iso(result.order.get("date_modified")) if result.order else None
        if stamp and (newest is None or stamp > newest):
            newest = stamp
    return newest

