"""Feed methods for logins, users, services managed over the feed, and the audit log.

Roles: ``auth.*`` is open to anyone (that is how one logs in); ``user.*``, ``service.add``
/ ``edit`` / ``pause`` / ``resume`` and ``audit.list`` need an admin. Every mutation is
audited by the feed server (see Method.mutates), without passwords or tokens.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from . import params as P
from .auth import check_password_strength, hash_password, verify_password
from .config import ServiceConfig
from .errors import AlreadyExists
from .feed import Method, Session
from .models import AuditEntry, Role, role_from_name
from .protocol import ErrorCode, ProtocolError

if TYPE_CHECKING:
    from .daemon import Daemon

SECRET_PARAMS = frozenset({"password", "new_password", "old_password", "token", "refresh_token"})
"""Params never written to the audit log."""


def audit_changes(params: dict[str, Any]) -> dict[str, Any]:
    """The params of a mutation as the audit log keeps them: secrets masked.

    Request headers and bodies of services often carry credentials (Authorization, API keys),
    so only their names are kept.
    """
    out: dict[str, Any] = {}
    for k, v in params.items():
        if k in SECRET_PARAMS:
            out[k] = "***"
        elif k == "headers" and isinstance(v, dict):
            out[k] = {name: "***" for name in v}
        elif k == "body" and v is not None:
            out[k] = "***"
        else:
            out[k] = v
    return out


def field_errors(exc: ValidationError) -> ProtocolError:
    """A pydantic error as invalid_params whose message names each field."""
    fields: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        loc = ".".join(str(x) for x in err["loc"]) or "(params)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field; allowed: {', '.join(sorted(ServiceConfig.model_fields))}"
        elif err["type"] == "missing":
            msg = "required"
        fields[loc] = msg
    message = "; ".join(f"{k}: {v}" for k, v in fields.items())
    return ProtocolError(ErrorCode.INVALID_PARAMS, message, fields=fields)


def _role(params: dict[str, Any]) -> Role:
    name = P.text(params, "role", max_len=20)
    try:
        return role_from_name(name)
    except ValueError as exc:
        raise P.bad(f'"role": {exc}') from None


def _password(params: dict[str, Any], name: str = "password") -> str:
    pw: str = P.text(params, name, max_len=1024)
    try:
        check_password_strength(pw)
    except ValueError as exc:
        raise P.bad(f'"{name}": {exc}') from None
    return pw


def build_admin_methods(daemon: Daemon) -> list[Method]:
    """The auth, user, service-admin and audit methods of ``daemon``."""

    async def login(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"username", "password"}, "auth.login")
        username = P.text(params, "username", max_len=64)
        password = P.text(params, "password", max_len=1024)
        return await daemon.auth.login(username, password, s.client_key)

    async def refresh(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"refresh_token"}, "auth.refresh")
        return await daemon.auth.refresh(P.text(params, "refresh_token", max_len=200))

    async def logout(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"refresh_token"}, "auth.logout")
        await daemon.auth.logout(P.text(params, "refresh_token", default=None, max_len=200))
        return {"ok": True}

    async def whoami(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, set(), "auth.whoami")
        ident = s.identity
        return {
            "name": ident.name if ident else "anonymous",
            "role": (ident.role if ident else Role.ANONYMOUS).name.lower(),
            "logged_in": bool(ident and ident.user_id is not None),
            "uid": s.peer_uid,
            "anonymous_read": daemon.settings.daemon.anonymous_read,
        }

    async def passwd_self(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"old_password", "new_password"}, "auth.passwd")
        ident = s.identity
        if ident is None or ident.user_id is None:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "log in to change your password")
        old = P.text(params, "old_password", max_len=1024)
        new = _password(params, "new_password")
        user = await daemon.store.get_user(ident.name)
        if user is None or not await asyncio.to_thread(verify_password, user.password_hash, old):
            raise ProtocolError(ErrorCode.FORBIDDEN, "the old password is wrong")
        await daemon.store.update_user(
            ident.name,
            password_hash=await asyncio.to_thread(hash_password, new),
            revoke_tokens=True,
        )
        return {"ok": True, "note": "every login of yours was ended; log in again"}

    async def user_list(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, set(), "user.list")
        return [u.to_dict() for u in await daemon.store.list_users()]

    async def user_add(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"username", "email", "role", "password"}, "user.add")
        username = P.text(params, "username", max_len=64)
        if not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise P.bad('"username": use letters, digits, ".", "-" and "_" only')
        email = P.text(params, "email", default="", max_len=200)
        role = _role(params)
        pw = _password(params)
        try:
            user = await daemon.store.create_user(
                username, email, await asyncio.to_thread(hash_password, pw), role
            )
        except AlreadyExists as exc:
            raise ProtocolError(ErrorCode.CONFLICT, str(exc)) from None
        return user.to_dict()

    async def _change(username: str, **kw: Any) -> Any:
        user = await daemon.store.update_user(username, **kw)
        if user is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no user {username!r}")
        return user.to_dict()

    async def user_set_role(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"username", "role"}, "user.set_role")
        return await _change(
            P.text(params, "username", max_len=64), role=_role(params), revoke_tokens=True
        )

    async def user_disable(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"username"}, "user.disable")
        return await _change(
            P.text(params, "username", max_len=64), active=False, revoke_tokens=True
        )

    async def user_enable(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"username"}, "user.enable")
        return await _change(P.text(params, "username", max_len=64), active=True)

    async def user_passwd(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"username", "password"}, "user.passwd")
        pw_hash = await asyncio.to_thread(hash_password, _password(params))
        return await _change(
            P.text(params, "username", max_len=64), password_hash=pw_hash, revoke_tokens=True
        )

    async def audit_list(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, {"limit"}, "audit.list")
        limit = P.integer(params, "limit", default=200, lo=1, hi=5000)
        return [e.to_dict() for e in await daemon.store.list_audit(limit=limit)]

    async def _save_service(params: dict[str, Any], *, existing: dict[str, Any] | None) -> Any:
        fields = {**(existing or {}), **params}
        try:
            cfg = ServiceConfig(**fields)
        except ValidationError as exc:
            raise field_errors(exc) from None
        service = cfg.to_service()
        try:
            await daemon.store.save_admin_service(service)
        except AlreadyExists as exc:
            raise ProtocolError(ErrorCode.CONFLICT, str(exc)) from None
        await daemon.reload_services()
        return {"id": service.id, "active": service.active, "source": "admin"}

    async def _admin_service(params: dict[str, Any]) -> str:
        sid = P.text(params, "id", max_len=64)
        src = await daemon.store.service_source(sid)
        if src is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no service {sid!r}")
        if src == "config":
            raise ProtocolError(
                ErrorCode.CONFLICT,
                f"service {sid!r} is defined in the config file; change it there",
            )
        return str(sid)

    async def service_add(s: Session, params: dict[str, Any]) -> Any:
        if "id" in params and await daemon.store.service_source(str(params["id"])) is not None:
            raise ProtocolError(
                ErrorCode.CONFLICT, f"a service {params['id']!r} already exists; use service.edit"
            )
        return await _save_service(params, existing=None)

    async def service_edit(s: Session, params: dict[str, Any]) -> Any:
        sid = await _admin_service(params)
        current = next(
            x for x in await daemon.store.list_services(include_inactive=True) if x.id == sid
        )
        return await _save_service(params, existing=service_fields(current))

    async def _set_active(params: dict[str, Any], active: bool, method: str) -> Any:
        P.only(params, {"id"}, method)
        sid = await _admin_service(params)
        current = next(
            x for x in await daemon.store.list_services(include_inactive=True) if x.id == sid
        )
        return await _save_service({"active": active}, existing=service_fields(current))

    async def service_list(s: Session, params: dict[str, Any]) -> Any:
        P.only(params, set(), "service.list")
        out = []
        for svc in await daemon.store.list_services(include_inactive=True):
            fields = service_fields(svc)
            fields["source"] = await daemon.store.service_source(svc.id)
            fields["expect_status"] = [
                f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in svc.expect_status
            ]
            if fields["headers"]:
                fields["headers"] = {k: "***" for k in fields["headers"]}  # credentials stay put
            out.append(fields)
        return out

    async def service_pause(s: Session, params: dict[str, Any]) -> Any:
        return await _set_active(params, False, "service.pause")

    async def service_resume(s: Session, params: dict[str, Any]) -> Any:
        return await _set_active(params, True, "service.resume")

    return [
        Method(
            "auth.login",
            Role.ANONYMOUS,
            login,
            "log in: tokens for username/password",
            login_flow=True,
        ),
        Method(
            "auth.refresh",
            Role.ANONYMOUS,
            refresh,
            "new tokens for a refresh token",
            login_flow=True,
        ),
        Method(
            "auth.logout",
            Role.ANONYMOUS,
            logout,
            "end a login (revokes the refresh token)",
            login_flow=True,
        ),
        Method("auth.whoami", Role.ANONYMOUS, whoami, "the caller's name and role"),
        Method("auth.passwd", Role.VIEWER, passwd_self, "change one's own password", mutates=True),
        Method("user.list", Role.ADMIN, user_list, "every user"),
        Method("user.add", Role.ADMIN, user_add, "add a user", mutates=True),
        Method("user.set_role", Role.ADMIN, user_set_role, "change a user's role", mutates=True),
        Method(
            "user.disable",
            Role.ADMIN,
            user_disable,
            "disable a user (ends their logins)",
            mutates=True,
        ),
        Method("user.enable", Role.ADMIN, user_enable, "enable a user again", mutates=True),
        Method("user.passwd", Role.ADMIN, user_passwd, "set a user's password", mutates=True),
        Method("audit.list", Role.ADMIN, audit_list, "the audit log, newest first"),
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
            mutates=True,
        ),
        Method(
            "service.edit",
            Role.ADMIN,
            service_edit,
            "change a service added over the feed",
            mutates=True,
        ),
        Method("service.pause", Role.ADMIN, service_pause, "stop checking a service", mutates=True),
        Method(
            "service.resume",
            Role.ADMIN,
            service_resume,
            "check a paused service again",
            mutates=True,
        ),
    ]


def service_fields(s: Any) -> dict[str, Any]:
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
    }


async def write_audit(
    daemon: Daemon, s: Session, method: Method, params: dict[str, Any], result: Any
) -> None:
    target = params.get("id") or params.get("username")
    if target is None and isinstance(result, dict):
        target = result.get("id") or result.get("username")
    await daemon.store.add_audit(
        AuditEntry(
            actor=s.name,
            method=method.name,
            target=str(target) if target is not None else None,
            changes=audit_changes(params),
            at=datetime.now(UTC),
        )
    )
