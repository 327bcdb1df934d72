"""The sandbox registry's entry: ``create_sandbox`` and ``sandbox_config``.

The plugin registers them lazily (``shipsync_bigcommerce.sandbox:create_sandbox``)
through the ``shipsync_sandboxes`` hook; ``store_hash_for`` names each
configured store's sandbox hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from .emulator import BigCommerceEmulator


def store_hash_for(name: str) -> str:
    """The sandbox store hash of a configured store name ("main" -> "sbx" + 7 hex digits)."""
    return "sbx" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:7]


def client_secret_for(name: str) -> str:
    """The sandbox API account's client secret (it signs the store's webhooks)."""
    return f"sandbox-client-secret-{name}"


def webhook_secret_for(name: str) -> str:
    """The secret header of the sandbox store's webhooks (``webhook_secret``)."""
    return f"sandbox-webhook-secret-{name}"


def create_sandbox(
    orders: int = 100,
    seed: int = 0,
    stores: Sequence[str] | str = ("main",),
    rate_limit: tuple[int, float] | None = (150, 30.0),
    weight_units: str = "KGS",
    variants: Mapping[str, str] | None = None,
    **_: Any,
) -> BigCommerceEmulator:
    """An emulator with one seeded store per name; store hashes derive from the names.

    ``variants`` chooses how the API behaves where its documentation is silent
    (``shipsync_bigcommerce.variants.VARIANTS``; unnamed ones take the most likely value).
    """
    names = [s.strip() for s in stores.split(",")] if isinstance(stores, str) else list(stores)
    emulator = BigCommerceEmulator(fault_seed=int(seed), variants=variants)
    for name in names:
        handle = emulator.add_store(store_hash_for(name), f"sandbox-token-{name}",
                                    name=f"Sandbox Store ({name})", weight_units=weight_units,
                                    rate_limit=rate_limit, alias=name)
        emulator.webhooks.client_secrets[handle.store_hash] = client_secret_for(name)
        store_seed = int(hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()[:8], 16)
        emulator.seed(handle.store_hash, int(orders), store_seed)
    return emulator


def sandbox_config(emulator: Any, url: str) -> dict[str, Any]:
    stores = {
        name: {"api_path": f"{url}/stores/{store.store_hash}/v3/", "client_id": "sandbox-client",
               "access_token": store.access_token, "client_secret": client_secret_for(name),
               "webhook_secret": webhook_secret_for(name)}
        for name, store in emulator.stores.items()
    }
    return {"bigcommerce": {"stores": stores}}
