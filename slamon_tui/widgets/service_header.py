"""The top of the service detail: name, status with its symbol and since when, URL and
check settings, SLA target, certificate expiry, and uptime over 24 h / 7 d / 30 d / 90 d."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from slamon_daemon.models import ServiceStatus, parse_ts
from slamon_daemon.text import duration, percent
from slamon_tui.formatting import (
    status_symbol,
    status_word,
    time_text,
)

UPTIME_WINDOWS = ("24h", "7d", "30d", "90d")
CERT_WARN_DAYS = 14
"""A certificate expiring within this many days is shown as a warning."""
_STATUSES = frozenset(s.value for s in ServiceStatus)
_TROUBLE = frozenset(
    {ServiceStatus.MAJOR_OUTAGE, ServiceStatus.PARTIAL_OUTAGE, ServiceStatus.DEGRADED}
)


def open_episode(detail: dict[str, Any]) -> dict[str, Any] | None:
    """The open outage episode of a service.get result, if any."""
    for episode in detail.get("episodes") or []:
        if isinstance(episode, dict) and not episode.get("ended_at"):
            return episode
    return None


def cert_text(expires_at: str | None, now: datetime) -> tuple[str, str]:
    """("certificate expires in 42 days (2027-01-02)", level) or ("", "") when unknown;
    level is "" (fine), "warning" (soon) or "error" (expired)."""
    if not expires_at:
        return "", ""
    try:
        at = parse_ts(expires_at)
    except ValueError:
        return "", ""
    days = (at - now).total_seconds() / 86400
    when = at.astimezone(UTC).strftime("%Y-%m-%d")
    if days < 0:
        return f"certificate EXPIRED {int(-days)} days ago ({when})", "error"
    text = f"certificate expires in {int(days)} days ({when})"
    return text, "warning" if days < CERT_WARN_DAYS else ""


def header_text(
    detail: dict[str, Any] | None,
    name: str,
    status: str,
    since: str | None,
    now: datetime | None = None,
    styles: Mapping[str, Style] | None = None,
    failing_since: str | None = None,
) -> Text:
    """The header's lines; ``status``/``since`` are the live ones (events keep them current).

    ``failing_since`` is the start of the open outage episode: while the service is in
    trouble the header dates it from there (issue 12: the same moment as the episode list
    below, and it survives daemon restarts). ``styles`` maps a service status, "warning",
    "error" and "muted" to a style.
    """
    now = now or datetime.now(UTC)
    styles = styles or {}
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(name, style="bold")
    key = status if status in _STATUSES else "unknown"
    text.append(f"  {status_symbol(status)} {status_word(status)}", style=styles.get(key))
    label, when = ("failing since", failing_since) if failing_since else ("since", since)
    if when:
        try:
            at = parse_ts(when)
            text.append(
                f"  {label} {time_text(when, now)} UTC ({duration((now - at).total_seconds())})",
                style=styles.get("muted"),
            )
        except ValueError:
            pass
    if detail is None:
        return text
    svc = detail.get("service") or {}
    text.append(f"\n{svc.get('url', '')}", style="underline")
    text.append(
        f"  {svc.get('method', 'GET')} every {duration(float(svc.get('interval_s') or 0))},"
        f" timeout {duration(float(svc.get('timeout_s') or 0))}",
        style=styles.get("muted"),
    )
    text.append("\n")
    target = svc.get("sla_target")
    text.append(f"SLA target {target}%" if target is not None else "SLA target —")
    cert, level = cert_text(detail.get("cert_expires_at"), now)
    if cert:
        text.append(" · ")
        text.append(cert, style=styles.get(level))
    text.append("\nUptime  ", style="bold")
    uptime = detail.get("uptime") or {}
    for i, window in enumerate(UPTIME_WINDOWS):
        text.append(f"{' · ' if i else ''}{window} ", style=styles.get("muted"))
        text.append(percent(uptime.get(window)), style="bold")
    return text


class ServiceHeader(Static):
    """The header; ``show`` takes a service.get result, ``set_status`` a status event."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "service-header--warning",
        "service-header--error",
        "service-header--muted",
        *(f"service-header--{s.value}" for s in ServiceStatus),
    }

    def __init__(self, name: str, status: str, since: str | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.service_name, self.status, self.since = name, status, since
        self.detail: dict[str, Any] | None = None

    def on_mount(self) -> None:
        """Draw what is known before service.get answers (from the dashboard)."""
        self._draw()

    @property
    def failing_since(self) -> str | None:
        """The open outage episode's start while the service is in trouble."""
        if self.detail is None or self.status not in _TROUBLE:
            return None
        episode = open_episode(self.detail)
        return str(episode["started_at"]) if episode and episode.get("started_at") else None

    def show(self, detail: dict[str, Any]) -> None:
        """Show a service.get result."""
        self.detail = detail
        self.service_name = str((detail.get("service") or {}).get("name") or self.service_name)
        self.status = str(detail.get("status") or self.status)
        self.since = detail.get("status_since") or self.since
        self._draw()

    def set_status(self, status: str, since: str | None) -> None:
        """A status event for this service."""
        self.status, self.since = status, since or self.since
        self._draw()

    def _draw(self) -> None:
        keys = [*(s.value for s in ServiceStatus), "warning", "error", "muted"]
        styles = {
            k: self.get_component_rich_style(f"service-header--{k}", partial=True) for k in keys
        }
        self.update(
            header_text(
                self.detail,
                self.service_name,
                self.status,
                self.since,
                styles=styles,
                failing_since=self.failing_since,
            )
        )

    @property
    def plain(self) -> str:
        """The header as plain text."""
        return header_text(
            self.detail,
            self.service_name,
            self.status,
            self.since,
            failing_since=self.failing_since,
        ).plain
