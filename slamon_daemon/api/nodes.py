"""nodes.list: the daemons of a cluster on one PostgreSQL (issue 15, docs/cluster.md).

In a cluster, every node that ran on the database, from the ``nodes`` table: region,
version, start, heartbeat, state (running, stopped, dead), leases held, health and why
a node is flagged sick, and which node runs each singleton. A single-node daemon (SQLite,
or PostgreSQL without ``[daemon] region``) answers from memory with itself alone.
"""

from __future__ import annotations

from typing import Any

from ..models import Role
from . import params as P
from .context import ApiContext, Caller
from .registry import Method


async def nodes_list(ctx: ApiContext, caller: Caller, params: dict[str, Any]) -> Any:
    P.none(params, "nodes.list")
    return await ctx.hooks.nodes()


def methods() -> list[Method]:
    return [
        Method(
            "nodes.list",
            Role.VIEWER,
            nodes_list,
            "the nodes of a cluster: region, heartbeat, leases, health, singletons",
        ),
    ]
