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
SANDBOX_WEBHOOK_SECRET = "sandbox-webhook-secret-key"


def create_sandbox(
    seed: int = 0,
    rate_limit: tuple[int, float] | None = (2, 1.0),
    duplicate_numbers: str = "refuse",
    duplicate_refusal: str | None = None,
    variants: Mapping[str, str] | None = None,
    **_: Any,
) -> StarshipitEmulator:
    """An emulator with one empty account: orders arrive from shipsync's own sync.

    ``duplicate_numbers="accept"``: a repeated order number creates a second order
    (Starshipit does not document what it does); ``duplicate_refusal``: other words
    for the refusal (``{number}``, ``{order_id}``). ``variants`` chooses how the API
    behaves where its documentation is silent (``shipsync_starshipit.variants.VARIANTS``;
    unnamed ones take the most likely value).
    """
    emulator = StarshipitEmulator(
        rate_limit=rate_limit,
        fault_seed=seed,
        duplicate_numbers=duplicate_numbers,
        duplicate_refusal=duplicate_refusal,
        variants=variants,
    )
    emulator.add_account(SANDBOX_API_KEY, SANDBOX_SUBSCRIPTION_KEY)
    return emulator


def sandbox_config(emulator: Emulator, url: str) -> dict[str, Any]:
    """The [starshipit] config section pointing at a running emulator's first account."""
    if not isinstance(emulator, StarshipitEmulator):
        raise TypeError(f"expected a StarshipitEmulator, got {type(emulator).__name__}")
    api_key, subscription_key = emulator.accounts()[0]
    return {
        "starshipit": {"api_key": api_key, "subscription_key": subscription_key, "base_url": url,
                       "webhook_secret": SANDBOX_WEBHOOK_SECRET}
    }


def connect_webhook(emulator: Emulator, endpoint: str) -> None:
    """Point the first account's tracking webhook at ``endpoint`` (``shipsync sandbox
    --serve``), with the secret key the sandbox config gives shipsync."""
    if not isinstance(emulator, StarshipitEmulator):
        raise TypeError(f"expected a StarshipitEmulator, got {type(emulator).__name__}")
    emulator.set_webhook(emulator.accounts()[0][0], endpoint, SANDBOX_WEBHOOK_SECRET)
