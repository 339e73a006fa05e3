"""Incidents, presence and the SLA report of the fake daemon (tests only).

Shaped as docs/feed.md says and following the real daemon's rules: every save names the
version it was made against and a stale one is refused with ``conflict``, ``fields`` (what
changed underneath) and ``data.current`` (the incident now); appending an update never
conflicts but moves the version on; who may call what is FakeAuth's check (the
caller: its token, else ``owner_role``, else a viewer); presence is one per connection and
ends when the connection does. Every change is pushed as an ``incident`` / ``presence`` event.

``sla.report`` answers figures made up from the snapshot's services, or, with ``format``, a
file name and text as the daemon does.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from slamon_daemon import protocol
from slamon_daemon.models import INCIDENT_STATUSES, SEVERITIES, parse_ts
from slamon_daemon.protocol import ErrorCode

from .fake_auth import Refused, allows

if TYPE_CHECKING:
    from .fake_daemon import FakeDaemon

TARGETS = {
    "P1": timedelta(minutes=15),
    "P2": timedelta(hours=1),
    "P3": timedelta(hours=4),
    "P4": timedelta(hours=24),
}
EDITABLE = (
    "title description status severity priority impact root_cause resolution_notes services"
    " started_at".split()
)
FAKE_MONTH = "2026-11"
"""The month the fake daemon calls "this month" (its TODAY's)."""


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


class FakeIncidents:
    """The incident state of one FakeDaemon."""

    def __init__(self, daemon: FakeDaemon) -> None:
        self.daemon = daemon
        self.items: dict[int, dict[str, Any]] = {}
        """id -> the stored incident (times as datetimes, with ``updates``)."""
        self.revisions: dict[int, list[tuple[int, list[str]]]] = {}
        self.presence: dict[int, dict[str, Any]] = {}
        """session -> presence dict."""
        self.sessions: dict[asyncio.StreamWriter, int] = {}
        self.names: dict[int, str] = {}
        """session -> the caller's name when it set its presence."""
        self.refuse: dict[str, tuple[str, str, dict[str, str] | None]] = {}
        """method -> (code, message, fields): answer that error instead (once per entry)."""
        self._next_id = 1
        self._next_update = 1
        self._next_session = 1

    # --- set-up helpers for tests ------------------------------------------------------------

    def add(
        self,
        title: str,
        *,
        severity: str = "high",
        priority: str = "P2",
        status: str = "investigating",
        services: list[str] | None = None,
        description: str = "",
        impact: str = "",
        created_by: str = "alice",
        started_ago: timedelta = timedelta(minutes=10),
        updates: list[tuple[str, str]] | None = None,
        resolved_ago: timedelta | None = None,
        root_cause: str = "",
    ) -> dict[str, Any]:
        """Store an incident as if made earlier; ``updates`` are (status, message)."""
        now = datetime.now(UTC)
        started = now - started_ago
        inc: dict[str, Any] = {
            "id": self._next_id,
            "title": title,
            "description": description,
            "status": status,
            "severity": severity,
            "priority": priority,
            "impact": impact,
            "root_cause": root_cause,
            "resolution_notes": "",
            "services": list(services or []),
            "created_by": created_by,
            "resolved_by": None,
            "version": 1,
            "auto": False,
            "started_at": started,
            "identified_at": None,
            "monitoring_at": None,
            "resolved_at": None,
            "first_update_at": None,
            "created_at": started,
            "updated_at": started,
            "episode_started_at": None,
            "updates": [],
        }
        self._next_id += 1
        for i, (ustatus, message) in enumerate(updates or []):
            at = started + timedelta(minutes=2 * (i + 1))
            self._append(inc, ustatus, message, created_by, at, True)
        if status == "resolved":
            inc["resolved_at"] = now - (resolved_ago or timedelta(minutes=1))
            inc["resolved_by"] = created_by
        self.items[inc["id"]] = inc
        self.revisions[inc["id"]] = [(1, ["created"])]
        return self.wire(inc)

    def wire(self, inc: dict[str, Any], *, with_updates: bool = False) -> dict[str, Any]:
        """The incident as the feed sends it."""
        now = datetime.now(UTC)
        due = inc["created_at"] + TARGETS[inc["priority"]]
        active = inc["status"] != "resolved"
        out = {k: v for k, v in inc.items() if k != "updates"}
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
            out[k] = _iso(inc[k])
        out["services"] = list(inc["services"])
        out["overdue"] = active and inc["first_update_at"] is None and now > due
        out["response_due"] = due.isoformat()
        out["last_update_at"] = inc["updates"][-1]["created_at"] if inc["updates"] else None
        out["updates_count"] = len(inc["updates"])
        out["duration_s"] = round(
            ((inc["resolved_at"] or now) - inc["started_at"]).total_seconds(), 3
        )
        if with_updates:
            out["updates"] = [dict(u) for u in inc["updates"]]
        return out

    def active(self) -> list[dict[str, Any]]:
        """Active incidents, newest first (incident.list, status.get's ``incidents``)."""
        items = [i for i in self.items.values() if i["status"] != "resolved"]
        items.sort(key=lambda i: i["started_at"], reverse=True)
        return [self.wire(i) for i in items]

    def with_incidents(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """status.get: the snapshot plus the active incidents (unless it sets its own)."""
        if "incidents" in snapshot:
            return snapshot
        return {**snapshot, "incidents": self.active()}

    def get(self, iid: int) -> dict[str, Any]:
        """incident.get's answer for ``iid``."""
        out = self.wire(self.items[iid], with_updates=True)
        out["presence"] = [p for p in self.presence.values() if p["incident_id"] == iid]
        return out

    def change_as(self, user: str, iid: int, **changes: Any) -> dict[str, Any]:
        """Someone else saves ``changes`` (as incident.update would), pushed to everyone."""
        inc = self.items[iid]
        was = inc["status"]
        self._apply(inc, changes, user)
        resolved = inc["status"] == "resolved" and was != "resolved"
        self._publish(
            "incident",
            {"action": "resolved" if resolved else "updated", "incident": self.wire(inc)},
        )
        return self.wire(inc)

    def presence_of(
        self,
        user: str,
        iid: int,
        mode: str = "viewing",
        field: str | None = None,
        session: int = 9000,
    ) -> dict[str, Any]:
        """Someone else's presence (another connection), pushed to everyone."""
        p = {
            "session": session,
            "user": user,
            "incident_id": iid,
            "mode": mode,
            "field": field,
            "since": datetime.now(UTC).isoformat(),
        }
        self.presence[session] = p
        self._publish("presence", {"action": "set", "presence": p})
        return p

    def leave(self, session: int = 9000) -> None:
        """That other connection goes away."""
        p = self.presence.pop(session, None)
        if p is not None:
            self._publish("presence", {"action": "cleared", "presence": p})

    # --- the request path ----------------------------------------------------------------------

    def answer(
        self, request: protocol.Request, writer: asyncio.StreamWriter
    ) -> dict[str, Any] | None:
        """The reply of an incident/presence/SLA method; None for other methods."""
        method = request.method
        if not (method.startswith(("incident.", "presence.")) or method == "sla.report"):
            return None
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return protocol.error_reply(
                request.id, ErrorCode.UNKNOWN_METHOD, f"no method {method!r}"
            )
        who, _problem = self.daemon.auth.caller(request.token)  # FakeAuth.check passed
        if method in self.refuse:
            code, message, fields = self.refuse.pop(method)
            return protocol.error_reply(request.id, code, message, fields)
        try:
            result = handler(dict(request.params), who, self._session(writer))
        except Refused as exc:
            return exc.reply(request.id)
        return protocol.reply(request.id, result)

    def disconnected(self, writer: asyncio.StreamWriter) -> None:
        """A connection ended: its presence ends too."""
        session = self.sessions.pop(writer, None)
        if session is not None:
            self.leave(session)

    def _session(self, writer: asyncio.StreamWriter) -> int:
        if writer not in self.sessions:
            self.sessions[writer] = self._next_session
            self._next_session += 1
        return self.sessions[writer]

    def _publish(self, topic: str, data: dict[str, Any]) -> None:
        frame = protocol.encode(protocol.event(topic, data))
        for w in list(self.daemon._subscribers):
            if not w.is_closing():
                w.write(frame)

    # --- incident.* -----------------------------------------------------------------------------

    def _find(self, params: dict[str, Any]) -> dict[str, Any]:
        iid = params.get("id")
        if iid not in self.items:
            raise Refused(ErrorCode.NOT_FOUND, f"no incident {iid}")
        return self.items[iid]

    def _validate(self, changes: dict[str, Any]) -> None:
        for k, v in changes.items():
            problem = None
            if k not in EDITABLE:
                problem = "not an editable field"
            elif k == "title" and (not isinstance(v, str) or not v.strip()):
                problem = "may not be empty"
            elif k == "severity" and v not in SEVERITIES:
                problem = f"must be one of {', '.join(SEVERITIES)}"
            elif k == "priority" and v not in TARGETS:
                problem = 'must be "P1", "P2", "P3" or "P4"'
            elif k == "status" and v not in INCIDENT_STATUSES:
                problem = f"must be one of {', '.join(INCIDENT_STATUSES)}"
            elif k == "services":
                known = {s["id"] for s in self.daemon.snapshot["services"]}
                unknown = sorted(set(v) - known)
                if unknown:
                    problem = f"unknown services {unknown}"
            if problem:
                raise Refused(ErrorCode.INVALID_PARAMS, f"{k}: {problem}", {k: problem})

    def _apply(self, inc: dict[str, Any], changes: dict[str, Any], user: str) -> None:
        now = datetime.now(UTC)
        self._validate(changes)
        status = changes.get("status")
        if status and status != inc["status"]:
            self._stamp(inc, status, now, user)
        for k, v in changes.items():
            inc[k] = list(v) if k == "services" else (v.strip() if k == "title" else v)
        inc["version"] += 1
        inc["updated_at"] = now
        self.revisions[inc["id"]].append((inc["version"], sorted(changes)))

    @staticmethod
    def _stamp(inc: dict[str, Any], status: str, now: datetime, user: str) -> None:
        if status == "identified" and inc["identified_at"] is None:
            inc["identified_at"] = now
        if status == "monitoring" and inc["monitoring_at"] is None:
            inc["monitoring_at"] = now
        if status == "resolved":
            inc["resolved_at"], inc["resolved_by"] = now, user
        elif inc["status"] == "resolved":
            inc["resolved_at"] = inc["resolved_by"] = None

    def _append(
        self,
        inc: dict[str, Any],
        status: str,
        message: str,
        author: str,
        at: datetime,
        visible: bool,
    ) -> None:
        inc["updates"].append(
            {
                "id": self._next_update,
                "status": status,
                "message": message,
                "customer_visible": visible,
                "author": author,
                "created_at": at.isoformat(),
            }
        )
        self._next_update += 1
        if inc["first_update_at"] is None:
            inc["first_update_at"] = at

    def _conflict(self, inc: dict[str, Any], version: Any, what: str) -> None:
        if version == inc["version"]:
            return
        changed = sorted(
            {f for v, fields in self.revisions[inc["id"]] if v > int(version or 0) for f in fields}
        )
        raise Refused(
            ErrorCode.CONFLICT,
            f"incident {inc['id']} was changed by someone else since version {version}"
            f" (now {inc['version']}): {', '.join(changed)}; {what}",
            {f: "changed by someone else" for f in changed},
            {"current": self.wire(inc, with_updates=True), "changed_fields": changed},
        )

    def _incident_create(self, params: dict[str, Any], who: dict[str, Any], session: int) -> Any:
        for req in ("title", "severity", "priority"):
            if req not in params:
                raise Refused(
                    ErrorCode.INVALID_PARAMS, f'"{req}" is required', {req: "is required"}
                )
        fields = {k: v for k, v in params.items() if k not in ("message", "customer_visible")}
        self._validate(fields)
        created = self.add(
            params["title"].strip(),
            severity=params["severity"],
            priority=params["priority"],
            status=params.get("status", "investigating"),
            services=params.get("services"),
            description=params.get("description", ""),
            impact=params.get("impact", ""),
            created_by=who["name"],
            started_ago=timedelta(0),
        )
        inc = self.items[created["id"]]
        if params.get("started_at"):  # as the daemon: a given start (an outage's) is kept
            inc["started_at"] = parse_ts(str(params["started_at"]))
        if params.get("message"):
            self._append(
                inc,
                inc["status"],
                params["message"],
                who["name"],
                datetime.now(UTC),
                bool(params.get("customer_visible", True)),
            )
        self._publish("incident", {"action": "created", "incident": self.wire(inc)})
        return self.wire(inc, with_updates=True)

    def _incident_update(self, params: dict[str, Any], who: dict[str, Any], session: int) -> Any:
        changes = params.get("changes")
        if not isinstance(changes, dict) or not changes:
            raise Refused(
                ErrorCode.INVALID_PARAMS, '"changes" must be an object of the fields to change'
            )
        self._validate(changes)
        inc = self._find(params)
        self._conflict(inc, params.get("version"), "nothing was saved")
        self._apply(inc, changes, who["name"])
        action = "resolved" if changes.get("status") == "resolved" else "updated"
        self._publish("incident", {"action": action, "incident": self.wire(inc)})
        return self.wire(inc, with_updates=True)

    def _incident_add_update(
        self, params: dict[str, Any], who: dict[str, Any], session: int
    ) -> Any:
        message = params.get("message")
        if not isinstance(message, str) or not message.strip():
            raise Refused(
                ErrorCode.INVALID_PARAMS,
                '"message" must be non-empty markdown text',
                {"message": "must be non-empty markdown text"},
            )
        inc = self._find(params)
        status = params.get("status", inc["status"])
        now = datetime.now(UTC)
        fields = ["updates"]
        if status != inc["status"]:
            self._stamp(inc, status, now, who["name"])
            inc["status"] = status
            fields.append("status")
        self._append(
            inc, status, message, who["name"], now, bool(params.get("customer_visible", True))
        )
        inc["version"] += 1
        self.revisions[inc["id"]].append((inc["version"], fields))
        self._publish("incident", {"action": "update_added", "incident": self.wire(inc)})
        return self.wire(inc, with_updates=True)

    def _incident_resolve(self, params: dict[str, Any], who: dict[str, Any], session: int) -> Any:
        if not str(params.get("root_cause") or "").strip():
            raise Refused(
                ErrorCode.INVALID_PARAMS,
                '"root_cause" is required to resolve',
                {"root_cause": "is required to resolve"},
            )
        inc = self._find(params)
        if inc["status"] == "resolved":
            raise Refused(ErrorCode.CONFLICT, f"incident {inc['id']} is already resolved")
        self._conflict(inc, params.get("version"), "it was not resolved")
        changes = {"status": "resolved", "root_cause": params["root_cause"]}
        if "resolution_notes" in params:
            changes["resolution_notes"] = params["resolution_notes"]
        self._apply(inc, changes, who["name"])
        if params.get("message"):
            self._append(
                inc,
                "resolved",
                params["message"],
                who["name"],
                datetime.now(UTC),
                bool(params.get("customer_visible", True)),
            )
        self._publish("incident", {"action": "resolved", "incident": self.wire(inc)})
        return self.wire(inc, with_updates=True)

    def _incident_get(self, params: dict[str, Any], who: dict[str, Any], session: int) -> Any:
        return self.get(self._find(params)["id"])

    def _incident_list(self, params: dict[str, Any], who: dict[str, Any], session: int) -> Any:
        return self.active()

    def _incident_past(self, params: dict[str, Any], who: dict[str, Any], session: int) -> Any:
        days = int(params.get("days", 7))
        page = int(params.get("page", 1))
        limit = int(params.get("limit", 20))
        since = datetime.now(UTC) - timedelta(days=days)
        done = [
            i for i in self.items.values() if i["status"] == "resolved" and i["started_at"] >= since
        ]
        done.sort(key=lambda i: i["started_at"], reverse=True)
        chunk = done[(page - 1) * limit : page * limit]
        return {
            "items": [self.wire(i) for i in chunk],
            "total": len(done),
            "page": page,
            "pages": max(1, -(-len(done) // limit)),
            "limit": limit,
            "days": days,
        }

    def _incident_search(self, params: dict[str, Any], who: dict[str, Any], session: int) -> Any:
        words = [w.lower() for w in str(params.get("query") or "").split()]
        if not words:
            raise Refused(
                ErrorCode.INVALID_PARAMS, '"query" may not be empty', {"query": "may not be empty"}
            )
        out = []
        for inc in sorted(self.items.values(), key=lambda i: i["started_at"], reverse=True):
            text = " ".join(
                [inc["title"], inc["description"], *(u["message"] for u in inc["updates"])]
            ).lower()
            tokens = re.findall(r"\w+", text)
            if all(any(t.startswith(w) for t in tokens) for w in words):
                out.append(self.wire(inc))
        return out[: int(params.get("limit", 50))]

    # --- presence.* -----------------------------------------------------------------------------

    def _presence_set(self, params: dict[str, Any], who: dict[str, Any], session: int) -> Any:
        mode = params.get("mode", "viewing")
        if mode == "editing" and not allows(who["role"], "reporter"):
            raise Refused(ErrorCode.FORBIDDEN, "editing needs the reporter role")
        iid = params.get("incident_id")
        if iid not in self.items:
            raise Refused(ErrorCode.NOT_FOUND, f"no incident {iid}")
        p = {
            "session": session,
            "user": who["name"],
            "incident_id": iid,
            "mode": mode,
            "field": params.get("field"),
            "since": datetime.now(UTC).isoformat(),
        }
        self.presence[session] = p
        self._publish("presence", {"action": "set", "presence": p})
        return p

    def _presence_clear(self, params: dict[str, Any], who: dict[str, Any], session: int) -> Any:
        self.leave(session)
        return {"ok": True}

    def _presence_list(self, params: dict[str, Any], who: dict[str, Any], session: int) -> Any:
        return [p for p in self.presence.values() if p["incident_id"] == params.get("incident_id")]

    # --- sla.report -----------------------------------------------------------------------------

    def _sla_report(self, params: dict[str, Any], who: dict[str, Any], session: int) -> Any:
        if "days" in params:
            label = f"last {int(params['days'])} days"
        else:
            label = str(params.get("month") or FAKE_MONTH)
            if not re.fullmatch(r"\d{4}-\d{2}", label):
                raise Refused(
                    ErrorCode.INVALID_PARAMS, f"month must look like 2026-10, got {label!r}"
                )
        report = make_sla_report(self.daemon.snapshot, label)
        fmt = params.get("format", "data")
        if fmt == "data":
            return report
        if fmt not in ("md", "csv", "json"):
            raise Refused(ErrorCode.INVALID_PARAMS, '"format" must be one of data, md, csv, json')
        return {
            "format": fmt,
            "filename": f"slamon-sla-{label.replace(' ', '-')}.{fmt}",
            "text": render_report(report, fmt),
        }


def sla_row(
    sid: str,
    name: str,
    *,
    target: float = 99.9,
    uptime: str = "99.95",
    consumed: float = 21.6,
    budget: float = 43.2,
    episodes: int = 2,
    episodes_from_before: int = 0,
    partial_from: str | None = None,
    latency: dict[str, Any] | None = None,
    days_below: list[str] | None = None,
) -> dict[str, Any]:
    """One service of sla.report, shaped as slamon_daemon.sla.service_figures makes it."""
    met = None if uptime == "—" else float(uptime) >= target
    return {
        "id": sid,
        "name": name,
        "target": target,
        "uptime": uptime,
        "uptime_ratio": None if uptime == "—" else float(uptime) / 100,
        "met": met,
        "checks": 43200,
        "maintenance_checks": 0,
        "failed_checks": 12,
        "monitored_from": partial_from or "2026-11-01T00:00:00+00:00",
        "partial_period": partial_from is not None,
        "monitored_s": 1814400.0,
        "period_s": 2592000.0,
        "maintenance_s": 0.0,
        "budget_min": budget,
        "consumed_min": consumed,
        "remaining_min": round(budget - consumed, 3),
        "budget_used_pct": round(consumed / budget * 100, 2) if budget else None,
        "budget_s": round(budget * 60, 3),
        "remaining_s": round((budget - consumed) * 60, 3),
        "downtime_s": consumed * 60,
        "days_below_target": days_below or [],
        "episodes": episodes,
        "episodes_from_before": episodes_from_before,
        "mttr_s": 300.0 if episodes else None,
        "mtbf_s": 1209300.0 if episodes else None,
        "p95_ms": 44.1,
        "latency_objective": latency,
    }


SLA_PRESETS: list[dict[str, Any]] = [
    {
        "latency": {
            "threshold_ms": 1000.0,
            "target_pct": 95.0,
            "compliance_pct": 97.125,
            "met": True,
        }
    },
    {
        "uptime": "99.93",
        "consumed": 10.0,
        "budget": 25.0,
        "episodes": 1,
        "partial_from": "2026-11-10T00:00:00+00:00",
    },
    {
        "uptime": "97.12",
        "consumed": 1244.2,
        "budget": 43.2,
        "episodes": 7,
        "episodes_from_before": 1,
        "days_below": ["2026-11-03", "2026-11-04", "2026-11-19"],
    },
]
"""sla_row's figures for the first, the second and every further service of a report."""


def make_sla_report(snapshot: dict[str, Any], label: str) -> dict[str, Any]:
    """A report for the snapshot's services: the first meets its target with a latency
    objective, the second was added mid-period, the others breach."""
    rows = [
        sla_row(s["id"], s["name"], **SLA_PRESETS[min(i, len(SLA_PRESETS) - 1)])
        for i, s in enumerate(snapshot["services"])
    ]
    last = label.startswith("last")
    return {
        "period": {
            "label": label,
            "start": f"{FAKE_MONTH}-01T00:00:00+00:00" if not last else "2026-10-23T00:00:00+00:00",
            "end": "2026-12-01T00:00:00+00:00" if not last else "2026-11-22T00:00:00+00:00",
            "timezone": "UTC",
            "days": 30,
            "complete": not last and label < FAKE_MONTH,
        },
        "generated_at": "2026-11-21T23:10:00+00:00",
        "services": rows,
        "breached": [r["id"] for r in rows if r["met"] is False],
    }


def render_report(report: dict[str, Any], fmt: str) -> str:
    """A short text form of the report (the daemon's render, in miniature)."""
    if fmt == "json":
        return json.dumps(report, indent=2)
    rows = report["services"]
    if fmt == "csv":
        lines = ["id,target,uptime,met"]
        lines += [f"{r['id']},{r['target']},{r['uptime']},{r['met']}" for r in rows]
        return "\n".join(lines) + "\n"
    lines = [
        f"# SLA report {report['period']['label']}",
        "",
        "| Service | Uptime % | SLA |",
        "|---|---|---|",
    ]
    lines += [f"| {r['id']} | {r['uptime']} | {'MET' if r['met'] else 'BREACHED'} |" for r in rows]
    return "\n".join(lines) + "\n"
