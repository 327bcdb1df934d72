"""The sync engine: source -> mappers -> sink, then sink -> status policy -> source.

One module per step, so a reader finds each behaviour by its file name:

- ``lifecycle``: ``Engine`` (the configured stores and their plugins) and
  ``StoreRun`` (lease, run record, hooks and report around a store's steps);
- ``importing``: the import step (map, plan, update), for a page or one order;
- ``creating``: new sink orders in batches, a lost answer looked up;
- ``withdrawing``: sink orders deleted (order cancelled, nothing left to ship) or
  removed by the merchant;
- ``writeback``: the writeback step (shipment records -> decisions ->
  shipments and statuses), for a chunk or one shipment;
- ``journal``: every remote write as intent, call, outcome (``journaled``);
- ``settling``: writes whose answer was lost, looked up before anything is resent;
- ``assumptions``: what is known of each API's uncertain behaviour (``shipsync
  doctor``'s findings and a run's own), kept in the state file;
- ``context``: what a store's run shares (``RunContext``, ``RunOptions``);
- ``report``: what a store's run reports (``StoreReport``).

Plugins talk to it through ``shipsync.contracts``.
"""

from __future__ import annotations

from ..contracts import Context, RunInfo
from .assumptions import StateAssumptions, source_subject
from .context import STEPS, EngineError, RunContext, RunOptions, Stopped
from .importing import Importer
from .journal import Journal, Outcome, fingerprint
from .lifecycle import Engine, StoreRun
from .report import StoreReport
from .writeback import Writeback

__all__ = [
    "Context",
    "Engine",
    "EngineError",
    "Importer",
    "Journal",
    "Outcome",
    "RunContext",
    "RunInfo",
    "RunOptions",
    "STEPS",
    "StateAssumptions",
    "Stopped",
    "StoreReport",
    "StoreRun",
    "Writeback",
    "fingerprint",
    "source_subject",
]
