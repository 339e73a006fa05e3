"""The daemon's lifecycle: startup → run → shutdown (``slamond``).

Data flows one way: config → scheduler → probe → state → (writer/store, feed). Startup opens
the store, applies migrations, upserts the services of the config file, warms the live state
from the store, then starts the feed, the scheduler and the writer. SIGTERM/SIGINT set a
flag; shutdown lets in-flight checks finish, flushes the writer, says goodbye to clients.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

from . import __version__, protocol
from .admin import write_audit
from .auth import Auth, load_or_create_secret
from .config import Settings, load_settings, secret_file_for, spool_dir_for
from .errors import ConfigError, SlamonError
from .feed import FeedServer, Method, Session
from .incident_methods import auto_open, auto_recovered
from .incidents import PresenceBoard
from .methods import build_methods
from .models import (
    STATUS_SEVERITY,
    Check,
    Identity,
    Incident,
    MaintenanceWindow,
    OutageEpisode,
    Role,
    Service,
    ServiceStatus,
)
from .probe import Prober
from .scheduler import Scheduler
from .spool import Spool
from .state import HISTORY_DAYS, SPARKLINE_POINTS, LiveState
from .store import Store, open_store
from .writer import CheckWriter

logger = logging.getLogger("slamon.daemon")

INCIDENT_FLOOR = {
    "low": ServiceStatus.OPERATIONAL,
    "medium": ServiceStatus.DEGRADED,
    "high": ServiceStatus.PARTIAL_OUTAGE,
    "critical": ServiceStatus.MAJOR_OUTAGE,
}
"""The overall status is at least this while an incident of that severity is open."""

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
        notice: str | None = None,
    ) -> None:
        self.settings = settings
        cfg = settings.daemon
        self.store = store or open_store(cfg.database_url)
        self.prober = prober or Prober(node=cfg.node)
        self.notice = notice
        self.state = LiveState(cfg.daily_major_threshold)
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
        )
        secret = (
            cfg.jwt_secret.get_secret_value().encode()
            if cfg.jwt_secret
            else load_or_create_secret(secret_file_for(cfg))
        )
        self.auth = Auth(self.store, secret, access_ttl=timedelta(seconds=cfg.access_token_ttl))
        self.feed = FeedServer(
            cfg.socket,
            build_methods(self),
            hello={**protocol.hello(cfg.node, __version__), "anonymous_read": cfg.anonymous_read},
            default_role=Role.VIEWER if cfg.anonymous_read else Role.ANONYMOUS,
            owner_is_admin=cfg.owner_is_admin,
            authenticate=self.authenticate,
            on_mutation=self._audit,
            request_rate=cfg.request_rate,
            request_burst=cfg.request_rate * 4,
            socket_group=cfg.socket_group,
            on_close=lambda session: self.clear_presence(session.id),
        )
        self.presence = PresenceBoard()
        self.active_incidents: list[Incident] = []
        self._auto_seen: set[tuple[str, datetime]] = set()
        self._bg: set[asyncio.Task[None]] = set()
        self._incidents_lock = asyncio.Lock()
        self.maintenance: list[MaintenanceWindow] = []
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
        await self.reload_maintenance()
        services = await self.store.list_services()
        self.state.set_services(services)
        today = datetime.now(UTC).date()
        rollups = await self.store.daily_rollups(today - timedelta(days=HISTORY_DAYS - 1))
        latest = await self.store.latest_checks(SPARKLINE_POINTS)
        open_episodes = await self.store.episodes(open_only=True, limit=100_000)
        self.state.load_history(rollups, latest, open_episodes)
        await self._refresh_incidents()
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
                    datetime.now(UTC), self.settings.daemon.retention_days
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

    async def authenticate(self, s: Session, token: str | None) -> Identity:
        """Who makes a request: the token's user; else the socket owner (if owner_is_admin);
        else a viewer when anonymous_read, else anonymous."""
        cfg = self.settings.daemon
        if token:
            return await self.auth.identify(token)
        if cfg.owner_is_admin and s.peer_uid is not None and s.peer_uid in (0, os.getuid()):
            return Identity(f"uid:{s.peer_uid}", Role.ADMIN)
        return Identity("anonymous", Role.VIEWER if cfg.anonymous_read else Role.ANONYMOUS)

    async def _audit(self, s: Session, method: Method, params: dict[str, Any], result: Any) -> None:
        try:
            await write_audit(self, s, method, params, result)
        except SlamonError as exc:
            logger.error("audit entry for %s by %s not written: %s", method.name, s.name, exc)

    # -- incidents and presence --------------------------------------------------------

    def clear_presence(self, session_id: int) -> None:
        p = self.presence.clear(session_id)
        if p is not None:
            self.feed.publish("presence", {"action": "cleared", "presence": p.to_dict()})

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    def incidents_changed(self) -> None:
        """Open incidents changed: refresh the cached list and the overall status."""
        self._spawn(self._refresh_incidents())

    async def _refresh_incidents(self) -> None:
        # One refresh at a time, so an older read never replaces a newer one.
        async with self._incidents_lock:
            try:
                self.active_incidents, _ = await self.store.list_incidents(active=True, limit=1000)
            except SlamonError as exc:
                logger.warning("cannot read open incidents: %s", exc)
                return
            self._apply_incident_floor()

    def _apply_incident_floor(self) -> None:
        floor = max(
            (INCIDENT_FLOOR[i.severity] for i in self.active_incidents),
            key=STATUS_SEVERITY.__getitem__,
            default=ServiceStatus.OPERATIONAL,
        )
        for t in self.state.set_incident_floor(floor, datetime.now(UTC)):
            self.writer.add(t)
            self.feed.publish("status", t.to_dict())

    def auto_incident_retry(self, service_id: str, episode: OutageEpisode) -> None:
        self._auto_seen.discard((service_id, episode.started_at))

    def _auto_incident(self, check: Check, episode: OutageEpisode | None) -> None:
        """Open an incident for a long confirmed outage; post an update when it ends."""
        cfg = self.settings.daemon
        st = self.state.services.get(check.service_id)
        if (
            cfg.auto_incident
            and st is not None
            and st.episode is not None
            and st.status is ServiceStatus.MAJOR_OUTAGE
            and (check.started_at - st.episode.started_at).total_seconds()
            >= cfg.auto_incident_after
        ):
            key = (check.service_id, st.episode.started_at)
            if key not in self._auto_seen:
                self._auto_seen.add(key)
                self._spawn(
                    auto_open(
                        self,
                        OutageEpisode(
                            **{
                                f: getattr(st.episode, f)
                                for f in OutageEpisode.__dataclass_fields__
                            }
                        ),
                    )
                )
        if (
            episode is not None
            and episode.ended_at is not None
            and episode.worst_status is ServiceStatus.MAJOR_OUTAGE
        ):
            self._auto_seen.discard((episode.service_id, episode.started_at))
            self._spawn(auto_recovered(self, episode))

    async def reload_services(self) -> None:
        """Re-read the active services (after a change over the feed) and reschedule."""
        services = await self.store.list_services()
        self.state.set_services(services)
        self.scheduler.set_services(services)

    async def reload_maintenance(self) -> None:
        """Re-read the maintenance windows that have not ended from the store."""
        self.maintenance = await self.store.list_maintenance(since=datetime.now(UTC))

    def in_maintenance(self, service_id: str, at: datetime) -> bool:
        return any(w.covers(service_id, at) for w in self.maintenance)

    # -- the check path ---------------------------------------------------------------

    async def run_check(self, service: Service) -> None:
        check = await self.prober.check(
            service, maintenance=self.in_maintenance(service.id, datetime.now(UTC))
        )
        self.on_check(check)
        st = self.state.services.get(service.id)
        if st is not None and st.failure_pending and not check.maintenance:
            # Confirm a failure (or a recovery) sooner than the next regular slot.
            self.scheduler.check_soon(service.id, min(RECHECK_AFTER_S, service.interval_s / 3))

    def on_check(self, check: Check) -> None:
        """Fold a check into the live state, journal it for the store, tell subscribers."""
        self.checks_made += 1
        changes = self.state.apply(check)
        transitions = changes.transitions
        self.writer.add(check)
        for t in transitions:
            self.writer.add(t)
        if changes.episode is not None:
            self.writer.add(changes.episode)
        self._auto_incident(check, changes.episode)
        st = self.state.services.get(check.service_id)
        if st is not None and self.feed.has_subscribers("check"):
            today = datetime.now(UTC).date()
            cells, uptime = st.history(today, self.state.major_threshold)
            self.feed.publish(
                "check",
                {
                    "service_id": check.service_id,
                    "check": check.to_dict(),
                    "daily": cells[-1],
                    "uptime": uptime,
                },
            )
        for t in transitions:
            logger.info("status %s: %s -> %s", t.service_id or "overall", t.previous, t.status)
            self.feed.publish("status", t.to_dict())

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


# -- slamond ----------------------------------------------------------------------------


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        d = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            d["exc"] = self.formatException(record.exc_info)
        return json.dumps(d, ensure_ascii=False)


def setup_logging(level: str, as_json: bool) -> None:

    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("LOG_LEVEL", level).upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)


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
