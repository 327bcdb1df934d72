"""bench/results.md and bench/results.png from the stored results (bench/out/results.json)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness import Quotas, minimums

__all__ = ["render", "targets"]

STATUSES = 2  # import statuses 9 and 11: one list call per 250 orders per status
TARGET_RATIO = 1.2
TARGET_PER_ORDER_FACTOR = 100
TARGET_LOCAL = 5000
TARGET_BIG_MB = 200
RATE_LIMIT_WORDS = ("429", "rate-limited", "rate limit", "too many requests")


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("PASS" if ok else "**FAIL**")


def _variants_line(meta: dict[str, Any]) -> str:
    """How the emulated APIs behaved where their documentation is silent."""
    if "variants" not in meta:
        return ("- Emulator variants: none (measured before the emulators offered variants: "
                "their one behaviour).")
    chosen = ", ".join(f"{k}={v}" for k, v in sorted(meta["variants"].items()))
    return ("- Emulator variants (how the APIs behave where their documentation is silent): "
            + (chosen or "the likely ones, every emulator's default") + ".")


def _metas(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each approach's run settings (older results kept one meta for the whole size)."""
    meta = entry.get("meta") or {}
    if "date" in meta:
        return {name: meta for name in entry["rows"]}
    return {name: meta[name] for name in entry["rows"] if name in meta}


def _rows(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for rows in entry["rows"].values() for row in rows]


def _find(entry: dict[str, Any], prefix: str, *, finished: bool = False) -> dict[str, Any] | None:
    for row in _rows(entry):
        if (row["approach"].startswith(prefix) and "not_run" not in row
                and not (finished and row.get("timed_out"))):
            return row
    return None


def _rate_limit_failures(row: dict[str, Any]) -> int:
    failures = (row.get("outcome") or {}).get("failures") or []
    return sum(1 for f in failures
               if any(word in str(f.get("reason", f)).lower() for word in RATE_LIMIT_WORDS))


TRUNCATED_ROUTE = "GET /v2/orders/{order_id:int}/products"


def _as_built(api: str, n: int, row: dict[str, Any], admitted: int,
              limit: int) -> tuple[str, str, str, bool | None]:
    """The request formula with what it leaves out, as the issue's Build section states it.

    BigCommerce: the Build allows one call per order whose consignment BigCommerce
    truncated (over 50 lines); the formula does not count them. Starshipit: one
    Starshipit order per address, so the 50-per-call import counts addresses.
    """
    if api == "bigcommerce":
        truncated = row["routes"].get("bigcommerce", {}).get(TRUNCATED_ROUTE, 0)
        return ("import: BigCommerce requests ≤ 2 × ceil(N/250) + 5 + one per truncated order "
                "(the per-order calls the issue's Build allows)", f"N={n:,}",
                f"{admitted:,} ≤ {limit:,} + {truncated:,} = {limit + truncated:,}",
                admitted <= limit + truncated)
    created = (row.get("outcome") or {}).get("starshipit_orders") or 0
    per_address = math.ceil(created / 50) + 5
    return ("import: Starshipit requests ≤ ceil(S/50) + 5, S = Starshipit orders created "
            "(one per address)", f"N={n:,}, S={created:,}",
            f"{admitted:,} ≤ {per_address:,}" + ("" if admitted == row["requests"][api]
                                                 else " (429s not counted)"),
            admitted <= per_address)


def targets(results: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, where, measured, pass) for every target of issue 6 that was measured."""
    out: list[tuple[str, str, str, bool | None]] = []
    entries = [(int(key), results["sizes"][key]) for key in sorted(results["sizes"], key=int)]
    if results.get("big"):
        entries.append((int(results["big"].get("n", 100_000)),
                        {"rows": {"shipsync": [results["big"]]}}))
    for n, entry in entries:
        imp = _find(entry, "shipsync import")
        wb = _find(entry, "shipsync writeback")
        if imp:
            for api, limit, formula in (
                    ("bigcommerce", STATUSES * math.ceil(n / 250) + 5,
                     f"{STATUSES} × ceil(N/250) + 5"),
                    ("starshipit", math.ceil(n / 50) + 5, "ceil(N/50) + 5")):
                got = imp["requests"][api]
                refused = imp["throttled"].get(api, 0)
                name = "BigCommerce" if api == "bigcommerce" else "Starshipit"
                out.append((f"import: {name} requests ≤ {formula}", f"N={n:,}",
                            f"{got:,}" + (f" (of which {refused} × 429)" if refused else "")
                            + f" ≤ {limit:,}", got <= limit))
                if got > limit:
                    out.append(_as_built(api, n, imp, got - refused, limit))
        for row in (imp, wb):
            if row and row.get("ratio") is not None:
                out.append((f"{row['approach']}: wall ≤ {TARGET_RATIO}× theoretical minimum",
                            f"N={n:,}", (f"{row['wall_s']:.2f} s / {row['min_s']:.2f} s = "
                            f"{row['ratio']:.2f}×"), row["ratio"] <= TARGET_RATIO
                            and not row.get("timed_out")))
        for row in (imp, wb):
            if row:
                throttled = sum(row["throttled"].values())
                failed = _rate_limit_failures(row)
                out.append((f"{row['approach']}: no 429 turns into a failure", f"N={n:,}",
                            (f"{throttled} × 429 served, {failed} failed for it, "
                            f"{(row.get('outcome') or {}).get('failed', 0)} failed in all"),
                            failed == 0 and row.get("returncode") in (0, 1)))
        if n == 1000 and imp:
            for prefix in ("per-order peer", "tap-bigcommerce"):
                peer = _find(entry, prefix, finished=True)
                if peer:
                    ours = max(1, imp["requests"]["bigcommerce"])
                    factor = peer["requests"]["bigcommerce"] / ours
                    out.append(((f"≥ {TARGET_PER_ORDER_FACTOR}× fewer BigCommerce requests than "
                                f"{peer['approach']}"), "N=1,000",
                                (f"{peer['requests']['bigcommerce']:,} / "
                                f"{imp['requests']['bigcommerce']:,} = {factor:.0f}×"),
                                factor >= TARGET_PER_ORDER_FACTOR))
    writebacks = [(n, _find(entry, "shipsync writeback")) for n, entry in entries]
    measured_wb = [(n, row) for n, row in writebacks if row and row.get("peak_mb") is not None]
    if measured_wb:
        n, row = measured_wb[-1]
        out.append((f"peak memory < {TARGET_BIG_MB} MB (writeback: bounded by its chunk of "
                    "shipped rows, not by N)", f"shipsync writeback, N={n:,}",
                    f"{row['peak_mb']:.0f} MB", row["peak_mb"] < TARGET_BIG_MB))
    local = results.get("local")
    if local:
        for name, pipeline in local["pipelines"].items():
            out.append((f"local: ≥ {TARGET_LOCAL:,} orders/s mapped and validated on one core",
                        f"{name} pipeline", f"{pipeline['orders_per_s']:,} orders/s",
                        pipeline["orders_per_s"] >= TARGET_LOCAL))
    big = results.get("big")
    if big:
        if big.get("peak_mb") is None:
            out.append((f"peak memory < {TARGET_BIG_MB} MB at N = 100,000", "shipsync import",
                        "not measured (an older run: re-run with --big)", None))
        else:
            out.append((f"peak memory < {TARGET_BIG_MB} MB at N = 100,000", "shipsync import",
                        f"{big['peak_mb']:.0f} MB"
                        + (" (timed out)" if big.get("timed_out") else ""),
                        big["peak_mb"] < TARGET_BIG_MB and big.get("returncode") in (0, 1)))
    else:
        out.append((f"peak memory < {TARGET_BIG_MB} MB at N = 100,000", ("not measured "
                    "(run with --big)"), "—", None))
    return out


def _table(entry: dict[str, Any], scale: float) -> list[str]:
    lines = [
        ("| approach | BigCommerce requests | Starshipit requests | wall s | wall s ×"
        f"{scale:g} (scaled back) | CPU s | peak MB | theoretical min s | min s at real "
        "quotas | ratio wall/min |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in _rows(entry):
        if "not_run" in row:
            lines.append(f"| {row['approach']} | not run: see below | | | | | | | | |")
            continue
        requests = row["requests"]
        wall = _fmt(row["wall_s"], 2) + (" (timed out)" if row.get("timed_out") else "")
        lines.append(
            f"| {row['approach']} | {_fmt(requests.get('bigcommerce'))} | "
            f"{_fmt(requests.get('starshipit'))} | {wall} | {_fmt(row['wall_s'] * scale, 0)} | "
            f"{_fmt(row['cpu_s'], 2)} | {_fmt(row['peak_mb'], 0)} | {_fmt(row['min_s'], 2)} | "
            f"{_fmt(row['min_real_s'], 1)} | {_fmt(row['ratio'], 2)} |")
    return lines


def _pace(row: dict[str, Any], meta: dict[str, Any]) -> str:
    """Requests per second each API admitted, against what its scaled quota allows."""
    quotas = Quotas(scale=meta["scale"])
    parts = []
    for api, count in row["requests"].items():
        admitted = count - (row.get("throttled") or {}).get(api, 0)
        quota, window = quotas.scaled(api)
        parts.append(f"{api} {admitted / row['wall_s']:.1f}/s of {quota / window:g}/s")
    busy = row["cpu_s"] / row["wall_s"] if row["wall_s"] else 0.0
    return f"pace: {', '.join(parts)}; CPU busy {busy:.0%} of the wall time"


def _notes(entry: dict[str, Any]) -> list[str]:
    lines = []
    metas = _metas(entry)
    for approach, rows in entry["rows"].items():
        for row in rows:
            row["_meta"] = metas.get(approach)
    for row in _rows(entry):
        if "not_run" in row:
            lines.append(f"- **{row['approach']}** was not run: {row['not_run']}")
            continue
        outcome = dict(row.get("outcome") or {})
        throttled = ", ".join(f"{api} {n}" for api, n in row["throttled"].items())
        facts = [f"429s served: {throttled}"]
        if row.get("_meta") and row.get("wall_s"):
            facts.append(_pace(row, row["_meta"]))
        facts.append("sum of latencies if every call waited for the previous: "
                     f"{row['serial_latency_s']:.1f} s")
        if outcome.get("engine_s") is not None:
            steps = outcome.get("step_s") or {}
            facts.append(f"engine time (report `seconds`): {outcome['engine_s']:.2f} s"
                         + "".join(f", {step} {value:.2f} s" for step, value in steps.items()))
        if row.get("first_request_s") is not None:
            facts.append(f"first request {row['first_request_s']:.2f} s after the process "
                         "started")
        if row.get("startup_s") is not None and row.get("min_s"):
            facts.append(f"`shipsync --version` alone takes {row['startup_s']:.2f} s; ratio "
                         f"without it {(row['wall_s'] - row['startup_s']) / row['min_s']:.2f}")
        if outcome.get("client_requests"):
            facts.append(f"shipsync's own count: {outcome['client_requests']}")
        shown = {k: v for k, v in outcome.items()
                 if k in ("imported", "skipped", "already_imported", "starshipit_orders",
                          "written_back", "not_written_back", "awaiting_pickup",
                          "labels_printed", "bigcommerce_shipments", "orders_read",
                          "starshipit_orders_created", "records", "distinct_orders",
                          "orders_in_store", "records_dropped", "rate_limit_waits",
                          "results_per_page", "failed", "waited_s")}
        facts.append("outcome: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
        if outcome.get("skipped_reasons"):
            facts.append("skipped: " + "; ".join(f"{n} × {why}" for why, n in
                                                 outcome["skipped_reasons"].items()))
        if outcome.get("failures"):
            sample = outcome["failures"][:3]
            facts.append("first failures: " + "; ".join(
                f"{f.get('order_id')}: {f.get('reason')}" if isinstance(f, dict) else str(f)
                for f in sample))
        if outcome.get("log_sample"):
            facts.append("tap log: " + " / ".join(outcome["log_sample"][:3]))
        routes = []
        for api, counts in row["routes"].items():
            top = ", ".join(f"`{route}` {n}" for route, n in list(counts.items())[:6])
            routes.append(f"{api}: {top}")
        facts.append("by route: " + "; ".join(routes))
        if row.get("returncode"):
            facts.append(f"exit code {row['returncode']}")
        lines.append(f"- **{row['approach']}**: " + "; ".join(facts) + ".")
    return lines


def _plot(results: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    series: dict[str, list[tuple[int, float, float, int]]] = {}
    for key, entry in results["sizes"].items():
        for row in _rows(entry):
            if "not_run" in row or row.get("timed_out"):
                continue
            series.setdefault(row["approach"], []).append(
                (int(key), row["wall_s"], row["min_s"], row["requests"].get("bigcommerce", 0)))
    big = results.get("big")
    if big and big.get("requests") and not big.get("timed_out"):
        series.setdefault(big["approach"], []).append(
            (int(big.get("n", 100_000)), big["wall_s"], big["min_s"],
             big["requests"].get("bigcommerce", 0)))
    if not series:
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 6))
    for index, (name, points) in enumerate(sorted(series.items())):
        points.sort()
        color = f"C{index}"
        sizes = [p[0] for p in points]
        left.plot(sizes, [p[1] for p in points], "o-", color=color, label=name)
        left.plot(sizes, [max(p[2], 1e-2) for p in points], ":", color=color, alpha=0.7,
                  label=f"{name}: theoretical minimum")
        right.plot(sizes, [max(p[3], 1) for p in points], "o-", color=color, label=name)
    left.set_ylabel("wall time, s (scaled quotas; dotted: theoretical minimum)")
    left.set_title("wall time against N")
    right.set_ylabel("BigCommerce requests")
    right.set_title("BigCommerce requests against N")
    for axes in (left, right):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("orders in import statuses (N)")
        axes.grid(True, which="both", alpha=0.3)
    handles, labels = left.get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=2, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.2, 1, 1))
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _recompute(row: dict[str, Any], meta: dict[str, Any]) -> None:
    """Minimum and ratio from the stored counts, so every stored row uses one definition."""
    if "requests" not in row:
        return
    minimum, minimum_real = minimums(row["requests"], row.get("throttled") or {},
                                     Quotas(scale=meta["scale"]), meta["latency_mean_s"])
    row["min_s"], row["min_real_s"] = round(minimum, 3), round(minimum_real, 3)
    row["ratio"] = round(row["wall_s"] / minimum, 2) if minimum else None


def _drop_bad_peaks(row: dict[str, Any]) -> None:
    """Rows measured before peak RSS was read from VmHWM carry ru_maxrss, which Linux
    inflates with the benchmark's own memory at fork time: not shown."""
    if "requests" in row and row.get("peak_method") != "VmHWM":
        row["peak_mb"] = None


SERVE_START, SERVE_END = "<!-- serve:start -->", "<!-- serve:end -->"


def keep_serve_section(old: str, new: str) -> str:
    """bench/serve.py's section of results.md (between its markers) survives a rewrite."""
    if SERVE_START not in old or SERVE_END not in old or SERVE_START in new:
        return new
    section = old[old.index(SERVE_START):old.index(SERVE_END) + len(SERVE_END)]
    return new.rstrip("\n") + "\n\n" + section + "\n"


def render(results: dict[str, Any], png: Path,
           raw: str = "bench/out/results.json") -> tuple[str, Path | None]:
    for entry in results["sizes"].values():
        for rows in entry["rows"].values():
            for row in rows:
                _drop_bad_peaks(row)
    if results.get("big"):
        _drop_bad_peaks(results["big"])
    for entry in results["sizes"].values():
        metas = _metas(entry)
        for approach, rows in entry["rows"].items():
            for row in rows:
                if approach in metas:
                    _recompute(row, metas[approach])
    if results.get("big"):
        _recompute(results["big"], results["big"]["meta"])
    lines = ["# shipsync benchmark results (issue 6)", "",
             ("Written by `python bench/run.py` (see bench/README.md); do not edit by hand. "
             f"Raw numbers: {raw}."), ""]
    sizes = sorted(results["sizes"], key=int)
    if sizes:
        meta = next(iter(_metas(results["sizes"][sizes[-1]]).values()))
        lines += [
            "## Setup", "",
            (f"- Rate limits, scale factor {meta['scale']:g}: {meta['quotas']}. shipsync is "
            "configured with the scaled quotas (`rate_limit` settings), as a merchant would "
            "configure the real ones."),
            (f"- Latency: every request to either emulator waits {meta['latency_ms']} ms "
            f"(uniform, mean {meta['latency_mean_s'] * 1000:.0f} ms), a 'latency' fault rule; "
            "it is not scaled."),
            ("- Times are raw seconds under the scaled quotas. *Scaled back* multiplies by the "
            "scale factor: exact for time spent waiting on a quota, an overestimate for time "
            "spent on latency and CPU (which do not stretch with the window). *min s at real "
            "quotas* is the theoretical minimum recomputed with the real windows."),
            ("- Theoretical minimum: for each API, (⌈R/quota⌉ − 1) × window, where R counts "
            "the requests the API admitted (a 429 uses no quota) and a fixed window admits a "
            "whole quota at once; the largest over the APIs, plus one mean latency. It assumes "
            "unbounded concurrency and no dependency between calls. Ratio = wall / minimum."),
            ("- Wall time, CPU time (user + system, from `os.wait4`) and peak RSS (VmHWM "
             "in /proc, sampled every 10 ms) are those of the measured process alone, "
             "interpreter start-up included; the emulators run in the benchmark's own "
             "process. (`ru_maxrss` is not used: Linux carries the benchmark's own memory, "
             "copied at fork, into the child's figure.)"),
            (f"- Each approach runs against its own freshly seeded store: N orders in statuses 9 "
            f"and 11 created over the last 6 days (seed {meta['seed']}). Labels printed before "
            f"writeback: {meta['print_fraction']:.0%} of the Starshipit orders, in "
            f"{'order id' if meta.get('print_order') == 'id' else 'random'} order, through the "
            "emulator's Python API (not counted)."),
            _variants_line(meta)]
    lines += [""] if sizes else []
    for key in sizes:
        entry = results["sizes"][key]
        metas = _metas(entry)
        lines += [f"## N = {int(key):,}", ""]
        for approach, meta in metas.items():
            lines.append(f"- {approach}: measured {meta['date']} on {meta['machine']}; code: "
                         f"{meta['code']}; scale {meta['scale']:g}, latency "
                         f"{meta['latency_ms']} ms.")
        lines.append("")
        lines += _table(entry, next(iter(metas.values()))["scale"])
        lines += ["", "Details:", ""] + _notes(entry) + [""]
    local = results.get("local")
    if local:
        lines += ["## Local throughput (one core, no HTTP)", "",
                  (f"{local['orders']:,} emulator-generated orders ({local['destinations']:,} "
                  f"destinations), measured {local['meta']['date']}; code: "
                  f"{local['meta']['code']}."), "",
                  "| pipeline | orders/s | schema problems found |", "|---|---:|---:|"]
        for name, pipeline in local["pipelines"].items():
            lines.append(f"| {name} | {pipeline['orders_per_s']:,} | "
                         f"{pipeline['schema_problems']} |")
        lines += ["", ("`issue`: canonical_order + errors_of(\"order.json\") + product-options "
                  "mapper + order_body. `engine`: as core/engine.py does it: also validation "
                  "after the mapper, errors_of(\"starshipit/order_create.json\") per body, "
                  "fingerprint."), "", "| stage | µs per order |", "|---|---:|"]
        for name, stage in local["stages"].items():
            lines.append(f"| {name} | {stage['us_per_order']} |")
        lines.append("")
    big = results.get("big")
    if big:
        lines += ["## N = 100,000 (`--big`): shipsync import", "",
                  f"Measured {big['meta']['date']}; code: {big['meta']['code']}.", "",
                  f"Peak memory {_fmt(big['peak_mb'], 0)} MB; wall {big['wall_s']:.0f} s; CPU "
                  f"{big['cpu_s']:.0f} s; BigCommerce requests {big['requests']['bigcommerce']:,} "
                  f"({big['throttled']['bigcommerce']} × 429); Starshipit requests "
                  f"{big['requests']['starshipit']:,} ({big['throttled']['starshipit']} × 429); "
                  f"theoretical minimum {big['min_s']:.0f} s, ratio {_fmt(big['ratio'], 2)}"
                  + (" (TIMED OUT)" if big.get("timed_out") else "") + "."]
        big_outcome = big.get("outcome") or {}
        lines += [f"Imported {big_outcome.get('imported')}, skipped {big_outcome.get('skipped')}, "
                  f"failed {big_outcome.get('failed')}; engine time "
                  f"{_fmt(big_outcome.get('engine_s'), 1)} s.", ""]
    lines += ["## Targets (issue 6)", "", "| target | where | measured | result |",
              "|---|---|---|---|"]
    for target, where, measured, ok in targets(results):
        lines.append(f"| {target} | {where} | {measured} | {_verdict(ok)} |")
    plotted = _plot(results, png)
    if plotted:
        lines += ["", f"![wall time against N]({png.name})"]
    return "\n".join(lines) + "\n", plotted
