"""daemon.reload: re-read the config file without a restart (reload.py; SIGHUP does the same).

The reply says what changed, what needs a restart, and, when the file is refused, every
problem in it, one line each as slamond prints them at start (nothing changed then).
"""

from __future__ import annotations

from typing import Any

from ..models import Role
from . import params as P
from .context import ApiContext, Caller
from .registry import Method


async def reload(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.none(params, "daemon.reload")
    return await ctx.hooks.reload_config()


def methods() -> list[Method]:
    """The daemon's own controls."""
    return [
        Method(
            "daemon.reload",
            Role.ADMIN,
            reload,
            "re-read the config file: services, maintenance windows, log level, alerts",
            audited=True,
        ),
    ]
