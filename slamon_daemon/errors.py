"""One exception tree for everything slamon raises on purpose.

SlamonError                      message a person can read
├── ConfigError                  bad config file or value (slamond exits with code 2)
├── StoreError                   the database failed
│   ├── StoreUnavailable         cannot reach the database right now (retry later)
│   └── AlreadyExists            a unique name is taken (username, service id)
├── MigrationError               a migration could not be applied
└── FeedError                    a request on the socket cannot be served
    (carries a protocol error code; see protocol.ErrorCode)
"""

from __future__ import annotations


class SlamonError(Exception):
    """Base of every error slamon raises on purpose; ``str()`` is a sentence for a person."""


class ConfigError(SlamonError):
    """The configuration is invalid. ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class StoreError(SlamonError):
    """The database failed."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now."""


class AlreadyExists(StoreError):
    """A unique name (username, service id) is already taken."""


class MigrationError(StoreError):
    """A migration could not be applied."""


class FeedError(SlamonError):
    """A feed request failed; ``code`` is one of protocol.ErrorCode."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
