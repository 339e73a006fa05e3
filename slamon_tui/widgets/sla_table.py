"""The SLA report as a table: one service per row (two lines below WIDE_FROM columns).

Figures are the daemon's ``sla.report`` (the same numbers ``slamon report`` prints); here
they are only worded: "✓ MET" / "✕ BREACHED" (word and symbol, colour on top), the error
budget as a bar of consumed against budget with the minutes written out, and a "†" on
services monitored for only part of the period.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from slamon_daemon import text
from slamon_tui.widgets.columns import fit

WIDE_FROM = 150
"""From this width every figure stands on the service's one line."""
BAR_WIDTH = 12
PARTIAL_MARK = "†"


def verdict_text(met: bool | None) -> str:
    """ "✓ MET", "✕ BREACHED", or "— no data"."""
    if met is None:
        return "— no data"
    return "✓ MET" if met else "✕ BREACHED"


def budget_bar(row: dict[str, Any], width: int = BAR_WIDTH) -> tuple[str, str, str]:
    """(used cells, free cells, over mark) of the error budget bar.

    The bar is the budget; the used part is consumed / budget. Past the budget the bar is
    full and the mark says so ("✕ over"), so it reads without colour.
    """
    budget = row.get("budget_min")
    consumed = row.get("consumed_min") or 0.0
    if not budget:
        return "", "·" * width, ""
    share = consumed / budget
    used = width if share >= 1 else round(share * width)
    if 0 < share and used == 0:
        used = 1  # some budget spent always shows
    return "█" * used, "░" * (width - used), "✕ over" if share > 1 else ""


def _seconds(row: dict[str, Any], key: str) -> float | None:
    """A figure in seconds: ``<key>_s`` when the daemon sends it, else ``<key>_min`` × 60."""
    if row.get(f"{key}_s") is not None:
        return float(row[f"{key}_s"])
    minutes = row.get(f"{key}_min")
    return None if minutes is None else float(minutes) * 60


def budget_text(row: dict[str, Any]) -> str:
    """ "12.3 of 43.2 min" (consumed of budget); each in seconds when too small for a
    decimal of a minute ("11.8 min of 0.7 s"): issue 12, never "of 0.0 min"."""
    budget = _seconds(row, "budget")
    if budget is None:
        return "—"
    used = float(row.get("downtime_s") or 0.0) if "downtime_s" in row else _seconds(row, "consumed")
    used = used or 0.0
    if abs(used) >= 6 and abs(budget) >= 6:
        return f"{used / 60:.1f} of {budget / 60:.1f} min"
    return f"{text.budget(used)} of {text.budget(budget)}"


def remaining_text(row: dict[str, Any]) -> str:
    """ "30.9 min left", or "5.1 min over" when the budget is spent ("4.3 s left" when
    small)."""
    left = _seconds(row, "remaining")
    if left is None:
        return "—"
    return f"{text.budget(left)} left" if left >= 0 else f"{text.budget(-left)} over"


def latency_objective_text(obj: dict[str, Any] | None) -> str:
    """ "✓ 97.12% ≤ 1000 ms (target 95%)", or "—" without an objective."""
    if not obj:
        return "—"
    verdict = "—" if obj.get("met") is None else ("✓" if obj["met"] else "✕")
    objective = text.latency_objective(
        obj.get("compliance_pct"), float(obj["threshold_ms"]), float(obj["target_pct"])
    )
    return f"{verdict} {objective}"


def outages_text(row: dict[str, Any], *, long: bool = False) -> str:
    """The period's outage episodes, with those begun before it and lasting into it after a
    "+": "2", "0 (+1)"; ``long``: "2 outages", "0 outages (+1 from before)"."""
    n, before = row.get("episodes") or 0, row.get("episodes_from_before") or 0
    out = f"{n} outage{'s' if n != 1 else ''}" if long else str(n)
    if before:
        out += f" (+{before} from before)" if long else f" (+{before})"
    return out


def figures(row: dict[str, Any]) -> dict[str, str]:
    """Every figure of one report row as text (the keys are the columns)."""
    days = row.get("days_below_target") or []
    return {
        "target": text.percent(row.get("target")),
        "uptime": text.percent(row.get("uptime")),
        "verdict": verdict_text(row.get("met")),
        "budget": budget_text(row),
        "remaining": remaining_text(row),
        "days_below": str(len(days)),
        "outages": outages_text(row),
        "mttr": text.duration(row.get("mttr_s")),
        "mtbf": text.duration(row.get("mtbf_s")),
        "p95": text.latency(row.get("p95_ms")),
        "latency": latency_objective_text(row.get("latency_objective")),
    }


WIDE_COLUMNS: list[tuple[str, str, int, bool]] = [
    ("target", "Target", 7, True),
    ("uptime", "Uptime", 8, True),
    ("verdict", "SLA", 10, False),
    ("bar", "Error budget", BAR_WIDTH + 7, False),
    ("budget", "Used", 20, True),
    ("remaining", "Remaining", 15, True),
    ("days_below", "Days below", 10, True),
    ("outages", "Outages", 7, True),
    ("mttr", "MTTR", 8, True),
    ("mtbf", "MTBF", 8, True),
    ("p95", "p95", 8, True),
    ("latency", "Latency objective", 34, False),
]
"""(key, heading, width, right-aligned) after the service name."""
NARROW_COLUMNS: list[tuple[str, str, int, bool]] = [
    ("target", "Target", 7, True),
    ("uptime", "Uptime", 8, True),
    ("verdict", "SLA", 10, False),
    ("bar", "Error budget", BAR_WIDTH + 7, False),
]


class SlaTable(Static):
    """Shows one ``sla.report`` result."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "sla-table--heading",
        "sla-table--name",
        "sla-table--met",
        "sla-table--breached",
        "sla-table--nodata",
        "sla-table--used",
        "sla-table--free",
        "sla-table--over",
        "sla-table--muted",
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Loading…", id=id)
        self.report: dict[str, Any] | None = None

    def show(self, report: dict[str, Any]) -> None:
        """Show a report."""
        self.report = report
        self._redraw()

    def on_resize(self) -> None:
        """One or two lines per service, as the width allows."""
        if self.report is not None:
            self._redraw()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"sla-table--{name}", partial=True)

    @property
    def wide(self) -> bool:
        """Every figure on one line."""
        return self.size.width >= WIDE_FROM

    def _redraw(self) -> None:
        report = self.report or {}
        rows = list(report.get("services") or [])
        if not rows:
            self.update("No services in this report.")
            return
        width = max(self.size.width, 60)
        columns = WIDE_COLUMNS if self.wide else NARROW_COLUMNS
        fixed = sum(w + 1 for _k, _h, w, _r in columns)
        name_width = max(10, min(32, width - fixed - 1))
        out = Text(end="")  # the lines are cut to the width; the narrow second line wraps
        heading = fit("Service", name_width)
        for _key, title, w, right in columns:
            heading += Text(" ") + fit(title, w, right=right)
        heading.stylize(self._style("heading"))
        out.append_text(heading)
        notes = []
        for row in rows:
            out.append("\n")
            out.append_text(self._line(row, columns, name_width))
            if not self.wide:
                out.append("\n")
                out.append_text(self._second_line(row, name_width))
            if row.get("partial_period"):
                since = str(row.get("monitored_from") or "")[:16].replace("T", " ")
                notes.append(
                    f"{PARTIAL_MARK} {row.get('name') or row.get('id')}: monitored"
                    f" only from {since} UTC (part of the period); judged on that part."
                )
        legend = (
            "Error budget: █ used ░ left (the bar is the budget; ✕ over = spent past it)."
            " Uptime excludes maintenance."
        )
        out.append("\n\n")
        out.append(legend, self._style("muted"))
        for note in notes:
            out.append("\n")
            out.append(note, self._style("muted"))
        self.update(out)

    def _line(
        self, row: dict[str, Any], columns: list[tuple[str, str, int, bool]], name_width: int
    ) -> Text:
        f = figures(row)
        name = str(row.get("name") or row.get("id"))
        if row.get("partial_period"):
            name = f"{name} {PARTIAL_MARK}"
        line = fit(name, name_width)
        line.stylize(self._style("name"))
        verdict_style = self._style(
            "nodata" if row.get("met") is None else ("met" if row["met"] else "breached")
        )
        for key, _title, w, right in columns:
            line.append(" ")
            if key == "bar":
                used, free, over = budget_bar(row)
                bar = Text(used, self._style("over" if over else "used"))
                bar.append(free, self._style("free"))
                bar.append(f" {over}" if over else "", self._style("over"))
                if not over:
                    share = row.get("budget_used_pct")
                    bar.append(f" {share:.0f}%" if share is not None else "")
                bar.truncate(w, overflow="ellipsis", pad=True)
                line.append_text(bar)
                continue
            cell = fit(f[key], w, right=right)
            if key == "verdict":
                cell.stylize(verdict_style)
            line.append_text(cell)
        return line

    def _second_line(self, row: dict[str, Any], name_width: int) -> Text:
        """The figures that do not fit the first line, wrapped between figures and indented."""
        f = figures(row)
        days = int(f["days_below"])
        parts = [
            f"{f['budget']} used, {f['remaining']}",
            f"{days} day{'s' if days != 1 else ''} below target",
            outages_text(row, long=True),
            f"MTTR {f['mttr']}",
            f"MTBF {f['mtbf']}",
            f"p95 {f['p95']}",
        ]
        if row.get("latency_objective"):
            parts.append(f"latency {f['latency']}")
        width = max(self.size.width, 40)
        lines, current = [], "  "
        for part in parts:
            piece = part if current.strip() == "" else f" · {part}"
            if len(current) + len(piece) > width and current.strip():
                lines.append(current)
                current, piece = "    ", part
            current += piece
        lines.append(current)
        return Text("\n".join(lines), self._style("muted"))
