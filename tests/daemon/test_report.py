"""The SLA report as Markdown, CSV and JSON (slamon_daemon/report.py), from a report made by
``sla.service_figures`` (the same function ``sla_report`` uses) over real rollups."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from slamon_daemon.models import Check, ErrorKind, OutageEpisode, Outcome, Service, ServiceStatus
from slamon_daemon.report import COLUMNS, CSV_COLUMNS, cell, render
from slamon_daemon.rollup import Rollup
from slamon_daemon.sla import days_below_target, month_period, service_figures

PERIOD = month_period("2026-10")
AFTER = datetime(2026, 12, 1, tzinfo=UTC)
OCT = datetime(2026, 10, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def rollups(
    sid: str, start: datetime, n: int, down: Collection[int] = (), latency: float = 120.0
) -> tuple[list[Rollup], dict[date, Rollup]]:
    by_day: dict[date, Rollup] = {}
    for i in range(n):
        t = start + timedelta(hours=i)
        r = by_day.setdefault(t.date(), Rollup(service_id=sid, day=t.date()))
        failed = i in down
        r.add(
            Check(
                sid,
                t,
                latency,
                Outcome.DOWN if failed else Outcome.UP,
                error_kind=ErrorKind.TIMEOUT if failed else None,
                interval_s=3600.0,
            )
        )
    return list(by_day.values()), by_day


def make_report(complete: bool = True) -> dict[str, Any]:
    now = AFTER if complete else datetime(2026, 10, 20, tzinfo=UTC)
    ok_r, ok_d = rollups("api", OCT, 31 * 24, latency=80.0)
    bad_r, bad_d = rollups("payments", OCT, 31 * 24, down={50, 51, 52})
    new_r, new_d = rollups("newbie", datetime(2026, 10, 10, 14, tzinfo=UTC), 100)
    episode = OutageEpisode(
        "payments",
        OCT + timedelta(hours=50),
        ServiceStatus.MAJOR_OUTAGE,
        ended_at=OCT + timedelta(hours=53),
    )
    objective = Service(
        "api", "API", "http://x/", latency_objective_ms=100.0, latency_objective_pct=99.0
    )
    rows = [
        service_figures(objective, 99.9, PERIOD, now, ok_r, days_below_target(ok_d, 99.9), [], OCT),
        service_figures(
            Service("payments", "Payments", "http://x/"),
            99.9,
            PERIOD,
            now,
            bad_r,
            days_below_target(bad_d, 99.9),
            [episode],
            OCT,
        ),
        service_figures(
            Service("newbie", "Newbie", "http://x/"),
            99.0,
            PERIOD,
            now,
            new_r,
            days_below_target(new_d, 99.0),
            [],
            datetime(2026, 10, 10, 14, tzinfo=UTC),
        ),
        service_figures(
            Service("ghost", "Ghost", "http://x/"), 99.9, PERIOD, now, [], [], [], None
        ),
    ]
    return {
        "period": {
            "label": PERIOD.label,
            "start": PERIOD.start.isoformat(),
            "end": PERIOD.end.isoformat(),
            "timezone": "UTC",
            "days": 31,
            "complete": now >= PERIOD.end,
        },
        "generated_at": now.isoformat(),
        "services": rows,
        "breached": [r["id"] for r in rows if r["met"] is False],
    }


def test_the_report_made_here_is_what_the_tests_think() -> None:
    r = make_report()
    assert [x["met"] for x in r["services"]] == [True, False, True, None]
    assert r["breached"] == ["payments"]
    assert r["services"][2]["partial_period"] is True and r["services"][3]["monitored_from"] is None


def test_markdown_says_met_and_breached_in_words() -> None:
    report = make_report()
    md = render(report, "md")
    assert "\x1b[" not in md  # words, never colour codes
    lines = md.splitlines()
    assert lines[0] == "# SLA report: 2026-10 (UTC)"
    assert "Period 2026-10-01T00:00:00+00:00 to 2026-11-01T00:00:00+00:00;" in md
    assert "(in progress)" not in md
    assert "**1 of 4 services breached their SLA**: payments." in md
    header = "| " + " | ".join(h for _, h in COLUMNS) + " |"
    table = [ln for ln in lines if ln.startswith("| ")]
    assert table[0] == header and len(table) == 5  # header + one row per service
    by_id = {
        ln.split(" | ")[0][2:]: [c.strip() for c in ln.strip("|").split(" | ")] for ln in table[1:]
    }
    sla_col = [h for _, h in COLUMNS].index("SLA")
    assert {k: v[sla_col] for k, v in by_id.items()} == {
        "api": "MET",
        "payments": "BREACHED",
        "newbie": "MET",
        "ghost": "n/a",
    }
    assert by_id["payments"][[h for _, h in COLUMNS].index("Uptime %")] == "99.59"  # 741/744
    assert by_id["payments"][[h for _, h in COLUMNS].index("MTTR")] == "3h 00m"
    assert by_id["ghost"][[h for _, h in COLUMNS].index("Uptime %")] == "—"
    assert (
        "100.00% ≤ 100 ms (target 99%) MET"
        in by_id["api"][[h for _, h in COLUMNS].index("Latency objective")]
    )
    # Notes for the partial service and the one without data.
    notes = lines[lines.index("Notes:") + 1 :]
    assert "- newbie: monitored from 2026-10-10T14:00:00+00:00 only (part of the period)." in notes
    assert "- ghost: no data in this period." in notes
    assert not any(n.startswith("- api") or n.startswith("- payments") for n in notes)
    assert "maintenance is excluded" in md


def test_markdown_of_a_period_in_progress_and_without_breaches() -> None:
    report = make_report(complete=False)
    report["services"] = [s for s in report["services"] if s["id"] == "api"]
    report["breached"] = []
    md = render(report, "md")
    assert "(in progress)" in md
    assert "**0 of 1 services breached their SLA**." in md
    assert "Notes:" not in md


def test_csv_parses_with_one_row_per_service() -> None:
    report = make_report()
    rows = list(csv.reader(io.StringIO(render(report, "csv"))))
    header, body = rows[0], rows[1:]
    # Issue 12: snake_case headers and machine values (Markdown keeps the readable ones).
    assert tuple(header) == CSV_COLUMNS
    assert all(h == h.lower() and " " not in h for h in header)
    assert len(body) == 4 and all(len(r) == len(header) for r in body)
    recs = [dict(zip(header, r, strict=True)) for r in body]
    assert [r["id"] for r in recs] == ["api", "payments", "newbie", "ghost"]
    assert {r["period"] for r in recs} == {"2026-10"}
    assert [r["met"] for r in recs] == ["true", "false", "true", ""]
    pay = recs[1]
    assert (pay["uptime"], pay["target"], pay["days_below_target"], pay["episodes"]) == (
        "99.59",
        "99.9",
        "2026-10-03",
        "1",
    )
    assert (pay["budget_min"], pay["consumed_min"], pay["remaining_min"]) == (
        "44.64",
        "180.0",
        "-135.36",
    )
    assert [r["partial_period"] for r in recs] == ["false", "false", "true", "false"]
    assert (
        recs[2]["monitored_from"] == "2026-10-10T14:00:00+00:00" and recs[3]["monitored_from"] == ""
    )
    for r in recs:  # no display strings anywhere
        for value in r.values():
            assert value not in ("—", "True", "False", "n/a", "MET", "BREACHED")
        for key in ("mttr_s", "mtbf_s", "budget_min", "p95_ms", "downtime_s"):
            assert r[key] == "" or float(r[key]) == float(r[key])  # a number or nothing
    # Durations in seconds, as numbers.
    assert pay["mttr_s"] == str(report["services"][1]["mttr_s"])
    float(pay["mttr_s"])
    assert recs[0]["latency_objective_met"] in ("true", "false")
    float(recs[0]["latency_objective_compliance_pct"])
    assert recs[3]["mttr_s"] == "" and recs[3]["uptime"] == ""


def test_json_round_trips() -> None:
    report = make_report()
    text = render(report, "json")
    assert text.endswith("\n")
    assert json.loads(text) == json.loads(json.dumps(report))
    back = json.loads(text)
    assert back["services"][1]["days_below_target"] == ["2026-10-03"]
    assert back["breached"] == ["payments"]
    assert "—" in text  # not escaped to \u2014: readable as UTF-8


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0, "0s"),
        (0.4, "<1s"),
        (59.9, "59s"),
        (60, "1m 00s"),
        (3599, "59m 59s"),
        (3600, "1h 00m"),
        (86399, "23h 59m"),
        (86400, "1d 00h"),
        (90061, "1d 01h"),
    ],
)
def test_durations(seconds: float | None, text: str) -> None:
    assert cell({"mttr_s": seconds}, "mttr_s") == text


def test_outages_from_before_the_period_are_shown_apart() -> None:
    """An episode that started in September and lasted into October is not one of October's
    (MTTR is of October's own), but the Markdown and the CSV say it was there."""
    september = OutageEpisode(
        "payments", OCT - timedelta(hours=2), ServiceStatus.MAJOR_OUTAGE, ended_at=OCT + HOUR
    )
    bad_r, bad_d = rollups("payments", OCT, 31 * 24, down={0})
    r = service_figures(
        Service("payments", "Payments", "http://x/"),
        99.9,
        PERIOD,
        AFTER,
        bad_r,
        days_below_target(bad_d, 99.9),
        [september],
        OCT - timedelta(days=1),
    )
    assert (r["episodes"], r["episodes_from_before"], r["mttr_s"], r["mtbf_s"]) == (
        0,
        1,
        None,
        None,
    )
    assert cell(r, "episodes") == "0 (+1 from before)"
    assert cell({"episodes": 2, "episodes_from_before": 0}, "episodes") == "2"
    report = make_report()
    report["services"] = [r]
    got = next(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert (got["episodes"], got["episodes_from_before"]) == ("0", "1")
    assert "| 0 (+1 from before) |" in render(report, "md")


def test_cells() -> None:
    assert cell({"met": True}, "met") == "MET"
    assert cell({"met": False}, "met") == "BREACHED"
    assert cell({"met": None}, "met") == "n/a"
    assert cell({"days_below_target": ["2026-10-01", "2026-10-02"]}, "days_below_target") == "2"
    assert cell({"budget_min": 40.3}, "budget_min") == "40.30"
    assert cell({"latency_objective": None}, "latency_objective") == "—"
    assert (
        cell(
            {
                "latency_objective": {
                    "threshold_ms": 1000.0,
                    "target_pct": 95.0,
                    "compliance_pct": None,
                    "met": None,
                }
            },
            "latency_objective",
        )
        == "n/a ≤ 1000 ms (target 95%)"
    )
    assert (
        cell(
            {
                "latency_objective": {
                    "threshold_ms": 1000.0,
                    "target_pct": 95.0,
                    "compliance_pct": 90.0,
                    "met": False,
                }
            },
            "latency_objective",
        )
        == "90.00% ≤ 1000 ms (target 95%) BREACHED"
    )
    assert cell({"p95_ms": None}, "p95_ms") == "—"
    assert cell({"p95_ms": 95.123}, "p95_ms") == "95.123"
