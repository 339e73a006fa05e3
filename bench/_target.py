"""A fast local HTTP target for the benchmarks when nginx is not installed.

``python bench/_target.py --port N`` serves 200 "ok" on every path of 127.0.0.1:N (one
connection per request, ``Connection: close``) with slamon_daemon.targets, until SIGTERM.
It runs in its own process so that its CPU is never counted as the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from slamon_daemon.targets import Target, respond


async def main(port: int) -> None:
    target = Target(respond(200, b"ok\n"), port=port)
    await target.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await target.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    asyncio.run(main(ap.parse_args().port))
