"""Cookies that live for one check: kept across its redirects, never carried to the next.

An httpx client keeps the cookies of every answer and sends them with every later request to
the same site. The prober shares one client among many checks, so without this a check would
measure what a returning visitor meets, and a session cookie would pass from one check to
the next. The Prometheus blackbox exporter gives each probe a jar of its own; here the
client's jar (``CheckCookieJar``) stands for the jar of the check running in the current
context (asyncio task), opened with ``check_cookies``. A check that does not follow
redirects sends a single request and gets no jar: its answers' cookies are dropped unread,
which also spares httpx parsing them (about a sixth of its CPU per request).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextvars import ContextVar, Token
from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpx

_current: ContextVar[CookieJar | None] = ContextVar("slamon_check_cookies", default=None)


class check_cookies:  # noqa: N801 - used as a function: ``with check_cookies(keep):``
    """Give the check run inside a jar of its own (``keep``) or none at all.

    A class, not a generator: it is entered at every check; and a check without a jar in a
    context that has none (a scheduler worker's, between checks) changes nothing."""

    __slots__ = ("_jar", "_token")

    def __init__(self, keep: bool) -> None:
        self._jar = CookieJar() if keep else None
        self._token: Token[CookieJar | None] | None = None

    def __enter__(self) -> None:
        if self._jar is not None or _current.get() is not None:
            self._token = _current.set(self._jar)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)


class CheckCookieJar(CookieJar):
    """A client's jar that holds the current check's cookies, or nothing outside a check."""

    def extract_cookies(self, response: Any, request: urllib.request.Request) -> None:
        jar = _current.get()
        if jar is not None:
            jar.extract_cookies(response, request)

    def add_cookie_header(self, request: urllib.request.Request) -> None:
        jar = _current.get()
        if jar is not None:
            jar.add_cookie_header(request)

    def set_cookie(self, cookie: Cookie) -> None:
        jar = _current.get()
        if jar is not None:
            jar.set_cookie(cookie)

    def clear(
        self, domain: str | None = None, path: str | None = None, name: str | None = None
    ) -> None:
        jar = _current.get()
        if jar is not None:
            jar.clear(domain, path, name)

    def __iter__(self) -> Iterator[Cookie]:
        jar = _current.get()
        return iter(jar) if jar is not None else iter(())

    def __len__(self) -> int:
        jar = _current.get()
        return len(jar) if jar is not None else 0


class _CheckCookies(httpx.Cookies):
    """httpx's cookies of a client, reading an answer's cookies only inside a check with a
    jar: httpx wraps every answer and its request for http.cookiejar first (~40 µs of CPU a
    check, 5 % of the daemon's), to find nothing to keep when no jar is open."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if _current.get() is not None:
            super().extract_cookies(response)


def scope_cookies(client: httpx.AsyncClient) -> None:
    """Give ``client`` a ``CheckCookieJar``: its cookies live in the current check only."""
    client._cookies = _CheckCookies(CheckCookieJar())  # httpx has no public way to subclass
