-- Logs retired by a key rotation (`candor rotate-log`). A new key means a new origin: the old log
-- is frozen at its last signed checkpoint and kept readable, byte for byte, under
-- /log/archive/<id>/ as the static files of C2SP tlog-tiles.
CREATE TABLE log_archives (
    id             INTEGER PRIMARY KEY,
    origin         TEXT    NOT NULL UNIQUE,
    vkey           TEXT    NOT NULL,
    size           INTEGER NOT NULL,
    root           BLOB    NOT NULL,
    checkpoint     TEXT    NOT NULL,        -- the final signed checkpoint, cosignatures included
    complete       INTEGER NOT NULL DEFAULT 0, -- 1 once the live log switched to the new origin
    archived_at_ms INTEGER NOT NULL
);
-- Every file of an archived log: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`.
CREATE TABLE log_archive_files (
    archive_id INTEGER NOT NULL REFERENCES log_archives (id),
    path       TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    PRIMARY KEY (archive_id, path)
);
