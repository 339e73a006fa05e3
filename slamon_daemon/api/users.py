"""user.* and audit.list: an admin manages the people who may log in (SPEC §3.10).

A role change, a new password or disabling a user ends their logins at once (their tokens'
version is bumped). The audit log is read here; it is written by the registry (audit.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..auth import hash_password
from ..errors import NotFound
from ..models import Role, role_from_name
from . import params as P
from .context import ApiContext, Caller
from .logins import new_password
from .registry import Method


def role_param(params: dict[str, Any]) -> Role:
    name = P.text(params, "role", max_len=20)
    try:
        return role_from_name(name)
    except ValueError as exc:  # the sentence names the roles allowed
        raise P.bad(f'"role": {exc}') from None


async def change_user(ctx: ApiContext, username: str, **changes: Any) -> Any:
    user = await ctx.store.update_user(username, **changes)
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user.to_dict()


async def user_list(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, set(), "user.list")
    return [u.to_dict() for u in await ctx.store.list_users()]


async def user_add(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"username", "email", "role", "password"}, "user.add")
    username = P.text(params, "username", max_len=64)
    if not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise P.bad('"username": use letters, digits, ".", "-" and "_" only')
    email = P.text(params, "email", default="", max_len=200)
    role = role_param(params)
    pw = new_password(params)
    pw_hash = await asyncio.to_thread(hash_password, pw)
    user = await ctx.store.create_user(username, email, pw_hash, role)  # AlreadyExists: conflict
    return user.to_dict()


async def user_set_role(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"username", "role"}, "user.set_role")
    username = P.text(params, "username", max_len=64)
    return await change_user(ctx, username, role=role_param(params), revoke_tokens=True)


async def user_disable(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"username"}, "user.disable")
    username = P.text(params, "username", max_len=64)
    return await change_user(ctx, username, active=False, revoke_tokens=True)


async def user_enable(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"username"}, "user.enable")
    return await change_user(ctx, P.text(params, "username", max_len=64), active=True)


async def user_passwd(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"username", "password"}, "user.passwd")
    pw_hash = await asyncio.to_thread(hash_password, new_password(params))
    username = P.text(params, "username", max_len=64)
    return await change_user(ctx, username, password_hash=pw_hash, revoke_tokens=True)


async def audit_list(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"limit"}, "audit.list")
    limit = P.integer(params, "limit", default=200, lo=1, hi=5000)
    return [e.to_dict() for e in await ctx.store.list_audit(limit=limit)]


def methods() -> list[Method]:
    """The user and audit-log methods."""
    return [
        Method("user.list", Role.ADMIN, user_list, "every user"),
        Method("user.add", Role.ADMIN, user_add, "add a user", audited=True),
        Method("user.set_role", Role.ADMIN, user_set_role, "change a user's role", audited=True),
        Method(
            "user.disable",
            Role.ADMIN,
            user_disable,
            "disable a user (ends their logins)",
            audited=True,
        ),
        Method("user.enable", Role.ADMIN, user_enable, "enable a user again", audited=True),
        Method("user.passwd", Role.ADMIN, user_passwd, "set a user's password", audited=True),
        Method("audit.list", Role.ADMIN, audit_list, "the audit log, newest first"),
    ]
