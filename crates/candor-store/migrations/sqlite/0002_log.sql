-- The verifiable log. Entries are sequenced in the same transaction as the fact they record.
CREATE TABLE log_entries (
    seq             INTEGER PRIMARY KEY,     -- leaf index, from 0, no gaps
    entry_type      TEXT    NOT NULL,
    entry           BLOB    NOT NULL,        -- RFC 8785 JSON, at most 65535 bytes
    leaf_hash       BLOB    NOT NULL,        -- SHA-256(0x00 || entry)
    recorded_at_ms  INTEGER NOT NULL,
    idempotency_key TEXT    UNIQUE
);
-- Full (256-hash) tiles only; partial tiles are derived from the level below.
CREATE TABLE log_tiles (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    data  BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
);
-- How far the tree has been integrated.
CREATE TABLE log_tree (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    size           INTEGER NOT NULL,
    root           BLOB    NOT NULL,
    updated_at_ms  INTEGER NOT NULL
);
-- Every signed checkpoint, newest served at /log/checkpoint.
CREATE TABLE log_checkpoints (
    size          INTEGER PRIMARY KEY,
    root          BLOB    NOT NULL,
    note          TEXT    NOT NULL,
    signed_at_ms  INTEGER NOT NULL
);
