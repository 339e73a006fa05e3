"""The top of an incident's detail: its title, a line of badges, and every field.

The badge line says priority, severity, status and, for an overdue incident, "⚠ OVERDUE"
with when the first update was due: words first, colour only on top.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from slamon_daemon.text import duration
from slamon_tui.models.incidents import (
    OVERDUE_MARK,
    RESPONSE_TARGETS,
    is_overdue,
    services_text,
    when_text,
)

STYLE_NAMES = (
    "title",
    "label",
    "muted",
    "overdue",
    "severity-critical",
    "severity-high",
    "status-resolved",
    "status-investigating",
)


class IncidentSummary(Static):
    """Title, badges and fields of one incident (an ``incident.get`` result)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {f"incident-summary--{n}" for n in STYLE_NAMES}

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Loading…", id=id)
        self.incident: dict[str, Any] | None = None
        self.names: dict[str, str] = {}
        self.now: datetime | None = None

    def _style(self, name: str) -> Style:
        if name not in STYLE_NAMES:
            return Style()
        return self.get_component_rich_style(f"incident-summary--{name}", partial=True)

    def show(self, incident: dict[str, Any], now: datetime, names: dict[str, str]) -> None:
        """Show ``incident`` as of ``now``; ``names`` maps service ids to names."""
        self.incident, self.now, self.names = incident, now, names
        self.update(self._render_incident())

    def _render_incident(self) -> RenderableType:
        inc, now = self.incident, self.now
        assert inc is not None and now is not None
        title = Text(f"#{inc.get('id')}  {inc.get('title') or ''}", self._style("title"))
        badges = Text()
        priority = str(inc.get("priority") or "?")
        severity = str(inc.get("severity") or "?")
        status = str(inc.get("status") or "?")
        badges.append(priority, self._style("overdue") if is_overdue(inc, now) else Style())
        badges.append("  ·  ")
        badges.append(f"{severity} severity", self._style(f"severity-{severity}"))
        badges.append("  ·  ")
        badges.append(status, self._style(f"status-{status}"))
        if inc.get("auto"):
            badges.append("  ·  opened automatically for an outage", self._style("muted"))
        if is_overdue(inc, now):
            badges.append("  ·  ")
            badges.append(
                f"{OVERDUE_MARK}: no update yet, due {when_text(inc.get('response_due'), now)}",
                self._style("overdue"),
            )
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style=self._style("label"), no_wrap=True)
        grid.add_column()
        for label, value in self._fields(inc, now):
            grid.add_row(label, value)
        return Group(title, badges, Text(""), grid)

    def _fields(self, inc: dict[str, Any], now: datetime) -> list[tuple[str, str]]:
        priority = str(inc.get("priority") or "")
        if inc.get("first_update_at"):
            response = f"first update {when_text(inc.get('first_update_at'), now)}"
        else:
            response = f"first update due {when_text(inc.get('response_due'), now)}"
        target = RESPONSE_TARGETS.get(priority)
        if target:
            response = f"{priority} target {target} · {response}"
        so_far = inc.get("duration_s")
        lasted = duration(None if so_far is None else float(so_far), compact=True)
        if inc.get("status") != "resolved":
            lasted += " so far"
        rows = [
            ("Services", services_text(inc, self.names)),
            ("Started", when_text(inc.get("started_at"), now)),
            (
                "Progress",
                " · ".join(
                    f"{step} {when_text(inc.get(f'{step}_at'), now)}"
                    for step in ("identified", "monitoring", "resolved")
                )
                + (f" by {inc['resolved_by']}" if inc.get("resolved_by") else ""),
            ),
            ("Duration", lasted),
            ("Response", response),
            ("Impact", str(inc.get("impact") or "—")),
            ("Root cause", str(inc.get("root_cause") or "—")),
            ("Resolution", str(inc.get("resolution_notes") or "—")),
            (
                "Opened by",
                f"{inc.get('created_by') or '?'} · version {inc.get('version')}"
                f" · last change {when_text(inc.get('updated_at'), now)}",
            ),
        ]
        return rows
