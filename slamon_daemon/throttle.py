"""Login throttling that cannot be raced or aimed (SPEC §3.10, issue 10).

* **Counted before the password is checked.** ``begin`` records the attempt as a failure at
  once, synchronously, before the (slow, off-loop) argon2 check; a success takes it back.
  So 40 parallel attempts get at most ``FREE_FAILURES`` real checks, never 44.
* **Per (username, client)**, the client being who connects (the feed: the peer's Unix
  uid). After ``FREE_FAILURES`` failures the pair is locked for ``FIRST_LOCK_S``, doubling
  with every further failure up to ``MAX_LOCK_S``; attempts refused while locked do not
  count. The failures of a pair are forgotten ``FORGET_S`` after its last one, or at its
  next success. So a mistyping NOC screen locks only itself out of that account, and nobody
  can lock someone else out: every other client, and this client for every other user,
  logs in with the right password.
* **A client spraying usernames** (``CLIENT_CEILING`` failures over all usernames within
  ``FORGET_S``) is locked like a pair, for all usernames.
* **A global ceiling**: past ``GLOBAL_CEILING`` failures a minute on the whole daemon (a
  storm from many clients), only clients without a recent failure may try.
* **Counts survive a restart**: every change of a pair is written to the store
  (``login_failures``, migration 0008) and read back at start; the client and global counts
  are derived from the pairs.

Times are wall-clock seconds (they are stored and compared across restarts).
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass

from .errors import RateLimited

FREE_FAILURES = 5
"""Failures of one (username, client) before it is locked (SPEC: 5 per 15 minutes)."""
FIRST_LOCK_S = 30.0
"""The first lock; each further failure doubles it."""
MAX_LOCK_S = 15 * 60.0
"""The longest lock."""
FORGET_S = 15 * 60.0
"""A pair's failures are forgotten this long after its last one."""
CLIENT_CEILING = 20
"""Failures from one client over all usernames (within FORGET_S) that lock the client."""
GLOBAL_CEILING = 100
"""Failures a minute on the whole daemon past which only clients with none may try."""
GLOBAL_WINDOW_S = 60.0
MAX_PAIRS = 50_000
"""Pairs kept at most (the oldest are forgotten first): random usernames cannot fill memory."""


@dataclass(slots=True)
class Failures:
    """The failed logins of one (username, client)."""

    username: str
    client: str
    count: int = 0
    last_at: float = 0.0
    locked_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """A login attempt under way; ``before`` is the pair as it was (None: no failures)."""

    key: tuple[str, str]
    before: Failures | None


def lock_for(count: int) -> float:
    """How long a pair with ``count`` failures is locked (0 below FREE_FAILURES)."""
    if count < FREE_FAILURES:
        return 0.0
    return float(min(MAX_LOCK_S, FIRST_LOCK_S * 2.0 ** min(count - FREE_FAILURES, 20)))


class LoginThrottle:
    """The failed logins by (username, client), in memory; the store keeps a copy."""

    def __init__(self) -> None:
        self.pairs: dict[tuple[str, str], Failures] = {}
        self._recent: deque[tuple[float, str]] = deque()  # (when, client) of failures

    def load(self, rows: list[Failures], now: float) -> None:
        """The pairs read from the store at start (those not yet forgotten)."""
        for f in rows:
            if now - f.last_at < FORGET_S:
                self.pairs[(f.username, f.client)] = f

    def begin(self, username: str, client: str, now: float) -> tuple[Attempt, Failures]:
        """Let an attempt go ahead, counted as a failure until ``succeeded``.

        Returns:
            The attempt and the pair as counted now (to be stored).
        Raises:
            RateLimited: the pair or the client is locked, or the daemon is in a storm and
                this client failed recently.
        """
        self._forget(now)
        key = (username.lower(), client)
        pair = self.pairs.get(key)
        if pair is not None and pair.locked_until > now:
            raise _limited(pair.locked_until - now)
        client_pairs = [p for p in self.pairs.values() if p.client == client]
        if sum(p.count for p in client_pairs) >= CLIENT_CEILING:
            until = max(p.last_at for p in client_pairs) + FORGET_S
            raise _limited(until - now, "from this client")
        if len(self._recent) >= GLOBAL_CEILING and client_pairs:
            raise _limited(self._recent[0][0] + GLOBAL_WINDOW_S - now, "on this daemon")
        before = None if pair is None else dataclasses.replace(pair)
        if pair is None:
            pair = self.pairs[key] = Failures(key[0], client)
            self._bound()
        pair.count += 1
        pair.last_at = now
        pair.locked_until = now + lock_for(pair.count)
        self._recent.append((now, client))
        return Attempt(key, before), dataclasses.replace(pair)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the pair's failures are forgotten."""
        self.pairs.pop(attempt.key, None)
        self._drop_recent(attempt.key[1])

    def cancel(self, attempt: Attempt) -> None:
        """The password could not be checked (the database failed): not counted."""
        if attempt.before is None:
            self.pairs.pop(attempt.key, None)
        else:
            self.pairs[attempt.key] = attempt.before
        self._drop_recent(attempt.key[1])

    def _drop_recent(self, client: str) -> None:
        for i in range(len(self._recent) - 1, -1, -1):
            if self._recent[i][1] == client:
                del self._recent[i]
                return

    def _forget(self, now: float) -> None:
        while self._recent and self._recent[0][0] <= now - GLOBAL_WINDOW_S:
            self._recent.popleft()
        for key in [k for k, p in self.pairs.items() if now - p.last_at >= FORGET_S]:
            if self.pairs[key].locked_until <= now:
                del self.pairs[key]

    def _bound(self) -> None:
        if len(self.pairs) > MAX_PAIRS:
            oldest = min(self.pairs, key=lambda k: self.pairs[k].last_at)
            del self.pairs[oldest]


def _limited(wait: float, scope: str = "") -> RateLimited:
    seconds = max(1, math.ceil(wait))
    where = f" ({scope})" if scope else ""
    return RateLimited(f"too many failed logins; retry in {seconds} s{where}")
