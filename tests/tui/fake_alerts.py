"""The fake daemon's alert methods (alert.*), shaped as the daemon's (test_fake_contract.py
holds them to it): one firing alert per service the snapshot has in major outage, channels,
silences and a delivery log that tests can change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from slamon_daemon import protocol
from slamon_daemon.protocol import ErrorCode

from .fake_auth import allows

if TYPE_CHECKING:
    from .fake_daemon import FakeDaemon

ALERT_ROLES = {
    "alert.list": "viewer",
    "alert.channels": "viewer",
    "alert.deliveries": "viewer",
    "alert.ack": "reporter",
    "alert.silence": "reporter",
    "alert.unsilence": "reporter",
    "alert.channel_test": "admin",
    "alert.channel_save": "admin",
    "alert.channel_delete": "admin",
}
EPISODE = "2026-11-21T19:58:30+00:00"


def make_channel(cid: str = "ops", *, failing: bool = False) -> dict[str, Any]:
    """One entry of alert.channels (a webhook, its URL masked)."""
    return {
        "id": cid,
        "type": "webhook",
        "name": None,
        "enabled": True,
        "rules": ["down", "reminder", "incident", "tls", "slo_burn"],
        "services": ["*"],
        "tags": [],
        "min_severity": "info",
        "send_recovery": True,
        "reminder_every": None,
        "rate_limit": None,
        "timeout": 10.0,
        "url": "http://127.0.0.1/hook/***",
        "headers": {},
        "body_template": None,
        "paging": False,
        "source": "config",
        "target": "http://127.0.0.1/hook/***",
        "pending": 1 if failing else 0,
        "failed": 0,
        "delivered": 3,
        "last_error": "HTTP 500" if failing else None,
        "failing": failing,
        "last_attempt_at": "2026-11-21T23:00:00+00:00",
    }


def make_alert(
    sid: str, *, acked_by: str | None = None, silenced: int | None = None
) -> dict[str, Any]:
    """One entry of alert.list's ``alerts``: the open outage alert of ``sid``."""
    aid = f"down|{sid}|{EPISODE}"
    return {
        "alert_id": aid,
        "rule": "down",
        "subject": sid,
        "service_id": sid,
        "episode": EPISODE,
        "status": "firing",
        "severity": "critical",
        "opened_at": "2026-11-21T20:00:00+00:00",
        "details": {"cause": "timeout", "error": "timed out"},
        "group_at": "2026-11-21T20:00:00+00:00",
        "after_parent": False,
        "held_by": None,
        "suppressed_by": f"silence:{silenced}" if silenced else None,
        "fired_at": "2026-11-21T20:00:30+00:00",
        "sent": {"ops": aid},
        "reminders": {},
        "acked_by": acked_by,
        "acked_at": "2026-11-21T20:05:00+00:00" if acked_by else None,
        "resolved_at": None,
        "resolve_pending": False,
        "open": True,
        "acknowledged": acked_by is not None,
        "silenced": silenced is not None,
        "duration_s": 600.0,
    }


LISTED_ONLY = (
    "source",
    "target",
    "pending",
    "failed",
    "delivered",
    "last_error",
    "failing",
    "last_attempt_at",
)
"""Keys alert.channels adds to a channel's settings (alert.channel_save answers without)."""
URL_KINDS = ("webhook", "slack", "discord", "teams", "mattermost", "google_chat")


def masked_url(url: str) -> str:
    """The daemon's mask: scheme, host and the first path segment, then ***."""
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    first = path.split("/", 1)[0]
    return f"{scheme}://{host}/{first + '/' if first else ''}***"


def saved_channel(data: dict[str, Any]) -> dict[str, Any]:
    """What alert.channel_save answers: the settings, secrets masked (webhooks only here)."""
    base = make_channel(str(data["id"]))
    out = {k: v for k, v in base.items() if k not in LISTED_ONLY}
    out.update({k: v for k, v in data.items() if k not in ("url", "headers")})
    out["url"] = masked_url(str(data["url"]))
    out["headers"] = {k: "***" for k in data.get("headers") or {}}
    return out


class FakeAlerts:
    """State of the fake's alerts; ``answer`` replies to alert.* (None for other methods)."""

    def __init__(self, daemon: FakeDaemon) -> None:
        self.daemon = daemon
        self.channels = [make_channel("ops")]
        self.secrets: dict[str, dict[str, Any]] = {}
        """Channels saved over the fake: their secrets in clear (never answered)."""
        self.acks: dict[str, str] = {}
        self.silences: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = [
            {
                "id": 1,
                "outbox_id": 1,
                "channel": "ops",
                "at": "2026-11-21T20:00:31+00:00",
                "ok": True,
                "code": 200,
                "latency_ms": 12.0,
                "error": None,
                "retry_after_s": None,
                "permanent": False,
                "answer": "ok",
                "event": "down",
                "title": "API down",
                "status": "delivered",
            }
        ]
        self.test_answer: dict[str, Any] = {
            "ok": True,
            "code": 200,
            "latency_ms": 5.0,
            "error": None,
            "retry_after_s": None,
            "permanent": False,
            "answer": "ok",
        }

    def _down(self) -> list[str]:
        return [s["id"] for s in self.daemon.snapshot["services"] if s["status"] == "major_outage"]

    def _silence_of(self, sid: str) -> int | None:
        return next(
            (int(s["id"]) for s in self.silences if not s["services"] or sid in s["services"]), None
        )

    def alerts(self) -> list[dict[str, Any]]:
        return [
            make_alert(sid, acked_by=self.acks.get(sid), silenced=self._silence_of(sid))
            for sid in self._down()
        ]

    def summary(self) -> dict[str, Any]:
        alerts = self.alerts()
        return {
            "enabled": True,
            "firing": len(alerts),
            "unacknowledged": len([a for a in alerts if not a["acked_by"]]),
            "silenced": len([a for a in alerts if a["silenced"]]),
            "silences": len(self.silences),
            "channels": len(self.channels),
            "failing_channels": [c["id"] for c in self.channels if c["failing"]],
            "write_error": None,
            "by_service": {
                a["service_id"]: {
                    "alert_id": a["alert_id"],
                    "acked_by": a["acked_by"],
                    "suppressed_by": a["suppressed_by"],
                }
                for a in alerts
            },
        }

    def answer(self, request: protocol.Request) -> dict[str, Any] | None:
        needed = ALERT_ROLES.get(request.method)
        if needed is None:
            return None
        who, problem = self.daemon.auth.caller(request.token)
        if problem is not None:
            return protocol.error_reply(request.id, ErrorCode.UNAUTHORIZED, problem)
        role = who["role"]
        if not allows(role, needed):
            code = ErrorCode.UNAUTHORIZED if role == "anonymous" else ErrorCode.FORBIDDEN
            return protocol.error_reply(
                request.id, code, f"{request.method} needs the {needed} role; you are {role}"
            )
        p, name = request.params, str(who["name"])
        m = request.method
        if m == "alert.list":
            return protocol.reply(
                request.id,
                {"alerts": self.alerts(), "silences": self.silences, "summary": self.summary()},
            )
        if m == "alert.channels":
            return protocol.reply(request.id, self.channels)
        if m == "alert.deliveries":
            rows = sorted(self.deliveries, key=lambda d: d["ok"])
            return protocol.reply(request.id, {"deliveries": rows})
        if m == "alert.ack":
            alert = next((a for a in self.alerts() if a["alert_id"] == p.get("id")), None)
            if alert is None:
                return protocol.error_reply(
                    request.id, ErrorCode.NOT_FOUND, f"no open alert {p.get('id')!r}"
                )
            self.acks.setdefault(alert["service_id"], name)
            return protocol.reply(
                request.id, make_alert(alert["service_id"], acked_by=self.acks[alert["service_id"]])
            )
        if m == "alert.silence":
            if not isinstance(p.get("reason"), str) or not p["reason"].strip():
                problem = '"reason" is required (a string)'
                return protocol.error_reply(
                    request.id, ErrorCode.INVALID_PARAMS, problem, {"reason": problem}
                )
            now = datetime.now(UTC)
            s = {
                "id": len(self.silences) + 1,
                "services": list(p.get("services") or []),
                "rules": list(p.get("rules") or []),
                "reason": p["reason"],
                "created_by": name,
                "created_at": now.isoformat(),
                "expires_at": (now + timedelta(hours=1)).isoformat(),
                "cancelled_at": None,
                "cancelled_by": None,
            }
            self.silences.append(s)
            return protocol.reply(request.id, s)
        if m == "alert.unsilence":
            s = next((x for x in self.silences if x["id"] == p.get("id")), None)
            if s is None:
                return protocol.error_reply(
                    request.id, ErrorCode.NOT_FOUND, f"no silence {p.get('id')}"
                )
            self.silences.remove(s)
            return protocol.reply(
                request.id,
                {**s, "cancelled_at": datetime.now(UTC).isoformat(), "cancelled_by": name},
            )
        if m == "alert.channel_test":
            if not any(c["id"] == p.get("id") for c in self.channels):
                return protocol.error_reply(
                    request.id, ErrorCode.NOT_FOUND, f"no alert channel {p.get('id')!r}"
                )
            return protocol.reply(request.id, {"id": p["id"], **self.test_answer})
        if m == "alert.channel_save":
            return self._save_channel(request)
        if m == "alert.channel_delete":
            c = next((x for x in self.channels if x["id"] == p.get("id")), None)
            if c is None:
                return protocol.error_reply(
                    request.id, ErrorCode.NOT_FOUND, f"no alert channel {p.get('id')!r}"
                )
            if c["source"] == "config":
                problem = f"alert channel {c['id']!r} comes from the config file; remove it there"
                return protocol.error_reply(request.id, ErrorCode.FORBIDDEN, problem)
            self.channels.remove(c)
            self.secrets.pop(c["id"], None)
            return protocol.reply(request.id, {"id": c["id"], "deleted": True})
        return protocol.error_reply(request.id, ErrorCode.UNKNOWN_METHOD, f"{m} is not faked")

    def _save_channel(self, request: protocol.Request) -> dict[str, Any]:
        """Webhook-like kinds only: the URL checked, secrets kept when left out."""
        data = request.params.get("channel")
        if not isinstance(data, dict):
            problem = '"channel" is required: a table like [[alert_channel]] (id, type, url ...)'
            return protocol.error_reply(request.id, ErrorCode.INVALID_PARAMS, problem)
        current = next((c for c in self.channels if c["id"] == data.get("id")), None)
        if current is not None and current["source"] == "config":
            problem = f"alert channel {current['id']!r} comes from the config file; change it there"
            return protocol.error_reply(request.id, ErrorCode.FORBIDDEN, problem)
        kind = data.get("type")
        if current is not None and current["type"] == kind:
            data = {**self.secrets.get(current["id"], {}), **data}
        problems: dict[str, str] = {}
        if kind not in URL_KINDS:
            problems["type"] = f"unknown channel type {kind!r} (the fake knows {URL_KINDS})"
        url = data.get("url")
        if not isinstance(url, str):
            problems["url"] = "required key is missing"
        elif not url.startswith(("http://", "https://")):
            problems["url"] = "must be an http:// or https:// URL with a host"
        if problems:
            message = "; ".join(f"{kind}.{k}: {v}" for k, v in problems.items())
            return protocol.error_reply(request.id, ErrorCode.INVALID_PARAMS, message, problems)
        saved = saved_channel(data)
        self.secrets[saved["id"]] = {k: data[k] for k in ("url", "headers") if k in data}
        listed = {
            **make_channel(saved["id"]),
            **saved,
            "source": "admin",
            "target": saved["url"],
        }
        self.channels = [c for c in self.channels if c["id"] != saved["id"]] + [listed]
        return protocol.reply(request.id, saved)
