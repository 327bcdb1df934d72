"""The emulator's webhooks: registered hooks, and callbacks POSTed to their destinations.

``WebhookSender`` keeps each store's hooks (what ``/v3/hooks`` manages) and,
when an order is created, changes or is archived, or a shipment is created,
POSTs a light callback (``{producer, hash, created_at, store_id, scope,
data}``) to every active hook whose scope matches, from a background thread,
never under the emulator's lock. As BigCommerce does:

- the hook's custom ``headers`` are sent with every callback;
- when the store has a client secret, callbacks are signed per Standard
  Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``,
  keyed by the base64 of the client secret), a repeat keeping its id;
- a callback not answered 2xx is retried on BigCommerce's schedule (60 s,
  180 s ... 24 h), compressed by ``retry_scale``; after the last retry fails
  the hook is deactivated (``is_active`` false).

``DeliveryPlan`` adds the faults a test or a bench asks for: a ``delay``, a
``jitter`` that reorders callbacks sent close together, ``loss`` (a callback
never sent) and ``duplicate`` (sent twice, the repeat within
``duplicate_gap``), all drawn from a seeded RNG. ``deliveries`` records what
happened to each callback.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import requests

__all__ = ["RETRY_SCHEDULE", "DeliveryPlan", "Hook", "WebhookSender"]

#: BigCommerce's documented retries after a failed callback, in seconds.
RETRY_SCHEDULE = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)


@dataclass
class Hook:
    """One registered webhook of a store (``/v3/hooks``)."""

    id: int
    store_hash: str
    client_id: str
    scope: str
    destination: str
    is_active: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    created_at: int = 0
    updated_at: int = 0

    def json(self) -> dict[str, Any]:
        return asdict(self)

    def wants(self, scope: str) -> bool:
        return self.scope == scope or (self.scope.endswith("/*")
                                       and scope.startswith(self.scope[:-1]))


@dataclass
class DeliveryPlan:
    """How callbacks are delivered: delays and faults (see the module's docstring)."""

    delay: float = 0.0
    jitter: float = 0.0
    loss: float = 0.0
    duplicate: float = 0.0
    duplicate_gap: float = 0.5
    retry_scale: float = 0.001
    timeout: float = 5.0
    sign: bool = True
    enabled: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliveryPlan:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known - {"seed"}
        if unknown:
            raise ValueError(f"unknown webhook plan fields: {', '.join(sorted(unknown))}")
        for name in ("loss", "duplicate"):
            if not 0.0 <= float(data.get(name, 0.0)) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    hook: Hook = field(compare=False)
    body: bytes = field(compare=False)
    message_id: str = field(compare=False)
    attempt: int = field(compare=False, default=0)
    order_id: int = field(compare=False, default=0)
    scope: str = field(compare=False, default="")


class WebhookSender:
    """Each store's hooks, and a thread that delivers their callbacks."""

    def __init__(self, seed: int = 0) -> None:
        self.plan = DeliveryPlan()
        self.hooks: dict[int, Hook] = {}
        self.client_secrets: dict[str, str] = {}  # store_hash -> the API account's secret
        self.deliveries: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._rng = random.Random(seed)
        self._lock = threading.Condition()
        self._queue: list[_Delivery] = []
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._closed = False
        self._session = requests.Session()

    # -- hooks (the routes call these under the emulator's lock) ------------------------
    def add_hook(self, store_hash: str, client_id: str, body: dict[str, Any]) -> Hook:
        now = int(time.time())
        with self._lock:
            hook = Hook(next(self._ids), store_hash, client_id, body["scope"],
                        body["destination"], bool(body.get("is_active", True)),
                        dict(body.get("headers") or {}), now, now)
            self.hooks[hook.id] = hook
            return hook

    def remove_hook(self, hook_id: int) -> None:
        with self._lock:
            self.hooks.pop(hook_id, None)

    def store_hooks(self, store_hash: str) -> list[Hook]:
        with self._lock:
            return [h for h in self.hooks.values() if h.store_hash == store_hash]

    def configure(self, seed: int | None = None, **plan: Any) -> DeliveryPlan:
        """Replace the delivery plan (fields of ``DeliveryPlan``); ``seed`` reseeds the RNG."""
        with self._lock:
            self.plan = DeliveryPlan.from_dict({**asdict(self.plan), **plan})
            if seed is not None:
                self._rng = random.Random(seed)
            return self.plan

    # -- callbacks --------------------------------------------------------------------------
    def emit(self, store_hash: str, store_id: int, scope: str, data: dict[str, Any]) -> None:
        """Schedule the callbacks of one event to every matching active hook of the store."""
        now = time.time()
        payload = {"producer": f"stores/{store_hash}",
                   "hash": hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest(),
                   "created_at": int(now), "store_id": str(store_id), "scope": scope,
                   "data": data}
        body = json.dumps(payload).encode("utf-8")
        order_id = int(data.get("orderId") or data.get("id") or 0)
        with self._lock:
            plan = self.plan
            if self._closed or not plan.enabled:
                return
            for hook in self.hooks.values():
                if hook.store_hash != store_hash or not hook.is_active or not hook.wants(scope):
                    continue
                message_id = f"msg_{uuid.uuid4().hex}"
                if self._rng.random() < plan.loss:
                    self.deliveries.append({"hook": hook.id, "scope": scope, "order_id": order_id,
                                            "outcome": "lost", "at": now})
                    continue
                due = now + plan.delay + self._rng.uniform(0.0, plan.jitter)
                self._push(_Delivery(due, next(self._seq), hook, body, message_id,
                                     order_id=order_id, scope=scope))
                if self._rng.random() < plan.duplicate:
                    again = due + self._rng.uniform(0.0, plan.duplicate_gap)
                    self._push(_Delivery(again, next(self._seq), hook, body, message_id,
                                         order_id=order_id, scope=scope))
            self._start()

    def _push(self, delivery: _Delivery) -> None:
        heapq.heappush(self._queue, delivery)
        self._lock.notify()

    def _start(self) -> None:
        if self._thread is None:
            self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="bc-webhook")
            self._thread = threading.Thread(target=self._loop, name="bc-webhooks", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._closed and (not self._queue or self._queue[0].due > time.time()):
                    wait = self._queue[0].due - time.time() if self._queue else None
                    self._lock.wait(wait)
                if self._closed:
                    return
                delivery = heapq.heappop(self._queue)
            assert self._pool is not None
            self._pool.submit(self._send, delivery)

    def _headers(self, delivery: _Delivery) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **delivery.hook.headers}
        secret = self.client_secrets.get(delivery.hook.store_hash)
        if secret and self.plan.sign:
            stamp = str(int(time.time()))
            key = secret.encode("utf-8")
            signed = f"{delivery.message_id}.{stamp}.".encode() + delivery.body
            signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            headers.update({"webhook-id": delivery.message_id, "webhook-timestamp": stamp,
                            "webhook-signature": f"v1,{signature}"})
        return headers

    def _send(self, delivery: _Delivery) -> None:
        hook = delivery.hook
        try:
            answer = self._session.post(hook.destination, data=delivery.body,
                                        headers=self._headers(delivery),
                                        timeout=self.plan.timeout, allow_redirects=False)
            status = answer.status_code
        except requests.RequestException:
            status = 0
        outcome = "delivered" if 200 <= status < 300 else "failed"
        with self._lock:
            self.deliveries.append({"hook": hook.id, "scope": delivery.scope,
                                    "order_id": delivery.order_id, "outcome": outcome,
                                    "status": status, "attempt": delivery.attempt,
                                    "at": time.time()})
            if outcome == "delivered" or self._closed:
                return
            if delivery.attempt >= len(RETRY_SCHEDULE):
                hook.is_active = False  # BigCommerce deactivates it and emails the owner
                hook.updated_at = int(time.time())
                return
            wait = RETRY_SCHEDULE[delivery.attempt] * self.plan.retry_scale
            delivery.attempt += 1
            delivery.due = time.time() + wait
            delivery.seq = next(self._seq)
            self._push(delivery)

    def pending(self) -> int:
        """Callbacks scheduled and not yet sent (retries included)."""
        with self._lock:
            return len(self._queue)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()
