"""The service detail screen: status, uptimes, the latency chart, figures, outage episodes,
recent checks and a three-month calendar, from service.get / .series / .calendar; on a
cluster, under the header, the quorum picture (which regions see it down, each region's
own uptime beside the quorum's: widgets/region_view.py).

It opens with Enter on a dashboard row and closes with Escape (the dashboard keeps its
cursor). It reloads on ``r``, on reconnection, and when a check of this service arrives,
at most once every REFRESH_MIN_INTERVAL_S; status events change the status line at once.
At 80 columns the sections stack (status, uptimes and chart first) and scroll; from
WIDE_WIDTH columns they stand in two columns.
"""

from __future__ import annotations

import time
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from slamon_tui.client import FeedCallError, FeedClientError
from slamon_tui.identity import Identity
from slamon_tui.messages import CheckEvent, DetailFetched, StatusEvent
from slamon_tui.screens.base import RoleScreen
from slamon_tui.screens.help import DETAIL_KEYS
from slamon_tui.screens.service_context import ServiceContext
from slamon_tui.types import FeedCall, ServiceNames
from slamon_tui.widgets.episode_list import EpisodeList
from slamon_tui.widgets.figures_table import FiguresTable
from slamon_tui.widgets.keys_footer import KeysFooter
from slamon_tui.widgets.latency_chart import RANGES, LatencyChart
from slamon_tui.widgets.recent_checks import RecentChecks
from slamon_tui.widgets.region_view import RegionView
from slamon_tui.widgets.service_header import ServiceHeader
from slamon_tui.widgets.status_calendar import StatusCalendar

REFRESH_MIN_INTERVAL_S = 2.0
"""Check events reload the figures at most this often (a check every second must not)."""
WIDE_WIDTH = 120
"""From this width the sections stand in two columns."""
CHART_HEIGHT = 12
"""The chart's height in one column (80×24: the header and the chart fill the first screen)."""
WIDE_CHART_SPARE = 24
"""In two columns the chart takes the screen's height less this (header, figures, footer)."""
CALENDAR_MONTHS = 3


class DetailScroll(VerticalScroll, inherit_bindings=False):
    """The scrolling body; ←/→ are the chart's range keys, not horizontal scrolling."""

    BINDINGS = [
        Binding("up,k", "scroll_up", "Scroll up", show=False),
        Binding("down,j", "scroll_down", "Scroll down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown,space", "page_down", "Page down", show=False),
        Binding("home,g", "scroll_home", "Top", show=False),
        Binding("end,G", "scroll_end", "Bottom", show=False),
    ]


class ServiceScreen(RoleScreen[None]):
    """One service in detail; ``service_id`` names it, ``call`` reaches the daemon."""

    BINDINGS = [
        Binding("escape", "back", "Back", key_display="Esc"),
        Binding("1", "range('1h')", "Range", key_display="1-4/←→"),
        Binding("2", "range('24h')", "24h", show=False),
        Binding("3", "range('7d')", "7d", show=False),
        Binding("4", "range('30d')", "30d", show=False),
        Binding("left,h", "range_step(-1)", "Shorter range", show=False),
        Binding("right,l", "range_step(1)", "Longer range", show=False),
        Binding("r", "reload", "Refresh"),
        Binding("i", "incident", "Incident"),
        Binding("e", "errors", "Errors"),
    ]
    HELP_TITLE = "Service detail"
    KEYS_HELP = DETAIL_KEYS

    def __init__(
        self,
        service_id: str,
        call: FeedCall,
        *,
        name: str | None = None,
        status: str = "unknown",
        since: str | None = None,
        identity: Identity | None = None,
        names: ServiceNames | None = None,
    ) -> None:
        super().__init__(call, identity or Identity())
        self.names = names or (lambda: [])
        self.service_id = service_id
        self._first = (name or service_id, status, since)
        self.range = "24h"
        self.detail: dict[str, Any] | None = None
        self.series: dict[str, dict[str, Any]] = {}
        """The last series fetched per range: switching back shows it at once."""
        self._loaded_at = float("-inf")
        self._reload_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        """Header first, then the chart: what matters most is at the top at 80×24."""
        name, status, since = self._first
        yield Static("", id="detail-problem")
        with DetailScroll(id="detail"):
            yield ServiceHeader(name, status, since, id="service-header")
            yield RegionView(id="region-view")  # a cluster: which regions see it down
            with Horizontal(id="detail-columns"):
                with Vertical(id="detail-left"):
                    yield LatencyChart(id="latency-chart")
                    yield FiguresTable("Loading…", id="figures")
                with Vertical(id="detail-right"):
                    yield Static("Daily status (UTC)", classes="detail-title")
                    yield StatusCalendar(id="calendar")
                    yield Static("Outage episodes", classes="detail-title")
                    yield EpisodeList("Loading…", id="episodes")
                    yield Static("Recent checks", classes="detail-title")
                    yield RecentChecks("Loading…", id="recent-checks")
        yield KeysFooter()

    def on_mount(self) -> None:
        """Lay out for the width, focus the body, ask the daemon."""
        self.query_one("#detail-problem").display = False
        self.query_one(LatencyChart).set_range(self.range)
        self.on_resize()
        self.query_one(DetailScroll).focus()
        self.reload()

    def on_resize(self) -> None:
        """Two columns from WIDE_WIDTH, one below; a taller chart when there is room."""
        wide = self.size.width >= WIDE_WIDTH
        self.set_class(wide, "-wide")
        height = self.size.height - WIDE_CHART_SPARE if wide else CHART_HEIGHT
        self.query_one(LatencyChart).styles.height = max(CHART_HEIGHT, min(height, 30))

    # --- loading --------------------------------------------------------------------------

    def reload(self) -> None:
        """Ask for everything again: service.get, the chart's series, the calendar."""
        if self._reload_timer is not None:
            self._reload_timer.stop()
            self._reload_timer = None
        self._loaded_at = time.monotonic()
        self.fetch("service.get", {"id": self.service_id})
        self.fetch_series(self.range)
        self.fetch("service.calendar", {"id": self.service_id, "months": CALENDAR_MONTHS})

    def fetch_series(self, rng: str) -> None:
        """Ask for the chart's series over ``rng`` (an earlier range's answer is dropped)."""
        self._fetch("service.series", {"id": self.service_id, "range": rng}, "series")

    def fetch(self, method: str, params: dict[str, Any]) -> None:
        """Call ``method``; the answer comes back as a DetailFetched message."""
        self._fetch(method, params, method)

    def _fetch(self, method: str, params: dict[str, Any], group: str) -> None:
        self.run_worker(self._ask(method, params), group=group, exclusive=True, exit_on_error=False)

    async def _ask(self, method: str, params: dict[str, Any]) -> None:
        try:
            result = await self._call(method, params)
        except FeedCallError as exc:
            self.post_message(
                DetailFetched(method, self.service_id, params, None, exc.message, exc.code)
            )
        except FeedClientError as exc:
            self.post_message(DetailFetched(method, self.service_id, params, None, str(exc)))
        else:
            self.post_message(DetailFetched(method, self.service_id, params, result))

    @on(DetailFetched)
    def _on_fetched(self, message: DetailFetched) -> None:
        if message.result is None:
            self._show_problem(message)
            return
        self.query_one("#detail-problem").display = False
        if message.method == "service.get":
            self.detail = message.result
            self.query_one(ServiceHeader).show(message.result)
            self.query_one(RegionView).show(message.result)
            self.query_one(EpisodeList).show(message.result.get("episodes") or [])
            self.query_one(RecentChecks).show(message.result.get("recent_checks") or [])
        elif message.method == "service.series":
            rng = str(message.params.get("range"))
            self.series[rng] = message.result
            if rng == self.range:
                self.query_one(LatencyChart).show(message.result)
        elif message.method == "service.calendar":
            self.query_one(StatusCalendar).show(message.result.get("months") or [])
        self._show_figures()

    def _show_figures(self) -> None:
        self.query_one(FiguresTable).show(self.detail, self.series.get(self.range), self.range)

    def _show_problem(self, message: DetailFetched) -> None:
        line = self.query_one("#detail-problem", Static)
        if message.code == "not_found":
            text = f"✕ The daemon no longer monitors {self.service_id!r}: {message.problem}"
        else:
            text = f"⚠ {message.method} failed: {message.problem} — showing what was last fetched"
        line.update(text)
        line.display = True
        if message.method == "service.series" and self.range not in self.series:
            self.query_one(LatencyChart).show(None, "No data: the daemon did not answer.")

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A bug in a fetch: say so rather than die (the app's handler never sees these)."""
        if event.state == WorkerState.ERROR:
            self.notify(f"Internal error: {event.worker.error!r}", severity="error", timeout=10)

    # --- live updates ---------------------------------------------------------------------

    @on(CheckEvent)
    def _check_arrived(self, message: CheckEvent) -> None:
        """A check of this service arrived: reload, at most every REFRESH_MIN_INTERVAL_S."""
        if message.data.get("service_id") != self.service_id or self._reload_timer is not None:
            return  # a reload is already due
        wait = self._loaded_at + REFRESH_MIN_INTERVAL_S - time.monotonic()
        if wait <= 0:
            self.reload()  # (not a 0 s timer: Textual's Timer divides by its delay)
        else:
            self._reload_timer = self.set_timer(wait, self._timed_reload)

    def _timed_reload(self) -> None:
        self._reload_timer = None
        self.reload()

    @on(StatusEvent)
    def _status_changed(self, message: StatusEvent) -> None:
        """A status event for this service: the header follows at once."""
        data = message.data
        if data.get("kind") == "service" and data.get("service_id") == self.service_id:
            status = str(data.get("status") or "unknown")
            self.query_one(ServiceHeader).set_status(status, data.get("at"))

    def feed_down(self, line: str) -> None:
        """The connection dropped (``line`` says so): what is on show is the last known
        until the reload that follows the reconnection."""
        problem = self.query_one("#detail-problem", Static)
        problem.update(f"{line}\nThe figures below are the last fetched.")
        problem.display = True

    # --- keys ---------------------------------------------------------------------------------

    def action_back(self) -> None:
        """Back to the dashboard, its cursor where it was."""
        self.dismiss(None)

    def action_range(self, rng: str) -> None:
        """Show the chart over ``rng`` (1h, 24h, 7d, 30d)."""
        if rng not in RANGES:
            return
        self.range = rng
        chart = self.query_one(LatencyChart)
        chart.set_range(rng)
        cached = self.series.get(rng)
        chart.show(cached, "" if cached else "Loading…")
        self._show_figures()
        self.fetch_series(rng)

    def action_range_step(self, step: int) -> None:
        """The next shorter (-1) or longer (+1) range, stopping at the ends."""
        i = RANGES.index(self.range) + step
        if 0 <= i < len(RANGES):
            self.action_range(RANGES[i])

    def action_reload(self) -> None:
        """Fetch everything again now."""
        self.reload()
        self.notify("Refreshing…", timeout=1)

    # --- incidents and errors from here (issue 12) -----------------------------------------

    @property
    def context(self) -> ServiceContext:
        """What the screen knows of the service, for ``i`` and ``e``."""
        header = self.query_one(ServiceHeader)
        return ServiceContext(
            self.service_id, header.service_name, header.status, header.since, self.detail
        )

    def action_errors(self) -> None:
        """The full error text of the last check and of the open outage."""
        self.context.show_errors(self.app)

    def action_incident(self) -> None:
        """The service's open incident, else a new one filled in from its outage."""
        self.run_worker(
            self.context.open_incident(self.app, self._call, self.identity, self.names),
            group="incident",
            exclusive=True,
            exit_on_error=False,
        )
