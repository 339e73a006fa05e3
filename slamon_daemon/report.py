"""The SLA report as Markdown, CSV or JSON text (``slamon report``, the TUI's export).

Markdown is for people: readable headings and figures ("2d 03h", "MET", "—"). CSV is for
programs (issue 12): snake_case headers and machine values: numbers as numbers (durations in
seconds, budgets in minutes as their headers say), times in ISO 8601, true/false, and an
empty cell for "none".
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from slamon_daemon import text

FORMATS = ("md", "csv", "json")

COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "Service"),
    ("target", "Target %"),
    ("uptime", "Uptime %"),
    ("met", "SLA"),
    ("budget_min", "Budget min"),
    ("consumed_min", "Consumed min"),
    ("remaining_min", "Remaining min"),
    ("days_below_target", "Days below"),
    ("episodes", "Outages"),
    ("mttr_s", "MTTR"),
    ("mtbf_s", "MTBF"),
    ("p95_ms", "p95 ms"),
    ("latency_objective", "Latency objective"),
)


def cell(row: dict[str, Any], key: str) -> str:
    """One figure as text, the same in Markdown, CSV and the TUI."""
    v = row.get(key)
    if key == "met":
        return "n/a" if v is None else ("MET" if v else "BREACHED")
    if key == "days_below_target":
        return str(len(v or []))
    if key == "episodes":
        before = row.get("episodes_from_before") or 0
        return f"{v or 0} (+{before} from before)" if before else str(v or 0)
    if key in ("mttr_s", "mtbf_s"):
        return text.duration(v)
    if key == "latency_objective":
        if not v:
            return text.NONE
        verdict = "" if v["met"] is None else (" MET" if v["met"] else " BREACHED")
        objective = text.latency_objective(v["compliance_pct"], v["threshold_ms"], v["target_pct"])
        return objective + verdict
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}" if key.endswith("_min") else f"{v:g}"
    return str(v)


def render(report: dict[str, Any], fmt: str) -> str:
    """The report in ``fmt`` (md, csv or json)."""
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    rows = report["services"]
    if fmt == "csv":
        return render_csv(report)
    p = report["period"]
    lines = [
        f"# SLA report: {p['label']} ({p['timezone']})",
        "",
        f"Period {p['start']} to {p['end']}"
        + ("" if p["complete"] else " (in progress)")
        + f"; generated {report['generated_at']}.",
        "",
    ]
    breached = report.get("breached") or []
    lines.append(
        f"**{len(breached)} of {len(rows)} services breached their SLA**"
        + (f": {', '.join(breached)}." if breached else ".")
    )
    lines.append("")
    lines.append("| " + " | ".join(h for _, h in COLUMNS) + " |")
    lines.append("|" + "|".join("---" for _ in COLUMNS) + "|")
    for r in rows:
        lines.append("| " + " | ".join(cell(r, k).replace("|", "\\|") for k, _ in COLUMNS) + " |")
    notes = [
        f"- {r['id']}: monitored from {r['monitored_from']} only (part of the period)."
        for r in rows
        if r.get("partial_period") and r.get("monitored_from")
    ]
    notes += [
        f"- {r['id']}: no data in this period." for r in rows if r.get("monitored_from") is None
    ]
    if notes:
        lines += ["", "Notes:", *notes]
    lines += [
        "",
        "Uptime = (up + degraded) / (checks − maintenance checks); maintenance is excluded;"
        " error budget = (1 − target) × monitored time; consumed = downtime.",
        "",
    ]
    return "\n".join(lines)


CSV_COLUMNS: tuple[str, ...] = (
    "period",
    "period_start",
    "period_end",
    "id",
    "name",
    "target",
    "uptime",
    "met",
    "checks",
    "failed_checks",
    "budget_min",
    "consumed_min",
    "remaining_min",
    "downtime_s",
    "days_below_target",
    "episodes",
    "episodes_from_before",
    "mttr_s",
    "mtbf_s",
    "p95_ms",
    "latency_objective_threshold_ms",
    "latency_objective_target_pct",
    "latency_objective_compliance_pct",
    "latency_objective_met",
    "monitored_from",
    "partial_period",
)
"""The CSV's columns, in order (snake_case; the report JSON's keys where it has one)."""


def machine_value(value: Any) -> str:
    """A figure as a program reads it: "" for none, true/false, numbers as written, lists of
    days joined with ";"."""
    if value is None or value == text.NONE:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def csv_record(report: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """One service's CSV record, keyed by CSV_COLUMNS."""
    p = report["period"]
    objective = row.get("latency_objective") or {}
    return {
        **{k: row.get(k) for k in CSV_COLUMNS},
        "period": p["label"],
        "period_start": p["start"],
        "period_end": p["end"],
        "latency_objective_threshold_ms": objective.get("threshold_ms"),
        "latency_objective_target_pct": objective.get("target_pct"),
        "latency_objective_compliance_pct": objective.get("compliance_pct"),
        "latency_objective_met": objective.get("met"),
    }


def render_csv(report: dict[str, Any]) -> str:
    """The report as CSV: one row per service, machine values (see the module docstring)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for r in report["services"]:
        record = csv_record(report, r)
        w.writerow([machine_value(record[k]) for k in CSV_COLUMNS])
    return buf.getvalue()
