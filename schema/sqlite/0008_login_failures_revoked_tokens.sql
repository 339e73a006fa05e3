-- Login throttling that survives a restart, and logged-out access tokens (issue 10).

-- Failed logins per (username, client): the daemon keeps them in memory and writes each
-- change here, so a restart does not hand an attacker fresh attempts.
CREATE TABLE login_failures (
    username        TEXT NOT NULL,               -- lowercased, as typed (may not exist)
    client          TEXT NOT NULL,               -- who connected: uid:N on the feed
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    locked_until    INTEGER NOT NULL,
    PRIMARY KEY (username, client)
);
CREATE INDEX login_failures_last ON login_failures (last_failure_at);

-- Access tokens ended by auth.logout before they expire (their jti claim); a row goes once
-- its token would have expired anyway.
CREATE TABLE revoked_tokens (
    jti         TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);
