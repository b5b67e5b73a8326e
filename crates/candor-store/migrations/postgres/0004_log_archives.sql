-- Logs retired by a key rotation (`candor rotate-log`). A new key means a new origin: the old log
-- is frozen at its last signed checkpoint and kept readable, byte for byte, under
-- /log/archive/<id>/ as the static files of C2SP tlog-tiles.
CREATE TABLE log_archives (
    id             BIGINT PRIMARY KEY,
    origin         TEXT    NOT NULL UNIQUE,
    vkey           TEXT    NOT NULL,
    size           BIGINT  NOT NULL,
    root           BYTEA   NOT NULL,
    checkpoint     TEXT    NOT NULL,        -- the final signed checkpoint, cosignatures included
    complete       BOOLEAN NOT NULL DEFAULT FALSE, -- true once the live log switched to the new origin
    archived_at_ms BIGINT  NOT NULL
);
-- Every file of an archived log: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`.
CREATE TABLE log_archive_files (
    archive_id BIGINT  NOT NULL REFERENCES log_archives (id),
    path       TEXT    NOT NULL,
    data       BYTEA   NOT NULL,
    PRIMARY KEY (archive_id, path)
);
