"""Presence merged across the nodes of a cluster (incidents.PresenceBoard, issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime

from slamon_daemon.incidents import Presence, PresenceBoard

T = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _told(session: int, user: str, iid: int = 7, mode: str = "viewing") -> dict[str, object]:
    return Presence(session, user, iid, mode, None, T).to_dict()


def test_other_nodes_sessions_are_named_by_node_and_listed_with_ours() -> None:
    board = PresenceBoard()
    board.set(Presence(1, "alice", 7, "editing", "title", T))
    p = board.apply_remote("b", "set", _told(1, "bob"))  # b's session 1 is not ours
    assert (p.session_id, p.node, p.since) == ("b:1", "b", T)
    got = {x.session_id: x.user for x in board.for_incident(7)}
    assert got == {1: "alice", "b:1": "bob"}
    assert "node" not in board.entries[1].to_dict()  # ours: the single-node shape
    assert board.for_incident(8) == []
    board.apply_remote("b", "cleared", _told(1, "bob"))
    assert [x.user for x in board.for_incident(7)] == ["alice"]
    assert board.local() == [board.entries[1].to_dict()]


def test_a_nodes_board_replaces_what_was_known_of_it() -> None:
    board = PresenceBoard()
    board.apply_remote("b", "set", _told(1, "bob"))
    board.apply_remote("b", "set", _told(2, "carol"))
    changes = board.replace_node("b", [_told(2, "carol"), _told(3, "dan"), {"bad": 1}])
    assert sorted((a, p.user) for a, p in changes) == [("cleared", "bob"), ("set", "dan")]
    assert sorted(x.user for x in board.for_incident(7)) == ["carol", "dan"]


def test_a_dead_nodes_presence_ends() -> None:
    board = PresenceBoard()
    board.apply_remote("b", "set", _told(1, "bob"))
    board.apply_remote("c", "set", _told(1, "carol"))
    gone = board.keep_nodes(frozenset({"a", "c"}))
    assert [p.session_id for p in gone] == ["b:1"]
    assert [x.user for x in board.for_incident(7)] == ["carol"]
    assert board.keep_nodes(frozenset({"a", "c"})) == []
