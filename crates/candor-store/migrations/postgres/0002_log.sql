-- The verifiable log. Entries are sequenced in the same transaction as the fact they record.
CREATE TABLE log_entries (
    seq             BIGINT PRIMARY KEY,      -- leaf index, from 0, no gaps
    entry_type      TEXT    NOT NULL,
    entry           BYTEA   NOT NULL,        -- RFC 8785 JSON, at most 65535 bytes
    leaf_hash       BYTEA   NOT NULL,        -- SHA-256(0x00 || entry)
    recorded_at_ms  BIGINT NOT NULL,
    idempotency_key TEXT    UNIQUE
);
-- Full (256-hash) tiles only; partial tiles are derived from the level below.
CREATE TABLE log_tiles (
    level INTEGER NOT NULL,
    idx   BIGINT NOT NULL,
    data  BYTEA   NOT NULL,
    PRIMARY KEY (level, idx)
);
-- How far the tree has been integrated.
CREATE TABLE log_tree (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    size           BIGINT NOT NULL,
    root           BYTEA   NOT NULL,
    updated_at_ms  BIGINT NOT NULL
);
-- Every signed checkpoint, newest served at /log/checkpoint.
CREATE TABLE log_checkpoints (
    size          BIGINT PRIMARY KEY,
    root          BYTEA   NOT NULL,
    note          TEXT    NOT NULL,
    signed_at_ms  BIGINT NOT NULL
);
