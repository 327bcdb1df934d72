"""Console output: rich when it is a terminal, plain in pipes, JSON on request.

rich honours ``NO_COLOR`` and drops styling when stdout is not a terminal.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

__all__ = ["console", "err_console", "print_json", "print_json_line"]


def console() -> Console:
    return Console(soft_wrap=True, highlight=False)


def err_console() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def print_json(data: Any) -> None:
    """One JSON document on stdout (no styling, whatever the terminal)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def print_json_line(data: Any) -> None:
    """One compact JSON document on one line of stdout (JSON Lines), flushed at once."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str,
                                separators=(",", ":")) + "\n")
    sys.stdout.flush()
