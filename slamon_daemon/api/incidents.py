"""incident.create, .update, .add_update, .resolve, .get, .list, .past and .search.

Reporters and admins create and edit incidents; viewers read them. Every save names the
version it was made against (incidents.py has the rules); every change is pushed as an
``incident`` event and refreshes the open incidents and the overall status.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..errors import Conflict, NotFound
from ..incidents import VersionConflict, incident_dict, transition_stamps, validate_changes
from ..models import INCIDENT_STATUSES, Incident, IncidentUpdate, Role
from . import params as P
from .context import ApiContext, Caller
from .registry import Method

MESSAGE_LIMIT = 20_000

CREATE_PARAMS = {
    "title",
    "description",
    "severity",
    "priority",
    "services",
    "impact",
    "started_at",
    "status",
    "message",
    "customer_visible",
}


def published(ctx: ApiContext, action: str, inc: Incident) -> dict[str, Any]:
    """Tell subscribers and the daemon that ``inc`` changed; the reply to the caller."""
    now = ctx.clock.now()
    ctx.events.publish(
        "incident", {"action": action, "incident": incident_dict(inc, now, with_updates=False)}
    )
    ctx.hooks.incidents_changed()
    return incident_dict(inc, now)


async def get_or_404(ctx: ApiContext, iid: int) -> Incident:
    inc = await ctx.store.get_incident(iid)
    if inc is None:
        raise NotFound(f"no incident {iid}")
    return inc


def message_param(params: dict[str, Any], required: bool) -> str | None:
    msg = params.get("message")
    if msg is None and not required:
        return None
    if not isinstance(msg, str) or not msg.strip():
        raise P.bad('"message" must be non-empty markdown text')
    if len(msg) > MESSAGE_LIMIT:
        raise P.bad(f'"message" is longer than {MESSAGE_LIMIT} characters')
    return msg


async def save_versioned(
    ctx: ApiContext,
    iid: int,
    version: int,
    cols: dict[str, Any],
    fields: list[str],
    actor: str,
    t: datetime,
) -> Incident:
    """Save against ``version``; a stale one is a conflict naming what changed since."""
    try:
        return await ctx.store.save_incident(iid, version, cols, fields, actor, t)
    except VersionConflict as exc:
        raise Conflict(
            f"incident {iid} was changed by someone else since version {version}"
            f" (now {exc.current.version}): {', '.join(exc.fields)}; nothing was saved",
            {f: "changed by someone else" for f in exc.fields},
            {"current": incident_dict(exc.current, t), "changed_fields": exc.fields},
        ) from None


async def create(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, CREATE_PARAMS, "incident.create")
    for req in ("title", "severity", "priority"):
        if req not in params:
            raise P.bad(f'"{req}" is required', req)
    fields = {k: v for k, v in params.items() if k not in ("message", "customer_visible")}
    fields.setdefault("status", "investigating")
    t = ctx.clock.now()
    ch = validate_changes(fields, set(ctx.live.services), t)
    inc = Incident(
        title=ch["title"],
        status=ch["status"],
        severity=ch["severity"],
        priority=ch["priority"],
        started_at=ch.get("started_at", t),
        created_by=caller.name,
        description=ch.get("description", ""),
        impact=ch.get("impact", ""),
        services=ch.get("services", ()),
        created_at=t,
    )
    new = Incident(
        title="", status="investigating", severity="low", priority=4, started_at=t, created_by=""
    )
    for k, v in transition_stamps(new, inc.status, t, caller.name).items():
        setattr(inc, k, v)
    msg = message_param(params, required=False)
    if msg is not None:
        vis = P.flag(params, "customer_visible", default=True)
        inc.updates = [IncidentUpdate(inc.status, msg, caller.name, t, vis)]
        inc.first_update_at = t
    return published(ctx, "created", await ctx.store.create_incident(inc))


async def update(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id", "version", "changes"}, "incident.update")
    iid = P.integer(params, "id", lo=1, hi=2**62)
    version = P.integer(params, "version", lo=1, hi=2**31)
    changes = params.get("changes")
    if not isinstance(changes, dict) or not changes:
        raise P.bad('"changes" must be an object of the fields to change')
    t = ctx.clock.now()
    ch = validate_changes(changes, set(ctx.live.services), t)
    inc = await get_or_404(ctx, iid)
    cols = dict(ch)
    if "status" in ch:
        cols.update(transition_stamps(inc, ch["status"], t, caller.name))
    saved = await save_versioned(ctx, iid, version, cols, sorted(ch), caller.name, t)
    resolved = ch.get("status") == "resolved" and inc.status != "resolved"
    return published(ctx, "resolved" if resolved else "updated", saved)


async def add_update(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id", "status", "message", "customer_visible"}, "incident.add_update")
    iid = P.integer(params, "id", lo=1, hi=2**62)
    msg = message_param(params, required=True)
    assert msg is not None
    vis = P.flag(params, "customer_visible", default=True)
    inc = await get_or_404(ctx, iid)
    status = params.get("status", inc.status)
    if status not in INCIDENT_STATUSES:
        raise P.bad(f'"status" must be one of {", ".join(INCIDENT_STATUSES)}')
    t = ctx.clock.now()
    changes: dict[str, Any] = {}
    if status != inc.status:
        changes = {"status": status, **transition_stamps(inc, status, t, caller.name)}
    saved = await ctx.store.add_incident_update(
        iid, IncidentUpdate(status, msg, caller.name, t, vis), changes, t
    )
    resolved = status == "resolved" and inc.status != "resolved"
    return published(ctx, "resolved" if resolved else "update_added", saved)


async def resolve(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(
        params,
        {"id", "version", "root_cause", "resolution_notes", "message", "customer_visible"},
        "incident.resolve",
    )
    iid = P.integer(params, "id", lo=1, hi=2**62)
    version = P.integer(params, "version", lo=1, hi=2**31)
    fields: dict[str, Any] = {
        k: params[k] for k in ("root_cause", "resolution_notes") if k in params
    }
    if not str(fields.get("root_cause", "")).strip():
        raise P.bad('"root_cause" is required to resolve', "root_cause")
    t = ctx.clock.now()
    ch = validate_changes({**fields, "status": "resolved"}, set(ctx.live.services), t)
    inc = await get_or_404(ctx, iid)
    if inc.status == "resolved":
        raise Conflict(f"incident {iid} is already resolved")
    # Validate everything before writing anything.
    msg = message_param(params, required=False)
    vis = P.flag(params, "customer_visible", default=True)
    cols = {**ch, **transition_stamps(inc, "resolved", t, caller.name)}
    saved = await save_versioned(ctx, iid, version, cols, sorted(ch), caller.name, t)
    if msg is not None:
        saved = await ctx.store.add_incident_update(
            iid, IncidentUpdate("resolved", msg, caller.name, t, vis), {}, t
        )
    return published(ctx, "resolved", saved)


async def get(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id"}, "incident.get")
    inc = await get_or_404(ctx, P.integer(params, "id", lo=1, hi=2**62))
    d = incident_dict(inc, ctx.clock.now())
    d["presence"] = [p.to_dict() for p in ctx.presence.for_incident(inc.id or 0)]
    return d


async def list_active(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, set(), "incident.list")
    items, _ = await ctx.store.list_incidents(active=True, limit=1000)
    t = ctx.clock.now()
    return [incident_dict(i, t, with_updates=False) for i in items]


async def past(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"days", "page", "limit"}, "incident.past")
    days = P.integer(params, "days", default=7, lo=1, hi=3650)
    page = P.integer(params, "page", default=1, lo=1, hi=100_000)
    limit = P.integer(params, "limit", default=20, lo=1, hi=100)
    t = ctx.clock.now()
    items, total = await ctx.store.list_incidents(
        active=False, since=t - timedelta(days=days), offset=(page - 1) * limit, limit=limit
    )
    return {
        "items": [incident_dict(i, t, with_updates=False) for i in items],
        "total": total,
        "page": page,
        "pages": max(1, -(-total // limit)),
        "limit": limit,
        "days": days,
    }


async def search(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"query", "limit"}, "incident.search")
    q = P.text(params, "query", max_len=200)
    limit = P.integer(params, "limit", default=50, lo=1, hi=200)
    found = await ctx.store.search_incidents(q, limit)
    t = ctx.clock.now()
    return [incident_dict(i, t, with_updates=False) for i in found]


def methods() -> list[Method]:
    """The incident methods."""
    return [
        Method("incident.create", Role.REPORTER, create, "open an incident", audited=True),
        Method(
            "incident.update",
            Role.REPORTER,
            update,
            "change fields (with the version you saw)",
            audited=True,
        ),
        Method(
            "incident.add_update", Role.REPORTER, add_update, "add a timeline update", audited=True
        ),
        Method("incident.resolve", Role.REPORTER, resolve, "resolve with root cause", audited=True),
        Method("incident.get", Role.VIEWER, get, "one incident with its timeline and presence"),
        Method("incident.list", Role.VIEWER, list_active, "active incidents (overdue flagged)"),
        Method("incident.past", Role.VIEWER, past, "resolved incidents of the last N days, paged"),
        Method("incident.search", Role.VIEWER, search, "full-text search"),
    ]
