-- Users, refresh tokens and the audit log (SPEC §3.10).

CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    username       text NOT NULL UNIQUE,
    email          text NOT NULL DEFAULT '',
    password_hash  text NOT NULL,                 -- argon2id, never the password
    role           text NOT NULL CHECK (role IN ('viewer', 'reporter', 'admin')),
    active         boolean NOT NULL DEFAULT true,
    token_version  integer NOT NULL DEFAULT 0,    -- bumped to revoke every token at once
    last_login_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens are stored as SHA-256 of the token: a leaked table grants nothing.
CREATE TABLE refresh_tokens (
    token_hash   text PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE audit_log (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text NOT NULL,                       -- username, or uid:N / cli:USER
    method   text NOT NULL,
    target   text,
    changes  text NOT NULL DEFAULT '{}'           -- JSON; passwords and tokens never appear
);
CREATE INDEX audit_log_at ON audit_log (at);
