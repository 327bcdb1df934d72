"""shipsync's benchmark (issue 6): requests, time and memory against rate-limited emulators.

For each N it seeds a fresh BigCommerce store with N orders in the import
statuses (and an empty Starshipit account), then measures, each against its
own fresh pair of emulators:

- ``shipsync import`` and ``shipsync writeback`` (the real CLI in a
  subprocess; between them the merchant prints labels through the Starshipit
  emulator's Python API, which no request log counts);
- the per-order approach of the peers (bench/peers.py);
- tap-bigcommerce 1.1.3 itself (bench/tap_wrapper.py in bench/.venv-tap).

Then the local mapping throughput, and with ``--big`` the peak memory of an
import of 100,000 orders. Results go to bench/out/results.json (merged with
earlier runs, size by size), bench/results.md and bench/results.png.

    python bench/run.py [--sizes 100,1000,10000] [--quick] [--big]

See bench/README.md.
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import (
    ACCESS_TOKEN,
    API_KEY,
    IMPORT_STATUSES,
    SUBSCRIPTION_KEY,
    Bench,
    Latency,
    Quotas,
    measure,
    minimums,
)
from local import local_throughput
from report import keep_serve_section, render

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
TAP_VENV = BENCH / ".venv-tap"
TAP_VERSION = "1.1.3"
APPROACHES = ("shipsync", "peers", "tap")
BIG_N = 100_000


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- rows


def _row(approach: str, bench: Bench, measured: Any, *, requests: dict[str, dict[str, Any]],
         apis: tuple[str, ...], settings: argparse.Namespace) -> dict[str, Any]:
    counts = {api: requests[api]["total"] for api in apis}
    throttled = {api: requests[api]["throttled"] for api in apis}
    latency = settings.latency_model
    minimum, minimum_real = minimums(counts, throttled, settings.quotas, latency.mean_s)
    return {
        "approach": approach,
        "requests": counts,
        "throttled": throttled,
        "server_errors": {api: requests[api]["errors"] for api in apis},
        "routes": {api: requests[api]["routes"] for api in apis},
        **measured.summary(),
        "peak_method": "VmHWM",
        "min_s": round(minimum, 3),
        "min_real_s": round(minimum_real, 3),
        "ratio": round(measured.wall_s / minimum, 2) if minimum else None,
        "serial_latency_s": round(sum(counts.values()) * latency.mean_s, 3),
    }


def _first_request(bench: Bench, started: float) -> float | None:
    """Seconds from the process's start to the first request either API received."""
    arrivals = [e.at for emulator in (bench.bigcommerce, bench.starshipit)
                for e in emulator.log.entries if e.at]
    return round(min(arrivals) - started, 3) if arrivals else None


def compile_bytecode() -> None:
    """Compile shipsync's modules, as pip does when it installs a package.

    The editable install runs from the repository, where nothing compiles them
    when PYTHONDONTWRITEBYTECODE is set: every measured process would then pay
    for compiling its sources at start-up, which no installed copy does.
    """
    for folder in ("core", "plugins"):
        compileall.compile_dir(str(REPO / folder), quiet=1)


def _save_output(workdir: Path, name: str, measured: Any) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{name}.stdout").write_text(measured.stdout)
    (workdir / f"{name}.stderr").write_text(measured.stderr)


def _shipsync_report(measured: Any) -> dict[str, Any]:
    try:
        stores = json.loads(measured.stdout)["stores"]
        return stores[0] if stores else {}
    except (ValueError, KeyError, IndexError):
        return {"unparsed": measured.stdout[-2000:], "stderr": measured.stderr[-2000:]}


def _outcome(report: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = {key: report.get(key) for key in keys if key in report}
    out["failed"] = report.get("failed", 0)
    out["failures"] = (report.get("failures") or [])[:10]
    out["engine_s"] = report.get("seconds")
    out["step_s"] = report.get("step_seconds")
    out["client_requests"] = report.get("requests")
    if "unparsed" in report:
        out["unparsed"] = report["unparsed"]
        out["stderr"] = report["stderr"]
    return out


def fresh_workdir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def shipsync_rows(n: int, settings: argparse.Namespace) -> list[dict[str, Any]]:
    workdir = fresh_workdir(settings.data / f"n{n}" / "shipsync")
    rows = []
    startup = measure([sys.executable, "-m", "shipsync", "--version"], timeout=60).wall_s
    with Bench(n, settings.quotas, settings.latency_model, seed=settings.seed,
               workdir=workdir, variants=settings.variants) as bench:
        base = [sys.executable, "-m", "shipsync", "--config", str(bench.config_path)]
        for step in settings.step_list:
            if step == "writeback":
                printed = bench.print_labels(settings.print_fraction, seed=settings.seed,
                                             in_order=settings.print_order == "id")
                log(f"N={n}: the merchant printed {printed} labels (Python API, not counted)")
                bench.fresh_windows()
            bench.clear_logs()
            log(f"N={n}: shipsync {step} ...")
            started = time.time()
            measured = measure(base + [step, "bigcommerce", "--json"], timeout=settings.timeout,
                               cwd=str(workdir))
            _save_output(workdir, step, measured)
            requests = bench.requests()
            row = _row(f"shipsync {step}", bench, measured, requests=requests,
                       apis=("bigcommerce", "starshipit"), settings=settings)
            row["startup_s"] = round(startup, 3)
            row["first_request_s"] = _first_request(bench, started)
            report = _shipsync_report(measured)
            if step == "import":
                row["outcome"] = _outcome(report, ("imported", "skipped", "already_imported",
                                                   "skipped_reasons"))
                row["outcome"]["starshipit_orders"] = len(bench.starshipit.orders(API_KEY))
            else:
                row["outcome"] = _outcome(report, ("written_back", "not_written_back",
                                                   "awaiting_pickup"))
                row["outcome"]["labels_printed"] = printed
                row["outcome"]["bigcommerce_shipments"] = bench.shipments_written()
            rows.append(row)
            log(_line(n, row))
    return rows


def peers_rows(n: int, settings: argparse.Namespace) -> list[dict[str, Any]]:
    workdir = fresh_workdir(settings.data / f"n{n}" / "peers")
    with Bench(n, settings.quotas, settings.latency_model, seed=settings.seed,
               workdir=workdir, variants=settings.variants) as bench:
        log(f"N={n}: per-order peer import ...")
        command = [sys.executable, str(BENCH / "peers.py"),
                   "--bigcommerce", bench.url("bigcommerce"), "--store-hash", bench.store_hash,
                   "--token", ACCESS_TOKEN, "--starshipit", bench.url("starshipit"),
                   "--api-key", API_KEY, "--subscription-key", SUBSCRIPTION_KEY,
                   "--statuses", ",".join(map(str, IMPORT_STATUSES)), "--days", str(bench.days)]
        measured = measure(command, timeout=settings.timeout)
        _save_output(workdir, "peers", measured)
        row = _row("per-order peer import (bench/peers.py)", bench, measured,
                   requests=bench.requests(), apis=("bigcommerce", "starshipit"),
                   settings=settings)
        try:
            summary = json.loads(measured.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            summary = {"unparsed": measured.stdout[-2000:], "stderr": measured.stderr[-2000:]}
        row["outcome"] = {**summary, "starshipit_orders": len(bench.starshipit.orders(API_KEY))}
    log(_line(n, row))
    return [row]


def ensure_tap_venv() -> str | None:
    """Create bench/.venv-tap with tap-bigcommerce if missing; None when usable, else why not."""
    python = TAP_VENV / "bin" / "python"
    check = [str(python), "-c", "import tap_bigcommerce.bigcommerce as b; print(b.__file__)"]
    if python.exists() and subprocess.run(check, check=False, capture_output=True).returncode == 0:
        return None
    log(f"creating {TAP_VENV} with tap-bigcommerce=={TAP_VERSION} ...")
    base = getattr(sys, "_base_executable", sys.executable)
    steps = [[base, "-m", "venv", "--clear", str(TAP_VENV)],
             [str(python), "-m", "pip", "install", "-q", f"tap-bigcommerce=={TAP_VERSION}"]]
    for step in steps:
        done = subprocess.run(step, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            output = (done.stderr or done.stdout).strip().splitlines()
            errors = [line for line in output if line.startswith("ERROR")] or output[-5:]
            return f"`{' '.join(step)}` failed: {' '.join(errors)[-800:]}"
    done = subprocess.run(check, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        return f"tap_bigcommerce does not import: {done.stderr.strip()[-800:]}"
    return None


TAP_VARIANTS = (
    # (label, extra wrapper arguments, timeout option name)
    (f"tap-bigcommerce {TAP_VERSION} as released", [], "tap_stuck_timeout"),
    (f"tap-bigcommerce {TAP_VERSION}, consignments link skipped", ["--skip-consignments"],
     "timeout"),
)


def tap_rows(n: int, settings: argparse.Namespace) -> list[dict[str, Any]]:
    problem = ensure_tap_venv()
    if problem:
        log(f"N={n}: tap-bigcommerce not run: {problem}")
        return [{"approach": f"tap-bigcommerce {TAP_VERSION}", "not_run": problem}]
    rows = []
    for index, (label, extra, timeout_name) in enumerate(TAP_VARIANTS):
        workdir = fresh_workdir(settings.data / f"n{n}" / f"tap{index}")
        with Bench(n, settings.quotas, settings.latency_model, seed=settings.seed,
                   workdir=workdir, variants=settings.variants) as bench:
            log(f"N={n}: {label} (orders stream) ...")
            start = (datetime.now(UTC) - timedelta(days=bench.days)).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
            summary_path = workdir / "tap-summary.json"
            singer_path = workdir / "tap.stdout"
            command = [str(TAP_VENV / "bin" / "python"), str(BENCH / "tap_wrapper.py"),
                       "--url", bench.url("bigcommerce"), "--store-hash", bench.store_hash,
                       "--token", ACCESS_TOKEN, "--start-date", start,
                       "--summary", str(summary_path), *extra]
            measured = measure(command, timeout=getattr(settings, timeout_name),
                               stdout_path=singer_path)
            (workdir / "tap.stderr").write_text(measured.stderr)
            row = _row(label, bench, measured, requests=bench.requests(),
                       apis=("bigcommerce",), settings=settings)
            records = 0
            seen: set[Any] = set()
            with open(singer_path) as singer:
                for line in singer:
                    if '"RECORD"' in line:
                        message = json.loads(line)
                        if message.get("type") == "RECORD":
                            records += 1
                            seen.add(message["record"].get("id"))
            summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
            stderr = measured.stderr.splitlines()
            row["outcome"] = {
                "records": records, "distinct_orders": len(seen),
                "orders_in_store": len(bench.bigcommerce.order_ids(bench.store_hash)),
                **summary,
                "rate_limit_waits": sum(1 for x in stderr if "rate limit exceeded" in x),
                "records_dropped": sum(1 for x in stderr if "Handled exception" in x),
                "log_sample": sorted({x[:200] for x in stderr if x.startswith(("ERROR",
                                                                              "CRITICAL"))})[:3],
                "failed": 0 if measured.returncode == 0 and not measured.timed_out else 1}
        log(_line(n, row))
        rows.append(row)
    return rows


def big_row(settings: argparse.Namespace) -> dict[str, Any]:
    n = BIG_N
    workdir = fresh_workdir(settings.data / f"n{n}" / "shipsync")
    log(f"N={n}: seeding the store (about a minute) ...")
    seeded = time.perf_counter()
    with Bench(n, settings.quotas, settings.latency_model, seed=settings.seed,
               workdir=workdir, variants=settings.variants) as bench:
        log(f"N={n}: seeded in {time.perf_counter() - seeded:.0f} s; shipsync import ...")
        command = [sys.executable, "-m", "shipsync", "--config", str(bench.config_path),
                   "import", "bigcommerce", "--json"]
        started = time.time()
        measured = measure(command, timeout=settings.big_timeout, cwd=str(workdir))
        _save_output(workdir, "import", measured)
        row = _row("shipsync import", bench, measured, requests=bench.requests(),
                   apis=("bigcommerce", "starshipit"), settings=settings)
        row["outcome"] = _outcome(_shipsync_report(measured),
                                  ("imported", "skipped", "skipped_reasons"))
        row["outcome"]["starshipit_orders"] = len(bench.starshipit.orders(API_KEY))
        row["first_request_s"] = _first_request(bench, started)
        row["n"] = n
    log(_line(n, row))
    return row


def _line(n: int, row: dict[str, Any]) -> str:
    requests = ", ".join(f"{api} {count}" for api, count in row["requests"].items())
    return (f"N={n}: {row['approach']}: {row['wall_s']:.1f} s wall, {row['cpu_s']:.1f} s CPU, "
            f"{row['peak_mb']:.0f} MB, requests {requests}; minimum {row['min_s']:.1f} s"
            + (" (TIMED OUT)" if row.get("timed_out") else "")
            + (f", exit {row['returncode']}" if row.get("returncode") else ""))


# --------------------------------------------------------------------------- main


def git_describe() -> str:
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "core",
                                "plugins", "schemas"], check=False, capture_output=True,
                               text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    changed = len([line for line in dirty.splitlines() if line.strip()])
    return commit + (f" + {changed} uncommitted file(s) in core/plugins/schemas" if changed else "")


def settings_meta(settings: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "code": git_describe(),
        "scale": settings.quotas.scale,
        "quotas": settings.quotas.describe(),
        "latency_ms": f"{settings.latency_model.low_ms}-{settings.latency_model.high_ms}",
        "latency_mean_s": settings.latency_model.mean_s,
        "print_fraction": settings.print_fraction,
        "print_order": settings.print_order,
        "seed": settings.seed,
        "variants": dict(settings.variant_list),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}",
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="shipsync benchmark (issue 6); see "
                                     "bench/README.md")
    parser.add_argument("--sizes", default="100,1000,10000",
                        help="comma-separated N (orders in import statuses); default "
                             "100,1000,10000")
    parser.add_argument("--quick", action="store_true",
                        help="N=100 only and a short local-throughput run (a smoke test)")
    parser.add_argument("--big", action="store_true",
                        help=f"also import N={BIG_N:,} with shipsync to measure peak memory "
                             "(long: see README)")
    parser.add_argument("--approaches", default=",".join(APPROACHES),
                        help="which of shipsync,peers,tap to run (default all)")
    parser.add_argument("--no-local", action="store_true", help="skip the local throughput")
    parser.add_argument("--scale", type=float, default=10.0,
                        help="rate-limit windows are this many times shorter (default 10; 1 = "
                             "real quotas)")
    parser.add_argument("--latency", default="30-80",
                        help="per-request latency in ms, uniform LOW-HIGH in 10 ms steps "
                             "(default 30-80)")
    parser.add_argument("--print-fraction", type=float, default=1.0,
                        help="share of imported orders whose labels are printed before "
                             "writeback (default 1.0)")
    parser.add_argument("--print-order", choices=("random", "id"), default="random",
                        help="order the labels are printed in: random (default) or by order id")
    parser.add_argument("--timeout", type=float, default=1200.0,
                        help="seconds before one measured process is stopped (default 1200)")
    parser.add_argument("--tap-stuck-timeout", type=float, default=60.0,
                        help="seconds the as-released tap-bigcommerce is given (it loops on "
                             "the same page; see bench/tap_wrapper.py); default 60")
    parser.add_argument("--big-timeout", type=float, default=3600.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=BENCH / "out",
                        help="raw results, logs and state files (default bench/out); with "
                             "another directory, results.md and results.png go there too")
    parser.add_argument("--steps", default="import,writeback",
                        help="shipsync steps to measure (default import,writeback; "
                             "import alone skips the long writeback at the real quotas)")
    parser.add_argument("--output", metavar="NAME",
                        help="write bench/NAME.md and bench/NAME.png (e.g. results-real-quotas "
                             "for a --scale 1 run kept in its own --data directory)")
    parser.add_argument("--variant", action="append", default=[], metavar="SANDBOX.NAME=VALUE",
                        help="how an emulated API behaves where its documentation is silent "
                             "(repeatable; `shipsync sandbox --list-variants`); default: the "
                             "likely behaviours")
    parser.add_argument("--fresh", action="store_true",
                        help="forget earlier results instead of merging with them")
    parser.add_argument("--render-only", action="store_true",
                        help="rewrite results.md and results.png from bench/out/results.json")
    args = parser.parse_args(argv)
    args.data = args.data.resolve()  # the measured processes run in their own folders
    args.quotas = Quotas(scale=args.scale)
    args.latency_model = Latency.parse(args.latency)
    args.size_list = [100] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    args.approach_list = [a.strip() for a in args.approaches.split(",") if a.strip()]
    args.step_list = [s.strip() for s in args.steps.split(",") if s.strip()]
    if not args.step_list or set(args.step_list) - {"import", "writeback"}:
        parser.error("--steps takes import and/or writeback")
    args.step_list.sort(key=["import", "writeback"].index)
    from shipsync.plugins import PluginHost
    from shipsync.sandboxes import parse_variants

    try:
        chosen = parse_variants(PluginHost.load(), args.variant)
    except ValueError as exc:
        parser.error(str(exc))
    args.variants = chosen
    args.variant_list = [(f"{sandbox}.{name}", value) for sandbox, names in chosen.items()
                         for name, value in names.items()]
    unknown = set(args.approach_list) - set(APPROACHES)
    if unknown:
        parser.error(f"unknown approaches: {', '.join(sorted(unknown))}")
    return args


def _stop(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # so measure() kills its child on the way out


EMPTY: dict[str, Any] = {"sizes": {}, "local": None, "big": None}


def update_results(store: Path, change: Any) -> dict[str, Any]:
    """Apply ``change`` to the stored results under a lock, so concurrent runs merge."""
    with open(store.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(store.read_text()) if store.exists() else json.loads(
            json.dumps(EMPTY))
        change(results)
        store.write_text(json.dumps(results, indent=1))
        return results


def _set_rows(n: int, approach: str, rows: list[dict[str, Any]],
              meta: dict[str, Any]) -> Any:
    def change(results: dict[str, Any]) -> None:
        entry = results["sizes"].setdefault(str(n), {"rows": {}, "meta": {}})
        if "date" in entry.get("meta", {}):  # an older layout: one meta for every row
            entry["meta"] = {name: entry["meta"] for name in entry["rows"]}
        entry["rows"][approach] = rows
        entry["meta"][approach] = meta
    return change


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    settings = parse_args(argv)
    settings.data.mkdir(parents=True, exist_ok=True)
    store = settings.data / "results.json"
    if settings.fresh and not settings.render_only:
        update_results(store, lambda results: results.update(json.loads(json.dumps(EMPTY))))
    results = update_results(store, lambda results: None)
    if not settings.render_only:
        compile_bytecode()
        runners = {"shipsync": shipsync_rows, "peers": peers_rows, "tap": tap_rows}
        for n in settings.size_list:
            for approach in settings.approach_list:
                meta = settings_meta(settings)
                rows = runners[approach](n, settings)
                results = update_results(store, _set_rows(n, approach, rows, meta))
        if not settings.no_local:
            count = 500 if settings.quick else 2000
            log(f"local throughput over {count} orders ...")
            local = {**local_throughput(count, 1.0 if settings.quick else 3.0, settings.seed),
                     "meta": settings_meta(settings)}
            log(f"local: {local['pipelines']}")
            results = update_results(store, lambda results: results.update(local=local))
        if settings.big:
            big = {**big_row(settings), "meta": settings_meta(settings)}
            results = update_results(store, lambda results: results.update(big=big))
    # results.md and results.png belong in bench/ only for the default data directory,
    # or under the name --output gives.
    if settings.output:
        markdown_path = BENCH / f"{settings.output}.md"
    elif settings.data == (BENCH / "out").resolve():
        markdown_path = BENCH / "results.md"
    else:
        markdown_path = settings.data / "results.md"
    raw = store.relative_to(REPO) if store.is_relative_to(REPO) else store
    markdown, plotted = render(results, markdown_path.with_suffix(".png"), raw=str(raw))
    if markdown_path.exists():
        markdown = keep_serve_section(markdown_path.read_text(), markdown)
    markdown_path.write_text(markdown)
    log(f"wrote {markdown_path}" + (f" and {plotted}" if plotted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
