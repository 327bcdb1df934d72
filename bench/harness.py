"""The benchmark's test bench: emulators with scaled quotas and latency, measured subprocesses.

- ``Quotas``: each API's real rate limit and the scaled one the benchmark runs
  under (the same request count per window, the window divided by ``scale``).
- ``Latency``: a 'latency' fault rule set that delays every request by a
  uniformly drawn 30, 40, ... 80 ms (the emulator's fault plan picks at most
  one rule per request, so rule k fires with probability 1/(n-k) of the
  requests that reach it).
- ``Bench``: one BigCommerce store seeded with N orders in the import statuses
  and one empty Starshipit account, each served on loopback, plus the
  shipsync.toml pointing at them.
- ``measure``: run a command, return its wall time, CPU time (``os.wait4``
  gives the rusage of exactly that child) and peak memory (its VmHWM).
- ``theoretical_minimum``: the least wall time the requests can take under the
  quotas (fixed windows, a full quota of burst per window) plus one latency.
"""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from shipsync.config import dump_toml
from shipsync.sandbox import EmulatorServer, FaultRule, Request, Response
from shipsync_bigcommerce.sandbox import BigCommerceEmulator, store_hash_for
from shipsync_bigcommerce.seed import generate_orders
from shipsync_starshipit.sandbox import StarshipitEmulator

__all__ = [
    "API_NAMES",
    "IMPORT_STATUSES",
    "Bench",
    "BenchBigCommerceEmulator",
    "Latency",
    "Measured",
    "Quotas",
    "measure",
    "minimums",
    "seeded_import_orders",
    "theoretical_minimum",
]

API_NAMES = ("bigcommerce", "starshipit")
IMPORT_STATUSES = (9, 11)  # Awaiting Shipment, Awaiting Fulfillment: shipsync's defaults
STORE = "main"
ACCESS_TOKEN = "bench-token"
API_KEY = "bench-api-key"
SUBSCRIPTION_KEY = "bench-subscription-key"


@dataclass(frozen=True)
class Quotas:
    """Real quotas (BigCommerce Standard/Plus, Starshipit developer tier) and the scale."""

    scale: float = 10.0
    bigcommerce_real: tuple[int, float] = (150, 30.0)  # requests per window (s), per store
    starshipit_real: tuple[int, float] = (2, 1.0)  # per subscription key

    def scaled(self, api: str) -> tuple[int, float]:
        """The same requests per window, in a window ``scale`` times shorter."""
        quota, window = self.real(api)
        if api == "starshipit":
            # 2 per 1 s scaled 10x is 20 per 1 s (not 2 per 0.1 s): the same rate, a
            # burst of a whole second's worth, as the issue states it.
            return round(quota * self.scale), window
        return quota, window / self.scale

    def real(self, api: str) -> tuple[int, float]:
        return self.bigcommerce_real if api == "bigcommerce" else self.starshipit_real

    def describe(self) -> str:
        parts = []
        for api in API_NAMES:
            rq, rw = self.real(api)
            sq, sw = self.scaled(api)
            parts.append(f"{api}: {rq} per {rw:g} s, run as {sq} per {sw:g} s")
        return "; ".join(parts)


@dataclass(frozen=True)
class Latency:
    """Uniform latency over ``low_ms``..``high_ms`` in ``step_ms`` steps, on every request."""

    low_ms: int = 30
    high_ms: int = 80
    step_ms: int = 10

    @property
    def values_ms(self) -> list[int]:
        return list(range(self.low_ms, self.high_ms + 1, self.step_ms)) or [self.low_ms]

    @property
    def mean_s(self) -> float:
        values = self.values_ms
        return sum(values) / len(values) / 1000.0

    def rules(self) -> list[FaultRule]:
        values = self.values_ms
        count = len(values)
        return [FaultRule("latency", rate=1.0 / (count - index), seconds=ms / 1000.0)
                for index, ms in enumerate(values)]

    @classmethod
    def parse(cls, text: str) -> Latency:
        """``30-80`` (ms, 10 ms steps) or ``50`` (fixed)."""
        low, _, high = text.partition("-")
        low_ms = int(low)
        high_ms = int(high) if high else low_ms
        return cls(low_ms, high_ms, 10 if high_ms > low_ms else 1)


class BenchBigCommerceEmulator(BigCommerceEmulator):
    """The emulator plus two real endpoints it lacks that tap-bigcommerce follows.

    tap-bigcommerce follows each order's resource links: ``coupons`` (a
    documented endpoint, ``GET /v2/orders/{id}/coupons``; the seeded orders have
    none, so 204 as BigCommerce answers an empty v2 list) and
    ``shipping_addresses``, whose link BigCommerce spells ``shippingaddresses``.
    Both go through the same dispatch: latency, rate limit and request log.
    """

    def __init__(self, *, fault_seed: int = 0, variants: dict[str, str] | None = None) -> None:
        super().__init__(fault_seed=fault_seed, variants=variants)
        order = "/stores/{store_hash}/v2/orders/{order_id:int}"
        self.router.add("GET", order + "/shippingaddresses", self._get_addresses)
        self.router.add("GET", order + "/coupons", self._get_coupons)

    def _get_coupons(self, request: Request) -> Response:
        state = self._request_store(request)
        self._request_order(request, state)  # 404 for an unknown order, as the real API
        return Response(204)


def seeded_import_orders(count: int, seed: int, *, now: datetime,
                         days: float) -> list[dict[str, Any]]:
    """``count`` generated orders whose status is an import status (9 or 11).

    The generator's other statuses are dropped, so the store holds exactly the
    orders an import should read; ids keep the generator's gaps, as a real
    store's other orders would leave them.
    """
    specs: list[dict[str, Any]] = []
    batch = 0
    first_id = 100
    while len(specs) < count:
        wanted = math.ceil((count - len(specs)) / 0.6) + 50
        for spec in generate_orders(wanted, seed + batch, now=now, days=days, first_id=first_id):
            if spec["status_id"] in IMPORT_STATUSES:
                specs.append(spec)
                if len(specs) == count:
                    break
        first_id += wanted
        batch += 1
    return specs


@dataclass
class Bench:
    """A seeded BigCommerce store and an empty Starshipit account, served on loopback."""

    orders: int
    quotas: Quotas = field(default_factory=Quotas)
    latency: Latency = field(default_factory=Latency)
    seed: int = 7
    days: int = 7
    workdir: Path | None = None
    #: {sandbox: {variant: value}}: how the emulated APIs behave (default: the likely way).
    variants: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store_hash = store_hash_for(STORE)
        self.bigcommerce = BenchBigCommerceEmulator(
            fault_seed=self.seed, variants=self.variants.get("bigcommerce"))
        self.bigcommerce.add_store(self.store_hash, ACCESS_TOKEN, name="Bench store",
                                   rate_limit=self.quotas.scaled("bigcommerce"), alias=STORE)
        self.starshipit = StarshipitEmulator(rate_limit=self.quotas.scaled("starshipit"),
                                             fault_seed=self.seed,
                                             variants=self.variants.get("starshipit"))
        self.starshipit.add_account(API_KEY, SUBSCRIPTION_KEY)
        now = datetime.now(UTC)
        # Created over the last days-1 days, so every one is inside the `days` window.
        for spec in seeded_import_orders(self.orders, self.seed, now=now,
                                         days=max(1.0, self.days - 1.0)):
            self.bigcommerce.add_order(self.store_hash, **spec)
        for emulator in (self.bigcommerce, self.starshipit):
            emulator.faults.replace(self.latency.rules(), seed=self.seed)
        self.servers: dict[str, EmulatorServer] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> Bench:
        self.servers = {"bigcommerce": EmulatorServer(self.bigcommerce),
                        "starshipit": EmulatorServer(self.starshipit)}
        for server in self.servers.values():
            # A client stopped on timeout resets its connections; socketserver would print
            # a traceback for each. The emulators' own request log still records them.
            server._server.handle_error = lambda request, address: None  # type: ignore[method-assign]
            server.start()
        if self.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="shipsync-bench-")
            self.workdir = Path(self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(dump_toml(self.config(), "shipsync bench config"))
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what clients need --------------------------------------------------------
    def url(self, api: str) -> str:
        return self.servers[api].url

    @property
    def config_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "shipsync.toml"

    def config(self) -> dict[str, Any]:
        assert self.workdir is not None
        bc_quota, bc_window = self.quotas.scaled("bigcommerce")
        ssi_quota, ssi_window = self.quotas.scaled("starshipit")
        return {
            "state": {"path": str(self.workdir / "state.db")},
            "starshipit": {"api_key": API_KEY, "subscription_key": SUBSCRIPTION_KEY,
                           "base_url": self.url("starshipit"),
                           "rate_limit": ssi_quota / ssi_window},
            "bigcommerce": {"stores": {STORE: {
                "api_path": f"{self.url('bigcommerce')}/stores/{self.store_hash}/v3/",
                "client_id": "bench", "access_token": ACCESS_TOKEN,
                "import_statuses": list(IMPORT_STATUSES), "days": self.days,
                # The setting is per 30 s; the scaled window is shorter, so the quota is larger.
                "rate_limit": round(bc_quota * 30.0 / bc_window),
            }}},
        }

    # -- between phases -----------------------------------------------------------
    def fresh_windows(self) -> None:
        """Wait out both rate-limit windows, so the next phase starts with full quotas."""
        longest = max(self.quotas.scaled(api)[1] for api in API_NAMES)
        time.sleep(longest + 0.2)

    def clear_logs(self) -> None:
        self.bigcommerce.log.clear()
        self.starshipit.log.clear()

    def requests(self) -> dict[str, dict[str, Any]]:
        """Per API: requests served, how many were 429, and the count per route."""
        out: dict[str, dict[str, Any]] = {}
        for api, emulator in (("bigcommerce", self.bigcommerce), ("starshipit", self.starshipit)):
            entries = list(emulator.log.entries)
            routes = Counter(e.route.replace("/stores/{store_hash}", "") for e in entries)
            out[api] = {"total": len(entries),
                        "throttled": sum(1 for e in entries if e.status == 429),
                        "errors": sum(1 for e in entries if e.status >= 500 or e.status == 0),
                        "routes": dict(routes.most_common())}
        return out

    def print_labels(self, fraction: float = 1.0, seed: int = 0, in_order: bool = False) -> int:
        """The merchant prints labels, through the emulator's Python API (no HTTP).

        In a random order by default (by carrier, by urgency: not by order id);
        ``in_order`` prints them by Starshipit order id, i.e. as they were imported.
        """
        unshipped = [o["order_number"] for o in self.starshipit.unshipped(API_KEY)]
        count = int(len(unshipped) * fraction + 0.5)
        chosen = random.Random(seed).sample(unshipped, count)
        if in_order:
            position = {number: index for index, number in enumerate(unshipped)}
            chosen.sort(key=position.__getitem__)
        for number in chosen:
            self.starshipit.print_label(API_KEY, number)
        return count

    def shipments_written(self) -> int:
        return sum(len(self.bigcommerce.shipments(self.store_hash, order_id))
                   for order_id in self.bigcommerce.order_ids(self.store_hash))


@dataclass
class Measured:
    """One subprocess: its wall time, CPU time (user+system), peak RSS and output."""

    command: list[str]
    returncode: int
    wall_s: float
    cpu_s: float
    peak_mb: float
    stdout: str
    stderr: str
    timed_out: bool = False

    def summary(self) -> dict[str, Any]:
        return {"returncode": self.returncode, "wall_s": round(self.wall_s, 3),
                "cpu_s": round(self.cpu_s, 3), "peak_mb": round(self.peak_mb, 1),
                "timed_out": self.timed_out}


def measure(command: list[str], *, timeout: float, env: dict[str, str] | None = None,
            cwd: str | None = None, stdout_path: Path | None = None) -> Measured:
    """Run ``command``; its CPU time comes from ``os.wait4`` on its pid, its peak RSS
    from /proc/PID/status.

    On timeout it gets SIGTERM (shipsync then stops at the next boundary and
    reports), and SIGKILL 15 s later. ``stdout_path`` keeps a large output on
    disk (``Measured.stdout`` is then empty). If the benchmark itself is
    interrupted, the child's process group is killed too.
    """
    with tempfile.TemporaryFile("w+") as err, \
            (open(stdout_path, "w+") if stdout_path else tempfile.TemporaryFile("w+")) as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                   env=env, cwd=cwd, start_new_session=True)
        timed_out = False
        deadline = started + timeout
        killed_at: float | None = None
        peak_kib = 0
        try:
            while True:
                peak_kib = max(peak_kib, _peak_rss_kib(process.pid))
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                now = time.perf_counter()
                if not timed_out and now > deadline:
                    timed_out = True
                    killed_at = now
                    os.killpg(process.pid, signal.SIGTERM)
                elif killed_at is not None and now > killed_at + 15:
                    os.killpg(process.pid, signal.SIGKILL)
                    killed_at = None
                time.sleep(0.01)
        except BaseException:
            os.killpg(process.pid, signal.SIGKILL)
            os.wait4(process.pid, 0)
            raise
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(command=command, returncode=process.returncode, wall_s=wall,
                        cpu_s=usage.ru_utime + usage.ru_stime, peak_mb=peak_kib / 1024.0,
                        stdout="" if stdout_path else out.read(), stderr=err.read(),
                        timed_out=timed_out)


def _peak_rss_kib(pid: int) -> int:
    """VmHWM: the peak resident set of the process's current program.

    Not ``ru_maxrss``: Linux carries the high-water mark of the memory the
    child had before ``exec`` (a copy of this process, emulators and all) into
    it. Sampled every 10 ms while the child runs; growth in its last 10 ms
    before exiting is missed.
    """
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def quota_time(requests: int, quota: int, window_s: float) -> float:
    """Least time from the first to the last of ``requests`` under a fixed-window quota.

    A window admits ``quota`` requests at once (the burst); request k (0-based)
    can go no earlier than the start of window k // quota.
    """
    if requests <= 0:
        return 0.0
    return ((requests - 1) // quota) * window_s


def theoretical_minimum(requests: dict[str, int], quotas: Quotas, latency_s: float, *,
                        real: bool = False) -> float:
    """Max over APIs of the quota time, plus one latency (the last answer's).

    It assumes unbounded concurrency and no dependency between calls, so no
    client can beat it; ``real`` uses the real windows instead of the scaled ones.
    """
    if not any(requests.values()):
        return 0.0
    slowest = 0.0
    for api, count in requests.items():
        quota, window = quotas.real(api) if real else quotas.scaled(api)
        slowest = max(slowest, quota_time(count, quota, window))
    return slowest + latency_s


def minimums(requests: dict[str, int], throttled: dict[str, int], quotas: Quotas,
             latency_s: float) -> tuple[float, float]:
    """The theoretical minimum at the scaled and at the real quotas, for the calls that
    counted against the quota: a 429 uses none of it (the emulators count only admitted
    requests), so refused calls are left out."""
    admitted = {api: count - throttled.get(api, 0) for api, count in requests.items()}
    return (theoretical_minimum(admitted, quotas, latency_s),
            theoretical_minimum(admitted, quotas, latency_s, real=True))
