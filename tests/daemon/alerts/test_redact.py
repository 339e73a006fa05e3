"""Masking secrets in URLs and in free text."""

from __future__ import annotations

from slamon_daemon.alerts.redact import Redactor, mask_url, url_secrets


def test_mask_url() -> None:
    assert (
        mask_url("https://hooks.slack.com/services/T0/B0/XyZ")
        == "https://hooks.slack.com/services/***"
    )
    assert mask_url("https://discord.com/api/webhooks/1/tok") == "https://discord.com/api/***"
    assert mask_url("https://chat.googleapis.com/v1/spaces/A/messages?key=k&token=t") == (
        "https://chat.googleapis.com/v1/***"
    )
    assert mask_url("https://example.com/hook") == "https://example.com/***"
    assert mask_url("https://example.com") == "https://example.com"
    assert mask_url("http://user:pw@127.0.0.1:8080/a/b") == "http://127.0.0.1:8080/a/***"
    assert mask_url("not a url") == "***"


def test_url_secrets_cover_the_token_parts() -> None:
    parts = url_secrets("https://hooks.slack.com/services/T0/B0/XyZ?x=1&token=t0k")
    assert "T0/B0/XyZ" in parts and "XyZ" in parts and "t0k" in parts


def test_redactor() -> None:
    r = Redactor(["s3cret-token", "abc", "s3cret"])
    assert (
        r("error: s3cret-token rejected; s3cret too; abc stays")
        == "error: *** rejected; *** too; abc stays"
    )
    assert "s3cret" not in repr(r)
