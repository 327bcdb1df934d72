"""The ``shipsync`` command line (``main`` is the console script; ``create_app`` builds it).

One module per group of commands: ``sync`` (run, import, writeback), ``explain``,
``sandbox_command``, ``plugins`` (and schema), ``config``, ``dashboard`` (the status page);
``invocation`` is what a command line shares (plugins, config, the error printer), ``app``
puts them together.
"""

from __future__ import annotations

from .app import create_app, main
from .invocation import EXIT_FAILED_RECORDS, EXIT_OK, EXIT_USAGE, Invocation

__all__ = ["EXIT_FAILED_RECORDS", "EXIT_OK", "EXIT_USAGE", "Invocation", "create_app", "main"]
