"""Users, refresh tokens, the audit log and services managed over the feed, in the store
(SPEC §3.10), on both backends (the ``store`` fixture runs each test on SQLite and PostgreSQL).

The store never hashes: it keeps whatever hash it is given, so these tests use fixed strings
instead of argon2 hashes (hashing is tested through the daemon).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from slamon_daemon.auth import token_digest
from slamon_daemon.config import ServiceConfig
from slamon_daemon.errors import AlreadyExists
from slamon_daemon.models import AuditEntry, Role, Service
from slamon_daemon.store.base import Store

HASH_A = "$argon2id$v=19$m=65536,t=3,p=4$fake-a"
HASH_B = "$argon2id$v=19$m=65536,t=3,p=4$fake-b"


def svc(sid: str, url: str = "http://127.0.0.1:9/health", **kw: object) -> Service:
    return ServiceConfig(id=sid, url=url, **kw).to_service()  # type: ignore[arg-type]


# -- users ----------------------------------------------------------------------------------


async def test_create_get_and_list_users(store: Store) -> None:
    assert await store.list_users() == []
    assert await store.get_user("alice") is None

    before = datetime.now(UTC) - timedelta(seconds=5)
    carol = await store.create_user("carol", "carol@example.com", HASH_A, Role.ADMIN)
    alice = await store.create_user("alice", "", HASH_B, Role.VIEWER)
    bob = await store.create_user("bob", "bob@example.com", HASH_A, Role.REPORTER)

    assert (carol.username, carol.email, carol.role, carol.active) == (
        "carol",
        "carol@example.com",
        Role.ADMIN,
        True,
    )
    assert carol.password_hash == HASH_A
    assert carol.token_version == 0
    assert carol.last_login_at is None
    assert carol.created_at is not None and carol.created_at >= before
    assert len({carol.id, alice.id, bob.id}) == 3

    got = await store.get_user("bob")
    assert got is not None
    assert (got.id, got.username, got.email, got.role, got.password_hash) == (
        bob.id,
        "bob",
        "bob@example.com",
        Role.REPORTER,
        HASH_A,
    )

    # Every user, by username, with their roles.
    users = await store.list_users()
    assert [(u.username, u.role) for u in users] == [
        ("alice", Role.VIEWER),
        ("bob", Role.REPORTER),
        ("carol", Role.ADMIN),
    ]

    # The hash never leaves through the dict sent to clients.
    d = got.to_dict()
    assert "password_hash" not in d and HASH_A not in str(d)
    assert d["role"] == "reporter" and d["username"] == "bob"

    # The last login is kept to the microsecond.
    at = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    await store.record_login(bob.id, at)
    got = await store.get_user("bob")
    assert got is not None and got.last_login_at == at
    assert got.to_dict()["last_login_at"] == at.isoformat()
    other = await store.get_user("alice")
    assert other is not None and other.last_login_at is None


async def test_duplicate_username_is_already_exists(store: Store) -> None:
    first = await store.create_user("dup", "a@example.com", HASH_A, Role.VIEWER)
    with pytest.raises(AlreadyExists, match="dup"):
        await store.create_user("dup", "b@example.com", HASH_B, Role.ADMIN)
    # The first user is untouched and there is still only one.
    again = await store.get_user("dup")
    assert again is not None
    assert (again.id, again.email, again.role, again.password_hash) == (
        first.id,
        "a@example.com",
        Role.VIEWER,
        HASH_A,
    )
    assert [u.username for u in await store.list_users()] == ["dup"]


async def test_update_user_fields(store: Store) -> None:
    await store.create_user("erin", "old@example.com", HASH_A, Role.VIEWER)

    u = await store.update_user("erin", role=Role.ADMIN)
    assert u is not None and u.role is Role.ADMIN
    assert u.token_version == 0  # no revoke asked for

    u = await store.update_user("erin", email="new@example.com")
    assert u is not None and (u.email, u.role) == ("new@example.com", Role.ADMIN)

    u = await store.update_user("erin", password_hash=HASH_B)
    assert u is not None and u.password_hash == HASH_B

    u = await store.update_user("erin", active=False)
    assert u is not None and u.active is False
    u = await store.update_user("erin", active=True)
    assert u is not None and u.active is True

    # Nothing to change is not an error and changes nothing.
    same = await store.update_user("erin")
    assert same is not None
    assert (same.email, same.role, same.password_hash, same.active, same.token_version) == (
        "new@example.com",
        Role.ADMIN,
        HASH_B,
        True,
        0,
    )

    # What was written is what is read back.
    got = await store.get_user("erin")
    assert got is not None and (got.email, got.role, got.password_hash) == (
        "new@example.com",
        Role.ADMIN,
        HASH_B,
    )

    assert await store.update_user("nobody", role=Role.ADMIN) is None
    assert await store.update_user("nobody", revoke_tokens=True) is None
    assert await store.get_user("nobody") is None


async def test_revoke_tokens_bumps_version_and_revokes_refresh_tokens(store: Store) -> None:
    now = datetime.now(UTC)
    gus = await store.create_user("gus", "", HASH_A, Role.VIEWER)
    hal = await store.create_user("hal", "", HASH_A, Role.VIEWER)
    for t in ("gus-1", "gus-2"):
        await store.add_refresh_token(token_digest(t), gus.id, now + timedelta(days=30))
    await store.add_refresh_token(token_digest("hal-1"), hal.id, now + timedelta(days=30))

    u = await store.update_user("gus", role=Role.REPORTER, revoke_tokens=True)
    assert u is not None and u.token_version == 1 and u.role is Role.REPORTER
    u = await store.update_user("gus", revoke_tokens=True)
    assert u is not None and u.token_version == 2

    # Every refresh token of gus is gone; hal's is not.
    assert await store.use_refresh_token(token_digest("gus-1"), now) is None
    assert await store.use_refresh_token(token_digest("gus-2"), now) is None
    assert await store.use_refresh_token(token_digest("hal-1"), now) == hal.id
    other = await store.get_user("hal")
    assert other is not None and other.token_version == 0


# -- refresh tokens -------------------------------------------------------------------------


async def test_refresh_token_is_single_use(store: Store) -> None:
    now = datetime.now(UTC)
    u = await store.create_user("ivy", "", HASH_A, Role.VIEWER)
    digest = token_digest("the-refresh-token")
    await store.add_refresh_token(digest, u.id, now + timedelta(days=30))
    assert await store.use_refresh_token(digest, now) == u.id
    assert await store.use_refresh_token(digest, now) is None
    assert await store.use_refresh_token(digest, now + timedelta(seconds=1)) is None
    # Unknown tokens are refused too.
    assert await store.use_refresh_token(token_digest("never-issued"), now) is None

    # Logout revokes one token, not the user's others.
    a, b = token_digest("a"), token_digest("b")
    await store.add_refresh_token(a, u.id, now + timedelta(days=1))
    await store.add_refresh_token(b, u.id, now + timedelta(days=1))
    await store.revoke_refresh_token(a, now)
    await store.revoke_refresh_token(token_digest("unknown"), now)  # not an error
    assert await store.use_refresh_token(a, now) is None
    assert await store.use_refresh_token(b, now) == u.id


async def test_expired_refresh_token_is_refused(store: Store) -> None:
    now = datetime.now(UTC)
    u = await store.create_user("jon", "", HASH_A, Role.VIEWER)
    expired, at_edge, fresh = (token_digest(x) for x in ("expired", "edge", "fresh"))
    await store.add_refresh_token(expired, u.id, now - timedelta(seconds=1))
    await store.add_refresh_token(at_edge, u.id, now)
    await store.add_refresh_token(fresh, u.id, now + timedelta(seconds=1))
    assert await store.use_refresh_token(expired, now) is None
    assert await store.use_refresh_token(at_edge, now) is None  # expires_at must be after now
    assert await store.use_refresh_token(fresh, now) == u.id
    # A valid token used "later" than its expiry is refused as well.
    await store.add_refresh_token(token_digest("later"), u.id, now + timedelta(hours=1))
    assert await store.use_refresh_token(token_digest("later"), now + timedelta(hours=2)) is None


# -- audit log ------------------------------------------------------------------------------


async def test_audit_add_and_list_newest_first_with_limit(store: Store) -> None:
    t0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)
    entries = [
        AuditEntry("alice", "user.add", "bob", {"role": "viewer", "password": "***"}, t0),
        AuditEntry(
            "alice",
            "service.add",
            "api",
            {"id": "api", "nested": {"x": [1, 2]}},
            t0 + timedelta(minutes=2),
        ),
        AuditEntry(
            "cli:root", "cli user set-role", "bob", {"role": "admin"}, t0 + timedelta(minutes=1)
        ),
        # Same instant as the previous one: the later insert comes first.
        AuditEntry(
            "uid:0", "maintenance.create", None, {"title": "Ümläut ✓"}, t0 + timedelta(minutes=1)
        ),
    ]
    for e in entries:
        await store.add_audit(e)

    got = await store.list_audit()
    assert [(e.method, e.at) for e in got] == [
        ("service.add", t0 + timedelta(minutes=2)),
        ("maintenance.create", t0 + timedelta(minutes=1)),
        ("cli user set-role", t0 + timedelta(minutes=1)),
        ("user.add", t0),
    ]
    first = got[0]
    assert first.id is not None
    assert (first.actor, first.target, first.changes) == (
        "alice",
        "api",
        {"id": "api", "nested": {"x": [1, 2]}},
    )
    assert got[1].target is None and got[1].changes == {"title": "Ümläut ✓"}
    assert got[3].changes == {"role": "viewer", "password": "***"}
    assert len({e.id for e in got}) == 4

    assert [e.method for e in await store.list_audit(limit=2)] == [
        "service.add",
        "maintenance.create",
    ]
    assert [e.method for e in await store.list_audit(limit=1)] == ["service.add"]
    since = await store.list_audit(since=t0 + timedelta(minutes=1))
    assert [e.method for e in since] == ["service.add", "maintenance.create", "cli user set-role"]
    d = first.to_dict()
    assert set(d) == {"id", "at", "actor", "method", "target", "changes"}
    assert d["at"] == (t0 + timedelta(minutes=2)).isoformat()


# -- services managed over the feed -------------------------------------------------------


async def test_save_admin_service_refuses_config_ids_and_upserts_admin_ones(store: Store) -> None:
    await store.sync_services([svc("from-file")])
    assert await store.service_source("from-file") == "config"
    assert await store.service_source("nope") is None

    with pytest.raises(AlreadyExists, match="config"):
        await store.save_admin_service(svc("from-file", url="http://127.0.0.1:9/evil"))
    still = {s.id: s for s in await store.list_services(include_inactive=True)}
    assert still["from-file"].url == "http://127.0.0.1:9/health"
    assert await store.service_source("from-file") == "config"

    # Insert, then update in place (upsert).
    await store.save_admin_service(svc("by-admin", name="First", interval=30))
    assert await store.service_source("by-admin") == "admin"
    await store.save_admin_service(
        svc("by-admin", url="http://127.0.0.1:9/v2", name="Second", interval=45, active=False)
    )
    assert await store.service_source("by-admin") == "admin"
    every = {s.id: s for s in await store.list_services(include_inactive=True)}
    assert set(every) == {"from-file", "by-admin"}
    b = every["by-admin"]
    assert (b.name, b.url, b.interval_s, b.active) == (
        "Second",
        "http://127.0.0.1:9/v2",
        45.0,
        False,
    )
    # Inactive services are not listed by default.
    assert {s.id for s in await store.list_services()} == {"from-file"}

    await store.save_admin_service(svc("by-admin", url="http://127.0.0.1:9/v2", active=True))
    assert {s.id for s in await store.list_services()} == {"from-file", "by-admin"}


async def test_config_sync_leaves_admin_services_alone(store: Store) -> None:
    """A service added over the feed is not deactivated because the file does not name it."""
    await store.sync_services([svc("from-file")])
    await store.save_admin_service(svc("by-admin"))
    result = await store.sync_services([svc("from-file")])
    assert "by-admin" not in result.deactivated
    assert {s.id for s in await store.list_services()} == {"from-file", "by-admin"}
    assert await store.service_source("by-admin") == "admin"

    # The file is the source of truth for what it names: naming an admin id takes it over.
    await store.sync_services([svc("from-file"), svc("by-admin", url="http://127.0.0.1:9/file")])
    assert await store.service_source("by-admin") == "config"
    with pytest.raises(AlreadyExists):
        await store.save_admin_service(svc("by-admin"))
