-- Users, refresh tokens and the audit log (SPEC §3.10).

CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT NOT NULL UNIQUE,
    email          TEXT NOT NULL DEFAULT '',
    password_hash  TEXT NOT NULL,                 -- argon2id, never the password
    role           TEXT NOT NULL CHECK (role IN ('viewer', 'reporter', 'admin')),
    active         INTEGER NOT NULL DEFAULT 1,
    token_version  INTEGER NOT NULL DEFAULT 0,    -- bumped to revoke every token at once
    last_login_at  INTEGER,
    created_at     INTEGER NOT NULL
);

-- Refresh tokens are stored as SHA-256 of the token: a leaked table grants nothing.
CREATE TABLE refresh_tokens (
    token_hash   TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       INTEGER NOT NULL,
    actor    TEXT NOT NULL,                       -- username, or uid:N / cli:USER
    method   TEXT NOT NULL,
    target   TEXT,
    changes  TEXT NOT NULL DEFAULT '{}'           -- JSON; passwords and tokens never appear
);
CREATE INDEX audit_log_at ON audit_log (at);
