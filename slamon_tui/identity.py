"""Who the TUI acts as (the ``auth.whoami`` answer), and what each role may do.

The feed session (feed_session.py) learns the ``Identity`` at every connection, login and
logout; the app keeps the current one and tells every open screen when it changes
(``IdentityChanged``). Screens ask ``identity.allows("reporter")`` before offering an action,
so a key or a button the daemon would refuse is never shown; the daemon checks every call
anyway. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROLES = ("anonymous", "viewer", "reporter", "admin")
"""Least to most: each role may do everything the ones before it may (docs/feed.md)."""


def role_rank(role: object) -> int:
    """The place of ``role`` in ROLES (an unknown role ranks as anonymous)."""
    return ROLES.index(role) if role in ROLES else 0


@dataclass(frozen=True, slots=True)
class Identity:
    """One ``auth.whoami`` answer: the user's name, role and whether it is a login."""

    name: str = "anonymous"
    role: str = "anonymous"
    logged_in: bool = False

    @classmethod
    def from_whoami(cls, result: Any) -> Identity:
        """From an ``auth.whoami`` result (anything missing reads as anonymous)."""
        fields = result if isinstance(result, dict) else {}
        return cls(
            name=str(fields.get("name") or "anonymous"),
            role=str(fields.get("role") or "anonymous"),
            logged_in=bool(fields.get("logged_in")),
        )

    def allows(self, needed: str) -> bool:
        """Whether this identity has at least the role ``needed``."""
        return role_rank(self.role) >= role_rank(needed)

    @property
    def label(self) -> str:
        """ "alice · admin", "anonymous · viewer"; "not logged in" when it may do nothing."""
        if self.role == "anonymous" and not self.logged_in:
            return "not logged in"
        return f"{self.name} · {self.role}"


ANONYMOUS = Identity()
"""Before the daemon has said (and after a failed whoami): may do nothing."""
READ_ONLY = Identity("anonymous", "viewer")
"""What a daemon from before logins (no ``auth.whoami``) lets anyone be."""
