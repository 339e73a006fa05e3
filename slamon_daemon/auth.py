"""Users, passwords, tokens, roles and login throttling (SPEC §3.10).

* Passwords are hashed with argon2id (argon2-cffi's defaults); there is no built-in password.
* ``auth.login`` returns a JWT access token (HS256, 12 h by default) and an opaque refresh
  token (30 days) stored only as its SHA-256. A refresh token is single-use: refreshing
  revokes it and issues a new pair.
* Every access token carries the user's ``token_version``; disabling a user, changing their
  role or password bumps it, so their tokens stop working at the next request.
* Login is throttled per (username, client) with growing backoff, a ceiling per client and
  a global one (throttle.py); an attempt is counted before its password is checked, and the
  counts are stored, so they survive a restart.
* Every access token has an id (``jti``): ``auth.logout`` denies the token it is called with
  until it expires (``revoked_tokens``, kept in memory too).
* The signing secret comes from config/env or is generated once into a file of mode 0600.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .clock import Clock, SystemClock
from .errors import InvalidParams, StoreError, StoreUnavailable, Unauthorized
from .models import Identity, User
from .store.base import Store
from .throttle import FORGET_S, Failures, LoginThrottle

logger = logging.getLogger("slamon.auth")

PASSWORD_MIN_LENGTH = 10
_HASHER = (
    PasswordHasher()
)  # argon2id, memory-hard; parameters are argon2-cffi's RFC 9106 low-memory profile


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so timing does not reveal
    usernames. Made at the first login, not at import (~0.2 s of every start)."""
    return _HASHER.hash(secrets.token_hex(16))


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
        self.throttle = LoginThrottle()
        self._cache: dict[str, User] = {}
        self._revoked: dict[str, datetime] = {}  # jti -> when the token expires anyway

    async def load(self) -> None:
        """Read the stored failed logins and logged-out tokens (at start, once the database
        answers).

        Raises:
            StoreError: the database failed.
        """
        now = self.clock.now()
        rows = await self.store.login_failures(now - timedelta(seconds=FORGET_S))
        self.throttle.load(
            [
                Failures(u, c, n, last.timestamp(), until.timestamp())
                for u, c, n, last, until in rows
            ],
            now.timestamp(),
        )
        self._revoked.update(await self.store.revoked_access_tokens(now))

    async def prune(self) -> None:
        """Forget logged-out tokens that expired and failures long past (hourly)."""
        now = self.clock.now()
        self._revoked = {j: t for j, t in self._revoked.items() if t > now}
        await self.store.prune_logins(now, now - timedelta(seconds=FORGET_S))

    async def login(self, username: str, password: str, client: str) -> dict[str, object]:
        """Check the password and issue tokens; throttled per (username, client).

        Raises:
            RateLimited: too many failed logins (throttle.py).
            Unauthorized: wrong username or password, or a disabled user.
            StoreError: the database failed (the attempt is then not counted).
        """
        now = self.clock.now()
        # Counted now, before any await: parallel attempts cannot all pass the check.
        attempt, counted = self.throttle.begin(username, client, now.timestamp())
        try:
            await self._store_failures(counted)
            user = await self.store.get_user(username)
        except StoreError:
            self.throttle.cancel(attempt)
            raise
        # argon2 takes ~0.1-0.2 s of CPU by design: off the event loop, so probing and other
        # clients do not stall during a login.
        dummy = await asyncio.to_thread(_dummy_hash)  # known or not: the first login pays it
        ok = await asyncio.to_thread(
            verify_password, user.password_hash if user else dummy, password
        )
        if user is None or not ok or not user.active:
            raise Unauthorized("wrong username or password")
        self.throttle.succeeded(attempt)
        with contextlib.suppress(StoreError):
            await self.store.clear_login_failures(*attempt.key)
        now = self.clock.now()
        await self.store.record_login(user.id, now)
        self._cache[user.username] = user
        return await self._issue(user, now)

    async def _store_failures(self, f: Failures) -> None:
        """Write a pair's count; a database that cannot take it does not stop the login (the
        count in memory holds)."""
        try:
            await self.store.save_login_failures(
                f.username,
                f.client,
                f.count,
                datetime.fromtimestamp(f.last_at, UTC),
                datetime.fromtimestamp(f.locked_until, UTC),
            )
        except StoreUnavailable:
            logger.debug("failed login not stored (the database is away); counted in memory")

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

    async def logout(self, refresh_token: str | None, caller: Identity | None = None) -> None:
        """End a login: its refresh token is revoked, and the access token the call came with
        is denied from now until it expires.

        Raises:
            StoreError: the database failed (the access token is denied in memory already).
        """
        if caller is not None and caller.token_id and caller.token_expires_at is not None:
            self._revoked[caller.token_id] = caller.token_expires_at
            await self.store.revoke_access_token(caller.token_id, caller.token_expires_at)
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
                "jti": secrets.token_urlsafe(16),
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
        jti = claims.get("jti")
        if isinstance(jti, str) and jti in self._revoked:
            raise Unauthorized("you logged out with this token; log in again")
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
        return Identity(
            user.username,
            user.role,
            user.id,
            token_id=jti if isinstance(jti, str) else None,
            token_expires_at=datetime.fromtimestamp(exp, UTC),
        )
