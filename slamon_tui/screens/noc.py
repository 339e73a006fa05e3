"""NOC mode (``slamon --noc``): a screen on a wall that never needs a key (issue 12).

Read-only, full screen: a tall banner with the overall status and the counts, the
connection line, the active incidents, and the services, problems first. When they do not
fit, it pages through them by itself every PAGE_S seconds, the problems pinned on top of
every page (``noc_page``), so nothing broken is ever off screen while there is room for it.
The feed session reconnects by itself for as long as it runs (through daemon restarts and
socket loss); while the feed is not live the banner says NOT LIVE in neutral colours.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Static

from slamon_tui.identity import Identity
from slamon_tui.models.dashboard_view import Line, ServiceLine
from slamon_tui.screens.board import ServiceBoard
from slamon_tui.types import FeedCall
from slamon_tui.widgets.identity_badge import IdentityBadge

PAGE_S = 10.0
"""How long a page stays on screen."""
HELP_KEYS = [("q", "quit (nothing else is needed: it pages and reconnects by itself)")]


def noc_page(lines: list[Line], height: int, page: int) -> tuple[list[Line], int]:
    """The lines of page ``page`` (0-based, wrapped) and how many pages there are.

    Problems are pinned on top of every page and the rest share what room is left; when
    the problems alone do not fit, the first pages are theirs.
    """
    height = max(1, height)
    if len(lines) <= height:
        return list(lines), 1
    pinned = [x for x in lines if isinstance(x, ServiceLine) and x.is_problem]
    rest = [x for x in lines if not (isinstance(x, ServiceLine) and x.is_problem)]
    room = height - len(pinned)
    if room < max(1, height // 4):  # too many problems to pin: page through them first
        ordered = pinned + rest
        pages = (len(ordered) + height - 1) // height
        start = (page % pages) * height
        return ordered[start : start + height], pages
    pages = max(1, (len(rest) + room - 1) // room)
    start = (page % pages) * room
    return pinned + rest[start : start + room], pages


class NocScreen(ServiceBoard):
    """The board for a NOC screen: no cursor, pages by itself."""

    HELP_TITLE = "NOC mode"
    KEYS_HELP = HELP_KEYS

    BINDINGS = [Binding("space", "next_page", "Next page", show=False)]

    def __init__(self, socket_path: str, call: FeedCall, identity: Identity) -> None:
        super().__init__(socket_path, call, identity)
        self.page = 0
        self.pages = 1
        self.page_line = Static("", id="noc-page")
        self._pager: Timer | None = None

    def compose(self) -> ComposeResult:
        """Tall banner, connection line, status lines, incidents, titles, the page."""
        yield self.banner
        with Horizontal(id="connection-row"):
            yield self.connection
            yield IdentityBadge(id="identity", classes="identity-badge")
        yield self.status_lines
        yield self.incident_panel
        yield self.header
        with Vertical(id="list-area"):
            yield self.table
        yield self.page_line

    def on_mount(self) -> None:
        """No cursor; turn the page every PAGE_S."""
        self.table.cursor = None
        self._pager = self.set_interval(PAGE_S, self.action_next_page)

    def show_lines(self) -> None:
        """The current page of the lines."""
        height = self.table.size.height or max(1, self.size.height - 12)
        lines, self.pages = noc_page(self.view.lines, height, self.page)
        self.table.show(self.view, self.model.services, self.columns, lines)
        self.lines_shown()

    def lines_shown(self) -> None:
        """ "page 2 of 3 · 4 problems pinned on top · next page in 10 s"."""
        if not self.is_mounted:
            return
        problems = sum(1 for x in self.view.lines if isinstance(x, ServiceLine) and x.is_problem)
        parts = []
        if self.pages > 1:
            parts.append(f"page {self.page % self.pages + 1} of {self.pages}")
            if problems:
                parts.append(f"{problems} problem{'' if problems == 1 else 's'} pinned on top")
            parts.append(f"next page in {PAGE_S:.0f} s")
        total = len(self.model.services)
        parts.append(f"{total} service{'' if total == 1 else 's'} · NOC mode (q quits)")
        self.page_line.update(" · ".join(parts))

    def on_resize(self) -> None:
        """A new size: the columns and the page follow."""
        super().on_resize()
        self.call_after_refresh(self.show_lines)

    def action_next_page(self) -> None:
        """Turn to the next page (by itself every PAGE_S)."""
        self.page = (self.page + 1) % max(1, self.pages)
        self.show_lines()
