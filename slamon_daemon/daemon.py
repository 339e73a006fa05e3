"""The daemon's lifecycle: startup → run → shutdown (``slamond``), and the wiring of its parts.

Data flows one way: config → scheduler → probe → state → (writer/store, incident tracker,
events). Startup opens the store, takes the daemon lock (one daemon per database and node),
applies migrations, upserts the services of the config file, warms the live state from the
store, then starts the feed, the scheduler and the writer. When the database cannot be
reached, slamond starts anyway on the config file's services, probes, journals and serves,
and sets the database up when it answers (store_link.py). SIGTERM/SIGINT set a flag;
shutdown lets in-flight checks finish, flushes the writer, says goodbye to clients.

The methods clients call (api/) get an ``ApiContext`` built here, never the Daemon; the
Daemon answers their hooks (services_changed, maintenance_changed, incidents_changed, stats).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import logging
import os
import resource
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from . import __version__, malloc, protocol
from .alerts.config import AlertSettings
from .alerts.service import AlertingService, alert_settings, default_key_file
from .api.catalog import api_methods
from .api.context import ApiContext
from .api.presence import end_presence
from .api.registry import Registry
from .auth import Auth, load_or_create_secret
from .clock import Clock, SystemClock
from .cluster.health import HealthWatch
from .cluster.leadership import ALERTS, INCIDENTS, UPKEEP, Leadership, SoleLeader
from .cluster.node import ClusterNode
from .cluster.notify import PRESENCE_SYNC, EventRelay, Listen
from .config import DaemonConfig, Settings, load_settings, secret_file_for, spool_dir_for
from .errors import ConfigError, SlamonError
from .events import EventHub
from .feed import FeedServer
from .file_modes import loose_files
from .incident_tracker import IncidentTracker
from .incidents import PresenceBoard
from .listener import (
    ConnectionLimits,
    default_max_connections,
    raise_open_files_limit,
    reserved_descriptors,
)
from .logs import set_level, setup_logging
from .loop import install_fast_loop
from .maintenance import MaintenanceCalendar
from .models import Check, OutageEpisode, Service, ServiceStatus, Transition
from .overload import OverloadWatch
from .probe import Prober
from .reload import (
    ReloadHook,
    ReloadResult,
    config_label,
    live_settings,
    restart_needed,
    services_line,
)
from .rollup import Rollup, link_previous, rollup_deltas
from .scheduler import Scheduler
from .spool import Spool
from .state import (
    BAR_PAGE,
    BAR_READERS,
    HISTORY_DAYS,
    SPARKLINE_POINTS,
    BarHistory,
    LiveState,
    first_overall,
)
from .store import Store, SyncResult, cluster_parts, database_location, open_store
from .store.cluster import ClusterStore, Event
from .store.filelock import FileLock
from .store.sql import SqlStore
from .store_link import DatabaseTaken, StoreLink
from .web.metrics_source import MetricsBook
from .web.server import HttpServer, http_server
from .writer import CheckWriter

logger = logging.getLogger("slamon.daemon")

HEALTH_DAILY_KEPT_DAYS = 400
"""Daily node-health rows are kept as long as rollups (hourly ones as raw checks)."""

EVENTS_KEPT_S = 3600.0
"""A cluster's events table keeps an hour (a node away longer reloads from the tables)."""

RECHECK_AFTER_S = 5.0
"""A failed check (or a first success after an outage) is re-checked this soon at most."""

GC_THRESHOLDS = (50_000, 5, 10)
"""The collector's thresholds once started (CPython's: 700, 10, 10). A check's objects are
freed by their reference counts within its second, but at CPython's 700 a young collection
came every few hundred allocations and promoted the objects of the ~500 checks in flight;
they piled up as "long-lived" and set off a full collection (which walks the whole state:
0.3-0.9 s of CPU with 50,000 services) every 1-3 s, about a third of the daemon's CPU at
50,000 services on PostgreSQL and the stalls of its start lateness (docs/benchmarks.md,
h2 stop 20). At 50,000 the checks in flight die young; a young collection costs more
(up to ~0.1 s) but comes every few seconds."""

GC_SETTLE_AFTER_S = 15.0
GC_SETTLE_MAX_S = 900.0
"""The first round of checks is over this long after the longest interval (at most 15
minutes): ``Daemon._settle_gc`` freezes what it built."""


_Stored = tuple[
    list[Service],
    BarHistory,
    dict[str, list[Check]],
    list[OutageEpisode],
    dict[str | None, Transition],
]
"""What a start loads from the database (``Daemon._read_stored``)."""


async def read_past_days(
    store: Store, bars: BarHistory, first: date, last: date, service_ids: Sequence[str]
) -> None:
    """Add the past days ``first`` to ``last`` of ``service_ids`` to ``bars``
    (``Store.bar_counts``), ``BAR_PAGE`` services a page, ``BAR_READERS`` pages side by
    side. One page failed: the others stop, and the error is raised."""
    pages = collections.deque(
        service_ids[i : i + BAR_PAGE] for i in range(0, len(service_ids), BAR_PAGE)
    )

    async def read() -> None:
        while pages:
            rows = await store.bar_counts(first, last, pages.popleft())
            bars.add_counts(first, rows)

    readers = [asyncio.ensure_future(read()) for _ in range(BAR_READERS)]
    try:
        await asyncio.gather(*readers)
    finally:
        for r in readers:
            r.cancel()


class Daemon:
    """One slamon daemon. ``await daemon.run()`` until ``request_stop()``."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        prober: Prober | None = None,
        clock: Clock | None = None,
        notice: str | None = None,
        config_path: Path | None = None,
        alert_cfg: AlertSettings | None = None,
    ) -> None:
        self.settings = settings
        self._alert_cfg = alert_cfg
        """The alert settings ``slamond`` checked before starting (not checked twice)."""
        self.config_path = config_path
        self.reload_hooks: list[ReloadHook] = []
        """Parts that own settings of their own (the alerts) and take them on reload
        (reload.py: ``async def hook(settings) -> list[str]``)."""
        self._reload_lock = asyncio.Lock()
        cfg = settings.daemon
        self.clock = clock or SystemClock()
        self.store = store or open_store(cfg.database_url)
        # issue 15: a node of a cluster (PostgreSQL and [daemon] region), else alone.
        self.cluster: ClusterNode | None = None
        self.relay: EventRelay | None = None
        self.health: HealthWatch | None = None
        self.leader: Leadership = SoleLeader()
        """Whether this daemon runs a singleton now (cluster/leadership.py): auto-incidents,
        retention and partition maintenance, alert sending. Always, when alone."""
        parts = cluster_parts(self.store) if cfg.region is not None else None
        if cfg.region is not None and parts is None:
            logger.warning(
                "[daemon] region = %r ignored: SQLite is single-node (a cluster of nodes"
                " needs PostgreSQL, docs/cluster.md)",
                cfg.region,
            )
        region = cfg.region if parts is not None else None
        self.prober = prober or Prober(
            node=cfg.node, region=region, source_address=cfg.source_address
        )
        self.state = LiveState(cfg.daily_major_threshold, clock=self.clock)
        self.spool = Spool(spool_dir_for(cfg))
        self.writer = CheckWriter(
            self.store,
            self.spool,
            batch_size=cfg.write_batch_size,
            flush_interval=cfg.write_flush_interval,
            held_limit=cfg.journal_memory_limit,
            counted=self._count,
        )
        self.link = StoreLink(self.store, cfg.node)
        self._journal_lock = FileLock(
            self.spool.folder / "lock", f"the journal folder {self.spool.folder}"
        )
        self.link.on_connected = self._database_reached
        self.link.on_fatal = lambda message: self.request_stop(exit_code=1)
        self.writer.ready = self._store_ready
        self.exit_code = 0
        self.scheduler = Scheduler(
            self.run_check,
            max_concurrency=cfg.max_concurrency,
            per_host_concurrency=cfg.per_host_concurrency,
            clock=self.clock,
        )
        self.overload = OverloadWatch(
            self.scheduler,
            self.clock,
            lateness_s=cfg.overload_lateness,
            skipped_percent=cfg.overload_skipped_percent,
        )
        secret = (
            cfg.jwt_secret.get_secret_value().encode()
            if cfg.jwt_secret
            else load_or_create_secret(secret_file_for(cfg))
        )
        self.auth = Auth(
            self.store,
            secret,
            access_ttl=timedelta(seconds=cfg.access_token_ttl),
            clock=self.clock,
        )
        self.events = EventHub()
        self.maintenance = MaintenanceCalendar(self.store, self.clock)
        self.incidents = IncidentTracker(
            self.store, self.state, self.events, cfg, self.clock, self._on_transition
        )
        self.alerting = self._alerting()
        if self.alerting is not None:
            self.events.attach(self.alerting)  # incidents created, updated, resolved
            self.reload_hooks.append(self._reload_alerts)
        self.api = ApiContext(
            store=self.store,
            live=self.state,
            incidents=self.incidents,
            maintenance=self.maintenance,
            events=self.events,
            presence=PresenceBoard(),
            auth=self.auth,
            settings=cfg,
            clock=self.clock,
            hooks=self,
            notice=notice,
            alerts=self.alerting,
        )
        # The methods every transport serves; the feed adds its subscriptions.
        self.registry = Registry(self.api, api_methods())
        self.feed = FeedServer(
            cfg.socket,
            self.registry,
            hello={**protocol.hello(cfg.node, __version__), "anonymous_read": cfg.anonymous_read},
            identify=self.registry.identify,
            request_rate=cfg.request_rate,
            request_burst=cfg.request_rate * 4,
            socket_group=cfg.socket_group,
            on_close=lambda session: end_presence(self.api, session.id),
            limits=connection_limits(cfg),
        )
        self.events.attach(self.feed)
        # issue 13: the HTTP API, /metrics and the status page (off unless [http] listen).
        self.metrics_book = MetricsBook()
        self.scheduler.on_lateness = self.metrics_book.observe_lateness
        self.http: HttpServer | None = None
        if parts is not None:
            self._join_cluster(*parts)
        self.started = asyncio.Event()
        self._stop = asyncio.Event()
        self._gc_thresholds = gc.get_threshold()  # set back when the daemon stops
        self._alerts_stop = asyncio.Event()  # set by shutdown(): the alerts flush and end
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._history_loaded = True  # False while a start without the database waits for it
        self.checks_made = 0
        self._started_at = self.clock.now()
        self.task_restarts = 0
        self._last_made: dict[str, Check] = {}  # the last check made of each service

    def _alerting(self) -> AlertingService | None:
        """The alerting service (alerts/service.py) over this store, if it has alert tables.

        Raises:
            ConfigError: the alert settings are not valid.
        """
        if not isinstance(self.store, SqlStore):
            return None
        cfg = self.settings.daemon
        key = self.settings.alerts.get("key_file")
        return AlertingService(
            self.settings,
            self.store,
            self.state,
            self.clock,
            where=config_label(self.config_path),
            key_file=Path(key) if key else default_key_file(secret_file_for(cfg)),
            maintenance=lambda: self.maintenance.windows,
            ready=self._store_ready,
            get_incident=self.store.get_incident,
            leads=lambda: self.leader.leads(ALERTS),
            checked=self._alert_cfg,
        )

    async def _reload_alerts(self, settings: Settings) -> list[str]:
        assert self.alerting is not None
        return await self.alerting.reload(settings, config_label(self.config_path))

    def _join_cluster(self, cluster_store: ClusterStore, listen: Listen) -> None:
        """Wire this daemon as a node of a cluster (docs/cluster.md)."""
        cfg = self.settings.daemon
        reference = (
            Service(
                id="self-check",
                name="self-check",
                url=cfg.reference_url,
                interval_s=cfg.health_interval,
                timeout_s=min(10.0, cfg.health_interval),
            )
            if cfg.reference_url
            else None
        )
        self.health = HealthWatch(
            self.spool.folder,
            lambda: self.scheduler.lateness().p99,
            lateness_limit_s=cfg.overload_lateness,
            reference=reference,
            check=self.prober.check,
        )
        self.cluster = ClusterNode(
            cluster_store,
            cfg,
            __version__,
            services=lambda: [st.service for st in self.state.services.values()],
            on_placed=self._placed,
            on_view=self._cluster_view,
            on_nodes=self._nodes_alive,
            health=lambda: (self.health.latest if self.health else {}, self._sick_reason()),
        )
        self.leader = self.cluster.leadership
        self.incidents.may_act = lambda: self.leader.leads(INCIDENTS)
        self.relay = EventRelay(
            cluster_store, listen, cfg.node, self._remote_event, on_listen=self._ask_presence
        )
        self.events.attach(self.relay)
        if self.alerting is not None:
            # an ack or silence made here reaches the node sending the alerts at once
            self.alerting.on_change = lambda change: self.events.publish("alert", change)

    def _sick_reason(self) -> str | None:
        return self.health.sick if self.health is not None else None

    async def _watch_health(self) -> None:
        """Sample this node's health every health_interval; sum it into node_health."""
        assert self.health is not None and self.cluster is not None
        while not self._stop.is_set():
            sample = await self.health.sample()
            try:
                await self.cluster.store.add_health(
                    self.settings.daemon.node, sample, self.health.sick is not None
                )
            except SlamonError as exc:
                logger.debug("health sample not stored: %s", exc)
            await asyncio.sleep(self.settings.daemon.health_interval)

    def _schedule(self, services: list[Service]) -> None:
        """Schedule the services this daemon probes: all of them when alone; in a cluster,
        those it holds the lease of (all, before the database was reached)."""
        if self.cluster is not None and self.cluster.mine is not None:
            mine = self.cluster.mine
            services = [s for s in services if s.id in mine]
        self.scheduler.set_services(services)

    def _placed(self, mine: list[str], taken: list[str]) -> None:
        """The services this node probes changed: schedule them; those just taken whose
        region's last check is older than their interval are probed now."""
        self._schedule([st.service for st in self.state.services.values()])
        now = self.clock.now()
        region = self.prober.region
        for sid in taken:
            st = self.state.services.get(sid)
            if st is None:
                continue
            r = st.regions.get(region) if region is not None else None
            last = r.last_at if r is not None else None
            if last is None or (now - last).total_seconds() >= st.service.interval_s:
                self.scheduler.check_soon(sid, 0.0)

    def _cluster_view(self, regions: tuple[str, ...], sick: frozenset[str]) -> None:
        self.state.known_regions = regions
        self.state.sick_nodes = sick

    def _nodes_alive(self, live: frozenset[str]) -> None:
        """The nodes alive changed: the presence of those that died ends (docs/cluster.md)."""
        for p in self.api.presence.keep_nodes(live):
            self._publish_here("presence", {"action": "cleared", "presence": p.to_dict()})

    def _ask_presence(self) -> None:
        """This node (re)connected to the events: it says its presence (none when it just
        started), the others answer with theirs, so what was missed meanwhile is mended."""
        assert self.relay is not None
        self.relay.publish(PRESENCE_SYNC, {"entries": self.api.presence.local(), "reply": False})

    def _publish_here(self, topic: str, data: dict[str, Any]) -> None:
        """An event for this node's clients only (not sent on to the other nodes)."""
        assert self.relay is not None
        self.relay.relaying = True
        try:
            self.events.publish(topic, data)
        finally:
            self.relay.relaying = False

    def _remote_presence(self, node: str, topic: str, data: dict[str, Any]) -> None:
        """Another node's presence: kept on this node's board with the session named by
        node (sessions are numbered per node), and told to this node's clients."""
        assert self.relay is not None
        board = self.api.presence
        if topic == PRESENCE_SYNC:
            entries = data.get("entries")
            changes = board.replace_node(node, entries if isinstance(entries, list) else [])
            for action, p in changes:
                self._publish_here("presence", {"action": action, "presence": p.to_dict()})
            if not data.get("reply"):  # a node that joined: tell it ours
                self.relay.publish(PRESENCE_SYNC, {"entries": board.local(), "reply": True})
            return
        told = data.get("presence")
        action = "cleared" if data.get("action") == "cleared" else "set"
        try:
            mine = board.apply_remote(node, action, told if isinstance(told, dict) else {})
        except (KeyError, ValueError, TypeError) as exc:
            logger.warning("a presence from node %s not understood: %s", node, exc)
            return
        self._publish_here("presence", {"action": action, "presence": mine.to_dict()})

    def _remote_event(self, event: Event) -> None:
        """Another node's event (cluster/notify.py): its checks are folded in like ours."""
        if event.kind == "checks":
            for d in event.payload:
                try:
                    check = Check.from_dict(d)
                except (KeyError, ValueError, TypeError) as exc:
                    logger.warning("a check from node %s not understood: %s", event.node, exc)
                    continue
                self._count(check, made_here=False)
        elif event.kind == "event" and self.relay is not None:
            topic, data = event.payload.get("topic"), event.payload.get("data")
            if topic in ("presence", PRESENCE_SYNC) and isinstance(data, dict):
                self._remote_presence(event.node, str(topic), data)
            elif isinstance(topic, str) and isinstance(data, dict):
                self.relay.relaying = True
                try:
                    self.events.publish(topic, data)
                finally:
                    self.relay.relaying = False
                if topic == "incident":
                    self.incidents.incidents_changed()
                elif topic == "maintenance":
                    self._spawn(self.maintenance.reload())
                elif topic == "alert" and self.alerting is not None:
                    self.alerting.remote_change(data)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _persists_state(self) -> bool:
        """Whether this daemon writes the status history and outage episodes: always when
        alone; in a cluster, the node running the incidents singleton (all nodes compute
        the same statuses from the same checks)."""
        return self.leader.leads(INCIDENTS)

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, sync services, warm the state, start serving and probing.

        Raises:
            DatabaseTaken: another daemon runs on this database (and node).
            ServeError: the feed cannot listen.
            MigrationError: a migration failed.
        """
        await self._lock_journal()
        for line in loose_files(self._own_files()):
            logger.warning("%s", line)
        reached = await self.link.connect()
        self._history_loaded = reached
        if reached:
            if self.spool.closed:
                # A previous run left journaled checks: store them before warming the state.
                logger.info(
                    "replaying %d journal segments from %s",
                    len(self.spool.closed),
                    self.spool.folder,
                )
                await self.writer.flush()
            # The first start after the upgrade to 0015 writes every bar summary: their
            # log is copied into the database once, after ready (issue 14 point 3).
            await self.store.hold_checkpoints()
            stored = await self._read_stored(self.clock.now().date(), transitions=True)
            services, rollups, latest, open_episodes, transitions = stored
            self.state.set_services(services)
            self.state.load_history(rollups, latest, open_episodes, transitions)
            if None not in transitions:  # a first start: date the overall status from now on
                self.writer.add(first_overall(self.state))
            await self.incidents.refresh()
            await self.auth.load()
            if self.cluster is not None and self.relay is not None:
                await self.relay.start()
                await self.cluster.join()
        else:
            # No database: the config file says what to probe; the history comes later,
            # but what a previous run left in the journal is history too.
            services = [s for s in self.settings.services if s.active]
            self.state.set_services(services)
            self.state.load_history(*journal_history(self.spool))
            self.maintenance.windows = [
                w for w in self.settings.maintenance_windows if w.ends_at > self.clock.now()
            ]
        self._last_made = {
            sid: st.last_check for sid, st in self.state.services.items() if st.last_check
        }
        await self.feed.start()
        if self.settings.http.listen:
            self.http = http_server(
                self.registry,
                lambda: self.settings,
                self.metrics_book,
                self.state,
                self.stats,
                self.clock,
            )
            await self.http.start()
        self._schedule(services)
        self._tasks = [
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self._keep_running("writer", self.writer.run), name="writer"),
            asyncio.create_task(self._keep_running("store link", self.link.run), name="link"),
            asyncio.create_task(self._upkeep(), name="upkeep"),
            asyncio.create_task(self._keep_running("overload", self.overload.run), name="overload"),
        ]
        if self.alerting is not None:
            alerting = self.alerting
            self._tasks.append(
                asyncio.create_task(
                    self._keep_running("alerts", lambda: alerting.run(self._alerts_stop)),
                    name="alerts",
                )
            )
        if self.cluster is not None and self.relay is not None:
            self._tasks += [
                asyncio.create_task(
                    self._keep_running("cluster", self.cluster.run), name="cluster"
                ),
                asyncio.create_task(self._keep_running("events", self.relay.run), name="events"),
                asyncio.create_task(
                    self._keep_running("sending", self.relay.send_checks), name="sending"
                ),
                asyncio.create_task(
                    self._keep_running("health", self._watch_health), name="health"
                ),
            ]
        # What the warm start read (90 days of every service's rollups, the config) lives
        # as long as the daemon: out of the collector's sight, a full collection no longer
        # walks it. Measured with 1,000 services: 100-580 ms a full collection, a pause of
        # the loop at unpredictable moments (status.get's p99 in an alert storm).
        gc.collect()
        gc.freeze()
        # What the start read and let go of (the parsed config, the warm start's rows, much
        # of it in the threads' malloc arenas) is given back, not kept as RSS: 50,000
        # services, 236 -> 181 MiB at ready (malloc.py, docs/benchmarks.md stop 21).
        malloc.trim()
        gc.set_threshold(*GC_THRESHOLDS)
        gc.enable()  # main() turned it off for the start
        self._tasks.append(asyncio.create_task(self._settle_gc(), name="gc"))
        if reached:  # one of the tasks a shutdown waits for: the store closed after it
            self._tasks.append(asyncio.create_task(self._release_checkpoints(), name="checkpoint"))
        self.started.set()
        logger.info(
            "slamond %s on node %s: %d services, socket %s, database %s%s",
            __version__,
            self.settings.daemon.node,
            len(services),
            self.settings.daemon.socket,
            self.store.backend,
            "" if reached else " (unreachable: journaling until it answers)",
        )

    async def _release_checkpoints(self) -> None:
        """What the start's commits left to copy (``Store.hold_checkpoints``), copied."""
        try:
            await self.store.release_checkpoints()
        except SlamonError as exc:  # copied by a later commit or at close anyway
            logger.warning("the start's checkpoint failed: %s", exc)

    def _own_files(self) -> list[Path]:
        """The files and folders that hold what only the daemon should read."""
        cfg = self.settings.daemon
        files = [self.spool.folder, *self.spool.folder.glob("*.jsonl")]
        if not cfg.jwt_secret:
            files.append(secret_file_for(cfg))
        if cfg.database_url.startswith("sqlite:///"):
            db = cfg.database_url.removeprefix("sqlite:///")
            files += [Path(db + suffix) for suffix in ("", "-wal", "-shm")]
        return files

    async def _lock_journal(self) -> None:
        """One daemon per journal folder (two sharing one would replay each other's).

        Raises:
            DatabaseTaken: another daemon uses the folder.
        """
        try:
            holder = await self._journal_lock.acquire()
        except SlamonError as exc:  # a journal folder that cannot be written: said later
            logger.warning("cannot lock the journal folder: %s", exc)
            return
        if holder is not None:
            raise DatabaseTaken(f"refusing to start: {holder}")

    async def _sync_config(self) -> list[Service]:
        """Upsert the config file's services and windows; the active services stored."""
        result = await self.store.sync_services(self.settings.services)
        if result.added or result.updated or result.deactivated:
            logger.info(
                "services from config: added %s, updated %s, deactivated %s",
                result.added,
                result.updated,
                result.deactivated,
            )
        await self.store.sync_config_maintenance(self.settings.maintenance_windows)
        await self.maintenance.reload()
        return await self.store.list_services()

    async def _store_ready(self) -> bool:
        """Whether the writer may write: the database is reached and set up."""
        return self.link.ready and self._history_loaded

    async def _database_reached(self) -> None:
        """The database answered after a start without it: sync the config, add the history
        from before this run under what this run counted, then let the writer drain the
        journal in order."""
        try:
            stored = await self._read_stored(self.clock.now().date(), transitions=False)
            services, rollups, latest, open_episodes, _ = stored
        except SlamonError as exc:
            logger.warning("database reached but not set up yet (retrying): %s", exc)
            self.link.connected = False
            return
        # A previous run's journal is not in the database yet: the state has it already.
        self.state.set_services(services)
        self._schedule(services)
        for episode in self.state.merge_history(rollups, latest, open_episodes):
            self.writer.add(episode)
        self._history_loaded = True
        self.writer.wake()
        await self.incidents.refresh()
        try:
            await self.auth.load()
        except SlamonError as exc:
            logger.warning("stored login failures not read: %s", exc)
        if self.cluster is not None and self.relay is not None and self.cluster.mine is None:
            try:  # a first start without the database: join now
                await self.relay.start()
                await self.cluster.join()
            except SlamonError as exc:
                logger.warning("cannot join the cluster yet (retried every heartbeat): %s", exc)

    async def _read_stored(self, today: date, *, transitions: bool) -> _Stored:
        """The config synced, and what the live state loads from the database, read side
        by side: the active services stored, their 90-day bar (``_bar_days``), the latest
        checks, the open outage episodes and (``transitions``) the latest transitions.

        The bar's read does not wait for the sync (issue 14 point 3): the config's active
        services are read while it runs (their rows are there whether or not the services
        are stored yet), the stored ones the config does not name after it. With 50,000
        services the sync took 1-3 s and the bar 2-4 s, one after the other; the first
        start after the upgrade to 0015, which makes every bar summary, took 11 s on
        PostgreSQL. All or nothing: if one read fails the others are cancelled and the
        start fails with it (nothing is loaded into the state before all have ended)."""
        bars = BarHistory(today)
        first, last = today - timedelta(days=HISTORY_DAYS - 1), today - timedelta(days=1)
        named = [s.id for s in self.settings.services if s.active]

        async def synced() -> list[Service]:
            services = await self._sync_config()
            known = set(named)
            others = [s.id for s in services if s.id not in known]  # added through the API
            await read_past_days(self.store, bars, first, last, others)
            return services

        sync = asyncio.ensure_future(synced())
        latest = asyncio.ensure_future(self.store.latest_checks(SPARKLINE_POINTS))
        episodes = asyncio.ensure_future(self.store.episodes(open_only=True, limit=100_000))
        changes = asyncio.ensure_future(self._latest_transitions(transitions))
        tasks = [
            sync,
            asyncio.ensure_future(read_past_days(self.store, bars, first, last, named)),
            latest,
            episodes,
            changes,
        ]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.wait(tasks)
            raise
        bars.add_rollups(await self.store.daily_rollups(today))
        return sync.result(), bars, latest.result(), episodes.result(), changes.result()

    async def _latest_transitions(self, wanted: bool) -> dict[str | None, Transition]:
        """The latest stored transitions (issue 12: "since" survives), if ``wanted``."""
        return await self.store.latest_transitions() if wanted else {}

    async def _bar_days(self, today: date, services: Sequence[Service]) -> BarHistory:
        """The days the live state keeps (the 90-day bar) of ``services``: the past days as
        their counts only (``state.PastDays``: ~0.8 KiB a service for 89 days; as rollup
        objects 392 B a day, 1.7 GB at 50,000 services), read ``BAR_PAGE`` services at a
        time so that no more than a few pages of rows are ever held; today's whole
        (service.get's day detail reads the live one).

        ``BAR_READERS`` pages are read side by side: on PostgreSQL the server computes one
        on a connection (and core) of its own while the daemon unpacks another (issue 14
        point 3: one page after the other, a start with 89 days waited ~2.8 s on the
        server alone); on SQLite the database's thread has the next one queued.

        Each page reads ``Store.bar_counts``: a summary row per service for the days but
        the last two (bar_summaries, migration 0015) and the rows of the days after it. A
        start with 89 days of rows and no summary (the first after the upgrade) makes them
        (the server aggregated 4.45 million rows at every start, 10-13 s of its CPU)."""
        first = today - timedelta(days=HISTORY_DAYS - 1)
        bars = BarHistory(today)
        ids = [s.id for s in services]
        await read_past_days(self.store, bars, first, today - timedelta(days=1), ids)
        bars.add_rollups(await self.store.daily_rollups(today))
        return bars

    async def _settle_gc(self) -> None:
        """Freeze once more what the first round of checks built to last (issue 14 point 3).

        Each service's first check (and the alerts' SLO ledgers, seeded after the start)
        makes objects that live as long as the service: the rollup fold's state, the day's
        rollup, the cached request. Left to the collector, each full collection walks them
        all: with 50,000 services, 44 full collections of ~1 s each in the first 2.5
        minutes (docs/benchmarks.md). Once every service has been checked, they go where
        the start's objects went, after one full collection (its garbage is not frozen with
        them: ~1 s with 50,000 services, once). Cycles in flight at that moment (a few
        hundred checks') are never collected: a bounded, one-time cost.
        """
        intervals = [st.service.interval_s for st in self.state.services.values()]
        await asyncio.sleep(min(max(intervals, default=0.0), GC_SETTLE_MAX_S) + GC_SETTLE_AFTER_S)
        gc.collect()
        gc.freeze()
        # What the start and the first round freed (the parsed config, the first reads)
        # lies in the arenas' free lists: given back, not kept as RSS (malloc.py).
        trimmed = malloc.trim()
        logger.debug(
            "garbage collector: %d objects frozen%s",
            gc.get_freeze_count(),
            "; free memory given back" if trimmed else "",
        )

    async def _keep_running(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        """Run ``loop``; if it ever fails or returns before the stop, say so and restart it."""
        while not self._stop.is_set():
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s failed; restarting it", name)
                self.task_restarts += 1
            else:
                if self._stop.is_set() or self._stopping:
                    return
                logger.error("%s stopped unexpectedly; restarting it", name)
                self.task_restarts += 1
            await asyncio.sleep(1.0)

    async def run(self) -> None:
        """start(), serve until request_stop(), then shutdown()."""
        try:
            await self.start()
            await self._stop.wait()
        finally:
            await self.shutdown()
            gc.unfreeze()  # a process that runs daemons one after another (the tests)
            gc.enable()  # also after a start that failed

    def request_stop(self, exit_code: int = 0) -> None:
        """Stop (SIGTERM, SIGINT); a non-zero ``exit_code`` is what slamond exits with."""
        self.exit_code = max(self.exit_code, exit_code)
        self._stop.set()

    async def shutdown(self) -> None:
        """Finish in-flight checks, flush the writer, say goodbye to clients, close."""
        self._stopping = True
        gc.set_threshold(*self._gc_thresholds)  # the process's own again (start() raised them)
        self._alerts_stop.set()
        self.scheduler.stop()
        self.writer.stop()
        self.link.stop()
        self.overload.stop()
        if self.cluster is not None and self.relay is not None:
            self.cluster.stop()
            self.relay.stop()
        for t in self._tasks:
            if t.get_name() in ("upkeep", "link", "cluster", "events", "health", "sending", "gc"):
                t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), timeout=15)
        self.writer.retry_journal(force=True)
        try:
            if await self._store_ready():
                await self.writer.flush()
        except (SlamonError, OSError) as exc:
            logger.error(
                "database unreachable at shutdown; %d checks stay journaled in %s for the"
                " next start: %s",
                self.spool.pending,
                self.spool.folder,
                exc,
            )
        if self.writer.held:
            logger.error(
                "%d records held in memory could be neither journaled in %s nor stored: lost (%s)",
                len(self.writer.held),
                self.spool.folder,
                self.writer.journal_error,
            )
        self.spool.close()
        if self.http is not None:
            await self.http.stop()
        await self.feed.stop()
        await self.prober.aclose()
        if self.cluster is not None and self.link.ready:
            await self.cluster.leave()
        await self.store.close()
        await self.link.release()
        await self._journal_lock.release()
        logger.info("slamond stopped")

    async def _upkeep(self) -> None:
        """Hourly: partitions ahead of need, then retention (SPEC §3.9)."""
        while True:
            if not self.link.ready:  # not reached yet (or lost): the link says so
                await asyncio.sleep(10)
                continue
            if not self.leader.leads(UPKEEP):  # another node of the cluster does it
                await asyncio.sleep(5)
                continue
            try:
                if self.cluster is not None:
                    await self.cluster.store.prune_events(EVENTS_KEPT_S)
                    await self.cluster.store.prune_health(
                        self.settings.daemon.retention_days, HEALTH_DAILY_KEPT_DAYS
                    )
                await self.store.maintain()
                await self.auth.prune()
                r = await self.store.apply_retention(
                    self.clock.now(), self.settings.daemon.retention_days
                )
                if r.checks or r.hourly_rollups or r.daily_rollups:
                    logger.info(
                        "retention removed %d checks (%d partitions), %d hourly and %d"
                        " daily rollups",
                        r.checks,
                        len(r.partitions),
                        r.hourly_rollups,
                        r.daily_rollups,
                    )
            except SlamonError as exc:
                logger.warning("store upkeep failed (retried in an hour): %s", exc)
            await asyncio.sleep(3600)

    # -- hooks of the API (api.context.Hooks) -------------------------------------------

    async def services_changed(self) -> None:
        """Re-read the active services (after a change over the feed) and reschedule."""
        services = await self.store.list_services()
        self.state.set_services(services)
        self._schedule(services)
        if self.alerting is not None:
            self.alerting.services_changed()

    async def maintenance_changed(self) -> None:
        """Re-read the maintenance windows that have not ended."""
        await self.maintenance.reload()

    def incidents_changed(self) -> None:
        """Open incidents changed: refresh them and the overall status."""
        self.incidents.incidents_changed()

    async def reload_config(self) -> dict[str, Any]:
        """Re-read the config file and apply it (reload.py); the result says what changed,
        or every problem when the file is refused (then nothing changed)."""
        async with self._reload_lock:
            return (await self._reload()).to_dict()

    def reload_soon(self) -> None:
        """SIGHUP: reload in the background (what happens is logged)."""

        async def reload() -> None:
            with contextlib.suppress(SlamonError):
                await self.reload_config()

        task = asyncio.create_task(reload(), name="reload")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _reload(self) -> ReloadResult:
        where = config_label(self.config_path)
        logger.info("reloading the config from %s", where)
        try:
            new, path = load_settings(self.config_path)
            alert_settings(new, config_label(path))  # all of the file is checked first
        except ConfigError as exc:
            for line in exc.problems:
                logger.error("%s", line)
            logger.error("config reload refused: the running config stays in force")
            return ReloadResult(False, where, problems=exc.problems)
        result = ReloadResult(True, config_label(path))
        old, self.settings = self.settings, live_settings(self.settings, new)
        result.restart_needed = restart_needed(old, new)
        if new.daemon.log_level != old.daemon.log_level:
            level = set_level(new.daemon.log_level)
            result.changes.append(f"log_level: {old.daemon.log_level} -> {level}")
        try:
            if old.service == new.service and old.maintenance == new.maintenance:
                summary = None  # nothing to sync: a reload of an unchanged file reads nothing
            elif self.link.ready:
                synced = await self.store.sync_services(self.settings.services)
                await self.store.sync_config_maintenance(self.settings.maintenance_windows)
                await self.services_changed()
                await self.maintenance.reload()
                summary = services_line(synced)
            else:  # no database yet: the file says it all; stored when it answers
                services = [s for s in self.settings.services if s.active]
                before = {sid: st.service for sid, st in self.state.services.items()}
                self.state.set_services(services)
                self._schedule(services)
                self.maintenance.windows = [
                    w for w in self.settings.maintenance_windows if w.ends_at > self.clock.now()
                ]
                summary = services_line(
                    SyncResult(
                        added=[s.id for s in services if s.id not in before],
                        updated=[s.id for s in services if s.id in before and before[s.id] != s],
                        deactivated=[i for i in before if i not in {s.id for s in services}],
                    )
                )
            if summary:
                result.changes.append(summary)
            if old.maintenance != new.maintenance:
                result.changes.append(f"maintenance windows: {len(new.maintenance)} in the file")
        except SlamonError as exc:  # the database failed: said, and the caller told
            logger.error("reload: services and maintenance windows not applied: %s", exc)
            raise
        for hook in list(self.reload_hooks):
            try:
                result.changes += await hook(self.settings)
            except ConfigError as exc:
                result.ok = False
                result.problems += exc.problems
            except Exception as exc:
                logger.exception("a reload hook failed")
                result.ok = False
                result.problems.append(f"reload hook failed: {exc}")
        for line in result.changes:
            logger.info("reload: %s", line)
        for line in result.problems:
            logger.error("reload: %s", line)
        if result.restart_needed:
            logger.warning(
                "reload: changed, takes effect at the next restart: %s",
                ", ".join(result.restart_needed),
            )
        if not result.changes and not result.problems:
            logger.info("reload: nothing changed")
        return result

    async def nodes(self) -> dict[str, Any]:
        """nodes.list: the cluster's nodes from the database; this daemon alone otherwise."""
        cfg = self.settings.daemon
        if self.cluster is None:
            why = (
                "SQLite is single-node"
                if self.store.backend == "sqlite"
                else "PostgreSQL without [daemon] region: single node"
            )
            return {
                "cluster": False,
                "note": why,
                "nodes": [
                    {
                        "name": cfg.node,
                        "region": None,
                        "version": __version__,
                        "started_at": self._started_at.isoformat(),
                        "state": "running",
                        "services": len(self.state.services),
                    }
                ],
                "singletons": {},
            }
        nodes = await self.cluster.store.nodes()
        return {
            "cluster": True,
            "node": cfg.node,
            "nodes": [n.to_dict(cfg.lease_timeout) for n in nodes],
            "singletons": await self.cluster.store.singletons(),
        }

    def stats(self) -> dict[str, Any]:
        writer = self.writer.stats()
        database = self.link.stats()
        if database["state"] == "connected" and not writer["store_ok"]:
            database = {**database, "state": "unreachable", "error": writer["store_error"]}
        return {
            "checks_made": self.checks_made,
            **writer,
            "store_ok": writer["store_ok"] and database["state"] == "connected",
            "database": database,
            "task_restarts": self.task_restarts,
            "lateness": self.scheduler.lateness().to_dict(),
            "overload": self.overload.stats(),
            "sessions": len(self.feed.sessions),
            "connections": self.feed.limits.stats(),
            "services": len(self.state.services),
        } | (
            {"cluster": self.cluster.stats() | (self.relay.stats() if self.relay else {})}
            if self.cluster is not None
            else {}
        )

    # -- the check path ---------------------------------------------------------------

    async def run_check(self, service: Service) -> None:
        in_maintenance = self.maintenance.covers(service.id, self.clock.now())
        check = await self.prober.check(service, maintenance=in_maintenance)
        self.on_check(check)

    def on_check(self, check: Check) -> None:
        """Journal a check; once it is journaled (at the end of this turn of the event loop,
        with the others made in it) or stored (when the journal fails), count it."""
        self.checks_made += 1
        check = self.state.classify(check)  # a cluster's quorum figures (issue 15)
        # It takes back the downtime of a failed check before it that it cuts short.
        check = link_previous(self._last_made.get(check.service_id), check)
        self._last_made[check.service_id] = check
        self.writer.add_soon(check)  # then the writer calls _count
        if self.relay is not None:
            self.relay.add_check(check)

    def _count(self, check: Check, made_here: bool = True) -> None:
        """Fold a durable check into the live state, journal what it changed, tell subscribers."""
        changes = self.state.apply(check)
        self.metrics_book.record(check, made_here=made_here)
        if self._persists_state():
            for t in changes.transitions:
                self.writer.add(t)
            if changes.episode is not None:
                self.writer.add(changes.episode)
        self.incidents.on_check(check, changes.episode)
        st = self.state.services.get(check.service_id)
        if made_here and st is not None and not check.maintenance and st.pending_in(check.region):
            # Confirm a failure (or a recovery) sooner than the next regular slot.
            self.scheduler.check_soon(check.service_id, min(RECHECK_AFTER_S, check.interval_s / 3))
        if self.alerting is not None:
            self.alerting.on_check(check, changes, st)
        if st is not None and self.events.has_subscribers("check"):
            cells, uptime = st.history(self.clock.now().date(), self.state.major_threshold)
            self.events.publish(
                "check",
                {
                    "service_id": check.service_id,
                    "check": check.to_dict(),
                    "daily": cells[-1],
                    "uptime": uptime,
                },
            )
        for t in changes.transitions:
            self._announce(t)

    def _on_transition(self, t: Transition) -> None:
        """A transition made outside a check (the incident floor): journal and announce it."""
        if self._persists_state():
            self.writer.add(t)
        self._announce(t)

    def _announce(self, t: Transition) -> None:
        # In a cluster the node that writes the status history logs it; the others say it
        # at DEBUG (every node sees every change: 10,000 services would log it N times).
        # A service found operational by its first check is no news (50,000 services would
        # log 50,000 lines in their first minute): DEBUG too; the overall status says it.
        level = logging.INFO if self._persists_state() else logging.DEBUG
        if (
            t.service_id is not None
            and t.previous is ServiceStatus.UNKNOWN
            and t.status is ServiceStatus.OPERATIONAL
        ):
            level = logging.DEBUG
        logger.log(level, "status %s: %s -> %s", t.service_id or "overall", t.previous, t.status)
        self.events.publish("status", t.to_dict())


def connection_limits(cfg: DaemonConfig) -> ConnectionLimits:
    """The feed's connection limits for this process's descriptor limit (listener.py)."""
    open_files, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    reserved = reserved_descriptors(cfg.max_concurrency)
    allowed = default_max_connections(open_files, reserved)
    total = cfg.max_connections or allowed
    if total > allowed and total > open_files - reserved:
        logger.warning(
            "max_connections = %d leaves too few of %d descriptors for the journal, the"
            " database and %d checks in flight; using %d",
            total,
            open_files,
            cfg.max_concurrency,
            allowed,
        )
        total = allowed
    per_uid = cfg.max_connections_per_user or max(8, total // 4)
    return ConnectionLimits(total, per_uid)


def journal_history(
    spool: Spool,
) -> tuple[list[Rollup], dict[str, list[Check]], list[OutageEpisode]]:
    """What a previous run left in the journal, as load_history takes it: daily rollups,
    the latest checks per service, the episodes still open."""
    checks: list[Check] = []
    episodes: dict[tuple[str, datetime], OutageEpisode] = {}
    for segment in [s for s in spool.closed if s.count < 0]:
        try:
            records = spool.read(segment)
        except OSError as exc:
            logger.warning("cannot read journal segment %s: %s", segment.path, exc)
            continue
        for r in records:
            if isinstance(r, Check):
                checks.append(r)
            elif isinstance(r, OutageEpisode):
                episodes[(r.service_id, r.started_at)] = r
    latest: dict[str, list[Check]] = {}
    for c in checks:
        latest.setdefault(c.service_id, []).append(c)
    latest = {sid: cs[-SPARKLINE_POINTS:] for sid, cs in latest.items()}
    still_open = [e for e in episodes.values() if e.ended_at is None]
    return rollup_deltas(checks), latest, still_open


# -- slamond ----------------------------------------------------------------------------


async def serve(
    settings: Settings,
    *,
    notice: str | None = None,
    config_path: Path | None = None,
    alert_cfg: AlertSettings | None = None,
) -> int:
    """Run a daemon until SIGTERM or SIGINT (SIGHUP reloads the config); its exit code."""
    daemon = Daemon(settings, notice=notice, config_path=config_path, alert_cfg=alert_cfg)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.request_stop)
    loop.add_signal_handler(signal.SIGHUP, daemon.reload_soon)
    await daemon.run()
    return daemon.exit_code


def main(argv: list[str] | None = None) -> int:
    """``slamond``: run the daemon. Exit 2 on a bad config, 1 when it cannot start."""
    parser = argparse.ArgumentParser(
        prog="slamond", description="slamon daemon: probes services and serves the feed"
    )
    parser.add_argument(
        "--config", help="TOML config file (default: $SLAMON_CONFIG, ./slamon.toml, XDG)"
    )
    parser.add_argument("--version", action="version", version=f"slamond {__version__}")
    args = parser.parse_args(argv)
    # Everything slamond creates (database, WAL, journal, secret) is its own: 0600 / 0700.
    # Read access is shared through the socket (socket_group), not the files (README).
    os.umask(0o077)
    # No collection until the start is over (Daemon.start collects once, freezes what the
    # start built and turns the collector back on): with 50,000 services, the collections
    # its allocations trigger cost ~1.3 s of the start's CPU (docs/benchmarks.md).
    gc.disable()
    try:
        settings, path = load_settings(args.config)
        alert_cfg = alert_settings(settings, config_label(path))  # said now, not at 3 a.m.
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    setup_logging(settings.daemon.log_level, settings.daemon.log_json)
    logger.info("config: %s", path or "defaults and environment")
    logger.info("database: %s", database_location(settings.daemon.database_url))
    open_files, hard = raise_open_files_limit()
    logger.debug("open files limit: %d (hard %d)", open_files, hard)
    t0 = time.monotonic()
    code = 0
    try:
        logger.info("event loop: %s", install_fast_loop())
        code = asyncio.run(serve(settings, config_path=path, alert_cfg=alert_cfg))
    except SlamonError as exc:
        print(f"slamond: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    logger.debug("ran %.1fs", time.monotonic() - t0)
    return code


if __name__ == "__main__":
    sys.exit(main())
