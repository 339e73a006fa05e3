"""What the settings keep for the daemon's life (issue 14 point 3: RSS at 50,000 services).

The validated [[service]] models are not kept (ServiceTables keeps their given values and
their ``Service``); equal settings tuples are one object; the store hands back the
settings' own ``Service`` objects on both backends; glibc gives what the daemon freed back.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from slamon_daemon import malloc
from slamon_daemon.alerts.service import alert_settings
from slamon_daemon.config import ServiceConfig, ServiceTables, Settings, load_settings
from slamon_daemon.store.base import Store

FILE = """
[[service]]
id = "core-db"
url = "http://127.0.0.1:9/db"

[[service]]
id = "payments-api"
name = "Payments"
url = "https://127.0.0.1:9/pay"
interval = "30s"
timeout = "5s"
method = "POST"
expect_status = [200, "300-302"]
headers = { Authorization = "Bearer t0k" }
body = "{}"
body_contains = "ok"
degraded_after = "800ms"
confirm_failures = 3
sla_target = 99.5
latency_objective_under = "1000ms"
latency_objective_percent = 95
group = "Payments"
tags = ["eu", "prod"]
depends_on = ["core-db"]
alert_severity = "warning"
alert_channels = ["ops"]
public = false

[[service]]
id = "search"
url = "http://127.0.0.1:9/search"
tags = ["eu", "prod"]
active = false

[[alert_channel]]
id = "ops"
type = "webhook"
url = "http://127.0.0.1:9/hook"
"""


def _load(tmp_path: Path, text: str = FILE) -> tuple[Settings, Path]:
    path = tmp_path / "slamon.toml"
    path.write_text(text, encoding="utf-8")
    settings, found = load_settings(path)
    assert found == path
    return settings, path


def _live_service_configs() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is ServiceConfig)


def test_the_validated_models_are_not_kept(tmp_path: Path) -> None:
    before = _live_service_configs()
    settings, _ = _load(tmp_path)
    assert _live_service_configs() == before  # 50,000 of them took 65 MiB
    assert isinstance(settings.service, ServiceTables)


def test_the_tables_read_as_the_validated_models(tmp_path: Path) -> None:
    import tomli

    settings, _ = _load(tmp_path)
    tables = settings.service
    validated = [ServiceConfig.model_validate(t) for t in tomli.loads(FILE)["service"]]
    assert len(tables) == 3 and bool(tables)
    assert list(tables) == validated
    assert tables == validated and tables[1] == validated[1] and tables[-1] == validated[2]
    assert tables[1:] == validated[1:]
    assert [c.model_fields_set for c in tables] == [c.model_fields_set for c in validated]
    pay = tables[1]
    assert pay.depends_on == ["core-db"] and pay.alert_severity == "warning"
    assert pay.headers == {"Authorization": "Bearer t0k"} and pay.tags == ["eu", "prod"]
    assert pay.expect_status == [(200, 200), (300, 302)]
    assert tables[0].depends_on == [] and tables[0].name is None
    tables[1].tags.append("changed")  # a copy: the tables stay as validated
    assert tables[1].tags == ["eu", "prod"]
    with pytest.raises(TypeError):
        tables.append(validated[0])


def test_services_and_alert_fields_come_from_the_tables(tmp_path: Path) -> None:
    settings, path = _load(tmp_path)
    services = settings.services
    assert [s.id for s in services] == ["core-db", "payments-api", "search"]
    assert services == [c.to_service() for c in settings.service]
    pay = services[1]
    assert pay.latency_objective_ms == 1000 and pay.headers == (("Authorization", "Bearer t0k"),)
    assert not services[2].active
    # equal tuples are one object (the defaults' ((200, 299),) was one per service)
    assert services[0].expect_status is services[2].expect_status
    assert services[1].tags is services[2].tags
    fields = list(settings.service_alert_fields())
    assert fields == [
        ("core-db", [], "critical", None),
        ("payments-api", ["core-db"], "warning", ["ops"]),
        ("search", [], "critical", None),
    ]
    alert_settings(settings, str(path))  # still checked with them


def test_reload_compares_the_tables(tmp_path: Path) -> None:
    a, _ = _load(tmp_path)
    b, _ = _load(tmp_path)
    c, _ = _load(tmp_path, FILE.replace('interval = "30s"', 'interval = "31s"'))
    d, _ = _load(tmp_path, FILE.replace('alert_severity = "warning"', 'alert_severity = "info"'))
    assert a.service == b.service
    assert a.service != c.service and a.service != d.service


async def test_the_store_hands_back_the_settings_services(store: Store, tmp_path: Path) -> None:
    """PostgreSQL gives its jsonb back in other text: the daemon kept a second ``Service``
    per service (100,000 objects at 50,000 services)."""
    settings, _ = _load(tmp_path)
    given = settings.services
    await store.sync_services(given)
    listed = await store.list_services(include_inactive=True)
    assert listed == given
    assert all(a is b for a, b in zip(listed, given, strict=True))
    again = await store.list_services()
    assert all(a is b for a, b in zip(again, given[:2], strict=True))


@pytest.mark.skipif(
    not (hasattr(os, "confstr") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")),
    reason="glibc only",
)
def test_malloc_gives_freed_memory_back_on_glibc() -> None:
    held = [bytearray(4096) for _ in range(20_000)]  # ~80 MB in small blocks, then freed
    del held
    assert malloc.trim()  # glibc gave pages back
