"""The [starshipit] config section: its schema, defaults and checks."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from shipsync.http import check_url

__all__ = ["DEFAULTS", "check", "schema", "sink_settings"]

DEFAULTS: dict[str, Any] = {
    "base_url": "https://api.starshipit.com",
    "rate_limit": 2,
    "writeback_overlap_minutes": 10,
    "page_size": 250,
}


def schema() -> dict[str, Any]:
    text = resources.files("shipsync_starshipit").joinpath("schemas/config.json").read_text()
    return json.loads(text)


def sink_settings(section: dict[str, Any]) -> dict[str, Any]:
    return {**DEFAULTS, **section}


def check(section: dict[str, Any]) -> list[tuple[str, str]]:
    problem = check_url(sink_settings(section)["base_url"])
    return [("$.base_url", problem)] if problem else []
