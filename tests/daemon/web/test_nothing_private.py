"""Nothing private reaches public output: every renderer's output is searched for markers
planted in a private service, an internal update, incident internals, a check error and the
target URLs."""

from __future__ import annotations

import json

from slamon_daemon.web import statuspage
from slamon_daemon.web.atom import render_atom
from slamon_daemon.web.badges import KINDS, UPTIME_WINDOWS, service_badge
from slamon_daemon.web.metrics import (
    LATENESS_BUCKETS_S,
    CheckCounters,
    DaemonSample,
    Histogram,
    ServiceSample,
    SlamonCollector,
    make_registry,
    render_metrics,
)
from slamon_daemon.web.page import render_history_page, render_incident_page, render_status_page
from slamon_daemon.web.public import Redactor, public_view
from slamon_daemon.web.settings import PageSettings

from .sample import (
    DESCRIPTION_MARK,
    ERROR_MARK,
    INTERNAL_MARK,
    MARKERS,
    PRIVATE_MARK,
    URL_MARK,
    sample_inputs,
)

SETTINGS = PageSettings(title="Acme status", public_url="https://status.acme.test")


def _public_outputs() -> dict[str, str]:
    inp = sample_inputs(6)
    view = public_view(
        inp.status, incidents=inp.incidents, maintenance=inp.maintenance, days=inp.days
    )
    out: dict[str, str] = {}
    for name, fn in (
        ("summary.json", statuspage.summary_json),
        ("status.json", statuspage.status_json),
        ("components.json", statuspage.components_json),
        ("incidents.json", statuspage.incidents_json),
        ("unresolved.json", statuspage.unresolved_json),
        ("scheduled-maintenances.json", statuspage.scheduled_maintenances_json),
    ):
        out[name] = json.dumps(fn(view, SETTINGS), ensure_ascii=False)
    for page in (1, 2):
        out[f"/status?page={page}"] = render_status_page(view, SETTINGS, page=page)
    for raw in inp.incidents:
        out[f"/status/incidents/{raw['id']}"] = (
            render_incident_page(view, SETTINGS, raw["id"]) or ""
        )
    out["/status/history"] = render_history_page(view, SETTINGS, inp.calendars, until="2026-11")
    out["/status/feed.atom"] = render_atom(view, SETTINGS).decode()
    for entry in inp.status["services"]:
        for kind in KINDS:
            for window in UPTIME_WINDOWS if kind == "uptime" else (None,):
                badge = service_badge(view, entry["id"], kind, window)
                out[f"/badge/{entry['id']}/{kind}/{window}"] = badge.svg if badge else ""
    return out


def test_markers_are_planted_in_the_input() -> None:
    raw = json.dumps(sample_inputs(6).__dict__)
    for marker in MARKERS:
        assert marker.lower() in raw.lower(), marker


def test_no_public_output_shows_anything_private() -> None:
    outputs = _public_outputs()
    assert len(outputs) > 20
    for route, text in outputs.items():
        low = text.lower()
        for marker in MARKERS:
            assert marker.lower() not in low, f"{marker} leaked into {route}"
    # and the public things are there (the search above would pass on empty pages)
    assert "Payments failing" in outputs["/status?page=1"]
    assert "Service 001" in outputs["summary.json"]
    assert "We are looking into failed payments" in outputs["/status/feed.atom"]


def test_private_service_badges_answer_like_unknown_ones() -> None:
    outputs = _public_outputs()
    private = [r for r in outputs if r.startswith(f"/badge/{PRIVATE_MARK.lower()}")]
    assert private and all(outputs[r] == "" for r in private)


def test_metrics_carry_no_url_or_check_error() -> None:
    inp = sample_inputs(6)
    # the daemon's provider hands descriptions over through the public Redactor (target
    # URLs and host names out), as it must (ServiceSample.description)
    redact = Redactor(e["url"] for e in inp.status["services"])
    samples = []
    for e in inp.status["services"]:
        c = CheckCounters()
        last = e["last_check"]
        c.record(last["outcome"], last["error_kind"], last["latency_ms"] / 1000)
        samples.append(
            ServiceSample(
                id=e["id"],
                name=e["name"],
                node="eu-1",
                status=e["status"],
                counters=c,
                uptime={"30d": 0.9942},
                group=e["group"] or "",
                description=redact(e["description"] or ""),
            )
        )
    daemon = DaemonSample(node="eu-1", lateness=Histogram(LATENESS_BUCKETS_S))
    text = render_metrics(make_registry(SlamonCollector(lambda: samples, lambda: daemon)))
    low = text.decode().lower()
    for marker in (URL_MARK, ERROR_MARK, INTERNAL_MARK):
        assert marker.lower() not in low, marker
    # metrics are for operators: private services are there, by id
    assert PRIVATE_MARK.lower() in low
    assert DESCRIPTION_MARK.lower() in low  # the private service's own description
