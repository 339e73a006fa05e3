"""Incidents as a table: priority, severity, status, title, services, age, last update, overdue.

``IncidentColumns`` lays the columns out for a width (at 80 cells "overdue" shares the
"Updated" column: an overdue incident has no update by definition); ``incident_cells`` gives
one incident's cells, used by the table here and the dashboard's panel. Overdue is written
as a word with a symbol, never shown by colour alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from slamon_tui.models.incidents import (
    OVERDUE_MARK,
    STATUS_SHORT,
    age_text,
    ago_text,
    is_overdue,
    last_update_text,
    services_text,
)
from slamon_tui.widgets.columns import fit

WIDE_FROM = 120
"""From this width the columns get full words and a separate "Overdue" column."""
TITLE_SHARE = 0.62
"""Of the room left by the fixed columns, the title's share (the services get the rest)."""
TITLE_MAX = 64
SERVICES_MAX = 40
SCROLLBAR = 2
"""Cells kept free for a vertical scrollbar (and one to spare)."""


@dataclass(frozen=True, slots=True)
class IncidentColumns:
    """Column widths (without the gap after each) for one table width."""

    title: int = 20
    services: int = 12
    wide: bool = False

    @property
    def gap(self) -> int:
        return 2 if self.wide else 1

    @property
    def fixed(self) -> list[tuple[str, str, int]]:
        """(key, heading, width) of every column, in order; title/services included."""
        cols = [
            ("priority", "P", 2),
            ("severity", "Severity", 8),
            ("status", "Status", 13 if self.wide else 10),
            ("title", "Title", self.title),
            ("services", "Services", self.services),
            ("age", "Age", 7 if self.wide else 6),
            ("updated", "Updated", 10 if self.wide else 9),
        ]
        if self.wide:
            cols.append(("overdue", "Overdue", 10))
        return cols

    @classmethod
    def for_width(cls, width: int) -> IncidentColumns:
        """The layout for a table ``width`` cells wide (a scrollbar's cell left free)."""
        wide = width >= WIDE_FROM
        probe = cls(0, 0, wide)
        used = sum(w + probe.gap for _k, _h, w in probe.fixed) + SCROLLBAR
        room = max(width - used, 16)
        title = min(TITLE_MAX, max(10, int(room * TITLE_SHARE)))
        return cls(title, min(SERVICES_MAX, max(6, room - title)), wide)


def incident_cells(
    incident: dict[str, Any],
    now: datetime,
    columns: IncidentColumns,
    style: Callable[[str], Style],
    names: dict[str, str] | None = None,
    *,
    past: bool = False,
) -> list[Text]:
    """One incident's cells, each exactly as wide as its column plus the gap.

    ``style(name)`` gives the Rich style of a component class suffix ("overdue", "critical",
    "investigating" …); ``names`` maps service ids to names. In a ``past`` list the last
    wide column says when it was resolved instead.
    """
    overdue = is_overdue(incident, now)
    status = str(incident.get("status") or "")
    severity = str(incident.get("severity") or "")
    updated = last_update_text(incident, now)
    if overdue and not columns.wide:
        updated = "OVERDUE"
    values = {
        "priority": str(incident.get("priority") or "?"),
        "severity": severity,
        "status": status if columns.wide else STATUS_SHORT.get(status, status),
        "title": str(incident.get("title") or ""),
        "services": services_text(incident, names),
        "age": age_text(incident, now),
        "updated": updated,
        "overdue": OVERDUE_MARK if overdue else "",
    }
    if past:
        values["overdue"] = ago_text(incident.get("resolved_at"), now)
    styles = {
        "priority": style("priority-" + values["priority"]),
        "severity": style("severity-" + severity),
        "status": style("status-" + status),
        "overdue": style("overdue"),
    }
    if overdue:
        styles["updated"] = style("overdue")
        styles["priority"] = style("overdue")
    cells = []
    for key, _heading, width in columns.fixed:
        cell = fit(values[key], width)
        if key in styles:
            cell.stylize(styles[key], 0, len(cell.plain.rstrip()))
        cell.append(" " * columns.gap)
        cells.append(cell)
    return cells


def heading_cells(columns: IncidentColumns, *, past: bool = False) -> list[tuple[str, Text]]:
    """(column key, heading) for each column; a past list's "Age" is how long it lasted."""
    out = []
    for key, heading, width in columns.fixed:
        label = {"age": "Lasted", "overdue": "Resolved"}.get(key, heading) if past else heading
        out.append((key, fit(label, width) + Text(" " * columns.gap)))
    return out


STYLE_NAMES = (
    "overdue",
    "priority-P1",
    "severity-critical",
    "severity-high",
    "severity-medium",
    "severity-low",
    "status-investigating",
    "status-identified",
    "status-monitoring",
    "status-resolved",
)


class IncidentTable(DataTable[Text], inherit_bindings=False):
    """A list of incidents with a row cursor, kept by incident id and updated in place.

    PgUp/PgDn are left to the screen (they page the past incidents).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        f"incident-table--{n}" for n in STYLE_NAMES
    }
    BINDINGS = [
        Binding("enter", "select_cursor", "Open", show=False),
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("home,g", "scroll_top", "First", show=False),
        Binding("end,G", "scroll_bottom", "Last", show=False),
    ]

    def __init__(self, *, past: bool = False, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", cell_padding=0, zebra_stripes=False)
        self.past = past
        self.layout_columns = IncidentColumns()
        self.incidents: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}
        self.now: datetime | None = None

    @property
    def selected_id(self) -> int | None:
        """The id of the incident under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - a cursor outside the rows
            return None
        return int(key.value) if key.value is not None else None

    def _style(self, name: str) -> Style:
        if name.removeprefix("incident-table--") not in STYLE_NAMES:
            return Style()
        return self.get_component_rich_style(f"incident-table--{name}", partial=True)

    def on_resize(self) -> None:
        """Lay the columns out again for the new width."""
        columns = IncidentColumns.for_width(self.size.width)
        if columns != self.layout_columns and self.now is not None:
            self.layout_columns = columns
            self._rebuild(self.selected_id)

    def show(
        self, incidents: list[dict[str, Any]], now: datetime, names: dict[str, str] | None = None
    ) -> None:
        """Show ``incidents`` in this order: changed cells are updated, rows added or removed,
        and the cursor stays on the incident it was on."""
        self.now = now
        self.names = dict(names or {})
        columns = IncidentColumns.for_width(self.size.width or 80)
        keep = self.selected_id
        order = [str(i["id"]) for i in incidents]
        same_rows = order == [str(k.value) for k in self.rows]
        self.incidents = list(incidents)
        if columns != self.layout_columns or not self.columns or not same_rows:
            self.layout_columns = columns
            self._rebuild(keep)
            return
        col_keys = [k for k, _h, _w in columns.fixed]
        for inc in incidents:
            cells = incident_cells(inc, now, columns, self._style, self.names, past=self.past)
            for col, cell in zip(col_keys, cells, strict=True):
                if self.get_cell(str(inc["id"]), col) != cell:
                    self.update_cell(str(inc["id"]), col, cell)

    def _rebuild(self, keep: int | None) -> None:
        self.clear(columns=True)
        for key, heading in heading_cells(self.layout_columns, past=self.past):
            width = next(w for k, _h, w in self.layout_columns.fixed if k == key)
            self.add_column(heading, width=width + self.layout_columns.gap, key=key)
        now = self.now
        assert now is not None
        for inc in self.incidents:
            self.add_row(
                *incident_cells(
                    inc, now, self.layout_columns, self._style, self.names, past=self.past
                ),
                key=str(inc["id"]),
            )
        if keep is not None and str(keep) in [str(k.value) for k in self.rows]:
            self.move_cursor(row=self.get_row_index(str(keep)))
        self.set_class(not self.incidents, "-empty")
