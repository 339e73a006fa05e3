"""presence.set, presence.clear and presence.list: who views or edits which incident.

Presence belongs to a lasting connection (the caller's session) and ends with it; every
change is pushed as a ``presence`` event.
"""

from __future__ import annotations

from typing import Any

from ..errors import Forbidden, Unavailable
from ..incidents import Presence
from ..models import Role
from . import params as P
from .context import ApiContext, Caller
from .incidents import get_or_404
from .registry import Method


def end_presence(ctx: ApiContext, session: int) -> None:
    """The session ended or cleared its presence: forget it and tell subscribers."""
    p = ctx.presence.clear(session)
    if p is not None:
        ctx.events.publish("presence", {"action": "cleared", "presence": p.to_dict()})


async def presence_set(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"incident_id", "mode", "field"}, "presence.set")
    iid = P.integer(params, "incident_id", lo=1, hi=2**62)
    mode = P.choice(params, "mode", ["viewing", "editing"], default="viewing")
    fld = P.text(params, "field", default=None, max_len=40)
    if mode == "editing" and caller.role < Role.REPORTER:
        raise Forbidden("editing needs the reporter role")
    if caller.session is None:
        raise Unavailable("presence needs a lasting connection (the feed socket)")
    await get_or_404(ctx, iid)
    p = Presence(caller.session, caller.name, iid, mode, fld, ctx.clock.now())
    ctx.presence.set(p)
    ctx.events.publish("presence", {"action": "set", "presence": p.to_dict()})
    return p.to_dict()


async def presence_clear(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, set(), "presence.clear")
    if caller.session is not None:
        end_presence(ctx, caller.session)
    return {"ok": True}


async def presence_list(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"incident_id"}, "presence.list")
    iid = P.integer(params, "incident_id", lo=1, hi=2**62)
    return [p.to_dict() for p in ctx.presence.for_incident(iid)]


def methods() -> list[Method]:
    """The presence methods."""
    return [
        Method(
            "presence.set", Role.VIEWER, presence_set, "say which incident/field you view or edit"
        ),
        Method("presence.clear", Role.VIEWER, presence_clear, "clear your presence"),
        Method("presence.list", Role.VIEWER, presence_list, "who is on an incident"),
    ]
