"""alert.*: firing alerts, acknowledgement, silences, channels and the delivery log
(docs/alerts.md, docs/feed.md). Secrets of channels are masked in every reply and in the
audit log (audit.py masks a ``channel``'s secret fields).
"""

from __future__ import annotations

from typing import Any

from ..alerts.model import Rule
from ..alerts.service import AlertingService, alert_dict
from ..config import parse_duration
from ..errors import Unavailable
from ..models import Role
from . import params as P
from .context import ApiContext, Caller
from .registry import Method

MAX_SILENCE_S = 90 * 86400.0


def _alerting(ctx: ApiContext) -> AlertingService:
    if ctx.alerts is None:
        raise Unavailable("alerting is not running on this daemon (its store has no alert tables)")
    return ctx.alerts


async def alert_list(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"hours"}, "alert.list")
    hours = P.integer(params, "hours", default=24, lo=0, hi=24 * 90)
    svc = _alerting(ctx)
    now = ctx.clock.now()
    alerts = await svc.alerts(recent_hours=hours)
    return {
        "alerts": [alert_dict(a, now) for a in alerts],
        "silences": await svc.silences(),
        "summary": svc.summary(),
    }


async def alert_ack(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id"}, "alert.ack")
    aid = P.text(params, "id", max_len=500)
    a = await _alerting(ctx).acknowledge(aid, caller.name)
    return alert_dict(a, ctx.clock.now())


async def alert_silence(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"services", "rules", "reason", "duration"}, "alert.silence")
    services = P.string_list(params, "services", default=[])
    rules = P.string_list(params, "rules", default=[])
    reason = P.text(params, "reason", max_len=500)
    bad_rules = [r for r in rules if r not in {x.value for x in Rule}]
    if bad_rules:
        raise P.bad(f'"rules": unknown {bad_rules}; allowed: {", ".join(r.value for r in Rule)}')
    for g in services:
        if not g or len(g) > 64:
            raise P.bad('"services" must hold service ids or globs ("api-*"), 1-64 characters')
    raw = params.get("duration", "1h")
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise P.bad(f'"duration": {exc}') from None
    if not 0 < seconds <= MAX_SILENCE_S:
        raise P.bad('"duration" must be more than 0 and at most 90 days (e.g. "2h")')
    return await _alerting(ctx).silence(services, rules, reason, caller.name, seconds)


async def alert_unsilence(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id"}, "alert.unsilence")
    sid = P.integer(params, "id", lo=1, hi=2**62)
    return await _alerting(ctx).unsilence(sid, caller.name)


async def alert_channels(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.none(params, "alert.channels")
    return await _alerting(ctx).channel_list()


async def alert_channel_test(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id"}, "alert.channel_test")
    cid = P.text(params, "id", max_len=64)
    result = await _alerting(ctx).test_channel(cid, caller.name)
    return {"id": cid, **result.to_dict()}


async def alert_channel_save(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"channel"}, "alert.channel_save")
    channel = params.get("channel")
    if not isinstance(channel, dict):
        raise P.bad('"channel" is required: a table like [[alert_channel]] (id, type, url ...)')
    return await _alerting(ctx).save_channel(channel, caller.name)


async def alert_channel_delete(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"id"}, "alert.channel_delete")
    cid = P.text(params, "id", max_len=64)
    await _alerting(ctx).delete_channel(cid)
    return {"id": cid, "deleted": True}


async def alert_deliveries(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"channel", "limit"}, "alert.deliveries")
    channel = P.text(params, "channel", default=None, max_len=64)
    limit = P.integer(params, "limit", default=100, lo=1, hi=1000)
    return {"deliveries": await _alerting(ctx).deliveries(channel, limit)}


def methods() -> list[Method]:
    """The alert methods."""
    return [
        Method("alert.list", Role.VIEWER, alert_list, "firing and recent alerts, silences"),
        Method("alert.ack", Role.REPORTER, alert_ack, "acknowledge an alert", audited=True),
        Method("alert.silence", Role.REPORTER, alert_silence, "mute alerts", audited=True),
        Method("alert.unsilence", Role.REPORTER, alert_unsilence, "end a silence", audited=True),
        Method("alert.channels", Role.VIEWER, alert_channels, "alert channels, secrets masked"),
        Method(
            "alert.channel_test",
            Role.ADMIN,
            alert_channel_test,
            "send a test message",
            audited=True,
        ),
        Method(
            "alert.channel_save",
            Role.ADMIN,
            alert_channel_save,
            "add or replace a channel",
            audited=True,
        ),
        Method(
            "alert.channel_delete",
            Role.ADMIN,
            alert_channel_delete,
            "remove a channel",
            audited=True,
        ),
        Method("alert.deliveries", Role.VIEWER, alert_deliveries, "the delivery log"),
    ]
