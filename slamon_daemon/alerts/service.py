"""The alerting service the daemon runs: the engine fed by the daemon's events, its changes
written to the store, and the outbox delivered (docs/alerts.md).

Flow: the daemon calls ``on_check`` for every counted check (confirmed down, recovery,
certificate expiry, SLO ledger), publishes incidents through its EventHub (this service is
a sink of topic ``incident``), and the service ticks the engine once a second (grouping
windows, reminders, silences and maintenance that end, burn rates). Every engine call's
``Changes`` (alert states and notifications) is queued and written in one transaction
(``AlertStore.save_alert_changes``) in order; the deliverer then sends the outbox.

Durability: a notification is either in the outbox (sent after any restart, at least once)
or its alert state is not saved either, and the engine, restored from the stored open alerts
and reconciled with the live state, produces it again with the same key. A queue that cannot
be written (the database is away) is kept in memory and written when it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from pydantic import TypeAdapter, ValidationError

from ..clock import Clock
from ..config import Settings
from ..errors import Forbidden, InvalidParams, NotFound, SlamonError
from ..models import Check, Incident, MaintenanceWindow
from ..state import Changes as StateChanges
from ..state import ServiceState
from ..store.alerts import ChannelRow
from ..store.sql import SqlStore
from . import messages
from .channels import Channel, build_channel
from .channels.http import alert_http_client
from .config import AlertChannelConfig, AlertSettings, ChannelConfig
from .config_check import channel_problems, load_alert_settings, problem_lines
from .core import Changes, DownService, UnknownAlert
from .engine import AlertEngine
from .model import DeliveryResult, Rule, Severity
from .outbox import DeliveryAttempt, DeliveryPolicy, OutboxDeliverer
from .persist import StoreOutbox, alert_row, alert_state, outbox_row, silence
from .records import from_record, public_view, secret_values, to_record
from .secretbox import SecretBox, SecretBoxError, load_or_create_key
from .state import AlertState, IncidentEvent, ServiceInfo

logger = logging.getLogger("slamon.alerts")

_CHANNEL: TypeAdapter[Any] = TypeAdapter(AlertChannelConfig)
CERT_RECHECK_S = 3600.0
"""A certificate whose expiry has not changed is looked at again this often."""
_NO_TAGS: frozenset[str] = frozenset()
"""Shared by the services without tags (an empty frozenset is 216 bytes, not a singleton)."""

HELD_INCIDENTS = 1000
"""Incident events held at most while the alerts are not loaded yet (the oldest go first)."""


def alert_settings(settings: Settings, where: str) -> AlertSettings:
    """The alert part of the settings, checked.

    Raises:
        ConfigError: one line per problem (``where: key.path: what; what is allowed``).
    """
    data: dict[str, Any] = {
        "alerts": settings.alerts,
        "alert_channel": settings.alert_channel,
        "service": [
            {"id": sid, "depends_on": deps, "alert_severity": sev, "alert_channels": chans}
            for sid, deps, sev, chans in settings.service_alert_fields()
        ],
    }
    # Checked with the services' alert fields, kept without them: they are read from the
    # settings (``_service_infos``); 50,000 services' took 29 MB for the daemon's life.
    return load_alert_settings(data, where).model_copy(update={"service": []})


def default_key_file(secret_file: Path) -> Path:
    """Beside the daemon's secret file."""
    return secret_file.with_name(secret_file.name + ".alerts-key")


class LiveServices(Protocol):
    @property
    def services(self) -> Mapping[str, ServiceState]: ...


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    """A channel as the service runs it."""

    config: ChannelConfig
    source: str  # config | admin
    sender: Channel


class _WatchedOutbox(StoreOutbox):
    """The store's outbox, noting each channel's last attempt in memory (the dashboard)."""

    def __init__(self, outbox: Any, last: dict[str, tuple[bool, str | None]]) -> None:
        super().__init__(outbox)
        self.last = last

    async def record_attempt(self, attempt: DeliveryAttempt) -> None:
        await super().record_attempt(attempt)
        self.last[attempt.channel_id] = (attempt.result.ok, attempt.result.error)


class AlertingService:
    """The daemon's alerting. ``run(stop)`` until stopped; the hooks never block."""

    def __init__(
        self,
        settings: Settings,
        store: SqlStore,
        live: LiveServices,
        clock: Clock,
        *,
        where: str,
        key_file: Path,
        maintenance: Callable[[], Sequence[MaintenanceWindow]],
        ready: Callable[[], Awaitable[bool]],
        get_incident: Callable[[int], Awaitable[Incident | None]],
        leads: Callable[[], bool] = lambda: True,
        checked: AlertSettings | None = None,
    ) -> None:
        # ``checked``: these settings' alert part, already checked (slamond checks them
        # before it starts; checking 50,000 services' alert fields again took a second).
        self.cfg = checked if checked is not None else alert_settings(settings, where)
        self.settings = settings
        self.store = store
        self.live = live
        self.clock = clock
        self.node = settings.daemon.node
        self.key_file = key_file
        self._maintenance = maintenance
        self._ready = ready
        self._get_incident = get_incident
        self._leads = leads
        """Whether this node sends alerts (a cluster's singleton; always when alone)."""
        self.client: httpx.AsyncClient = alert_http_client()
        self.channels: dict[str, ChannelEntry] = {}
        self.engine = AlertEngine(self.cfg.alerts, [], [], node=self.node)
        self.last_attempt: dict[str, tuple[bool, str | None]] = {}
        """Per channel: whether its last delivery attempt (this run) succeeded, and why not."""
        self.deliverer = OutboxDeliverer(
            _WatchedOutbox(store.outbox, self.last_attempt),
            {},
            clock=clock.now,
            policy=self._policy(),
            worker=f"{self.node}:{os.getpid()}",
        )
        self.loaded = False
        self._held_incidents: deque[tuple[str, int]] = deque(maxlen=HELD_INCIDENTS)
        """Incident events met while this node leads but has not loaded yet (the daemon
        answers before the alerts are loaded): announced once they are."""
        self._queue: deque[Changes] = deque()
        self._dirty = asyncio.Event()
        self._flushing = asyncio.Lock()
        self._down_seen: dict[str, datetime] = {}
        self._certs: dict[str, tuple[datetime, datetime]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._box: SecretBox | None = None
        self.write_error: str | None = None
        self.on_change: Callable[[dict[str, Any]], None] = lambda change: None
        """Told of each change of the stored alert state made here (a cluster sends it to
        the other nodes: ``remote_change`` there)."""
        self._copy_stale = False
        self._copied = False  # whether a node that does not lead has read its copy yet
        self._copying = asyncio.Lock()
        self._loading_channels = asyncio.Lock()
        """Held while the channels are read: each read takes the settings of its own start,
        so the last one to run has the newest file (a reload during a read queues another)."""
        self._channels_read = False

    def _policy(self) -> DeliveryPolicy:
        a = self.cfg.alerts
        return DeliveryPolicy(
            retry_base_s=a.retry_base,
            retry_max_s=a.retry_max,
            give_up_after_s=a.give_up_after,
            idle_poll_s=2.0,
        )

    # -- start -----------------------------------------------------------------------------

    def box(self) -> SecretBox:
        """The key of stored channel secrets (created on first use, mode 0600).

        Raises:
            SecretBoxError: the key file is unusable (said with what to do).
        """
        if self._box is None:
            self._box = SecretBox(load_or_create_key(self.key_file))
        return self._box

    async def _load_channels(self) -> None:
        """The file's channels (stored, sealed, as the source of truth for their ids) and the
        admins' channels from the store."""
        async with self._loading_channels:
            await self._read_channels()
            self._channels_read = True

    async def _read_channels(self) -> None:
        now = self.clock.now()
        configs: dict[str, tuple[ChannelConfig, str]] = {
            c.id: (c, "config") for c in self.cfg.alert_channel
        }
        try:
            box = self.box()
            rows = [self._row(c, "config", "config", box) for c in self.cfg.alert_channel]
            await self.store.sync_config_channels(rows, now)
            for r in await self.store.list_channel_rows():
                if r.source != "admin" or r.id in configs:
                    continue
                try:
                    configs[r.id] = (from_record(r.config, r.secrets, box), "admin")
                except (SecretBoxError, ValidationError, ValueError) as exc:
                    logger.error("alert channel %s cannot be used: %s", r.id, _short(exc))
        except SecretBoxError as exc:
            logger.error("%s; only the config file's alert channels are used", exc)
        self._set_channels(configs)

    def _row(self, c: ChannelConfig, source: str, by: str, box: SecretBox) -> ChannelRow:
        config_json, secrets_json = to_record(c, box)
        return ChannelRow(
            c.id, c.type, c.name or c.id, source, config_json, secrets_json, c.enabled, by
        )

    def _set_channels(self, configs: Mapping[str, tuple[ChannelConfig, str]]) -> None:
        self.channels = {
            cid: ChannelEntry(c, source, build_channel(c, self.client, self.clock.now))
            for cid, (c, source) in sorted(configs.items())
        }
        enabled = [e.config for e in self.channels.values() if e.config.enabled]
        self.engine.configure(self.cfg.alerts, enabled, self._service_infos())
        self.deliverer.channels = {
            cid: e.sender for cid, e in self.channels.items() if e.config.enabled
        }
        self.deliverer.rates = {
            cid: float(e.config.messages_per_minute()) for cid, e in self.channels.items()
        }

    def _service_infos(self) -> list[ServiceInfo]:
        fields = {f[0]: f for f in self.settings.service_alert_fields()}
        target = self.settings.daemon.sla_target
        out = []
        for sid, st in self.live.services.items():
            f = fields.get(sid)
            s = st.service
            out.append(
                ServiceInfo(
                    id=sid,
                    name=s.name,
                    tags=frozenset(s.tags) if s.tags else _NO_TAGS,
                    depends_on=tuple(f[1]) if f else (),
                    severity=Severity(f[2]) if f else Severity.CRITICAL,
                    channels=tuple(f[3]) if f and f[3] is not None else None,
                    slo_target=s.sla_target or target,
                )
            )
        return out

    def services_changed(self) -> None:
        """The live services changed (added, edited, paused): route with the new list."""
        enabled = [e.config for e in self.channels.values() if e.config.enabled]
        self.engine.configure(self.cfg.alerts, enabled, self._service_infos())

    async def _load(self) -> None:
        read_with = self.cfg
        await self._load_channels()
        # What an earlier slamond of this node (killed mid-send) still leases is sent now, not
        # when its lease ends (minutes later): it is dead, one daemon runs per node.
        released = await self.store.outbox.release_earlier_leases(
            f"{self.node}:", self.deliverer.worker
        )
        if released:
            logger.info("alerts: %d notifications an earlier run was sending are retried", released)
        states = [alert_state(r) for r in await self.store.open_alerts()]
        silences = [silence(r) for r in await self.store.list_silences(since=self.clock.now())]
        self.engine.replace(states, silences)
        self.engine.set_maintenance(self._maintenance())
        if self.cfg.alerts.slo_alerts:
            await self._seed_slo()
        down = {
            sid: DownService(st.episode.started_at, st.episode.cause, st.episode.error)
            for sid, st in self.live.services.items()
            if st.confirmed_down and st.episode is not None
        }
        self._down_seen = {sid: d.episode for sid, d in down.items()}
        self._take(self.engine.reconcile(self.clock.now(), down))
        self.loaded = True
        if self.cfg is not read_with:  # a reload came while loading: it left the channels here
            await self._load_channels()
        while self._held_incidents:
            self._spawn(self._incident(*self._held_incidents.popleft()))
        logger.info(
            "alerts: %d channels, %d open alerts restored, %d pending in the outbox",
            len(self.channels),
            len([a for a in states if a.open]),
            await self.store.outbox.pending_count(),
        )

    async def _seed_slo(self) -> None:
        """The burn-rate ledgers after a start: the hourly rollups of the last 3 days, then
        the raw checks of the last 6 hours (minute windows) — two reads for every service
        (a read per service and kind took 10 s of CPU after ready with 50,000 services)."""
        now = self.clock.now()
        hours_since = (now - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
        recent_since = now - timedelta(hours=6)
        hours, checks = await self.store.slo_seed(hours_since, recent_since)
        by_hours: dict[str, list[tuple[datetime, int, int]]] = {}
        for sid, start, bad, total in hours:
            by_hours.setdefault(sid, []).append((start, bad, total))
        by_checks: dict[str, list[tuple[datetime, bool]]] = {}
        for sid, at, failed in checks:
            by_checks.setdefault(sid, []).append((at, failed))
        for sid in list(self.live.services):
            self.engine.seed_slo(sid, by_hours.get(sid, ()), by_checks.get(sid, ()))

    # -- running ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for the database (and, in a cluster, for the alert-sending singleton), load,
        then tick, write and deliver until ``stop`` — or until another node leads, then wait
        to lead again (the state is in the store: a new leader restores it and reconciles).

        The HTTP client lives as long as the service, not as one run: a run that fails is
        restarted by the daemon (``_keep_running``) and must deliver on an open client, so it
        is closed only when ``stop`` ends the run (and opened again by a later run)."""
        if self.client.is_closed:  # a run after a stop: its channels get the new client
            self.client = alert_http_client()
            self._set_channels({cid: (e.config, e.source) for cid, e in self.channels.items()})
        try:
            while not stop.is_set():
                if await self._wait_to_lead(stop):
                    await self._serve(stop)
        finally:
            if stop.is_set():
                await self.client.aclose()

    async def _wait_to_lead(self, stop: asyncio.Event) -> bool:
        """Load once the database answers and this node leads; False when stopped first."""
        while not stop.is_set():
            try:
                if self._leads() and await self._ready():
                    await self._load()
                    return True
                if not self._copied and await self._ready():  # another node leads
                    await self._refresh_copy()
                    self._copied = True
            except SlamonError as exc:
                logger.warning("alerts not loaded yet (retrying): %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
        return False

    async def _serve(self, stop: asyncio.Event) -> None:
        until = asyncio.Event()  # stop, or the lead lost
        delivering = asyncio.create_task(self.deliverer.run(until), name="alert delivery")
        try:
            while not stop.is_set():
                if not self._leads():
                    logger.info("alerts: another node sends them now")
                    break
                self.engine.set_maintenance(self._maintenance())
                self._take(self.engine.tick(self.clock.now()))
                await self.flush()
                self._dirty.clear()
                waiters = [
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self._dirty.wait()),
                ]
                try:
                    await asyncio.wait(
                        waiters, timeout=self._next_tick_s(), return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    for w in waiters:
                        w.cancel()
            await self.flush()
        except asyncio.CancelledError:
            delivering.cancel()  # cancelled rather than stopped: the deliverer will not stop
            raise
        finally:
            until.set()
            self.loaded = False  # the hooks idle until this node leads (and loads) again
            self._copied = False  # its engine is now a copy, read again from the store
            with contextlib.suppress(asyncio.CancelledError):
                await delivering

    def _next_tick_s(self) -> float:
        """Seconds to the next tick: 1 s, or sooner when a grouping window closes before."""
        window = timedelta(seconds=self.cfg.alerts.grouping_window)
        closes = [
            a.group_at + window
            for a in self.engine.alerts.values()
            if a.group_at is not None and (a.status.value == "pending" or a.resolve_pending)
        ]
        if not closes:
            return 1.0
        wait = (min(closes) - self.clock.now()).total_seconds() + 0.001
        return max(0.001, min(1.0, wait))

    def _take(self, changes: Changes) -> None:
        if changes:
            self._queue.append(changes)
            self._dirty.set()

    async def flush(self) -> None:
        """Write the queued changes in order (each in one transaction); keep what fails."""
        async with self._flushing:  # one writer at a time: the loop and a feed method
            await self._flush()

    async def _flush(self) -> None:
        if not self._queue:
            return
        # Everything queued, in order, in one transaction: a storm of 1,000 confirmations
        # is one commit, not 1,000 (each waiting for SQLite's write lock behind the checks).
        batch = list(self._queue)
        try:
            await self.store.save_alert_changes(
                [alert_row(a) for c in batch for a in c.states],
                [outbox_row(n) for c in batch for n in c.notifications],
                self.clock.now(),
            )
        except SlamonError as exc:
            if self.write_error is None:
                logger.error("alert changes not written yet (kept, retried): %s", exc)
            self.write_error = str(exc)
            return
        self.write_error = None
        for _ in batch:
            self._queue.popleft()
        if any(c.states for c in batch):
            self.on_change({"action": "changed"})
        if any(c.notifications for c in batch):
            self.deliverer.wake.set()

    # -- hooks of the daemon ---------------------------------------------------------------

    def on_check(self, check: Check, changes: StateChanges, st: ServiceState | None) -> None:
        """A counted check: confirmed down, recovery, certificate, SLO ledger."""
        if not self.loaded or st is None:
            return
        sid, now = check.service_id, self.clock.now()
        self.engine.record_check(sid, check.started_at, check.failed, check.maintenance)
        ep = st.episode
        if st.confirmed_down and ep is not None and self._down_seen.get(sid) != ep.started_at:
            self._down_seen[sid] = ep.started_at
            self._take(
                self.engine.service_down(sid, ep.started_at, now, cause=ep.cause, error=ep.error)
            )
        done = changes.episode
        if done is not None and done.ended_at is not None:
            self._down_seen.pop(sid, None)
            self._take(self.engine.service_recovered(sid, done.started_at, done.ended_at))
        if check.cert_expires_at is not None:
            seen = self._certs.get(sid)
            if (
                seen is None
                or seen[0] != check.cert_expires_at
                or (now - seen[1]).total_seconds() > CERT_RECHECK_S
            ):
                self._certs[sid] = (check.cert_expires_at, now)
                self._take(self.engine.certificate(sid, check.cert_expires_at, now))

    def publish(self, topic: str, data: dict[str, Any]) -> None:
        """EventHub sink: incidents created, updated (customer-visible), resolved."""
        if topic != "incident":
            return
        action = str(data.get("action"))
        inc = data.get("incident") or {}
        if action not in ("created", "update_added", "resolved") or inc.get("id") is None:
            return
        if self.loaded:
            self._spawn(self._incident(action, int(inc["id"])))
        elif self._leads():  # starting (or the database is away): announced once loaded
            if len(self._held_incidents) == HELD_INCIDENTS:
                logger.warning("alerts not loaded yet: an incident event is not announced")
            self._held_incidents.append((action, int(inc["id"])))

    def has_subscribers(self, topic: str) -> bool:
        return topic == "incident"

    async def _incident(self, action: str, incident_id: int) -> None:
        try:
            inc = await self._get_incident(incident_id)
        except SlamonError as exc:
            logger.error("incident %s not read for alerts: %s", incident_id, exc)
            return
        if inc is None:
            return
        self._take(self.engine.incident(incident_event(inc, action, self.clock.now())))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- what the feed asks (api/alerts.py) ------------------------------------------------

    async def alerts(self, *, recent_hours: float = 24.0) -> list[AlertState]:
        """Open alerts (the engine's, newest first), then recently resolved ones."""
        open_ = sorted(self.engine.alerts.values(), key=lambda a: a.opened_at, reverse=True)
        seen = {a.alert_id for a in open_}
        since = self.clock.now() - timedelta(hours=recent_hours)
        stored = [alert_state(r) for r in await self.store.recent_alerts(since)]
        return [a.copy() for a in open_] + [a for a in stored if a.alert_id not in seen]

    async def acknowledge(self, alert_id: str, by: str) -> AlertState:
        """Raises NotFound: no open alert has this id."""
        now = self.clock.now()
        if not self.loaded:  # another node sends the alerts: the store is the truth
            if not await self.store.acknowledge_alert(alert_id, by, now):
                raise NotFound(f"no open alert {alert_id!r}")
            self.on_change({"action": "acked", "alert_id": alert_id})
            self._spawn(self._remote_change({"action": "acked", "alert_id": alert_id}))  # here too
            rows = await self.store.open_alerts()
            stored = next((r for r in rows if r.alert_id == alert_id), None)
            if stored is None:  # resolved meanwhile
                raise NotFound(f"no open alert {alert_id!r}")
            return alert_state(stored)
        a = self.engine.alerts.get(alert_id)
        if a is None or not a.open:
            raise NotFound(f"no open alert {alert_id!r}")
        await self.flush()  # its state row first
        if not await self.store.acknowledge_alert(alert_id, by, now):
            raise NotFound(f"no open alert {alert_id!r} (not stored yet; try again)")
        try:
            self._take(self.engine.acknowledge(alert_id, by, now))
        except UnknownAlert as exc:
            raise NotFound(str(exc)) from None
        await self.flush()
        self.on_change({"action": "acked", "alert_id": alert_id})
        return self.engine.alerts[alert_id].copy()

    async def silence(
        self, services: Sequence[str], rules: Sequence[str], reason: str, by: str, seconds: float
    ) -> dict[str, Any]:
        now = self.clock.now()
        row = await self.store.create_silence(
            services, rules, reason, by, now, now + timedelta(seconds=seconds)
        )
        self.engine.add_silence(silence(row))
        self.on_change({"action": "silenced", "silence_id": row.id})
        return silence_dict(row)

    async def unsilence(self, silence_id: int, by: str) -> dict[str, Any]:
        now = self.clock.now()
        row = await self.store.cancel_silence(silence_id, by, now)
        if row is None:
            raise NotFound(f"no silence {silence_id}")
        self.engine.cancel_silence(silence_id, now)
        self._dirty.set()  # what it muted and still stands is announced at the next tick
        self.on_change({"action": "unsilenced", "silence_id": silence_id})
        return silence_dict(row)

    # -- several nodes (docs/cluster.md) ---------------------------------------------------

    def remote_change(self, data: dict[str, Any]) -> None:
        """Another node changed the stored alert state: the node sending alerts applies an
        acknowledgement or silence made there (its reminders stop, the silence mutes), a
        node that does not lead refreshes the copy its clients read."""
        self._spawn(self._remote_change(data))

    async def _remote_change(self, data: dict[str, Any]) -> None:
        try:
            if not self.loaded:
                await self._refresh_copy()
            elif data.get("action") == "acked":
                await self._apply_ack(str(data.get("alert_id")))
            elif data.get("action") in ("silenced", "unsilenced"):
                await self._apply_silences()
        except SlamonError as exc:
            logger.warning("alert change of another node not applied yet: %s", exc)

    async def _apply_ack(self, alert_id: str) -> None:
        a = next((r for r in await self.store.open_alerts() if r.alert_id == alert_id), None)
        if a is None or a.acked_by is None or a.acked_at is None or not self.loaded:
            return
        with contextlib.suppress(UnknownAlert):
            self._take(self.engine.acknowledge(alert_id, a.acked_by, a.acked_at))

    async def _apply_silences(self) -> None:
        now = self.clock.now()
        active = {r.id: silence(r) for r in await self.store.list_silences(since=now)}
        if not self.loaded:
            return
        for s in active.values():
            self.engine.add_silence(s)
        for sid, s in list(self.engine.silences.items()):
            if sid not in active and s.active(now):  # cancelled on another node
                self.engine.cancel_silence(sid, now)
        self._dirty.set()

    async def _refresh_copy(self) -> None:
        """A node that does not lead: its engine (idle) holds the stored open alerts and
        active silences, read again after each change (for alert.list and the dashboard)."""
        self._copy_stale = True
        if self._copying.locked():
            return  # the refresh under way reads again
        async with self._copying:
            while self._copy_stale and not self.loaded:
                self._copy_stale = False
                states = [alert_state(r) for r in await self.store.open_alerts()]
                rows = await self.store.list_silences(since=self.clock.now())
                if not self.loaded:
                    self.engine.replace(states, [silence(r) for r in rows])

    async def silences(self) -> list[dict[str, Any]]:
        return [silence_dict(r) for r in await self.store.list_silences(since=self.clock.now())]

    async def channel_list(self) -> list[dict[str, Any]]:
        health = await self.store.outbox.health()
        out = []
        for cid, e in self.channels.items():
            h = health.get(cid)
            view = public_view(e.config)
            view.update(
                source=e.source,
                target=e.sender.target,
                pending=h.pending if h else 0,
                failed=h.failed if h else 0,
                delivered=h.delivered if h else 0,
                last_error=h.last_error if h else None,
                failing=bool(h and h.last_attempt_ok is False),
                last_attempt_at=h.last_attempt_at.isoformat() if h and h.last_attempt_at else None,
            )
            out.append(view)
        return out

    async def test_channel(self, channel_id: str, by: str) -> DeliveryResult:
        e = self.channels.get(channel_id)
        if e is None:
            raise NotFound(f"no alert channel {channel_id!r}; known: {sorted(self.channels)}")
        fields = messages.test_fields(channel_id, self.node, self.clock.now(), by)
        return await e.sender.send_test(fields)

    async def save_channel(self, data: dict[str, Any], by: str) -> dict[str, Any]:
        """Add or replace an admin channel (the file's channels are changed in the file).
        Replacing one of the same type, a secret left out keeps its stored value (a form
        shows secrets masked and sends only those retyped).

        Raises:
            InvalidParams: the channel is not valid (what was wrong by key, secrets never
                echoed).
            Forbidden: the config file names this channel.
            SecretBoxError: the key file is unusable.
        """
        stored = self.channels.get(str(data.get("id")))
        if stored is not None and stored.source == "config":
            raise Forbidden(
                f"alert channel {stored.config.id!r} comes from the config file; change it there"
            )
        if stored is not None and stored.config.type == data.get("type"):
            data = {**secret_values(stored.config), **data}
        try:
            cfg = _CHANNEL.validate_python(data)
        except ValidationError as exc:
            lines = problem_lines(exc, "channel", {"channel": data})
            raise InvalidParams(
                "; ".join(line.removeprefix("channel: ") for line in lines),
                channel_problems(exc),
            ) from None
        assert isinstance(cfg, ChannelConfig)
        await self.store.save_channel_row(self._row(cfg, "admin", by, self.box()), self.clock.now())
        configs = {cid: (e.config, e.source) for cid, e in self.channels.items()}
        configs[cfg.id] = (cfg, "admin")
        self._set_channels(configs)
        return public_view(cfg)

    async def delete_channel(self, channel_id: str) -> None:
        current = self.channels.get(channel_id)
        if current is None:
            raise NotFound(f"no alert channel {channel_id!r}")
        if current.source == "config":
            raise Forbidden(
                f"alert channel {channel_id!r} comes from the config file; remove it there"
            )
        await self.store.delete_channel_row(channel_id)
        configs = {
            cid: (e.config, e.source) for cid, e in self.channels.items() if cid != channel_id
        }
        self._set_channels(configs)

    async def deliveries(self, channel_id: str | None, limit: int) -> list[dict[str, Any]]:
        """The delivery log: failures first (newest first), then the rest."""
        rows = await self.store.outbox.deliveries(channel_id=channel_id, limit=limit)
        rows.sort(key=lambda d: (d.ok, -d.at.timestamp()))
        return [
            {
                "id": d.id,
                "outbox_id": d.outbox_id,
                "channel": d.channel_id,
                "at": d.at.isoformat(),
                "ok": d.ok,
                "code": d.code,
                "latency_ms": round(d.latency_ms, 1),
                "error": d.error,
                "retry_after_s": d.retry_after_s,
                "permanent": d.permanent,
                "answer": d.answer,
                "event": d.event,
                "title": d.title,
                "status": d.status,
            }
            for d in rows
        ]

    def summary(self) -> dict[str, Any]:
        """For status.get and the dashboard (no I/O): firing alerts, active silences, failing
        channels, and each service's open outage alert (what its row's keys act on)."""
        now = self.clock.now()
        firing = [a for a in self.engine.alerts.values() if a.open]
        by_service: dict[str, dict[str, Any]] = {}
        for a in firing:
            if a.rule is Rule.DOWN:
                by_service[a.service_id] = {
                    "alert_id": a.alert_id,
                    "acked_by": a.acked_by,
                    "suppressed_by": a.suppressed_by,
                }
        return {
            "enabled": self.cfg.alerts.enabled,
            "firing": len(firing),
            "unacknowledged": len([a for a in firing if a.acked_by is None]),
            "silenced": len([a for a in firing if (a.suppressed_by or "").startswith("silence:")]),
            "silences": len([s for s in self.engine.silences.values() if s.active(now)]),
            "channels": len(self.channels),
            "failing_channels": sorted(
                c for c, (ok, _e) in self.last_attempt.items() if not ok and c in self.channels
            ),
            "write_error": self.write_error,
            "by_service": by_service,
        }

    async def reload(self, settings: Settings, where: str) -> list[str]:
        """A reload of the config file: new [alerts], channels and service fields.

        Raises:
            ConfigError: the alert settings are not valid (nothing changed).
        """
        cfg = alert_settings(settings, where)
        before = {c.id for c in self.cfg.alert_channel}
        changed = cfg != self.cfg
        self.cfg, self.settings = cfg, settings
        self.deliverer.policy = self._policy()
        if self.loaded or self._channels_read:  # read: a reload's answer shows its channels
            await self._load_channels()
        else:
            self.services_changed()
        if not changed:
            return []
        after = {c.id for c in cfg.alert_channel}
        return [
            f"alerts: {len(after)} channels from the file ({', '.join(sorted(after)) or 'none'})"
            + (f"; removed {', '.join(sorted(before - after))}" if before - after else "")
        ]


def incident_event(inc: Incident, action: str, now: datetime) -> IncidentEvent:
    last = inc.updates[-1] if inc.updates else None
    kind = {"created": "created", "resolved": "resolved"}.get(action, "updated")
    return IncidentEvent(
        kind=kind,
        incident_id=int(inc.id or 0),
        title=inc.title,
        status=inc.status,
        severity=inc.severity,
        priority=inc.priority,
        services=tuple(inc.services),
        at=last.created_at if last is not None and kind == "updated" else now,
        message=last.message if last else inc.description,
        author=last.author if last else inc.created_by,
        update_id=last.id if last is not None and kind == "updated" else None,
        customer_visible=last.customer_visible if last is not None else True,
    )


def silence_dict(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "services": list(r.services),
        "rules": list(r.rules),
        "reason": r.reason,
        "created_by": r.created_by,
        "created_at": r.created_at.isoformat(),
        "expires_at": r.expires_at.isoformat(),
        "cancelled_at": r.cancelled_at.isoformat() if r.cancelled_at else None,
        "cancelled_by": r.cancelled_by,
    }


def alert_dict(a: AlertState, now: datetime) -> dict[str, Any]:
    """The wire form of an alert (docs/feed.md)."""
    d = a.to_dict()
    d["open"] = a.open
    d["acknowledged"] = a.acked_by is not None
    d["silenced"] = bool(a.suppressed_by and a.suppressed_by.startswith("silence:"))
    d["duration_s"] = round(((a.resolved_at or now) - a.opened_at).total_seconds(), 3)
    return d


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return f"{exc.error_count()} invalid settings"
    return str(exc)
