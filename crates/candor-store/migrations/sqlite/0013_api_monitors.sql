-- Monitors created through the API (`PUT /api/v1/monitors/<id>`), run beside those of
-- candor.toml and checked by the same rules at every start.
CREATE TABLE api_monitors (
    id             TEXT    PRIMARY KEY,
    definition     TEXT    NOT NULL,   -- the JSON object as sent (keys of a [[monitors]] table, components)
    token_hash     TEXT,               -- SHA-256 (hex) of a heartbeat monitor's push token
    created_at_ms  INTEGER NOT NULL,
    updated_at_ms  INTEGER NOT NULL
);
