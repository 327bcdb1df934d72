"""End-to-end fixtures: the real CLI against the emulators, over HTTP on loopback.

The ``sandboxes`` fixture comes from the ``shipsync.testing`` pytest plugin
(installed with shipsync). Here the stores start empty, so that each test
builds exactly the orders it is about.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from shipsync.sandboxes import SandboxSet
from sync_world import World


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    return {"orders": 0, "seed": 1,
            "per_sandbox": {"bigcommerce": {"rate_limit": None},
                            "starshipit": {"rate_limit": None}}}


@pytest.fixture
def world(sandboxes: SandboxSet, tmp_path: Path) -> World:
    return World(sandboxes, tmp_path)
