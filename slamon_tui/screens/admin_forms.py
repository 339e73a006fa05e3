"""The admin screen's forms: add a user, edit a user, add/edit a service, a maintenance window.

Each field is named after the feed parameter it fills, so the daemon's per-field problems
land next to it. Checks made here are only those the daemon cannot make (two passwords
that must match, a number typed as text); everything else is the daemon's to judge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.widget import Widget
from textual.widgets import Input, Select, Static

from slamon_tui.screens.form_dialog import FormDialog
from slamon_tui.screens.service_form import (  # the service form lives there (issue 12)
    SERVICE_FIELDS,
    ServiceDialog,
    config_text,
    duration_value,
    status_list,
)
from slamon_tui.types import FeedCall
from slamon_tui.widgets.form_field import FormField
from slamon_tui.widgets.marked_checkbox import MarkedCheckbox

ROLE_OPTIONS = [
    ("viewer — reads", "viewer"),
    ("reporter — also incidents", "reporter"),
    ("admin — also users, services", "admin"),
]
TIME_FORMAT_HINT = "UTC, e.g. 2026-11-22 02:00 (or RFC 3339 with an offset)"
__all__ = [
    "SERVICE_FIELDS",
    "MaintenanceDialog",
    "ServiceDialog",
    "UserAddDialog",
    "UserEditDialog",
    "config_text",
    "duration_value",
    "parse_time",
    "status_list",
]


def _text(
    key: str,
    label: str,
    value: str = "",
    *,
    hint: str = "",
    password: bool = False,
    placeholder: str = "",
    disabled: bool = False,
) -> FormField:
    control = Input(
        value,
        placeholder=placeholder,
        password=password,
        compact=True,
        id=f"input-{key}",
        disabled=disabled,
    )
    return FormField(key, label, control, hint=hint)


def _role(value: str = "viewer") -> FormField:
    control: Select[str] = Select(
        ROLE_OPTIONS, value=value, allow_blank=False, compact=True, id="input-role"
    )
    return FormField("role", "Role", control)


def _passwords(form: FormDialog, *, required: bool) -> str | None:
    """The password typed twice (None when both are empty and none is required)."""
    password = form.query_one("#input-password", Input).value
    repeat = form.query_one("#input-repeat", Input).value
    if not password and not repeat:
        if required:
            raise form.problem("password", "required (at least 10 characters)")
        return None
    if password != repeat:
        raise form.problem("repeat", "the two passwords differ")
    return password


class UserAddDialog(FormDialog):
    """user.add: username, email, role, password typed twice."""

    save_label = "Add user"
    conflict_field = "username"

    def __init__(self, call: FeedCall) -> None:
        super().__init__(call, "Add a user")

    def form_fields(self) -> Iterable[Widget]:
        """Username, email, role, password, repeat."""
        yield _text("username", "Username", placeholder="letters, digits . - _")
        yield _text("email", "Email", placeholder="optional")
        yield _role()
        yield _text("password", "Password", password=True, placeholder="at least 10 characters")
        yield _text("repeat", "Repeat", password=True, placeholder="the same password again")

    async def save(self) -> Any:
        """Add the user."""
        password = _passwords(self, required=True)
        params: dict[str, Any] = {
            "username": self.value("username"),
            "role": self.value("role"),
            "password": password,
        }
        if self.value("email"):
            params["email"] = self.value("email")
        return await self._call("user.add", params)


class UserEditDialog(FormDialog):
    """One user: role, active, a new password. Dismissed with ``{"user", "done"}``."""

    save_label = "Apply"

    def __init__(self, call: FeedCall, user: dict[str, Any]) -> None:
        super().__init__(call, f"User {user.get('username')}")
        self.user = dict(user)

    def form_fields(self) -> Iterable[Widget]:
        """Role, active, new password twice (empty keeps it)."""
        yield _role(str(self.user.get("role") or "viewer"))
        active = MarkedCheckbox(
            "may log in", bool(self.user.get("active")), compact=True, id="input-active"
        )
        yield FormField("active", "Active", active, hint="disabling ends the user's logins at once")
        yield _text(
            "password", "New password", password=True, placeholder="empty: keep the password"
        )
        yield _text("repeat", "Repeat", password=True)
        yield Static("A new role or password ends the user's current logins.", classes="form-note")

    async def save(self) -> Any:
        """Apply what changed, one call each: role, active, password."""
        username = str(self.user.get("username"))
        password = _passwords(self, required=False)
        done: list[str] = []
        user = self.user
        role = self.value("role")
        if role != self.user.get("role"):
            user = await self._call("user.set_role", {"username": username, "role": role})
            done.append(f"role {role}")
        active = bool(self.value("active"))
        if active != bool(self.user.get("active")):
            method = "user.enable" if active else "user.disable"
            user = await self._call(method, {"username": username})
            done.append("enabled" if active else "disabled")
        if password is not None:
            user = await self._call("user.passwd", {"username": username, "password": password})
            done.append("password reset")
        return {"user": user, "done": done}


def parse_time(text: str) -> datetime | None:
    """ "2026-11-22 02:00" (UTC) or RFC 3339 with an offset; None when it is neither."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _utc_text(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


class MaintenanceDialog(FormDialog):
    """maintenance.create: title, start, end (UTC), the services it covers (empty: all)."""

    save_label = "Schedule"

    def __init__(self, call: FeedCall, service_ids: list[str], now: datetime | None = None) -> None:
        super().__init__(call, "Schedule a maintenance window")
        self.service_ids = service_ids
        start = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
        self.start = start + timedelta(hours=1)

    def form_fields(self) -> Iterable[Widget]:
        """Title, start, end, services."""
        known = ", ".join(self.service_ids[:8]) + (" …" if len(self.service_ids) > 8 else "")
        yield _text("title", "Title", placeholder="e.g. Database upgrade")
        yield _text("start", "Start", _utc_text(self.start), hint=TIME_FORMAT_HINT)
        yield _text("end", "End", _utc_text(self.start + timedelta(hours=1)))
        yield _text(
            "services",
            "Services",
            placeholder="empty: all services",
            hint=f"ids, comma-separated: {known}" if known else "",
        )

    async def save(self) -> Any:
        """Schedule the window."""
        times = {}
        for key in ("start", "end"):
            text = str(self.value(key))
            dt = parse_time(text) if text else None
            if dt is None:
                raise self.problem(key, f"not a time: {TIME_FORMAT_HINT}")
            times[key] = dt.isoformat()
        services = [s for s in re.split(r"[,\s]+", str(self.value("services"))) if s]
        return await self._call(
            "maintenance.create",
            {
                "title": self.value("title"),
                "start": times["start"],
                "end": times["end"],
                "services": services,
            },
        )
