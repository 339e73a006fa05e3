"""``slamon db grant-readonly ROLE``: a PostgreSQL login role for Grafana and BI tools that may
read the reporting views of migration 0011 (``report_*``) and nothing else.

The role is created, or updated when it exists: LOGIN, no superuser/createdb/createrole,
read-only transactions by default, every right on this database's tables and sequences
revoked, CONNECT on the database, USAGE on the schema, SELECT on each view. Views run with
their owner's rights, so the role reads the views without reading the tables behind them
(users, tokens, the audit log and alert channel secrets stay out of its reach).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]

from .errors import InvalidParams, StoreUnavailable

REPORT_VIEWS = (
    "report_services",
    "report_checks",
    "report_hourly",
    "report_daily",
    "report_monthly",
    "report_outages",
    "report_incidents",
    "report_incident_services",
    "report_incident_updates",
)
"""The reporting views (schema/postgres/0011_reporting_views.sql), each documented there."""

_ROLE_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class Granted:
    role: str
    created: bool
    views: tuple[str, ...]

    @property
    def message(self) -> str:
        verb = "created" if self.created else "updated"
        return (
            f"role {self.role} {verb}: it may log in and read {len(self.views)} views"
            f" ({', '.join(self.views)}) and nothing else"
        )


def check_role_name(role: str) -> str:
    """The role name, if it is a plain lowercase identifier.

    Raises:
        InvalidParams: saying what is allowed.
    """
    if not _ROLE_RE.fullmatch(role):
        raise InvalidParams(
            f"{role!r} is not a role name slamon makes: use lowercase letters, digits and _"
            " (not starting with a digit), at most 63 characters, e.g. grafana_ro"
        )
    if role.startswith("pg_"):
        raise InvalidParams(f"{role!r}: names starting with pg_ are reserved by PostgreSQL")
    return role


async def grant_readonly(database_url: str, role: str, password: str | None) -> Granted:
    """Create or update ``role`` (see the module docstring). The migrations must be applied.

    Raises:
        InvalidParams: not PostgreSQL, a bad role name, or the views are missing.
        StoreUnavailable: the database cannot be reached or refuses.
    """
    if not database_url.startswith(("postgresql://", "postgres://")):
        raise InvalidParams(
            "grant-readonly needs PostgreSQL (SQLite has no roles; give BI tools a copy made"
            " by `slamon db backup`, which has the same report_* views)"
        )
    check_role_name(role)
    try:
        conn = await asyncpg.connect(database_url)
    except (OSError, asyncpg.PostgresError) as exc:
        raise StoreUnavailable(f"cannot connect to the database: {exc}") from exc
    try:
        missing = [
            v
            for v in REPORT_VIEWS
            if await conn.fetchval("SELECT to_regclass($1) IS NULL", f"public.{v}")
        ]
        if missing:
            raise InvalidParams(
                f"the reporting views are missing ({', '.join(missing)}): run `slamon db"
                " migrate` first"
            )
        async with conn.transaction():
            exists = bool(await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role))
            verb = "ALTER" if exists else "CREATE"
            sql = await conn.fetchval(
                "SELECT format('%s ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"
                " NOREPLICATION', $1::text, $2::text)",
                verb,
                role,
            )
            await conn.execute(sql)
            if password is not None:
                await conn.execute(
                    await conn.fetchval(
                        "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)",
                        role,
                        password,
                    )
                )
            q = await conn.fetchval("SELECT quote_ident($1::text)", role)
            db = await conn.fetchval("SELECT quote_ident(current_database())")
            await conn.execute(
                f"ALTER ROLE {q} IN DATABASE {db} SET default_transaction_read_only = on"
            )
            await conn.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {q}")
            await conn.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {q}")
            await conn.execute(f"REVOKE CREATE ON SCHEMA public FROM {q}")
            await conn.execute(f"GRANT CONNECT ON DATABASE {db} TO {q}")
            await conn.execute(f"GRANT USAGE ON SCHEMA public TO {q}")
            for view in REPORT_VIEWS:
                await conn.execute(f"GRANT SELECT ON public.{view} TO {q}")
    except asyncpg.PostgresError as exc:
        raise StoreUnavailable(f"the database refused: {exc}") from exc
    finally:
        await conn.close()
    return Granted(role, not exists, REPORT_VIEWS)
