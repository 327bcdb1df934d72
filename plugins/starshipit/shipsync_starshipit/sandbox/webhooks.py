"""The emulator's tracking webhook: a POST to the account's webhook URL when a label prints.

Starshipit sends its tracking webhook "when it receives a tracking update from
the courier"; whether one is sent when the label is printed is not
established (fact sheet §13.6), so it is configurable: ``on_print`` (default
on) sends ``tracking_status: Printed`` at print time; off, no webhook comes
and shipsync relies on reading printed labels. The body is the documented flat
object; the ``X-Starshipit-Signature`` header carries, by ``scheme``, the
base64 (default) or hex HMAC-SHA256 of the body keyed by the secret, or the
secret itself: Starshipit does not publish which (fact sheet §7 ⚠). No retry
policy is documented, so a failed POST is not retried; ``deliveries`` records
each one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import requests

from .rendering import ticks
from .state import _Account

__all__ = ["SCHEMES", "TrackingWebhooks"]

SCHEMES = ("hmac-sha256-base64", "hmac-sha256-hex", "secret")


class TrackingWebhooks:
    """Each account's webhook URL and secret key (Settings > Tracking & notifications)."""

    def __init__(self) -> None:
        self.endpoints: dict[str, tuple[str, str]] = {}  # api_key -> (url, secret key)
        self.on_print = True
        self.delay = 0.0
        self.scheme = SCHEMES[0]
        self.timeout = 5.0
        self.deliveries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._session = requests.Session()
        self._closed = False

    def set(self, api_key: str, url: str, secret: str) -> None:
        """What the merchant enters in the settings (an empty url removes it)."""
        with self._lock:
            if url:
                self.endpoints[api_key] = (url, secret)
            else:
                self.endpoints.pop(api_key, None)

    def configure(self, *, on_print: bool | None = None, delay: float | None = None,
                  scheme: str | None = None) -> None:
        if scheme is not None and scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}")
        with self._lock:
            self.on_print = self.on_print if on_print is None else bool(on_print)
            self.delay = self.delay if delay is None else float(delay)
            self.scheme = scheme or self.scheme

    def signature(self, secret: str, body: bytes) -> str:
        digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
        if self.scheme == "hmac-sha256-hex":
            return digest.hex()
        if self.scheme == "secret":
            return secret
        return base64.b64encode(digest).decode("ascii")

    def label_printed(self, accounts: dict[str, _Account], order: dict[str, Any]) -> None:
        """Called under the emulator's lock when a label prints: schedules the POST."""
        api_key = next((key for key, account in accounts.items()
                        if account.orders.get(order["order_id"]) is not None
                        and account.orders[order["order_id"]].order is order), None)
        with self._lock:
            if self._closed or not self.on_print or api_key not in self.endpoints:
                return
            url, secret = self.endpoints[api_key]
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ss-webhook")
            packages = order.get("packages") or [{}]
            body = json.dumps({
                "order_number": order["order_number"],
                "carrier_name": order.get("carrier_name") or "",
                "carrier_service": order.get("carrier_service_code") or "",
                "shipment_date": packages[0].get("label_created_date") or ticks(
                    datetime.now(UTC)),
                "tracking_number": packages[0].get("tracking_number") or "",
                "tracking_status": "PickupInStore" if order.get("carrier") == "PickupInStore"
                else "Printed",
                "last_updated_date": ticks(datetime.now(UTC)),
            }).encode("utf-8")
            headers = {"Content-Type": "application/json",
                       "X-Starshipit-Signature": self.signature(secret, body)}
            self._pool.submit(self._send, url, body, headers, order["order_number"],
                              self.delay)

    def _send(self, url: str, body: bytes, headers: dict[str, str], number: str,
              delay: float) -> None:
        if delay:
            time.sleep(delay)
        try:
            status = self._session.post(url, data=body, headers=headers, timeout=self.timeout,
                                        allow_redirects=False).status_code
        except requests.RequestException:
            status = 0
        with self._lock:
            self.deliveries.append({"order_number": number, "status": status,
                                    "at": time.time()})

    def close(self) -> None:
        with self._lock:
            self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

