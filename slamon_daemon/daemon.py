"""The daemon's lifecycle: startup → run → shutdown (``slamond``), and the wiring of its parts.

Data flows one way: config → scheduler → probe → state → (writer/store, incident tracker,
events). Startup opens the store, applies migrations, upserts the services of the config
file, warms the live state from the store, then starts the feed, the scheduler and the
writer. SIGTERM/SIGINT set a flag; shutdown lets in-flight checks finish, flushes the writer,
says goodbye to clients.

The methods clients call (api/) get an ``ApiContext`` built here, never the Daemon; the
Daemon answers their hooks (services_changed, maintenance_changed, incidents_changed, stats).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from datetime import timedelta
from typing import Any

from . import __version__, protocol
from .api.catalog import api_methods
from .api.context import ApiContext
from .api.presence import end_presence
from .api.registry import Registry
from .auth import Auth, load_or_create_secret
from .clock import Clock, SystemClock
from .config import Settings, load_settings, secret_file_for, spool_dir_for
from .errors import ConfigError, SlamonError
from .events import EventHub
from .feed import FeedServer
from .incident_tracker import IncidentTracker
from .incidents import PresenceBoard
from .logs import setup_logging
from .loop import install_fast_loop
from .maintenance import MaintenanceCalendar
from .models import Check, Service, Transition
from .probe import Prober
from .scheduler import Scheduler
from .spool import Spool
from .state import HISTORY_DAYS, SPARKLINE_POINTS, LiveState
from .store import Store, open_store
from .writer import CheckWriter

logger = logging.getLogger("slamon.daemon")

RECHECK_AFTER_S = 5.0
"""A failed check (or a first success after an outage) is re-checked this soon at most."""


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
    ) -> None:
        self.settings = settings
        cfg = settings.daemon
        self.clock = clock or SystemClock()
        self.store = store or open_store(cfg.database_url)
        self.prober = prober or Prober(node=cfg.node)
        self.state = LiveState(cfg.daily_major_threshold, clock=self.clock)
        self.spool = Spool(spool_dir_for(cfg))
        self.writer = CheckWriter(
            self.store,
            self.spool,
            batch_size=cfg.write_batch_size,
            flush_interval=cfg.write_flush_interval,
        )
        self.scheduler = Scheduler(
            self.run_check,
            max_concurrency=cfg.max_concurrency,
            per_host_concurrency=cfg.per_host_concurrency,
            clock=self.clock,
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
        )
        self.events.attach(self.feed)
        self.started = asyncio.Event()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.checks_made = 0

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store, sync services, warm the state, start serving and probing."""
        await self.store.open()
        applied = await self.store.migrate()
        if applied:
            logger.info("database migrated: %s", ", ".join(applied))
        if self.spool.closed:
            # A previous run left journaled checks: store them before warming the state.
            logger.info(
                "replaying %d journal segments from %s", len(self.spool.closed), self.spool.folder
            )
            await self.writer.flush()
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
        services = await self.store.list_services()
        self.state.set_services(services)
        today = self.clock.now().date()
        rollups = await self.store.daily_rollups(today - timedelta(days=HISTORY_DAYS - 1))
        latest = await self.store.latest_checks(SPARKLINE_POINTS)
        open_episodes = await self.store.episodes(open_only=True, limit=100_000)
        self.state.load_history(rollups, latest, open_episodes)
        await self.incidents.refresh()
        await self.feed.start()
        self.scheduler.set_services(services)
        self._tasks = [
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self.writer.run(), name="writer"),
            asyncio.create_task(self._upkeep(), name="upkeep"),
        ]
        self.started.set()
        logger.info(
            "slamond %s on node %s: %d services, socket %s, database %s",
            __version__,
            self.settings.daemon.node,
            len(services),
            self.settings.daemon.socket,
            self.store.backend,
        )

    async def run(self) -> None:
        """start(), serve until request_stop(), then shutdown()."""
        try:
            await self.start()
            await self._stop.wait()
        finally:
            await self.shutdown()

    def request_stop(self) -> None:
        self._stop.set()

    async def shutdown(self) -> None:
        """Finish in-flight checks, flush the writer, say goodbye to clients, close."""
        self.scheduler.stop()
        self.writer.stop()
        for t in self._tasks:
            if t.get_name() == "upkeep":
                t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), timeout=15)
        try:
            await self.writer.flush()
        except SlamonError as exc:
            logger.error(
                "database unreachable at shutdown; %d checks stay journaled in %s for the"
                " next start: %s",
                self.writer.pending,
                self.spool.folder,
                exc,
            )
        self.spool.close()
        await self.feed.stop()
        await self.prober.aclose()
        await self.store.close()
        logger.info("slamond stopped")

    async def _upkeep(self) -> None:
        """Hourly: partitions ahead of need, then retention (SPEC §3.9)."""
        while True:
            try:
                await self.store.maintain()
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
        self.scheduler.set_services(services)

    async def maintenance_changed(self) -> None:
        """Re-read the maintenance windows that have not ended."""
        await self.maintenance.reload()

    def incidents_changed(self) -> None:
        """Open incidents changed: refresh them and the overall status."""
        self.incidents.incidents_changed()

    def stats(self) -> dict[str, Any]:
        return {
            "checks_made": self.checks_made,
            "records_written": self.writer.written,
            "write_pending": self.writer.pending,
            "write_failures": self.writer.failures,
            "store_ok": self.writer.store_ok,
            "lateness": self.scheduler.lateness().to_dict(),
            "sessions": len(self.feed.sessions),
            "services": len(self.state.services),
        }

    # -- the check path ---------------------------------------------------------------

    async def run_check(self, service: Service) -> None:
        in_maintenance = self.maintenance.covers(service.id, self.clock.now())
        check = await self.prober.check(service, maintenance=in_maintenance)
        self.on_check(check)
        st = self.state.services.get(service.id)
        if st is not None and st.failure_pending and not check.maintenance:
            # Confirm a failure (or a recovery) sooner than the next regular slot.
            self.scheduler.check_soon(service.id, min(RECHECK_AFTER_S, service.interval_s / 3))

    def on_check(self, check: Check) -> None:
        """Fold a check into the live state, journal it for the store, tell subscribers."""
        self.checks_made += 1
        changes = self.state.apply(check)
        self.writer.add(check)
        for t in changes.transitions:
            self.writer.add(t)
        if changes.episode is not None:
            self.writer.add(changes.episode)
        self.incidents.on_check(check, changes.episode)
        st = self.state.services.get(check.service_id)
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
        self.writer.add(t)
        self._announce(t)

    def _announce(self, t: Transition) -> None:
        logger.info("status %s: %s -> %s", t.service_id or "overall", t.previous, t.status)
        self.events.publish("status", t.to_dict())


# -- slamond ----------------------------------------------------------------------------


async def serve(settings: Settings, *, notice: str | None = None) -> None:
    """Run a daemon until SIGTERM or SIGINT."""
    daemon = Daemon(settings, notice=notice)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.request_stop)
    await daemon.run()


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
    try:
        settings, path = load_settings(args.config)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return 2
    setup_logging(settings.daemon.log_level, settings.daemon.log_json)
    logger.info("config: %s", path or "defaults and environment")
    t0 = time.monotonic()
    try:
        logger.info("event loop: %s", install_fast_loop())
        asyncio.run(serve(settings))
    except SlamonError as exc:
        print(f"slamond: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    logger.debug("ran %.1fs", time.monotonic() - t0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
