"""The day cursor on the dashboard's bar and the line under the list that tells that day
(date, status, uptime, downtime, outages from ``service.day``), asked once it rests."""

from __future__ import annotations

import time
from functools import partial
from typing import Any, Protocol

from textual.message import Message
from textual.timer import Timer

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.messages import DayFetched
from slamon_tui.models.dashboard import DashboardModel, ServiceState
from slamon_tui.widgets.columns import Columns
from slamon_tui.widgets.day_line import DayLine, DayView


class DayHost(Protocol):
    """What the day cursor needs of its screen (the dashboard)."""

    columns: Columns
    model: DashboardModel

    @property
    def selected_service(self) -> ServiceState | None: ...

    @property
    def is_mounted(self) -> bool: ...

    def query_one(self, selector: type[DayLine]) -> DayLine: ...

    def set_timer(self, delay: float, callback: Any) -> Timer: ...

    def run_worker(self, work: Any, *, group: str, exclusive: bool, exit_on_error: bool) -> Any: ...

    def post_message(self, message: Message) -> bool: ...

    async def call_feed(self, method: str, params: dict[str, Any]) -> Any: ...


DAY_DEBOUNCE_S = 0.3
"""service.day is asked once the day cursor has rested this long (holding ← asks nothing)."""
TODAY_TTL_S = 10.0
"""How long today's service.day answer is reused; past days are cached for good."""


class DayCursor:
    """Where the day cursor is (days before today) and what the day line shows."""

    def __init__(self, screen: DayHost) -> None:
        self.screen = screen
        self.days_back = 0
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self._problem: tuple[tuple[str, str], str] | None = None
        self._timer: Timer | None = None
        self._timer_key: tuple[str, str] | None = None

    def move(self, delta: int) -> None:
        """``delta`` days further back (negative: towards today), within the bar."""
        last = self.last_index()
        self.days_back = max(0, min(last, min(self.days_back, last) + delta))
        self.show()

    def last_index(self) -> int:
        """The furthest the day cursor goes back: the bar's first cell."""
        window = self.screen.columns.window
        return max(0, min(window, len(self.screen.model.days) or 1) - 1)

    def selected(self) -> tuple[str, str, int, str] | None:
        """(service id, day, days back, the bar's cell) under the day cursor, or None."""
        service = self.screen.selected_service
        days = self.screen.model.days
        if service is None or not days:
            return None
        back = min(self.days_back, self.last_index())
        daily = service.daily
        cell = daily[-1 - back] if back < len(daily) else "nd"
        return service.id, days[-1 - back], back, cell

    def show(self, *, retry: bool = True) -> None:
        """Show the day under the day cursor; ask service.day for it once the cursor rests.

        After a failed ask, only ``retry`` (a cursor move, a resync) asks again.
        """
        if not self.screen.is_mounted:
            return
        if retry:
            self._problem = None
        line = self.screen.query_one(DayLine)
        selected = self.selected()
        line.display = selected is not None
        if selected is None:
            return
        sid, day, back, cell = selected
        key = (sid, day)
        entry = self._cache.get(key)
        problem = self._problem[1] if self._problem and self._problem[0] == key else None
        line.show(DayView(day, back, cell, entry[1] if entry else None, problem))
        if not _fresh(entry, back) and problem is None:
            self._schedule(key)

    def _schedule(self, key: tuple[str, str]) -> None:
        # Restart the wait only when the cursor moved: events for the same day (a check
        # every 300 ms) must not keep pushing the fetch back.
        if self._timer is not None:
            if self._timer_key == key:
                return
            self._timer.stop()
        self._timer_key = key
        self._timer = self.screen.set_timer(DAY_DEBOUNCE_S, self._fetch_selected)

    def _fetch_selected(self) -> None:
        self._timer = self._timer_key = None
        selected = self.selected()
        if selected is not None:
            sid, day, back, _cell = selected
            if not _fresh(self._cache.get((sid, day)), back):
                self.screen.run_worker(  # a callable: a fetch cancelled before it starts
                    partial(self._fetch, sid, day),  # leaves no coroutine unawaited
                    group="day",
                    exclusive=True,
                    exit_on_error=False,
                )

    async def _fetch(self, service_id: str, day: str) -> None:
        """Ask the daemon about one day of one service; the answer comes as DayFetched."""
        try:
            result = await self.screen.call_feed("service.day", {"id": service_id, "day": day})
        except FeedCallError as exc:
            self.screen.post_message(DayFetched(service_id, day, None, exc.message))
        except FeedClientError as exc:
            self.screen.post_message(DayFetched(service_id, day, None, f"no details: {exc}"))
        else:
            self.screen.post_message(DayFetched(service_id, day, result))

    def fetched(self, message: DayFetched) -> None:
        """A service.day answer (or why there is none)."""
        key = (message.service_id, message.day)
        if message.result is not None:
            self._cache[key] = (time.monotonic(), message.result)
            self._problem = None
        else:
            self._problem = (key, message.problem or "no details")
        self.show(retry=False)


def _fresh(entry: tuple[float, dict[str, Any]] | None, days_back: int) -> bool:
    """Whether a cached service.day answer can be shown as is (today's ages out)."""
    if entry is None:
        return False
    return days_back > 0 or time.monotonic() - entry[0] < TODAY_TTL_S
