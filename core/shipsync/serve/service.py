"""``Service``: the webhook receivers, the inbox, the dispatcher and the safety net, wired;
``serve``: the service on uvicorn until SIGTERM.

Stopping (SIGTERM, SIGINT): uvicorn stops taking requests and answers those
under way; then no new batch is synced, batches under way get
``shutdown_grace`` seconds to finish and are then stopped at their next
order; whatever was not synced stays pending in the state store's inbox and
is taken up at the next start. A sender whose request was not answered sends
it again (BigCommerce retries for 48 hours).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..contracts import Context, HttpOptions, Webhooks, WebhookTrigger
from ..engine import Engine
from ..http import is_loopback
from ..plugins import PluginHost
from ..state import EventInbox, InboxEvent, StateError, StateStore, open_state
from .dispatch import EventDispatcher, InProcessDispatcher
from .metrics import Metrics
from .polling import SafetyNet
from .runner import Lane, SyncRunner
from .settings import ServeSettings

if TYPE_CHECKING:
    from starlette.types import ASGIApp

__all__ = ["Service", "serve"]

log = logging.getLogger("shipsync.serve")


class Service:
    """Everything ``shipsync serve`` runs besides the HTTP server."""

    def __init__(self, host: PluginHost, config: Config, settings: ServeSettings,
                 dispatcher: Callable[[SyncRunner, EventInbox, Metrics], EventDispatcher]
                 | None = None, *, with_dashboard: bool = True) -> None:
        self.host = host
        self.config = config
        self.settings = settings
        self.metrics = Metrics()
        # Two connections to the state file: the engine's, and the request handlers' (the
        # inbox), so that an answer never waits behind a sync's transaction in this process.
        self.state: StateStore = open_state(config.section("state"))
        self.inbox: EventInbox = open_state(config.section("state"))
        self.engine = Engine(host, config, self.state, reuse_sources=True)
        self.stop_syncs = threading.Event()
        self.runner = SyncRunner(self.engine, self.state, self.metrics, self.stop_syncs)
        make = dispatcher or self._in_process
        self.dispatcher = make(self.runner, self.inbox, self.metrics)
        self.metrics.watch_queue(self.dispatcher.depth)
        self.safety_net = SafetyNet(self.engine, self.state, self.inbox, self.runner,
                                    self.metrics, settings)
        self.lanes: set[Lane] = set(self.safety_net.lanes())
        run = config.section("run")
        context = Context(config.data, http_options=HttpOptions(
            timeout=float(run.get("timeout", 30)), max_retries=int(run.get("max_retries", 6))),
            config_path=config.path)
        self.receivers: dict[str, Webhooks] = {
            name: spec.factory(context) for name, spec in host.webhooks.entries.items()}
        self.started_at = time.time()
        #: The status page at ``/``: its own state connection and engine (reads only), so a
        #: page view never waits behind a sync's transaction.
        self.dashboard: ASGIApp | None = None
        if with_dashboard:
            from ..dashboard import Access, create_dashboard

            self.page_state: StateStore | None = open_state(config.section("state"))
            access = Access.from_config(config.section("serve"), host=settings.host)
            self.dashboard = create_dashboard(Engine(host, config, self.page_state), access,
                                              latency=self.metrics.recent_latency)
        else:
            self.page_state = None

    def _in_process(self, runner: SyncRunner, inbox: EventInbox,
                    metrics: Metrics) -> EventDispatcher:
        return InProcessDispatcher(runner, inbox, metrics,
                                   batch_window=self.settings.batch_window,
                                   workers=self.settings.workers,
                                   max_attempts=self.settings.max_attempts)

    def start(self) -> None:
        # The sinks are built once, before threads share them.
        for source, store in sorted(self.lanes):
            self.engine.sink(self.engine.sink_name(self.engine.store(source, store)))
        self.dispatcher.start()
        self.safety_net.start()

    def stop(self) -> None:
        """Finish or leave in the inbox what is under way; release everything."""
        self.safety_net.stop.set()
        self.dispatcher.stop(self.settings.shutdown_grace)
        self.safety_net.close()
        for receiver in self.receivers.values():
            receiver.close()
        self.engine.close()
        self.state.close()
        self.inbox.close()
        if self.page_state is not None:
            self.page_state.close()

    # -- what the web layer calls ---------------------------------------------------------
    def keep(self, webhook: str, triggers: tuple[WebhookTrigger, ...],
             received_at: float) -> list[InboxEvent] | None:
        """Keep a request's triggers in the inbox and hand them on; None if the state store
        cannot take them (the sender is answered 503 and sends again)."""
        events = []
        for trigger in triggers:
            problem = trigger.problem() or self._unknown(trigger)
            if problem:
                log.warning("webhook %s: trigger dropped: %s", webhook, problem)
                continue
            events.append(InboxEvent(
                webhook=webhook, step=trigger.step, received_at=received_at,
                source=trigger.source, store=trigger.store, order_id=trigger.order_id,
                sink=trigger.sink, order_number=trigger.order_number,
                delivery=trigger.delivery, topic=trigger.topic))
        try:
            kept = self.inbox.inbox_add(events)
        except StateError as exc:
            log.error("webhook %s: the inbox cannot be written: %s", webhook, exc)
            return None
        for step in ("import", "writeback"):
            count = sum(1 for e in kept if e.step == step)
            if count:
                self.metrics.kept(webhook, step, count)
        if len(kept) < len(events):
            self.metrics.repeated(webhook, len(events) - len(kept))
        self.dispatcher.submit(kept)
        return kept

    def _unknown(self, trigger: WebhookTrigger) -> str | None:
        if trigger.source and (trigger.source, trigger.store) not in self.lanes:
            return f"no {trigger.source} store named {trigger.store!r} is configured"
        if not trigger.source and trigger.sink not in self.host.sinks:
            return f"no sink named {trigger.sink!r} is installed"
        return None

    def health(self) -> dict[str, Any]:
        """What ``/healthz`` answers: ``ok`` while the dispatcher and the poller run."""
        problems = []
        if not self.dispatcher.alive():
            problems.append("the dispatcher is not running")
        if not self.safety_net.alive():
            problems.append("the poller is not running")
        return {"status": "ok" if not problems else "failing", "problems": problems,
                "queue_depth": self.dispatcher.depth(),
                "last_poll": self.safety_net.last_poll,
                "last_label_check": self.safety_net.last_labels,
                "up_seconds": round(time.time() - self.started_at, 1)}


@contextmanager
def _quiet_signals(stopping: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT only mark the service as stopping while it starts and after uvicorn
    has stopped (uvicorn handles them while it runs, then raises them again)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: stopping.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free one), so the URL is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(host: PluginHost, config: Config, settings: ServeSettings, *,
          ready: Callable[[str, Service], None] | None = None) -> None:
    """Run the service on uvicorn until SIGTERM/SIGINT, then stop it gracefully."""
    import uvicorn

    from .web import create_app

    stopping = threading.Event()
    with _quiet_signals(stopping):
        sock = bind(settings.host, settings.port)
        port = sock.getsockname()[1]
        shown = f"[{settings.host}]" if ":" in settings.host else settings.host
        url = f"http://{shown}:{port}"
        if not is_loopback(settings.host):
            log.warning("listening on %s in plain HTTP: put a TLS proxy in front "
                        "(docs/serve.md)", url)
        service = Service(host, config, settings)
        try:
            service.start()
            server = uvicorn.Server(uvicorn.Config(
                create_app(service), log_level="warning", access_log=False, lifespan="off",
                timeout_graceful_shutdown=5, limit_concurrency=256,
                server_header=False, date_header=False))
            if ready is not None:
                ready(url, service)
            if not stopping.is_set():
                server.run(sockets=[sock])
        finally:
            log.info("stopping: syncs under way get %.0f s to finish",
                     settings.shutdown_grace)
            service.stop()
            sock.close()
            log.info("stopped")
