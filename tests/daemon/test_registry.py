"""The registry of methods is callable without the feed, as an HTTP API will call it
(issue 9 point 3): its own caller identity, the same roles, audit and errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from slamon_daemon.api.context import Caller
from slamon_daemon.encoding import RawJSON
from slamon_daemon.errors import Forbidden, InvalidParams, NotFound, Unauthorized, Unavailable
from slamon_daemon.models import Identity, Role

from .support import remove_dir, short_dir
from .test_auth import daemon_config, running_daemon

SVC = {"id": "api", "url": "http://127.0.0.1:9/health", "interval": 3600}


@pytest.fixture
def folder() -> Iterator[Path]:
    d = short_dir()
    yield d
    remove_dir(d)


def http_caller(name: str, role: Role) -> Caller:
    """A caller as another transport would make one: no socket session, its own client key."""
    return Caller(Identity(name, role, user_id=7), client_key="http:10.0.0.9")


async def test_a_transport_without_sessions_calls_the_same_methods(folder: Path) -> None:
    async with running_daemon(daemon_config(folder, services=(SVC,))) as daemon:
        registry = daemon.registry
        assert "subscribe" not in registry.methods  # the feed's own: sessions and topics
        assert set(registry.methods) < set(daemon.feed.methods)
        viewer, admin = http_caller("vera", Role.VIEWER), http_caller("ada", Role.ADMIN)

        def method(name: str):  # type: ignore[no-untyped-def]
            m = registry.get(name)
            assert m is not None, name
            return m

        status = await registry.call(method("status.get"), viewer, {})
        assert isinstance(status, RawJSON)
        assert [s["id"] for s in json.loads(status.data)["services"]] == ["api"]

        start = datetime.now(UTC) + timedelta(days=1)
        params = {
            "title": "db upgrade",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        }
        with pytest.raises(Forbidden, match="needs the admin role; you are viewer"):
            await registry.call(method("maintenance.create"), viewer, params)
        anonymous = Caller(Identity("anonymous", Role.ANONYMOUS), client_key="http:10.0.0.9")
        with pytest.raises(Unauthorized, match=r"\(log in\)"):
            await registry.call(method("status.get"), anonymous, {})

        window = await registry.call(method("maintenance.create"), admin, params)
        assert window["created_by"] == "ada"
        (entry,) = await daemon.store.list_audit(limit=5)
        assert (entry.actor, entry.method) == ("ada", "maintenance.create")
        assert [w.title for w in daemon.maintenance.windows] == ["db upgrade"]

        with pytest.raises(NotFound):
            await registry.call(method("service.get"), viewer, {"id": "nope"})
        with pytest.raises(InvalidParams) as bad:
            await registry.call(method("service.day"), viewer, {"id": "api", "day": "soon"})
        assert bad.value.problems == {"day": bad.value.args[0]}
        # Presence belongs to a lasting connection, which this caller has not.
        with pytest.raises(Unavailable, match="lasting connection"):
            await registry.call(method("presence.set"), viewer, {"incident_id": 1})
