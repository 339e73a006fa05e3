"""The one registry of methods, callable by any transport.

A transport (the feed today, an HTTP API later) finds a ``Method`` by name, works out who
calls (``identify``, then its own ``Caller``) and hands both to ``Registry.call``, which
checks the role, runs the handler with the shared ``ApiContext`` and writes the audit entry.
Errors are errors.* with their codes; mapping them to the wire is the transport's business.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..audit import write_audit
from ..errors import Forbidden, Unauthorized
from ..models import Identity, Role
from .context import ApiContext, Caller

Handler = Callable[[ApiContext, Caller, dict[str, Any]], Awaitable[Any]]
"""``handler(ctx, caller, params)``: the result is plain JSON data (or encoding.RawJSON)."""


@dataclass(frozen=True, slots=True)
class Method:
    """A method: its name, the least role that may call it, and its handler.

    ``audited`` marks methods that change state: each successful call is written to the
    audit log (without secrets). ``login_flow`` marks the methods of logging in (login,
    refresh, logout): a stale token attached to such a request is ignored rather than
    refused, so an expired login never locks a client out.
    """

    name: str
    role: Role
    handler: Handler
    doc: str = ""
    audited: bool = False
    login_flow: bool = False


class Registry:
    """Methods by name, bound to the context their handlers run with."""

    def __init__(self, context: ApiContext, methods: Iterable[Method]) -> None:
        self.context = context
        self.methods: dict[str, Method] = {}
        for m in methods:
            if m.name in self.methods:
                raise ValueError(f"method {m.name!r} registered twice")
            self.methods[m.name] = m

    def with_methods(self, extra: Iterable[Method]) -> Registry:
        """This registry plus a transport's own methods (e.g. the feed's subscribe)."""
        return Registry(self.context, [*self.methods.values(), *extra])

    def get(self, name: str) -> Method | None:
        return self.methods.get(name)

    def __iter__(self) -> Iterator[Method]:
        return iter(self.methods.values())

    async def identify(self, token: str | None, uid: int | None) -> Identity:
        """Who makes a request (docs/feed.md "Roles and logins"): the token's user; else the
        daemon's own Unix user (or root) as admin when owner_is_admin; else a viewer when
        anonymous_read, else anonymous.

        Raises:
            Unauthorized: the token is invalid, expired or revoked.
        """
        cfg = self.context.settings
        if token:
            return await self.context.auth.identify(token)
        if cfg.owner_is_admin and uid is not None and uid in (0, os.getuid()):
            return Identity(f"uid:{uid}", Role.ADMIN)
        return Identity("anonymous", Role.VIEWER if cfg.anonymous_read else Role.ANONYMOUS)

    async def call(self, method: Method, caller: Caller, params: dict[str, Any]) -> Any:
        """Run ``method`` for ``caller``: role check, handler, audit entry.

        Raises:
            Unauthorized: anonymous, and the method needs a role.
            Forbidden: the caller's role is below the method's.
            SlamonError: whatever the handler raises (each with its code).
        """
        check_role(method, caller.role)
        result = await method.handler(self.context, caller, params)
        if method.audited:
            ctx = self.context
            await write_audit(ctx.store, caller.name, method.name, params, result, ctx.clock.now())
        return result


def check_role(method: Method, role: Role) -> None:
    """Refuse a caller whose role is below the method's, naming the role needed."""
    if role >= method.role:
        return
    needs = f"{method.name} needs the {method.role.name.lower()} role; you are {role.name.lower()}"
    if role is Role.ANONYMOUS:
        raise Unauthorized(needs + " (log in)")
    raise Forbidden(needs)
