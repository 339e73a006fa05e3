"""One exception tree for everything slamon raises on purpose.

Every class carries ``code``, the feed error code (protocol.ErrorCode) a request that meets it
is answered with; ``str()`` is a sentence for a person. feed.py turns them into error replies
in one table; domain and store code raise these and never a protocol type.

    SlamonError                     (code)             a sentence for a person
    ├── ConfigError                 internal           bad config file or value; slamond exits 2
    ├── ServeError                  internal           the feed cannot listen; slamond exits 1
    ├── InvalidParams               invalid_params     a parameter is missing, mistyped or out
    │   │                                              of range; ``problems`` by parameter
    │   └── FieldError              invalid_params     (incidents.py) one incident field
    ├── NotFound                    not_found          the thing named does not exist
    ├── Conflict                    conflict           a stale version or a taken name;
    │   │                                              ``problems`` and ``data`` say more
    │   ├── VersionConflict         conflict           (incidents.py) a save against a stale
    │   │                                              version; ``current`` is the incident now
    │   └── AlreadyExists ◆         conflict           a unique name is taken (username,
    │                                                  service id, an outage's incident)
    ├── Unauthorized                unauthorized       a login is needed, or it failed/expired
    ├── Forbidden                   forbidden          the caller's role may not do this
    ├── RateLimited                 rate_limited       too many requests or failed logins
    └── Unavailable                 unavailable        cannot be done right now
        └── StoreError              unavailable        the database failed
            ├── StoreUnavailable    unavailable        cannot reach the database right now
            ├── MigrationError      unavailable        a migration could not be applied
            └── AlreadyExists ◆     (conflict)         the same class as above: both a
                                                       Conflict and a StoreError

Errors that are not SlamonError (a bug) are answered ``internal`` and logged.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .protocol import ErrorCode


class SlamonError(Exception):
    """Base of every error slamon raises on purpose; ``str()`` is a sentence for a person."""

    code: ClassVar[str] = ErrorCode.INTERNAL


class ConfigError(SlamonError):
    """The configuration is invalid. ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ServeError(SlamonError):
    """The feed cannot listen on its socket (a symlink, not a socket, another daemon ...)."""


class InvalidParams(SlamonError):
    """A parameter is missing, of the wrong type or out of range.

    ``problems`` maps each parameter to what is wrong with it (the reply's ``fields``), so a
    form can show it by the field.
    """

    code = ErrorCode.INVALID_PARAMS

    def __init__(self, message: str, problems: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems


class NotFound(SlamonError):
    """The thing named (service, incident, user, window) does not exist."""

    code = ErrorCode.NOT_FOUND


class Conflict(SlamonError):
    """The request conflicts with what is stored now (a stale version, a taken name).

    ``problems`` maps the fields in conflict to why (the reply's ``fields``); ``data`` carries
    more for the client (e.g. the incident as it is now).
    """

    code = ErrorCode.CONFLICT

    def __init__(
        self,
        message: str,
        problems: dict[str, str] | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.problems = problems
        self.data = data


class Unauthorized(SlamonError):
    """A login is needed, or the one given is wrong, expired or revoked."""

    code = ErrorCode.UNAUTHORIZED


class Forbidden(SlamonError):
    """The caller's role may not do this."""

    code = ErrorCode.FORBIDDEN


class RateLimited(SlamonError):
    """Too many requests (or failed logins); the message says when to retry."""

    code = ErrorCode.RATE_LIMITED


class Unavailable(SlamonError):
    """The daemon cannot do this right now; retrying later may work."""

    code = ErrorCode.UNAVAILABLE


class StoreError(Unavailable):
    """The database failed."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now."""


class MigrationError(StoreError):
    """A migration could not be applied."""


class AlreadyExists(Conflict, StoreError):
    """A unique name (username, service id, an outage's incident) is already taken."""

    code = ErrorCode.CONFLICT


INTERNAL_MESSAGE = "internal error; the daemon logged it and keeps serving"


def wire_error(exc: SlamonError) -> tuple[str, str, dict[str, str] | None, dict[str, Any] | None]:
    """The one table from the exception tree to error replies of every transport (docs/feed.md
    "Error codes"): code, message, per-field problems and extra data."""
    match exc:
        case _ if exc.code == ErrorCode.INTERNAL:  # not a client's doing: the log says more
            return ErrorCode.INTERNAL, INTERNAL_MESSAGE, None, None
        case InvalidParams():
            return exc.code, str(exc), exc.problems, None
        case Conflict():  # before StoreError: AlreadyExists is both
            return exc.code, str(exc), exc.problems, exc.data
        case StoreError():
            return exc.code, f"the database cannot answer right now: {exc}", None, None
        case _:
            return exc.code, str(exc), None, None
