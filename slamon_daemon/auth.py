"""Users, passwords, tokens, roles and login throttling (SPEC §3.10).

* Passwords are hashed with argon2id (argon2-cffi's defaults); there is no built-in password.
* ``auth.login`` returns a JWT access token (HS256, 12 h by default) and an opaque refresh
  token (30 days) stored only as its SHA-256. A refresh token is single-use: refreshing
  revokes it and issues a new pair.
* Every access token carries the user's ``token_version``; disabling a user, changing their
  role or password bumps it, so their tokens stop working at the next request.
* Login is throttled: 5 failures within 15 minutes for a username, or from one client (the
  peer's Unix uid), block further attempts for that key until the oldest failure is 15
  minutes old. Successes do not count.
* The signing secret comes from config/env or is generated once into a file of mode 0600.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .clock import Clock, SystemClock
from .errors import InvalidParams, RateLimited, StoreUnavailable, Unauthorized
from .models import Identity, User
from .store.base import Store

logger = logging.getLogger("slamon.auth")

MAX_FAILURES = 5
FAILURE_WINDOW_S = 15 * 60
PASSWORD_MIN_LENGTH = 10
_HASHER = (
    PasswordHasher()
)  # argon2id, memory-hard; parameters are argon2-cffi's RFC 9106 low-memory profile
# A hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    """argon2id hash of ``password``.

    Raises:
        InvalidParams: the password is too weak (the sentence says why).
    """
    problem = password_problem(password)
    if problem is not None:
        raise InvalidParams(problem, {"password": problem})
    return _HASHER.hash(password)


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be used, or None when it may."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"a password needs at least {PASSWORD_MIN_LENGTH} characters"
    if password.strip() != password or not password.strip():
        return "a password may not start or end with spaces"
    return None


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_or_create_secret(path: Path) -> bytes:
    """The JWT signing secret in ``path``, created once (mode 0600) when missing."""
    try:
        data = path.read_text(encoding="ascii").strip()
        if len(data) >= 32:
            return data.encode()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, secret.encode())
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
    logger.info("generated a new token signing secret in %s", path)
    return secret.encode()


class LoginThrottle:
    """At most MAX_FAILURES failed logins per key in FAILURE_WINDOW_S seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_in(self, keys: list[str]) -> int:
        """Seconds until a login for these keys may be tried again (0: now)."""
        now = self._clock()
        wait = 0.0
        for k in keys:
            q = self._failures.get(k)
            if not q:
                continue
            while q and now - q[0] >= FAILURE_WINDOW_S:
                q.popleft()
            if len(q) >= MAX_FAILURES:
                wait = max(wait, FAILURE_WINDOW_S - (now - q[0]))
        return int(wait) + (1 if wait % 1 else 0)

    def failed(self, keys: list[str]) -> None:
        now = self._clock()
        for k in keys:
            self._failures.setdefault(k, deque()).append(now)


class Auth:
    """Logins and tokens over a store."""

    def __init__(
        self,
        store: Store,
        secret: bytes,
        *,
        access_ttl: timedelta = timedelta(hours=12),
        refresh_ttl: timedelta = timedelta(days=30),
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self._secret = secret
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.clock = clock or SystemClock()
        self.throttle = LoginThrottle(self.clock.monotonic)
        self._cache: dict[str, User] = {}

    async def login(self, username: str, password: str, client: str) -> dict[str, object]:
        """Check the password and issue tokens; throttled per username and per client.

        Raises:
            RateLimited: too many failed logins for the username or from the client.
            Unauthorized: wrong username or password, or a disabled user.
        """
        keys = [f"user:{username.lower()}", f"client:{client}"]
        wait = self.throttle.retry_in(keys)
        if wait:
            raise RateLimited(f"too many failed logins; retry in {wait} s")
        user = await self.store.get_user(username)
        # argon2 takes ~0.1-0.2 s of CPU by design: off the event loop, so probing and other
        # clients do not stall during a login.
        ok = await asyncio.to_thread(
            verify_password, user.password_hash if user else _DUMMY_HASH, password
        )
        if user is None or not ok or not user.active:
            self.throttle.failed(keys)
            raise Unauthorized("wrong username or password")
        now = self.clock.now()
        await self.store.record_login(user.id, now)
        self._cache[user.username] = user
        return await self._issue(user, now)

    async def refresh(self, refresh_token: str) -> dict[str, object]:
        """A new token pair for a refresh token, which is used up.

        Raises:
            Unauthorized: the refresh token is unknown, used or expired, or the user disabled.
        """
        now = self.clock.now()
        user_id = await self.store.use_refresh_token(token_digest(refresh_token), now)
        if user_id is None:
            raise Unauthorized("refresh token unknown, used or expired; log in again")
        user = next((u for u in await self.store.list_users() if u.id == user_id), None)
        if user is None or not user.active:
            raise Unauthorized("this account is disabled")
        return await self._issue(user, now)

    async def logout(self, refresh_token: str | None) -> None:
        """End a login: its refresh token is revoked."""
        if refresh_token:
            await self.store.revoke_refresh_token(token_digest(refresh_token), self.clock.now())

    async def _issue(self, user: User, now: datetime) -> dict[str, object]:
        expires = now + self.access_ttl
        access = jwt.encode(
            {
                "sub": user.username,
                "uid": user.id,
                "role": user.role.name.lower(),
                "ver": user.token_version,
                "iat": int(now.timestamp()),
                "exp": int(expires.timestamp()),
                "typ": "access",
            },
            self._secret,
            algorithm="HS256",
        )
        refresh = secrets.token_urlsafe(32)
        await self.store.add_refresh_token(token_digest(refresh), user.id, now + self.refresh_ttl)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_at": expires.isoformat(),
            "user": user.to_dict(),
        }

    async def identify(self, token: str) -> Identity:
        """The user an access token stands for, as they are now (role and active re-read).

        Raises:
            Unauthorized: invalid, expired or revoked token, or disabled user.
        """
        try:
            # The signature and the claims are checked here; the expiry below, against the
            # daemon's clock (the one that stamped "exp"), not the machine's.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={
                    "require": ["exp", "sub", "ver"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise Unauthorized("invalid token; log in again") from None
        exp = claims["exp"]
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise Unauthorized("invalid token; log in again")
        if exp <= self.clock.now().timestamp():
            raise Unauthorized("your login expired; log in again")
        username = str(claims["sub"])
        try:
            user = await self.store.get_user(username)
            if user is not None:
                self._cache[username] = user
        except StoreUnavailable:
            user = self._cache.get(username)  # the database is away: trust what we last saw
        if user is None or not user.active:
            raise Unauthorized("this account is disabled or gone")
        if claims.get("ver") != user.token_version:
            raise Unauthorized("your login was revoked; log in again")
        return Identity(user.username, user.role, user.id)
