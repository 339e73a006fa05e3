"""The HTTP server (SPEC §3.12, issue 13): Starlette routes served by uvicorn inside slamond's
own event loop and lifecycle. Off unless ``[http] listen`` is set.

Two kinds of routes:

* **The JSON API** (``/health``, ``/api/...``): each route names a method of the one
  ``api.Registry`` and calls it exactly as the feed does — ``identify`` (a bearer token from
  auth.login; without one, anonymous, or a viewer when ``anonymous_read``), the role check,
  the handler, the audit entry. Errors are ``{"error": {"code", "message", "fields",
  "data"}}`` with the feed's codes (``errors.wire_error``) and the matching HTTP status.
* **The public routes** (``/status``, ``/api/v2/*.json``, ``/status/feed.atom``,
  ``/badge/...``, ``/metrics``): anonymous; built from the registry's replies through
  ``public.PublicView`` (source.py), so private services, internal updates and target URLs
  never reach a renderer. Answers carry an ETag; a matching If-None-Match gets 304.

The server never slows probing: guard.py caps the requests in progress, times them out and
rate-limits each client; renders run in one worker thread and are cached per view.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import json
import logging
import math
import re
import socket
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..api.context import Caller, LiveView
from ..api.registry import Method, Registry
from ..clock import Clock
from ..config import HttpConfig, Settings, StatusPageConfig, listen_address
from ..encoding import RawJSON, dumps
from ..errors import (
    INTERNAL_MESSAGE,
    InvalidParams,
    ServeError,
    SlamonError,
    Unauthorized,
    wire_error,
)
from ..models import Identity, Role
from ..protocol import ErrorCode
from . import statuspage
from .atom import render_atom
from .badges import KINDS, UPTIME_WINDOWS, etag_matches, etag_of, service_badge
from .guard import Guard, json_error
from .metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from .metrics import DaemonSample, ServiceSample
from .metrics_cache import MetricsRenderer
from .metrics_source import MetricsBook
from .page import (
    MAX_PAST_PAGES,
    render_history_page,
    render_incident_page,
    render_status_page,
)
from .public import PublicView
from .settings import PageSettings
from .source import PublicSource

logger = logging.getLogger("slamon.web")

HTTP_STATUS = {
    ErrorCode.PARSE_ERROR: 400,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.INVALID_PARAMS: 400,
    ErrorCode.FRAME_TOO_LARGE: 413,
    ErrorCode.UNKNOWN_METHOD: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.CONFLICT: 409,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}
"""The HTTP status of each feed error code."""

ANONYMOUS = Identity("anonymous", Role.ANONYMOUS)
"""An HTTP client without a bearer token."""
METRICS_TTL = 5.0
"""Seconds a /metrics render is served fresh at most (a scrape flood costs a render per 5 s)."""
METRICS_MAX_STALE = 15.0
"""Seconds: /metrics is served this old at most while a fresher one is rendered."""
MAX_BODY = 1 << 20
"""Request bodies larger than this are refused (413)."""
SERIES_OF_DAYS = {1: "24h", 7: "7d", 30: "30d"}
"""``/api/services/{id}/metrics?days=N``: the service.series range of each allowed N."""
TRANSPORT_ONLY = {"subscribe", "unsubscribe", "methods"}

MetricsSamples = Callable[[], tuple[list[ServiceSample], DaemonSample]]


class ApiError(Exception):
    """An HTTP-level problem (bad JSON body, unknown route parameter) with a feed code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def error_response(
    code: str, message: str, fields: Any = None, data: Any = None, *, status: int | None = None
) -> Response:
    extra: dict[str, Any] = {}
    if fields:
        extra["fields"] = fields
    if data:
        extra["data"] = data
    status = status or HTTP_STATUS.get(code, 500)
    headers = {"cache-control": "no-store"}
    if status == 401:
        headers["www-authenticate"] = 'Bearer realm="slamon"'
    return Response(
        json_error(status, code, message, **extra),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def json_response(result: Any, status: int = 200) -> Response:
    body = result.data if isinstance(result, RawJSON) else dumps(result)
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


class HttpApi:
    """The routes, over one registry and one public source."""

    def __init__(
        self,
        registry: Registry,
        *,
        page_settings: Callable[[], PageSettings],
        metrics_samples: MetricsSamples,
        cache_ttl: float = 2.0,
    ) -> None:
        self.registry = registry
        self.page_settings = page_settings
        self.metrics_samples = metrics_samples
        self.source = PublicSource(registry, ttl=cache_ttl)
        self.metrics = MetricsRenderer(lambda: metrics_samples()[0], lambda: metrics_samples()[1])
        self.renders = RenderCache(cache_ttl)
        self.metrics_renders = RenderCache(min(cache_ttl, METRICS_TTL))
        self._metrics_lock = asyncio.Lock()

    # -- the JSON API -----------------------------------------------------------------

    async def _caller(self, request: Request, method: Method) -> Caller:
        header = request.headers.get("authorization")
        token = None
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise Unauthorized(
                    'the Authorization header must be "Bearer <access token from auth.login>"'
                )
            token = value.strip()
        # Without a token an HTTP client is anonymous, whatever [daemon] anonymous_read says
        # (that is for local NOC screens on the socket): anonymous HTTP sees public data only.
        identity = ANONYMOUS
        if token is not None:
            try:
                identity = await self.registry.identify(token, None)
            except Unauthorized:
                if not method.login_flow:  # an expired token never locks out auth.login
                    raise
        host = request.client.host if request.client else "unknown"
        return Caller(identity, f"http:{host}")

    async def call(self, request: Request, name: str, params: dict[str, Any]) -> Response:
        """Run registry method ``name`` for the caller of ``request``; its JSON answer."""
        try:
            method = self.registry.get(name)
            if method is None or name in TRANSPORT_ONLY:
                raise ApiError(
                    ErrorCode.UNKNOWN_METHOD,
                    f"unknown method {name!r}; see docs/feed.md for the methods",
                )
            caller = await self._caller(request, method)
            result = await self.registry.call(method, caller, params)
            return json_response(
                result, 201 if request.method == "POST" and name.endswith(".create") else 200
            )
        except ApiError as exc:
            return error_response(exc.code, exc.message)
        except SlamonError as exc:
            if exc.code == ErrorCode.INTERNAL:
                logger.error("HTTP %s failed: %s", name, exc)
            return error_response(*wire_error(exc))
        except Exception:
            logger.exception("HTTP %s failed", name)
            return error_response(ErrorCode.INTERNAL, INTERNAL_MESSAGE)

    async def _body(self, request: Request) -> dict[str, Any]:
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise ApiError(
                    ErrorCode.FRAME_TOO_LARGE, f"request body larger than {MAX_BODY} bytes"
                )
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(ErrorCode.PARSE_ERROR, f"the body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ApiError(
                ErrorCode.BAD_REQUEST,
                f"the body must be a JSON object of params, got {type(body).__name__}",
            )
        return body

    async def _with_body(
        self, request: Request, name: str, build: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> Response:
        try:
            params = build(await self._body(request))
        except ApiError as exc:
            return error_response(exc.code, exc.message)
        except SlamonError as exc:
            return error_response(*wire_error(exc))
        return await self.call(request, name, params)

    @staticmethod
    def _query(request: Request, allowed: dict[str, type]) -> dict[str, Any]:
        """Query parameters as params: only ``allowed`` ones, ints parsed."""
        unknown = sorted(set(request.query_params) - set(allowed))
        if unknown:
            raise InvalidParams(
                f"unknown query parameters {unknown}; allowed: {', '.join(sorted(allowed)) or 'none'}"
            )
        out: dict[str, Any] = {}
        for key, kind in allowed.items():
            value = request.query_params.get(key)
            if value is None:
                continue
            if kind is int:
                if not re.fullmatch(r"-?\d{1,12}", value):
                    raise InvalidParams(
                        f'"{key}" must be a whole number, got {value!r}',
                        {key: "not a whole number"},
                    )
                out[key] = int(value)
            else:
                out[key] = value
        return out

    async def _get(
        self,
        request: Request,
        name: str,
        allowed: dict[str, type],
        extra: dict[str, Any] | None = None,
    ) -> Response:
        try:
            params = {**self._query(request, allowed), **(extra or {})}
        except SlamonError as exc:
            return error_response(*wire_error(exc))
        return await self.call(request, name, params)

    async def health(self, request: Request) -> Response:
        return await self._get(request, "ping", {})

    async def api_status(self, request: Request) -> Response:
        return await self._get(request, "status.get", {})

    async def api_services(self, request: Request) -> Response:
        response = await self._get(request, "status.get", {})
        if response.status_code != 200:
            return response
        status = json.loads(bytes(response.body))
        return json_response(status["services"])

    async def api_uptime(self, request: Request) -> Response:
        sid = request.path_params["id"]
        try:
            q = self._query(request, {"days": int})
        except SlamonError as exc:
            return error_response(*wire_error(exc))
        return await self.call(request, "sla.report", {"days": q.get("days", 90), "service": sid})

    async def api_metrics(self, request: Request) -> Response:
        sid = request.path_params["id"]
        try:
            days = self._query(request, {"days": int}).get("days", 30)
            if days not in SERIES_OF_DAYS:
                raise InvalidParams(
                    f'"days" must be one of {", ".join(map(str, SERIES_OF_DAYS))}, got {days}',
                    {"days": "not an allowed window"},
                )
        except SlamonError as exc:
            return error_response(*wire_error(exc))
        return await self.call(
            request, "service.series", {"id": sid, "range": SERIES_OF_DAYS[days]}
        )

    async def api_incidents(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._with_body(request, "incident.create", lambda b: b)
        return await self._get(request, "incident.list", {})

    async def api_incidents_past(self, request: Request) -> Response:
        return await self._get(request, "incident.past", {"days": int, "page": int, "limit": int})

    def _incident_id(self, request: Request) -> int:
        raw = request.path_params["id"]
        if not re.fullmatch(r"\d{1,18}", raw):
            raise InvalidParams(
                f"incident id must be a whole number, got {raw!r}", {"id": "not a number"}
            )
        return int(raw)

    async def api_incident(self, request: Request) -> Response:
        try:
            iid = self._incident_id(request)
        except SlamonError as exc:
            return error_response(*wire_error(exc))
        if request.method == "PATCH":
            # {"version": N, "changes": {...}}: the feed's incident.update, its conflict rule.
            return await self._with_body(request, "incident.update", lambda b: {**b, "id": iid})
        return await self._get(request, "incident.get", {}, {"id": iid})

    async def api_incident_updates(self, request: Request) -> Response:
        try:
            iid = self._incident_id(request)
        except SlamonError as exc:
            return error_response(*wire_error(exc))
        return await self._with_body(request, "incident.add_update", lambda b: {**b, "id": iid})

    async def api_incident_resolve(self, request: Request) -> Response:
        try:
            iid = self._incident_id(request)
        except SlamonError as exc:
            return error_response(*wire_error(exc))
        return await self._with_body(request, "incident.resolve", lambda b: {**b, "id": iid})

    async def api_login(self, request: Request) -> Response:
        return await self._with_body(request, "auth.login", lambda b: b)

    async def api_rpc(self, request: Request) -> Response:
        """``POST /api/rpc/{method}`` with the params as the JSON body: any method of the
        registry, as the feed serves it."""
        return await self._with_body(request, request.path_params["method"], lambda b: b)

    # -- the public routes ------------------------------------------------------------

    async def _rendered(
        self,
        request: Request,
        key: Any,
        render: Callable[[PublicView], bytes | str],
        media_type: str,
        max_age: int,
    ) -> Response:
        """A public answer from the render cache (rendered in the worker thread from the
        public view), with its ETag."""

        async def make() -> Rendered:
            view = await self.source.view()
            return await self.source.in_worker(lambda: finished(render(view)))

        try:
            rendered = await self.renders.get(key, make)
        except SlamonError as exc:
            return error_response(*wire_error(exc))
        return self._cacheable(request, rendered, media_type, max_age)

    @staticmethod
    def _cacheable(request: Request, rendered: Rendered, media_type: str, max_age: int) -> Response:
        """The answer, gzipped when the client takes it; 304 when its ETag matches."""
        headers = {"cache-control": f"public, max-age={max_age}"}
        body, etag = rendered.body, rendered.etag
        if rendered.gz is not None:
            headers["vary"] = "Accept-Encoding"
            if "gzip" in request.headers.get("accept-encoding", ""):
                body, etag = rendered.gz, etag[:-1] + '-gzip"'
                headers["content-encoding"] = "gzip"
        headers["etag"] = etag
        if etag_matches(request.headers.get("if-none-match"), etag):
            headers.pop("content-encoding", None)
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)

    def _statuspage_json(
        self, name: str, fn: Callable[..., dict[str, Any]]
    ) -> Callable[[Request], Any]:
        async def route(request: Request) -> Response:
            if request.query_params:
                return error_response(
                    ErrorCode.INVALID_PARAMS, f"{request.url.path} takes no query parameters"
                )
            settings = self.page_settings()

            def render(view: PublicView) -> bytes:
                return dumps(fn(view, settings))

            return await self._rendered(request, ("v2", name), render, "application/json", 5)

        return route

    async def status_page(self, request: Request) -> Response:
        try:
            page = self._query(request, {"page": int}).get("page", 1)
        except SlamonError as exc:
            return error_response(*wire_error(exc))
        settings = self.page_settings()
        page = max(1, min(page, MAX_PAST_PAGES))
        return await self._rendered(
            request,
            ("status", page),
            lambda view: render_status_page(view, settings, page=page),
            "text/html; charset=utf-8",
            5,
        )

    async def incident_page(self, request: Request) -> Response:
        raw = request.path_params["id"]
        if not re.fullmatch(r"\d{1,18}", raw):
            return error_response(ErrorCode.NOT_FOUND, f"no public incident {raw!r}")
        settings = self.page_settings()
        source = self.source
        view = await source.view()
        html = await source.in_worker(render_incident_page, view, settings, int(raw))
        if html is None:
            return error_response(ErrorCode.NOT_FOUND, f"no public incident {raw}")
        return self._cacheable(request, finished(html), "text/html; charset=utf-8", 5)

    async def history_page(self, request: Request) -> Response:
        try:
            q = self._query(request, {"until": str})
            view = await self.source.view()
            until = q.get("until") or f"{view.now:%Y-%m}"
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", until):
                raise InvalidParams(f'"until" must be a month like "2026-11", got {until!r}')
            calendars = await self.source.calendars([s.id for s in view.services], until, 3)
        except SlamonError as exc:
            return error_response(*wire_error(exc))
        settings = self.page_settings()
        rendered = await self.source.in_worker(
            lambda: finished(render_history_page(view, settings, calendars, until=until))
        )
        return self._cacheable(request, rendered, "text/html; charset=utf-8", 60)

    async def atom(self, request: Request) -> Response:
        settings = self.page_settings()
        return await self._rendered(
            request,
            ("atom",),
            lambda view: render_atom(view, settings),
            "application/atom+xml; charset=utf-8",
            60,
        )

    async def badge(self, request: Request) -> Response:
        sid = request.path_params["id"]
        kind = request.path_params["kind"]
        window = request.path_params.get("window")
        if kind not in KINDS:
            return error_response(
                ErrorCode.NOT_FOUND, f"no badge kind {kind!r}; kinds: {', '.join(KINDS)}"
            )
        if kind == "uptime" and window not in UPTIME_WINDOWS:
            return error_response(
                ErrorCode.NOT_FOUND,
                f"uptime badges are /badge/ID/uptime/WINDOW.svg with WINDOW one of"
                f" {', '.join(UPTIME_WINDOWS)}",
            )
        if kind != "uptime" and window is not None:
            return error_response(ErrorCode.NOT_FOUND, f"{kind} badges are /badge/ID/{kind}.svg")
        try:
            view = await self.source.view()
            s = view.service(sid)
            if s is not None and kind == "uptime":
                windows = await self.source.uptime_windows(sid)
                if windows is not None:
                    s = dataclasses.replace(s, uptime={**s.uptime, **windows})
                    view = dataclasses.replace(view, services=(s,), _by_id={sid: s})
        except SlamonError as exc:
            return error_response(*wire_error(exc))
        badge = service_badge(view, sid, kind, window)
        if badge is None:  # unknown and private services alike
            return error_response(ErrorCode.NOT_FOUND, "no public service with this id")
        rendered = Rendered(badge.svg.encode(), badge.etag)
        return self._cacheable(request, rendered, "image/svg+xml", 60)

    async def metrics_route(self, request: Request) -> Response:
        async def make() -> Rendered:
            samples, daemon = self.metrics_samples()
            async with self._metrics_lock:  # the renderer's cache is not shared by threads
                return await self.source.in_worker(
                    lambda: finished(self.metrics.render_from(samples, daemon))
                )

        # fresh for METRICS_TTL; a scrape after a quiet while waits for fresh figures, a flood
        # meanwhile gets the last render (at most METRICS_MAX_STALE old)
        rendered = await self.metrics_renders.get(("metrics",), make, max_stale=METRICS_MAX_STALE)
        headers = {"cache-control": "no-store"}
        body = rendered.body
        if rendered.gz is not None and "gzip" in request.headers.get("accept-encoding", ""):
            body = rendered.gz
            headers["content-encoding"] = "gzip"
        headers["content-type"] = METRICS_CONTENT_TYPE
        return Response(body, headers=headers)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        return error_response(
            ErrorCode.NOT_FOUND, f'no route {request.method} {request.url.path}; see README "HTTP"'
        )

    async def not_allowed(self, request: Request, exc: Exception) -> Response:
        return error_response(
            ErrorCode.BAD_REQUEST,
            f"{request.method} is not allowed on {request.url.path}",
            status=405,
        )

    def routes(self) -> list[Route]:
        sp = statuspage
        return [
            Route("/health", self.health),
            Route("/api/status", self.api_status),
            Route("/api/services", self.api_services),
            Route("/api/services/{id}/uptime", self.api_uptime),
            Route("/api/services/{id}/metrics", self.api_metrics),
            Route("/api/incidents", self.api_incidents, methods=["GET", "POST"]),
            Route("/api/incidents/past", self.api_incidents_past),
            Route("/api/incidents/{id}", self.api_incident, methods=["GET", "PATCH"]),
            Route("/api/incidents/{id}/updates", self.api_incident_updates, methods=["POST"]),
            Route("/api/incidents/{id}/resolve", self.api_incident_resolve, methods=["POST"]),
            Route("/api/auth/login", self.api_login, methods=["POST"]),
            Route("/api/rpc/{method}", self.api_rpc, methods=["POST"]),
            Route("/api/v2/summary.json", self._statuspage_json("summary", sp.summary_json)),
            Route("/api/v2/status.json", self._statuspage_json("status", sp.status_json)),
            Route(
                "/api/v2/components.json", self._statuspage_json("components", sp.components_json)
            ),
            Route("/api/v2/incidents.json", self._statuspage_json("incidents", sp.incidents_json)),
            Route(
                "/api/v2/incidents/unresolved.json",
                self._statuspage_json("unresolved", sp.unresolved_json),
            ),
            Route(
                "/api/v2/scheduled-maintenances.json",
                self._statuspage_json("maintenances", sp.scheduled_maintenances_json),
            ),
            Route("/status", self.status_page),
            Route("/status/history", self.history_page),
            Route("/status/feed.atom", self.atom),
            Route("/status/incidents/{id}", self.incident_page),
            Route("/badge/{id}/{kind}.svg", self.badge),
            Route("/badge/{id}/{kind}/{window}.svg", self.badge),
            Route("/metrics", self.metrics_route),
        ]

    def app(self, cfg: HttpConfig) -> Any:
        starlette = Starlette(
            routes=self.routes(),
            exception_handlers={404: self.not_found, 405: self.not_allowed},
        )
        return Guard(
            starlette,
            max_requests=cfg.max_requests,
            timeout=cfg.request_timeout,
            rate=cfg.rate_limit,
            burst=cfg.rate_burst,
            shed_lag=cfg.shed_lag or None,
            exempt=lambda path: path == "/health",
        )


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered answer, its ETag and its gzip form (None when too small to bother)."""

    body: bytes
    etag: str
    gz: bytes | None = None


def finished(out: bytes | str) -> Rendered:
    """Bytes, ETag and gzip of a render (run it in the worker thread: it hashes and
    compresses megabytes for 1,000 services)."""
    body = out.encode() if isinstance(out, str) else out
    gz = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= 1024 else None
    return Rendered(body, etag_of(body), gz)


class RenderCache:
    """Rendered answers by key, ``ttl`` seconds fresh. A stale answer younger than
    ``max_stale`` is served while one re-render runs in the background (pages: always, so a
    request never waits for a render but the first of its key; /metrics: a few seconds, so
    a scrape after a quiet while waits for fresh figures). Concurrent requests for a missing
    key share one render."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[Any, tuple[Rendered, float]] = {}
        self._making: dict[Any, asyncio.Task[Rendered]] = {}

    async def get(
        self, key: Any, make: Callable[[], Awaitable[Rendered]], *, max_stale: float = math.inf
    ) -> Rendered:
        hit = self._entries.get(key)
        age = self._clock() - hit[1] if hit is not None else math.inf
        if hit is not None and age < self.ttl:
            return hit[0]
        task = self._making.get(key)
        if task is None:
            task = asyncio.create_task(self._make(key, make), name=f"render:{key[0]}")
            self._making[key] = task
            task.add_done_callback(_log_failure)
        if hit is not None and age < max_stale:
            return hit[0]
        return await asyncio.shield(task)

    async def _make(self, key: Any, make: Callable[[], Awaitable[Rendered]]) -> Rendered:
        try:
            rendered = await make()
            if len(self._entries) > 1000:
                self._entries.clear()
            self._entries[key] = (rendered, self._clock())
            return rendered
        finally:
            self._making.pop(key, None)


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        if isinstance(exc, SlamonError):
            logger.warning("public page not rendered: %s", exc)
        else:
            logger.error("public page not rendered", exc_info=exc)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: slamond owns SIGTERM/SIGINT/SIGHUP and stops the
    server itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HttpServer:
    """uvicorn serving ``app`` on ``cfg.listen`` as a task of the running event loop."""

    def __init__(
        self, app: Any, cfg: HttpConfig, *, on_close: Callable[[], Any] | None = None
    ) -> None:
        assert cfg.listen is not None
        self.cfg = cfg
        self.host, self.port = listen_address(cfg.listen)
        self.app = app
        self.on_close = on_close
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (the port the OS chose for port 0)."""
        if self._sock is None:
            return self.host, self.port
        name = self._sock.getsockname()
        return str(name[0]), int(name[1])

    async def start(self) -> None:
        """Bind and serve. Raises ServeError when the address cannot be bound."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
            family = infos[0][0]
        except OSError as exc:
            raise ServeError(
                f"[http] listen = {self.cfg.listen!r}: cannot resolve {self.host!r}: {exc}"
            ) from exc
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(infos[0][4])
            sock.listen(1024)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise ServeError(f"[http] listen = {self.cfg.listen!r}: cannot listen: {exc}") from exc
        self._sock = sock
        config = uvicorn.Config(
            self.app,
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            date_header=True,
            limit_concurrency=self.cfg.max_connections,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=5,
            proxy_headers=bool(self.cfg.forwarded_allow_ips),
            forwarded_allow_ips=list(self.cfg.forwarded_allow_ips) or None,
            h11_max_incomplete_event_size=64 * 1024,
        )
        # uvicorn's own lines ("Started server process") would read as a second process.
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http")
        while not self._server.started:
            if self._task.done():
                failure = self._task.exception() if not self._task.cancelled() else None
                raise ServeError(f"the HTTP server did not start: {failure}")
            await asyncio.sleep(0.01)
        host, port = self.address
        logger.info("HTTP listening on %s", f"[{host}]:{port}" if ":" in host else f"{host}:{port}")

    async def stop(self) -> None:
        """Stop accepting, let requests in progress finish (5 s at most), close."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=10)
            except (TimeoutError, Exception):
                self._server.force_exit = True
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
        if isinstance(self.app, Guard):
            self.app.lag.stop()
        if self._sock is not None:
            self._sock.close()
        if self.on_close is not None:
            result = self.on_close()
            if asyncio.iscoroutine(result):
                await result
        self._server = self._task = self._sock = None


def page_settings(cfg: StatusPageConfig) -> PageSettings:
    """The renderers' settings from the [status_page] section."""
    return PageSettings(
        title=cfg.title,
        logo_text=cfg.logo_text,
        footer_text=cfg.footer_text,
        footer_url=cfg.footer_url,
        public_url=cfg.public_url,
    )


def http_server(
    registry: Registry,
    settings: Callable[[], Settings],
    book: MetricsBook,
    live: LiveView,
    stats: Callable[[], Mapping[str, Any]],
    clock: Clock,
) -> HttpServer:
    """The daemon's HTTP server (not started) over its registry, live state and figures.
    Page settings are read at each request, so a reload changes them; [http] needs a
    restart."""
    cfg = settings().http
    node = settings().daemon.node

    def samples() -> tuple[list[ServiceSample], DaemonSample]:
        s = settings()
        private = s.http.metrics_private
        return (
            book.service_samples(
                live.services,
                node=node,
                now=clock.now(),
                default_target=s.daemon.sla_target,
                include=lambda st: private or st.service.public,
            ),
            book.daemon_sample(node, stats()),
        )

    api = HttpApi(
        registry,
        page_settings=lambda: page_settings(settings().status_page),
        metrics_samples=samples,
        cache_ttl=cfg.cache_ttl,
    )
    return HttpServer(api.app(cfg), cfg, on_close=api.source.close)
