"""A real ``slamond`` with ``[http]`` on, run from synchronous tests (module-scoped fixtures,
selenium): a child process, a target HTTP server in a thread, the feed socket for setup.

``HttpDaemon.start()`` waits for the log line ``HTTP listening on HOST:PORT`` (the config
asks for port 0) and ``base`` is the server's URL.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .slamond import ROOT


class TargetServer:
    """A target answering 200 "ok" on 127.0.0.1 (any path), in a thread."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = b"ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class HttpDaemon:
    """slamond in a child process with the given config text."""

    def __init__(self, folder: Path, config: str) -> None:
        self.folder = folder
        self.config = folder / "slamon.toml"
        self.config.write_text(config, encoding="utf-8")
        self.log = folder / "slamond.log"
        self.socket = folder / "s.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""

    def start(self, timeout: float = 30.0) -> HttpDaemon:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("LOG_LEVEL", None)
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "slamon_daemon", "--config", str(self.config)],
                stdout=logf,
                stderr=logf,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"slamond exited {self.proc.returncode}:\n{self.log_text()}")
            m = re.search(r"HTTP listening on (\S+):(\d+)", self.log_text())
            if m and self.socket.exists():
                self.base = f"http://{m.group(1)}:{m.group(2)}"
                return self
            time.sleep(0.1)
        raise AssertionError(f"slamond did not serve HTTP within {timeout} s:\n{self.log_text()}")

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def log_text(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """One feed request over the Unix socket (as the daemon's owner); the reply frame."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(str(self.socket))
            f = s.makefile("rwb")
            f.readline()  # hello
            f.write(
                json.dumps({"id": 1, "method": method, "params": params or {}}).encode() + b"\n"
            )
            f.flush()
            while True:
                frame: dict[str, Any] = json.loads(f.readline())
                if "event" not in frame:
                    return frame


def wait_until(pred: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
