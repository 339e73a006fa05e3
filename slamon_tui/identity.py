"""Who the TUI acts as: the ``auth.whoami`` answer, and what each role may do.

``SlamonApp.identity`` holds the whoami dict (``name``, ``role``, ``logged_in``); screens
ask ``role_allows(app.identity, "reporter")`` before offering an action, so a key or a
button the daemon would refuse is never shown. The daemon checks every call anyway.
No Textual here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ROLES = ("anonymous", "viewer", "reporter", "admin")
"""Least to most: each role may do everything the ones before it may (docs/feed.md)."""

ANONYMOUS: dict[str, Any] = {"name": "anonymous", "role": "anonymous", "logged_in": False}
"""The identity before the daemon has said (and after a failed whoami): may do nothing."""


def role_rank(role: object) -> int:
    """The place of ``role`` in ROLES (an unknown role ranks as anonymous)."""
    return ROLES.index(role) if role in ROLES else 0


def role_allows(identity: Mapping[str, Any] | str, needed: str) -> bool:
    """Whether ``identity`` (a whoami dict or a role name) has at least the role ``needed``."""
    role = identity if isinstance(identity, str) else identity.get("role")
    return role_rank(role) >= role_rank(needed)


def identity_label(identity: Mapping[str, Any]) -> str:
    """ "alice · admin", "anonymous · viewer"; "not logged in" when the role may do nothing."""
    role = identity.get("role") or "anonymous"
    if role == "anonymous" and not identity.get("logged_in"):
        return "not logged in"
    return f"{identity.get('name') or 'anonymous'} · {role}"
