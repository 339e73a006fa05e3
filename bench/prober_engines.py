"""Prober engines side by side: CPU per check of each HTTP engine and of the blackbox exporter.

    .venv/bin/python bench/prober_engines.py [--seconds 15] [--rounds 3] [--concurrency 50]
        [--engines NAME,NAME...] [--target auto|nginx|python] [--no-blackbox] [--tls]

Against one fast local target (nginx with 1 worker when /usr/sbin/nginx exists, else a small
asyncio server, in its own process), each engine runs in its own process: ``--concurrency``
workers making GET requests back to back, a fresh connection per request (keep-alive off),
the whole body read, for ``--seconds`` after a warm-up. CPU is the engine process's own
(getrusage, all its threads); for the Prometheus blackbox exporter, the exporter's CPU only
(from /proc), driven through /probe by a cheap keep-alive load generator in another process.

Engines (all at the same concurrency, same target, same window):

  httpx-today      httpx 0.28 with its default transport (httpcore/anyio), as the prober was
                   configured before issue 14, asyncio loop
  transport        httpx's API over slamon's ProbeTransport (httptools, asyncio protocols)
  transport-uv     the same on uvloop
  prober-uv        slamon's Prober.check() (ProbeTransport + building the Check), uvloop:
                   what the daemon pays per check before its own work (state, store, feed)
  httpx-aiohttp-uv httpx's API over the httpx-aiohttp transport, uvloop (if installed)
  aiohttp-uv       bare aiohttp, force_close connector, uvloop (if installed; not a
                   dependency of slamon: a yardstick)
  blackbox         Prometheus blackbox exporter (Debian package prometheus-blackbox-exporter)

``--tls``: the target is nginx over TLS (a leaf and an intermediate from a private root made
for the run, no session resumption: every check makes a full handshake), and every engine,
the blackbox exporter included, verifies the chain against that root.

A round runs every engine once; the order is reversed every other round (A B C / C B A) so a
drift of the machine's speed does not favour one engine. The machine is shared: the ratios
to the blackbox exporter within a round are what to read; absolute figures drift. Before
each phase the script waits (at most --quiet-wait s) for the machine to be idle, and it
prints the CPU other processes used in each window.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

ENGINES = [
    "httpx-today",
    "transport",
    "transport-uv",
    "prober-uv",
    "httpx-aiohttp-uv",
    "aiohttp-uv",
    "blackbox",
]

Request = Callable[[str], Awaitable[bool]]

# -- child processes: one engine's loop ---------------------------------------------------


async def _engine(name: str, ca_file: str | None) -> tuple[Request, Callable[[], Awaitable[None]]]:
    """The engine's request function (True when a 200 and its body arrived) and its closer."""
    import ssl

    import httpx

    verify = ssl.create_default_context(cafile=ca_file) if ca_file else None

    if name in ("httpx-today", "transport", "transport-uv", "httpx-aiohttp-uv"):
        kwargs: dict[str, Any] = {}
        if name.startswith("transport"):
            from slamon_daemon.transport import ProbeTransport, client_context

            kwargs["transport"] = ProbeTransport(client_context(ca_file=ca_file))
        elif name == "httpx-aiohttp-uv":
            import aiohttp
            from httpx_aiohttp import AiohttpTransport

            kwargs["transport"] = AiohttpTransport(
                client=lambda: aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(
                        force_close=True, limit=0, ssl=verify if verify else True
                    )
                )
            )
        else:  # the configuration of slamon's prober before issue 14
            kwargs["limits"] = httpx.Limits(max_keepalive_connections=0, max_connections=None)
            if verify is not None:
                kwargs["verify"] = verify
        client = httpx.AsyncClient(
            follow_redirects=False,
            max_redirects=10,
            headers={"User-Agent": "slamon/0.1 (+health check)"},
            trust_env=False,
            **kwargs,
        )
        timeout = httpx.Timeout(5.0)

        async def via_httpx(url: str) -> bool:
            async with client.stream("GET", url, timeout=timeout) as resp:
                async for _ in resp.aiter_bytes():
                    pass
                return resp.status_code == 200

        return via_httpx, client.aclose
    if name == "prober-uv":
        from slamon_daemon.models import Outcome, Service
        from slamon_daemon.probe import Prober

        prober = Prober(node="bench")
        services: dict[str, Service] = {}

        async def via_prober(url: str) -> bool:
            service = services.get(url)
            if service is None:
                service = services[url] = Service(
                    id=url, name=url, url=url, timeout_s=5.0, ca_file=ca_file
                )
            return (await prober.check(service)).outcome is Outcome.UP

        return via_prober, prober.aclose
    if name == "aiohttp-uv":
        import aiohttp

        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True, limit=0, ssl=verify or True),
            timeout=aiohttp.ClientTimeout(total=5.0),
        )

        async def via_aiohttp(url: str) -> bool:
            async with session.get(url, allow_redirects=False) as resp:
                await resp.read()
                return resp.status == 200

        return via_aiohttp, session.close
    raise SystemExit(f"unknown engine {name!r}")


async def _engine_loop(
    name: str, url: str, conc: int, warmup: float, seconds: float, ca_file: str | None
) -> None:
    request, close = await _engine(name, ca_file)
    state = {"count": 0, "errors": 0, "counting": False, "stop": False}

    async def worker(i: int) -> None:
        u = f"{url}e/{i}"
        while not state["stop"]:
            try:
                ok = await request(u)
            except Exception:
                ok = False
            if state["counting"]:
                state["count" if ok else "errors"] += 1

    tasks = [asyncio.create_task(worker(i)) for i in range(conc)]
    await asyncio.sleep(warmup)
    print("START", flush=True)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    state["counting"] = True
    await asyncio.sleep(seconds)
    state["counting"] = False
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    state["stop"] = True
    await asyncio.gather(*tasks, return_exceptions=True)
    await close()
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    result = {"requests": state["count"], "errors": state["errors"], "seconds": t1 - t0}
    result["cpu_s"] = cpu
    result["loop"] = type(asyncio.get_running_loop()).__module__
    print("RESULT " + json.dumps(result), flush=True)


def _child(
    name: str, url: str, conc: int, warmup: float, seconds: float, ca_file: str | None
) -> None:
    main = _engine_loop(name, url, conc, warmup, seconds, ca_file)
    if name.endswith("-uv"):
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main)
    else:
        asyncio.run(main)


def _available(name: str) -> str | None:
    """None when the engine can run here, else why not."""
    needs = {
        "transport-uv": ["uvloop"],
        "prober-uv": ["uvloop"],
        "httpx-aiohttp-uv": ["uvloop", "aiohttp", "httpx_aiohttp"],
        "aiohttp-uv": ["uvloop", "aiohttp"],
    }.get(name, [])
    import importlib.util

    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing:
        return f"{', '.join(missing)} not installed (.venv/bin/pip install {' '.join(missing)})"
    if name == "blackbox" and C.BLACKBOX is None:
        return "not installed (apt-get install -y prometheus-blackbox-exporter)"
    return None


# -- the parent: phases and rounds --------------------------------------------------------


def _run_child(argv: list[str], mark: Callable[[], Any], timeout: float) -> dict[str, Any]:
    """Run a child mode of this script; ``mark()`` at its START and RESULT lines."""
    proc = subprocess.Popen(
        [C.PYTHON, __file__, *argv], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None
    result: dict[str, Any] = {}
    start: Any = None
    end = time.monotonic() + timeout
    for line in proc.stdout:
        if line.startswith("START"):
            start = mark()
        elif line.startswith("RESULT "):
            result = json.loads(line[7:])
            result["start_mark"], result["end_mark"] = start, mark()
        if time.monotonic() > end:
            proc.kill()
            break
    proc.wait(30)
    if not result:
        raise RuntimeError(f"child {argv[:2]} gave no result (exit {proc.returncode})")
    return result


def run_engine(
    name: str, target: C.TargetProc, conc: int, warmup: float, seconds: float, ca: str | None
) -> dict[str, Any]:
    argv = ["--child", name, "--url", target.url, "--concurrency", str(conc)]
    argv += ["--warmup", str(warmup), "--seconds", str(seconds)]
    argv += ["--ca-file", ca] if ca else []
    res = _run_child(argv, lambda: (target.cpu(), C.busy_seconds()), warmup + seconds + 120)
    (tg0, b0), (tg1, b1) = res["start_mark"], res["end_mark"]
    res["target_cpu"] = tg1 - tg0
    res["other_cpu"] = max(0.0, (b1 - b0) - res["cpu_s"] - res["target_cpu"])
    res["rate"] = res["requests"] / res["seconds"]
    res["cpu_per"] = res["cpu_s"] / max(1, res["requests"])
    return res


BLACKBOX_YML = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
"""
BLACKBOX_TLS = """\
      tls_config:
        ca_file: {ca}
"""


class TlsTarget(C.TargetProc):
    """nginx over TLS (see ``start_tls_target``)."""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/"


NGINX_TLS_CONF = """\
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 16384; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_timeout 0;
    ssl_session_cache off;
    ssl_session_tickets off;
    server {{
        listen 127.0.0.1:{port} ssl backlog=8192 reuseport;
        ssl_certificate {d}/chain.pem;
        ssl_certificate_key {d}/leaf.key;
        location / {{ default_type text/plain; return 200 "ok\\n"; }}
    }}
}}
"""


def start_tls_target() -> tuple[TlsTarget, str]:
    """nginx (1 worker) over TLS with a private root -> intermediate -> leaf; (target, root)."""
    import datetime as dt
    import ipaddress
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    d = Path(tempfile.mkdtemp(prefix="slamon-bench-nginx-tls-"))
    os.chmod(d, 0o755)
    now = dt.datetime.now(dt.UTC)
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    names = [
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, n)])
        for n in ("bench root", "bench intermediate", "127.0.0.1")
    ]
    certs: list[x509.Certificate] = []
    for i in range(3):
        b = (
            x509.CertificateBuilder()
            .subject_name(names[i])
            .issuer_name(names[max(0, i - 1)])
            .public_key(keys[i].public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=i < 2, path_length=None), critical=True)
        )
        if i == 2:
            b = b.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        certs.append(b.sign(keys[max(0, i - 1)], hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (d / "root.pem").write_bytes(certs[0].public_bytes(pem))
    (d / "chain.pem").write_bytes(certs[2].public_bytes(pem) + certs[1].public_bytes(pem))
    (d / "leaf.key").write_bytes(
        keys[2].private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    port = C.free_port()
    conf = d / "nginx.conf"
    conf.write_text(NGINX_TLS_CONF.format(d=d, port=port), encoding="utf-8")
    proc = subprocess.Popen(
        [C.NGINX, "-p", str(d), "-e", str(d / "error.log"), "-c", str(conf)],
        stdin=subprocess.DEVNULL,
    )
    t = TlsTarget("nginx-tls", port, proc, d)
    try:
        C.wait_port(port)
    except RuntimeError:
        t.stop()
        raise
    return t, str(d / "root.pem")


async def _blackbox_load(
    bb_port: int, target: str, conc: int, warmup: float, seconds: float
) -> None:
    req = (
        f"GET /probe?module=http_2xx&target={quote(target, safe='')} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{bb_port}\r\n\r\n"
    ).encode()
    state = {"count": 0, "failed": 0, "counting": False, "stop": False}

    async def read_answer(r: asyncio.StreamReader) -> bytes:
        head = await r.readuntil(b"\r\n\r\n")
        length = 0
        chunked = False
        for line in head.decode("latin-1").split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v)
            elif k.strip().lower() == "transfer-encoding" and "chunked" in v.lower():
                chunked = True
        if not chunked:
            return await r.readexactly(length)
        body = bytearray()
        while True:
            size = int((await r.readline()).strip().split(b";")[0], 16)
            if size == 0:
                await r.readline()
                return bytes(body)
            body += await r.readexactly(size)
            await r.readexactly(2)

    async def worker() -> None:
        r, w = await asyncio.open_connection("127.0.0.1", bb_port)
        try:
            while not state["stop"]:
                w.write(req)
                body = await read_answer(r)
                if state["counting"]:
                    ok = b"\nprobe_success 1" in body
                    state["count" if ok else "failed"] += 1
        finally:
            w.close()

    tasks = [asyncio.create_task(worker()) for _ in range(conc)]
    await asyncio.sleep(warmup)
    print("START", flush=True)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    state["counting"] = True
    await asyncio.sleep(seconds)
    state["counting"] = False
    t1 = time.perf_counter()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    state["stop"] = True
    await asyncio.gather(*tasks, return_exceptions=True)
    gen = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    result = {"probes": state["count"], "failed": state["failed"], "seconds": t1 - t0}
    result["gen_cpu_s"] = gen
    print("RESULT " + json.dumps(result), flush=True)


def run_blackbox(
    target: C.TargetProc, conc: int, warmup: float, seconds: float, ca: str | None
) -> dict[str, Any]:
    assert C.BLACKBOX is not None
    d = Path(tempfile.mkdtemp(prefix="slamon-bench-bb-"))
    yml = BLACKBOX_YML + (BLACKBOX_TLS.format(ca=ca) if ca else "")
    (d / "blackbox.yml").write_text(yml, encoding="utf-8")
    port = C.free_port()
    with open(d / "bb.log", "wb") as log:
        proc = subprocess.Popen(
            [
                C.BLACKBOX,
                f"--config.file={d / 'blackbox.yml'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        C.wait_port(port)

        def mark() -> tuple[float, float, float]:
            return C.cpu_seconds(proc.pid), target.cpu(), C.busy_seconds()

        argv = ["--child", "bbload", "--bb-port", str(port), "--url", f"{target.url}bb"]
        argv += ["--concurrency", str(conc), "--warmup", str(warmup), "--seconds", str(seconds)]
        res = _run_child(argv, mark, warmup + seconds + 120)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)
    (bb0, tg0, b0), (bb1, tg1, b1) = res["start_mark"], res["end_mark"]
    res["cpu_s"] = bb1 - bb0
    res["target_cpu"] = tg1 - tg0
    res["other_cpu"] = max(0.0, (b1 - b0) - res["cpu_s"] - res["target_cpu"] - res["gen_cpu_s"])
    res["requests"], res["errors"] = res["probes"], res["failed"]
    res["rate"] = res["probes"] / res["seconds"]
    res["cpu_per"] = res["cpu_s"] / max(1, res["probes"])
    return res


def loadavg() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        return f.read().strip()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=15.0, help="measured window (15)")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before each window (3)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every engine (3)")
    ap.add_argument("--concurrency", type=int, default=50, help="requests in flight (50)")
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset")
    ap.add_argument("--target", choices=["auto", "nginx", "python"], default="auto")
    ap.add_argument("--no-blackbox", action="store_true", help="skip the blackbox exporter")
    ap.add_argument("--tls", action="store_true", help="nginx over TLS, chains verified")
    ap.add_argument(
        "--quiet-wait", type=float, default=60.0, help="max seconds to wait for an idle machine"
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--bb-port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--ca-file", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child == "bbload":
        asyncio.run(
            _blackbox_load(args.bb_port, args.url, args.concurrency, args.warmup, args.seconds)
        )
        return 0
    if args.child:
        _child(args.child, args.url, args.concurrency, args.warmup, args.seconds, args.ca_file)
        return 0

    wanted = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.no_blackbox:
        wanted = [e for e in wanted if e != "blackbox"]
    engines: list[str] = []
    print("== prober engines ==")
    C.print_machine()
    print(f"loadavg at start: {loadavg()}")
    for name in wanted:
        why = _available(name)
        if why:
            print(f"[{name}] skipped: {why}")
        else:
            engines.append(name)
    ca: str | None = None
    if args.tls:
        target, ca = start_tls_target()
    else:
        target = C.start_target(args.target)
    print(
        f"target: {target.kind} on {target.url} (own process); concurrency {args.concurrency}; "
        f"each window {args.seconds:g} s after {args.warmup:g} s warm-up; {args.rounds} "
        f"round(s), order reversed every other round"
    )
    results: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    try:
        for rnd in range(args.rounds):
            order = engines if rnd % 2 == 0 else engines[::-1]
            print(f"\n--- round {rnd + 1}/{args.rounds}: {' '.join(order)} ---", flush=True)
            for name in order:
                C.wait_quiet(max_wait=args.quiet_wait)
                st0 = C.steal_seconds()
                if name == "blackbox":
                    r = run_blackbox(target, args.concurrency, args.warmup, args.seconds, ca)
                    extra = f"; load generator {r['gen_cpu_s']:.1f} CPU-s"
                else:
                    r = run_engine(name, target, args.concurrency, args.warmup, args.seconds, ca)
                    extra = f"; loop {r['loop']}"
                r["round"] = rnd
                results[name].append(r)
                print(
                    f"[{name:16}] {r['rate']:7,.0f} req/s, {r['errors']} errors; CPU "
                    f"{r['cpu_s']:5.1f} s = {C.fmt_us(r['cpu_per']):>8}/request "
                    f"({100 * r['cpu_s'] / r['seconds']:3.0f} % of a core); target "
                    f"{r['target_cpu']:.1f} s; other processes {r['other_cpu']:.1f} CPU-s; "
                    f"steal {C.steal_seconds() - st0:.1f} s{extra}",
                    flush=True,
                )
    finally:
        target.stop()

    print(f"\nloadavg at end: {loadavg()}")
    bb = results.get("blackbox", [])
    bb_by_round = {r["round"]: r["cpu_per"] for r in bb}
    base = results.get("httpx-today", [])
    base_by_round = {r["round"]: r["cpu_per"] for r in base}
    print("\nsummary: medians over the rounds; ratios are taken within each round, then the median")
    print(f"| {'engine':16} | req/s | CPU per request | ÷ blackbox (per round) | ÷ httpx-today |")
    print("|---|---|---|---|---|")
    for name in engines:
        rs = results[name]
        cpu = C.median([r["cpu_per"] for r in rs])
        rate = C.median([r["rate"] for r in rs])
        to_bb = [r["cpu_per"] / bb_by_round[r["round"]] for r in rs if r["round"] in bb_by_round]
        to_base = [
            r["cpu_per"] / base_by_round[r["round"]] for r in rs if r["round"] in base_by_round
        ]
        bb_text = (
            f"{C.median(to_bb):.2f} ({', '.join(f'{x:.2f}' for x in to_bb)})" if to_bb else "-"
        )
        base_text = f"{C.median(to_base):.2f}" if to_base else "-"
        print(f"| {name:16} | {rate:,.0f} | {C.fmt_us(cpu)} | {bb_text} | {base_text} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
