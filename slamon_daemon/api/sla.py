"""sla.report: the SLA report of a month, the last N days or a range, as data or as text."""

from __future__ import annotations

from typing import Any

from ..errors import NotFound
from ..models import Role, Service
from ..report import FORMATS, render
from ..reports import sla_report
from ..sla import period_from_params
from . import params as P
from .context import ApiContext, Caller
from .registry import Method


async def sla_report_method(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"month", "days", "from", "to", "service", "format"}, "sla.report")
    fmt = P.choice(params, "format", ["data", *FORMATS], default="data")
    month = P.text(params, "month", default=None, max_len=7)
    days = P.integer(params, "days", default=None, lo=1, hi=3650)
    first = P.text(params, "from", default=None, max_len=10)
    last = P.text(params, "to", default=None, max_len=10)
    only = P.text(params, "service", default=None, max_len=64)
    now = ctx.clock.now()
    cfg = ctx.settings
    try:
        period = period_from_params(
            month=month, days=days, first=first, last=last, now=now, tz=cfg.timezone
        )
    except ValueError as exc:  # the sentence says what is allowed
        raise P.bad(str(exc)) from None
    if only is None:
        # The active services as the live state has them (it tracks exactly those), in the
        # store's order: reading and decoding every service's settings from the store cost
        # ~16-24 ms of the report's 100 ms with 1,000 services.
        services = sorted((st.service for st in ctx.live.services.values()), key=_by_id)
    else:  # one service, paused ones too
        services = await ctx.store.list_services(include_inactive=True)
        if only not in {x.id for x in services}:
            raise NotFound(f"no service {only!r}")
    report = await sla_report(ctx.store, services, cfg.sla_target, period, now, only)
    if fmt == "data":
        return report
    name = f"slamon-sla-{period.label.replace(' ', '-')}.{fmt}"
    return {"format": fmt, "filename": name, "text": render(report, fmt)}


def _by_id(s: Service) -> str:
    return s.id


def methods() -> list[Method]:
    """The SLA report method."""
    return [
        Method(
            "sla.report",
            Role.VIEWER,
            sla_report_method,
            "SLA figures for a month, the last N days or from/to",
        ),
    ]
