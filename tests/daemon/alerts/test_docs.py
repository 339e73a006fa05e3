"""docs/alerts.md stays true: its template works, its field table matches the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from slamon_daemon.alerts.fields import FIELD_NAMES, SAMPLE_FIELDS, render_json

DOC = Path(__file__).resolve().parents[3] / "docs" / "alerts.md"


def test_the_documented_template_renders_for_trigger_and_resolve() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```toml\n(body_template = .*?)```", text, re.S)
    assert block is not None
    template = tomllib.loads(block.group(1))["body_template"]
    fired = render_json(template, SAMPLE_FIELDS)
    assert fired["status"] == "firing" and fired["services"] == ["core-db"]
    resolved = render_json(template, {**SAMPLE_FIELDS, "action": "resolve"})
    assert resolved["status"] == "resolved"


def test_the_field_table_lists_every_field() -> None:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("| field | meaning |", 1)[1].split("\n\n", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", section, re.M)
    assert documented == list(FIELD_NAMES)


def test_the_documented_channel_example_loads() -> None:
    from slamon_daemon.alerts.config_check import load_alert_settings

    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```toml\n(\[\[alert_channel\]\].*?)```", text, re.S)
    assert block is not None
    (channel,) = load_alert_settings(tomllib.loads(block.group(1)), "docs").alert_channel
    assert channel.id == "ops-slack" and channel.reminder_every == 1800
