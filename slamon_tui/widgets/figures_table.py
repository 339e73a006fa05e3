"""Latency figures (checks, down, p50/p95/p99, min/avg/max) per window, the chart's range
marked, and errors by kind per window.

service.get sends the windows 24h/7d/30d/90d. The chart's 1h range has no such window: its
row is summed from the 1h series' buckets (checks, down, min, avg, max are exact that way;
percentiles cannot be merged from per-bucket percentiles, so they show "—" unless the
series carries a ``summary``).
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from slamon_daemon import text
from slamon_tui.formatting import error_kind_text

WINDOWS = ("24h", "7d", "30d", "90d")
_LATENCIES = (
    ("p50", "p50_ms"),
    ("p95", "p95_ms"),
    ("p99", "p99_ms"),
    ("min", "latency_min_ms"),
    ("avg", "latency_avg_ms"),
    ("max", "latency_max_ms"),
)


def series_summary(series: dict[str, Any]) -> dict[str, Any]:
    """Figures of a whole service.series range, in service.get's window shape.

    The series' own ``summary`` when it has one; otherwise summed from the buckets, with
    the percentiles left out (None).
    """
    if isinstance(series.get("summary"), dict):
        return dict(series["summary"])
    points = [p for p in series.get("points") or [] if int(p.get("checks") or 0)]
    answered = [(p, int(p["checks"]) - int(p.get("down") or 0)) for p in points]
    weighted = [(p["avg_ms"], n) for p, n in answered if p.get("avg_ms") is not None and n > 0]
    total = sum(n for _, n in weighted)
    mins = [p["min_ms"] for p in points if p.get("min_ms") is not None]
    maxes = [p["max_ms"] for p in points if p.get("max_ms") is not None]
    return {
        "checks": sum(int(p["checks"]) for p in points),
        "down": sum(int(p.get("down") or 0) for p in points),
        "p50_ms": None,
        "p95_ms": None,
        "p99_ms": None,
        "latency_min_ms": min(mins) if mins else None,
        "latency_avg_ms": sum(a * n for a, n in weighted) / total if total else None,
        "latency_max_ms": max(maxes) if maxes else None,
    }


def _ms(value: Any) -> str:
    return text.latency(None if value is None else float(value))


def figures_table(rows: dict[str, dict[str, Any]], selected: str) -> Table:
    """One row per window (in ``rows``' order), ``selected`` marked with ▸ and bold."""
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    table.add_column("Window", no_wrap=True)
    table.add_column("Checks", justify="right", no_wrap=True)
    table.add_column("Down", justify="right", no_wrap=True)
    for title, _key in _LATENCIES:
        table.add_column(title, justify="right", no_wrap=True)
    for window, figures in rows.items():
        mark = window == selected
        cells = [
            f"{'▸' if mark else ' '} {window}",
            str(figures.get("checks", "—")),
            str(figures.get("down", "—")),
            *(_ms(figures.get(key)) for _title, key in _LATENCIES),
        ]
        table.add_row(*cells, style="bold" if mark else None)
    return table


def errors_table(windows: dict[str, dict[str, Any]]) -> RenderableType:
    """Failed checks by error kind (rows) per window (columns), most frequent first."""
    counts: dict[str, dict[str, int]] = {}
    for window in WINDOWS:
        for kind, n in ((windows.get(window) or {}).get("errors") or {}).items():
            counts.setdefault(kind, {})[window] = int(n)
    if not counts:
        return Text("No failed checks in 90 days.", style="dim")
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    table.add_column("Errors by kind", no_wrap=True)
    for window in WINDOWS:
        table.add_column(window, justify="right", no_wrap=True)
    ranked = sorted(counts.items(), key=lambda kv: (-max(kv[1].values()), kv[0]))
    for kind, per_window in ranked:
        table.add_row(error_kind_text(kind), *(str(per_window.get(w, 0)) for w in WINDOWS))
    return table


class FiguresTable(Static):
    """The figures and the errors; ``show`` takes service.get, the chart's series and range."""

    def show(
        self, detail: dict[str, Any] | None, series: dict[str, Any] | None, selected: str
    ) -> None:
        """Redraw from what is known (either may still be None)."""
        if detail is None:
            self.update(Text("Loading…", style="dim"))
            return
        windows = detail.get("windows") or {}
        rows: dict[str, dict[str, Any]] = {}
        if series is not None and series.get("range") == "1h":
            rows["1h"] = series_summary(series)
        rows.update((w, windows.get(w) or {}) for w in WINDOWS)
        self.update(Group(figures_table(rows, selected), Text(""), errors_table(windows)))
