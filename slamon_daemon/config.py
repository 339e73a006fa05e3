"""Settings: a TOML file plus SLAMON_* environment overrides (SPEC §2).

The file is found at ``--config``, else ``$SLAMON_CONFIG``, else ``./slamon.toml``, else
``$XDG_CONFIG_HOME/slamon/slamon.toml``; with none of them the defaults apply. Environment
variables override the file, nested with ``__`` (``SLAMON_DAEMON__SOCKET=/tmp/s.sock``).

Durations are written ``"500ms"``, ``"2s"``, ``"5m"``, ``"1h"`` (or a number of seconds).
Every problem in a file is reported, one line each, as ``file: key.path: what was wrong``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, SupportsIndex, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import tomli as tomllib  # the standard library's parser, compiled: 3.5x faster (pyproject)
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .assertions import parse_json_path
from .errors import ConfigError
from .models import MaintenanceWindow, Service

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
DURATION_HELP = 'a duration like "500ms", "2s", "5m", "1h" or a number of seconds'


def parse_duration(value: Any) -> float:
    """Seconds from "500ms" / "2s" / "5m" / "1h" / "1d" or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _duration_text(value)
    else:
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"must be greater than zero, got {value!r}")
    return seconds


@functools.lru_cache(maxsize=1024)
def _duration_text(value: str) -> float:
    """Seconds of "500ms" / "2s" / ... (50,000 services repeat a few values)."""
    m = _DURATION_RE.match(value)
    if not m:
        raise ValueError(f"expected {DURATION_HELP}, got {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


Duration = Annotated[float, BeforeValidator(parse_duration)]

_SERVICE_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_STATUS_RANGE_RE = re.compile(r"^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$")


def _parse_status_ranges(value: Any) -> list[tuple[int, int]]:
    items = value if isinstance(value, list) else [value]
    out: list[tuple[int, int]] = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and 100 <= item <= 599:
            out.append((item, item))
            continue
        if isinstance(item, str):
            m = _STATUS_RANGE_RE.match(item)
            if m:
                lo = int(m.group(1))
                hi = int(m.group(2) or lo)
                if 100 <= lo <= hi <= 599:
                    out.append((lo, hi))
                    continue
        raise ValueError(f'expected status codes 100-599 or ranges like "200-299", got {item!r}')
    if not out:
        raise ValueError('expected at least one status code or range like "200-299"')
    return out


# An http(s) URL of printable ASCII: httpx can only refuse its authority (host, port,
# userinfo); a path, query or fragment of printable ASCII after "/", "?" or "#" always
# parses. So the authority is checked once per distinct value (50,000 services on a few
# hosts: a few parses, not 50,000), anything else by a whole parse.
_PLAIN_URL_RE = re.compile(r"(https?)://([^/?#]*)(?:[/?#].*)?", re.DOTALL)
_MAX_PLAIN_URL = 8_000  # httpx's own limit is far above; longer ones take the whole parse


def _url_problem(v: str) -> str | None:
    """Why ``v`` is not a URL slamon can check (httpx's judgement), or None."""
    m = _PLAIN_URL_RE.fullmatch(v) if len(v) <= _MAX_PLAIN_URL else None
    if m is not None and v.isascii() and v.isprintable():
        reason = _authority_reason(m.group(1), m.group(2))
    else:
        reason = _url_reason(v)
    return None if reason is None else f"{v!r} {reason}"


@functools.lru_cache(maxsize=4096)
def _authority_reason(scheme: str, authority: str) -> str | None:
    return _url_reason(f"{scheme}://{authority}/")


def _url_reason(v: str) -> str | None:
    try:
        u = httpx.URL(v)
    except Exception as exc:  # httpx raises InvalidURL and others
        return f"is not a valid URL ({exc})"
    if u.scheme not in ("http", "https") or not u.host:
        return "is not an http:// or https:// URL with a host"
    return None


class DaemonConfig(BaseModel):
    """The [daemon] section."""

    model_config = ConfigDict(extra="forbid")

    database_url: str = Field(default_factory=lambda: default_database_url())
    """sqlite:///path/to/file.db (default, under $XDG_DATA_HOME/slamon) or postgresql://user@host/db."""

    socket: Path = Field(default_factory=lambda: default_socket_path())
    """The feed's Unix socket (default $XDG_RUNTIME_DIR/slamon.sock)."""

    spool_dir: Path | None = None
    """Local folder of the check journal, where checks wait while the database is unreachable.
    Default: beside the SQLite file ("<file>.spool/"), or for PostgreSQL
    $XDG_STATE_HOME/slamon/spool/<hash of the database URL>/."""

    sla_target: float = Field(default=99.9, gt=0, lt=100)
    """Default SLA target in percent for services that set none."""

    timezone: str = "UTC"
    """Timezone of SLA report periods (calendar months, days), e.g. "Asia/Seoul"."""

    retention_days: int = Field(default=90, ge=1, le=3650)
    """How long raw checks are kept; rollups are kept 400 days."""

    node: str = Field(default="local", min_length=1, max_length=64)
    """This daemon's name or region, recorded with every check."""

    # -- issue 15: several nodes on one PostgreSQL (docs/cluster.md) ---------------------
    region: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    """The region this node probes from (e.g. "eu-west"). Set on PostgreSQL, it makes the
    daemon a node of a cluster: services are placed on nodes by leases, one node per region
    probes each service, and a quorum of regions decides a major outage. Unset: one daemon
    probes everything (as on SQLite, which is always single-node)."""

    source_address: str | None = None
    """Local IP address checks are made from (e.g. "127.0.0.2"); default: the system's choice."""

    heartbeat: Duration = Field(default=2.0, ge=0.2, le=60)
    """How often a node says it is alive and renews its leases."""

    lease_timeout: Duration = Field(default=10.0, ge=1, le=600)
    """A node that has not renewed its leases for this long is dead: its services move."""

    health_interval: Duration = Field(default=60.0, ge=0.5, le=3600)
    """How often a node samples its own health (CPU, memory, disk, network, lateness,
    self-check) in a cluster."""

    reference_url: str | None = None
    """A target known to be up that a node of a cluster checks with every health sample
    (its self-check); a node whose self-check fails is sick: its failures do not count."""

    anonymous_read: bool = True
    """Let clients without a login read (never write). For unattended NOC screens."""

    owner_is_admin: bool = False
    """Clients running as the daemon's own Unix user (or root) may do everything without a
    login, like the owner of a Docker socket. Off by default; `slamon demo` turns it on."""

    socket_group: str | None = None
    """Group given the socket (mode 0660), so its members may connect."""

    jwt_secret: SecretStr | None = None
    """Token signing secret (better: SLAMON_DAEMON__JWT_SECRET). Default: generated once into
    secret_file."""

    secret_file: Path | None = None
    """Where the generated signing secret lives (mode 0600). Default: beside the SQLite file
    ("<file>.secret"), or $XDG_STATE_HOME/slamon/secret-<hash of the database URL>."""

    access_token_ttl: Duration = 12 * 3600.0
    """How long a login (access token) lasts."""

    auto_incident: bool = True
    """Open an incident by itself when a confirmed major outage lasts auto_incident_after."""

    auto_incident_after: Duration = 300.0
    """How long a confirmed major outage lasts before its auto-incident opens."""

    # -- issue 12: storms of auto-incidents ----------------------------------------------
    auto_incident_group_window: Duration = 300.0
    """Services whose outages start within this of an open auto-incident's start join that
    incident (one incident listing them) instead of opening one each."""

    request_rate: float = Field(default=50.0, gt=0, le=100_000)
    """Requests per second one connection may make (bursts of 4× are allowed)."""

    daily_major_threshold: float = Field(default=99.0, gt=0, le=100)
    """A day whose uptime is below this percentage is a major-outage day ("mo") on the bar."""

    max_concurrency: int = Field(default=500, ge=1, le=100_000)
    """Checks in flight at once, across all services."""

    per_host_concurrency: int = Field(default=20, ge=1, le=10_000)
    """Checks in flight at once against one host, to protect targets."""

    write_batch_size: int = Field(default=500, ge=1, le=10_000)
    """Check results written to the database per batch at most; up to ten batches of a
    backlog are written in one transaction."""

    write_flush_interval: Duration = 0.5
    """How long a check result may wait in memory before its batch is written."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Log verbosity (also LOG_LEVEL in the environment)."""

    log_json: bool = False
    """Write logs as JSON lines."""

    max_connections: int | None = Field(default=None, ge=1, le=1_000_000)
    """Feed connections served at once (default: half the descriptors left once the
    journal, the database and max_concurrency checks have theirs, at most 1,000). A
    connection over the limit gets one error line and is closed."""

    max_connections_per_user: int | None = Field(default=None, ge=1, le=1_000_000)
    """Feed connections one Unix user may hold at once (default: a quarter of
    max_connections, at least 8), so one user cannot take them all."""

    journal_memory_limit: int = Field(default=100_000, ge=100, le=10_000_000)
    """Records held in memory at most while the journal cannot be written (full disk,
    read-only filesystem); beyond it new checks are dropped and counted."""

    overload_lateness: Duration = 2.0
    """Checks starting later than this at the 99th percentile (over a minute) mean overload:
    a warning a minute, a flag in daemon.stats and a line on the dashboard."""

    overload_skipped_percent: float = Field(default=5.0, gt=0, le=100)
    """A share of slots skipped (over a minute) above this means overload too."""

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f'{v!r} is not a timezone name like "UTC" or "Asia/Seoul"') from None
        return v

    @field_validator("database_url")
    @classmethod
    def _check_db_url(cls, v: str) -> str:
        if v.startswith("sqlite:///") and len(v) > len("sqlite:///"):
            return v
        if v.startswith(("postgresql://", "postgres://")):
            return v
        raise ValueError("expected sqlite:///path/to/file.db or postgresql://user@host:port/dbname")


class ServiceConfig(BaseModel):
    """One [[service]] table."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """Stable kebab-case identifier, e.g. "face-compare"."""
    name: str | None = None
    """Display name (default: the id)."""
    url: str
    """The http:// or https:// URL to check."""
    interval: Duration = 60.0
    """Time between checks."""
    timeout: Duration = 10.0
    """A check that has not finished after this is a timeout."""
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    """HTTP method."""
    expect_status: Annotated[list[tuple[int, int]], BeforeValidator(_parse_status_ranges)] = Field(
        default_factory=lambda: [(200, 299)]
    )
    """Expected status codes: a list of codes and ranges like "200-299"."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Request headers, e.g. { Authorization = "Bearer …" } (values are never logged)."""
    body: str | None = None
    """Request body (for POST/PUT/PATCH)."""
    body_contains: str | None = None
    """The body (first 1 MiB) must contain this text."""
    body_regex: str | None = None
    """The body (first 1 MiB, as UTF-8) must match this regular expression."""
    json_path: str | None = None
    """The body must be JSON satisfying this, e.g. "$.status == 'UP'" (see README)."""
    follow_redirects: bool = False
    """Follow redirects (up to 10); when false a 3xx is judged by expect_status."""
    degraded_after: Duration | None = None
    """A correct answer slower than this counts as degraded."""
    confirm_failures: int = Field(default=2, ge=1, le=100)
    """Consecutive failed checks before the service is declared down."""
    sla_target: float | None = Field(default=None, gt=0, lt=100)
    """SLA target in percent (default: [daemon] sla_target)."""
    latency_objective_under: Duration | None = None
    """Latency objective: answered checks should be at or under this ("1000ms")…"""
    latency_objective_percent: float | None = Field(default=None, gt=0, le=100)
    """…at least this share of them, in percent (e.g. 95)."""

    @model_validator(mode="after")
    def _objective_pair(self) -> ServiceConfig:
        if (self.latency_objective_under is None) != (self.latency_objective_percent is None):
            raise ValueError(
                "latency_objective_under and latency_objective_percent go together"
                ' (e.g. "1000ms" and 95)'
            )
        return self

    verify_tls: bool = True
    """Verify the server certificate of https targets."""
    ca_file: str | None = None
    """PEM file of CA certificates to verify against instead of the system's (private CAs)."""
    active: bool = True
    """Set false to stop checking without removing the service's history."""

    # -- issue 12: dashboard groups and filters ------------------------------------------
    group: str | None = Field(default=None, min_length=1, max_length=64)
    """Dashboard section the service is shown in (e.g. "Payments"); none: ungrouped."""
    tags: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        default_factory=list, max_length=16
    )
    """Free labels to filter by on the dashboard (`/` then `tag:eu`), e.g. ["eu", "public"]."""

    # -- issue 11: alerts (checked by alerts/config_check.py, docs/alerts.md) -------------
    depends_on: list[str] = Field(default_factory=list)
    """Services this one needs: while one is confirmed down, this one's alerts are held."""
    alert_severity: Literal["info", "warning", "critical"] = "critical"
    """Severity of this service's outage alerts."""
    alert_channels: list[str] | None = None
    """Send this service's alerts to these channels only (default: route by the channels)."""
    # -- issue 13 ---------------------------------------------------------------------
    public: bool = True
    """Shown on the public status page, its JSON, badges and /metrics; false keeps the
    service internal (it never appears on any public route)."""
    # -- issue 15: regions and quorum (cluster only) --------------------------------------
    regions: list[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")]] = Field(
        default_factory=list, max_length=64
    )
    """Regions that probe the service, e.g. ["eu", "us"] (default: every region present)."""
    quorum: int | None = Field(default=None, ge=1, le=64)
    """Regions that must confirm a failure for a major outage (default: a majority)."""

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not _SERVICE_ID_RE.match(v) or len(v) > 64:
            raise ValueError(
                f"{v!r} is not a kebab-case id: use lowercase letters, digits and single dashes"
                ' (e.g. "face-compare"), at most 64 characters'
            )
        return v

    @field_validator("body_regex")
    @classmethod
    def _check_regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"{v!r} is not a valid regular expression: {exc}") from None
        return v

    @field_validator("json_path")
    @classmethod
    def _check_json_path(cls, v: str | None) -> str | None:
        if v is not None:
            parse_json_path(v)  # raises ValueError with what is allowed
        return v

    @field_validator("ca_file")
    @classmethod
    def _check_ca_file(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).is_file():
            raise ValueError(f"{v!r} is not a readable file (a PEM bundle of CA certificates)")
        return v

    @field_validator("url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        problem = _url_problem(v)
        if problem is not None:
            raise ValueError(problem)
        return v

    def to_service(self) -> Service:
        return Service(
            id=self.id,
            name=self.name or self.id,
            url=self.url,
            interval_s=self.interval,
            timeout_s=self.timeout,
            method=self.method,
            expect_status=_shared(tuple(self.expect_status)),
            body_contains=self.body_contains,
            body_regex=self.body_regex,
            json_path=self.json_path,
            headers=_shared(tuple(self.headers.items())),
            body=self.body,
            follow_redirects=self.follow_redirects,
            degraded_after_s=self.degraded_after,
            confirm_failures=self.confirm_failures,
            sla_target=self.sla_target,
            latency_objective_ms=(
                self.latency_objective_under * 1000
                if self.latency_objective_under is not None
                else None
            ),
            latency_objective_pct=self.latency_objective_percent,
            verify_tls=self.verify_tls,
            ca_file=self.ca_file,
            active=self.active,
            group=self.group,
            tags=_shared(tuple(self.tags)),
            public=self.public,
            regions=_shared(tuple(self.regions)),
            quorum=self.quorum,
        )


_SHARED: dict[Any, Any] = {}
"""Equal settings tuples of services (expect_status, headers, tags, regions) as one object:
50,000 services with the default ``((200, 299),)`` kept 50,000 copies of it (2.3 MiB)."""


_T = TypeVar("_T")


def _shared(value: _T) -> _T:
    if not value:
        return value  # () is one object already
    if len(_SHARED) > 10_000:  # many distinct values: each service keeps its own
        return _SHARED.get(value, value)  # type: ignore[no-any-return]
    return _SHARED.setdefault(value, value)  # type: ignore[no-any-return]


_ALERT_KEYS = ("depends_on", "alert_severity", "alert_channels")
_ALERT_DEFAULTS: tuple[list[str], str, list[str] | None] = ([], "critical", None)


class ServiceTables(list[ServiceConfig]):
    """The validated [[service]] tables, kept compact (``Settings.service``).

    A validated ``ServiceConfig`` takes ~1.3 KB (its dict of 30 fields, its set of the
    fields given, its own empty lists); 50,000 of them took 65 MiB for the daemon's life.
    Kept instead: each table's given fields as a tuple (its values, as validated) and its
    ``Service``. Read like the list of models it was: each item is rebuilt on access
    (``model_construct``: not validated again), equal to the validated one. Read-only.
    """

    __slots__ = ("_alert_at", "_rows", "_services")

    def __init__(self, configs: Iterable[ServiceConfig] = ()) -> None:
        super().__init__()
        names_of: dict[tuple[str, ...], tuple[str, ...]] = {}
        rows: list[tuple[Any, ...]] = []
        services: list[Service] = []
        for c in configs:
            given = c.model_fields_set
            names = tuple(sorted(given))
            names = names_of.setdefault(names, names)
            values = c.__dict__
            rows.append((names, *[values[n] for n in names]))
            services.append(c.to_service())
        self._rows = rows
        self._services = tuple(services)
        # where each alert key sits in a row of these names (0: not given)
        self._alert_at = {
            names: tuple(names.index(k) + 1 if k in names else 0 for k in _ALERT_KEYS)
            for names in names_of
        }

    @property
    def services(self) -> tuple[Service, ...]:
        """The tables as ``Service`` values, in order."""
        return self._services

    def alert_fields(self) -> Iterator[tuple[str, list[str], str, list[str] | None]]:
        """(id, depends_on, alert_severity, alert_channels) of each table, in order."""
        for row, service in zip(self._rows, self._services, strict=True):
            at = self._alert_at[row[0]]
            yield (
                service.id,
                row[at[0]] if at[0] else _ALERT_DEFAULTS[0],
                row[at[1]] if at[1] else _ALERT_DEFAULTS[1],
                row[at[2]] if at[2] else _ALERT_DEFAULTS[2],
            )

    @staticmethod
    def _model(row: tuple[Any, ...]) -> ServiceConfig:
        names = row[0]
        # Every field given: model_construct would inspect each default factory's
        # signature per call (~0.7 ms a model in pydantic 2.14).
        values = {
            n: f.default_factory() if f.default_factory is not None else f.default  # type: ignore[call-arg]
            for n, f in ServiceConfig.model_fields.items()
        }
        values.update((n, copy.copy(v)) for n, v in zip(names, row[1:], strict=True))
        return ServiceConfig.model_construct(set(names), **values)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[ServiceConfig]:
        return map(self._model, self._rows)

    def __reversed__(self) -> Iterator[ServiceConfig]:
        return map(self._model, reversed(self._rows))

    def __contains__(self, item: object) -> bool:
        return any(item == c for c in self)

    @overload
    def __getitem__(self, i: SupportsIndex) -> ServiceConfig: ...
    @overload
    def __getitem__(self, i: slice) -> list[ServiceConfig]: ...
    def __getitem__(self, i: SupportsIndex | slice) -> ServiceConfig | list[ServiceConfig]:
        if isinstance(i, slice):
            return [self._model(r) for r in self._rows[i]]
        return self._model(self._rows[i])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ServiceTables):
            return self._rows == other._rows
        if isinstance(other, list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __repr__(self) -> str:
        return repr(list(self))

    def __copy__(self) -> ServiceTables:
        return self  # read-only

    def __deepcopy__(self, memo: dict[int, Any]) -> ServiceTables:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (ServiceTables, (list(self),))

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("the validated [[service]] tables are read-only")

    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only

    def __add__(self, other: list[ServiceConfig]) -> list[ServiceConfig]:  # type: ignore[override]
        return [*self, *other]

    def __mul__(self, n: SupportsIndex) -> list[ServiceConfig]:
        return list(self) * n

    def index(self, value: Any, *args: Any) -> int:
        return list(self).index(value, *args)

    def count(self, value: Any) -> int:
        return sum(1 for c in self if c == value)

    def copy(self) -> list[ServiceConfig]:
        return list(self)


class MaintenanceConfig(BaseModel):
    """One [[maintenance]] table: a scheduled window (SPEC §3.7)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    """Stable kebab-case key of the window (editing the file updates it in place)."""
    title: str = Field(min_length=1, max_length=200)
    """What is being done, shown to users."""
    start: AwareDatetime
    """Start, an RFC 3339 time with offset, e.g. 2026-11-22T02:00:00Z."""
    end: AwareDatetime
    """End (after start)."""
    services: list[str] = Field(default_factory=list)
    """Service ids in maintenance; empty means every service."""

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not _SERVICE_ID_RE.match(v) or len(v) > 64:
            raise ValueError(f'{v!r} is not a kebab-case id (e.g. "db-upgrade-nov")')
        return v

    @model_validator(mode="after")
    def _end_after_start(self) -> MaintenanceConfig:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def to_window(self) -> MaintenanceWindow:
        return MaintenanceWindow(
            title=self.title,
            starts_at=self.start.astimezone(UTC),
            ends_at=self.end.astimezone(UTC),
            services=tuple(self.services),
            created_by="config",
            config_key=self.id,
        )


def _duration_or_off(value: Any) -> float:
    """A duration, or 0 (off)."""
    if value == 0 or value == "0":
        return 0.0
    return parse_duration(value)


class HttpConfig(BaseModel):
    """The [http] section (issue 13): the HTTP API, /metrics and the public status page.

    Off unless ``listen`` is set. The server runs in slamond's own event loop.
    """

    model_config = ConfigDict(extra="forbid")

    listen: str | None = None
    """Address to serve on, "HOST:PORT" (e.g. "127.0.0.1:3008"; "[::1]:3008" for IPv6).
    Unset: no HTTP server. Binding anything but a loopback address publishes the server:
    put it behind a reverse proxy (README)."""
    max_requests: int = Field(default=64, ge=1, le=10_000)
    """Requests handled at once; more get 503 at once (probing comes first)."""
    max_connections: int = Field(default=512, ge=1, le=100_000)
    """Open HTTP connections at most (uvicorn's limit_concurrency)."""
    request_timeout: Duration = 10.0
    """A request still unanswered after this gets 504."""
    rate_limit: float = Field(default=20.0, gt=0, le=100_000)
    """Requests per second one client (IP address) may make; bursts of rate_burst."""
    rate_burst: float = Field(default=60.0, ge=1, le=1_000_000)
    """Requests one client may make at once after a quiet while."""
    forwarded_allow_ips: list[str] = Field(default_factory=list, max_length=64)
    """Reverse proxies trusted for X-Forwarded-For / X-Forwarded-Proto (e.g. ["127.0.0.1"]),
    so the rate limit counts the real client. Empty: the headers are ignored."""
    shed_lag: Annotated[float, BeforeValidator(_duration_or_off)] = 0.25
    """While the event loop runs later than this (HTTP work making checks start late),
    requests but /health get 503 at once. 0: never shed."""
    metrics_private: bool = False
    """/metrics shows services with ``public = false`` too (protect /metrics then)."""
    cache_ttl: Duration = 30.0
    """Public pages and JSON are rebuilt at most this often; every request in between gets
    the same bytes, so a flood of page views costs one render (for 1,000 services a render
    of everything takes about a second of CPU). /metrics: at most 5 s."""

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, v: str | None) -> str | None:
        if v is not None:
            listen_address(v)  # raises ValueError saying what is allowed
        return v


def listen_address(text: str) -> tuple[str, int]:
    """("host", port) of a ``listen`` value "HOST:PORT" / "[IPV6]:PORT".

    Raises:
        ValueError: naming what is allowed.
    """
    example = 'expected "HOST:PORT" such as "127.0.0.1:3008" or "[::1]:3008"'
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"{text!r} is not an address; {example}")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"{text!r}: unclosed [ in the IPv6 address; {example}")
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{text!r}: put an IPv6 address in brackets; {example}")
    port = int(port_text)
    if not 0 <= port <= 65535:  # 0: any free port, said in the log (tests)
        raise ValueError(f"{text!r}: port {port} is not between 1 and 65535")
    if not re.fullmatch(r"[A-Za-z0-9.:-]+", host):
        raise ValueError(f"{text!r}: {host!r} is not a host name or IP address; {example}")
    return host, port


class StatusPageConfig(BaseModel):
    """The [status_page] section (issue 13): what the public pages say about themselves."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="Service status", min_length=1, max_length=200)
    """Page title (HTML title, Atom feed title, Statuspage page.name)."""
    logo_text: str = Field(default="", max_length=100)
    """Text shown as the logo in the header (the title when empty)."""
    footer_text: str = Field(default="", max_length=200)
    """Text of the footer link (no link when empty)."""
    footer_url: str = Field(default="", max_length=2000)
    """Where the footer link goes, e.g. "https://example.com"."""
    public_url: str = Field(default="", max_length=2000)
    """The page's public base URL without a trailing slash ("https://status.example.com"),
    for absolute links in the JSON and the Atom feed. Empty: root-relative links."""

    @field_validator("footer_url", "public_url")
    @classmethod
    def _check_url(cls, v: str) -> str:
        if v and not re.match(r"https?://[^\s/]+", v):
            raise ValueError(f"{v!r} is not an http:// or https:// URL")
        return v.rstrip("/")


class _DictSource(PydanticBaseSettingsSource):
    """The parsed TOML file as a settings source (below the environment)."""

    def __init__(self, settings_cls: type[BaseSettings], data: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._data = data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    """All of slamon's settings. Build with ``load_settings``."""

    model_config = SettingsConfigDict(
        env_prefix="SLAMON_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    """The [daemon] section."""
    service: list[ServiceConfig] = Field(default_factory=list)
    """The [[service]] tables."""
    maintenance: list[MaintenanceConfig] = Field(default_factory=list)
    """The [[maintenance]] tables."""
    alerts: dict[str, Any] = Field(default_factory=dict)
    """The [alerts] section (checked by alerts/config_check.py; docs/alerts.md)."""
    alert_channel: list[dict[str, Any]] = Field(default_factory=list)
    """The [[alert_channel]] tables (checked by alerts/config_check.py)."""
    http: HttpConfig = Field(default_factory=HttpConfig)
    """The [http] section (issue 13)."""
    status_page: StatusPageConfig = Field(default_factory=StatusPageConfig)
    """The [status_page] section (issue 13)."""

    @model_validator(mode="after")
    def _unique_ids(self) -> Settings:
        seen: set[str] = set()
        for s in self.service:
            if s.id in seen:
                raise ValueError(
                    f"duplicate service id {s.id!r}; each [[service]] needs its own id"
                )
            seen.add(s.id)
        ids = {s.id for s in self.service}
        for m in self.maintenance:
            unknown = [x for x in m.services if x not in ids]
            if unknown:
                raise ValueError(
                    f"maintenance {m.id!r} names unknown services {unknown}; known: {sorted(ids)}"
                )
        return self

    @model_validator(mode="after")
    def _compact(self) -> Settings:
        # The validated models go; what they said stays (ServiceTables).
        if not isinstance(self.service, ServiceTables):
            self.service = ServiceTables(self.service)
        return self

    @property
    def services(self) -> list[Service]:
        """The [[service]] tables as ``Service`` values (built once: 50,000 take ~0.3 s)."""
        tables = self.service
        if not isinstance(tables, ServiceTables):  # assigned after validation
            tables = self.service = ServiceTables(tables)
        return list(tables.services)

    def service_alert_fields(
        self,
    ) -> Iterator[tuple[str, list[str], str, list[str] | None]]:
        """(id, depends_on, alert_severity, alert_channels) of each [[service]], in order,
        without rebuilding its model."""
        tables = self.service
        if not isinstance(tables, ServiceTables):
            tables = self.service = ServiceTables(tables)
        return tables.alert_fields()

    @property
    def maintenance_windows(self) -> list[MaintenanceWindow]:
        return [m.to_window() for m in self.maintenance]


def default_socket_path() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "slamon.sock"
    return Path(f"/tmp/slamon-{os.getuid()}") / "slamon.sock"


def secret_file_for(daemon: DaemonConfig) -> Path:
    """Where the generated token signing secret of a daemon is kept."""
    if daemon.secret_file is not None:
        return daemon.secret_file
    url = daemon.database_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///") + ".secret")
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state_home) / "slamon" / f"secret-{hashlib.sha256(url.encode()).hexdigest()[:16]}"


def spool_dir_for(daemon: DaemonConfig) -> Path:
    """The journal folder of a daemon: one per database, so two daemons never share one."""
    if daemon.spool_dir is not None:
        return daemon.spool_dir
    url = daemon.database_url
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///") + ".spool")
    state_home = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path(state_home) / "slamon" / "spool" / digest


def default_database_url() -> str:
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(data_home) / 'slamon' / 'slamon.db'}"


def find_config_file(explicit: str | os.PathLike[str] | None) -> tuple[Path | None, bool]:
    """Where the config file is, and whether it was asked for explicitly (then it must exist)."""
    if explicit:
        return Path(explicit), True
    env = os.environ.get("SLAMON_CONFIG")
    if env:
        return Path(env), True
    local = Path("slamon.toml")
    if local.exists():
        return local, False
    xdg = (
        Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        / "slamon"
        / "slamon.toml"
    )
    if xdg.exists():
        return xdg, False
    return None, False


def _format_loc(loc: tuple[Any, ...], data: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for i, item in enumerate(loc):
        if isinstance(item, int):
            # Name a [[service]] by its id where it has one: "service[2] (id=api)".
            label = f"[{item}]"
            if isinstance(node, list) and 0 <= item < len(node) and isinstance(node[item], dict):
                sid = node[item].get("id")
                if isinstance(sid, str):
                    label += f" (id={sid})"
            parts.append(label)
            node = node[item] if isinstance(node, list) and 0 <= item < len(node) else None
        else:
            if item in ("function-after", "function-before") or str(item).startswith("function-"):
                continue
            sep = "." if parts and i > 0 else ""
            parts.append(f"{sep}{item}")
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed in the table that holds the unknown key at ``loc``."""
    section = next((p for p in loc[:-1] if isinstance(p, str)), None)
    models: dict[str, type[BaseModel]] = {
        "daemon": DaemonConfig,
        "service": ServiceConfig,
        "maintenance": MaintenanceConfig,
        "http": HttpConfig,
        "status_page": StatusPageConfig,
    }
    model = models.get(section or "", Settings)
    return sorted(model.model_fields)


def _problem_lines(exc: ValidationError, where: str, data: dict[str, Any]) -> list[str]:
    lines = []
    for err in exc.errors(include_url=False):
        loc = _format_loc(tuple(err["loc"]), data)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key; allowed here: {', '.join(_allowed_keys(tuple(err['loc'])))}"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] in (
            "timezone_aware",
            "datetime_type",
            "datetime_parsing",
            "datetime_from_date_parsing",
        ):
            msg = f"{msg}; expected an RFC 3339 time with an offset, e.g. 2026-11-22T02:00:00Z"
        lines.append(f"{where}: {loc}: {msg}")
    return lines


def load_settings(path: str | os.PathLike[str] | None = None) -> tuple[Settings, Path | None]:
    """Read settings from the config file and environment.

    Returns:
        The settings and the file they came from (None when only defaults and environment).
    Raises:
        ConfigError: with one line per problem, naming the file and the key path.
    """
    file, explicit = find_config_file(path)
    data: dict[str, Any] = {}
    where = str(file) if file else "environment"
    if file is not None:
        if not file.exists():
            raise ConfigError([f"{file}: file not found (pass --config PATH or set SLAMON_CONFIG)"])
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{file}: not valid TOML: {exc}"]) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"{file}: cannot read: {exc}"]) from None

    class _FromFile(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, _DictSource(settings_cls, data))

    duplicates = _duplicate_id_lines(data, where) + _unknown_maintenance_services(data, where)
    try:
        settings: Settings = _FromFile()
    except ValidationError as exc:
        problems = _problem_lines(exc, where, data)
        if duplicates:  # said better, with positions, than the model validator's lines
            problems = [p for p in problems if "(top level)" not in p]
        raise ConfigError(problems + duplicates) from None
    # The parsed file is referenced by _FromFile's source, and the class by the settings
    # (their type): emptied, its tables are freed (the values the settings took stay).
    # 50,000 services' took 24 MB for the daemon's life.
    data.clear()
    return settings, file


def _unknown_maintenance_services(data: dict[str, Any], where: str) -> list[str]:
    services = data.get("service")
    ids = (
        {s.get("id") for s in services if isinstance(s, dict)}
        if isinstance(services, list)
        else set()
    )
    windows = data.get("maintenance")
    if not isinstance(windows, list):
        return []
    lines = []
    for i, m in enumerate(windows):
        if not isinstance(m, dict) or not isinstance(m.get("services"), list):
            continue
        unknown = [x for x in m["services"] if x not in ids]
        if unknown:
            mid = m.get("id") if isinstance(m.get("id"), str) else None
            label = f" (id={mid})" if mid else ""
            lines.append(
                f"{where}: maintenance[{i}]{label}.services: maintenance {mid!r} names unknown"
                f" services {unknown};"
                f" known: {sorted(x for x in ids if isinstance(x, str))}"
            )
    return lines


def _duplicate_id_lines(data: dict[str, Any], where: str) -> list[str]:
    services = data.get("service")
    if not isinstance(services, list):
        return []
    first: dict[str, int] = {}
    lines = []
    for i, s in enumerate(services):
        sid = s.get("id") if isinstance(s, dict) else None
        if not isinstance(sid, str):
            continue
        if sid in first:
            lines.append(
                f"{where}: service[{i}] (id={sid}).id: duplicate service id {sid!r}"
                f" (first used by service[{first[sid]}]); each [[service]] needs its own id"
            )
        else:
            first[sid] = i
    return lines
