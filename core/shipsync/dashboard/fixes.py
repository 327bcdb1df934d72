"""How to fix a failed order: one sentence for each kind of reason the engine gives.

The engine words its failure reasons itself (``engine/importing.py``,
``creating.py``, ``withdrawing.py``, ``writeback.py``); each kind is recognised
here by the words the engine puts in it, and anything else gets the general
advice. Pure functions: the status page calls them, tests hold them to the
engine's wording.
"""

from __future__ import annotations

import re

__all__ = ["how_to_fix"]

# (pattern searched in the reason, advice); the first match wins. {source}, {sink} and
# {mapper} are filled in.
_ADVICE: list[tuple[str, str]] = [
    (r"^invalid order after mapper '(?P<mapper>[^']+)'",
     "The mapper {mapper} turned the order into one the sink cannot take. Check that mapper's "
     "settings, or leave it out of [mapping] mappers; the next run tries the order again."),
    (r"^mapper '(?P<mapper>[^']+)' failed",
     "The mapper {mapper} stopped with an error on this order. Check its settings or update "
     "the plugin, or leave it out of [mapping] mappers; the next run tries the order again."),
    (r"^invalid order:",
     "The order's data breaks a rule: the path after $ names the field (an address line, an "
     "item's quantity or weight…). Correct it in {source}; quarantined orders are read "
     "again on every run and imported as soon as they are valid."),
    (r"shipment outcome unknown",
     "The answer to the shipment was lost. shipsync looks it up before posting again: "
     "nothing to do unless this stays."),
    (r"outcome unknown",
     "The sink's answer was lost, so shipsync cannot tell whether the order was created. It "
     "looks the order up before sending anything again: nothing to do unless this stays, in "
     "which case check that {sink} can be reached."),
    (r"did not answer after \d+ attempts",
     "The other side did not answer. Check its status page and this machine's network; the "
     "next run tries again."),
    (r"update failed",
     "{sink} refused the change (its answer is in the reason). Correct the order in {source}; "
     "the next run sends the update again."),
    (r"could not delete",
     "The order should leave {sink} but it could not be deleted there. Delete it in {sink} by "
     "hand if its label will not be printed."),
    (r"no longer in the source",
     "The order was deleted in {source} after its label was printed. If the parcel ships, add "
     "the tracking to the order by hand."),
    (r"address is no longer on the order",
     "The address this label was printed for was removed from the order in {source}. Check "
     "where the parcel goes, and add the tracking by hand."),
    (r"shipment refused",
     "{source} refused the shipment (its answer is in the reason): usually items already "
     "shipped or refunded. Correct the order in {source}; the next run tries again."),
    (r"status \S+ not set",
     "The tracking was written, but {source} refused the order's new status. Set the status "
     "by hand, or correct what its answer names; the next run tries again."),
    (r"invalid shipment record",
     "{sink} gave a shipment that shipsync cannot read. Check the label in {sink}; the next "
     "run reads it again."),
    (r"printed with a courier",
     "A courier label was printed for an order collected in store, and {source} records no "
     "shipment for a pickup. Void the label in {sink} if the customer collects it; otherwise "
     "change the order to a shipping address in {source}."),
]


def how_to_fix(reason: str, *, source: str, sink: str = "the sink") -> str:
    """What a person can do about a failed order, given the engine's reason."""
    for pattern, advice in _ADVICE:
        found = re.search(pattern, reason)
        if found:
            return advice.format(source=source, sink=sink,
                                 mapper=found.groupdict().get("mapper", ""))
    return (f"Correct what the reason names in {source} (or in {sink}); a quarantined order "
            "is read again on every run and imported once it is valid.")
