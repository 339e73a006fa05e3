"""Alert settings: the ``[alerts]`` section, ``[[alert_channel]]`` tables and the alert fields
of a ``[[service]]`` (``depends_on``, ``tags``, ``alert_severity``, ``alert_channels``).

Problems are reported (``config_check.load_alert_settings``) like the rest of the
configuration (``config.py``), one line each:
``file: key.path: what was wrong; what is allowed``, e.g.
``slamon.toml: alert_channel[1] (id=ops).type: unknown channel type 'slak'; allowed: …``.

A channel gets a notification when all of these hold: its ``rules`` name the rule (``down``,
``reminder``, ``incident``, ``tls``, ``slo_burn``); the service matches one of its
``services`` globs (default ``["*"]``) and, when ``tags`` is set, carries one of them; the
severity is at least ``min_severity``. A service that names ``alert_channels`` goes to those
channels only (their rule and severity filters still apply). Resolves (recovery, renewed
certificate, budget no longer burning) go where the trigger went unless the channel sets
``send_recovery = false``.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
)

from ..config import Duration, parse_duration
from .fields import TemplateProblem, check_template
from .model import Rule, Severity

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_GLOB_RE = re.compile(r"^[a-z0-9*?\[\]!-]{1,64}$")

CHANNEL_TYPES = (
    "webhook",
    "slack",
    "discord",
    "teams",
    "mattermost",
    "google_chat",
    "ntfy",
    "telegram",
    "pagerduty",
    "opsgenie",
    "email",
)
PAGING_TYPES = frozenset({"pagerduty", "opsgenie"})
ALL_RULES: tuple[Rule, ...] = tuple(Rule)

DEFAULT_RATE_PER_MINUTE: dict[str, int] = {
    # What each receiver documents (or tolerates) per webhook; 429s are honoured anyway.
    "slack": 60,
    "discord": 30,
    "teams": 30,
    "mattermost": 60,
    "google_chat": 60,
    "ntfy": 60,
    "telegram": 20,
    "pagerduty": 120,
    "opsgenie": 120,
    "webhook": 120,
    "email": 30,
}


def parse_optional_duration(value: Any) -> float:
    """A duration, or "off" / 0 / false for none (0.0 means off)."""
    if value is False or value in (0, "0") or (isinstance(value, str) and value.strip() == "off"):
        return 0.0
    return parse_duration(value)


OptionalDuration = Annotated[float, BeforeValidator(parse_optional_duration)]


def _http_url(v: SecretStr) -> SecretStr:
    text = v.get_secret_value()
    try:
        u = httpx.URL(text)
    except Exception:
        raise ValueError("is not a valid URL") from None  # the value is a secret: never echo it
    if u.scheme not in ("http", "https") or not u.host:
        raise ValueError("must be an http:// or https:// URL with a host")
    return v


def _base_url(v: str) -> str:
    try:
        u = httpx.URL(v)
    except Exception as exc:
        raise ValueError(f"{v!r} is not a valid URL ({exc})") from None
    if u.scheme not in ("http", "https") or not u.host:
        raise ValueError(f"{v!r} is not an http:// or https:// URL with a host")
    return v.rstrip("/")


class AlertsConfig(BaseModel):
    """The [alerts] section."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Send alerts at all (false: alert state is still kept and shown, nothing is sent)."""
    grouping_window: Duration = 30.0
    """Services confirmed down within this window of the first yield one message per channel."""
    reminder_every: OptionalDuration = 3600.0
    """Remind while an unacknowledged alert stays down ("off" for never). Paging channels
    (PagerDuty, Opsgenie) get no reminders unless they set their own reminder_every."""
    tls_expiry_days: list[int] = Field(default_factory=lambda: [14, 3])
    """Warn when the earliest expiry in a certificate chain is this many days away or less."""
    slo_alerts: bool = True
    """SLO burn-rate alerts (page: 14.4× over 1 h and 5 min, 6× over 6 h and 30 min;
    ticket: 1× over 3 d and 6 h)."""
    slo_budget_period: Duration = 30 * 86400.0
    """The period whose error budget burn rates are measured against (the SRE workbook's 30 d)."""
    retry_base: Duration = 5.0
    """First retry delay of a failed delivery; it doubles each attempt (with jitter)."""
    retry_max: Duration = 600.0
    """Longest delay between two attempts."""
    give_up_after: Duration = 86400.0
    """A notification still undelivered this long after it was queued is marked failed."""
    key_file: Path | None = None
    """The AES-GCM key of channel secrets stored in the database (created once, mode 0600).
    Default: beside the daemon's secret file."""

    @field_validator("tls_expiry_days")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(d < 1 or d > 365 for d in v):
            raise ValueError("each entry must be a number of days from 1 to 365")
        return sorted(set(v), reverse=True)


class ChannelConfig(BaseModel):
    """What every [[alert_channel]] has: identity, routing and pacing."""

    model_config = ConfigDict(extra="forbid")
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ()

    id: str
    """Stable kebab-case id ("ops-slack"): alert state and the outbox refer to it."""
    type: str
    """One of webhook, slack, discord, teams, mattermost, google_chat, ntfy, telegram,
    pagerduty, opsgenie, email."""
    name: str | None = None
    """Display name (default: the id)."""
    enabled: bool = True
    """False keeps the channel (and its backlog) but sends nothing."""
    rules: list[Rule] = Field(default_factory=lambda: list(ALL_RULES))
    """Which rules it gets: down, reminder, incident, tls, slo_burn (default: all)."""
    services: list[str] = Field(default_factory=lambda: ["*"])
    """Service ids or globs ("payments-*") whose alerts it gets."""
    tags: list[str] = Field(default_factory=list)
    """When set, only services carrying one of these tags."""
    min_severity: Severity = Severity.INFO
    """Least severity it gets: info, warning or critical."""
    send_recovery: bool = True
    """Send the resolve of what it was sent (recovery, renewed certificate …)."""
    reminder_every: OptionalDuration | None = None
    """Reminder interval for this channel ("off" for none); default: [alerts] reminder_every,
    or none for paging channels."""
    rate_limit: int | None = Field(default=None, ge=1, le=6000)
    """Messages per minute at most (default per type, e.g. Slack 60, Telegram 20)."""
    timeout: Duration = 10.0
    """How long one send may take."""

    @field_validator("id")
    @classmethod
    def _check_id(cls, v: str) -> str:
        if not _ID_RE.match(v) or len(v) > 64:
            raise ValueError(
                f'{v!r} is not a kebab-case id (e.g. "ops-slack"), at most 64 characters'
            )
        return v

    @field_validator("services")
    @classmethod
    def _check_globs(cls, v: list[str]) -> list[str]:
        for g in v:
            if not _GLOB_RE.match(g):
                raise ValueError(
                    f"{g!r} is not a service id or glob (lowercase letters, digits, -, * and ?)"
                )
        return v

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, v: list[str]) -> list[str]:
        return [_check_tag(t) for t in v]

    @property
    def paging(self) -> bool:
        return self.type in PAGING_TYPES

    def reminder_interval(self, alerts: AlertsConfig) -> float | None:
        """Seconds between reminders on this channel, or None for no reminders."""
        if self.reminder_every is not None:
            return self.reminder_every or None
        if self.paging:
            return None
        return alerts.reminder_every or None

    def messages_per_minute(self) -> int:
        return self.rate_limit or DEFAULT_RATE_PER_MINUTE[self.type]

    def matches_service(self, service_id: str, tags: frozenset[str] | set[str]) -> bool:
        """Routing by service: an id or glob matches, and a tag does when tags are set."""
        if not any(fnmatch.fnmatchcase(service_id, g) for g in self.services):
            return False
        return not self.tags or bool(set(self.tags) & set(tags))


def _check_tag(t: str) -> str:
    if not _TAG_RE.match(t):
        raise ValueError(f"{t!r} is not a tag (lowercase letters, digits, _ . -; at most 64)")
    return t


class _UrlChannel(ChannelConfig):
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("url",)
    url: SecretStr
    """The webhook URL (a secret: it is never logged or shown whole)."""

    _url = field_validator("url")(_http_url)


class SlackChannelConfig(_UrlChannel):
    type: Literal["slack"]


class DiscordChannelConfig(_UrlChannel):
    type: Literal["discord"]


class TeamsChannelConfig(_UrlChannel):
    type: Literal["teams"]


class GoogleChatChannelConfig(_UrlChannel):
    type: Literal["google_chat"]


class MattermostChannelConfig(_UrlChannel):
    type: Literal["mattermost"]
    channel: str | None = None
    """Post to this channel instead of the webhook's own (if the server allows it)."""
    username: str | None = None
    """Post under this name (if the server allows it)."""


class WebhookChannelConfig(_UrlChannel):
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("url", "headers")
    type: Literal["webhook"]
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """Extra request headers, e.g. { Authorization = "Bearer …" } (values are secrets)."""
    body_template: str | None = None
    """Jinja2 template of the JSON body over the notification fields (docs/alerts.md);
    default: every field as one JSON object."""

    @field_validator("body_template")
    @classmethod
    def _check_template(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                check_template(v)
            except TemplateProblem as exc:
                raise ValueError(str(exc)) from None
        return v


class NtfyChannelConfig(ChannelConfig):
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("topic", "token")
    type: Literal["ntfy"]
    base_url: str = "https://ntfy.sh"
    """The ntfy server."""
    topic: SecretStr
    """The topic (on a public server its name is the password)."""
    token: SecretStr | None = None
    """An access token, sent as Authorization: Bearer."""

    _base = field_validator("base_url")(_base_url)


class TelegramChannelConfig(ChannelConfig):
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("bot_token",)
    type: Literal["telegram"]
    base_url: str = "https://api.telegram.org"
    """The Bot API server."""
    bot_token: SecretStr
    """The bot's token from @BotFather."""
    chat_id: Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v)]
    """The chat (a number, or @channelname)."""

    _base = field_validator("base_url")(_base_url)


class PagerDutyChannelConfig(ChannelConfig):
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("routing_key",)
    type: Literal["pagerduty"]
    base_url: str = "https://events.pagerduty.com"
    """The Events API v2 server."""
    routing_key: SecretStr
    """The integration's routing key (Events API v2)."""

    _base = field_validator("base_url")(_base_url)


class OpsgenieChannelConfig(ChannelConfig):
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("api_key",)
    type: Literal["opsgenie"]
    base_url: str = "https://api.opsgenie.com"
    """The Alert API server ("https://api.eu.opsgenie.com" for EU accounts)."""
    api_key: SecretStr
    """The API integration's key (sent as GenieKey)."""
    responders: list[dict[str, str]] = Field(default_factory=list)
    """Opsgenie responders, e.g. [{ type = "team", name = "ops" }]."""

    _base = field_validator("base_url")(_base_url)


class EmailChannelConfig(ChannelConfig):
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("password",)
    type: Literal["email"]
    host: str = Field(min_length=1)
    """The SMTP server."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """Default: 587 for starttls, 465 for tls, 25 for none."""
    security: Literal["starttls", "tls", "none"] = "starttls"
    """starttls (upgrade required), tls (implicit TLS) or none (a local relay)."""
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(min_length=3)
    """The From address."""
    to: list[str] = Field(min_length=1)
    """Recipients."""
    ca_file: str | None = None
    """PEM file of CA certificates to verify the server against (private CAs)."""
    verify_tls: bool = True
    subject_prefix: str = "[slamon] "

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for a in v:
            if "@" not in a or any(c in a for c in " \r\n,;"):
                raise ValueError(f"{a!r} is not an email address")
        return v

    @field_validator("ca_file")
    @classmethod
    def _ca(cls, v: str | None) -> str | None:
        if v is not None and not Path(v).is_file():
            raise ValueError(f"{v!r} is not a readable file (a PEM bundle of CA certificates)")
        return v

    @property
    def smtp_port(self) -> int:
        return self.port or {"starttls": 587, "tls": 465, "none": 25}[self.security]


AlertChannelConfig = Annotated[
    WebhookChannelConfig
    | SlackChannelConfig
    | DiscordChannelConfig
    | TeamsChannelConfig
    | MattermostChannelConfig
    | GoogleChatChannelConfig
    | NtfyChannelConfig
    | TelegramChannelConfig
    | PagerDutyChannelConfig
    | OpsgenieChannelConfig
    | EmailChannelConfig,
    Field(discriminator="type"),
]

CHANNEL_MODELS: dict[str, type[ChannelConfig]] = {
    "webhook": WebhookChannelConfig,
    "slack": SlackChannelConfig,
    "discord": DiscordChannelConfig,
    "teams": TeamsChannelConfig,
    "mattermost": MattermostChannelConfig,
    "google_chat": GoogleChatChannelConfig,
    "ntfy": NtfyChannelConfig,
    "telegram": TelegramChannelConfig,
    "pagerduty": PagerDutyChannelConfig,
    "opsgenie": OpsgenieChannelConfig,
    "email": EmailChannelConfig,
}


class ServiceAlertFields(BaseModel):
    """The alert keys of a [[service]] (ServiceConfig takes them as a base class)."""

    model_config = ConfigDict(extra="ignore")

    id: str = ""
    depends_on: list[str] = Field(default_factory=list)
    """Services this one needs: while one of them is confirmed down, this service's alerts
    are held and folded into that outage's message."""
    tags: list[str] = Field(default_factory=list)
    """Tags for routing ("payments", "db")."""
    alert_severity: Severity = Severity.CRITICAL
    """Severity of this service's outage alerts (info, warning, critical)."""
    alert_channels: list[str] | None = None
    """Send this service's alerts to these channels only (default: route by the channels)."""

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, v: list[str]) -> list[str]:
        return [_check_tag(t) for t in v]


class AlertSettings(BaseModel):
    """Everything alerting reads from the file: [alerts], [[alert_channel]], service fields."""

    model_config = ConfigDict(extra="ignore")

    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    alert_channel: list[AlertChannelConfig] = Field(default_factory=list)
    service: list[ServiceAlertFields] = Field(default_factory=list)

    def channel(self, channel_id: str) -> ChannelConfig | None:
        return next((c for c in self.alert_channel if c.id == channel_id), None)
