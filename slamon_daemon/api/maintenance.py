"""maintenance.list, maintenance.create and maintenance.cancel (SPEC §3.7)."""

from __future__ import annotations

from typing import Any

from ..errors import NotFound
from ..models import MaintenanceWindow, Role
from . import params as P
from .context import ApiContext, Caller
from .registry import Method


async def maintenance_list(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"include_past"}, "maintenance.list")
    past = P.flag(params, "include_past", default=False)
    windows = await ctx.store.list_maintenance(since=None if past else ctx.clock.now())
    return [w.to_dict() for w in windows]


async def maintenance_create(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"title", "start", "end", "services"}, "maintenance.create")
    title = P.text(params, "title", max_len=200)
    start = P.timestamp(params, "start")
    end = P.timestamp(params, "end")
    services = P.string_list(params, "services", default=[])
    if end <= start:
        raise P.bad('"end" must be after "start"')
    unknown = [x for x in services if x not in ctx.live.services]
    if unknown:
        raise P.bad(f'"services" names unknown services {unknown}')
    window = await ctx.store.create_maintenance(
        MaintenanceWindow(
            title=title,
            starts_at=start,
            ends_at=end,
            services=tuple(services),
            created_by=caller.name,
        )
    )
    await ctx.hooks.maintenance_changed()
    ctx.events.publish("maintenance", {"action": "created", "window": window.to_dict()})
    return window.to_dict()


async def maintenance_cancel(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id"}, "maintenance.cancel")
    wid = P.integer(params, "id", lo=1, hi=2**62)
    window = await ctx.store.cancel_maintenance(wid, ctx.clock.now())
    if window is None:
        raise NotFound(f"no maintenance window {wid}")
    await ctx.hooks.maintenance_changed()
    ctx.events.publish("maintenance", {"action": "cancelled", "window": window.to_dict()})
    return window.to_dict()


def methods() -> list[Method]:
    """The maintenance methods."""
    return [
        Method("maintenance.list", Role.VIEWER, maintenance_list, "maintenance windows"),
        Method(
            "maintenance.create",
            Role.ADMIN,
            maintenance_create,
            "schedule a window",
            audited=True,
        ),
        Method(
            "maintenance.cancel",
            Role.ADMIN,
            maintenance_cancel,
            "cancel a window",
            audited=True,
        ),
    ]
