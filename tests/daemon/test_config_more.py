"""More of the config file (SPEC §2, §3.7): [[maintenance]] tables, the body-check and TLS
keys of a service, and the one-line-per-problem messages for them."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from slamon_daemon.config import DaemonConfig, MaintenanceConfig, ServiceConfig, load_settings
from slamon_daemon.errors import ConfigError
from slamon_daemon.models import MaintenanceWindow, Service

SERVICES = """
[[service]]
id = "api"
url = "http://api.example/health"

[[service]]
id = "web"
url = "http://web.example/"
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for k in list(os.environ):
        if k.upper().startswith("SLAMON_"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "slamon.toml"
    p.write_text(text, encoding="utf-8")
    return p


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.problems
    assert all(p.startswith(f"{path}: ") for p in info.value.problems), info.value.problems
    assert all("\n" not in p for p in info.value.problems)
    return info.value.problems


def only_line(problems: list[str], needle: str) -> str:
    hits = [p for p in problems if needle in p]
    assert len(hits) == 1, f"expected one line with {needle!r}: {problems}"
    return hits[0]


def window(**over: str) -> str:
    fields = {
        "id": '"db-upgrade"',
        "title": '"Database upgrade"',
        "start": "2026-11-22T02:00:00Z",
        "end": "2026-11-22T03:30:00Z",
    }
    fields.update(over)
    return "\n[[maintenance]]\n" + "".join(f"{k} = {v}\n" for k, v in fields.items() if v)


# -- [[maintenance]] --------------------------------------------------------------------------


def test_valid_maintenance_windows(tmp_path: Path) -> None:
    text = (
        SERVICES
        + window(services='["api"]')
        + window(
            id='"all-hands"',
            title='"Network work"',
            start="2026-12-01T23:00:00+02:00",
            end="2026-12-02T01:00:00+02:00",
        )
    )
    settings, _ = load_settings(write(tmp_path, text))
    w1, w2 = settings.maintenance_windows
    assert w1 == MaintenanceWindow(
        title="Database upgrade",
        starts_at=datetime(2026, 11, 22, 2, 0, tzinfo=UTC),
        ends_at=datetime(2026, 11, 22, 3, 30, tzinfo=UTC),
        services=("api",),
        created_by="config",
        config_key="db-upgrade",
    )
    # Offsets are kept as instants and stored in UTC; no services means every service.
    assert (w2.starts_at, w2.ends_at) == (
        datetime(2026, 12, 1, 21, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 23, 0, tzinfo=UTC),
    )
    assert w2.starts_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert w2.services == () and w2.config_key == "all-hands"
    assert w2.covers("web", datetime(2026, 12, 1, 22, 0, tzinfo=UTC))
    assert w1.covers("api", datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    assert not w1.covers("web", datetime(2026, 11, 22, 2, 30, tzinfo=UTC))
    assert not w1.covers("api", datetime(2026, 11, 22, 3, 30, tzinfo=UTC))  # end excluded


def test_maintenance_end_before_start(tmp_path: Path) -> None:
    path = write(tmp_path, SERVICES + window(end="2026-11-22T01:00:00Z"))
    line = only_line(problems_of(path), "maintenance[0]")
    assert line == f"{path}: maintenance[0] (id=db-upgrade): end must be after start"


def test_maintenance_end_equal_to_start(tmp_path: Path) -> None:
    path = write(tmp_path, SERVICES + window(end="2026-11-22T02:00:00Z"))
    assert "end must be after start" in only_line(problems_of(path), "maintenance[0]")


def test_maintenance_naive_datetime(tmp_path: Path) -> None:
    path = write(tmp_path, SERVICES + window(start="2026-11-22T02:00:00"))
    line = only_line(problems_of(path), "maintenance[0]")
    assert line.startswith(f"{path}: maintenance[0] (id=db-upgrade).start: ")
    assert "timezone" in line


@pytest.mark.parametrize("start", ["2026-11-22T02:00:00", "2026-11-22"])
def test_maintenance_datetime_line_says_what_is_allowed(tmp_path: Path, start: str) -> None:
    path = write(tmp_path, SERVICES + window(start=start))
    line = only_line(problems_of(path), "maintenance[0]")
    assert "2026-11-22T02:00:00Z" in line or "offset" in line, line


def test_maintenance_bad_id(tmp_path: Path) -> None:
    path = write(tmp_path, SERVICES + window(id='"DB_Upgrade"'))
    line = only_line(problems_of(path), "kebab-case")
    assert line.startswith(f"{path}: maintenance[0] (id=DB_Upgrade).id: 'DB_Upgrade'")
    assert '"db-upgrade-nov"' in line  # an example of what is allowed


def test_maintenance_missing_keys(tmp_path: Path) -> None:
    path = write(tmp_path, SERVICES + window(title="", end=""))
    problems = problems_of(path)
    assert only_line(problems, ".title") == (
        f"{path}: maintenance[0] (id=db-upgrade).title: required key is missing"
    )
    assert only_line(problems, ".end") == (
        f"{path}: maintenance[0] (id=db-upgrade).end: required key is missing"
    )


def test_maintenance_unknown_service_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, SERVICES + window(services='["api", "nope"]'))
    line = only_line(problems_of(path), "unknown services")
    assert "'db-upgrade'" in line and "['nope']" in line
    assert "known: ['api', 'web']" in line  # what is allowed


def test_maintenance_unknown_service_line_has_the_key_path_and_comes_with_other_problems(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, SERVICES + window(services='["api", "nope"]'))
    line = only_line(problems_of(path), "unknown services")
    assert line.startswith(f"{path}: maintenance[0] (id=db-upgrade).services: "), line
    path = write(
        tmp_path,
        SERVICES.replace('id = "web"', 'id = "web"\ninterval = "5x"') + window(services='["nope"]'),
    )
    problems = problems_of(path)
    only_line(problems, ".interval")
    only_line(problems, "unknown services")


def test_maintenance_unknown_key_lists_the_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, SERVICES + window(service='["api"]'))
    line = only_line(problems_of(path), ".service:")
    assert line == (
        f"{path}: maintenance[0] (id=db-upgrade).service: unknown key; allowed here: "
        "end, id, services, start, title"
    )


# -- unknown keys list the allowed keys of their section ---------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "model"),
    [
        ("[daemon]\nretention = 30\n", "daemon.retention", DaemonConfig),
        (
            '[[service]]\nid = "api"\nurl = "http://a.example/"\nbody_contain = "ok"\n',
            "service[0] (id=api).body_contain",
            ServiceConfig,
        ),
        (
            '[[service]]\nid = "api"\nurl = "http://a.example/"\n' + window(titel='"x"'),
            "maintenance[0] (id=db-upgrade).titel",
            MaintenanceConfig,
        ),
    ],
)
def test_unknown_key_lists_the_keys_of_its_section(
    tmp_path: Path, text: str, where: str, model: type
) -> None:
    path = write(tmp_path, text)
    line = only_line(problems_of(path), "unknown key")
    prefix = f"{path}: {where}: unknown key; allowed here: "
    assert line.startswith(prefix), line
    assert line[len(prefix) :].split(", ") == sorted(model.model_fields)


def test_unknown_top_level_table_lists_the_sections(tmp_path: Path) -> None:
    path = write(tmp_path, '[servce]\nid = "x"\n')
    assert only_line(problems_of(path), "servce") == (
        f"{path}: servce: unknown key; allowed here: alert_channel, alerts, daemon, http, "
        "maintenance, service, status_page"
    )


# -- body checks and TLS keys -----------------------------------------------------------------


def test_invalid_body_regex(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[[service]]\nid = "api"\nurl = "http://a.example/"\nbody_regex = "(UP|OK"\n'
    )
    line = only_line(problems_of(path), "body_regex")
    assert line.startswith(
        f"{path}: service[0] (id=api).body_regex: '(UP|OK' is not a valid regular expression: "
    )
    assert "missing )" in line  # what is wrong with it


@pytest.mark.parametrize(
    ("expr", "detail"),
    [
        ("$.status > 1", "cannot read ' > 1'"),
        ("status == 'UP'", "\"status == 'UP'\""),
        ("$.status == UP", "cannot read the value 'UP'"),
    ],
)
def test_invalid_json_path(tmp_path: Path, expr: str, detail: str) -> None:
    path = write(
        tmp_path, f'[[service]]\nid = "api"\nurl = "http://a.example/"\njson_path = "{expr}"\n'
    )
    line = only_line(problems_of(path), "json_path")
    assert line.startswith(f"{path}: service[0] (id=api).json_path: ")
    assert detail in line
    assert "$ then .name / [index] steps" in line  # what is allowed


def test_ca_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    path = write(
        tmp_path, f'[[service]]\nid = "api"\nurl = "https://a.example/"\nca_file = "{missing}"\n'
    )
    line = only_line(problems_of(path), "ca_file")
    assert line == (
        f"{path}: service[0] (id=api).ca_file: '{missing}' is not a readable file"
        " (a PEM bundle of CA certificates)"
    )


def test_ca_file_that_is_a_directory(tmp_path: Path) -> None:
    path = write(
        tmp_path, f'[[service]]\nid = "api"\nurl = "https://a.example/"\nca_file = "{tmp_path}"\n'
    )
    assert "is not a readable file" in only_line(problems_of(path), "ca_file")


def test_every_body_check_problem_has_its_own_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[service]]\nid = "api"\nurl = "http://a.example/"\n'
        'body_regex = "["\njson_path = "$..x"\nca_file = "/nope/ca.pem"\n'
        'follow_redirects = "sometimes"\n',
    )
    problems = problems_of(path)
    assert len(problems) == 4, problems
    for key in ("body_regex", "json_path", "ca_file", "follow_redirects"):
        only_line(problems, f"(id=api).{key}: ")


def test_headers_body_redirects_and_ca_file_reach_the_service(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    path = write(
        tmp_path,
        f"""
[[service]]
id = "api"
url = "https://api.example/v1/ping"
method = "POST"
headers = {{ Authorization = "Bearer abc", "X-Trace" = "1" }}
body = '{{"ping": true}}'
body_regex = '"status":\\s*"(UP|OK)"'
json_path = "$.status == 'UP'"
follow_redirects = true
verify_tls = true
ca_file = "{ca}"

[[service]]
id = "plain"
url = "http://plain.example/"
""",
    )
    settings, _ = load_settings(path)
    api, plain = settings.services
    assert isinstance(api, Service)
    assert api.method == "POST"
    assert api.headers == (("Authorization", "Bearer abc"), ("X-Trace", "1"))
    assert api.body == '{"ping": true}'
    assert api.body_regex == '"status":\\s*"(UP|OK)"'
    assert api.json_path == "$.status == 'UP'"
    assert api.follow_redirects is True
    assert api.verify_tls is True and api.ca_file == str(ca)
    # Defaults of the same keys.
    assert (plain.headers, plain.body, plain.body_regex, plain.json_path) == ((), None, None, None)
    assert plain.follow_redirects is False and plain.ca_file is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [('"Bearer"', "headers"), ("{ X = 1 }", "headers.X"), ("42", "body")],
)
def test_headers_and_body_types(tmp_path: Path, value: str, problem: str) -> None:
    key = problem.split(".")[0]
    path = write(tmp_path, f'[[service]]\nid = "api"\nurl = "http://a.example/"\n{key} = {value}\n')
    only_line(problems_of(path), f"(id=api).{problem}: ")
