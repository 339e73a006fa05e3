"""Alerts end to end with a real slamond and real receivers on 127.0.0.1 (issue 11).

* a webhook receiver gets the down and the recovery of a service;
* 50 services down at once make one message per channel;
* a receiver answering 500 and then OK gets the message again (retried);
* a daemon SIGKILLed between enqueueing and delivering (in the middle of sending) delivers
  once after its restart;
* email through a local SMTP server (aiosmtpd).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from slamon_daemon.targets import Request, Target, response_bytes
from tests.daemon.alerts.receivers import Receiver, answer, hang_answer

from .slamond import Slamond


class Switch:
    """A service target that answers 200 or 500 as the test says."""

    def __init__(self) -> None:
        self.up = True
        self.target = Target(self._answer)

    async def _answer(self, req: Request, w: asyncio.StreamWriter) -> None:
        w.write(response_bytes(200 if self.up else 500, b"ok" if self.up else b"broken"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.target.port}/health"


NO_SLO = "slo_alerts = false\n"
"""Burn rates are evaluated when the minute turns: a daemon with a few seconds of history
whose service is down then burns its budget thousands of times too fast, so an outage that
spans a minute boundary opens two slo_burn alerts (page and ticket, held while the outage
is open) and sends them after the recovery. Tests of other rules turn them off, or they
fail whenever the clock turns a minute at the wrong moment (a loaded CI machine, slower,
hits it more often)."""


def write_config(
    folder: Path,
    services: dict[str, str],
    channels: str,
    *,
    alerts: str = NO_SLO + 'grouping_window = "1s"\nretry_base = "300ms"\nretry_max = "1s"',
    daemon: str = "",
    interval: str = "300ms",
) -> Path:
    body = "".join(
        f'\n[[service]]\nid = "{sid}"\nurl = "{url}"\ninterval = "{interval}"\ntimeout = "1s"\n'
        for sid, url in services.items()
    )
    path = folder / "slamon.toml"
    path.write_text(
        f'[daemon]\ndatabase_url = "sqlite:///{folder}/db.sqlite"\nsocket = "{folder}/s.sock"\n'
        f'write_flush_interval = "100ms"\n{daemon}\n\n[alerts]\n{alerts}\n{channels}\n{body}',
        encoding="utf-8",
    )
    return path


def webhook(cid: str, url: str) -> str:
    return f'\n[[alert_channel]]\nid = "{cid}"\ntype = "webhook"\nurl = "{url}"\n'


async def until(what: Callable[[], bool | Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if not isinstance(got, bool):
            got = await got
        if got:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


def events(r: Receiver) -> list[dict[str, Any]]:
    return [json.loads(q.body) for q in r.requests]


async def test_webhook_gets_the_down_and_the_recovery(tmp_path: Path) -> None:
    sw = Switch()
    async with sw.target, Receiver() as rx:
        cfg = write_config(tmp_path, {"api": sw.url}, webhook("ops", rx.url("/hook")))
        d = await Slamond(cfg, tmp_path / "log", socket=tmp_path / "s.sock").start()
        try:
            await until(lambda: _status_is(d, "api", "operational"))
            sw.up = False
            await until(lambda: any(e["event"] == "down" for e in events(rx)))
            (down,) = events(rx)
            assert down["action"] == "trigger" and down["services"][0]["id"] == "api"
            assert down["channel"] == "ops" and down["title"].startswith("api")
            listed = (await d.call("alert.list"))["result"]
            assert [a["service_id"] for a in listed["alerts"] if a["open"]] == ["api"]
            sw.up = True
            await until(lambda: any(e["event"] == "recovery" for e in events(rx)))
            rec = events(rx)[-1]
            assert rec["action"] == "resolve" and rec["dedup_key"] == down["dedup_key"]
            log = (await d.call("alert.deliveries"))["result"]["deliveries"]
            assert all(x["ok"] and x["code"] == 200 for x in log) and len(log) == 2
        finally:
            assert await d.stop() == 0
    assert len(events(rx)) == 2  # nothing more, nothing twice


async def _status_is(d: Slamond, sid: str, status: str) -> bool:
    reply = await d.call("status.get")
    services = reply.get("result", {}).get("services", [])
    return any(s["id"] == sid and s["status"] == status for s in services)


async def test_fifty_services_down_at_once_make_one_message_per_channel(tmp_path: Path) -> None:
    sw = Switch()
    async with sw.target, Receiver() as a, Receiver() as b:
        services = {f"s{i:02d}": sw.url for i in range(50)}
        channels = webhook("one", a.url("/a")) + webhook("two", b.url("/b"))
        # 50 checks a second and a 20 s window: on a loaded CI machine (three test workers on
        # two cores) every service still confirms inside the window the first one opens.
        cfg = write_config(
            tmp_path,
            services,
            channels,
            alerts=NO_SLO + 'grouping_window = "20s"\nretry_base = "300ms"',
            interval="1s",
        )
        d = await Slamond(cfg, tmp_path / "log", socket=tmp_path / "s.sock").start()
        try:
            await until(lambda: _status_is(d, "s49", "operational"))
            sw.up = False
            await until(lambda: bool(a.requests) and bool(b.requests), 60)
            await asyncio.sleep(3)  # anything else would come now
            for rx in (a, b):
                (msg,) = events(rx)
                assert msg["event"] == "down" and len(msg["services"]) == 50
                assert msg["title"].startswith("50 services down")
        finally:
            await d.stop()


async def test_a_receiver_answering_500_gets_the_message_again(tmp_path: Path) -> None:
    sw = Switch()
    async with sw.target, Receiver() as rx:
        rx.queue(answer(500, "boom"), answer(500, "boom"))
        cfg = write_config(tmp_path, {"api": sw.url}, webhook("ops", rx.url("/hook")))
        d = await Slamond(cfg, tmp_path / "log", socket=tmp_path / "s.sock").start()
        try:
            await until(lambda: _status_is(d, "api", "operational"))
            sw.up = False
            await until(lambda: len(rx.requests) >= 3)
            first, second, third = events(rx)[:3]
            keys = [(e.get("event"), e.get("key")) for e in events(rx)]
            assert first["key"] == second["key"] == third["key"], keys  # the same notification
            log: list[dict[str, Any]] = []

            async def recorded() -> bool:  # the receiver answers before the daemon records
                nonlocal log  # the attempt, then marks the message delivered (two writes)
                log = (await d.call("alert.deliveries"))["result"]["deliveries"]
                return len(log) >= 3 and log[-1]["status"] != "pending"

            await until(recorded)
            assert [x["code"] for x in log] == [500, 500, 200], log  # failures first
            assert log[0]["answer"] == "boom" and log[-1]["status"] == "delivered"
        finally:
            await d.stop()


async def test_sigkill_between_enqueue_and_delivery_delivers_once_after_restart(
    tmp_path: Path,
) -> None:
    sw = Switch()
    async with sw.target, Receiver() as rx:
        # Nothing delivered before the kill: one refusal, then the next attempt hangs, so the
        # kill lands mid-send with the item leased (for 5 minutes) to the killed process.
        rx.queue(answer(503, "not yet"))
        rx.default = hang_answer()
        cfg = write_config(
            tmp_path,
            {"api": sw.url},
            webhook("ops", rx.url("/hook")),
            alerts=NO_SLO + 'grouping_window = "1s"\nretry_base = "300ms"\nretry_max = "500ms"',
        )
        d = Slamond(cfg, tmp_path / "log", socket=tmp_path / "s.sock")
        await d.start()
        await until(lambda: _status_is(d, "api", "operational"))
        sw.up = False
        await until(lambda: len(rx.requests) >= 2)  # enqueued, tried, being tried again
        d.signal(signal.SIGKILL)
        assert d.proc is not None
        await d.proc.wait()
        tried = len(rx.requests)
        rx.default = answer(200, "ok")
        d2 = await Slamond(cfg, tmp_path / "log", socket=tmp_path / "s.sock").start()
        try:
            # Sent again at once: the new process ends the dead one's lease.
            await until(lambda: len(rx.requests) > tried)
            await asyncio.sleep(2)  # a second delivery would come now
            assert len(rx.requests) == tried + 1
            keys = {e["key"] for e in events(rx)}
            assert len(keys) == 1  # the same notification throughout: nothing re-fired
            log = (await d2.call("alert.deliveries"))["result"]["deliveries"]
            assert [x["ok"] for x in log].count(True) == 1
        finally:
            await d2.stop()


async def test_email_through_a_local_smtp_server_with_starttls(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    from slamon_daemon.targets import free_port
    from tests.daemon.alerts.test_email import (
        PASSWORD,
        Mailbox,
        _server_ctx,
        authenticator,
        self_signed,
    )

    pki = self_signed(tmp_path)
    mailbox = Mailbox()
    port = free_port()
    smtp = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=_server_ctx(pki),
        require_starttls=True,
        authenticator=authenticator(mailbox),
        auth_require_tls=True,
    )
    smtp.start()
    sw = Switch()
    try:
        async with sw.target:
            channel = (
                '\n[[alert_channel]]\nid = "mail"\ntype = "email"\nhost = "127.0.0.1"\n'
                f'port = {port}\nusername = "slamon"\npassword = "{PASSWORD}"\n'
                f'ca_file = "{pki[0]}"\nsender = "slamon@example.com"\nto = ["oncall@example.com"]\n'
            )
            cfg = write_config(tmp_path, {"api": sw.url}, channel)
            d = await Slamond(cfg, tmp_path / "log", socket=tmp_path / "s.sock").start()
            try:
                await until(lambda: _status_is(d, "api", "operational"))
                sw.up = False
                await until(lambda: len(mailbox.messages) >= 1)
                sw.up = True
                await until(lambda: len(mailbox.messages) >= 2)
                down, up = mailbox.messages[:2]
                assert "api" in str(down["Subject"]) and mailbox.tls_sessions[:2] == [True, True]
                assert down["To"] == "oncall@example.com" and up["References"]
                channels = (await d.call("alert.channels"))["result"]
                assert channels[0]["password"] == "***"
            finally:
                await d.stop()
            assert PASSWORD not in d.log_text()
    finally:
        smtp.stop()


def slamon(config: Path, *args: str) -> tuple[int, str, str]:
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from slamon_tui.cli import main; sys.exit(main())",
            "--config",
            str(config),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stdout, proc.stderr


async def test_the_alert_cli(tmp_path: Path) -> None:
    sw = Switch()
    async with sw.target, Receiver() as rx:
        cfg = write_config(
            tmp_path,
            {"api": sw.url},
            webhook("ops", rx.url("/hook/SECRET")),
            daemon="owner_is_admin = true",
            alerts='grouping_window = "1s"\nslo_alerts = false',
        )
        d = await Slamond(cfg, tmp_path / "log", socket=tmp_path / "s.sock").start()
        try:
            rx.queue(answer(418, "I am a teapot"))
            code, out, _ = await asyncio.to_thread(slamon, cfg, "alert", "test", "ops")
            assert code == 1 and "NOT delivered (code 418" in out and "I am a teapot" in out
            code, out, _ = await asyncio.to_thread(slamon, cfg, "alert", "test", "ops")
            assert code == 0 and "ops: delivered (code 200" in out
            assert events(rx)[-1]["event"] == "test"
            await until(lambda: _status_is(d, "api", "operational"))
            sw.up = False
            await until(lambda: any(e["event"] == "down" for e in events(rx)))
            code, out, _ = await asyncio.to_thread(slamon, cfg, "alert", "list")
            assert code == 0 and "Firing alerts: 1" in out and "SECRET" not in out
            alert_id = out.split("id: ", 1)[1].splitlines()[0].strip()
            code, out, _ = await asyncio.to_thread(slamon, cfg, "alert", "ack", alert_id)
            assert code == 0 and "acknowledged" in out and "uid:" in out
            code, out, _ = await asyncio.to_thread(
                slamon,
                cfg,
                "alert",
                "silence",
                "--service",
                "api",
                "--reason",
                "deploy",
                "--for",
                "2h",
            )
            assert code == 0 and out.startswith("silence 1 until")
            code, out, _ = await asyncio.to_thread(slamon, cfg, "alert", "list")
            assert "acked by uid:" in out and "Silences: 1" in out and "deploy" in out
            code, out, _ = await asyncio.to_thread(slamon, cfg, "alert", "unsilence", "1")
            assert code == 0 and "ended" in out
            code, out, _ = await asyncio.to_thread(slamon, cfg, "alert", "deliveries")
            assert code == 0 and "ok " in out and "down" in out
            code, _, err = await asyncio.to_thread(slamon, cfg, "alert", "ack", "nope")
            assert code == 1 and "no open alert" in err
        finally:
            await d.stop()


async def test_a_reload_applies_new_channels_and_refuses_bad_ones(tmp_path: Path) -> None:
    sw = Switch()
    async with sw.target, Receiver() as rx:
        one = webhook("one", rx.url("/1"))
        cfg = write_config(tmp_path, {"api": sw.url}, one, daemon="owner_is_admin = true")
        d = await Slamond(cfg, tmp_path / "log", socket=tmp_path / "s.sock").start()
        try:
            await until(lambda: _channel_ids(d, ["one"]))
            write_config(
                tmp_path,
                {"api": sw.url},
                one + webhook("two", rx.url("/2")),
                daemon="owner_is_admin = true",
            )
            reply = (await d.call("daemon.reload"))["result"]
            assert reply["ok"] and any("alerts: 2 channels" in c for c in reply["changes"])
            assert await _channel_ids(d, ["one", "two"])
            bad = one.replace('type = "webhook"', 'type = "slak"')
            write_config(tmp_path, {"api": sw.url}, bad, daemon="owner_is_admin = true")
            reply = (await d.call("daemon.reload"))["result"]
            assert not reply["ok"]
            assert any("unknown channel type 'slak'" in p for p in reply["problems"])
            assert await _channel_ids(d, ["one", "two"])  # nothing changed
        finally:
            await d.stop()


async def _channel_ids(d: Slamond, ids: list[str]) -> bool:
    reply = await d.call("alert.channels")
    return [c["id"] for c in reply.get("result", [])] == ids


async def test_incidents_are_announced_created_updated_resolved(tmp_path: Path) -> None:
    sw = Switch()
    async with sw.target, Receiver() as rx:
        cfg = write_config(
            tmp_path,
            {"api": sw.url},
            webhook("ops", rx.url("/hook")),
            daemon="owner_is_admin = true",
        )
        d = await Slamond(cfg, tmp_path / "log", socket=tmp_path / "s.sock").start()
        try:
            new = {
                "title": "Checkout slow",
                "severity": "high",
                "priority": "P2",
                "services": ["api"],
            }
            inc = (await d.call("incident.create", {**new, "message": "Looking"}))["result"]
            await until(lambda: [e["event"] for e in events(rx)] == ["incident_created"])
            hidden = {"id": inc["id"], "message": "internal note", "customer_visible": False}
            assert "result" in await d.call("incident.add_update", hidden)
            shown = await d.call("incident.add_update", {"id": inc["id"], "message": "Fixing"})
            await until(lambda: len(events(rx)) >= 2)
            done = {"id": inc["id"], "version": shown["result"]["version"], "root_cause": "db"}
            assert "result" in await d.call("incident.resolve", done)
            await until(lambda: len(events(rx)) >= 3)
            kinds = [(e["event"], e["action"]) for e in events(rx)]
            assert kinds == [
                ("incident_created", "trigger"),
                ("incident_updated", "info"),  # the customer-visible update only
                ("incident_resolved", "resolve"),
            ]
            assert events(rx)[1]["incident"]["message"] == "Fixing"
            assert events(rx)[0]["severity"] == "critical"  # high -> critical
        finally:
            await d.stop()
