"""Incident rules without I/O (slamon_daemon/incidents.py; SPEC §3.6, docs/feed.md "Incidents")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from slamon_daemon.errors import InvalidParams
from slamon_daemon.incidents import (
    EDITABLE_FIELDS,
    FieldError,
    Presence,
    PresenceBoard,
    incident_dict,
    is_overdue,
    parse_priority,
    response_due,
    transition_stamps,
    validate_changes,
)
from slamon_daemon.models import Incident, IncidentUpdate

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
KNOWN = {"api", "payments", "checkout"}


def inc(status: str = "investigating", priority: int = 1, **kw: Any) -> Incident:
    kw.setdefault("created_at", T0)
    return Incident(
        title="t",
        status=status,
        severity="high",
        priority=priority,
        started_at=kw.pop("started_at", T0),
        created_by="alice",
        **kw,
    )


# -- transition_stamps ----------------------------------------------------------------------


def test_identified_and_monitoring_are_stamped_once() -> None:
    t1, t2 = T0 + timedelta(minutes=5), T0 + timedelta(minutes=9)
    assert transition_stamps(inc(), "identified", t1, "bob") == {"identified_at": t1}
    assert transition_stamps(inc("identified", identified_at=t1), "monitoring", t2, "bob") == {
        "monitoring_at": t2
    }
    # Back to identified from monitoring: identified_at is already set and stays.
    assert (
        transition_stamps(
            inc("monitoring", identified_at=t1, monitoring_at=t2),
            "identified",
            T0 + timedelta(hours=1),
            "bob",
        )
        == {}
    )
    # And monitoring again keeps the first monitoring_at.
    assert (
        transition_stamps(
            inc("identified", identified_at=t1, monitoring_at=t2),
            "monitoring",
            T0 + timedelta(hours=2),
            "bob",
        )
        == {}
    )


def test_a_skipped_step_stamps_only_the_status_reached() -> None:
    t = T0 + timedelta(minutes=1)
    assert transition_stamps(inc(), "monitoring", t, "bob") == {"monitoring_at": t}


def test_same_status_stamps_nothing() -> None:
    for s in ("investigating", "identified", "monitoring", "resolved"):
        assert transition_stamps(inc(s), s, T0, "bob") == {}


def test_resolving_sets_resolved_at_and_by() -> None:
    t = T0 + timedelta(hours=1)
    assert transition_stamps(inc("monitoring"), "resolved", t, "carol") == {
        "resolved_at": t,
        "resolved_by": "carol",
    }
    # Straight from investigating too.
    assert transition_stamps(inc(), "resolved", t, "carol") == {
        "resolved_at": t,
        "resolved_by": "carol",
    }


def test_reopening_clears_resolved_at_and_by() -> None:
    t = T0 + timedelta(hours=2)
    resolved = inc(
        "resolved",
        resolved_at=T0 + timedelta(hours=1),
        resolved_by="carol",
        identified_at=T0,
        monitoring_at=T0,
    )
    assert transition_stamps(resolved, "investigating", t, "dave") == {
        "resolved_at": None,
        "resolved_by": None,
    }
    # Reopened into a status never reached before: stamped and cleared at once.
    fresh = inc("resolved", resolved_at=T0, resolved_by="carol")
    assert transition_stamps(fresh, "identified", t, "dave") == {
        "identified_at": t,
        "resolved_at": None,
        "resolved_by": None,
    }


# -- response targets and overdue -----------------------------------------------------------

TARGETS = {
    1: timedelta(minutes=15),
    2: timedelta(hours=1),
    3: timedelta(hours=4),
    4: timedelta(hours=24),
}


@pytest.mark.parametrize("priority", [1, 2, 3, 4])
def test_overdue_at_the_priority_boundary(priority: int) -> None:
    i = inc(priority=priority)
    due = T0 + TARGETS[priority]
    assert response_due(i) == due
    assert not is_overdue(i, due - timedelta(seconds=1))
    assert not is_overdue(i, due)  # "past" the target: at it is not yet overdue
    assert is_overdue(i, due + timedelta(seconds=1))
    # The next priority's target is later: P1 overdue is not P2 overdue at the same moment.
    if priority < 4:
        slower = inc(priority=priority + 1)
        assert not is_overdue(slower, due + timedelta(seconds=1))


@pytest.mark.parametrize("priority", [1, 2, 3, 4])
def test_not_overdue_once_an_update_exists(priority: int) -> None:
    late = T0 + TARGETS[priority] + timedelta(days=3)
    updated = inc(
        priority=priority,
        first_update_at=T0 + timedelta(minutes=1),
        updates=[IncidentUpdate("investigating", "on it", "bob", T0 + timedelta(minutes=1))],
    )
    assert not is_overdue(updated, late)
    # Even an update that itself came late answers the target.
    late_update = inc(priority=priority, first_update_at=late - timedelta(hours=1))
    assert not is_overdue(late_update, late)


@pytest.mark.parametrize("priority", [1, 2, 3, 4])
def test_not_overdue_when_resolved(priority: int) -> None:
    resolved = inc(
        "resolved", priority=priority, resolved_at=T0 + timedelta(minutes=1), resolved_by="x"
    )
    assert not is_overdue(resolved, T0 + TARGETS[priority] + timedelta(days=1))


def test_response_due_counts_from_creation_not_from_the_start() -> None:
    # An incident recorded now for an outage that started two hours ago: the team could not
    # have answered before it existed, so its 15 minutes start at created_at.
    i = inc(priority=1, started_at=T0 - timedelta(hours=2), created_at=T0)
    assert response_due(i) == T0 + timedelta(minutes=15)
    assert not is_overdue(i, T0 + timedelta(minutes=10))
    assert is_overdue(i, T0 + timedelta(minutes=16))
    # Without created_at (not stored yet) it falls back to started_at.
    j = inc(priority=2, started_at=T0, created_at=None)
    assert response_due(j) == T0 + timedelta(hours=1)


# -- validate_changes -----------------------------------------------------------------------


def test_validate_accepts_and_normalises() -> None:
    out = validate_changes(
        {
            "title": "  Payments failing  ",
            "description": "**md**",
            "status": "monitoring",
            "severity": "critical",
            "priority": "p2",
            "impact": "EU",
            "root_cause": "bad deploy",
            "resolution_notes": "rolled back",
            "services": ["payments", "api", "payments"],
            "started_at": "2026-11-21T02:00:00Z",
        },
        KNOWN,
    )
    assert out == {
        "title": "Payments failing",
        "description": "**md**",
        "status": "monitoring",
        "severity": "critical",
        "priority": 2,
        "impact": "EU",
        "root_cause": "bad deploy",
        "resolution_notes": "rolled back",
        "services": ("payments", "api"),
        "started_at": datetime(2026, 11, 21, 2, 0, tzinfo=UTC),
    }
    assert set(out) == set(EDITABLE_FIELDS)
    # An offset other than Z is kept as the same instant.
    seoul = validate_changes({"started_at": "2026-11-21T11:00:00+09:00"}, KNOWN)["started_at"]
    assert seoul == datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
    assert validate_changes({"services": []}, KNOWN) == {"services": ()}
    assert validate_changes({"priority": 4}, KNOWN) == {"priority": 4}
    assert validate_changes({}, KNOWN) == {}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"identified_at": "2026-11-21T02:00:00Z"}, "identified_at", "not an editable field"),
        ({"resolved_by": "me"}, "resolved_by", "not an editable field"),
        ({"version": 3}, "version", "not an editable field"),
        ({"title": "   "}, "title", "may not be empty"),
        ({"title": "x" * 201}, "title", "longer than 200"),
        ({"title": 5}, "title", "must be text"),
        ({"description": None}, "description", "must be text"),
        ({"impact": "x" * 5001}, "impact", "longer than 5000"),
        ({"status": "closed"}, "status", "investigating, identified, monitoring, resolved"),
        ({"severity": "urgent"}, "severity", "low, medium, high, critical"),
        ({"priority": "P5"}, "priority", '"P1", "P2", "P3" or "P4"'),
        ({"priority": 0}, "priority", '"P1"'),
        ({"priority": True}, "priority", '"P1"'),
        ({"priority": "1"}, "priority", '"P1"'),
        ({"services": "api"}, "services", "list of service ids"),
        ({"services": ["api", 3]}, "services", "list of service ids"),
        (
            {"services": ["api", "ghost", "bogus"]},
            "services",
            "unknown services ['bogus', 'ghost']",
        ),
        ({"started_at": "2026-11-21T02:00:00"}, "started_at", "needs a UTC offset"),
        ({"started_at": "yesterday"}, "started_at", "RFC 3339"),
        ({"started_at": 1763690400}, "started_at", "RFC 3339"),
    ],
)
def test_validate_refuses_with_the_field_named(
    changes: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(FieldError) as exc:
        validate_changes(changes, KNOWN)
    assert exc.value.field == field
    assert words in exc.value.message
    assert str(exc.value).startswith(f"{field}: ")
    # An InvalidParams: the feed answers invalid_params naming the field, with no handler code.
    assert isinstance(exc.value, InvalidParams)
    assert exc.value.problems == {field: exc.value.message}


def test_validate_limits_are_inclusive() -> None:
    assert validate_changes({"title": "x" * 200}, KNOWN)["title"] == "x" * 200
    assert len(validate_changes({"description": "d" * 20_000}, KNOWN)["description"]) == 20_000
    with pytest.raises(FieldError):
        validate_changes({"description": "d" * 20_001}, KNOWN)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("P1", 1),
        ("P2", 2),
        ("P3", 3),
        ("P4", 4),
        ("p1", 1),
        (1, 1),
        (4, 4),
        ("P0", None),
        ("P5", None),
        ("P", None),
        ("P12", None),
        (" P1", None),
        ("1", None),
        (0, None),
        (5, None),
        (True, None),
        (False, None),
        (None, None),
        (1.0, None),
        (["P1"], None),
    ],
)
def test_parse_priority(value: Any, expected: int | None) -> None:
    assert parse_priority(value) == expected


# -- the wire form --------------------------------------------------------------------------


def test_incident_dict_duration_active_and_resolved() -> None:
    active = inc(started_at=T0 - timedelta(minutes=30), created_at=T0 - timedelta(minutes=20), id=7)
    d = incident_dict(active, T0)
    assert d["duration_s"] == 1800.0  # now − started
    assert d["resolved_at"] is None and d["priority"] == "P1" and d["id"] == 7
    assert d["overdue"] is True  # created 20 min ago, P1, no update
    assert d["response_due"] == (T0 - timedelta(minutes=5)).isoformat()
    resolved = inc(
        "resolved",
        started_at=T0 - timedelta(hours=2),
        resolved_at=T0 - timedelta(minutes=47, seconds=30),
        resolved_by="carol",
    )
    r = incident_dict(resolved, T0 + timedelta(days=5))
    assert r["duration_s"] == 4350.0  # resolved − started, whatever now is
    assert r["overdue"] is False
    assert r["resolved_by"] == "carol"


def test_incident_dict_fields_updates_and_auto_flag() -> None:
    u1 = IncidentUpdate("investigating", "first", "bob", T0 + timedelta(minutes=1), id=1)
    u2 = IncidentUpdate("identified", "second", "bob", T0 + timedelta(minutes=2), False, id=2)
    i = inc(
        updates=[u1, u2],
        first_update_at=u1.created_at,
        services=("api",),
        episode_service="api",
        episode_started_at=T0 - timedelta(minutes=6),
        id=3,
        version=4,
    )
    d = incident_dict(i, T0 + timedelta(hours=1))
    assert d["auto"] is True and d["episode_started_at"] == (T0 - timedelta(minutes=6)).isoformat()
    assert d["updates_count"] == 2 and d["last_update_at"] == u2.created_at.isoformat()
    assert d["updates"] == [u1.to_dict(), u2.to_dict()]
    assert d["services"] == ["api"] and d["version"] == 4
    assert d["overdue"] is False
    light = incident_dict(i, T0, with_updates=False)
    assert "updates" not in light and light["updates_count"] == 2
    manual = incident_dict(inc(), T0)
    assert manual["auto"] is False and manual["last_update_at"] is None and manual["updates"] == []
    for key in ("identified_at", "monitoring_at", "first_update_at"):
        assert manual[key] is None


def test_presence_board_replaces_per_session_and_clears() -> None:
    board = PresenceBoard()
    board.set(Presence(1, "alice", 5, "viewing"))
    board.set(Presence(1, "alice", 5, "editing", "title", T0))  # replaces session 1's
    board.set(Presence(2, "bob", 5, "viewing"))
    board.set(Presence(3, "carol", 6, "viewing"))
    assert [(p.user, p.mode, p.field) for p in board.for_incident(5)] == [
        ("alice", "editing", "title"),
        ("bob", "viewing", None),
    ]
    cleared = board.clear(1)
    assert cleared is not None and cleared.to_dict() == {
        "session": 1,
        "user": "alice",
        "incident_id": 5,
        "mode": "editing",
        "field": "title",
        "since": T0.isoformat(),
    }
    assert board.clear(1) is None
    assert [p.user for p in board.for_incident(5)] == ["bob"]
