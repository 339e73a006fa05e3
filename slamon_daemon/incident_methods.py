"""Feed methods for incidents and presence (docs/feed.md), and auto-incidents.

Reporters and admins create and edit incidents; viewers read them. Every change is pushed as
an ``incident`` event; presence (who views or edits which incident and field) as ``presence``
events, and it ends by itself when the client disconnects.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import params as P
from .errors import AlreadyExists, SlamonError
from .feed import Method, Session
from .incidents import (
    FieldError,
    Presence,
    VersionConflict,
    incident_dict,
    transition_stamps,
    validate_changes,
)
from .models import INCIDENT_STATUSES, Incident, IncidentUpdate, OutageEpisode, Role
from .protocol import ErrorCode, ProtocolError

if TYPE_CHECKING:
    from .daemon import Daemon

logger = logging.getLogger("slamon.incidents")

MESSAGE_LIMIT = 20_000


def _field_error(exc: FieldError) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_PARAMS, str(exc), fields={exc.field: exc.message})


def build_incident_methods(daemon: Daemon) -> list[Method]:
    """The incident.* and presence.* methods of ``daemon``."""

    def now() -> datetime:
        return datetime.now(UTC)

    def known_services() -> set[str]:
        return set(daemon.state.services)

    def publish(action: str, inc: Incident) -> None:
        daemon.feed.publish(
            "incident",
            {"action": action, "incident": incident_dict(inc, now(), with_updates=False)},
        )
        daemon.incidents_changed()

    async def get_or_404(iid: int) -> Incident:
        inc = await daemon.store.get_incident(iid)
        if inc is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no incident {iid}")
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
        iid: int, version: int, cols: dict[str, Any], fields: list[str], actor: str, t: datetime
    ) -> Incident:
        """Save against ``version``; a stale one is a conflict error naming what changed."""
        try:
            return await daemon.store.save_incident(iid, version, cols, fields, actor, t)
        except VersionConflict as exc:
            raise ProtocolError(
                ErrorCode.CONFLICT,
                f"incident {iid} was changed by someone else since version {version}"
                f" (now {exc.current.version}): {', '.join(exc.fields)}; nothing was saved",
                fields={f: "changed by someone else" for f in exc.fields},
                data={"current": incident_dict(exc.current, t), "changed_fields": exc.fields},
            ) from None

    async def create(s: Session, params: dict[str, Any]) -> Any:
        P.only(
            params,
            {
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
            },
            "incident.create",
        )
        for req in ("title", "severity", "priority"):
            if req not in params:
                raise P.bad(f'"{req}" is required', req)
        fields = {k: v for k, v in params.items() if k not in ("message", "customer_visible")}
        fields.setdefault("status", "investigating")
        try:
            ch = validate_changes(fields, known_services())
        except FieldError as exc:
            raise _field_error(exc) from None
        t = now()
        inc = Incident(
            title=ch["title"],
            status=ch["status"],
            severity=ch["severity"],
            priority=ch["priority"],
            started_at=ch.get("started_at", t),
            created_by=s.name,
            description=ch.get("description", ""),
            impact=ch.get("impact", ""),
            services=ch.get("services", ()),
            created_at=t,
        )
        for k, v in transition_stamps(
            Incident(
                title="",
                status="investigating",
                severity="low",
                priority=4,
                started_at=t,
                created_by="",
            ),
            inc.status,
            t,
            s.name,
        ).items():
            setattr(inc, k, v)
        msg = message_param(params, required=False)
        if msg is not None:
            vis = params.get("customer_visible", True)
            if not isinstance(vis, bool):
                raise P.bad('"customer_visible" must be true or false')
            inc.updates = [IncidentUpdate(inc.status, msg, s.name, t, vis)]
            inc.first_update_at = t
        created = await daemon.store.create_incident(inc)
        publish("created", created)
        return incident_dict(created, now())

    async def update(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"id", "version", "changes"}, "incident.update")
        iid = P.integer(params, "id", lo=1, hi=2**62)
        version = P.integer(params, "version", lo=1, hi=2**31)
        changes = params.get("changes")
        if not isinstance(changes, dict) or not changes:
            raise P.bad('"changes" must be an object of the fields to change')
        try:
            ch = validate_changes(changes, known_services())
        except FieldError as exc:
            raise _field_error(exc) from None
        inc = await get_or_404(iid)
        t = now()
        cols = dict(ch)
        if "status" in ch:
            cols.update(transition_stamps(inc, ch["status"], t, s.name))
        saved = await save_versioned(iid, version, cols, sorted(ch), s.name, t)
        publish(
            "resolved"
            if ch.get("status") == "resolved" and inc.status != "resolved"
            else "updated",
            saved,
        )
        return incident_dict(saved, now())

    async def add_update(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"id", "status", "message", "customer_visible"}, "incident.add_update")
        iid = P.integer(params, "id", lo=1, hi=2**62)
        msg = message_param(params, required=True)
        assert msg is not None
        vis = params.get("customer_visible", True)
        if not isinstance(vis, bool):
            raise P.bad('"customer_visible" must be true or false')
        inc = await get_or_404(iid)
        status = params.get("status", inc.status)
        if status not in INCIDENT_STATUSES:
            raise P.bad(f'"status" must be one of {", ".join(INCIDENT_STATUSES)}')
        t = now()
        changes: dict[str, Any] = {}
        if status != inc.status:
            changes = {"status": status, **transition_stamps(inc, status, t, s.name)}
        saved = await daemon.store.add_incident_update(
            iid, IncidentUpdate(status, msg, s.name, t, vis), changes, t
        )
        publish(
            "resolved" if status == "resolved" and inc.status != "resolved" else "update_added",
            saved,
        )
        return incident_dict(saved, now())

    async def resolve(s: Session, params: dict[str, Any]) -> Any:
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
        try:
            ch = validate_changes({**fields, "status": "resolved"}, known_services())
        except FieldError as exc:
            raise _field_error(exc) from None
        inc = await get_or_404(iid)
        if inc.status == "resolved":
            raise ProtocolError(ErrorCode.CONFLICT, f"incident {iid} is already resolved")
        # Validate everything before writing anything.
        msg = message_param(params, required=False)
        vis = params.get("customer_visible", True)
        if not isinstance(vis, bool):
            raise P.bad('"customer_visible" must be true or false')
        t = now()
        cols = {**ch, **transition_stamps(inc, "resolved", t, s.name)}
        saved = await save_versioned(iid, version, cols, sorted(ch), s.name, t)
        if msg is not None:
            saved = await daemon.store.add_incident_update(
                iid, IncidentUpdate("resolved", msg, s.name, t, vis), {}, t
            )
        publish("resolved", saved)
        return incident_dict(saved, now())

    async def get(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"id"}, "incident.get")
        inc = await get_or_404(P.integer(params, "id", lo=1, hi=2**62))
        d = incident_dict(inc, now())
        d["presence"] = [p.to_dict() for p in daemon.presence.for_incident(inc.id or 0)]
        return d

    async def list_active(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, set(), "incident.list")
        items, _ = await daemon.store.list_incidents(active=True, limit=1000)
        t = now()
        return [incident_dict(i, t, with_updates=False) for i in items]

    async def past(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"days", "page", "limit"}, "incident.past")
        days = P.integer(params, "days", default=7, lo=1, hi=3650)
        page = P.integer(params, "page", default=1, lo=1, hi=100_000)
        limit = P.integer(params, "limit", default=20, lo=1, hi=100)
        items, total = await daemon.store.list_incidents(
            active=False, since=now() - timedelta(days=days), offset=(page - 1) * limit, limit=limit
        )
        t = now()
        return {
            "items": [incident_dict(i, t, with_updates=False) for i in items],
            "total": total,
            "page": page,
            "pages": max(1, -(-total // limit)),
            "limit": limit,
            "days": days,
        }

    async def search(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"query", "limit"}, "incident.search")
        q = P.text(params, "query", max_len=200)
        limit = P.integer(params, "limit", default=50, lo=1, hi=200)
        t = now()
        return [
            incident_dict(i, t, with_updates=False)
            for i in await daemon.store.search_incidents(q, limit)
        ]

    async def presence_set(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"incident_id", "mode", "field"}, "presence.set")
        iid = P.integer(params, "incident_id", lo=1, hi=2**62)
        mode = P.choice(params, "mode", ["viewing", "editing"], default="viewing")
        fld = P.text(params, "field", default=None, max_len=40)
        if mode == "editing" and s.role < Role.REPORTER:
            raise ProtocolError(ErrorCode.FORBIDDEN, "editing needs the reporter role")
        await get_or_404(iid)
        p = Presence(s.id, s.name, iid, mode, fld, now())
        daemon.presence.set(p)
        daemon.feed.publish("presence", {"action": "set", "presence": p.to_dict()})
        return p.to_dict()

    async def presence_clear(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, set(), "presence.clear")
        daemon.clear_presence(s.id)
        return {"ok": True}

    async def presence_list(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"incident_id"}, "presence.list")
        iid = P.integer(params, "incident_id", lo=1, hi=2**62)
        return [p.to_dict() for p in daemon.presence.for_incident(iid)]

    return [
        Method("incident.create", Role.REPORTER, create, "open an incident", mutates=True),
        Method(
            "incident.update",
            Role.REPORTER,
            update,
            "change fields (with the version you saw)",
            mutates=True,
        ),
        Method(
            "incident.add_update", Role.REPORTER, add_update, "add a timeline update", mutates=True
        ),
        Method("incident.resolve", Role.REPORTER, resolve, "resolve with root cause", mutates=True),
        Method("incident.get", Role.VIEWER, get, "one incident with its timeline and presence"),
        Method("incident.list", Role.VIEWER, list_active, "active incidents (overdue flagged)"),
        Method("incident.past", Role.VIEWER, past, "resolved incidents of the last N days, paged"),
        Method("incident.search", Role.VIEWER, search, "full-text search"),
        Method(
            "presence.set", Role.VIEWER, presence_set, "say which incident/field you view or edit"
        ),
        Method("presence.clear", Role.VIEWER, presence_clear, "clear your presence"),
        Method("presence.list", Role.VIEWER, presence_list, "who is on an incident"),
    ]


async def auto_open(daemon: Daemon, episode: OutageEpisode) -> None:
    """Open an incident for a long confirmed major outage, unless one covers it already."""
    sid = episode.service_id
    try:
        if await daemon.store.incident_for_episode(sid, episode.started_at) is not None:
            return
        if await daemon.store.open_incidents_for_service(sid):
            return
        st = daemon.state.services.get(sid)
        name = st.service.name if st else sid
        t = datetime.now(UTC)
        cause = f" ({episode.cause}: {episode.error})" if episode.cause else ""
        inc = Incident(
            title=f"{name} is down",
            status="investigating",
            severity="high",
            priority=2,
            started_at=episode.started_at,
            created_by="system",
            services=(sid,),
            created_at=t,
            description=(
                f"Opened automatically: {name} has failed every check since"
                f" {episode.started_at:%Y-%m-%d %H:%M:%S} UTC{cause}."
            ),
            episode_service=sid,
            episode_started_at=episode.started_at,
        )
        created = await daemon.store.create_incident(inc)
        logger.warning("auto-incident %s opened for %s", created.id, sid)
        daemon.feed.publish(
            "incident",
            {"action": "created", "incident": incident_dict(created, t, with_updates=False)},
        )
        daemon.incidents_changed()
    except AlreadyExists:
        pass  # another path opened it first: never two incidents for one outage
    except SlamonError as exc:
        logger.error(
            "cannot open auto-incident for %s (will retry on the next check): %s", sid, exc
        )
        daemon.auto_incident_retry(sid, episode)


async def auto_recovered(daemon: Daemon, episode: OutageEpisode) -> None:
    """Post a monitoring update on the auto-incident of an outage that ended."""
    try:
        inc = await daemon.store.incident_for_episode(episode.service_id, episode.started_at)
        if inc is None or not inc.active or inc.id is None:
            return
        t = datetime.now(UTC)
        ended = episode.ended_at or t
        msg = (
            f"{episode.service_id} recovered at {ended:%Y-%m-%d %H:%M:%S} UTC after"
            f" {int((ended - episode.started_at).total_seconds() // 60)} min. Monitoring;"
            " consider resolving this incident."
        )
        changes: dict[str, Any] = {}
        if inc.status != "monitoring":
            changes = {"status": "monitoring", **transition_stamps(inc, "monitoring", t, "system")}
        saved = await daemon.store.add_incident_update(
            inc.id, IncidentUpdate("monitoring", msg, "system", t, True), changes, t
        )
        daemon.feed.publish(
            "incident",
            {"action": "update_added", "incident": incident_dict(saved, t, with_updates=False)},
        )
        daemon.incidents_changed()
    except SlamonError as exc:
        logger.error("cannot post the recovery update for %s: %s", episode.service_id, exc)
