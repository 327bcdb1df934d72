"""JSON Schemas (draft 2020-12) of shipsync's canonical records and config.

Installed as ``shipsync.schemas``; load them with ``shipsync.records``.
"""
