"""``shipsync sandbox --serve``: the emulators, ``shipsync serve`` and a merchant, live.

The emulators start, a config pointing at them is written (with a ``[serve]``
section), ``shipsync serve`` starts in this process, every webhook plugin's
hooks are installed against the emulators and the emulators that need a
merchant's settings are pointed at it (``SandboxSpec.connect``); then, every
``demo_every`` seconds, an order is paid in each source sandbox's first store
and, once it is in the sink, its label is printed; each step's latency is
printed as it happens. Ctrl-C (or SIGTERM) stops it all.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ConfigError, dump_toml, load_config
from ..contracts import Context
from ..output import console
from ..sandbox import SinkEmulator, SourceEmulator
from .invocation import Invocation

if TYPE_CHECKING:
    from ..sandboxes import SandboxSet
    from ..serve.service import Service

__all__ = ["serve_sandbox"]

DEMO_PRODUCTS = [{"name": "Sandbox Mug", "sku": "MUG-DEMO", "quantity": 1}]


def serve_sandbox(invocation: Invocation, sandboxes: SandboxSet, write_config: Path,
                  header: str, port: int, demo_every: float) -> None:
    from ..serve.service import serve
    from ..serve.settings import ServeSettings

    out = console()
    raw = sandboxes.config(state_path=write_config.parent / "shipsync-sandbox.db")
    raw["serve"] = {"port": port, "poll_every": "10m", "labels_every": "1m"}
    write_config.write_text(dump_toml(raw, header=header))
    try:
        config = load_config(write_config, invocation.host.config_schemas.values())
    except ConfigError as exc:
        invocation.config_error(exc)
    settings = ServeSettings.of(config.section("serve"))
    stop = threading.Event()
    demo: list[threading.Thread] = []

    def ready(url: str, service: Service) -> None:
        for name, webhook in sorted(invocation.host.webhooks.entries.items()):
            endpoint = f"{url}/webhooks/{name}"
            hooks = webhook.factory(Context(config.data))
            try:
                for change in hooks.install(endpoint):
                    if change.action != "manual":
                        out.print(f"{name:<12} hook {change.topic} {change.action}", markup=False)
            finally:
                hooks.close()
        for spec in sandboxes.specs:
            if spec.connect is not None and spec.name in invocation.host.webhooks:
                spec.connect(sandboxes.emulator(spec.name), f"{url}/webhooks/{spec.name}")
                out.print(f"{spec.name:<12} pushes to {url}/webhooks/{spec.name}", markup=False)
        for name, server in sandboxes.servers.items():
            out.print(f"{name:<12} {server.url}", markup=False)
        out.print(f"serve        {url} (/healthz, /metrics)", markup=False)
        out.print(f"config       {write_config}", markup=False)
        if demo_every > 0:
            thread = threading.Thread(target=_merchant, args=(sandboxes, stop, demo_every),
                                      name="sandbox-merchant", daemon=True)
            thread.start()
            demo.append(thread)
        out.print("Ctrl-C to stop.")

    try:
        serve(invocation.host, config, settings, ready=ready)
    finally:
        stop.set()
        for thread in demo:
            thread.join(timeout=5)


def _merchant(sandboxes: SandboxSet, stop: threading.Event, every: float) -> None:
    """A customer pays an order in each source sandbox; the merchant prints its label."""
    sources: list[tuple[str, SourceEmulator]] = []
    sinks: list[tuple[str, SinkEmulator]] = []
    for name in sandboxes.servers:
        emulator = sandboxes.emulator(name)
        if isinstance(emulator, SourceEmulator):
            sources.append((name, emulator))
        elif isinstance(emulator, SinkEmulator):
            sinks.append((name, emulator))
    if not sources or not sinks:
        return
    sink_name, sink = sinks[0]
    account = sink.accounts()[0][0]
    while not stop.wait(every):
        for source_name, source in sources:
            _one_order(source_name, source, sink_name, sink, account, stop)


def _one_order(source_name: str, source: SourceEmulator, sink_name: str, sink: SinkEmulator,
               account: str, stop: threading.Event) -> None:
    out = console()
    store = next(iter(source.stores))
    started = time.monotonic()
    order: dict[str, Any] = source.add_order(store, products=DEMO_PRODUCTS)
    number = str(order["id"])
    if not _until(lambda: sink.get_order(account, number) is not None, stop):
        return
    out.print(f"{source_name} order {number} paid -> in {sink_name} after "
              f"{time.monotonic() - started:.2f} s", markup=False)
    printed = time.monotonic()
    sink.print_label(account, number)
    before = order.get("status_id")
    if _until(lambda: source.get_order(store, int(number)).get("status_id") != before, stop):
        out.print(f"{sink_name} label {number} printed -> shipped in {source_name} "
                  f"after {time.monotonic() - printed:.2f} s", markup=False)


def _until(check: Any, stop: threading.Event, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False
