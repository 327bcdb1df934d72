"""shipsync serve under load (issue 15): latency from a paid order to Starshipit and from a
printed label to BigCommerce, and API requests per order, against polling.

A documented command, not a test (pytest never collects bench/):

    python bench/serve.py                       # every mode: about 12 minutes
    python bench/serve.py --modes webhooks --seconds 30

Each mode starts fresh emulators (BigCommerce at the Pro plan's 450 requests per 30 s,
Starshipit at the production tier's 20 per second, 50 ms added to every request), a
fresh state file and shipsync, then pays ``--rate`` orders per second for ``--seconds``
in one store (status 11, through the emulator's Python API) and prints each order's
label, at the same rate, as soon as it is in Starshipit. A watcher notes (every 10 ms)
when each order appears in Starshipit and when its shipment appears in BigCommerce.

Modes:

- ``webhooks``: ``shipsync serve``, BigCommerce's hooks installed, Starshipit's tracking
  webhook on (sent at print).
- ``labels``: the same with Starshipit's webhook off: printed labels are read every minute.
- ``faults``: ``webhooks`` with 20% of BigCommerce's callbacks lost, 20% duplicated (the
  repeat within 0.5 s) and every callback delayed by up to 1 s (so reordered), unsigned
  (no ``webhook-id``: repeats are coalesced, not recognised); ``poll_every`` 1 minute.
- ``polling``: no webhooks: ``shipsync run bigcommerce --every 1m``.
- ``tight``: ``webhooks`` at the lowest quotas, BigCommerce's Standard plan (150 per 30 s)
  and Starshipit's developer tier (2 per second), with 0.8 orders (and labels) a second.

Results: bench/out-serve/serve.json (raw), and the section between the serve markers of
bench/results.md with bench/results-serve.png (latency distributions per mode).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from shipsync.plugins import PluginHost
from shipsync.sandbox import FaultRule
from shipsync.sandboxes import SandboxSet
from shipsync.testing import write_config

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
OUT = BENCH / "out-serve"
API_KEY = "sandbox-api-key"
PRODUCTS = [{"name": "Mug", "sku": "MUG-1", "quantity": 1, "weight": 0.4}]
QUOTAS = {"bigcommerce": (450, 30.0), "starshipit": (20, 1.0)}
LATENCY_S = 0.05
START, END = "<!-- serve:start -->", "<!-- serve:end -->"

MODES: dict[str, dict[str, Any]] = {
    "webhooks": {"serve": True, "tracking": True, "poll_every": "10m", "faults": None},
    "labels": {"serve": True, "tracking": False, "poll_every": "10m", "faults": None},
    "faults": {"serve": True, "tracking": True, "poll_every": "1m",
               "faults": {"loss": 0.2, "duplicate": 0.2, "duplicate_gap": 0.5, "jitter": 1.0,
                          "sign": False}},
    "polling": {"serve": False, "every": "1m"},
    "tight": {"serve": True, "tracking": True, "poll_every": "10m", "faults": None,
              "rate": 0.8, "quotas": {"bigcommerce": (150, 30.0), "starshipit": (2, 1.0)}},
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": percentile(values, 0.5), "p95": percentile(values, 0.95),
            "max": max(values) if values else None}


class Load:
    """Pays orders at a rate, prints labels at the same rate, watches both arrive."""

    def __init__(self, sandboxes: SandboxSet, rate: float, seconds: float) -> None:
        self.bc = sandboxes.emulator("bigcommerce")
        self.ss = sandboxes.emulator("starshipit")
        self.rate, self.seconds = rate, seconds
        self.store_hash = self.bc.stores["main"].store_hash
        self.paid: dict[int, float] = {}
        self.in_starshipit: dict[int, float] = {}
        self.printed: dict[int, float] = {}
        self.shipped: dict[int, float] = {}
        self.to_print: queue.Queue[int] = queue.Queue()
        self.done = threading.Event()

    def run(self, drain_s: float) -> None:
        threads = [threading.Thread(target=f, daemon=True)
                   for f in (self._pay, self._print, self._watch)]
        for thread in threads:
            thread.start()
        total = int(self.rate * self.seconds)
        deadline = time.monotonic() + self.seconds + drain_s
        while time.monotonic() < deadline:
            if len(self.paid) == total and len(self.shipped) == total:
                break
            time.sleep(0.2)
        self.done.set()
        for thread in threads:
            thread.join(timeout=5)

    def _pay(self) -> None:
        start = time.monotonic()
        for index in range(int(self.rate * self.seconds)):
            wait = start + index / self.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            moment = time.time()
            order = self.bc.add_order("main", products=PRODUCTS, status_id=11)
            self.paid[int(order["id"])] = moment

    def _print(self) -> None:
        next_at = time.monotonic()
        while not self.done.is_set():
            try:
                order_id = self.to_print.get(timeout=0.1)
            except queue.Empty:
                continue
            wait = next_at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            next_at = max(time.monotonic(), next_at) + 1.0 / self.rate
            self.printed[order_id] = time.time()
            self.ss.print_label(API_KEY, str(order_id))

    def _watch(self) -> None:
        account = self.ss._accounts[API_KEY]
        store = self.bc._stores[self.store_hash]
        while not self.done.is_set():
            now = time.time()
            for order_id in [i for i in self.paid if i not in self.in_starshipit]:
                if str(order_id) in account.order_ids:
                    self.in_starshipit[order_id] = now
                    self.to_print.put(order_id)
            for order_id in [i for i in self.printed if i not in self.shipped]:
                if store.orders[order_id].shipments:
                    self.shipped[order_id] = now
            time.sleep(0.01)

    def latencies(self) -> dict[str, list[float]]:
        return {
            "import": [self.in_starshipit[i] - self.paid[i] for i in self.in_starshipit],
            "writeback": [self.shipped[i] - self.printed[i] for i in self.shipped],
        }


def start_serve(config: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    log_path = workdir / "serve.log"
    handle = log_path.open("w")
    process = subprocess.Popen([sys.executable, "-m", "shipsync", "--config", str(config),
                                "serve"], stdout=handle, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, cwd=workdir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+)", log_path.read_text())
        if found:
            return process, found.group(1), log_path
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"serve did not start: {log_path.read_text()}")


def scrape_answers(url: str) -> dict[str, Any]:
    """How fast serve answered its webhooks, from its own histogram (``/metrics``)."""
    import requests

    text = requests.get(f"{url}/metrics", timeout=10).text
    buckets = {float(le): float(v) for le, v in re.findall(
        r'shipsync_webhook_response_seconds_bucket\{le="([0-9.e+-]+)"\} ([0-9.e+]+)', text)}
    count = float(re.search(r"shipsync_webhook_response_seconds_count ([0-9.e+]+)",
                            text).group(1))  # type: ignore[union-attr]
    p99 = next((le for le, n in sorted(buckets.items()) if count and n >= 0.99 * count), None)
    return {"count": int(count), "within_100ms": buckets.get(0.1, 0.0) / count if count else None,
            "p99_bucket_s": p99}


def measure(mode: str, rate: float, seconds: float, batch_window: float) -> dict[str, Any]:
    spec = MODES[mode]
    rate = spec.get("rate", rate)
    quotas = spec.get("quotas", QUOTAS)
    host = PluginHost.load()
    workdir = Path(tempfile.mkdtemp(prefix=f"serve-{mode}-", dir=OUT))
    options = {"per_sandbox": {name: {"rate_limit": quotas[name]} for name in quotas}}
    with SandboxSet(host, orders=0, seed=1, **options) as sandboxes:
        for name in quotas:
            sandboxes.emulator(name).faults.replace([FaultRule("latency", seconds=LATENCY_S)])
        data = sandboxes.config(workdir / "state.db")
        data["bigcommerce"]["stores"]["main"]["rate_limit"] = quotas["bigcommerce"][0]
        data["starshipit"]["rate_limit"] = quotas["starshipit"][0]
        data["serve"] = {"port": 0, "poll_every": spec.get("poll_every", "10m"),
                         "labels_every": "1m", "batch_window": batch_window}
        config = write_config(workdir / "shipsync.toml", data)
        bc, ss = sandboxes.emulator("bigcommerce"), sandboxes.emulator("starshipit")
        if spec.get("faults"):
            bc.webhooks.configure(seed=1, **spec["faults"])
        ss.tracking.configure(on_print=bool(spec.get("tracking")))
        if spec["serve"]:
            process, url, log_path = start_serve(config, workdir)
            install = subprocess.run([sys.executable, "-m", "shipsync", "--config", str(config),
                                      "webhooks", "install", "bigcommerce", "--url", url],
                                     capture_output=True, text=True, timeout=60)
            if install.returncode:
                raise RuntimeError(install.stderr)
            ss.set_webhook(API_KEY, f"{url}/webhooks/starshipit", data["starshipit"]
                           ["webhook_secret"])
        else:
            log_path = workdir / "run.log"
            process = subprocess.Popen(
                [sys.executable, "-m", "shipsync", "--config", str(config), "run",
                 "bigcommerce", "--every", spec["every"], "--json"],
                stdout=log_path.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=workdir)
        time.sleep(2.0)  # the poll at start has read the empty store
        bc.log.clear()
        ss.log.clear()
        log(f"{mode}: {int(rate * seconds)} orders at {rate}/s ...")
        started = time.monotonic()
        load = Load(sandboxes, rate, seconds)
        load.run(drain_s=240.0)
        wall = time.monotonic() - started
        answers = scrape_answers(url) if spec["serve"] else None
        process.send_signal(signal.SIGTERM if spec["serve"] else signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        entries = {"bigcommerce": list(bc.log.entries), "starshipit": list(ss.log.entries)}
        deliveries = list(bc.webhooks.deliveries)
        shipments = {i: len(bc._stores[load.store_hash].orders[i].shipments) for i in load.paid}
        starshipit_orders = len(ss._accounts[API_KEY].orders)
    with sqlite3.connect(workdir / "state.db") as db:
        creates = [row[0] for row in db.execute(
            "SELECT key FROM journal WHERE action='create_order'")]
        failed = sum(json.loads(row[0] or "{}").get("failed", 0)
                     for row in db.execute("SELECT report FROM runs"))
    total = len(load.paid)
    requests = {api: len(rows) for api, rows in entries.items()}
    throttled = {api: sum(1 for e in rows if e.status == 429) for api, rows in entries.items()}
    latencies = load.latencies()
    return {
        "mode": mode, "orders": total, "wall_s": round(wall, 1), "rate": rate,
        "quotas": {api: list(q) for api, q in quotas.items()},
        "imported": len(load.in_starshipit), "written_back": len(load.shipped),
        "latency": {step: summary(values) for step, values in latencies.items()},
        "latencies": {step: [round(v, 4) for v in values] for step, values in latencies.items()},
        "requests": requests,
        "requests_per_order": {api: round(n / max(1, total), 2) for api, n in requests.items()},
        "throttled": throttled, "failed_records": failed,
        "created_twice": len(creates) - len(set(creates)),
        "shipments_not_one": sum(1 for n in shipments.values() if n != 1),
        "starshipit_orders": starshipit_orders,
        "webhooks": {"lost": sum(1 for d in deliveries if d["outcome"] == "lost"),
                     "sent": sum(1 for d in deliveries if d["outcome"] != "lost"),
                     "failed": sum(1 for d in deliveries if d["outcome"] == "failed")},
        "code": code_version().split()[0],
        "load_average": round(os.getloadavg()[0], 1),
        "answers": answers,
        "workdir": str(workdir.relative_to(REPO)),
        "log_tail": log_path.read_text(errors="replace").splitlines()[-5:],
    }


def _answered(answers: dict[str, Any] | None) -> str:
    if not answers or answers.get("within_100ms") is None:
        return "-"
    return f"{answers['within_100ms']:.1%} of {answers['count']}"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    lines = [START, "## shipsync serve: webhooks against polling (issue 15)", "",
             f"Written by `python bench/serve.py` (bench/serve.py says how); measured "
             f"{meta['date']}. {meta['rate']:g} orders per second for "
             f"{meta['seconds']:g} s paid in one store (status 11), each label printed as soon "
             f"as the order is in Starshipit, at the same rate. BigCommerce at the Pro plan's "
             f"450 requests per 30 s, Starshipit at the production tier's 20 per second (the "
             f"developer tier's 2 cannot take 5 labels a second), 50 ms added to every "
             f"request; `[serve] batch_window` {meta['batch_window']:g} s. Latencies in "
             "seconds: import = paid in BigCommerce to the order in Starshipit; writeback = "
             "label printed to the shipment in BigCommerce. Requests per order count every "
             "call to each API during the load and until the last order was written back. "
             "The 2-core machine was shared with other jobs (load averages below). The last "
             "column is serve's own histogram of its answers to the webhooks.",
             "", "| mode | orders | import p50 / p95 / max | writeback p50 / p95 / max | "
             "BigCommerce req/order | Starshipit req/order | 429s (BC/SS) | failed | each "
             "once | webhooks answered in 100 ms |", "|---|---:|---|---|---:|---:|---|---:|---|---|"]
    for mode in MODES:
        row = results["modes"].get(mode)
        if row is None:
            continue
        imp, wb = row["latency"]["import"], row["latency"]["writeback"]
        once = (row["created_twice"] == 0 and row["shipments_not_one"] == 0
                and row["starshipit_orders"] == row["orders"] == row["written_back"])
        lines.append(
            f"| {mode} | {row['orders']} | {_fmt(imp['p50'])} / {_fmt(imp['p95'])} / "
            f"{_fmt(imp['max'])} | {_fmt(wb['p50'])} / {_fmt(wb['p95'])} / {_fmt(wb['max'])} | "
            f"{row['requests_per_order']['bigcommerce']} | "
            f"{row['requests_per_order']['starshipit']} | {row['throttled']['bigcommerce']} / "
            f"{row['throttled']['starshipit']} | {row['failed_records']} | "
            f"{'yes' if once else 'NO'} | {_answered(row.get('answers'))} |")
    faults = results["modes"].get("faults")
    lines += ["", "Modes: `webhooks`: `shipsync serve` with BigCommerce's hooks and "
              "Starshipit's tracking webhook (sent at print); `labels`: Starshipit's webhook off, "
              "printed labels read every minute; `faults`: 20% of BigCommerce's callbacks lost, "
              "20% duplicated, all delayed up to 1 s (reordered), unsigned, with `poll_every` "
              "1 minute; `polling`: `shipsync run bigcommerce --every 1m`, no webhooks; "
              "`tight`: `webhooks` at BigCommerce's Standard plan (150 per 30 s) and "
              "Starshipit's developer tier (2 per second), 0.8 orders and labels a second. "
              "*Each once*: every order created once in Starshipit and shipped once in "
              "BigCommerce."]
    if faults:
        base = results["modes"].get("webhooks")
        extra = ", ".join(
            f"{name} {faults['requests_per_order'][api] - base['requests_per_order'][api]:+.2f}"
            for api, name in (("bigcommerce", "BigCommerce"), ("starshipit", "Starshipit"))
        ) if base else "-"
        lines += ["", f"Under faults {faults['webhooks']['lost']} of "
                  f"{faults['webhooks']['lost'] + faults['webhooks']['sent']} callbacks (orders' "
                  f"and shipments') were never sent; the poll caught their orders up, nothing was "
                  f"lost or done twice. Requests per order against `webhooks`: {extra}."]
    lines += ["", "Measured on commits: " + ", ".join(
        f"{mode} {row.get('code', '?')}" for mode, row in results["modes"].items()) + "; load "
        "average of the shared machine at each mode's end: " + ", ".join(
        f"{mode} {row['load_average']}" for mode, row in results["modes"].items()
        if row.get("load_average") is not None) + "."]
    lines += ["", "![latency distributions per mode](results-serve.png)", END]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 5))
    for index, step in enumerate(("import", "writeback")):
        ax = axes[index]
        data, labels = [], []
        for mode in MODES:
            row = results["modes"].get(mode)
            if row and row["latencies"][step]:
                data.append([max(v, 1e-3) for v in row["latencies"][step]])
                labels.append(mode)
        if data:
            ax.boxplot(data, whis=(5, 95), showfliers=True)
            ax.set_xticks(range(1, len(labels) + 1), labels)
        ax.set_yscale("log")
        ax.set_ylabel("seconds (log)")
        ax.set_title({"import": "paid in BigCommerce -> order in Starshipit",
                      "writeback": "label printed -> shipment in BigCommerce"}[step])
        ax.axhline(2.0, color="grey", linestyle=":", linewidth=1)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    figure.suptitle("shipsync serve: latency per mode (box: p25-p75, whiskers p5-p95; "
                    "dotted: 2 s)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_section(markdown: str, path: Path) -> None:
    text = path.read_text() if path.exists() else ""
    if START in text and END in text:
        text = text[:text.index(START)] + markdown + text[text.index(END) + len(END) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + markdown
    path.write_text(text)


def code_version() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %cs"],
                          capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--batch-window", type=float, default=0.25)
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    store = OUT / "serve.json"
    results: dict[str, Any] = json.loads(store.read_text()) if store.exists() else {
        "modes": {}}
    if not args.render_only:
        results["meta"] = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
                           "code": code_version(), "rate": args.rate, "seconds": args.seconds,
                           "batch_window": args.batch_window, "machine": f"{os.cpu_count()} cores"}
        for mode in args.modes.split(","):
            row = measure(mode, args.rate, args.seconds, args.batch_window)
            log(f"{mode}: {json.dumps({k: row[k] for k in ('latency', 'requests_per_order', 'throttled', 'failed_records', 'created_twice', 'shipments_not_one')})}")  # noqa: E501
            results["modes"][mode] = row
            store.write_text(json.dumps(results, indent=1))
    plot(results, BENCH / "results-serve.png")
    write_section(render(results), BENCH / "results.md")
    log("wrote bench/results.md (serve section) and bench/results-serve.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
