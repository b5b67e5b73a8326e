-- Operators: the vendor's staff who sign in to the admin area.
CREATE TABLE operators (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT    NOT NULL UNIQUE,    -- lowercase
    role            TEXT    NOT NULL CHECK (role IN ('owner', 'editor', 'approver', 'auditor')),
    password_hash   TEXT,                       -- Argon2id PHC string; NULL until set
    created_at_ms   INTEGER NOT NULL,
    disabled_at_ms  INTEGER
);
-- Single-use links (set a password, accept an invitation). Only a hash of the token is kept.
CREATE TABLE one_time_links (
    token_hash     BLOB    PRIMARY KEY,
    operator_id    INTEGER NOT NULL REFERENCES operators (id),
    purpose        TEXT    NOT NULL,
    expires_at_ms  INTEGER NOT NULL,
    used_at_ms     INTEGER
);
-- Server-side sessions. The cookie holds a random id; only its hash is stored.
CREATE TABLE sessions (
    id_hash              BLOB    PRIMARY KEY,
    operator_id          INTEGER NOT NULL REFERENCES operators (id),
    csrf_token           TEXT    NOT NULL,
    created_at_ms        INTEGER NOT NULL,
    last_seen_at_ms      INTEGER NOT NULL,
    authenticated_at_ms  INTEGER NOT NULL      -- last password entry, for re-authentication
);
CREATE INDEX sessions_by_operator ON sessions (operator_id);
-- Failed sign-ins per account and per source address, for throttling and temporary lockout.
CREATE TABLE sign_in_failures (
    throttle_key     TEXT    PRIMARY KEY,      -- 'account:<email>' or 'address:<ip or /64>'
    failures         INTEGER NOT NULL,
    window_start_ms  INTEGER NOT NULL,
    locked_until_ms  INTEGER NOT NULL
);
-- API tokens: shown once, stored as SHA-256 (they carry 256 random bits).
CREATE TABLE api_tokens (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL,
    token_hash       BLOB    NOT NULL UNIQUE,
    scopes           TEXT    NOT NULL,         -- space-separated
    created_by       INTEGER NOT NULL REFERENCES operators (id),
    created_at_ms    INTEGER NOT NULL,
    expires_at_ms    INTEGER,
    revoked_at_ms    INTEGER,
    last_used_at_ms  INTEGER
);
-- The audit trail: who did what, when, to what, from where. Committed to the log in digests.
CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms        INTEGER NOT NULL,
    actor        TEXT    NOT NULL,             -- 'operator:<id>', 'token:<id>', 'anonymous', 'system'
    action       TEXT    NOT NULL,
    target       TEXT    NOT NULL,
    source_addr  TEXT    NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (at_ms);
-- How far each digested stream has been committed to the log.
CREATE TABLE digest_cursors (
    stream   TEXT    PRIMARY KEY,
    last_id  INTEGER NOT NULL
);
