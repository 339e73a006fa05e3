"""SlamonApp: the dashboard, the key bindings and the one long-lived feed worker.

The worker owns the connection: connect, subscribe, status.get, then post one message per
event. When the connection fails it says why, waits (0.5 s doubling to 5 s) and tries again,
for ever; every (re)connection starts with a fresh status.get, so nothing missed while away
stays missed. Everything else here only forwards messages to the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from slamon_tui.client import DaemonUnreachable, FeedClient, FeedClientError, FeedConnectionLost
from slamon_tui.messages import (
    CheckEvent,
    Connected,
    Connecting,
    Disconnected,
    FeedProblem,
    Snapshot,
    StatusEvent,
)
from slamon_tui.screens.dashboard import DashboardScreen
from slamon_tui.screens.help import HelpScreen
from slamon_tui.screens.service import ServiceScreen

logger = logging.getLogger("slamon.tui")

ClientFactory = Callable[[Path], FeedClient]
TOPICS = ["check", "status"]


class SlamonApp(App[None]):
    """The slamon terminal UI for the daemon whose feed is at ``socket_path``."""

    CSS_PATH = "app.tcss"
    TITLE = "slamon"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("r", "resync", "Resync"),
    ]

    def __init__(
        self,
        socket_path: str | os.PathLike[str],
        *,
        client_factory: ClientFactory = FeedClient,
        retry_initial: float = 0.5,
        retry_max: float = 5.0,
    ) -> None:
        super().__init__()
        self.socket_path = Path(socket_path)
        self.client_factory = client_factory
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.client: FeedClient | None = None
        self.dashboard = DashboardScreen(str(self.socket_path), self.call)
        self._retry_now = asyncio.Event()
        self._resync_running = False

    def get_default_screen(self) -> Screen[Any]:
        """The dashboard is the home screen."""
        return self.dashboard

    def on_mount(self) -> None:
        """Start the feed worker."""
        self.sub_title = str(self.socket_path)
        self.run_feed()

    # --- the feed worker ------------------------------------------------------------------

    @work(exclusive=True, group="feed", exit_on_error=False)
    async def run_feed(self) -> None:
        """Connect, resync, stream events; on any failure wait with backoff and start over."""
        delay = self.retry_initial
        attempt = 0
        while True:
            attempt += 1
            self.post_message(Connecting(str(self.socket_path), attempt))
            client = self.client_factory(self.socket_path)
            missing = False
            goodbye: str | None = None
            try:
                hello = await client.connect()
                # Subscribe before status.get: an event that happens in between is then
                # queued rather than lost (the model drops ones the snapshot already holds).
                await client.call("subscribe", {"topics": TOPICS})
                snapshot = await client.call("status.get", {})
                self.client = client
                attempt, delay = 0, self.retry_initial
                self.post_message(
                    Connected(
                        str(self.socket_path),
                        str(hello.get("node", "?")),
                        str(hello.get("version", "?")),
                    )
                )
                self.post_message(Snapshot(snapshot))
                async for frame in client.events():
                    if frame.get("event") == "goodbye":
                        goodbye = (frame.get("data") or {}).get("reason") or "no reason given"
                        break
                    await self._forward(client, frame)
                reason = f"the daemon shut down ({goodbye})" if goodbye else "connection closed"
            except DaemonUnreachable as exc:
                reason, missing = str(exc), exc.missing
            except FeedClientError as exc:
                reason = str(exc)
            finally:
                self.client = None
                await client.close()
            self.post_message(
                Disconnected(str(self.socket_path), reason, delay, missing, shutdown=goodbye)
            )
            await self._wait_before_retry(delay)
            delay = min(delay * 2, self.retry_max)

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Call ``method`` over the live connection; FeedConnectionLost when there is none."""
        client = self.client
        if client is None:
            raise FeedConnectionLost("not connected to the daemon")
        return await client.call(method, params)

    async def _forward(self, client: FeedClient, frame: dict[str, Any]) -> None:
        topic = frame.get("event")
        data = frame.get("data") or {}
        if topic == "check":
            self.post_message(CheckEvent(data))
        elif topic == "status":
            self.post_message(StatusEvent(data))
        elif topic == "resync":
            logger.info("resync asked: %s", data.get("reason"))
            self.post_message(Snapshot(await client.call("status.get", {})))

    async def _wait_before_retry(self, delay: float) -> None:
        # `r` sets _retry_now to skip the rest of the wait.
        self._retry_now.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._retry_now.wait(), delay)

    @work(exclusive=True, group="resync", exit_on_error=False)
    async def resync(self, quiet: bool = False) -> None:
        """Fetch a fresh status.get over the live connection and show it."""
        self._resync_running = True
        try:
            client = self.client
            if client is None:
                return  # the feed worker resyncs by itself when it reconnects
            self.post_message(Snapshot(await client.call("status.get", {})))
            if not quiet:
                self.notify("Resynced with the daemon.", timeout=2)
        except FeedClientError as exc:
            self.post_message(FeedProblem(f"Resync failed: {exc}"))
        finally:
            self._resync_running = False

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A worker died of a bug: say so, and keep the feed alive."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        logger.error("worker %s failed: %r", event.worker.name, error)
        self.notify(f"Internal error: {error!r}", severity="error", timeout=10)
        if event.worker.group == "feed":
            self.set_timer(self.retry_max, self.run_feed)

    # --- messages from the worker -----------------------------------------------------------

    @on(Connecting)
    def _on_connecting(self, message: Connecting) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        self.dashboard.show_connecting(message.attempt)
        if message.attempt > 1:
            for screen in self._detail_screens():
                screen.feed_down(self.dashboard.connection_text)

    @on(Connected)
    def _on_connected(self, message: Connected) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        self.dashboard.show_connected(message.node, message.version)

    @on(Disconnected)
    def _on_disconnected(self, message: Disconnected) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        self.dashboard.show_disconnected(
            message.reason, message.retry_in, message.daemon_missing, message.shutdown
        )
        for screen in self._detail_screens():
            screen.feed_down(self.dashboard.connection_text)

    @on(Snapshot)
    def _on_snapshot(self, message: Snapshot) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        self.dashboard.show_snapshot(message.result)
        for screen in self._detail_screens():
            screen.reload()  # (re)connected or resynced: what it shows may be stale

    @on(CheckEvent)
    def _on_check(self, message: CheckEvent) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        if not self.dashboard.apply_check(message.data):
            self._resync_for_unknown_service()
        for screen in self._detail_screens(message.data.get("service_id")):
            screen.check_arrived()

    @on(StatusEvent)
    def _on_status(self, message: StatusEvent) -> None:
        if not self.is_running:
            return  # shutting down: the screens may already be gone
        if not self.dashboard.apply_status(message.data):
            self._resync_for_unknown_service()
        data = message.data
        if data.get("kind") == "service":
            for screen in self._detail_screens(data.get("service_id")):
                screen.status_changed(str(data.get("status") or "unknown"), data.get("at"))

    @on(FeedProblem)
    def _on_problem(self, message: FeedProblem) -> None:
        self.notify(message.text, severity="warning")

    def _detail_screens(self, service_id: Any = None) -> list[ServiceScreen]:
        """The open detail screens (of ``service_id`` when given), even under an overlay."""
        return [
            s
            for s in self.screen_stack
            if isinstance(s, ServiceScreen) and service_id in (None, s.service_id)
        ]

    def _resync_for_unknown_service(self) -> None:
        # The services changed on the daemon. One resync at a time: more events for the
        # new service will arrive before the answer does.
        if not self._resync_running:
            self._resync_running = True
            self.resync(quiet=True)

    # --- actions ---------------------------------------------------------------------------

    def action_help(self) -> None:
        """Show the keys and what the symbols mean."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_resync(self) -> None:
        """Resync now; when disconnected, try to connect now instead of waiting."""
        if self.client is None:
            self._retry_now.set()
            self.notify("Not connected: trying again now.", timeout=2)
        else:
            self.resync()


def make_app(
    socket_path: str | os.PathLike[str],
    *,
    client_factory: ClientFactory = FeedClient,
    retry_initial: float = 0.5,
    retry_max: float = 5.0,
) -> SlamonApp:
    """Build the app; the CLI and the tests both use this."""
    return SlamonApp(
        socket_path,
        client_factory=client_factory,
        retry_initial=retry_initial,
        retry_max=retry_max,
    )
