"""The sandbox registry's entry: ``create_sandbox`` and ``sandbox_config``.

The plugin registers them lazily (``shipsync_starshipit.sandbox:create_sandbox``)
through the ``shipsync_sandboxes`` hook, with ``merchant.play_merchant``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipsync.sandbox import Emulator

from .emulator import StarshipitEmulator

SANDBOX_API_KEY = "sandbox-api-key"
SANDBOX_SUBSCRIPTION_KEY = "sandbox-subscription-key"


def create_sandbox(
    seed: int = 0,
    rate_limit: tuple[int, float] | None = (2, 1.0),
    variants: Mapping[str, str] | None = None,
    **_: Any,
) -> StarshipitEmulator:
    """An emulator with one empty account: orders arrive from shipsync's own sync.

    ``variants`` chooses how the API behaves where its documentation is silent
    (``shipsync_starshipit.variants.VARIANTS``; unnamed ones take the most likely value).
    """
    emulator = StarshipitEmulator(rate_limit=rate_limit, fault_seed=seed, variants=variants)
    emulator.add_account(SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY)
    return emulator


def sandbox_config(emulator: Emulator, url: str) -> dict[str, Any]:
    """The [starshipit] config section pointing at a running emulator's first account."""
    if not isinstance(emulator, StarshipitEmulator):
        raise TypeError(f"expected a StarshipitEmulator, got {type(emulator).__name__}")
    api_key, subscription_key = emulator.accounts()[0]
    return {
        "starshipit": {"api_key": api_key, "subscription_key": subscription_key, "base_url": url}
    }
