"""The incident screens' pure rules: active list folding, presence, overdue, conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from slamon_tui.models.incidents import (
    ActiveIncidents,
    PresenceBoard,
    changes_between,
    conflict_fields,
    is_overdue,
    merged_text,
    resolve_conflict,
    span_text,
)

NOW = datetime(2026, 11, 21, 23, 10, tzinfo=UTC)


def inc(iid: int, version: int = 1, status: str = "investigating", **kw: object) -> dict:
    return {
        "id": iid,
        "version": version,
        "status": status,
        "priority": "P2",
        "started_at": (NOW - timedelta(minutes=iid)).isoformat(),
        **kw,
    }


def test_active_incidents_follow_events_and_never_go_back_in_version() -> None:
    active = ActiveIncidents()
    active.replace([inc(1), inc(2)])
    assert active.apply_event({"action": "updated", "incident": inc(1, 3, title="new")})
    # A list answered before that event must not bring version 1 back.
    active.replace([inc(1), inc(2)])
    assert active.items[1]["title"] == "new"
    assert active.apply_event({"action": "resolved", "incident": inc(2, 2, "resolved")})
    assert list(active.items) == [1]
    assert not active.apply_event({"action": "updated", "incident": inc(2, 1)})
    assert active.apply_event({"action": "created", "incident": inc(3)})
    assert sorted(active.items) == [1, 3]


def test_order_is_overdue_first_then_priority_then_newest() -> None:
    active = ActiveIncidents()
    late = inc(5, priority="P4", response_due=(NOW - timedelta(minutes=1)).isoformat())
    p1 = inc(9, priority="P1", first_update_at=NOW.isoformat())
    newer = inc(1, priority="P2", first_update_at=NOW.isoformat())
    older = inc(7, priority="P2", first_update_at=NOW.isoformat())
    active.replace([older, p1, newer, late])
    assert [i["id"] for i in active.ordered(NOW)] == [5, 9, 1, 7]


def test_overdue_is_kept_current_between_events() -> None:
    due = NOW + timedelta(minutes=5)
    fresh = inc(1, response_due=due.isoformat(), overdue=False)
    assert not is_overdue(fresh, NOW)
    assert is_overdue(fresh, NOW + timedelta(minutes=6))  # no event needed to turn late
    answered = {**fresh, "first_update_at": NOW.isoformat()}
    assert not is_overdue(answered, NOW + timedelta(hours=1))
    assert not is_overdue({**fresh, "status": "resolved", "overdue": True}, NOW)


def test_span_text_is_short() -> None:
    assert [span_text(s) for s in (5, 600, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == [
        "5s",
        "10m",
        "3h05m",
        "2d04h",
    ]


def test_presence_board_hides_ourselves_and_ends_on_clear_or_move() -> None:
    board = PresenceBoard(7, own_session=1)
    board.replace([{"session": 1, "user": "me", "incident_id": 7, "mode": "viewing"}])
    assert board.text() == ""
    board.apply_event(
        {
            "action": "set",
            "presence": {
                "session": 2,
                "user": "bob",
                "incident_id": 7,
                "mode": "editing",
                "field": "title",
            },
        }
    )
    board.apply_event(
        {
            "action": "set",
            "presence": {"session": 3, "user": "carol", "incident_id": 7, "mode": "viewing"},
        }
    )
    assert board.text() == "✎ bob is editing title · ◉ carol is viewing"
    assert board.editors_of("title") == ["bob"]
    # carol opens another incident: she is no longer on this one.
    board.apply_event(
        {
            "action": "set",
            "presence": {"session": 3, "user": "carol", "incident_id": 8, "mode": "viewing"},
        }
    )
    board.apply_event(
        {"action": "cleared", "presence": {"session": 2, "user": "bob", "incident_id": 7}}
    )
    assert board.text() == ""


BASE = {
    "version": 3,
    "title": "Payments down",
    "description": "first",
    "status": "investigating",
    "severity": "high",
    "priority": "P2",
    "impact": "",
    "services": ["pay"],
}


def test_conflict_fields_name_what_each_side_changed() -> None:
    yours = {
        **{
            k: BASE[k]
            for k in (
                "title",
                "description",
                "status",
                "severity",
                "priority",
                "impact",
                "services",
            )
        },
        "title": "Payments failing",
        "impact": "EU cards",
        "services": ["pay"],
    }
    current = {
        **BASE,
        "version": 5,
        "title": "Payments down (EU)",
        "status": "identified",
        "description": "first",
        "services": ["pay"],
    }
    fields = {
        f.name: f for f in conflict_fields(BASE, yours, current, ["status", "title", "updates"])
    }
    assert fields["title"].kind == "both" and fields["title"].needs_choice
    assert fields["impact"].kind == "yours" and fields["impact"].needs_choice
    assert fields["status"].kind == "theirs" and not fields["status"].needs_choice
    assert fields["updates"].kind == "theirs"
    assert "description" not in fields and "services" not in fields


def test_resolving_a_conflict_keeps_theirs_where_you_did_not_type() -> None:
    yours = {
        "title": "Mine",
        "description": "my text",
        "status": "investigating",
        "impact": "EU cards",
    }
    current = {
        **BASE,
        "version": 5,
        "title": "Theirs",
        "description": "their text",
        "status": "identified",
    }
    fields = conflict_fields(BASE, yours, current, ["title", "description", "status"])
    chosen = resolve_conflict(
        fields, {"title": "yours", "description": "both"}, yours, BASE, current
    )
    assert chosen == {
        "title": "Mine",
        "description": "their text\n\nmy text",
        "status": "identified",
        "impact": "EU cards",
    }
    # Saved against the new version, only what differs from theirs is sent.
    assert changes_between(current, chosen) == {
        "title": "Mine",
        "description": "their text\n\nmy text",
        "impact": "EU cards",
    }
    theirs = resolve_conflict(
        fields, {"title": "theirs", "description": "theirs"}, yours, BASE, current
    )
    assert changes_between(current, theirs) == {"impact": "EU cards"}


def test_merged_text_and_same_value_rules() -> None:
    assert merged_text("", "mine") == "mine"
    assert merged_text("theirs\n", "  mine ") == "theirs\n\nmine"
    assert (
        changes_between(
            {"services": ["a", "b"], "priority": "P2"}, {"services": ["b", "a"], "priority": "P2"}
        )
        == {}
    )
