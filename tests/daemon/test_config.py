"""Settings from a TOML file plus SLAMON_* environment overrides, and their error lines (SPEC §2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slamon_daemon.config import load_settings, parse_duration
from slamon_daemon.errors import ConfigError

GOOD = """
[daemon]
database_url = "sqlite:///var/lib/slamon/slamon.db"
socket = "/run/slamon/slamon.sock"
sla_target = 99.5
retention_days = 30
node = "eu-1"
write_flush_interval = "500ms"

[[service]]
id = "face-compare"
name = "Face Compare"
url = "https://api.example.com/face-compare/health"
interval = "2s"
timeout = "500ms"
method = "HEAD"
expect_status = [200, "201-204", " 301 - 302 "]
body_contains = "ok"
degraded_after = "1h"
confirm_failures = 3
sla_target = 99.95

[[service]]
id = "billing-v2"
url = "http://billing.internal:8080/health"
interval = "5m"

[[service]]
id = "search"
url = "http://search.internal/"
interval = 30
timeout = 1.5
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SLAMON_* variable from the outer environment leaks into these tests."""
    for k in list(os.environ):
        if k.upper().startswith("SLAMON_"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)  # no ./slamon.toml is picked up by accident


def write(tmp_path: Path, text: str, name: str = "slamon.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.problems, "a ConfigError must carry at least one problem line"
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


# -- good files ---------------------------------------------------------------------------


def test_good_file_values_and_durations(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    settings, used = load_settings(path)
    assert used == path
    d = settings.daemon
    assert d.database_url == "sqlite:///var/lib/slamon/slamon.db"
    assert d.socket == Path("/run/slamon/slamon.sock")
    assert d.sla_target == 99.5
    assert d.retention_days == 30
    assert d.node == "eu-1"
    assert d.write_flush_interval == pytest.approx(0.5)

    fc, billing, search = settings.services
    assert fc.id == "face-compare" and fc.name == "Face Compare"
    assert fc.interval_s == pytest.approx(2.0)
    assert fc.timeout_s == pytest.approx(0.5)
    assert fc.degraded_after_s == pytest.approx(3600.0)
    assert fc.method == "HEAD"
    assert fc.expect_status == ((200, 200), (201, 204), (301, 302))
    assert fc.status_expected(203) and fc.status_expected(302)
    assert not fc.status_expected(205) and not fc.status_expected(300)
    assert fc.body_contains == "ok"
    assert fc.confirm_failures == 3
    assert fc.sla_target == 99.95

    assert billing.interval_s == pytest.approx(300.0)
    assert search.interval_s == pytest.approx(30.0)
    assert search.timeout_s == pytest.approx(1.5)


def test_service_defaults(tmp_path: Path) -> None:
    settings, _ = load_settings(write(tmp_path, GOOD))
    billing = settings.services[1]
    assert billing.name == "billing-v2"  # the id when no name is given
    assert billing.timeout_s == pytest.approx(10.0)
    assert billing.method == "GET"
    assert billing.expect_status == ((200, 299),)
    assert billing.body_contains is None
    assert billing.degraded_after_s is None
    assert billing.confirm_failures == 2
    assert billing.sla_target is None
    assert billing.verify_tls is True
    assert billing.active is True


def test_daemon_defaults_from_an_empty_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings, _ = load_settings(write(tmp_path, ""))
    d = settings.daemon
    assert d.sla_target == 99.9
    assert d.retention_days == 90
    assert d.node == "local"
    assert d.daily_major_threshold == 99.0
    assert d.socket == tmp_path / "run" / "slamon.sock"
    assert d.database_url == f"sqlite:///{tmp_path / 'data' / 'slamon' / 'slamon.db'}"
    assert settings.services == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("2s", 2.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1.5s", 1.5),
        (" 3 s ", 3.0),
        ("7", 7.0),
        (45, 45.0),
        (0.25, 0.25),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "5 minutes", "1w", "-1s", "0s", "ms", True, None, [1]])
def test_parse_duration_refuses(bad: object) -> None:
    with pytest.raises(ValueError, match="duration|greater than zero"):
        parse_duration(bad)


def test_env_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLAMON_DAEMON__NODE", "x")
    settings, _ = load_settings(write(tmp_path, GOOD))
    assert settings.daemon.node == "x"
    # The rest of the [daemon] section still comes from the file.
    assert settings.daemon.socket == Path("/run/slamon/slamon.sock")
    assert settings.daemon.sla_target == 99.5
    assert [s.id for s in settings.services] == ["face-compare", "billing-v2", "search"]


def test_slamon_config_env_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD, "elsewhere.toml")
    monkeypatch.setenv("SLAMON_CONFIG", str(path))
    settings, used = load_settings(None)
    assert used == path
    assert settings.daemon.node == "eu-1"


# -- bad files ----------------------------------------------------------------------------


def _only_line(problems: list[str], needle: str) -> str:
    hits = [p for p in problems if needle in p]
    assert len(hits) == 1, f"expected one line about {needle!r}, got {problems}"
    return hits[0]


def test_bad_duration(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[[service]]\nid = "api"\nurl = "http://a.example/"\ninterval = "5 minutes"\n'
    )
    problems = problems_of(path)
    line = _only_line(problems, "interval")
    assert line.startswith(f"{path}: ")
    assert "service[0]" in line and "(id=api)" in line and ".interval" in line
    assert "'5 minutes'" in line  # what was wrong
    assert '"500ms"' in line and '"1h"' in line  # what is allowed


def test_bad_duration_in_daemon_section(tmp_path: Path) -> None:
    path = write(tmp_path, '[daemon]\nwrite_flush_interval = "soon"\n')
    line = _only_line(problems_of(path), "write_flush_interval")
    assert line.startswith(f"{path}: daemon.write_flush_interval: ")
    assert "'soon'" in line and '"2s"' in line


def test_unknown_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[daemon]\nnod = "eu-1"\n\n[[service]]\nid = "a"\nurl = "http://a.example/"\nintervall = "1s"\n',
    )
    problems = problems_of(path)
    assert len(problems) == 2, problems
    daemon_line = _only_line(problems, "daemon.nod")
    assert daemon_line.startswith(f"{path}: daemon.nod: ")
    assert "unknown key" in daemon_line
    service_line = _only_line(problems, "intervall")
    assert service_line.startswith(f"{path}: service[0] (id=a).intervall: unknown key")


def test_unknown_key_line_names_the_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, '[daemon]\nnod = "eu-1"\n')
    line = _only_line(problems_of(path), "daemon.nod")
    assert "node" in line.split("daemon.nod", 1)[1]


def test_duplicate_service_id_names_both(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[service]]\nid = "api"\nurl = "http://a.example/"\n\n'
        '[[service]]\nid = "web"\nurl = "http://w.example/"\n\n'
        '[[service]]\nid = "api"\nurl = "http://b.example/"\n',
    )
    problems = problems_of(path)
    line = next(p for p in problems if "service[2]" in p)
    assert line.startswith(f"{path}: service[2] (id=api).id: duplicate service id 'api'")
    assert "service[0]" in line  # where the id was first used
    assert "needs its own id" in line  # what is allowed


def test_duplicate_service_id_is_one_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[service]]\nid = "api"\nurl = "http://a.example/"\n\n'
        '[[service]]\nid = "api"\nurl = "http://b.example/"\n',
    )
    problems = problems_of(path)
    assert len(problems) == 1, problems


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.com/x",
        "http://",
        "https:///path-only",
        "not a url",
        "example.com/health",
    ],
)
def test_bad_url(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, f'[[service]]\nid = "api"\nurl = "{url}"\n')
    line = _only_line(problems_of(path), ".url")
    assert line.startswith(f"{path}: service[0] (id=api).url: ")
    assert "http:// or https://" in line


def test_missing_url_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, '[[service]]\nid = "api"\n')
    line = _only_line(problems_of(path), ".url")
    assert line == f"{path}: service[0] (id=api).url: required key is missing"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}: file not found")
    assert "--config" in problems[0]


def test_missing_file_named_by_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLAMON_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match="gone.toml: file not found"):
        load_settings(None)


def test_invalid_toml(tmp_path: Path) -> None:
    path = write(tmp_path, '[daemon]\nnode = "eu-1\n')
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}: not valid TOML: ")
    assert "line 2" in problems[0]  # where in the file


@pytest.mark.parametrize("value", ['["600-700"]', '["abc"]', "[99]", '["300-200"]', "[]", "[true]"])
def test_bad_expect_status(tmp_path: Path, value: str) -> None:
    path = write(
        tmp_path, f'[[service]]\nid = "api"\nurl = "http://a.example/"\nexpect_status = {value}\n'
    )
    line = _only_line(problems_of(path), "expect_status")
    assert line.startswith(f"{path}: service[0] (id=api).expect_status: ")
    assert '"200-299"' in line  # what is allowed


@pytest.mark.parametrize(
    "sid", ["Face-Compare", "face_compare", "face--compare", "-api", "api-", "a" * 65, ""]
)
def test_bad_id(tmp_path: Path, sid: str) -> None:
    path = write(tmp_path, f'[[service]]\nid = "{sid}"\nurl = "http://a.example/"\n')
    line = _only_line(problems_of(path), "kebab-case")
    assert line.startswith(f"{path}: service[0]")
    assert ".id: " in line
    assert "lowercase letters, digits and single dashes" in line


def test_every_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[daemon]\nsla_target = 150\n\n"
        '[[service]]\nid = "Bad_Id"\nurl = "ftp://x/"\ninterval = "5 minutes"\n\n'
        '[[service]]\nid = "ok"\nurl = "http://ok.example/"\nconfirm_failures = 0\n',
    )
    problems = problems_of(path)
    assert len(problems) == 5, problems
    assert all(p.startswith(f"{path}: ") for p in problems)
    for key in (
        "daemon.sla_target",
        "(id=Bad_Id).id",
        "(id=Bad_Id).url",
        "(id=Bad_Id).interval",
        "(id=ok).confirm_failures",
    ):
        _only_line(problems, key)


def test_bad_env_value_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLAMON_DAEMON__RETENTION_DAYS", "forever")
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, GOOD))
    assert any("daemon.retention_days" in p for p in info.value.problems)


# -- slamond exits 2 --------------------------------------------------------------------


def _env_without_slamon() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("SLAMON_")}


def test_slamond_bad_config_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[daemon]\nnod = "x"\n\n[[service]]\nid = "api"\nurl = "ftp://x/"\ntimeout = "later"\n',
        "bad.toml",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "slamon_daemon", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env_without_slamon(),
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3, proc.stderr
    assert all(line.startswith(f"{path}: ") for line in lines), lines
    assert any("daemon.nod" in line for line in lines)
    assert any("(id=api).url" in line for line in lines)
    assert any("(id=api).timeout" in line for line in lines)
    assert "Traceback" not in proc.stderr


def test_slamond_missing_config_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "slamon_daemon", "--config", str(tmp_path / "absent.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env_without_slamon(),
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"{tmp_path / 'absent.toml'}: file not found (pass --config PATH or set SLAMON_CONFIG)"
    )
