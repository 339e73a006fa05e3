"""auth.login, auth.refresh, auth.logout, auth.whoami and auth.passwd (SPEC §3.10).

``auth.*`` is open to anyone: that is how one logs in. Login throttling, token issue and
checks are auth.py's; these handlers only read the params and name the caller.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..auth import hash_password, password_problem, verify_password
from ..errors import Forbidden, Unauthorized
from ..models import Role
from . import params as P
from .context import ApiContext, Caller
from .registry import Method


def new_password(params: dict[str, Any], name: str = "password") -> str:
    """A new password param, strong enough (else invalid_params naming it)."""
    pw: str = P.text(params, name, max_len=1024)
    problem = password_problem(pw)
    if problem is not None:
        raise P.bad(f'"{name}": {problem}')
    return pw


async def login(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"username", "password"}, "auth.login")
    username = P.text(params, "username", max_len=64)
    password = P.text(params, "password", max_len=1024)
    return await ctx.auth.login(username, password, caller.client_key)


async def refresh(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"refresh_token"}, "auth.refresh")
    return await ctx.auth.refresh(P.text(params, "refresh_token", max_len=200))


async def logout(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"refresh_token"}, "auth.logout")
    await ctx.auth.logout(
        P.text(params, "refresh_token", default=None, max_len=200), caller.identity
    )
    return {"ok": True}


async def whoami(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, set(), "auth.whoami")
    return {
        "name": caller.identity.name,
        "role": caller.role.name.lower(),
        "logged_in": caller.logged_in,
        "uid": caller.uid,
        "anonymous_read": ctx.settings.anonymous_read,
    }


async def passwd_self(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.only(params, {"old_password", "new_password"}, "auth.passwd")
    if not caller.logged_in:
        raise Unauthorized("log in to change your password")
    name = caller.identity.name
    old = P.text(params, "old_password", max_len=1024)
    new = new_password(params, "new_password")
    user = await ctx.store.get_user(name)
    if user is None or not await asyncio.to_thread(verify_password, user.password_hash, old):
        raise Forbidden("the old password is wrong")
    await ctx.store.update_user(
        name, password_hash=await asyncio.to_thread(hash_password, new), revoke_tokens=True
    )
    return {"ok": True, "note": "every login of yours was ended; log in again"}


def methods() -> list[Method]:
    """The login methods."""
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
            "end a login (revokes the refresh token and the access token used)",
            login_flow=True,
        ),
        Method("auth.whoami", Role.ANONYMOUS, whoami, "the caller's name and role"),
        Method("auth.passwd", Role.VIEWER, passwd_self, "change one's own password", audited=True),
    ]
