"""The service's Prometheus metrics (``GET /metrics``), with the standard client library.

Each ``Metrics`` has its own registry, so that two services (tests) never share
counters. The API counts come from ``shipsync.http.API_CALLS``: every HTTP
client of the process, by API.
"""

from __future__ import annotations

import threading
from collections import deque

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from ..http import API_CALLS

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: From a webhook's arrival to its order synced: seconds, up to the 10-minute poll.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
RESPONSE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class _ApiCalls(Collector):
    """Requests, 429s and retries per API, read at each scrape."""

    def collect(self) -> Iterator[Metric]:
        families = {
            "requests_made": CounterMetricFamily(
                "shipsync_api_requests", "HTTP requests sent, per API", labels=["api"]),
            "throttled": CounterMetricFamily(
                "shipsync_api_throttled", "429 answers received, per API", labels=["api"]),
            "retries": CounterMetricFamily(
                "shipsync_api_retries", "Requests sent again (429, 5xx, network), per API",
                labels=["api"]),
        }
        for api, counts in sorted(API_CALLS.snapshot().items()):
            for field_name, family in families.items():
                family.add_metric([api], counts[field_name])
        yield from families.values()


#: Latencies kept per step for the status page (the histograms keep every one, in buckets).
RECENT_SAMPLES = 2000


class Metrics:
    """Counters, histograms and gauges of one running service."""

    def __init__(self) -> None:
        self._recent: dict[str, deque[float]] = {}
        self._recent_lock = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "shipsync_webhook_requests", "Webhook requests, by outcome (accepted, ignored, "
            "invalid, unauthorized, not_found, too_large, timeout)", ["webhook", "outcome"],
            registry=r)
        self.received = Counter(
            "shipsync_webhook_events", "Triggers received and kept in the inbox",
            ["webhook", "step"], registry=r)
        self.repeats = Counter(
            "shipsync_webhook_repeats", "Triggers dropped: the same message delivered again",
            ["webhook"], registry=r)
        self.coalesced = Counter(
            "shipsync_events_coalesced", "Triggers that joined another waiting for the same "
            "order (one sync for all)", ["step"], registry=r)
        self.syncs = Counter(
            "shipsync_syncs", "Syncs done, by what started them (webhook, poll, labels), step "
            "and result", ["trigger", "step", "result"], registry=r)
        self.latency = Histogram(
            "shipsync_event_latency_seconds", "From a webhook's arrival to its order synced",
            ["step"], buckets=LATENCY_BUCKETS, registry=r)
        self.sync_seconds = Histogram(
            "shipsync_sync_seconds", "How long one sync took", ["trigger", "step"],
            buckets=LATENCY_BUCKETS, registry=r)
        self.response_seconds = Histogram(
            "shipsync_webhook_response_seconds", "From a webhook request's arrival to its answer",
            buckets=RESPONSE_BUCKETS, registry=r)
        self.queue_depth = Gauge(
            "shipsync_queue_depth", "Triggers waiting to be synced", registry=r)
        r.register(_ApiCalls())

    def watch_queue(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(lambda: float(depth()))

    def request(self, webhook: str, outcome: str, seconds: float) -> None:
        self.requests.labels(webhook, outcome).inc()
        self.response_seconds.observe(seconds)

    def kept(self, webhook: str, step: str, count: int = 1) -> None:
        self.received.labels(webhook, step).inc(count)

    def repeated(self, webhook: str, count: int = 1) -> None:
        self.repeats.labels(webhook).inc(count)

    def joined(self, step: str, count: int) -> None:
        if count:
            self.coalesced.labels(step).inc(count)

    def synced(self, trigger: str, step: str, result: str, seconds: float) -> None:
        self.syncs.labels(trigger, step, result).inc()
        self.sync_seconds.labels(trigger, step).observe(seconds)

    def event_done(self, step: str, latency: float) -> None:
        seconds = max(0.0, latency)
        self.latency.labels(step).observe(seconds)
        with self._recent_lock:
            self._recent.setdefault(step, deque(maxlen=RECENT_SAMPLES)).append(seconds)

    def recent_latency(self) -> dict[str, list[float]]:
        """The latest webhook latencies per step (the status page draws their distribution)."""
        names = {"import": "webhook → order in the sink",
                 "writeback": "label → tracking in the source"}
        with self._recent_lock:
            return {names.get(step, step): list(samples)
                    for step, samples in sorted(self._recent.items())}

    def render(self) -> bytes:
        return generate_latest(self.registry)
