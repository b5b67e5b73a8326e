-- Transparent operations: probe samples and their rollups, status intervals (what SLA figures are
-- computed from), incidents, scheduled maintenance, component overrides and closed SLA reports.

-- Raw probe results, kept for a configured period (default 30 days). A sample is identified by
-- its monitor and start time: recording it again is a no-op (and is not counted twice).
CREATE TABLE status_samples (
    monitor_id      TEXT    NOT NULL,
    at_ms           INTEGER NOT NULL,
    outcome         TEXT    NOT NULL,        -- up, degraded, down
    latency_ms      INTEGER NOT NULL,
    in_maintenance  INTEGER NOT NULL,        -- 1 in an announced window of a fed component
    error           TEXT,                    -- why it failed, if it did
    PRIMARY KEY (monitor_id, at_ms)
) WITHOUT ROWID;

-- Counts of samples per bucket, updated in the transaction that stores the samples. Minute
-- rollups are kept for a configured period (default 90 days), hour and day rollups forever.
CREATE TABLE status_rollups_minute (
    monitor_id       TEXT    NOT NULL,
    bucket_start_ms  INTEGER NOT NULL,
    up               INTEGER NOT NULL,
    degraded         INTEGER NOT NULL,
    down             INTEGER NOT NULL,
    in_maintenance   INTEGER NOT NULL,
    latency_sum_ms   INTEGER NOT NULL,
    latency_max_ms   INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, bucket_start_ms)
) WITHOUT ROWID;
CREATE TABLE status_rollups_hour (
    monitor_id       TEXT    NOT NULL,
    bucket_start_ms  INTEGER NOT NULL,
    up               INTEGER NOT NULL,
    degraded         INTEGER NOT NULL,
    down             INTEGER NOT NULL,
    in_maintenance   INTEGER NOT NULL,
    latency_sum_ms   INTEGER NOT NULL,
    latency_max_ms   INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, bucket_start_ms)
) WITHOUT ROWID;
CREATE TABLE status_rollups_day (
    monitor_id       TEXT    NOT NULL,
    bucket_start_ms  INTEGER NOT NULL,
    up               INTEGER NOT NULL,
    degraded         INTEGER NOT NULL,
    down             INTEGER NOT NULL,
    in_maintenance   INTEGER NOT NULL,
    latency_sum_ms   INTEGER NOT NULL,
    latency_max_ms   INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, bucket_start_ms)
) WITHOUT ROWID;

-- Spans during which a monitor or component had one status. Intervals of one subject never
-- overlap; at most one is open (end_ms NULL) per subject. A closed interval is journalled as a
-- `status.interval` entry (log_index).
CREATE TABLE status_intervals (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_kind  TEXT    NOT NULL,          -- monitor, component
    subject_id    TEXT    NOT NULL,
    status        TEXT    NOT NULL,          -- a component status
    start_ms      INTEGER NOT NULL,
    end_ms        INTEGER,                   -- NULL while it is the current status
    last_seen_ms  INTEGER NOT NULL,          -- last time data confirmed it
    log_index     INTEGER                    -- its status.interval entry, once closed
);
CREATE UNIQUE INDEX status_intervals_open ON status_intervals (subject_kind, subject_id) WHERE end_ms IS NULL;
CREATE INDEX status_intervals_subject ON status_intervals (subject_kind, subject_id, start_ms);

-- Incidents, their timelines and the components they affect (latest status per component).
CREATE TABLE incidents (
    id                TEXT    PRIMARY KEY,   -- 12 lowercase base32 characters, never reused
    name              TEXT    NOT NULL,
    status            TEXT    NOT NULL,
    impact            TEXT    NOT NULL,
    origin            TEXT    NOT NULL,      -- operator, monitor, backfill
    draft             INTEGER NOT NULL,
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL,
    started_at_ms     INTEGER NOT NULL,
    monitoring_at_ms  INTEGER,
    resolved_at_ms    INTEGER,
    idempotency_key   TEXT    UNIQUE,        -- a retry with the same key returns this incident
    log_index         INTEGER NOT NULL       -- its incident.record entry
);
CREATE INDEX incidents_started ON incidents (started_at_ms);
CREATE TABLE incident_components (
    incident_id   TEXT    NOT NULL REFERENCES incidents (id),
    component_id  TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    position      INTEGER NOT NULL,          -- order first named
    PRIMARY KEY (incident_id, component_id)
);
CREATE TABLE incident_updates (
    id               TEXT    PRIMARY KEY,
    incident_id      TEXT    NOT NULL REFERENCES incidents (id),
    status           TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    display_at_ms    INTEGER NOT NULL,
    idempotency_key  TEXT    UNIQUE,
    log_index        INTEGER NOT NULL        -- its incident.record or incident.update entry
);
CREATE INDEX incident_updates_incident ON incident_updates (incident_id);
CREATE TABLE incident_update_components (
    update_id     TEXT    NOT NULL REFERENCES incident_updates (id),
    component_id  TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    position      INTEGER NOT NULL,
    PRIMARY KEY (update_id, component_id)
);

-- Scheduled maintenance. Windows of one component never overlap (checked when scheduling).
CREATE TABLE maintenances (
    id                  TEXT    PRIMARY KEY,
    name                TEXT    NOT NULL,
    body                TEXT    NOT NULL,
    announced_at_ms     INTEGER NOT NULL,
    scheduled_for_ms    INTEGER NOT NULL,
    scheduled_until_ms  INTEGER NOT NULL,
    completed_at_ms     INTEGER,
    updated_at_ms       INTEGER NOT NULL,
    idempotency_key     TEXT    UNIQUE,
    log_index           INTEGER NOT NULL     -- its maintenance.record entry
);
CREATE INDEX maintenances_window ON maintenances (scheduled_until_ms);
CREATE TABLE maintenance_components (
    maintenance_id  TEXT    NOT NULL REFERENCES maintenances (id),
    component_id    TEXT    NOT NULL,
    position        INTEGER NOT NULL,
    PRIMARY KEY (maintenance_id, component_id)
);
CREATE INDEX maintenance_components_component ON maintenance_components (component_id);

-- An operator's override of a component's status, while in force.
CREATE TABLE component_overrides (
    component_id  TEXT    PRIMARY KEY,
    status        TEXT    NOT NULL,
    set_at_ms     INTEGER NOT NULL
);

-- Closed SLA reports, each journalled as an `sla.report` entry; an amendment names the entry of
-- the report it replaces.
CREATE TABLE sla_reports (
    log_index       INTEGER PRIMARY KEY,
    component_id    TEXT    NOT NULL,
    period          TEXT    NOT NULL,        -- 2026-10 or 2026-Q4
    report_json     TEXT    NOT NULL,        -- RFC 8785 JSON, as the entry commits to it
    amends_index    INTEGER,
    recorded_at_ms  INTEGER NOT NULL
);
CREATE INDEX sla_reports_component ON sla_reports (component_id, period);
