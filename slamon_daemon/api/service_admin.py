"""service.list, service.add, service.edit, service.pause and service.resume.

Admins add services over the feed; the config file stays the source of truth for the
services it names, so those can only be changed there. A service is validated exactly as a
``[[service]]`` of the config file (config.ServiceConfig); each problem names its field.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..config import ServiceConfig
from ..errors import Conflict, InvalidParams, NotFound
from ..models import Role, Service
from . import params as P
from .context import ApiContext, Caller
from .registry import Method


def field_errors(exc: ValidationError) -> InvalidParams:
    """A pydantic error as invalid_params whose message names each field."""
    problems: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        loc = ".".join(str(x) for x in err["loc"]) or "(params)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field; allowed: {', '.join(sorted(ServiceConfig.model_fields))}"
        elif err["type"] == "missing":
            msg = "required"
        problems[loc] = msg
    return InvalidParams("; ".join(f"{k}: {v}" for k, v in problems.items()), problems)


def service_fields(s: Service) -> dict[str, Any]:
    """A models.Service as ServiceConfig fields (to edit it)."""
    return {
        "id": s.id,
        "name": s.name,
        "url": s.url,
        "interval": s.interval_s,
        "timeout": s.timeout_s,
        "method": s.method,
        "expect_status": [f"{lo}-{hi}" for lo, hi in s.expect_status],
        "body_contains": s.body_contains,
        "body_regex": s.body_regex,
        "json_path": s.json_path,
        "headers": dict(s.headers),
        "body": s.body,
        "follow_redirects": s.follow_redirects,
        "degraded_after": s.degraded_after_s,
        "confirm_failures": s.confirm_failures,
        "sla_target": s.sla_target,
        "verify_tls": s.verify_tls,
        "ca_file": s.ca_file,
        "latency_objective_under": (
            s.latency_objective_ms / 1000 if s.latency_objective_ms is not None else None
        ),
        "latency_objective_percent": s.latency_objective_pct,
        "active": s.active,
        "group": s.group,
        "tags": list(s.tags),
    }


async def save_service(
    ctx: ApiContext, params: dict[str, Any], *, existing: dict[str, Any] | None
) -> Any:
    """Validate ``params`` over ``existing`` fields, store the service and reschedule."""
    try:
        cfg = ServiceConfig(**{**(existing or {}), **params})
    except ValidationError as exc:
        raise field_errors(exc) from None
    service = cfg.to_service()
    await ctx.store.save_admin_service(service)  # AlreadyExists (a config service): conflict
    await ctx.hooks.services_changed()
    return {"id": service.id, "active": service.active, "source": "admin"}


async def admin_service(ctx: ApiContext, params: dict[str, Any]) -> Service:
    """The service named by ``params["id"]``, which must have been added over the feed."""
    sid = P.text(params, "id", max_len=64)
    src = await ctx.store.service_source(sid)
    if src is None:
        raise NotFound(f"no service {sid!r}")
    if src == "config":
        raise Conflict(f"service {sid!r} is defined in the config file; change it there")
    services = await ctx.store.list_services(include_inactive=True)
    current = next((x for x in services if x.id == sid), None)
    if current is None:  # removed between the two reads
        raise NotFound(f"no service {sid!r}")
    return current


async def service_list(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, set(), "service.list")
    out = []
    for svc in await ctx.store.list_services(include_inactive=True):
        fields = service_fields(svc)
        fields["source"] = await ctx.store.service_source(svc.id)
        fields["expect_status"] = [
            f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in svc.expect_status
        ]
        if fields["headers"]:
            fields["headers"] = {k: "***" for k in fields["headers"]}  # credentials stay put
        out.append(fields)
    return out


async def service_add(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    if "id" in params and await ctx.store.service_source(str(params["id"])) is not None:
        raise Conflict(f"a service {params['id']!r} already exists; use service.edit")
    return await save_service(ctx, params, existing=None)


async def service_edit(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    current = await admin_service(ctx, params)
    return await save_service(ctx, params, existing=service_fields(current))


async def set_active(ctx: ApiContext, params: dict[str, Any], active: bool, method: str) -> Any:
    P.only(params, {"id"}, method)
    current = await admin_service(ctx, params)
    return await save_service(ctx, {"active": active}, existing=service_fields(current))


async def service_pause(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    return await set_active(ctx, params, False, "service.pause")


async def service_resume(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    return await set_active(ctx, params, True, "service.resume")


def methods() -> list[Method]:
    """The service administration methods."""
    return [
        Method(
            "service.list",
            Role.ADMIN,
            service_list,
            "every service, paused ones too, with its source (config/admin) and settings",
        ),
        Method(
            "service.add",
            Role.ADMIN,
            service_add,
            "add a service (not in the config file)",
            audited=True,
        ),
        Method(
            "service.edit",
            Role.ADMIN,
            service_edit,
            "change a service added over the feed",
            audited=True,
        ),
        Method("service.pause", Role.ADMIN, service_pause, "stop checking a service", audited=True),
        Method(
            "service.resume",
            Role.ADMIN,
            service_resume,
            "check a paused service again",
            audited=True,
        ),
    ]
