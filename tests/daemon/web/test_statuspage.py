"""The Statuspage-compatible JSON: Atlassian's shape field by field, vocabulary, privacy."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from slamon_daemon.web import statuspage
from slamon_daemon.web.public import public_view
from slamon_daemon.web.settings import PageSettings

from . import statuspage_fixture as F
from .sample import NOW, sample_inputs

SETTINGS = PageSettings(title="Acme status", public_url="https://status.acme.test", page_id="acme")


def _view(services: int = 6):  # type: ignore[no-untyped-def]
    inp = sample_inputs(services)
    return public_view(
        inp.status, incidents=inp.incidents, maintenance=inp.maintenance, days=inp.days
    )


def _parse(t: str) -> datetime:
    return datetime.fromisoformat(t.replace("Z", "+00:00"))


def test_summary_has_statuspage_shape_field_by_field() -> None:
    summary = json.loads(json.dumps(statuspage.summary_json(_view(), SETTINGS)))
    assert F.shape_errors(summary, F.SUMMARY) == []
    # the shape check must see something in every list, or it proves nothing
    assert summary["components"] and summary["incidents"] and summary["scheduled_maintenances"]
    assert summary["incidents"][0]["incident_updates"]


def test_shape_checker_catches_drift() -> None:
    summary = statuspage.summary_json(_view(), SETTINGS)
    summary["incidents"][0]["incident_updates"][0]["display_at"] = None
    del summary["page"]["time_zone"]
    summary["components"][0]["url"] = "x"
    errors = F.shape_errors(summary, F.SUMMARY)
    assert any("display_at" in e for e in errors)
    assert any("time_zone: missing" in e for e in errors)
    assert any("components[0].url" in e for e in errors)


def test_page_object() -> None:
    page = statuspage.summary_json(_view(), SETTINGS)["page"]
    assert page["id"] == "acme"
    assert page["name"] == "Acme status"
    assert page["url"] == "https://status.acme.test/status"
    assert page["time_zone"] == "Etc/UTC"
    # updated_at: the latest public change that happened: here a maintenance window began
    # 10 min ago (later than the last incident update, 30 min ago); the window starting in
    # two days is not a change yet.
    assert _parse(page["updated_at"]) == NOW - timedelta(minutes=10)


def test_status_indicator_from_public_services_only() -> None:
    status = statuspage.status_json(_view(), SETTINGS)["status"]
    # one public service in major outage among operational ones, a high incident open:
    # a partial outage; the private service (major outage too) changes nothing.
    assert status == {"indicator": "major", "description": "Partial System Outage"}
    assert status["indicator"] in F.INDICATORS
    assert status["description"] in F.STATUS_DESCRIPTIONS


@pytest.mark.parametrize(
    ("services", "severity", "indicator"),
    [
        (["operational"], None, "none"),
        (["operational", "degraded"], None, "minor"),
        (["operational", "maintenance"], None, "none"),
        (["major_outage"], None, "critical"),
        (["operational"], "critical", "critical"),
        (["operational"], "medium", "minor"),
        (["unknown"], None, "none"),
    ],
)
def test_indicator_vocabulary(services: list[str], severity: str | None, indicator: str) -> None:
    inp = sample_inputs(len(services), with_private=False)
    for entry, st in zip(inp.status["services"], services, strict=True):
        entry["status"] = st
    incidents = []
    if severity:
        inc = dict(inp.incidents[0], severity=severity, services=[])
        incidents = [inc]
    inp.status["incidents"] = []
    view = public_view(inp.status, incidents=incidents)
    assert statuspage.status_json(view, SETTINGS)["status"]["indicator"] == indicator


def test_components_vocabulary_groups_and_order() -> None:
    comps = statuspage.components_json(_view(), SETTINGS)["components"]
    assert {c["status"] for c in comps} <= F.COMPONENT_STATUSES
    by_id = {c["id"]: c for c in comps}
    assert by_id["svc-001"]["status"] == "major_outage"
    assert by_id["svc-002"]["status"] == "operational"
    groups = [c for c in comps if c["group"]]
    assert [g["name"] for g in groups] == ["Payments", "Identity"]
    payments = by_id["group-payments"]
    assert payments["components"] == ["svc-001", "svc-004"]
    assert payments["status"] == "major_outage"  # the worst of its members
    assert by_id["svc-004"]["group_id"] == "group-payments"
    assert by_id["svc-003"]["group_id"] is None
    assert [c["position"] for c in comps] == list(range(1, len(comps) + 1))
    # start_date: the first day with data of the bar
    assert by_id["svc-006"]["start_date"] == (NOW.date() - timedelta(days=89)).isoformat()


def test_maintenance_status_maps_to_under_maintenance() -> None:
    inp = sample_inputs(2, with_private=False)
    inp.status["services"][1]["status"] = "maintenance"
    comps = statuspage.components_json(public_view(inp.status), SETTINGS)["components"]
    assert {c["id"]: c["status"] for c in comps if not c["group"]}["svc-002"] == (
        "under_maintenance"
    )


def test_incidents_customer_visible_updates_newest_first() -> None:
    summary = statuspage.summary_json(_view(), SETTINGS)
    (inc,) = summary["incidents"]  # unresolved only; the private-only incident is left out
    assert inc["id"] == "7"
    assert inc["name"] == "Payments failing"
    assert inc["status"] == "identified" and inc["status"] in F.INCIDENT_STATUSES
    assert inc["impact"] == "major" and inc["impact"] in F.IMPACTS
    assert inc["shortlink"] == "https://status.acme.test/status/incidents/7"
    assert [u["id"] for u in inc["incident_updates"]] == ["72", "70"]
    first = inc["incident_updates"][0]
    assert first["display_at"] == first["created_at"]
    assert first["incident_id"] == "7"
    assert "[redacted]" in first["body"]  # the target URL in the text
    assert [c["id"] for c in inc["components"]] == ["svc-001"]
    assert _parse(inc["started_at"]) == NOW - timedelta(hours=2)
    assert inc["resolved_at"] is None


def test_incidents_json_lists_recent_and_unresolved_lists_active() -> None:
    view = _view()
    recent = statuspage.incidents_json(view, SETTINGS)["incidents"]
    assert [i["id"] for i in recent] == ["7", "5"]  # newest first, private-only one absent
    assert recent[1]["status"] == "resolved" and recent[1]["resolved_at"]
    assert recent[1]["impact"] == "minor"
    unresolved = statuspage.unresolved_json(view, SETTINGS)["incidents"]
    assert [i["id"] for i in unresolved] == ["7"]


def test_scheduled_maintenances() -> None:
    view = _view()
    windows = statuspage.scheduled_maintenances_json(view, SETTINGS)["scheduled_maintenances"]
    assert [w["name"] for w in windows] == ["Database upgrade", "Network work"]
    upgrade, network = windows
    assert upgrade["status"] == "scheduled" and network["status"] == "in_progress"
    assert {w["status"] for w in windows} <= F.MAINTENANCE_STATUSES
    assert upgrade["impact"] == "maintenance"
    assert _parse(upgrade["scheduled_for"]) == NOW + timedelta(days=2)
    assert _parse(upgrade["scheduled_until"]) == NOW + timedelta(days=2, hours=2)
    assert [c["id"] for c in upgrade["components"]] == ["svc-002"]
    assert len(network["components"]) == 6  # no services named: every public service
    assert [u["status"] for u in network["incident_updates"]] == ["in_progress", "scheduled"]
    assert F.shape_errors(windows, [F.SCHEDULED_MAINTENANCE]) == []


def test_completed_maintenance_is_not_in_summary() -> None:
    inp = sample_inputs(2, with_private=False)
    past = dict(inp.maintenance[2], id=11, title="Old work")
    past["starts_at"] = (NOW - timedelta(days=3)).isoformat()
    past["ends_at"] = (NOW - timedelta(days=3) + timedelta(hours=1)).isoformat()
    view = public_view(inp.status, maintenance=[past])
    assert statuspage.summary_json(view, SETTINGS)["scheduled_maintenances"] == []
    (old,) = statuspage.scheduled_maintenances_json(view, SETTINGS)["scheduled_maintenances"]
    assert old["status"] == "completed" and old["resolved_at"] is not None
