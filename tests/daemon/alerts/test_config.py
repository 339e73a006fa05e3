"""Alert settings: defaults, every channel type, routing helpers and config.py-style errors."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from slamon_daemon.alerts.config import (
    CHANNEL_TYPES,
    EmailChannelConfig,
    NtfyChannelConfig,
    PagerDutyChannelConfig,
    SlackChannelConfig,
    WebhookChannelConfig,
)
from slamon_daemon.alerts.config_check import dependency_cycle, load_alert_settings
from slamon_daemon.alerts.model import Rule, Severity
from slamon_daemon.errors import ConfigError

FULL = """
[alerts]
grouping_window = "45s"
reminder_every = "30m"
tls_expiry_days = [3, 14, 30]

[[alert_channel]]
id = "ops-slack"
type = "slack"
url = "https://hooks.slack.com/services/T0/B0/XyZ"
services = ["payments-*", "core-db"]
tags = ["prod"]
min_severity = "warning"

[[alert_channel]]
id = "pager"
type = "pagerduty"
routing_key = "R0UTINGKEY"
rules = ["down", "slo_burn"]

[[alert_channel]]
id = "hook"
type = "webhook"
url = "https://example.com/hook"
headers = { Authorization = "Bearer t0k" }
body_template = '{"text": {{ title | tojson }}}'
reminder_every = "off"

[[alert_channel]]
id = "push"
type = "ntfy"
topic = "my-topic"
reminder_every = "10m"

[[alert_channel]]
id = "mail"
type = "email"
host = "smtp.example.com"
security = "tls"
username = "u"
password = "p4ss"
sender = "slamon@example.com"
to = ["oncall@example.com"]

[[alert_channel]]
id = "tg"
type = "telegram"
bot_token = "1:abc"
chat_id = -100123

[[service]]
id = "core-db"
url = "https://db.example.com/health"
tags = ["prod", "db"]

[[service]]
id = "payments-api"
url = "https://pay.example.com/health"
depends_on = ["core-db"]
alert_severity = "warning"
alert_channels = ["ops-slack"]
"""


def load(text: str) -> Any:
    return load_alert_settings(tomllib.loads(text), "slamon.toml")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(text)
    return err.value.problems


def test_full_example() -> None:
    s = load(FULL)
    assert s.alerts.grouping_window == 45.0
    assert s.alerts.tls_expiry_days == [30, 14, 3]
    slack, pager, hook, push, mail, tg = s.alert_channel
    assert isinstance(slack, SlackChannelConfig) and slack.min_severity is Severity.WARNING
    assert slack.matches_service("payments-api", {"prod"})
    assert not slack.matches_service("payments-api", {"dev"})
    assert not slack.matches_service("search", {"prod"})
    assert isinstance(pager, PagerDutyChannelConfig) and pager.paging
    assert pager.rules == [Rule.DOWN, Rule.SLO_BURN]
    assert pager.reminder_interval(s.alerts) is None  # paging: off unless asked
    assert isinstance(hook, WebhookChannelConfig)
    assert hook.reminder_interval(s.alerts) is None  # "off"
    assert hook.headers["Authorization"].get_secret_value() == "Bearer t0k"
    assert isinstance(push, NtfyChannelConfig) and push.reminder_interval(s.alerts) == 600
    assert slack.reminder_interval(s.alerts) == 1800  # the [alerts] default
    assert isinstance(mail, EmailChannelConfig) and mail.smtp_port == 465
    assert tg.chat_id == "-100123"
    assert slack.messages_per_minute() == 60 and tg.messages_per_minute() == 20
    payments = s.service[1]
    assert payments.depends_on == ["core-db"] and payments.alert_severity is Severity.WARNING
    assert payments.alert_channels == ["ops-slack"]


def test_secrets_are_masked_in_reprs_and_dumps() -> None:
    s = load(FULL)
    text = repr(s) + str(s.model_dump(mode="json"))
    for secret in ("XyZ", "R0UTINGKEY", "Bearer t0k", "my-topic", "p4ss", "1:abc"):
        assert secret not in text


def test_defaults() -> None:
    s = load("")
    assert s.alerts.enabled and s.alerts.grouping_window == 30.0
    assert s.alerts.reminder_every == 3600.0 and s.alerts.tls_expiry_days == [14, 3]
    assert s.alert_channel == []
    ch = load(
        '[[alert_channel]]\nid="a"\ntype="discord"\nurl="https://d.example/api/webhooks/1/t"'
    ).alert_channel[0]
    assert ch.rules == list(Rule) and ch.services == ["*"] and ch.send_recovery


def test_every_type_is_known() -> None:
    assert len(CHANNEL_TYPES) == 11


def test_unknown_type_and_missing_keys() -> None:
    lines = problems(
        '[[alert_channel]]\nid="a"\ntype="slak"\nurl="https://x/y"\n'
        '[[alert_channel]]\nid="b"\n'
        '[[alert_channel]]\nid="c"\ntype="pagerduty"\n'
    )
    assert lines[0].startswith(
        "slamon.toml: alert_channel[0] (id=a).type: unknown channel type 'slak'; allowed: webhook, slack,"
    )
    assert lines[1].startswith(
        "slamon.toml: alert_channel[1] (id=b).type: required key type is missing; allowed:"
    )
    assert lines[2] == "slamon.toml: alert_channel[2] (id=c).routing_key: required key is missing"


def test_unknown_key_lists_what_is_allowed() -> None:
    (line,) = problems(
        '[[alert_channel]]\nid="a"\ntype="telegram"\nbot_token="1:x"\nchat_id=1\nchat="x"'
    )
    assert line.startswith(
        "slamon.toml: alert_channel[0] (id=a).chat: unknown key; allowed here: base_url, bot_token, chat_id,"
    )
    (line,) = problems("[alerts]\ngroup_window = 3")
    assert line.startswith("slamon.toml: alerts.group_window: unknown key; allowed here: enabled,")


def test_bad_values_never_echo_secrets() -> None:
    (line,) = problems('[[alert_channel]]\nid="a"\ntype="slack"\nurl="ftp://hooks/s3cr3t"')
    assert (
        line
        == "slamon.toml: alert_channel[0] (id=a).url: must be an http:// or https:// URL with a host"
    )


def test_bad_routing_values() -> None:
    lines = problems(
        '[[alert_channel]]\nid="a"\ntype="discord"\nurl="https://d/x/y"\nrules=["dwn"]\n'
        'services=["Payments API"]\nmin_severity="high"\nreminder_every="soon"\n'
    )
    text = "\n".join(lines)
    assert "alert_channel[0] (id=a).rules[0]: Input should be 'down', 'reminder'" in text
    assert "alert_channel[0] (id=a).services: 'Payments API' is not a service id or glob" in text
    assert (
        "alert_channel[0] (id=a).min_severity: Input should be 'info', 'warning' or 'critical'"
        in text
    )
    assert "alert_channel[0] (id=a).reminder_every: expected a duration like" in text


def test_template_checked_at_load() -> None:
    (line,) = problems(
        '[[alert_channel]]\nid="a"\ntype="webhook"\nurl="https://x/y"\nbody_template=\'{"t": {{ titel | tojson }}}\'\n'
    )
    assert line.startswith("slamon.toml: alert_channel[0] (id=a).body_template: template error")
    assert "titel" in line
    (line,) = problems(
        '[[alert_channel]]\nid="a"\ntype="webhook"\nurl="https://x/y"\nbody_template=\'{"t": {{ title }}}\'\n'
    )
    assert "does not render to JSON" in line and "tojson" in line


def test_email_checks() -> None:
    lines = problems(
        '[[alert_channel]]\nid="m"\ntype="email"\nhost="h"\nsender="a@b"\nto=["nobody"]\nsecurity="ssl"\n'
    )
    text = "\n".join(lines)
    assert "alert_channel[0] (id=m).to: Value error" not in text
    assert "alert_channel[0] (id=m).to: 'nobody' is not an email address" in text
    assert "alert_channel[0] (id=m).security: Input should be 'starttls', 'tls' or 'none'" in text


def test_cross_table_problems_each_on_its_line() -> None:
    lines = problems(
        '[[alert_channel]]\nid="a"\ntype="discord"\nurl="https://d/x/y"\n'
        '[[alert_channel]]\nid="a"\ntype="discord"\nurl="https://d/x/z"\n'
        '[[service]]\nid="web"\ndepends_on=["api", "ghost"]\nalert_channels=["b"]\n'
        '[[service]]\nid="api"\ndepends_on=["web"]\n'
    )
    assert lines == [
        "slamon.toml: alert_channel[1] (id=a).id: duplicate channel id 'a' (first used by"
        " alert_channel[0]); each [[alert_channel]] needs its own id",
        "slamon.toml: service[0] (id=web).depends_on: unknown services ['ghost']; known: ['api', 'web']",
        "slamon.toml: service[0] (id=web).alert_channels: unknown channels ['b']; known: ['a']",
        "slamon.toml: service.depends_on: dependency cycle: api -> web -> api",
    ]


def test_dependency_cycle() -> None:
    assert dependency_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert dependency_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert dependency_cycle({"a": ["a"]}) is None  # reported separately as self-dependency
