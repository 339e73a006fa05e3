"""Where the public routes get their data: the method registry, called as the status page.

The public routes are anonymous, yet the methods they need (status.get, incident.get,
maintenance.list, service.calendar) are viewer methods: the page calls them with its own
viewer identity, ``status-page``, and hands every reply to ``public.public_view``, which
removes what customers may not see before any renderer runs. No rule is implemented here.

Cost control (the server must not slow probing):

* The public view is rebuilt at most once per ``ttl`` seconds; requests in between share
  it, and concurrent requests for a stale view wait for one rebuild.
* Incident details (incident.get, with updates) are re-read only when an incident's
  version changed.
* The per-day records behind the bar's tooltips (service.calendar) are refreshed in the
  background, one service at a time, every ``days_ttl`` seconds.
* Decoding the status.get reply and building the view run in one worker thread, so the
  event loop keeps starting checks meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..api.context import Caller
from ..api.registry import Registry
from ..encoding import RawJSON
from ..errors import NotFound, SlamonError
from ..models import Identity, Role
from .public import PublicView, public_view

logger = logging.getLogger("slamon.web")

PAGE_IDENTITY = Identity("status-page", Role.VIEWER)
"""Who the public routes call the registry as (read only; never audited)."""
PAST_DAYS = 90
"""Resolved incidents of this many days feed the page, its JSON and the Atom feed."""
PAST_LIMIT = 100
"""At most this many resolved incidents (the newest)."""

T = TypeVar("T")


class PublicSource:
    """The public view and its companions, cached."""

    def __init__(
        self,
        registry: Registry,
        *,
        ttl: float = 2.0,
        days_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.ttl = ttl
        self.days_ttl = days_ttl
        self._clock = clock
        self.caller = Caller(PAGE_IDENTITY, "http:status-page")
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="slamon-web")
        """One worker thread for decoding and rendering (renders never run in parallel)."""
        self._view: PublicView | None = None
        self._view_at = -1e18
        self._view_version = 0
        self._building: asyncio.Task[PublicView] | None = None
        self._incidents: dict[int, tuple[int, dict[str, Any]]] = {}  # id -> (version, reply)
        self._days: dict[str, list[dict[str, Any]]] = {}
        self._days_task: asyncio.Task[None] | None = None
        self._calendars: dict[tuple[str, str, int], tuple[float, dict[str, Any]]] = {}
        self._service_get: dict[str, tuple[float, dict[str, Any]]] = {}

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """A registry method, as the status page."""
        m = self.registry.get(method)
        if m is None:  # a wiring mistake, not a client's
            raise NotFound(f"no method {method!r}")
        return await self.registry.call(m, self.caller, params or {})

    async def in_worker(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self.worker, fn, *args)

    @property
    def version(self) -> int:
        """Changes whenever a new view is built (renders are cached per version)."""
        return self._view_version

    async def view(self) -> PublicView:
        """The public view: at most ``ttl`` seconds old, or the last one while a newer one
        is being built (only the very first call waits for a build)."""
        if self._view is not None and self._clock() - self._view_at < self.ttl:
            return self._view
        if self._building is None:
            self._building = asyncio.create_task(self._rebuild(), name="web-view")
            self._building.add_done_callback(_said)
        if self._view is not None:
            return self._view
        return await asyncio.shield(self._building)

    async def _rebuild(self) -> PublicView:
        try:
            view = await self._build()
            self._view, self._view_at = view, self._clock()
            self._view_version += 1
            return view
        finally:
            self._building = None

    async def _build(self) -> PublicView:
        raw = await self.call("status.get")
        past = await self.call("incident.past", {"days": PAST_DAYS, "limit": PAST_LIMIT})
        maintenance = await self.call("maintenance.list", {"include_past": True})
        status_bytes = raw.data if isinstance(raw, RawJSON) else json.dumps(raw).encode()
        # Active incidents are listed by status.get; details (with updates) when changed.
        status_head = await self.in_worker(json.loads, status_bytes)
        briefs = list(status_head.get("incidents") or []) + list(past.get("items") or [])
        details = []
        for brief in briefs:
            iid, version = int(brief["id"]), int(brief.get("version") or 0)
            hit = self._incidents.get(iid)
            if hit is None or hit[0] != version:
                try:
                    reply = await self.call("incident.get", {"id": iid})
                except NotFound:
                    continue
                self._incidents[iid] = (version, reply)
                hit = self._incidents[iid]
            details.append(hit[1])
        keep = {int(b["id"]) for b in briefs}
        for gone in [i for i in self._incidents if i not in keep]:
            del self._incidents[gone]
        days = dict(self._days)
        self._start_days_refresh()
        return await self.in_worker(
            lambda: public_view(status_head, incidents=details, maintenance=maintenance, days=days)
        )

    # -- the bar's tooltips -------------------------------------------------------------

    def _start_days_refresh(self) -> None:
        if self._days_task is None or self._days_task.done():
            self._days_task = asyncio.create_task(self._refresh_days(), name="web-days")

    async def _refresh_days(self) -> None:
        """Re-read every public service's last four months of day records, one service at
        a time (the first view shows the bar without tooltip figures until they come)."""
        while True:
            view = self._view
            ids = [s.id for s in view.services] if view is not None else []
            for sid in ids:
                try:
                    cal = await self.call("service.calendar", {"id": sid, "months": 4})
                except NotFound:
                    self._days.pop(sid, None)
                    continue
                except SlamonError as exc:
                    logger.debug("day records of %s not read: %s", sid, exc)
                    continue
                self._days[sid] = [d for m in cal["months"] for d in m["days"]]
                await asyncio.sleep(0)
            for gone in [sid for sid in self._days if sid not in ids]:
                del self._days[gone]
            await asyncio.sleep(self.days_ttl if ids else 1.0)

    async def calendars(self, ids: list[str], until: str, months: int) -> dict[str, Any]:
        """service.calendar of these services (cached a minute per service and page)."""
        out: dict[str, Any] = {}
        now = self._clock()
        for sid in ids:
            key = (sid, until, months)
            hit = self._calendars.get(key)
            if hit is None or now - hit[0] > 60.0:
                with contextlib.suppress(NotFound):
                    reply = await self.call(
                        "service.calendar", {"id": sid, "months": months, "until": until}
                    )
                    hit = self._calendars[key] = (now, reply)
            if hit is not None:
                out[sid] = hit[1]
        if len(self._calendars) > 20_000:
            self._calendars.clear()
        return out

    async def uptime_windows(self, sid: str) -> Mapping[str, str] | None:
        """service.get's uptime windows (24h, 7d, 30d, 90d) of one service, a minute old
        at most; None when there is no such active service."""
        now = self._clock()
        hit = self._service_get.get(sid)
        if hit is None or now - hit[0] > 60.0:
            try:
                reply = await self.call("service.get", {"id": sid})
            except NotFound:
                return None
            hit = self._service_get[sid] = (now, reply)
            if len(self._service_get) > 20_000:
                self._service_get.clear()
        uptime: Mapping[str, str] = hit[1]["uptime"]
        return uptime

    async def close(self) -> None:
        for task in (self._days_task, self._building):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.worker.shutdown(wait=False, cancel_futures=True)


def _said(task: asyncio.Task[Any]) -> None:
    """A view build that failed is logged (the requests waiting for it get the error)."""
    if task.cancelled():
        return
    exc = task.exception()
    if isinstance(exc, SlamonError):
        logger.warning("public view not built: %s", exc)
    elif exc is not None:
        logger.error("public view not built", exc_info=exc)
