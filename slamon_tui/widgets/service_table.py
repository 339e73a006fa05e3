"""The dashboard's list of services: virtual rows, only the ones on screen drawn (issue 12).

One widget for the whole list (Textual's Line API): it holds the lines to show (a
``ListView`` from models/dashboard_view.py) and draws a line only when Textual asks for it,
i.e. when it is on screen. An event for one service repaints that service's line if it is
visible, and nothing otherwise, so 5,000 services cost what the screen shows.

The cursor is ``cursor``, an index into the lines that the screen moves (a model position,
never Textual focus): keys that arrive in one burst move it exactly as typed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from slamon_tui.models.dashboard import ServiceState
from slamon_tui.models.dashboard_view import GroupLine, Line, ListView
from slamon_tui.widgets.columns import Columns
from slamon_tui.widgets.service_row import STYLE_NAMES, RowView, group_text, row_text

REPAINT_S = 0.2
"""Checks of rows on screen within this long are drawn in one repaint."""
_BASE = "-base"
_CURSOR_LINE = "-cursor-line"


class ServiceTable(ScrollView, can_focus=True, inherit_bindings=False):
    """The list: ``show`` replaces the lines, ``refresh_service`` repaints one row."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "service-table--cursor-line",
        *(f"service-table--{name}" for name in STYLE_NAMES),
    }

    DEFAULT_CSS = """
    ServiceTable {
        height: auto;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;
        overflow-x: hidden;
    }
    """

    class Clicked(Message):
        """A line was clicked: the screen moves its cursor there."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    class Scrolled(Message):
        """The window onto the lines moved (what is out of view changed)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = ListView()
        self.lines: list[Line] = []
        """The lines shown: the view's, or a NOC page of them."""
        self.services: Mapping[str, ServiceState] = {}
        self.columns = Columns()
        self.cursor: int | None = 0
        """Index of the line with the cursor; None draws no cursor (NOC mode)."""
        self.days_back = 0
        self.lines_drawn = 0
        """Lines drawn since the start (how much work events cost; bench/ reads it)."""
        self._styles: dict[str, Style] | None = None
        self._dirty: set[str] = set()
        """Services on screen with a check not yet drawn (drawn by ``_repaint_dirty``)."""
        self._repaint: Timer | None = None

    # --- what is shown ---------------------------------------------------------------------

    def show(
        self,
        view: ListView,
        services: Mapping[str, ServiceState],
        columns: Columns,
        lines: list[Line] | None = None,
    ) -> None:
        """Show ``view`` (or ``lines``, a page of it) of ``services``, laid out by ``columns``."""
        self.view = view
        self.lines = view.lines if lines is None else lines
        self.services = services
        self.columns = columns
        self.virtual_size = Size(self.size.width, len(self.lines))
        self._dirty.clear()  # every line is drawn again
        self.refresh()

    def refresh_service(self, service_id: str) -> None:
        """Repaint the row of one service, if it is on screen (nothing otherwise)."""
        self.refresh_services((service_id,))

    def refresh_services(self, service_ids: Iterable[str]) -> None:
        """Repaint the rows of these services that are on screen (nothing for the others),
        together with the other rows checked within REPAINT_S: at 200 checks/s the screen
        is then drawn a few times a second, not once per read of the feed."""
        top = self.top
        bottom = top + self.visible_height
        for service_id in service_ids:
            index = self._position(service_id)
            if index is not None and top <= index < bottom:
                self._dirty.add(service_id)
        if self._dirty and self._repaint is None:
            self._repaint = self.set_timer(REPAINT_S, self._repaint_dirty)

    def _repaint_dirty(self) -> None:
        """Repaint the rows checked since the last repaint that are (still) on screen."""
        self._repaint = None
        dirty, self._dirty = self._dirty, set()
        top = self.top
        bottom = top + self.visible_height
        for service_id in dirty:
            index = self._position(service_id)
            if index is not None and top <= index < bottom:
                self.refresh_line(index)

    def refresh_cursor(self, old: int | None, new: int | None) -> None:
        """Repaint the lines the cursor left and reached."""
        for index in {old, new}:
            if index is not None and self.is_visible_line(index):
                self.refresh_line(index)

    def _position(self, service_id: str) -> int | None:
        if self.lines is self.view.lines:
            return self.view.service_position(service_id)
        key = ("service", service_id)
        return next((i for i, line in enumerate(self.lines) if line.key == key), None)

    @property
    def top(self) -> int:
        """Index of the first line on screen."""
        return round(self.scroll_offset.y)

    @property
    def visible_height(self) -> int:
        """How many lines fit on screen."""
        return max(1, self.scrollable_content_region.height)

    def is_visible_line(self, index: int) -> bool:
        """Whether line ``index`` is on screen."""
        return self.top <= index < self.top + self.visible_height

    def scroll_to_line(self, index: int) -> None:
        """Scroll just enough for line ``index`` to be on screen."""
        top, height = self.top, self.visible_height
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False)

    # --- drawing ---------------------------------------------------------------------------

    def _style_map(self) -> dict[str, Style]:
        if self._styles is None:
            self._styles = {
                name: self.get_component_rich_style(f"service-table--{name}", partial=True)
                for name in STYLE_NAMES
            }
            # The line's own and the cursor line's: worked out once, not for every line.
            self._styles[_BASE] = self.rich_style
            self._styles[_CURSOR_LINE] = self.rich_style + self.get_component_rich_style(
                "service-table--cursor-line"
            )
        return self._styles

    def notify_style_update(self) -> None:
        """A theme or CSS change: read the styles again."""
        self._styles = None
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the screen: the row or group header at that place of the list."""
        width = self.scrollable_content_region.width
        index = self.top + y
        if index >= len(self.lines) or width <= 0:
            return Strip.blank(width, self.rich_style)
        self.lines_drawn += 1
        line = self.lines[index]
        cursor = index == self.cursor
        styles = self._style_map()
        if isinstance(line, GroupLine):
            text = group_text(line, width, styles, cursor=cursor)
        else:
            service = self.services.get(line.service_id)
            if service is None:
                return Strip.blank(width, self.rich_style)
            view = RowView(service, self.columns, self.days_back)
            text = row_text(view, width, styles, cursor=cursor)
        strip = Strip(text.render(self.app.console)).crop_extend(0, width, None)
        return strip.apply_style(styles[_CURSOR_LINE if cursor else _BASE])

    # --- events ----------------------------------------------------------------------------

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolled: repaint, and tell the screen (its out-of-view markers follow)."""
        super().watch_scroll_y(old_value, new_value)
        if round(old_value) != round(new_value):
            self.post_message(self.Scrolled())

    def on_resize(self) -> None:
        """A new height shows other lines: the markers follow."""
        self.virtual_size = Size(self.size.width, len(self.lines))
        self.post_message(self.Scrolled())

    def on_click(self, event: events.Click) -> None:
        """Clicking a line puts the cursor there."""
        index = self.top + event.y
        if 0 <= index < len(self.lines):
            self.post_message(self.Clicked(index))
