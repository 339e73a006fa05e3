"""Incidents in the store (SPEC §3.6, §3.9): both backends, the same expectations.

Every test runs once on SQLite and once on PostgreSQL (the ``store`` fixture) with the same
hand-written expected values, so the two backends are held to identical results.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from slamon_daemon.errors import AlreadyExists, NotFound
from slamon_daemon.incidents import VersionConflict
from slamon_daemon.models import Incident, IncidentUpdate
from slamon_daemon.store.base import Store

T0 = datetime(2026, 11, 2, 9, 30, 0, 123456, tzinfo=UTC)


def incident(
    title: str = "Payments failing",
    *,
    started: datetime = T0,
    status: str = "investigating",
    services: tuple[str, ...] = ("payments",),
    **kw: Any,
) -> Incident:
    kw.setdefault("created_at", started)
    return Incident(
        title=title,
        status=status,
        severity=kw.pop("severity", "high"),
        priority=kw.pop("priority", 1),
        started_at=started,
        created_by=kw.pop("created_by", "alice"),
        services=services,
        **kw,
    )


def fields_of(inc: Incident) -> dict[str, Any]:
    """Everything an incident holds except its update ids (ids are the store's own)."""
    return {
        "id": inc.id,
        "title": inc.title,
        "description": inc.description,
        "status": inc.status,
        "severity": inc.severity,
        "priority": inc.priority,
        "impact": inc.impact,
        "root_cause": inc.root_cause,
        "resolution_notes": inc.resolution_notes,
        "services": inc.services,
        "started_at": inc.started_at,
        "identified_at": inc.identified_at,
        "monitoring_at": inc.monitoring_at,
        "resolved_at": inc.resolved_at,
        "first_update_at": inc.first_update_at,
        "created_by": inc.created_by,
        "resolved_by": inc.resolved_by,
        "created_at": inc.created_at,
        "updated_at": inc.updated_at,
        "version": inc.version,
        "episode_service": inc.episode_service,
        "episode_started_at": inc.episode_started_at,
        "updates": [
            (u.status, u.message, u.author, u.created_at, u.customer_visible) for u in inc.updates
        ],
    }


# -- create and get -------------------------------------------------------------------------


async def test_create_with_services_and_updates_then_get(store: Store) -> None:
    first = IncidentUpdate("investigating", "We are **looking** into it.", "alice", T0, True)
    internal = IncidentUpdate(
        "investigating", "pager sent to on-call", "alice", T0 + timedelta(seconds=5), False
    )
    created = await store.create_incident(
        incident(
            description="Card payments time out",
            impact="EU customers",
            services=("payments", "api"),
            updates=[internal, first],
            first_update_at=T0,
        )
    )
    assert isinstance(created.id, int) and created.id > 0
    assert created.version == 1
    # Services come back sorted; updates oldest first whatever order they were given in.
    assert created.services == ("api", "payments")
    assert [(u.message, u.customer_visible, u.author) for u in created.updates] == [
        ("We are **looking** into it.", True, "alice"),
        ("pager sent to on-call", False, "alice"),
    ]
    assert all(isinstance(u.id, int) for u in created.updates)
    got = await store.get_incident(created.id)
    assert got is not None
    assert fields_of(got) == fields_of(created)
    assert (got.title, got.description, got.impact, got.status, got.severity, got.priority) == (
        "Payments failing",
        "Card payments time out",
        "EU customers",
        "investigating",
        "high",
        1,
    )
    assert (got.started_at, got.created_at, got.first_update_at) == (T0, T0, T0)
    assert got.identified_at is None and got.resolved_at is None and got.resolved_by is None
    assert got.episode_service is None and got.active
    assert await store.get_incident(created.id + 1000) is None


async def test_two_incidents_get_distinct_ids_and_keep_their_own_services(store: Store) -> None:
    a = await store.create_incident(incident("A", services=("payments",)))
    b = await store.create_incident(incident("B", services=()))
    assert a.id != b.id
    got_a, got_b = await store.get_incident(a.id or 0), await store.get_incident(b.id or 0)
    assert got_a is not None and got_b is not None
    assert (got_a.title, got_a.services) == ("A", ("payments",))
    assert (got_b.title, got_b.services, got_b.updates) == ("B", (), [])


# -- versions -------------------------------------------------------------------------------


async def test_save_with_the_right_version_bumps_it_and_records_the_fields(store: Store) -> None:
    inc = await store.create_incident(incident())
    iid = inc.id or 0
    t1 = T0 + timedelta(minutes=3)
    saved = await store.save_incident(
        iid,
        1,
        {
            "title": "Payments failing in EU",
            "status": "identified",
            "identified_at": t1,
            "services": ("payments", "checkout"),
        },
        ["services", "status", "title"],
        "bob",
        t1,
    )
    assert saved.version == 2
    assert (saved.title, saved.status, saved.identified_at) == (
        "Payments failing in EU",
        "identified",
        t1,
    )
    assert saved.services == ("checkout", "payments")
    assert saved.updated_at == t1
    assert saved.created_at == T0  # unchanged
    got = await store.get_incident(iid)
    assert got is not None and fields_of(got) == fields_of(saved)
    # The fields of version 2 are what a save against version 1 is told about.
    with pytest.raises(VersionConflict) as exc:
        await store.save_incident(iid, 1, {"impact": "x"}, ["impact"], "carol", t1)
    assert exc.value.fields == ["services", "status", "title"]


async def test_stale_save_lists_the_union_of_fields_changed_since_and_writes_nothing(
    store: Store,
) -> None:
    inc = await store.create_incident(incident())
    iid = inc.id or 0
    t = T0 + timedelta(minutes=1)
    await store.save_incident(iid, 1, {"title": "T2"}, ["title"], "bob", t)  # v2
    await store.save_incident(
        iid, 2, {"severity": "critical", "impact": "all"}, ["impact", "severity"], "carol", t
    )  # v3
    await store.add_incident_update(
        iid, IncidentUpdate("investigating", "still on it", "bob", t), {}, t
    )  # v4
    await store.save_incident(iid, 4, {"description": "d"}, ["description"], "bob", t)  # v5
    before = await store.get_incident(iid)
    assert before is not None and before.version == 5

    expected = {
        1: ["description", "impact", "severity", "title", "updates"],
        2: ["description", "impact", "severity", "updates"],
        3: ["description", "updates"],
        4: ["description"],
    }
    for stale, fields in expected.items():
        with pytest.raises(VersionConflict) as exc:
            await store.save_incident(
                iid,
                stale,
                {"title": f"from v{stale}", "root_cause": "x"},
                ["root_cause", "title"],
                "mallory",
                t + timedelta(hours=1),
            )
        assert exc.value.fields == fields, stale
        # The conflict carries the incident as it is now.
        assert fields_of(exc.value.current) == fields_of(before)
    after = await store.get_incident(iid)
    assert after is not None
    assert fields_of(after) == fields_of(before), "a refused save wrote something"
    # The next save against the real version works, and is version 6.
    ok = await store.save_incident(iid, 5, {"root_cause": "bad deploy"}, ["root_cause"], "bob", t)
    assert (ok.version, ok.root_cause, ok.title) == (6, "bad deploy", "T2")


async def test_save_of_an_unknown_incident_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.save_incident(4242, 1, {"title": "x"}, ["title"], "bob", T0)
    with pytest.raises(NotFound):
        await store.add_incident_update(
            4242, IncidentUpdate("investigating", "m", "bob", T0), {}, T0
        )


async def test_add_update_never_conflicts_sets_first_update_once_and_bumps_version(
    store: Store,
) -> None:
    inc = await store.create_incident(incident())
    iid = inc.id or 0
    assert inc.first_update_at is None
    t1, t2, t3 = (T0 + timedelta(minutes=m) for m in (4, 9, 20))
    one = await store.add_incident_update(
        iid, IncidentUpdate("investigating", "first look", "bob", t1), {}, t1
    )
    assert (one.version, one.first_update_at) == (2, t1)
    # Someone saves meanwhile; an update made "against" the old state still lands.
    await store.save_incident(iid, 2, {"impact": "some"}, ["impact"], "carol", t2)
    two = await store.add_incident_update(
        iid,
        IncidentUpdate("identified", "found it", "bob", t2, customer_visible=False),
        {"status": "identified", "identified_at": t2},
        t2,
    )
    assert two.version == 4
    assert two.first_update_at == t1  # set once, by the first update
    assert (two.status, two.identified_at, two.impact) == ("identified", t2, "some")
    three = await store.add_incident_update(
        iid, IncidentUpdate("identified", "fix rolling out", "carol", t3), {}, t3
    )
    assert three.version == 5 and three.first_update_at == t1
    assert [
        (u.status, u.message, u.author, u.created_at, u.customer_visible) for u in three.updates
    ] == [
        ("investigating", "first look", "bob", t1, True),
        ("identified", "found it", "bob", t2, False),
        ("identified", "fix rolling out", "carol", t3, True),
    ]
    # The revision of an update with a status change names both.
    with pytest.raises(VersionConflict) as exc:
        await store.save_incident(iid, 3, {"title": "x"}, ["title"], "dave", t3)
    assert exc.value.fields == ["status", "updates"]


async def test_first_update_at_given_at_creation_is_kept(store: Store) -> None:
    inc = await store.create_incident(
        incident(
            updates=[IncidentUpdate("investigating", "opened", "alice", T0)], first_update_at=T0
        )
    )
    later = await store.add_incident_update(
        inc.id or 0,
        IncidentUpdate("investigating", "more", "bob", T0 + timedelta(hours=1)),
        {},
        T0 + timedelta(hours=1),
    )
    assert later.first_update_at == T0


# -- listing --------------------------------------------------------------------------------


async def test_list_active_and_past_with_since_offset_limit_total(store: Store) -> None:
    ids_by_title: dict[str, int] = {}
    for i in range(7):  # resolved, started T0-0h .. T0-6h*24 (one per day back)
        started = T0 - timedelta(days=i)
        inc = await store.create_incident(
            incident(
                f"past-{i}",
                started=started,
                status="resolved",
                resolved_at=started + timedelta(hours=1),
                resolved_by="bob",
            )
        )
        ids_by_title[inc.title] = inc.id or 0
    for i in range(3):
        inc = await store.create_incident(
            incident(
                f"open-{i}",
                started=T0 - timedelta(hours=i),
                status=("investigating", "identified", "monitoring")[i],
            )
        )
        ids_by_title[inc.title] = inc.id or 0

    active, n_active = await store.list_incidents(active=True)
    assert n_active == 3
    assert [i.title for i in active] == ["open-0", "open-1", "open-2"]  # newest start first

    past, n_past = await store.list_incidents(active=False)
    assert n_past == 7
    assert [i.title for i in past] == [f"past-{i}" for i in range(7)]

    # since: started at or after T0 - 3 days → past-0..past-3.
    recent, n_recent = await store.list_incidents(active=False, since=T0 - timedelta(days=3))
    assert n_recent == 4 and [i.title for i in recent] == ["past-0", "past-1", "past-2", "past-3"]

    # paging: total is the whole count, items the page.
    page1, total1 = await store.list_incidents(active=False, offset=0, limit=3)
    page2, total2 = await store.list_incidents(active=False, offset=3, limit=3)
    page3, total3 = await store.list_incidents(active=False, offset=6, limit=3)
    page4, total4 = await store.list_incidents(active=False, offset=9, limit=3)
    assert (total1, total2, total3, total4) == (7, 7, 7, 7)
    assert [len(p) for p in (page1, page2, page3, page4)] == [3, 3, 1, 0]
    assert [i.title for p in (page1, page2, page3) for i in p] == [f"past-{i}" for i in range(7)]
    paged, total = await store.list_incidents(
        active=False, since=T0 - timedelta(days=3), offset=2, limit=10
    )
    assert total == 4 and [i.title for i in paged] == ["past-2", "past-3"]
    # Items come with their services.
    assert all(i.services == ("payments",) for i in past)


async def test_reopened_incident_moves_back_to_active(store: Store) -> None:
    inc = await store.create_incident(
        incident(status="resolved", resolved_at=T0, resolved_by="bob")
    )
    assert (await store.list_incidents(active=True))[1] == 0
    await store.save_incident(
        inc.id or 0,
        1,
        {"status": "investigating", "resolved_at": None, "resolved_by": None},
        ["status"],
        "bob",
        T0,
    )
    active, n = await store.list_incidents(active=True)
    assert n == 1 and active[0].resolved_at is None and active[0].resolved_by is None
    assert (await store.list_incidents(active=False))[1] == 0


# -- full-text search -----------------------------------------------------------------------


async def _search_corpus(store: Store) -> dict[str, int]:
    ids: dict[str, int] = {}

    async def make(
        key: str, title: str, description: str = "", hours: int = 0, updates: tuple[str, ...] = ()
    ) -> None:
        inc = await store.create_incident(
            incident(title, description=description, started=T0 + timedelta(hours=hours))
        )
        for j, msg in enumerate(updates):
            await store.add_incident_update(
                inc.id or 0,
                IncidentUpdate("investigating", msg, "bob", T0 + timedelta(hours=hours, minutes=j)),
                {},
                T0,
            )
        ids[key] = inc.id or 0

    await make(
        "pay",
        "Payments failing",
        "Card checkout times out for EU customers",
        hours=0,
        updates=("Database failover underway", "Replica lag back to normal"),
    )
    await make("ko", "결제 서비스 장애가 발생", "카드 결제가 실패하고 있습니다", hours=1)
    await make(
        "login",
        "Login slow",
        "Sessions take 5 seconds",
        hours=2,
        updates=("The cache cluster was restarted",),
    )
    return ids


async def test_search_english_word_prefixes(store: Store) -> None:
    ids = await _search_corpus(store)

    async def found(q: str) -> list[int]:
        return [i.id or 0 for i in await store.search_incidents(q)]

    assert await found("fail") == [ids["pay"]]  # "fail" is a prefix of "failing"
    assert await found("FAILING") == [ids["pay"]]  # case does not matter
    assert await found("check") == [ids["pay"]]  # in the description
    assert await found("failover") == [ids["pay"]]  # in an update
    assert await found("replica") == [ids["pay"]]  # in the second update
    assert await found("cache") == [ids["login"]]
    assert await found("ailing") == []  # prefixes only, not infixes
    assert await found("xylophone") == []


async def test_search_korean_with_attached_particles(store: Store) -> None:
    ids = await _search_corpus(store)

    async def found(q: str) -> list[int]:
        return [i.id or 0 for i in await store.search_incidents(q)]

    # "장애가" is "장애" with the particle "가" attached: a word-prefix match finds it.
    assert await found("장애") == [ids["ko"]]
    assert await found("결제") == [ids["ko"]]
    assert await found("서비스 장애") == [ids["ko"]]
    assert await found("실패") == [ids["ko"]]  # "실패하고" in the description
    assert await found("장애 없음") == []


async def test_search_needs_every_word(store: Store) -> None:
    ids = await _search_corpus(store)

    async def found(q: str) -> list[int]:
        return [i.id or 0 for i in await store.search_incidents(q)]

    assert await found("payments failover") == [ids["pay"]]  # title word AND update word
    assert await found("payments cache") == []  # in two different incidents
    assert await found("login 장애") == []
    # Punctuation and query syntax are just separators, never an error.
    assert await found('fail* (payments) "card" -eu') == [ids["pay"]]
    assert await found("") == [] and await found("  !! ") == []
    # Most recent start first, and limit holds.
    both = await store.create_incident(
        incident("Payments cache cold", started=T0 + timedelta(hours=5))
    )
    assert await found("payments") == [both.id, ids["pay"]]
    assert [i.id for i in await store.search_incidents("payments", limit=1)] == [both.id]


async def test_search_sees_saved_changes(store: Store) -> None:
    inc = await store.create_incident(incident("Gateway errors"))
    assert await store.search_incidents("gateway") != []
    await store.save_incident(
        inc.id or 0,
        1,
        {"title": "Upstream resets", "description": "TLS handshake"},
        ["description", "title"],
        "bob",
        T0,
    )
    assert await store.search_incidents("gateway") == []
    assert [i.id for i in await store.search_incidents("upstream handshake")] == [inc.id]


# -- auto-incident links --------------------------------------------------------------------


async def test_incident_for_episode_and_the_unique_episode_link(store: Store) -> None:
    ep_start = T0 - timedelta(minutes=7)
    auto = await store.create_incident(
        incident(
            "api is down",
            created_by="system",
            services=("api",),
            episode_service="api",
            episode_started_at=ep_start,
        )
    )
    assert (auto.episode_service, auto.episode_started_at) == ("api", ep_start)
    found = await store.incident_for_episode("api", ep_start)
    assert found is not None and found.id == auto.id
    assert await store.incident_for_episode("api", ep_start + timedelta(microseconds=1)) is None
    assert await store.incident_for_episode("payments", ep_start) is None
    with pytest.raises(AlreadyExists):
        await store.create_incident(
            incident(
                "api is down again",
                created_by="system",
                services=("api",),
                episode_service="api",
                episode_started_at=ep_start,
            )
        )
    # Nothing of the refused one was stored.
    assert (await store.list_incidents(active=True))[1] == 1
    assert await store.search_incidents("again") == []
    # Another episode of the same service, and manual incidents (no episode), are fine.
    other = await store.create_incident(
        incident(
            "api down",
            services=("api",),
            episode_service="api",
            episode_started_at=ep_start + timedelta(hours=1),
        )
    )
    await store.create_incident(incident("manual 1"))
    await store.create_incident(incident("manual 2"))
    assert (await store.list_incidents(active=True))[1] == 4
    assert (await store.incident_for_episode("api", ep_start + timedelta(hours=1))).id == other.id  # type: ignore[union-attr]


async def test_open_incidents_for_service(store: Store) -> None:
    a = await store.create_incident(incident("a", services=("api", "payments"), started=T0))
    b = await store.create_incident(
        incident("b", services=("api",), started=T0 + timedelta(hours=1))
    )
    await store.create_incident(incident("c", services=("payments",)))
    resolved = await store.create_incident(
        incident("d", services=("api",), status="resolved", resolved_at=T0, resolved_by="bob")
    )
    assert [i.id for i in await store.open_incidents_for_service("api")] == [b.id, a.id]
    assert len(await store.open_incidents_for_service("payments")) == 2
    assert await store.open_incidents_for_service("nothing") == []
    # An incident found this way comes with all of its services.
    assert next(
        i for i in await store.open_incidents_for_service("api") if i.id == a.id
    ).services == ("api", "payments")
    # Resolving takes it off; reopening puts it back.
    await store.save_incident(
        b.id or 0,
        1,
        {"status": "resolved", "resolved_at": T0, "resolved_by": "x"},
        ["status"],
        "x",
        T0,
    )
    assert [i.id for i in await store.open_incidents_for_service("api")] == [a.id]
    await store.save_incident(
        resolved.id or 0,
        1,
        {"status": "monitoring", "resolved_at": None, "resolved_by": None},
        ["status"],
        "x",
        T0,
    )
    assert {i.id for i in await store.open_incidents_for_service("api")} == {a.id, resolved.id}
    # Changing the affected services moves it.
    await store.save_incident(a.id or 0, 1, {"services": ("payments",)}, ["services"], "x", T0)
    assert {i.id for i in await store.open_incidents_for_service("api")} == {resolved.id}


async def test_search_gives_the_same_answers_on_both_backends(tmp_path: Path) -> None:
    """SPEC §3.9: one behaviour on both backends, accents included (the FTS5 table removes
    diacritics; PostgreSQL's 'simple' configuration keeps them)."""
    from slamon_daemon.store import PostgresStore, SqliteStore
    from tests.conftest import throwaway_pg_database

    titles = ["Café checkout down", "École portal slow", "naïve retry storm", "Straße map tiles"]
    queries = ["café", "cafe", "CAFE", "école", "ecole", "naive", "naïve", "straße", "retry"]

    async def answers(s: Store) -> dict[str, list[str]]:
        async with s:
            await s.migrate()
            for i, t in enumerate(titles):
                await s.create_incident(incident(t, started=T0 + timedelta(hours=i)))
            return {q: [i.title for i in await s.search_incidents(q)] for q in queries}

    lite = await answers(SqliteStore(str(tmp_path / "x.db")))
    async with throwaway_pg_database() as url:
        pg = await answers(PostgresStore(url))
    assert lite["café"] == pg["café"] == ["Café checkout down"]
    assert {q: (lite[q], pg[q]) for q in queries if lite[q] != pg[q]} == {}


async def test_conflict_fields_cover_every_change_up_to_the_current_version_under_load(
    pg_url: str,
) -> None:
    """While one editor saves continuously, another saves against the previous version: each
    refusal must list every field changed between its version and the ``current`` it returns."""
    from slamon_daemon.store import PostgresStore

    fields = ("title", "impact", "description")
    async with PostgresStore(pg_url) as s:
        await s.migrate()
        inc = await s.create_incident(incident())
        iid = inc.id or 0
        changed_in: dict[int, str] = {}
        refusals: list[tuple[int, VersionConflict]] = []
        done = asyncio.Event()

        async def editor() -> None:
            v = 1
            for i in range(1500):
                f = fields[i % 3]
                saved = await s.save_incident(iid, v, {f: f"{f}{i}"}, [f], "ed", T0)
                changed_in[saved.version] = f
                v = saved.version
                if i % 50 == 49 and _mismatches(refusals, changed_in):
                    break  # seen: no need to go on
            done.set()

        async def latecomer() -> None:
            while not done.is_set():
                cur = await s.get_incident(iid)
                assert cur is not None
                if cur.version < 2:
                    await asyncio.sleep(0)
                    continue
                with pytest.raises(VersionConflict) as exc:
                    await s.save_incident(
                        iid, cur.version - 1, {"root_cause": "x"}, ["root_cause"], "late", T0
                    )
                refusals.append((cur.version - 1, exc.value))

        await asyncio.gather(editor(), latecomer())
        assert len(refusals) > 20
        assert _mismatches(refusals, changed_in) == []


def _mismatches(
    refusals: list[tuple[int, VersionConflict]], changed_in: dict[int, str]
) -> list[Any]:
    out = []
    for sent, exc in refusals:
        if exc.current.version not in changed_in:
            continue  # the editor has not recorded it yet
        expected = sorted({changed_in[v] for v in range(sent + 1, exc.current.version + 1)})
        if exc.fields != expected:
            out.append((sent, exc.current.version, exc.fields, expected))
    return out
