-- Operators: the vendor's staff who sign in to the admin area.
CREATE TABLE operators (
    id              BIGSERIAL PRIMARY KEY,
    email           TEXT    NOT NULL UNIQUE,    -- lowercase
    role            TEXT    NOT NULL CHECK (role IN ('owner', 'editor', 'approver', 'auditor')),
    password_hash   TEXT,                       -- Argon2id PHC string; NULL until set
    created_at_ms   BIGINT  NOT NULL,
    disabled_at_ms  BIGINT 
);
-- Single-use links (set a password, accept an invitation). Only a hash of the token is kept.
CREATE TABLE one_time_links (
    token_hash     BYTEA   PRIMARY KEY,
    operator_id    BIGINT  NOT NULL REFERENCES operators (id),
    purpose        TEXT    NOT NULL,
    expires_at_ms  BIGINT  NOT NULL,
    used_at_ms     BIGINT 
);
-- Server-side sessions. The cookie holds a random id; only its hash is stored.
CREATE TABLE sessions (
    id_hash              BYTEA   PRIMARY KEY,
    operator_id          BIGINT  NOT NULL REFERENCES operators (id),
    csrf_token           TEXT    NOT NULL,
    created_at_ms        BIGINT  NOT NULL,
    last_seen_at_ms      BIGINT  NOT NULL,
    authenticated_at_ms  BIGINT  NOT NULL      -- last password entry, for re-authentication
);
CREATE INDEX sessions_by_operator ON sessions (operator_id);
-- Failed sign-ins per account and per source address, for throttling and temporary lockout.
CREATE TABLE sign_in_failures (
    throttle_key     TEXT    PRIMARY KEY,      -- 'account:<email>' or 'address:<ip or /64>'
    failures         BIGINT  NOT NULL,
    window_start_ms  BIGINT  NOT NULL,
    locked_until_ms  BIGINT  NOT NULL
);
-- API tokens: shown once, stored as SHA-256 (they carry 256 random bits).
CREATE TABLE api_tokens (
    id               BIGSERIAL PRIMARY KEY,
    name             TEXT    NOT NULL,
    token_hash       BYTEA   NOT NULL UNIQUE,
    scopes           TEXT    NOT NULL,         -- space-separated
    created_by       BIGINT  NOT NULL REFERENCES operators (id),
    created_at_ms    BIGINT  NOT NULL,
    expires_at_ms    BIGINT ,
    revoked_at_ms    BIGINT ,
    last_used_at_ms  BIGINT 
);
-- The audit trail: who did what, when, to what, from where. Committed to the log in digests.
CREATE TABLE audit_events (
    id           BIGSERIAL PRIMARY KEY,
    at_ms        BIGINT  NOT NULL,
    actor        TEXT    NOT NULL,             -- 'operator:<id>', 'token:<id>', 'anonymous', 'system'
    action       TEXT    NOT NULL,
    target       TEXT    NOT NULL,
    source_addr  TEXT    NOT NULL
);
CREATE INDEX audit_events_by_time ON audit_events (at_ms);
-- How far each digested stream has been committed to the log.
CREATE TABLE digest_cursors (
    stream   TEXT    PRIMARY KEY,
    last_id  BIGINT  NOT NULL
);
