"""The kinds of alert channel and the keys each takes (issue 11), as the daemon's
``alerts/config.py`` defines them (tests/tui/test_alert_channels_form.py holds this table to
it): what the channel form shows for each kind, and how a few values are written in a form.
Pure data and text: no I/O, no Textual.
"""

from __future__ import annotations

import re
from typing import Any

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
    for item in (x for x in re.split(r"[,\s]+", text) if x):
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
