"""What the admin screen lists, folded from feed answers. Pure: no Textual, no I/O.

Which services an admin may edit: the daemon edits only services added over the feed (the
config file owns its own), but ``status.get`` does not say where a service comes from, and
a paused service is not in it at all. So the feed's services are read from the audit log
(``service.add`` / ``edit`` / ``pause`` / ``resume`` entries, whose ``changes`` are the
params); every other service in ``status.get`` is the config file's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONFIG = "config"
ADMIN = "admin"
SERVICE_METHODS = ("service.add", "service.edit", "service.pause", "service.resume")


@dataclass(slots=True)
class ServiceEntry:
    """One row of the admin's services: ``config`` is what was set over the feed."""

    id: str
    name: str
    url: str
    source: str
    active: bool = True
    status: str = "unknown"
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def editable(self) -> bool:
        """Only services added over the feed can be changed from here."""
        return self.source == ADMIN


def feed_services(audit: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """id -> the params of the services added over the feed, as last set (with ``active``)."""
    out: dict[str, dict[str, Any]] = {}
    for entry in sorted(audit, key=lambda e: (str(e.get("at") or ""), e.get("id") or 0)):
        method, target = entry.get("method"), entry.get("target")
        if method not in SERVICE_METHODS or not target:
            continue
        raw = entry.get("changes")
        changes: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if method == "service.add":
            out[str(target)] = {"active": True, **changes}
        elif str(target) in out:
            config = out[str(target)]
            if method == "service.edit":
                config.update({k: v for k, v in changes.items() if k != "id"})
            else:
                config["active"] = method == "service.resume"
    return out


def service_entries(
    services: list[dict[str, Any]], feed: dict[str, dict[str, Any]]
) -> list[ServiceEntry]:
    """status.get's services (in its order) marked config or admin, then paused feed ones."""
    rows: list[ServiceEntry] = []
    seen: set[str] = set()
    for s in services:
        sid = str(s.get("id"))
        seen.add(sid)
        config = feed.get(sid)
        rows.append(
            ServiceEntry(
                id=sid,
                name=str(s.get("name") or sid),
                url=str(s.get("url") or ""),
                source=ADMIN if config is not None else CONFIG,
                active=True,
                status=str(s.get("status") or "unknown"),
                config=dict(config or {}),
            )
        )
    for sid, config in sorted(feed.items()):
        if sid not in seen and not config.get("active", True):
            rows.append(
                ServiceEntry(
                    id=sid,
                    name=str(config.get("name") or sid),
                    url=str(config.get("url") or ""),
                    source=ADMIN,
                    active=False,
                    status="paused",
                    config=dict(config),
                )
            )
    return rows


def source_text(entry: ServiceEntry) -> str:
    """How the list says where a service is defined."""
    return "slamon.toml" if entry.source == CONFIG else "feed (admin)"


def last_login_text(at: str | None) -> str:
    """ "2026-11-21 23:10" (UTC) or "never"."""
    return str(at).replace("T", " ")[:16] if at else "never"
