"""``slamon alert``: list, test CHANNEL, silence, unsilence, ack, deliveries (docs/alerts.md).

Each subcommand is one feed call (alert.*) made through ``call`` (cli.py's, with the login of
``--user`` or the dashboard's cached one); the result is printed as text for people.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


def add_parser(sub: Any, parents: Sequence[argparse.ArgumentParser]) -> None:
    """``slamon alert ...`` under ``sub`` (cli.py's subparsers)."""
    alert = sub.add_parser(
        "alert",
        parents=list(parents),
        help="alerts: list, test CHANNEL, silence, unsilence, ack, deliveries",
        description="Firing alerts, silences, channel test-sends and the delivery log.",
    )
    alert.add_argument("--user", metavar="NAME", default=argparse.SUPPRESS, help="log in as NAME")
    alert.add_argument(
        "--password-stdin", action="store_true", help="with --user: read the password from stdin"
    )
    verbs = alert.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("list", help="firing and recent alerts, silences, channels")
    test = verbs.add_parser("test", help="send a test message; prints the receiver's answer")
    test.add_argument("channel", help="channel id")
    silence = verbs.add_parser("silence", help="mute alerts for a while (reporter and up)")
    silence.add_argument(
        "--service", action="append", default=[], help="service id or glob (repeat; default all)"
    )
    silence.add_argument(
        "--rule",
        action="append",
        default=[],
        choices=["down", "reminder", "incident", "tls", "slo_burn"],
        help="rule to mute (repeat; default all)",
    )
    silence.add_argument("--reason", required=True, help="why (shown with the silence)")
    silence.add_argument("--for", dest="duration", default="1h", help='how long, e.g. "2h"')
    unsilence = verbs.add_parser("unsilence", help="end a silence")
    unsilence.add_argument("id", type=int, help="silence id (slamon alert list)")
    ack = verbs.add_parser("ack", help="acknowledge an alert: its reminders stop")
    ack.add_argument("id", help="alert id (slamon alert list)")
    log = verbs.add_parser("deliveries", help="the delivery log, failures first")
    log.add_argument("--channel", help="only this channel")
    log.add_argument("--limit", type=int, default=50)


async def run(args: argparse.Namespace, call: Call) -> int:
    """Run ``slamon alert VERB``; prints the outcome. Exit 0, or 1 when it failed."""
    if args.verb == "list":
        result = await call("alert.list", {})
        channels = await call("alert.channels", {})
        print(format_list(result, channels))
        return 0
    if args.verb == "test":
        r = await call("alert.channel_test", {"id": args.channel})
        print(format_test(r))
        return 0 if r.get("ok") else 1
    if args.verb == "silence":
        wanted = {"services": args.service, "rules": args.rule, "reason": args.reason}
        s = await call("alert.silence", {**wanted, "duration": args.duration})
        print(f"silence {s['id']} until {s['expires_at']}: {_targets(s)} ({s['reason']})")
        return 0
    if args.verb == "unsilence":
        s = await call("alert.unsilence", {"id": args.id})
        print(f"silence {s['id']} ended at {s['cancelled_at']}")
        return 0
    if args.verb == "ack":
        a = await call("alert.ack", {"id": args.id})
        print(f"acknowledged {a['alert_id']} (by {a['acked_by']} at {a['acked_at']})")
        return 0
    params: dict[str, Any] = {"limit": args.limit}
    if args.channel:
        params["channel"] = args.channel
    log = await call("alert.deliveries", params)
    print(format_deliveries(log["deliveries"]))
    return 0


def _targets(s: dict[str, Any]) -> str:
    services = ", ".join(s.get("services") or []) or "all services"
    rules = ", ".join(s.get("rules") or []) or "all rules"
    return f"{services}; {rules}"


def format_list(result: dict[str, Any], channels: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    alerts = [a for a in result.get("alerts") or [] if a.get("open")]
    lines.append(f"Firing alerts: {len(alerts)}")
    for a in alerts:
        state = []
        if a.get("acked_by"):
            state.append(f"acked by {a['acked_by']}")
        if a.get("suppressed_by"):
            state.append(f"suppressed: {a['suppressed_by']}")
        if a.get("held_by"):
            state.append(f"held by {a['held_by']}")
        extra = f"  [{'; '.join(state)}]" if state else ""
        lines.append(
            f"  {a['severity']:<8} {a['rule']:<8} {a['service_id']:<20} {a['status']:<8}"
            f" since {a['opened_at']}{extra}"
        )
        lines.append(f"           id: {a['alert_id']}")
    silences = result.get("silences") or []
    lines.append(f"Silences: {len(silences)}")
    for s in silences:
        lines.append(
            f"  #{s['id']} until {s['expires_at']}: {_targets(s)} — {s['reason']} ({s['created_by']})"
        )
    lines.append(f"Channels: {len(channels)}")
    for c in channels:
        health = "FAILING: " + str(c.get("last_error")) if c.get("failing") else "ok"
        lines.append(
            f"  {c['id']:<16} {c['type']:<12} {c.get('source', ''):<7} pending {c.get('pending', 0)}"
            f"  {health}"
        )
    return "\n".join(lines)


def format_test(r: dict[str, Any]) -> str:
    head = "delivered" if r.get("ok") else "NOT delivered"
    code = r.get("code")
    lines = [
        f"{r.get('id')}: {head} (code {code if code is not None else '—'},"
        f" {r.get('latency_ms', 0):.0f} ms)"
    ]
    if r.get("error"):
        lines.append(f"error: {r['error']}")
    if r.get("answer"):
        lines.append(f"receiver answered: {r['answer']}")
    return "\n".join(lines)


def format_deliveries(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "No delivery attempts yet."
    lines = []
    for d in rows:
        mark = "ok  " if d["ok"] else "FAIL"
        code = d["code"] if d["code"] is not None else "—"
        err = f"  {d['error']}" if d.get("error") else ""
        lines.append(
            f"{mark} {d['at']}  {d['channel']:<14} {code!s:>4} {d['latency_ms']:>7.1f} ms"
            f"  {d['event']:<10} {d['title']}{err}"
        )
    return "\n".join(lines)
