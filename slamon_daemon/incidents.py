"""Incident rules (SPEC §3.6): fields, status transitions, response targets, presence.

* Status goes investigating → identified → monitoring → resolved (a step may be skipped or
  repeated; a resolved incident may be reopened). The daemon, not the client, stamps
  identified_at / monitoring_at / resolved_at the first time each status is reached, and
  clears resolved_at when an incident is reopened. Duration = resolved_at − started_at.
* Priority response targets, to the first update: P1 15 min, P2 1 h, P3 4 h, P4 24 h. An
  active incident past its target without an update is overdue.
* Every save names the version it was made against; a save against an older version is
  refused with the fields changed since (the store keeps which fields each version changed),
  and nothing is overwritten. Appending an update never conflicts: it overwrites nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .errors import Conflict, InvalidParams
from .models import INCIDENT_STATUSES, SEVERITIES, Incident

RESPONSE_TARGETS: dict[int, timedelta] = {
    1: timedelta(minutes=15),
    2: timedelta(hours=1),
    3: timedelta(hours=4),
    4: timedelta(hours=24),
}
EDITABLE_FIELDS = (
    "title",
    "description",
    "status",
    "severity",
    "priority",
    "impact",
    "root_cause",
    "resolution_notes",
    "services",
    "started_at",
)
TEXT_LIMITS = {
    "title": 200,
    "description": 20_000,
    "impact": 5_000,
    "root_cause": 20_000,
    "resolution_notes": 20_000,
}


class VersionConflict(Conflict):
    """A save against a stale version; ``fields`` changed since, ``current`` is the incident now."""

    def __init__(self, current: Incident, fields: list[str]) -> None:
        super().__init__(
            f"incident {current.id} changed since your version: {', '.join(fields)}",
            {f: "changed by someone else" for f in fields},
        )
        self.current = current
        self.fields = fields


class FieldError(InvalidParams):
    """One incident field is wrong; ``str()`` is "field: message"."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", {field: message})
        self.field = field
        self.message = message


def transition_stamps(inc: Incident, new_status: str, now: datetime, actor: str) -> dict[str, Any]:
    """Timestamp fields to set when ``inc`` moves to ``new_status``."""
    out: dict[str, Any] = {}
    if new_status == inc.status:
        return out
    if new_status == "identified" and inc.identified_at is None:
        out["identified_at"] = now
    if new_status == "monitoring" and inc.monitoring_at is None:
        out["monitoring_at"] = now
    if new_status == "resolved":
        out["resolved_at"] = now
        out["resolved_by"] = actor
    if inc.status == "resolved" and new_status != "resolved":  # reopened
        out["resolved_at"] = None
        out["resolved_by"] = None
    return out


def response_due(inc: Incident) -> datetime:
    return (inc.created_at or inc.started_at) + RESPONSE_TARGETS[inc.priority]


def is_overdue(inc: Incident, now: datetime) -> bool:
    """Active, without any update, and past the priority's response target."""
    return inc.active and inc.first_update_at is None and now > response_due(inc)


def incident_dict(inc: Incident, now: datetime, *, with_updates: bool = True) -> dict[str, Any]:
    """The wire form of an incident (docs/feed.md)."""
    d: dict[str, Any] = {
        "id": inc.id,
        "title": inc.title,
        "description": inc.description,
        "status": inc.status,
        "severity": inc.severity,
        "priority": f"P{inc.priority}",
        "impact": inc.impact,
        "root_cause": inc.root_cause,
        "resolution_notes": inc.resolution_notes,
        "services": list(inc.services),
        "created_by": inc.created_by,
        "resolved_by": inc.resolved_by,
        "version": inc.version,
        "auto": inc.episode_service is not None,
        "overdue": is_overdue(inc, now),
        "response_due": response_due(inc).isoformat(),
        "last_update_at": inc.updates[-1].created_at.isoformat() if inc.updates else None,
        "updates_count": len(inc.updates),
    }
    for k in (
        "started_at",
        "identified_at",
        "monitoring_at",
        "resolved_at",
        "first_update_at",
        "created_at",
        "updated_at",
        "episode_started_at",
    ):
        v = getattr(inc, k)
        d[k] = v.isoformat() if v else None
    end = inc.resolved_at or now
    d["duration_s"] = round((end - inc.started_at).total_seconds(), 3)
    if with_updates:
        d["updates"] = [u.to_dict() for u in inc.updates]
    return d


def validate_changes(
    changes: dict[str, Any], known_services: set[str], now: datetime | None = None
) -> dict[str, Any]:
    """Check edited fields; returns them normalised.

    Raises:
        FieldError: the first field that is wrong, and why.
    """
    out: dict[str, Any] = {}
    for k, v in changes.items():
        if k not in EDITABLE_FIELDS:
            raise FieldError(k, f"not an editable field; allowed: {', '.join(EDITABLE_FIELDS)}")
        if k in TEXT_LIMITS:
            if not isinstance(v, str):
                raise FieldError(k, "must be text")
            if k == "title" and not v.strip():
                raise FieldError(k, "may not be empty")
            if len(v) > TEXT_LIMITS[k]:
                raise FieldError(k, f"is longer than {TEXT_LIMITS[k]} characters")
            out[k] = v.strip() if k == "title" else v
        elif k == "status":
            if v not in INCIDENT_STATUSES:
                raise FieldError(k, f"must be one of {', '.join(INCIDENT_STATUSES)}")
            out[k] = v
        elif k == "severity":
            if v not in SEVERITIES:
                raise FieldError(k, f"must be one of {', '.join(SEVERITIES)}")
            out[k] = v
        elif k == "priority":
            p = parse_priority(v)
            if p is None:
                raise FieldError(k, 'must be "P1", "P2", "P3" or "P4"')
            out[k] = p
        elif k == "services":
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise FieldError(k, "must be a list of service ids")
            unknown = sorted(set(v) - known_services)
            if unknown:
                raise FieldError(k, f"unknown services {unknown}")
            out[k] = tuple(dict.fromkeys(v))
        elif k == "started_at":
            if not isinstance(v, str):
                raise FieldError(k, "must be an RFC 3339 time like 2026-11-22T02:00:00Z")
            try:
                dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                raise FieldError(k, "must be an RFC 3339 time like 2026-11-22T02:00:00Z") from None
            if dt.tzinfo is None:
                raise FieldError(k, "needs a UTC offset (Z or +HH:MM)")
            if dt > (now or datetime.now(UTC)) + timedelta(minutes=5):
                raise FieldError(k, "is in the future")
            out[k] = dt
    return out


def parse_priority(v: Any) -> int | None:
    if isinstance(v, str) and len(v) == 2 and v[0] in "Pp" and v[1] in "1234":
        return int(v[1])
    if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4:
        return v
    return None


@dataclass(slots=True)
class Presence:
    """Who is looking at or editing which incident (and field); ends with the connection.

    On a node of a cluster, a connection to another node has the session ``"node:n"`` and
    its ``node`` (docs/cluster.md): sessions are numbered per node."""

    session_id: int | str
    user: str
    incident_id: int
    mode: str  # viewing | editing
    field: str | None = None
    since: datetime | None = None
    node: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "session": self.session_id,
            "user": self.user,
            "incident_id": self.incident_id,
            "mode": self.mode,
            "field": self.field,
            "since": self.since.isoformat() if self.since else None,
        }
        if self.node is not None:
            d["node"] = self.node
        return d

    @staticmethod
    def of_node(node: str, d: dict[str, Any]) -> Presence:
        """A presence another node sent (its ``to_dict``), with the session named by node.

        Raises:
            KeyError, ValueError, TypeError: not a presence.
        """
        since = d.get("since")
        return Presence(
            session_id=f"{node}:{d['session']}",
            user=str(d["user"]),
            incident_id=int(d["incident_id"]),
            mode=str(d["mode"]),
            field=None if d.get("field") is None else str(d["field"]),
            since=datetime.fromisoformat(since) if isinstance(since, str) else None,
            node=node,
        )


@dataclass(slots=True)
class PresenceBoard:
    """Presence by session: this node's connections, and in a cluster those of the other
    nodes (``remote``, by node), told by their events and dropped when a node dies."""

    entries: dict[int, Presence] = field(default_factory=dict)
    remote: dict[str, dict[int | str, Presence]] = field(default_factory=dict)

    def set(self, p: Presence) -> None:
        self.entries[int(p.session_id)] = p

    def clear(self, session_id: int) -> Presence | None:
        return self.entries.pop(session_id, None)

    def for_incident(self, incident_id: int) -> list[Presence]:
        local = [p for p in self.entries.values() if p.incident_id == incident_id]
        return local + [
            p for ps in self.remote.values() for p in ps.values() if p.incident_id == incident_id
        ]

    def local(self) -> list[dict[str, Any]]:
        """This node's presence, as sent to the other nodes."""
        return [p.to_dict() for p in self.entries.values()]

    def apply_remote(self, node: str, action: str, data: dict[str, Any]) -> Presence:
        """Another node's ``presence`` event (set or cleared): the presence as named here.

        Raises:
            KeyError, ValueError, TypeError: not a presence.
        """
        p = Presence.of_node(node, data)
        mine = self.remote.setdefault(node, {})
        if action == "cleared":
            mine.pop(p.session_id, None)
        else:
            mine[p.session_id] = p
        return p

    def replace_node(self, node: str, entries: list[dict[str, Any]]) -> list[tuple[str, Presence]]:
        """All the presence of another node (it joined, or answered one that did): the
        changes as events (``set`` or ``cleared``, the presence)."""
        new: dict[int | str, Presence] = {}
        for d in entries:
            try:
                p = Presence.of_node(node, d)
            except (KeyError, ValueError, TypeError):
                continue
            new[p.session_id] = p
        old = self.remote.get(node, {})
        self.remote[node] = new
        out = [("cleared", p) for k, p in old.items() if k not in new]
        return out + [("set", p) for k, p in new.items() if old.get(k) != p]

    def keep_nodes(self, live: frozenset[str]) -> list[Presence]:
        """Forget the presence of the nodes not alive (stopped or silent): what was dropped."""
        gone = [n for n in self.remote if n not in live]
        return [p for n in gone for p in self.remote.pop(n).values()]
