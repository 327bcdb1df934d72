"""Sink orders leaving: withdrawn when their order must not ship, or removed by the merchant.

An unprinted sink order is deleted (journaled) when its source order is
cancelled, refunded or declined, or has nothing left to ship; a printed one is
left alone and reported, the label being the merchant's to void. A sink order
the merchant removed by hand, whichever step notices it (an update or a delete
answering "gone", a writeback finding no such order), is recorded as
``removed`` once, reported once as a skip, and never recreated: runs after that
count it as left alone, and ``shipsync resend`` sends it again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..contracts import CanonicalOrder
from ..state import Link
from .context import RunContext

__all__ = ["Withdrawer", "removed_by_hand"]


def removed_by_hand(ctx: RunContext, link: Link) -> None:
    """The sink no longer has the order: the merchant removed it there; not recreated."""
    detail = (f"{link.order_number} is no longer in {ctx.sink_name}: removed there by "
              "hand; not sent again (`shipsync resend` sends it again)")
    if not ctx.dry:
        ctx.relink(link, "removed", detail=detail)
    ctx.skip(link.order_id, f"removed from {ctx.sink_name} by hand (not sent again)",
             link.order_number, event=("removed", detail))


class Withdrawer:
    """Withdrawals of one import step."""

    def __init__(self, ctx: RunContext,
                 replan: Callable[[CanonicalOrder], None]) -> None:
        self.ctx = ctx
        self.replan = replan  # a partly refunded order: its destinations planned again

    def removed(self, link: Link) -> None:
        """The sink no longer has the order: the merchant removed it there; not recreated."""
        removed_by_hand(self.ctx, link)

    def withdraw_changed(self, since: datetime) -> None:
        """Orders cancelled, refunded or declined since ``since`` leave the sink."""
        ctx = self.ctx
        if not ctx.state.open_links(ctx.source_name, ctx.store, ("imported",)):
            return
        for page in ctx.source.withdrawn_orders(since):
            for result in page:
                ctx.check_stop()
                if result.order_id in ctx.forgotten or not ctx.state.links_for_order(
                        ctx.source_name, ctx.store, result.order_id):
                    continue
                status = result.status_id
                if status is not None and ctx.source.not_shippable_reason(status):
                    self.withdraw_order(result.order_id, status)
                elif result.order is not None:
                    # Partly refunded: refunded lines leave the sink order.
                    self.replan(result.order)

    def withdraw_order(self, order_id: str, status_id: int) -> None:
        """Delete the unprinted sink orders of an order that must not ship."""
        reason = self.ctx.source.not_shippable_reason(status_id)
        if not reason or order_id in self.ctx.forgotten:
            return
        for link in self.ctx.state.links_for_order(self.ctx.source_name, self.ctx.store,
                                                   order_id):
            if link.state == "imported":
                self.delete(link, reason)

    def _deleted_before(self, link: Link, entry: int) -> bool:
        """An earlier delete of ours whose answer was lost: "gone" is its doing, not the
        merchant's."""
        return any(e.action == "delete_order" and e.id != entry and e.target == self.ctx.sink_name
                   for e in self.ctx.state.journal(key=link.order_number, limit=20))

    def delete(self, link: Link, reason: str) -> None:
        ctx = self.ctx
        if ctx.dry:
            with ctx.lock:
                ctx.report.deleted += 1
            ctx.action("delete", link.order_id, reason, link.order_number)
            return
        journal = {"source": ctx.source_name, "store": ctx.store, "order_id": link.order_id,
                   "destination_id": link.destination_id, "order_number": link.order_number,
                   "fingerprint": link.fingerprint}
        outcome = ctx.journal.journaled(
            ctx.sink_name, "delete_order", link.order_number, journal,
            lambda: ctx.sink.delete_order(str(link.sink_order_id)),
            lambda value: {"outcome": value})
        if not outcome.ok:
            ctx.fail(link.order_id, f"{link.order_number}: could not delete ({reason}): "
                     f"{outcome.error or outcome.in_doubt}", quarantine=False)
            return
        if outcome.value == "printed":
            # Too late to withdraw: the writeback step reports it as not written back.
            ctx.skip(link.order_id, f"{reason}, but its label is already printed: "
                     "not withdrawn (void the label in the sink)")
            return
        if outcome.value == "gone" and not self._deleted_before(link, outcome.entry):
            # Not deleted by shipsync: the merchant had removed it already.
            removed_by_hand(ctx, link)
            return
        ctx.relink(link, "deleted", detail=reason)
        with ctx.lock:
            ctx.report.deleted += 1
        ctx.action("delete", link.order_id, reason, link.order_number)
        ctx.event(link.order_id, "deleted", f"{link.order_number}: {reason}")
        ctx.hook.shipsync_order_deleted(store=ctx.store, order_number=link.order_number,
                                        reason=reason)


