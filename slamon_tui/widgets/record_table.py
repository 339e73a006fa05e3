"""A table of records (users, services, windows, audit entries) that is refilled whole.

Column widths are measured here rather than left to DataTable's auto width: that is
settled only when the table is next idle, and a frame painted in between stays cached at
the header's width (cells cut to "admi", "acti"). The cursor stays on the same record.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import DataTable

MAX_COLUMN_WIDTH = 120
"""A longer cell is cut (the audit log's changes can be long)."""


class RecordTable(DataTable[str]):
    """Rows of text keyed by a record id; ``set_rows`` replaces them all."""

    def __init__(self, *labels: str, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.labels = labels

    def on_mount(self) -> None:
        """Show the headers before the first rows come."""
        if not self.columns:
            self.set_rows([])

    def set_rows(self, rows: list[tuple[str, list[str]]]) -> None:
        """Replace the rows (key, cells); columns as wide as their widest cell."""
        current = None
        if self.row_count:
            current = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        widths = [cell_len(label) for label in self.labels]
        for _key, cells in rows:
            for i, cell in enumerate(cells):
                widths[i] = min(MAX_COLUMN_WIDTH, max(widths[i], cell_len(cell)))
        self.clear(columns=True)
        for label, width in zip(self.labels, widths, strict=True):
            self.add_column(label, width=width)
        for key, cells in rows:
            self.add_row(*cells, key=key)
        keys = [key for key, _cells in rows]
        if current in keys:
            self.move_cursor(row=keys.index(current))

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor (None when empty)."""
        if not self.row_count:
            return None
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
