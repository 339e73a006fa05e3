"""The maintenance windows in force: read from the store, asked at every check (SPEC §3.7).

A check made inside a window of its service counts for nothing (rollup.py); the windows that
have not ended are kept in memory and re-read whenever one is created or cancelled.
"""

from __future__ import annotations

from datetime import datetime

from .clock import Clock
from .models import MaintenanceWindow
from .store.base import Store


class MaintenanceCalendar:
    """The maintenance windows that have not ended, as last read from the store."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self.windows: list[MaintenanceWindow] = []

    async def reload(self) -> None:
        """Re-read the windows that have not ended.

        Raises:
            StoreError: the database failed; the windows read before stay in force.
        """
        self.windows = await self._store.list_maintenance(since=self._clock.now())

    def covers(self, service_id: str, at: datetime) -> bool:
        """Whether ``service_id`` is in maintenance at ``at`` (asked at every check)."""
        if not self.windows:
            return False
        return any(w.covers(service_id, at) for w in self.windows)
