"""The status page's charts as geometry: bars and ticks that a template draws as SVG.

Drawn on the server (no script, no external asset): ``hourly_chart`` turns event
counts per hour into grouped bars; ``latency_histogram`` turns latency samples
(seconds, from webhooks once ``shipsync serve`` records them) into a histogram
with its percentiles. Both are pure functions of their input.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "Bar",
    "HourlyChart",
    "Histogram",
    "LATENCY_BOUNDS",
    "hour_keys",
    "hourly_chart",
    "latency_histogram",
    "nice_ceiling",
    "percentile",
]

WIDTH, HEIGHT = 720.0, 240.0
LEFT, RIGHT, TOP, BOTTOM = 44.0, 8.0, 12.0, 30.0
# Upper bounds (seconds) of the latency histogram's buckets; the last one is open.
LATENCY_BOUNDS: tuple[float, ...] = (0.5, 1, 2, 5, 10, 30, 60, 120, 300)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    series: str  # the CSS class of its series
    label: str  # what it counts, for people reading the SVG's title


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass
class HourlyChart:
    """Counts per hour of some series (e.g. imported, written back), oldest hour first."""

    hours: list[str]  # "2025-06-01T14", the events' hour keys
    labels: list[str]  # "14:00"
    series: dict[str, list[int]]
    names: dict[str, str]  # series -> what people call it
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    width: float = WIDTH
    height: float = HEIGHT
    baseline: float = HEIGHT - BOTTOM
    left: float = LEFT

    def total(self, series: str) -> int:
        return sum(self.series.get(series, []))

    @property
    def empty(self) -> bool:
        return not any(any(values) for values in self.series.values())

    @property
    def rows(self) -> list[tuple[str, list[int]]]:
        """(hour label, counts per series) for the table beside the chart."""
        return [(label, [self.series[s][i] for s in self.series])
                for i, label in enumerate(self.labels)]


def nice_ceiling(value: float) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (and 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return int(step * power)
    return int(10 * power)


def _y_ticks(top: int, plot_height: float) -> list[Tick]:
    """0, the top and (when it is a whole number) the middle of the scale."""
    shares = (0.0, 0.5, 1.0) if top % 2 == 0 else (0.0, 1.0)
    return [Tick(round(TOP + plot_height * (1 - share), 2), str(int(top * share)))
            for share in shares]


def hour_keys(now: datetime, hours: int) -> list[datetime]:
    """The starts of the last ``hours`` hours, the current one last (UTC)."""
    current = now.astimezone(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=hours - 1 - i) for i in range(hours)]


def hourly_chart(counts: Iterable[Mapping[str, Any]], now: datetime, *,
                 series: Mapping[str, str], hours: int = 24) -> HourlyChart:
    """Bars per hour from rows of ``{"kind", "hour", "n"}`` (as ``count_events`` gives them).

    ``series`` maps an event kind to its name on the page; rows of other kinds
    and of hours outside the window are left out.
    """
    starts = hour_keys(now, hours)
    keys = [start.strftime("%Y-%m-%dT%H") for start in starts]
    index = {key: i for i, key in enumerate(keys)}
    values = {kind: [0] * hours for kind in series}
    for row in counts:
        kind, hour = row.get("kind"), row.get("hour")
        if kind in values and hour in index:
            values[kind][index[hour]] += int(row.get("n", 0))
    chart = HourlyChart(keys, [start.strftime("%H:00") for start in starts], values,
                        dict(series))
    top = nice_ceiling(max((max(v) for v in values.values()), default=0))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / hours
    bar_width = slot * 0.8 / max(1, len(series))
    for i in range(hours):
        for j, kind in enumerate(series):
            value = values[kind][i]
            height = plot_height * value / top
            chart.bars.append(Bar(
                x=round(LEFT + i * slot + slot * 0.1 + j * bar_width, 2),
                y=round(TOP + plot_height - height, 2), width=round(bar_width, 2),
                height=round(height, 2), value=value, series=kind,
                label=f"{series[kind]} {chart.labels[i]}-{(starts[i].hour + 1) % 24:02d}:00: "
                      f"{value}"))
    chart.y_ticks = _y_ticks(top, plot_height)
    every = max(1, hours // 6)
    chart.x_ticks = [Tick(round(LEFT + i * slot + slot / 2, 2), chart.labels[i])
                     for i in range(0, hours, every)]
    return chart


def percentile(samples: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.5 for the median, 0.95 for p95)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Histogram:
    """How many samples fell in each latency bucket, and the percentiles people ask for."""

    name: str
    count: int
    p50: float
    p95: float
    maximum: float
    buckets: list[tuple[str, int]]  # ("≤ 2 s", n)
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    width: float = WIDTH
    height: float = HEIGHT
    baseline: float = HEIGHT - BOTTOM
    left: float = LEFT


def _seconds(bound: float) -> str:
    return f"{bound:g} s" if bound < 60 else f"{bound / 60:g} min"


def latency_histogram(name: str, samples: Sequence[float]) -> Histogram | None:
    """The histogram of ``samples`` (seconds), or None when there is none."""
    if not samples:
        return None
    counts = [0] * (len(LATENCY_BOUNDS) + 1)
    for sample in samples:
        slot = next((i for i, bound in enumerate(LATENCY_BOUNDS) if sample <= bound),
                    len(LATENCY_BOUNDS))
        counts[slot] += 1
    labels = [f"≤ {_seconds(b)}" for b in LATENCY_BOUNDS] + [f"> {_seconds(LATENCY_BOUNDS[-1])}"]
    top = nice_ceiling(max(counts))
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot_width = plot_width / len(counts)
    bars = []
    for i, value in enumerate(counts):
        height = plot_height * value / top
        bars.append(Bar(x=round(LEFT + i * slot_width + slot_width * 0.1, 2),
                        y=round(TOP + plot_height - height, 2),
                        width=round(slot_width * 0.8, 2), height=round(height, 2), value=value,
                        series="latency", label=f"{labels[i]}: {value}"))
    y_ticks = _y_ticks(top, plot_height)
    x_ticks = [Tick(round(LEFT + i * slot_width + slot_width / 2, 2), label)
               for i, label in enumerate(labels)]
    return Histogram(name, len(samples), percentile(samples, 0.5), percentile(samples, 0.95),
                     max(samples), list(zip(labels, counts, strict=True)), bars, y_ticks, x_ticks)
