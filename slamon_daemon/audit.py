"""The audit log: every successful call of an audited method, without secrets (SPEC §3.10).

An entry says who, when, which method, on what (the ``id`` or ``username`` named), and the
params with passwords, tokens, request header values and request bodies masked. A failed
write is logged and never fails the call it records.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from .errors import SlamonError
from .models import AuditEntry
from .store.base import Store

logger = logging.getLogger("slamon.audit")

SECRET_PARAMS = frozenset({"password", "new_password", "old_password", "token", "refresh_token"})
"""Params never written to the audit log."""
CHANNEL_SECRETS = frozenset(
    {"url", "headers", "topic", "token", "bot_token", "routing_key", "api_key", "password"}
)
"""The secret fields of an alert channel (alerts/config.py SECRET_FIELDS), masked whole."""


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
        elif k == "channel" and isinstance(v, dict):  # an alert channel's secrets
            out[k] = {
                name: "***" if name in CHANNEL_SECRETS and val is not None else val
                for name, val in v.items()
            }
        else:
            out[k] = v
    return out


async def write_audit(
    store: Store, actor: str, method: str, params: dict[str, Any], result: Any, at: datetime
) -> None:
    """Record one successful call of ``method`` by ``actor``; a store failure is only logged."""
    target = params.get("id") or params.get("username")
    if target is None and isinstance(result, dict):
        target = result.get("id") or result.get("username")
    entry = AuditEntry(
        actor=actor,
        method=method,
        target=str(target) if target is not None else None,
        changes=audit_changes(params),
        at=at,
    )
    try:
        await store.add_audit(entry)
    except SlamonError as exc:
        logger.error("audit entry for %s by %s not written: %s", method, actor, exc)
