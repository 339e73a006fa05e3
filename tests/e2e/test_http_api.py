"""The HTTP server of a real slamond (issue 13), by real HTTP requests on 127.0.0.1.

One daemon for the module: two public services and a private one (``public = false``)
checking a local target, users of each role added over the feed socket, incidents made over
HTTP. Secret markers are planted in the private service (id, name, group), in the target
URLs, in an incident's description and impact, in an internal update and in an incident of
the private service only; no public route may show any of them.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .httpd import HttpDaemon, TargetServer, wait_until

PRIVATE = "secretprivsvc"
URL_MARK = "SECRETURLPATH"
INTERNAL = "SECRETINTERNALNOTE"
DESCRIPTION = "SECRETDESCRIPTION"
PRIVATE_INCIDENT = "SECRETPRIVATEINCIDENT"
MARKERS = (PRIVATE, URL_MARK, INTERNAL, DESCRIPTION, PRIVATE_INCIDENT)
PASSWORD = "correct-horse-battery-9"

PUBLIC_ROUTES = [
    "/status",
    "/status?page=2",
    "/status/history",
    "/status/feed.atom",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/metrics",
    "/health",
    "/badge/checkout/status.svg",
    "/badge/checkout/uptime/24h.svg",
    "/badge/checkout/uptime/7d.svg",
    "/badge/checkout/uptime/30d.svg",
    "/badge/checkout/uptime/90d.svg",
    "/badge/checkout/response.svg",
    "/badge/checkout/cert.svg",
    f"/badge/{PRIVATE}-db/status.svg",
    f"/badge/{PRIVATE}-db/uptime/30d.svg",
]


def _config(folder: Path, target: TargetServer) -> str:
    return f"""
[daemon]
database_url = "sqlite:///{folder}/slamon.db"
socket = "{folder}/s.sock"
write_flush_interval = "100ms"
owner_is_admin = true  # anonymous_read stays true: it never applies to HTTP

[http]
listen = "127.0.0.1:0"
rate_limit = 10000
rate_burst = 10000
cache_ttl = "100ms"
shed_lag = 0  # a busy test machine must not turn pages into 503s

[status_page]
title = "Acme status"
footer_text = "Acme"
footer_url = "https://acme.example"

[[service]]
id = "checkout"
name = "Checkout"
url = "{target.url(f"/{URL_MARK}-checkout")}"
interval = "1s"
group = "Payments"

[[service]]
id = "login"
name = "Login"
url = "{target.url(f"/{URL_MARK}-login")}"
interval = "1s"

[[service]]
id = "{PRIVATE}-db"
name = "{PRIVATE.upper()} database"
url = "{target.url(f"/{URL_MARK}-db")}"
interval = "1s"
group = "{PRIVATE.upper()} group"
public = false
"""


class Env:
    def __init__(self, daemon: HttpDaemon) -> None:
        self.daemon = daemon
        self.http = httpx.Client(base_url=daemon.base, timeout=20)
        self.tokens: dict[str, str] = {}

    def login(self, username: str) -> str:
        r = self.http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    folder = Path(tempfile.mkdtemp(prefix="slh-", dir="/tmp"))
    target = TargetServer()
    daemon = HttpDaemon(folder, _config(folder, target)).start()
    e = Env(daemon)
    try:
        for name, role in (("vera", "viewer"), ("rita", "reporter"), ("adam", "admin")):
            reply = daemon.call("user.add", {"username": name, "role": role, "password": PASSWORD})
            assert "result" in reply, reply
            e.tokens[role] = e.login(name)
        # every service checked at least once
        wait_until(
            lambda: all(s["last_check"] for s in daemon.call("status.get")["result"]["services"]),
            what="first checks",
        )
        # a public incident with an internal update, and an incident of the private service
        r = e.http.post(
            "/api/incidents",
            headers=e.auth("reporter"),
            json={
                "title": "Checkout slow",
                "severity": "medium",
                "priority": "P2",
                "services": ["checkout", f"{PRIVATE}-db"],
                "description": f"{DESCRIPTION} from the checks",
                "impact": f"{DESCRIPTION} impact",
                "message": "We are looking into slow checkouts.",
            },
        )
        assert r.status_code == 201, r.text
        e.incident = r.json()
        r = e.http.post(
            f"/api/incidents/{e.incident['id']}/updates",
            headers=e.auth("reporter"),
            json={"message": f"{INTERNAL}: primary database disk", "customer_visible": False},
        )
        assert r.status_code == 200, r.text
        r = e.http.post(
            "/api/incidents",
            headers=e.auth("reporter"),
            json={
                "title": f"{PRIVATE_INCIDENT} database",
                "severity": "high",
                "priority": "P1",
                "services": [f"{PRIVATE}-db"],
            },
        )
        assert r.status_code == 201, r.text
        yield e
    finally:
        e.http.close()
        code = daemon.stop()
        target.close()
        assert code == 0, daemon.log_text()
        assert "slamond stopped" in daemon.log_text()


def _get(env: Env, path: str, **kw: Any) -> httpx.Response:
    return env.http.get(path, **kw)


def test_every_public_route_answers(env: Env) -> None:
    kinds = {
        "/status": "text/html",
        "/status/history": "text/html",
        "/status/feed.atom": "application/atom+xml",
        "/api/v2/": "application/json",
        "/metrics": "text/plain",
        "/badge/": "image/svg+xml",
        "/health": "application/json",
    }
    for path in PUBLIC_ROUTES:
        r = _get(env, path)
        if PRIVATE in path:
            assert r.status_code == 404, (path, r.text)
            assert r.json()["error"]["code"] == "not_found"
            continue
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        kind = kinds[max((k for k in kinds if path.startswith(k)), key=len)]
        assert r.headers["content-type"].startswith(kind), (path, r.headers["content-type"])
    page = _get(env, "/status").text
    assert "Acme status" in page and "Checkout" in page and "Login" in page
    assert "Checkout slow" in page and "We are looking into slow checkouts." in page
    assert page.count('<ol class="bar"') == 2
    r = _get(env, f"/status/incidents/{env.incident['id']}")
    assert r.status_code == 200 and "Checkout slow" in r.text


def test_statuspage_json_shapes(env: Env) -> None:
    summary = _get(env, "/api/v2/summary.json").json()
    assert set(summary) >= {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert summary["page"]["name"] == "Acme status"
    assert summary["status"]["indicator"] in ("none", "minor", "major", "critical")
    names = {c["name"] for c in summary["components"]}
    assert {"Checkout", "Login", "Payments"} <= names
    for c in summary["components"]:
        assert c["status"] in (
            "operational",
            "degraded_performance",
            "partial_outage",
            "major_outage",
            "under_maintenance",
        )
    [inc] = summary["incidents"]
    assert inc["name"] == "Checkout slow"
    assert [u["body"] for u in inc["incident_updates"]] == ["We are looking into slow checkouts."]
    assert all("display_at" in u for u in inc["incident_updates"])
    unresolved = _get(env, "/api/v2/incidents/unresolved.json").json()
    assert [i["name"] for i in unresolved["incidents"]] == ["Checkout slow"]


def test_nothing_private_on_any_public_route(env: Env) -> None:
    bodies = {path: _get(env, path).text for path in PUBLIC_ROUTES}
    bodies[f"/status/incidents/{env.incident['id']}"] = _get(
        env, f"/status/incidents/{env.incident['id']}"
    ).text
    # the markers really are in the daemon: the viewer API shows them
    private = _get(env, "/api/status", headers=env.auth("viewer")).text
    assert PRIVATE in private and URL_MARK in private
    inc = _get(env, f"/api/incidents/{env.incident['id']}", headers=env.auth("viewer")).text
    assert INTERNAL in inc and DESCRIPTION in inc
    assert PRIVATE_INCIDENT in _get(env, "/api/incidents", headers=env.auth("viewer")).text
    for path, body in bodies.items():
        for mark in MARKERS:
            assert mark.lower() not in body.lower(), f"{mark} appears on {path}"
        assert "127.0.0.1" not in body, f"a target host appears on {path}"


def test_metrics_parse_with_prometheus_client(env: Env, tmp_path: Path) -> None:
    text = _get(env, "/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "slamon_service_info",
        "slamon_checks",
        "slamon_check_duration_seconds",
        "slamon_sla_error_budget_remaining_ratio",
        "slamon_service_status",
        "slamon_service_uptime_ratio",
        "slamon_scheduler_lateness_seconds",
        "slamon_last_check_timestamp_seconds",
    ):
        assert name in families, (name, sorted(families))
    checks = [s for s in families["slamon_checks"].samples if s.name == "slamon_checks_total"]
    assert {s.labels["service"] for s in checks} == {"checkout", "login"}
    assert sum(s.value for s in checks if s.labels["outcome"] == "up") >= 2
    windows = {s.labels["window"] for s in families["slamon_service_uptime_ratio"].samples}
    assert {"24h", "7d", "30d", "90d"} <= windows
    lateness = families["slamon_scheduler_lateness_seconds"].samples
    assert any(s.name.endswith("_count") and s.value >= 2 for s in lateness)
    promtool = shutil.which("promtool")
    if promtool:
        out = subprocess.run(
            [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=60
        )
        assert out.returncode == 0, out.stderr.decode() + out.stdout.decode()


def test_etag_and_304(env: Env) -> None:
    for path in ("/badge/checkout/status.svg", "/api/v2/components.json", "/status"):
        r = _get(env, path)
        etag = r.headers["etag"]
        again = _get(env, path, headers={"If-None-Match": etag})
        # a check may have changed the page meanwhile; then the new tag validates
        if again.status_code == 200:
            etag = again.headers["etag"]
            again = _get(env, path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert _get(env, path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_gzip_when_the_client_takes_it(env: Env) -> None:
    for path in ("/status", "/api/v2/summary.json", "/metrics", "/status/history"):
        zipped = _get(env, path)  # httpx asks for gzip and decodes it
        assert zipped.headers["content-encoding"] == "gzip", path
        plain = _get(env, path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers, path
        # httpx decoded it: fewer bytes came over the wire than the document has
        assert 0 < zipped.num_bytes_downloaded < len(zipped.content) * 0.7, path
        if path != "/metrics":
            assert plain.headers["etag"] != zipped.headers["etag"]
            assert plain.headers["vary"] == "Accept-Encoding"


def test_json_api_reads(env: Env) -> None:
    viewer = env.auth("viewer")
    assert _get(env, "/health").json()["pong"] is True
    status = _get(env, "/api/status", headers=viewer).json()
    assert {s["id"] for s in status["services"]} == {"checkout", "login", f"{PRIVATE}-db"}
    services = _get(env, "/api/services", headers=viewer).json()
    assert [s["id"] for s in services] == [s["id"] for s in status["services"]]
    uptime = _get(env, "/api/services/checkout/uptime?days=90", headers=viewer).json()
    assert uptime["services"][0]["id"] == "checkout"
    series = _get(env, "/api/services/checkout/metrics?days=30", headers=viewer).json()
    assert series["id"] == "checkout" and series["range"] == "30d"
    active = _get(env, "/api/incidents", headers=viewer).json()
    assert {i["title"] for i in active} == {"Checkout slow", f"{PRIVATE_INCIDENT} database"}
    past = _get(env, "/api/incidents/past?days=30&page=1&limit=5", headers=viewer).json()
    assert past["page"] == 1 and past["limit"] == 5 and past["days"] == 30


def test_roles_are_checked_over_http(env: Env) -> None:
    anon = _get(env, "/api/status")
    assert anon.status_code == 401
    assert anon.json()["error"]["code"] == "unauthorized"
    assert anon.headers["www-authenticate"].startswith("Bearer")
    bad = _get(env, "/api/status", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"
    basic = _get(env, "/api/status", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401 and "Bearer" in basic.json()["error"]["message"]
    body = {"title": "x", "severity": "low", "priority": "P4"}
    r = env.http.post("/api/incidents", headers=env.auth("viewer"), json=body)
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "forbidden" and "reporter" in err["message"]
    r = env.http.post("/api/incidents", json=body)
    assert r.status_code == 401
    r = env.http.post("/api/rpc/user.list", headers=env.auth("reporter"), json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = env.http.post("/api/rpc/user.list", headers=env.auth("admin"), json={})
    assert r.status_code == 200 and {u["username"] for u in r.json()} >= {"vera", "rita"}
    # nothing was created by the refused calls
    titles = [i["title"] for i in _get(env, "/api/incidents", headers=env.auth("viewer")).json()]
    assert "x" not in titles


def test_incident_versions_conflict_as_on_the_feed(env: Env) -> None:
    rep = env.auth("reporter")
    r = env.http.post(
        "/api/incidents",
        headers=rep,
        json={"title": "Login errors", "severity": "low", "priority": "P3", "services": ["login"]},
    )
    assert r.status_code == 201
    inc = r.json()
    v1 = inc["version"]
    r = env.http.patch(
        f"/api/incidents/{inc['id']}",
        headers=rep,
        json={"version": v1, "changes": {"severity": "medium"}},
    )
    assert r.status_code == 200 and r.json()["version"] == v1 + 1
    stale = env.http.patch(
        f"/api/incidents/{inc['id']}",
        headers=rep,
        json={"version": v1, "changes": {"severity": "high"}},
    )
    assert stale.status_code == 409
    err = stale.json()["error"]
    assert err["code"] == "conflict" and err["data"]["current"]["severity"] == "medium"
    assert "severity" in err["data"]["changed_fields"]
    r = env.http.post(
        f"/api/incidents/{inc['id']}/resolve",
        headers=rep,
        json={"version": v1 + 1, "root_cause": "a bad deploy", "message": "Fixed."},
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    # audited under the user's name, as on the feed
    audit = env.daemon.call("audit.list", {"limit": 20})["result"]
    entries = audit["items"] if isinstance(audit, dict) else audit
    mine = [a for a in entries if a.get("actor") == "rita" or a.get("user") == "rita"]
    assert {a["method"] for a in mine} >= {"incident.create", "incident.update", "incident.resolve"}


def test_bad_requests_get_clear_json_errors(env: Env) -> None:
    rep = env.auth("reporter")
    cases: list[tuple[httpx.Response, int, str, str]] = [
        (
            env.http.post("/api/incidents", headers=rep, content=b"{not json"),
            400,
            "parse_error",
            "not valid JSON",
        ),
        (
            env.http.post("/api/incidents", headers=rep, json=[1, 2]),
            400,
            "bad_request",
            "JSON object",
        ),
        (
            env.http.post("/api/incidents", headers=rep, json={"title": "t"}),
            400,
            "invalid_params",
            "required",
        ),
        (
            env.http.post(
                "/api/incidents",
                headers=rep,
                json={"title": "t", "severity": "low", "priority": "P3", "colour": 1},
            ),
            400,
            "invalid_params",
            "colour",
        ),
        (
            _get(env, "/api/incidents/past?days=abc", headers=rep),
            400,
            "invalid_params",
            "whole number",
        ),
        (
            _get(env, "/api/incidents/past?weeks=2", headers=rep),
            400,
            "invalid_params",
            "allowed: days, limit, page",
        ),
        (_get(env, "/api/incidents/past?days=0", headers=rep), 400, "invalid_params", "days"),
        (
            _get(env, "/api/services/checkout/metrics?days=5", headers=rep),
            400,
            "invalid_params",
            "1, 7, 30",
        ),
        (_get(env, "/api/services/nope/metrics", headers=rep), 404, "not_found", "nope"),
        (_get(env, "/api/incidents/999999", headers=rep), 404, "not_found", "999999"),
        (_get(env, "/api/incidents/abc", headers=rep), 400, "invalid_params", "whole number"),
        (env.http.post("/api/rpc/no.such", headers=rep, json={}), 404, "unknown_method", "no.such"),
        (
            env.http.post("/api/rpc/subscribe", headers=rep, json={}),
            404,
            "unknown_method",
            "subscribe",
        ),
        (env.http.delete("/api/incidents", headers=rep), 405, "bad_request", "DELETE"),
        (_get(env, "/nowhere"), 404, "not_found", "/nowhere"),
        (_get(env, "/badge/checkout/uptime/3d.svg"), 404, "not_found", "24h, 7d, 30d, 90d"),
        (_get(env, "/badge/checkout/colour.svg"), 404, "not_found", "status, uptime"),
        (_get(env, "/status?page=x"), 400, "invalid_params", "whole number"),
        (_get(env, "/status/history?until=2026-13"), 400, "invalid_params", "month"),
        (
            env.http.post("/api/incidents", headers=rep, content=b"{" + b" " * (1 << 20) + b"}"),
            413,
            "frame_too_large",
            "larger",
        ),
    ]
    for r, status, code, words in cases:
        assert r.status_code == status, (r.request.url, r.status_code, r.text[:300])
        assert r.headers["content-type"] == "application/json", r.request.url
        err = r.json()["error"]
        assert err["code"] == code, (r.request.url, err)
        assert words in err["message"], (r.request.url, err)
    # the daemon is still serving
    assert _get(env, "/health").status_code == 200


def test_login_errors_and_expired_token_on_login(env: Env) -> None:
    r = env.http.post("/api/auth/login", json={"username": "vera", "password": "wrong"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    # a stale token never locks out auth.login
    r = env.http.post(
        "/api/auth/login",
        headers={"Authorization": "Bearer stale"},
        json={"username": "vera", "password": PASSWORD},
    )
    assert r.status_code == 200 and r.json()["access_token"]
