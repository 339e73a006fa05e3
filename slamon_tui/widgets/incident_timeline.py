"""An incident's timeline: one entry per update, newest first, the message rendered as
Markdown (Textual's Markdown widget). Updates are only ever appended, so entries are kept by
update id and only new ones are mounted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Markdown, Static

from slamon_tui.models.incidents import when_text


def entry_heading(update: dict[str, Any], now: datetime) -> str:
    """ "23:01 UTC (12m ago) · alice · identified · customer-visible"."""
    visible = "customer-visible" if update.get("customer_visible", True) else "internal only"
    return (
        f"{when_text(update.get('created_at'), now)} · {update.get('author') or '?'}"
        f" · {update.get('status') or '?'} · {visible}"
    )


class TimelineEntry(Vertical):
    """One update: a heading line and its Markdown message."""

    def __init__(self, update: dict[str, Any], now: datetime) -> None:
        super().__init__(classes="timeline-entry")
        self.update_id = update.get("id")
        self._update = update
        self._now = now

    def compose(self) -> ComposeResult:
        """Heading, then the message."""
        yield Static(entry_heading(self._update, self._now), classes="timeline-heading")
        yield Markdown(str(self._update.get("message") or ""), classes="timeline-message")

    def refresh_heading(self, now: datetime) -> None:
        """Keep "12m ago" current."""
        self._now = now
        self.query_one(".timeline-heading", Static).update(entry_heading(self._update, now))


class IncidentTimeline(Vertical):
    """The updates of one incident, newest first."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: dict[Any, TimelineEntry] = {}

    async def show(self, updates: list[dict[str, Any]], now: datetime) -> None:
        """Show ``updates`` (oldest first, as incident.get sends them): mount the new ones."""
        keys = [u.get("id") for u in updates]
        if any(k not in keys for k in self.entries):
            # Not append-only (another incident's timeline, or a database restored): redo.
            await self.remove_children()
            self.entries.clear()
        new = [u for u in updates if u.get("id") not in self.entries]
        for entry in self.entries.values():
            entry.refresh_heading(now)
        if not new:
            return
        widgets = [TimelineEntry(u, now) for u in reversed(new)]
        for w in widgets:
            self.entries[w.update_id] = w
        if self.children:
            await self.mount_all(widgets, before=0)
        else:
            await self.mount_all(widgets)
