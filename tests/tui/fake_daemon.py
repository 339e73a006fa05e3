"""A small stand-in for the daemon's feed, on a real Unix socket, for the TUI's tests.

It speaks the protocol of slamon_daemon/protocol.py: a hello, request/reply by id,
``subscribe`` and pushed events. Tests set ``snapshot`` (what status.get answers), ``errors``
(method -> (code, message)) and ``results`` (method -> result), then ``push`` events.

The service detail methods (service.get / .series / .calendar / .day) answer, shaped as
docs/feed.md says, with figures made up from the snapshot's entry for the service (its
status, its daily cells).
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from slamon_daemon import protocol

from .fake_alerts import FakeAlerts
from .fake_auth import FakeAuth
from .fake_incidents import FAKE_MONTH, FakeIncidents, sla_row

TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 23, 10, tzinfo=UTC)
SERIES_RANGES = {"1h": (60, 60), "24h": (96, 900), "7d": (168, 3600), "30d": (120, 21600)}
"""range -> (points, bucket seconds), as the daemon's service.series."""
DAY_UPTIME = {"o": ("100.00", 0.0), "po": ("99.30", 600.0), "mo": ("80.00", 17280.0)}


def make_service(
    sid: str,
    name: str | None = None,
    *,
    status: str = "operational",
    daily: list[str] | None = None,
    latencies: list[float] | None = None,
    last_latency: float | None = 42.0,
    outcome: str = "up",
    error_kind: str | None = None,
    uptime: dict[str, str] | None = None,
    outcomes: list[str] | None = None,
    group: str | None = None,
    tags: list[str] | None = None,
    episode: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One entry of status.get's ``services``; ``outcomes`` defaults to all "up".

    A service in trouble has an open ``episode`` as the daemon sends it (started at 20:00,
    its cause the last check's); ``episode`` overrides it.
    """
    last_check = None
    if last_latency is not None:
        last_check = make_check(sid, last_latency, outcome=outcome, error_kind=error_kind)
    lats = latencies if latencies is not None else [10.0 + i % 7 for i in range(60)]
    return {
        "id": sid,
        "name": name or sid.upper(),
        "url": f"http://127.0.0.1:9/{sid}",
        "status": status,
        "status_since": "2026-11-21T20:00:00+00:00",
        "interval_s": 60.0,
        "last_check": last_check,
        "daily": daily if daily is not None else ["nd"] * 80 + ["o"] * 10,
        "uptime": uptime or {"30": "99.95", "60": "99.97", "90": "99.98"},
        "latencies": lats,
        "outcomes": outcomes if outcomes is not None else ["up"] * len(lats),
        "group": group,
        "tags": list(tags or []),
        "public": True,
        "episode": episode if episode is not None else _open_episode(status, last_check),
    }


def _open_episode(status: str, last_check: dict[str, Any] | None) -> dict[str, Any] | None:
    """The open episode of a service in ``status`` (None when it is not in trouble)."""
    if status not in ("major_outage", "partial_outage"):
        return None
    failed = last_check if last_check and last_check.get("outcome") == "down" else {}
    return {
        "started_at": "2026-11-21T19:58:30+00:00",
        "worst_status": status,
        "cause": failed.get("error_kind"),
        "error": failed.get("error"),
        "failed_checks": 12,
    }


def make_check(
    sid: str,
    latency: float,
    *,
    outcome: str = "up",
    error_kind: str | None = None,
    status_code: int | None = 200,
    at: datetime | None = None,
) -> dict[str, Any]:
    """A check dict as in ``last_check`` and check events."""
    at = at or datetime(2026, 11, 21, 23, 0, tzinfo=UTC)
    return {
        "service_id": sid,
        "started_at": at.isoformat(),
        "latency_ms": latency,
        "outcome": outcome,
        "status_code": status_code,
        "error_kind": error_kind,
        "error": None if error_kind is None else f"{error_kind} happened",
        "node": "local",
        "maintenance": False,
        "interval_s": 60.0,
        "cert_expires_at": None,
        # a failed check after a failed one: how far the downtime before it reached
        **({"previous_down_until": at.isoformat()} if outcome == "down" else {}),
    }


def make_snapshot(
    services: list[dict[str, Any]],
    *,
    overall: str = "operational",
    notice: str | None = None,
) -> dict[str, Any]:
    """A status.get result with 90 days ending TODAY."""
    return {
        "node": "local",
        "generated_at": "2026-11-21T23:10:00+00:00",
        "notice": notice,
        "overall": {"status": overall, "since": "2026-11-21T20:00:00+00:00"},
        "days": [(TODAY - timedelta(days=89 - i)).isoformat() for i in range(90)],
        "services": services,
    }


def make_window(
    checks: int = 1440, down: int = 1, errors: dict[str, int] | None = None, uptime: str = "99.93"
) -> dict[str, Any]:
    """One entry of service.get's ``windows``."""
    return {
        "checks": checks,
        "up": checks - down - 2,
        "degraded": 2,
        "down": down,
        "maintenance": 0,
        "downtime_s": 60.0 * down,
        "uptime": uptime,
        "latency_min_ms": 8.25,
        "latency_avg_ms": 21.5,
        "latency_max_ms": 812.0,
        "p50_ms": 19.8,
        "p95_ms": 44.1,
        "p99_ms": 120.4,
        "errors": errors if errors is not None else ({"timeout": down} if down else {}),
    }


def make_episode(
    sid: str,
    start: datetime,
    end: datetime | None,
    *,
    worst: str = "major_outage",
    cause: str | None = "connection_error",
    failed: int = 3,
) -> dict[str, Any]:
    """One outage episode as service.get and service.day send it."""
    return {
        "service_id": sid,
        "started_at": start.isoformat(),
        "ended_at": end.isoformat() if end else None,
        "worst_status": worst,
        "cause": cause,
        "error": f"{cause} happened" if cause else None,
        "failed_checks": failed,
    }


def make_detail(service: dict[str, Any]) -> dict[str, Any]:
    """A service.get result for one entry of status.get's ``services``."""
    sid = str(service["id"])
    failing = service["status"] in ("major_outage", "partial_outage")
    episodes = [
        make_episode(
            sid,
            NOW - timedelta(days=2, hours=3),
            NOW - timedelta(days=2, hours=2, minutes=48),
            worst="partial_outage",
            cause="timeout",
        )
    ]
    if failing:
        episodes.insert(0, make_episode(sid, NOW - timedelta(minutes=9), None, failed=18))
    recent = [
        make_check(
            sid,
            20.0 + i,
            outcome="down" if failing and i < 3 else "up",
            error_kind="connection_error" if failing and i < 3 else None,
            status_code=None if failing and i < 3 else 200,
            at=NOW - timedelta(minutes=i),
        )
        for i in range(20)
    ]
    return {
        "service": {
            "id": sid,
            "name": service["name"],
            "url": service["url"],
            "method": "GET",
            "interval_s": service["interval_s"],
            "timeout_s": 10.0,
            "degraded_after_s": 2.0,
            "confirm_failures": 2,
            "sla_target": 99.9,
        },
        "status": service["status"],
        "status_since": service["status_since"],
        "last_check": service["last_check"],
        "cert_expires_at": "2027-01-02T00:00:00+00:00",
        "uptime": {"24h": "99.93", "7d": "99.95", "30d": "100.00", "90d": "99.99"},
        "windows": {
            "24h": make_window(1440, 1, uptime="99.93"),
            "7d": make_window(10080, 5, {"timeout": 4, "http_error": 1}, "99.95"),
            "30d": make_window(43200, 0, uptime="100.00"),
            "90d": make_window(129600, 13, uptime="99.99"),
        },
        "episodes": episodes,
        "recent_checks": recent,
        "maintenance": [],
        "sla": {"period": FAKE_MONTH, **sla_row(sid, str(service["name"]))},
    } | cluster_detail(service)


def cluster_detail(service: dict[str, Any]) -> dict[str, Any]:
    """What service.get adds on a node of a cluster, for a status.get entry with
    ``regions`` (a single node's has none): each region's view, the quorum picture, each
    region's own uptime over 24 h (87.50 % where it sees the service down)."""
    regions: dict[str, dict[str, Any]] = service.get("regions") or {}
    if not regions:
        return {}
    names = sorted(regions)
    return {
        "regions": regions,
        "status_note": service.get("status_note"),
        "quorum": {
            "needed": len(names) // 2 + 1,
            "regions": names,
            "down": [n for n in names if regions[n].get("down")],
            "not_counted": [],
        },
        "region_uptime_24h": {n: "87.50" if regions[n].get("down") else "100.00" for n in names},
        "region_uptime": {
            window: {n: down if regions[n].get("down") else "100.00" for n in names}
            for window, down in (("24h", "87.50"), ("7d", "99.12"), ("30d", "99.80"))
        },
    }


def make_series(sid: str, rng: str, *, gaps: range = range(10, 15)) -> dict[str, Any]:
    """A service.series result: a wave of latencies, ``gaps`` buckets without checks, and
    failed checks in the bucket after the gap."""
    n, bucket_s = SERIES_RANGES[rng]
    end = datetime.fromtimestamp((int(NOW.timestamp()) // bucket_s + 1) * bucket_s, UTC)
    start = end - timedelta(seconds=n * bucket_s)
    points = []
    for i in range(n):
        t = (start + timedelta(seconds=i * bucket_s)).isoformat()
        if i in gaps:
            points.append(
                {
                    "t": t,
                    "checks": 0,
                    "down": 0,
                    "p50_ms": None,
                    "p95_ms": None,
                    "p99_ms": None,
                    "avg_ms": None,
                    "min_ms": None,
                    "max_ms": None,
                }
            )
            continue
        p50 = round(20.0 + 8.0 * math.sin(i / 6), 3)
        points.append(
            {
                "t": t,
                "checks": 4,
                "down": 1 if i == gaps.stop else 0,
                "p50_ms": p50,
                "p95_ms": round(p50 * 1.8, 3),
                "p99_ms": round(p50 * 2.6, 3),
                "avg_ms": round(p50 * 1.1, 3),
                "min_ms": round(p50 * 0.7, 3),
                "max_ms": round(p50 * 2.6, 3),
            }
        )
    summary = make_window(sum(p["checks"] for p in points), 1, uptime="99.93")
    return {"id": sid, "range": rng, "bucket_s": bucket_s, "points": points, "summary": summary}


def make_calendar(sid: str, days: list[str], daily: list[str], months: int = 3) -> dict[str, Any]:
    """A service.calendar result for the ``months`` months up to TODAY's, from the bar's cells."""
    by_day = dict(zip(days, daily, strict=False))
    y, m = TODAY.year, TODAY.month
    wanted = []
    for _ in range(months):
        wanted.append((y, m))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    out = []
    for y, m in reversed(wanted):
        cells = []
        for d in range(1, calendar.monthrange(y, m)[1] + 1):
            day = date(y, m, d)
            status = "future" if day > TODAY else by_day.get(day.isoformat(), "nd")
            uptime, downtime = DAY_UPTIME.get(status, ("—", 0))
            cells.append(
                {"day": day.isoformat(), "status": status, "uptime": uptime, "downtime_s": downtime}
            )
        out.append({"month": f"{y:04d}-{m:02d}", "days": cells})
    return {"id": sid, "months": out}


def make_day(sid: str, day: str, status: str) -> dict[str, Any]:
    """A service.day result for a day whose bar cell is ``status``."""
    uptime, downtime = DAY_UPTIME.get(status, ("—", 0))
    start = datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)
    episodes = (
        []
        if status in ("o", "nd")
        else [make_episode(sid, start, start + timedelta(seconds=downtime or 60))]
    )
    figures = None if status == "nd" else make_window(1440, len(episodes), uptime=uptime)
    return {
        "id": sid,
        "day": day,
        "status": status,
        "figures": figures,
        "uptime": uptime,
        "downtime_s": downtime,
        "episodes": episodes,
    }


class FakeDaemon:
    """Serves the feed on ``path`` until ``stop()``. Use ``async with``."""

    def __init__(self, path: Path, snapshot: dict[str, Any] | None = None) -> None:
        self.path = path
        self.snapshot = snapshot or make_snapshot([make_service("api", "API")])
        self.errors: dict[str, tuple[str, str]] = {}
        self.results: dict[str, Any] = {}
        self.delays: dict[str, float] = {}
        """method -> seconds to wait before answering (replies then come out of order)."""
        self.silent: set[str] = set()
        """Methods never answered, to leave a call pending."""
        self.requests: list[dict[str, Any]] = []
        self.hello = protocol.hello("local", "0.1.0")
        self.auth = FakeAuth(self)
        """Logins, roles, users, audit, service admin, maintenance (tests/tui/fake_auth.py)."""
        self.incidents = FakeIncidents(self)
        self.alerts = FakeAlerts(self)
        """Incidents, presence, sla.report (tests/tui/fake_incidents.py)."""
        self._server: asyncio.base_events.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._subscribers: list[asyncio.StreamWriter] = []
        self.subscribed = asyncio.Event()
        self.connections = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> FakeDaemon:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on the socket."""
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def stop(self, goodbye: str | None = None) -> None:
        """Close every connection and remove the socket, as a daemon that exits does.

        With ``goodbye``, every client first gets a ``goodbye`` event with that reason.
        """
        if goodbye is not None:
            frame = protocol.encode(protocol.event("goodbye", {"reason": goodbye}))
            for writer in list(self._writers):
                writer.write(frame)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        self._writers.clear()
        self._subscribers.clear()
        self.subscribed.clear()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def push(self, topic: str, data: dict[str, Any]) -> None:
        """Send an event to every subscribed client."""
        frame = protocol.encode(protocol.event(topic, data))
        for writer in list(self._subscribers):
            writer.write(frame)
            with contextlib.suppress(ConnectionError):
                await writer.drain()

    def count(self, method: str) -> int:
        """How many requests for ``method`` arrived so far."""
        return sum(1 for r in self.requests if r.get("method") == method)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            writer.write(
                protocol.encode({**self.hello, "anonymous_read": self.auth.anonymous_read})
            )
            await writer.drain()
            while line := await reader.readline():
                request = protocol.decode_request(line)
                self.requests.append(
                    {
                        "method": request.method,
                        "params": request.params,
                        **({"token": request.token} if request.token else {}),
                    }
                )
                if request.method in self.silent:
                    continue
                if request.method in self.delays:
                    task = asyncio.create_task(self._answer_later(request, writer))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    continue
                writer.write(protocol.encode(self._answer(request, writer)))
                await writer.drain()
        except (ConnectionError, protocol.ProtocolError):
            pass
        finally:
            if writer in self._subscribers:
                self._subscribers.remove(writer)
            self.incidents.disconnected(writer)
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()

    async def _answer_later(self, request: protocol.Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(self.delays[request.method])
        if not writer.is_closing():
            writer.write(protocol.encode(self._answer(request, writer)))

    def _answer(self, request: protocol.Request, writer: asyncio.StreamWriter) -> dict[str, Any]:
        if request.method in self.errors:
            code, message = self.errors[request.method]
            return protocol.error_reply(request.id, code, message)
        if request.method in self.results:
            return protocol.reply(request.id, self.results[request.method])
        denied = self.auth.check(request)
        if denied is not None:
            return denied
        answered = self.auth.answer(request)
        if answered is not None:
            return answered
        alerts = self.alerts.answer(request)
        if alerts is not None:
            return alerts
        incidents = self.incidents.answer(request, writer)
        if incidents is not None:
            return incidents
        if request.method == "status.get":
            snapshot = {**self.snapshot, "alerts": self.alerts.summary()}
            omit = set(request.params.get("omit") or ())
            if omit:  # as the daemon does: those keys left out of every service
                snapshot["services"] = [
                    {k: v for k, v in svc.items() if k not in omit}
                    for svc in snapshot.get("services", [])
                ]
            return protocol.reply(request.id, self.incidents.with_incidents(snapshot))
        if request.method.startswith("service."):
            return self._answer_service(request)
        if request.method == "ping":
            return protocol.reply(request.id, {"pong": True, "time": datetime.now(UTC).isoformat()})
        if request.method == "subscribe":
            self._subscribers.append(writer)
            self.subscribed.set()
            return protocol.reply(request.id, {"topics": request.params.get("topics", [])})
        return protocol.error_reply(
            request.id, protocol.ErrorCode.UNKNOWN_METHOD, f"no method {request.method!r}"
        )

    def _answer_service(self, request: protocol.Request) -> dict[str, Any]:
        params = request.params
        sid = str(params.get("id"))
        service = next((x for x in self.snapshot["services"] if x["id"] == sid), None)
        if service is None:
            return protocol.error_reply(
                request.id, protocol.ErrorCode.NOT_FOUND, f"no active service with id {sid!r}"
            )
        if request.method == "service.get":
            return protocol.reply(request.id, make_detail(service))
        if request.method == "service.series":
            rng = params.get("range", "24h")
            if rng not in SERIES_RANGES:
                problem = f'"range" must be one of {", ".join(SERIES_RANGES)}; got {rng!r}'
                return protocol.error_reply(
                    request.id, protocol.ErrorCode.INVALID_PARAMS, problem, {"range": problem}
                )
            return protocol.reply(request.id, make_series(sid, rng))
        days = self.snapshot["days"]
        daily = service["daily"][-len(days) :]
        daily = ["nd"] * (len(days) - len(daily)) + daily
        if request.method == "service.calendar":
            return protocol.reply(
                request.id, make_calendar(sid, days, daily, int(params.get("months", 3)))
            )
        if request.method == "service.day":
            day = str(params.get("day"))
            status = dict(zip(days, daily, strict=True)).get(day, "nd")
            return protocol.reply(request.id, make_day(sid, day, status))
        return protocol.error_reply(
            request.id, protocol.ErrorCode.UNKNOWN_METHOD, f"no method {request.method!r}"
        )
