"""Real local receivers for alert channels: HTTP servers on 127.0.0.1 that record requests.

A ``Receiver`` answers each request with the next queued answer (default 200 "ok") and keeps
every request (method, path with query, lower-cased headers, body) for the test to check
against the vendor's documented payload shape.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from slamon_daemon.targets import Request, Target, response_bytes

Answer = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


def answer(
    status: int = 200, body: bytes | str = b"ok", headers: dict[str, str] | None = None
) -> Answer:
    data = body.encode() if isinstance(body, str) else body

    async def reply(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(response_bytes(status, data, headers))

    return reply


def hang_answer() -> Answer:
    async def reply(req: Request, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    return reply


class Receiver:
    """An HTTP receiver that records what it was sent."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.answers: deque[Answer] = deque()
        self.default: Answer = answer(200, b"ok")
        self.target = Target(self._behaviour)

    async def _behaviour(self, req: Request, w: asyncio.StreamWriter) -> None:
        self.requests.append(req)
        reply = self.answers.popleft() if self.answers else self.default
        await reply(req, w)

    def queue(self, *answers: Answer) -> None:
        self.answers.extend(answers)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.target.port}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    @property
    def last(self) -> Request:
        assert self.requests, "the receiver got no request"
        return self.requests[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.body)

    def last_query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.last.path).query)

    def last_path(self) -> str:
        return urlsplit(self.last.path).path

    async def __aenter__(self) -> Receiver:
        await self.target.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.target.stop()
