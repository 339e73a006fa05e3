"""The admin's alert-channel form (issue 11): add one of a kind, edit one, or show one read-only.

One form per kind: the keys of its ``[[alert_channel]]`` (docs/alerts.md; the daemon's
``alerts/config.py`` defines them), then the routing and pacing every kind shares. Fields are
named after the channel's keys, so the daemon's problems (the error's ``fields``) land under
the right one. Only what the daemon cannot judge is checked here (a number typed as text, a
header without ":"); the rest is the daemon's to say.

Secrets (webhook URLs, tokens, keys, passwords, header values) only ever come back masked.
Editing, a secret's field starts empty with the masked value as its placeholder: left empty
it is not sent and the daemon keeps the stored value; typed, it replaces it; "none" removes
an optional one (headers, a token, a password). The whole
channel is sent on each save (``alert.channel_save`` replaces it), so a cleared field goes
back to its default. Channels the config file names open read-only: the file owns them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from slamon_tui.client import FeedCallError
from slamon_tui.screens.form_dialog import FormDialog
from slamon_tui.screens.service_form import config_text, duration_value, parse_headers, word_list
from slamon_tui.types import FeedCall
from slamon_tui.widgets.form_field import FormField
from slamon_tui.widgets.marked_checkbox import MarkedCheckbox

KINDS: dict[str, str] = {
    "webhook": "JSON POST to any URL (a template over the alert's fields)",
    "slack": "Slack incoming webhook",
    "discord": "Discord webhook",
    "teams": "Microsoft Teams (Workflows webhook)",
    "mattermost": "Mattermost incoming webhook",
    "google_chat": "Google Chat space webhook",
    "ntfy": "ntfy topic (ntfy.sh or your own server)",
    "telegram": "Telegram bot: a bot token and a chat id",
    "pagerduty": "PagerDuty Events API v2: pages, resolves on recovery",
    "opsgenie": "Opsgenie alerts: pages, closes on recovery",
    "email": "Email over SMTP (STARTTLS, TLS or a local relay)",
}
"""Each kind (the channel's ``type``) and what it is, in the order offered."""
KIND_NAMES = {
    "slack": "Slack",
    "discord": "Discord",
    "teams": "Teams",
    "mattermost": "Mattermost",
    "google_chat": "Google Chat",
    "telegram": "Telegram",
    "pagerduty": "PagerDuty",
    "opsgenie": "Opsgenie",
}
"""How a kind is written in a sentence (the others as their type)."""

KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "webhook": ("url", "headers", "body_template"),
    "slack": ("url",),
    "discord": ("url",),
    "teams": ("url",),
    "mattermost": ("url", "channel", "username"),
    "google_chat": ("url",),
    "ntfy": ("topic", "token", "base_url"),
    "telegram": ("bot_token", "chat_id", "base_url"),
    "pagerduty": ("routing_key", "base_url"),
    "opsgenie": ("api_key", "responders", "base_url"),
    "email": (
        "host",
        "port",
        "security",
        "sender",
        "to",
        "username",
        "password",
        "subject_prefix",
        "ca_file",
        "verify_tls",
    ),
}
"""The keys only this kind has, required ones first."""
HEAD = ("id", "name")
TAIL = (
    "rules",
    "services",
    "tags",
    "min_severity",
    "send_recovery",
    "reminder_every",
    "rate_limit",
    "timeout",
    "enabled",
)
"""Keys every kind has: identity first, routing and pacing after the kind's own."""

SECRETS = frozenset(
    {"url", "headers", "topic", "token", "bot_token", "routing_key", "api_key", "password"}
)
"""Keys the daemon masks (its SECRET_FIELDS)."""
OPTIONAL_SECRETS = frozenset({"headers", "token", "password"})
"""Secrets a channel may do without: editing, "none" removes the stored one."""
HIDDEN_WHILE_TYPED = frozenset({"token", "bot_token", "routing_key", "api_key", "password"})
REQUIRED = frozenset(
    {"id", "url", "topic", "bot_token", "chat_id", "routing_key", "api_key", "host", "sender", "to"}
)
FLAGS = {"send_recovery": True, "enabled": True, "verify_tls": True}
"""Checkboxes and their defaults."""
CHOICES: dict[str, tuple[str, ...]] = {
    "min_severity": ("info", "warning", "critical"),
    "security": ("starttls", "tls", "none"),
}
LISTS = ("rules", "services", "tags", "to")
NUMBERS = ("port", "rate_limit")
DURATIONS = ("timeout", "reminder_every")
MASK = "***"

LABELS: dict[str, tuple[str, str]] = {
    # key: label, placeholder
    "id": ("Id", "kebab-case, stable: e.g. ops-slack"),
    "name": ("Name", "display name (default: the id)"),
    "url": ("URL", "the webhook URL (a secret: never shown again)"),
    "headers": ("Headers", "Name: value; Other: value (values are secrets)"),
    "body_template": ("Body template", "Jinja2 over the alert's fields (default: all of them)"),
    "channel": ("Post to channel", "optional: instead of the webhook's own"),
    "username": ("Username", "optional"),
    "topic": ("Topic", "the topic (on a public server its name is the password)"),
    "token": ("Access token", "optional, sent as Authorization: Bearer"),
    "bot_token": ("Bot token", "from @BotFather"),
    "chat_id": ("Chat id", "a number, or @channelname"),
    "routing_key": ("Routing key", "the integration's Events API v2 key"),
    "api_key": ("API key", "the API integration's key (GenieKey)"),
    "responders": ("Responders", "type:name, comma-separated: team:ops, user:ann@example.com"),
    "base_url": ("Server", ""),
    "host": ("SMTP host", "e.g. smtp.example.com"),
    "port": ("Port", "default: 587 starttls, 465 tls, 25 none"),
    "security": ("Security", ""),
    "sender": ("From", "the sender address"),
    "to": ("To", "addresses, comma-separated"),
    "password": ("Password", "optional (SMTP login)"),
    "subject_prefix": ("Subject prefix", '(default "[slamon] ")'),
    "ca_file": ("CA file", "optional: PEM file of a private CA, on the daemon's host"),
    "verify_tls": ("Verify TLS", ""),
    "rules": ("Rules", "down, reminder, incident, tls, slo_burn (default: all)"),
    "services": ("Services", "ids or globs, comma-separated: api-* (default: all)"),
    "tags": ("Tags", "optional: only services with one of these tags"),
    "min_severity": ("Min severity", ""),
    "send_recovery": ("Send recovery", ""),
    "reminder_every": ("Remind every", "e.g. 30m, or off (default: [alerts]; paging: off)"),
    "rate_limit": ("Rate limit", "messages a minute at most (default per kind)"),
    "timeout": ("Timeout", "one send at most, e.g. 10s (default 10s)"),
    "enabled": ("Enabled", ""),
}
KIND_PLACEHOLDERS: dict[tuple[str, str], str] = {
    ("slack", "url"): "https://hooks.slack.com/services/…",
    ("discord", "url"): "https://discord.com/api/webhooks/…",
    ("teams", "url"): "the Workflows webhook URL",
    ("mattermost", "url"): "https://chat.example.com/hooks/…",
    ("google_chat", "url"): "https://chat.googleapis.com/v1/spaces/… (key and token)",
    ("webhook", "url"): "where the JSON is POSTed, http:// or https://",
    ("mattermost", "username"): "optional: post under this name",
    ("email", "username"): "optional (SMTP login)",
    ("ntfy", "base_url"): "default https://ntfy.sh",
    ("telegram", "base_url"): "default https://api.telegram.org",
    ("pagerduty", "base_url"): "default https://events.pagerduty.com",
    ("opsgenie", "base_url"): "default https://api.opsgenie.com (EU: api.eu.opsgenie.com)",
}


def channel_keys(kind: str) -> tuple[str, ...]:
    """The form's fields for ``kind``, in order."""
    return (*HEAD, *KIND_FIELDS[kind], *TAIL)


def responders_text(value: Any) -> str:
    """[{"type": "team", "name": "ops"}] → "team:ops"."""
    items = value if isinstance(value, list) else []
    return ", ".join(
        f"{r.get('type')}:{r.get('name') or r.get('username') or r.get('id')}"
        for r in items
        if isinstance(r, dict)
    )


def parse_responders(text: str) -> list[dict[str, str]]:
    """ "team:ops, user:ann@example.com" → Opsgenie responders (ValueError names a bad one)."""
    out = []
    for item in word_list(text):
        kind, sep, name = item.partition(":")
        if not sep or not kind or not name:
            raise ValueError(f'"{item}" is not "type:name" (team:ops, user:ann@example.com)')
        out.append({"type": kind, "username" if kind == "user" else "name": name})
    return out


def duration_text(seconds: float) -> str:
    """1800 → "30m", 7200 → "2h", 10 → "10s" (as the daemon parses them back)."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def form_words(problem: str) -> str:
    """A validation problem as a form says it."""
    if problem == "required key is missing":
        return "required"
    found = re.fullmatch(r"String should have at least (\d+) characters?", problem)
    if found:
        return f"at least {found[1]} characters"
    return problem.replace("Input should be ", "should be ")


def field_text(key: str, value: Any) -> str:
    """A channel's setting as typed in the form."""
    if key == "responders":
        return responders_text(value)
    if key == "reminder_every" and value == 0:
        return "off"
    if key in DURATIONS and isinstance(value, int | float):
        return duration_text(float(value))
    return config_text(key, value)


class ChannelDialog(FormDialog):
    """alert.channel_save of one kind: a new channel, or one the feed added (replaced whole).
    ``read_only``: only shown (a channel of the config file, or anyone's but an admin's)."""

    dense = True

    def __init__(
        self,
        call: FeedCall,
        kind: str,
        existing: dict[str, Any] | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        self.kind = kind
        self.existing = existing or {}
        self.editing = existing is not None
        self.read_only = read_only
        cid = self.existing.get("id")
        self.from_file = self.existing.get("source") == "config"
        if read_only:
            whose = "from the config file, " if self.from_file else ""
            title = f"Channel {cid} ({kind}) — {whose}read-only"
        elif self.editing:
            title = f"Edit channel {cid} ({kind})"
        else:
            title = f"New {KIND_NAMES.get(kind, kind)} channel"
        super().__init__(call, title)
        self.save_label = "Save" if self.editing else "Add channel"
        self.keys = channel_keys(kind)

    # --- fields ------------------------------------------------------------------------------

    def form_fields(self) -> Iterable[Widget]:
        """The kind's keys between identity and routing; a note on what is kept or owned."""
        if self.read_only:
            yield Static(
                "From the config file: change it there, then reload (slamon reload)."
                if self.from_file
                else "Admins change alert channels.",
                classes="form-note",
            )
        for key in self.keys:
            yield self._field(key)
        if self.editing and not self.read_only:
            yield Static(
                "Masked secrets stay as stored unless a new value is typed.",
                classes="form-note",
            )

    def _field(self, key: str) -> FormField:
        label, hint = LABELS[key]
        label += " *" if key in REQUIRED and not self.read_only else ""
        hint = KIND_PLACEHOLDERS.get((self.kind, key), hint)
        current = self.existing.get(key)
        locked = self.read_only or (key == "id" and self.editing)
        control: Widget
        if key in FLAGS:
            ticked = FLAGS[key] if current is None else bool(current)
            control = MarkedCheckbox("", ticked, compact=True, id=f"input-{key}", disabled=locked)
        elif key in CHOICES:
            options = CHOICES[key]
            value = str(current) if current in options else options[0]
            control = Select(
                [(o, o) for o in options],
                value=value,
                allow_blank=False,
                compact=True,
                id=f"input-{key}",
                disabled=locked,
            )
        elif key in SECRETS and self.editing:
            # Never the value: the daemon's masked text is the placeholder.
            shown = field_text(key, current) or "none"
            keep = "kept; type to replace" + (", none removes" if key in OPTIONAL_SECRETS else "")
            control = Input(
                "",
                placeholder=shown if self.read_only else f"{shown}  ({keep})",
                password=key in HIDDEN_WHILE_TYPED,
                compact=True,
                id=f"input-{key}",
                disabled=locked,
            )
        else:
            control = Input(
                field_text(key, current),
                placeholder="— (default)" if self.read_only else hint,
                password=key in HIDDEN_WHILE_TYPED,
                compact=True,
                id=f"input-{key}",
                disabled=locked,
            )
        return FormField(key, label, control)

    # --- saving ------------------------------------------------------------------------------

    def show_call_error(self, exc: FeedCallError) -> None:
        """The daemon's problems in a form's words ("required", not "required key is
        missing", which is written for the config file)."""
        for key, text in exc.fields.items():
            exc.fields[key] = form_words(text)
        super().show_call_error(exc)

    async def save(self) -> Any:
        """Send the whole channel; secrets left empty while editing are not sent (kept)."""
        return await self._call("alert.channel_save", {"channel": self.channel()})

    def channel(self) -> dict[str, Any]:
        """The channel as the form holds it (FormInvalid for what is wrong here)."""
        out: dict[str, Any] = {"id": self.value("id"), "type": self.kind}
        for key in self.keys:
            if key == "id":
                continue
            value = self.value(key)
            if key in FLAGS or key in CHOICES:
                out[key] = bool(value) if key in FLAGS else value
                continue
            if key == "subject_prefix":  # its trailing space counts
                value = self.field(key).control.value  # type: ignore[attr-defined]
            text = str(value or "")
            if not text:
                continue  # the default; a secret while editing: kept as stored
            if key in SECRETS and MASK in text:
                raise self.problem(key, "type the whole value (the stored one stays hidden)")
            if key in OPTIONAL_SECRETS and self.editing and text == "none":
                out[key] = {} if key == "headers" else None  # removed
                continue
            out[key] = self._converted(key, text)
        return out

    def _converted(self, key: str, text: str) -> Any:
        if key in LISTS:
            return word_list(text)
        if key in DURATIONS:
            return text if text == "off" else duration_value(text)
        if key in NUMBERS:
            if not text.isdigit():
                raise self.problem(key, "a whole number")
            return int(text)
        try:
            if key == "headers":
                return parse_headers(text)
            if key == "responders":
                return parse_responders(text)
        except ValueError as exc:
            raise self.problem(key, str(exc)) from None
        return text


class ChannelKindDialog(ModalScreen[str | None]):
    """Which kind of channel to add: ↑/↓ and Enter, Esc cancels. Dismissed with the kind."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", key_display="Esc")]

    def compose(self) -> ComposeResult:
        """The kinds, one line each."""
        with Vertical(classes="form-box kind-box") as box:
            box.border_title = "Add an alert channel: which kind?"
            box.border_subtitle = "↑/↓ · Enter picks · Esc cancels"
            yield OptionList(
                *(Option(f"{kind:<12} {what}", id=kind) for kind, what in KINDS.items()),
                id="kind-list",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a kind."""
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        """Close without a kind."""
        self.dismiss(None)
