"""Logins, roles, users, audit and the admin methods of the fake daemon (tests only).

The rules are the real daemon's (docs/feed.md "Roles and logins"): a request's caller is the
user of its ``token``; without one, ``owner_role`` when set (the daemon's owner_is_admin),
else a viewer when ``anonymous_read`` is true, else anonymous. A method answers only callers
with at least its role in ``METHOD_ROLES`` (the incident methods too: FakeIncidents answers
them once this check passed). Five failed logins for a username answer ``rate_limited``
"too many failed logins; retry in N s". tests/tui/test_fake_contract.py holds all the fakes
to the real daemon's replies.

Tokens are plain strings; ``expire(token)`` makes the daemon answer "your login expired",
``revoke(username)`` ends every login of a user as a role change does.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from slamon_daemon import protocol
from slamon_daemon.config import ServiceConfig
from slamon_daemon.protocol import ErrorCode

if TYPE_CHECKING:
    from .fake_daemon import FakeDaemon

ROLES = ("anonymous", "viewer", "reporter", "admin")
METHOD_ROLES: dict[str, str] = {
    **dict.fromkeys(
        "ping methods auth.login auth.refresh auth.logout auth.whoami".split(), "anonymous"
    ),
    **dict.fromkeys(
        "auth.passwd status.get subscribe unsubscribe service.get service.series"
        " service.calendar service.day maintenance.list incident.list incident.get"
        " incident.past incident.search presence.set presence.clear presence.list"
        " sla.report".split(),
        "viewer",
    ),
    **dict.fromkeys(
        "incident.create incident.update incident.add_update incident.resolve".split(),
        "reporter",
    ),
    **dict.fromkeys(
        "user.list user.add user.set_role user.disable user.enable user.passwd audit.list"
        " service.add service.edit service.pause service.resume maintenance.create"
        " maintenance.cancel".split(),
        "admin",
    ),
}
"""The least role each method needs (docs/feed.md)."""
AUDITED = {m for m, role in METHOD_ROLES.items() if role == "admin" and not m.endswith(".list")}
"""Every change an admin makes is in the audit log."""
SECRETS = {"password", "new_password", "old_password", "refresh_token"}
MAX_FAILURES = 5
RETRY_S = 900
LOGIN_TTL = timedelta(hours=12)
SERVICE_KEYS = set(ServiceConfig.model_fields)
"""What service.add/edit take: every setting of a [[service]], as the daemon."""


class FakeAuth:
    """The auth state of one FakeDaemon."""

    def __init__(self, daemon: FakeDaemon, *, anonymous_read: bool = True) -> None:
        self.daemon = daemon
        self.anonymous_read = anonymous_read
        self.owner_role: str | None = None
        """Role of a caller without a token (the daemon's owner_is_admin); None: anonymous."""
        self.users: dict[str, dict[str, Any]] = {}
        self.passwords: dict[str, str] = {}
        self.access: dict[str, str] = {}
        """access token -> username"""
        self.refresh_tokens: dict[str, str] = {}
        self.expired: set[str] = set()
        self.revoked: set[str] = set()
        self.failures: dict[str, int] = {}
        self.audit: list[dict[str, Any]] = []
        self.admin_services: dict[str, dict[str, Any]] = {}
        """Services added over the feed: id -> their params (paused ones too)."""
        self.maintenance: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    # --- set-up helpers for tests -----------------------------------------------------------

    def add_user(
        self,
        username: str,
        password: str,
        role: str = "viewer",
        email: str = "",
        *,
        active: bool = True,
    ) -> dict[str, Any]:
        """A user as user.add makes one."""
        user = {
            "id": next(self._ids),
            "username": username,
            "email": email,
            "role": role,
            "active": active,
            "last_login_at": None,
            "created_at": datetime.now(UTC).isoformat(),
        }
        self.users[username] = user
        self.passwords[username] = password
        return user

    def expire(self, token: str) -> None:
        """The daemon now answers this access token "your login expired; log in again"."""
        self.expired.add(token)

    def revoke(self, username: str) -> None:
        """End every login of ``username`` (access and refresh tokens)."""
        for token, name in list(self.access.items()):
            if name == username:
                self.revoked.add(token)
        for token, name in list(self.refresh_tokens.items()):
            if name == username:
                del self.refresh_tokens[token]

    def tokens_of(self, username: str) -> list[str]:
        """The access tokens issued to ``username``, oldest first."""
        return [t for t, name in self.access.items() if name == username]

    # --- the request path --------------------------------------------------------------------

    def caller(self, token: str | None) -> tuple[dict[str, Any], str | None]:
        """(whoami dict, None) or (anonymous, the unauthorized message)."""
        if token:
            if token in self.expired:
                return {}, "your login expired; log in again"
            if token in self.revoked:
                return {}, "your login was revoked; log in again"
            name = self.access.get(token)
            user = self.users.get(name or "")
            if user is None or not user["active"]:
                return {}, "invalid token; log in again"
            return {"name": name, "role": user["role"], "logged_in": True}, None
        role = self.owner_role or ("viewer" if self.anonymous_read else "anonymous")
        name = "uid:1000" if self.owner_role else "anonymous"
        return {"name": name, "role": role, "logged_in": False}, None

    def check(self, request: protocol.Request) -> dict[str, Any] | None:
        """An error reply when the caller may not call the method; None when it may."""
        needed = METHOD_ROLES.get(request.method)
        if needed is None:
            return None
        who, problem = self.caller(request.token)
        if problem is not None:
            return protocol.error_reply(request.id, ErrorCode.UNAUTHORIZED, problem)
        role = who["role"]
        if not allows(role, needed):
            code = ErrorCode.UNAUTHORIZED if role == "anonymous" else ErrorCode.FORBIDDEN
            return protocol.error_reply(
                request.id, code, f"{request.method} needs the {needed} role; you are {role}"
            )
        return None

    def answer(self, request: protocol.Request) -> dict[str, Any] | None:
        """The reply of an auth/user/audit/admin method; None for other methods."""
        handler = getattr(self, "_" + request.method.replace(".", "_"), None)
        if handler is None or request.method not in METHOD_ROLES:
            return None
        try:
            result = handler(request.params, request.token)
        except Refused as exc:
            return exc.reply(request.id)
        if request.method in AUDITED:
            who, _ = self.caller(request.token)
            params = request.params
            self.audit.insert(
                0,
                {
                    "id": len(self.audit) + 1,
                    "at": datetime.now(UTC).isoformat(),
                    "actor": who["name"],
                    "method": request.method,
                    "target": params.get("id") or params.get("username"),
                    "changes": {k: "***" if k in SECRETS else v for k, v in params.items()},
                },
            )
        return protocol.reply(request.id, result)

    # --- auth.* ------------------------------------------------------------------------------

    def _issue(self, username: str) -> dict[str, Any]:
        n = next(self._ids)
        access, refresh = f"acc-{username}-{n}", f"ref-{username}-{n}"
        self.access[access] = username
        self.refresh_tokens[refresh] = username
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_at": (datetime.now(UTC) + LOGIN_TTL).isoformat(),
            "user": dict(self.users[username]),
        }

    def _auth_login(self, params: dict[str, Any], token: str | None) -> Any:
        username = str(params.get("username") or "")
        if self.failures.get(username, 0) >= MAX_FAILURES:
            raise Refused(ErrorCode.RATE_LIMITED, f"too many failed logins; retry in {RETRY_S} s")
        user = self.users.get(username)
        if (
            user is None
            or not user["active"]
            or self.passwords.get(username) != params.get("password")
        ):
            self.failures[username] = self.failures.get(username, 0) + 1
            raise Refused(ErrorCode.UNAUTHORIZED, "wrong username or password")
        user["last_login_at"] = datetime.now(UTC).isoformat()
        return self._issue(username)

    def _auth_refresh(self, params: dict[str, Any], token: str | None) -> Any:
        username = self.refresh_tokens.pop(str(params.get("refresh_token")), None)
        if username is None:
            raise Refused(
                ErrorCode.UNAUTHORIZED, "refresh token unknown, used or expired; log in again"
            )
        return self._issue(username)

    def _auth_logout(self, params: dict[str, Any], token: str | None) -> Any:
        self.refresh_tokens.pop(str(params.get("refresh_token")), None)
        return {"ok": True}

    def _auth_whoami(self, params: dict[str, Any], token: str | None) -> Any:
        who, _ = self.caller(token)
        return {**who, "uid": 1000, "anonymous_read": self.anonymous_read}

    # --- user.* and audit ---------------------------------------------------------------------

    def _user(self, params: dict[str, Any]) -> dict[str, Any]:
        username = str(params.get("username") or "")
        if username not in self.users:
            raise Refused(ErrorCode.NOT_FOUND, f"no user {username!r}")
        return self.users[username]

    @staticmethod
    def _check_password(params: dict[str, Any]) -> str:
        password = str(params.get("password") or "")
        if len(password) < 10:
            raise _field("password", "a password needs at least 10 characters")
        return password

    @staticmethod
    def _check_role(params: dict[str, Any]) -> str:
        role = params.get("role")
        if role not in ("viewer", "reporter", "admin"):
            raise _field("role", f"unknown role {role!r}; allowed: viewer, reporter, admin")
        return str(role)

    def _user_list(self, params: dict[str, Any], token: str | None) -> Any:
        return [dict(u) for u in self.users.values()]

    def _user_add(self, params: dict[str, Any], token: str | None) -> Any:
        username = str(params.get("username") or "")
        if not username or not username.replace("-", "").replace("_", "").isalnum():
            raise _field("username", 'use letters, digits, ".", "-" and "_" only')
        role = self._check_role(params)
        password = self._check_password(params)
        if username in self.users:
            raise Refused(ErrorCode.CONFLICT, f"a user {username!r} already exists")
        return dict(self.add_user(username, password, role, str(params.get("email") or "")))

    def _user_set_role(self, params: dict[str, Any], token: str | None) -> Any:
        user = self._user(params)
        user["role"] = self._check_role(params)
        self.revoke(user["username"])
        return dict(user)

    def _user_disable(self, params: dict[str, Any], token: str | None) -> Any:
        user = self._user(params)
        user["active"] = False
        self.revoke(user["username"])
        return dict(user)

    def _user_enable(self, params: dict[str, Any], token: str | None) -> Any:
        user = self._user(params)
        user["active"] = True
        return dict(user)

    def _user_passwd(self, params: dict[str, Any], token: str | None) -> Any:
        user = self._user(params)
        self.passwords[user["username"]] = self._check_password(params)
        self.revoke(user["username"])
        return dict(user)

    def _audit_list(self, params: dict[str, Any], token: str | None) -> Any:
        return [dict(e) for e in self.audit[: int(params.get("limit", 200))]]

    # --- services and maintenance ------------------------------------------------------------

    def _service_add(self, params: dict[str, Any], token: str | None) -> Any:
        fields = _service_problems(params, require=True)
        if fields:
            raise Refused(
                ErrorCode.INVALID_PARAMS, "; ".join(f"{k}: {v}" for k, v in fields.items()), fields
            )
        sid = str(params["id"])
        if any(s["id"] == sid for s in self.daemon.snapshot["services"]) or (
            sid in self.admin_services
        ):
            raise Refused(ErrorCode.CONFLICT, f"a service {sid!r} already exists; use service.edit")
        self.admin_services[sid] = {**params, "active": True}
        self._show_service(sid)
        return {"id": sid, "active": True, "source": "admin"}

    def _admin_service(self, params: dict[str, Any]) -> str:
        sid = str(params.get("id") or "")
        if sid in self.admin_services:
            return sid
        if any(s["id"] == sid for s in self.daemon.snapshot["services"]):
            raise Refused(
                ErrorCode.CONFLICT,
                f"service {sid!r} is defined in the config file; change it there",
            )
        raise Refused(ErrorCode.NOT_FOUND, f"no service {sid!r}")

    def _service_edit(self, params: dict[str, Any], token: str | None) -> Any:
        sid = self._admin_service(params)
        fields = _service_problems(params, require=False)
        if fields:
            raise Refused(
                ErrorCode.INVALID_PARAMS, "; ".join(f"{k}: {v}" for k, v in fields.items()), fields
            )
        self.admin_services[sid].update(params)
        self._show_service(sid)
        return {"id": sid, "active": self.admin_services[sid]["active"], "source": "admin"}

    def _service_pause(self, params: dict[str, Any], token: str | None) -> Any:
        sid = self._admin_service(params)
        self.admin_services[sid]["active"] = False
        self._show_service(sid)
        return {"id": sid, "active": False, "source": "admin"}

    def _service_resume(self, params: dict[str, Any], token: str | None) -> Any:
        sid = self._admin_service(params)
        self.admin_services[sid]["active"] = True
        self._show_service(sid)
        return {"id": sid, "active": True, "source": "admin"}

    def _show_service(self, sid: str) -> None:
        """Put an admin service into status.get (or take it out when paused), as the daemon."""
        from .fake_daemon import make_service

        services = [s for s in self.daemon.snapshot["services"] if s["id"] != sid]
        config = self.admin_services[sid]
        if config["active"]:
            entry = make_service(
                sid,
                str(config.get("name") or sid),
                status="unknown",
                last_latency=None,
                latencies=[],
            )
            entry["url"] = config.get("url", entry["url"])
            services.append(entry)
        self.daemon.snapshot["services"] = services

    def _maintenance_list(self, params: dict[str, Any], token: str | None) -> Any:
        return [dict(w) for w in self.maintenance if w["cancelled_at"] is None]

    def _maintenance_create(self, params: dict[str, Any], token: str | None) -> Any:
        fields: dict[str, str] = {}
        times: dict[str, datetime] = {}
        for key in ("start", "end"):
            try:
                times[key] = datetime.fromisoformat(str(params.get(key)).replace("Z", "+00:00"))
                if times[key].tzinfo is None:
                    fields[key] = f'"{key}": has no UTC offset; add Z or +HH:MM'
            except ValueError:
                fields[key] = f'"{key}": {params.get(key)!r} is not an RFC 3339 time'
        if not str(params.get("title") or "").strip():
            fields["title"] = '"title" must be a non-empty string'
        if not fields and times["end"] <= times["start"]:
            fields["end"] = '"end" must be after "start"'
        if fields:
            raise Refused(ErrorCode.INVALID_PARAMS, "; ".join(fields.values()), fields)
        who, _ = self.caller(token)
        window = {
            "id": len(self.maintenance) + 1,
            "title": params["title"],
            "starts_at": times["start"].isoformat(),
            "ends_at": times["end"].isoformat(),
            "services": list(params.get("services") or []),
            "created_by": who["name"],
            "source": "feed",
            "cancelled_at": None,
        }
        self.maintenance.append(window)
        return dict(window)

    def _maintenance_cancel(self, params: dict[str, Any], token: str | None) -> Any:
        window = next((w for w in self.maintenance if w["id"] == params.get("id")), None)
        if window is None:
            raise Refused(ErrorCode.NOT_FOUND, f"no maintenance window {params.get('id')}")
        window["cancelled_at"] = datetime.now(UTC).isoformat()
        return dict(window)


class Refused(Exception):
    """A method's refusal: the error reply's code, message, fields and data."""

    def __init__(
        self,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.fields, self.data = code, message, fields, data

    def reply(self, request_id: Any) -> dict[str, Any]:
        """The error reply to request ``request_id``."""
        return protocol.error_reply(request_id, self.code, self.message, self.fields, self.data)


def allows(role: str, needed: str) -> bool:
    """Whether ``role`` has at least the role ``needed``."""
    return ROLES.index(role) >= ROLES.index(needed)


def _field(name: str, problem: str) -> Refused:
    message = f'"{name}": {problem}'
    return Refused(ErrorCode.INVALID_PARAMS, message, {name: message})


def _service_problems(params: dict[str, Any], *, require: bool) -> dict[str, str]:
    """Field problems of service.add/edit params, worded like pydantic's (a subset)."""
    fields: dict[str, str] = {}
    for key in sorted(set(params) - SERVICE_KEYS):
        fields[key] = "unknown field"
    for key in ("id", "url") if require else ():
        if not params.get(key):
            fields[key] = "required"
    url = params.get("url")
    if url and not str(url).startswith(("http://", "https://")):
        fields["url"] = f"{url!r} is not an http:// or https:// URL with a host"
    confirm = params.get("confirm_failures")
    if confirm is not None and (not isinstance(confirm, int) or not 1 <= confirm <= 100):
        fields["confirm_failures"] = "Input should be greater than or equal to 1"
    return fields
