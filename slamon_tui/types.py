"""What the app hands its screens instead of itself: a way to call the daemon, and the
names of the services. No Textual here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

FeedCall = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""Call a feed method over the live connection (``FeedSession.call``): the result, or
FeedCallError (the daemon refused) / FeedClientError (no connection)."""

ServiceNames = Callable[[], list[tuple[str, str]]]
"""The services as (id, name) in the dashboard's order (for names and the editor's list)."""
