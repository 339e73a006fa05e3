"""Config reload without a restart: SIGHUP and the ``daemon.reload`` method (issue 10).

The file is read and validated as at start (config.load_settings). When it is invalid,
nothing changes: every problem is logged and returned, one line each, exactly as slamond
prints them at start. When it is valid:

* services are synced to the store (added, changed, deactivated) and rescheduled;
* maintenance windows of the file are synced and re-read;
* the log level changes at once (LOG_LEVEL in the environment still wins);
* each *reload hook* gets the new settings: the parts that own their own settings (the
  alerts) register one on ``Daemon.reload_hooks`` rather than being imported here;
* any other [daemon] key that changed takes effect at the next restart, and the reply
  says which.

A reload hook is ``async def hook(settings: Settings) -> list[str]``: it applies what it owns
and returns one line per change (empty when nothing changed). Raising ``ConfigError``
refuses its part (its lines are reported as problems; the rest of the reload stands).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Settings
from .store.base import SyncResult

ReloadHook = Callable[[Settings], Awaitable[list[str]]]
"""``hook(new_settings) -> lines`` saying what it changed (see the module docstring)."""

LIVE_DAEMON_KEYS = frozenset({"log_level"})
"""[daemon] keys a reload applies; every other one needs a restart."""


@dataclass(slots=True)
class ReloadResult:
    """What a reload did: ``ok`` False when the file was refused (nothing changed)."""

    ok: bool
    config: str
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    restart_needed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "config": self.config,
            "changes": self.changes,
            "problems": self.problems,
            "restart_needed": self.restart_needed,
        }


def config_label(path: Path | None) -> str:
    return str(path) if path else "defaults and environment"


def restart_needed(old: Settings, new: Settings) -> list[str]:
    """The [daemon] keys that differ and take effect only at the next restart."""
    a, b = old.daemon.model_dump(), new.daemon.model_dump()
    keys = [f"daemon.{k}" for k in a if k not in LIVE_DAEMON_KEYS and a[k] != b.get(k)]
    h, g = old.http.model_dump(), new.http.model_dump()  # issue 13: the server's settings
    return sorted(keys + [f"http.{k}" for k in h if h[k] != g.get(k)])


def live_settings(old: Settings, new: Settings) -> Settings:
    """The settings the daemon runs on after a reload: the new file's services and windows
    and live keys, the old [daemon] section otherwise."""
    daemon = old.daemon.model_copy(update={k: getattr(new.daemon, k) for k in LIVE_DAEMON_KEYS})
    return new.model_copy(update={"daemon": daemon, "http": old.http})


def services_line(result: SyncResult) -> str | None:
    """One line for what a services sync changed (None when nothing)."""
    parts = [
        f"{what} {', '.join(ids)}"
        for what, ids in (
            ("added", result.added),
            ("updated", result.updated),
            ("deactivated", result.deactivated),
        )
        if ids
    ]
    return f"services: {'; '.join(parts)}" if parts else None
