"""A screen of tabs, each holding one RecordTable (Admin, Alerts): the tab on show, the keys
that switch tabs, and the cursor kept in the visible tab's table."""

from __future__ import annotations

from textual import on
from textual.screen import Screen
from textual.widgets import DataTable, TabbedContent

from slamon_tui.widgets.record_table import RecordTable


class TabbedTablesScreen(Screen[None]):
    """Tabs whose panes hold a RecordTable with the id ``<tab>-table``."""

    DEFAULT_TAB = ""
    """The tab on show before TabbedContent has chosen one."""

    @property
    def tab(self) -> str:
        """The id of the tab on show."""
        return self.query_one(TabbedContent).active or self.DEFAULT_TAB

    def action_tab(self, tab: str) -> None:
        """Show ``tab``."""
        self.query_one(TabbedContent).active = tab
        self._focus_table()

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self._focus_table()
        self.refresh_bindings()

    @on(DataTable.RowHighlighted)
    def _row_moved(self) -> None:
        self.refresh_bindings()

    def _focus_table(self) -> None:
        self.query_one(f"#{self.tab}-table", RecordTable).focus()
