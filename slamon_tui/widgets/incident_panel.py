"""The dashboard's "Active incidents" panel, above the services; hidden when there are none.

It keeps the active incidents itself (``ActiveIncidents``), from status.get's ``incidents``
and ``incident`` events, and redraws every AGE_TICK_S so ages and "overdue" stay true
between events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Static

from slamon_tui.models.incidents import ActiveIncidents, is_overdue
from slamon_tui.widgets.incident_table import (
    STYLE_NAMES,
    IncidentColumns,
    heading_cells,
    incident_cells,
)

MAX_LINES = 4
"""Incidents listed at most; the rest are counted ("… 3 more: press I")."""
AGE_TICK_S = 30.0


class IncidentPanel(Static):
    """Active incidents, most urgent first: overdue, then by priority, then the newest."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "incident-panel--title",
        "incident-panel--heading",
        *(f"incident-panel--{n}" for n in STYLE_NAMES),
    }

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.incidents = ActiveIncidents()
        self.names: dict[str, str] = {}
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def on_mount(self) -> None:
        """Draw what came before mounting; keep ages current."""
        self.set_interval(AGE_TICK_S, self._redraw)
        self.call_after_refresh(self._redraw)

    def show(self, incidents: list[dict[str, Any]] | None, names: dict[str, str]) -> None:
        """Replace the list (a status.get answer); ``names`` maps service ids to names."""
        self.incidents.replace(incidents)
        self.names = names
        self._redraw()

    def apply_event(self, data: dict[str, Any]) -> None:
        """Fold an ``incident`` event in."""
        if self.incidents.apply_event(data):
            self._redraw()

    def on_resize(self) -> None:
        """Lay the columns out for the new width."""
        self._redraw()

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"incident-panel--{name}", partial=True)

    def _cell_style(self, name: str) -> Style:
        return self._style(name) if name in STYLE_NAMES else Style()

    def _redraw(self) -> None:
        now = self.clock()
        items = self.incidents.ordered(now)
        self.display = bool(items)
        if not items or not self.is_mounted or not self.size.width:
            return
        columns = IncidentColumns.for_width(max(self.size.width, 40))
        overdue = sum(1 for i in items if is_overdue(i, now))
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        title = f"Active incidents ({len(items)})"
        if overdue:
            title += f" · {overdue} overdue"
        text.append(title, self._style("title"))
        text.append("   I: all incidents", self._style("heading"))
        text.append("\n")
        heading = Text(end="")
        for _key, cell in heading_cells(columns):
            heading.append_text(cell)
        heading.stylize(self._style("heading"))
        text.append_text(heading)
        for inc in items[:MAX_LINES]:
            text.append("\n")
            for cell in incident_cells(inc, now, columns, self._cell_style, self.names):
                text.append_text(cell)
        if len(items) > MAX_LINES:
            text.append(f"\n… {len(items) - MAX_LINES} more: press I", self._style("heading"))
        self.update(text)
