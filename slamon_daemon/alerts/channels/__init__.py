"""Channel senders, one module per receiver, and ``build_channel`` from a channel's config."""

from __future__ import annotations

import httpx

from ..config import (
    ChannelConfig,
    DiscordChannelConfig,
    EmailChannelConfig,
    GoogleChatChannelConfig,
    MattermostChannelConfig,
    NtfyChannelConfig,
    OpsgenieChannelConfig,
    PagerDutyChannelConfig,
    SlackChannelConfig,
    TeamsChannelConfig,
    TelegramChannelConfig,
    WebhookChannelConfig,
)
from .base import Channel, Clock, HttpChannel, parse_retry_after, utc_now
from .discord import DiscordChannel
from .email import EmailChannel
from .google_chat import GoogleChatChannel
from .mattermost import MattermostChannel
from .ntfy import NtfyChannel
from .opsgenie import OpsgenieChannel
from .pagerduty import PagerDutyChannel
from .slack import SlackChannel
from .teams import TeamsChannel
from .telegram import TelegramChannel
from .webhook import WebhookChannel

__all__ = ["Channel", "HttpChannel", "build_channel", "parse_retry_after"]


def build_channel(cfg: ChannelConfig, client: httpx.AsyncClient, clock: Clock = utc_now) -> Channel:
    """The sender of a configured channel; HTTP channels share ``client`` (keep-alive)."""
    t = cfg.timeout
    if isinstance(cfg, WebhookChannelConfig):
        return WebhookChannel(
            cfg.id,
            client,
            url=cfg.url.get_secret_value(),
            body_template=cfg.body_template,
            headers={k: v.get_secret_value() for k, v in cfg.headers.items()},
            timeout_s=t,
            clock=clock,
        )
    if isinstance(cfg, MattermostChannelConfig):
        return MattermostChannel(
            cfg.id,
            client,
            url=cfg.url.get_secret_value(),
            channel=cfg.channel,
            username=cfg.username,
            timeout_s=t,
            clock=clock,
        )
    simple: dict[
        type[ChannelConfig], type[SlackChannel | DiscordChannel | TeamsChannel | GoogleChatChannel]
    ] = {
        SlackChannelConfig: SlackChannel,
        DiscordChannelConfig: DiscordChannel,
        TeamsChannelConfig: TeamsChannel,
        GoogleChatChannelConfig: GoogleChatChannel,
    }
    if type(cfg) in simple:
        url = cfg.url.get_secret_value()  # type: ignore[attr-defined]
        return simple[type(cfg)](cfg.id, client, url=url, timeout_s=t, clock=clock)
    if isinstance(cfg, NtfyChannelConfig):
        return NtfyChannel(
            cfg.id,
            client,
            topic=cfg.topic.get_secret_value(),
            base_url=cfg.base_url,
            token=cfg.token.get_secret_value() if cfg.token else None,
            timeout_s=t,
            clock=clock,
        )
    if isinstance(cfg, TelegramChannelConfig):
        return TelegramChannel(
            cfg.id,
            client,
            bot_token=cfg.bot_token.get_secret_value(),
            chat_id=cfg.chat_id,
            base_url=cfg.base_url,
            timeout_s=t,
            clock=clock,
        )
    if isinstance(cfg, PagerDutyChannelConfig):
        return PagerDutyChannel(
            cfg.id,
            client,
            routing_key=cfg.routing_key.get_secret_value(),
            base_url=cfg.base_url,
            timeout_s=t,
            clock=clock,
        )
    if isinstance(cfg, OpsgenieChannelConfig):
        return OpsgenieChannel(
            cfg.id,
            client,
            api_key=cfg.api_key.get_secret_value(),
            base_url=cfg.base_url,
            responders=cfg.responders,
            timeout_s=t,
            clock=clock,
        )
    if isinstance(cfg, EmailChannelConfig):
        return EmailChannel(
            cfg.id,
            host=cfg.host,
            port=cfg.smtp_port,
            sender=cfg.sender,
            recipients=cfg.to,
            security=cfg.security,
            username=cfg.username,
            password=cfg.password.get_secret_value() if cfg.password else None,
            ca_file=cfg.ca_file,
            verify_tls=cfg.verify_tls,
            subject_prefix=cfg.subject_prefix,
            timeout_s=t,
        )
    raise ValueError(f"no sender for channel type {cfg.type!r}")
