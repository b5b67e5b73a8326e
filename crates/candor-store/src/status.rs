//! Transparent operations in storage: probe samples and their rollups, status intervals (the
//! source of SLA figures), incidents, scheduled maintenance, component overrides and closed SLA
//! reports. Every published fact (a closed interval, an incident or maintenance record or update,
//! a closed SLA report) is journalled in the same transaction as the row it describes.

use std::future::Future;

use candor_core::status::{
    AffectedComponent, ComponentStatus, Incident, IncidentImpact, IncidentOrigin, IncidentStatus,
    Maintenance, SampleRecord, StatusInterval, Subject,
};
use time::OffsetDateTime;

use crate::StoreError;

/// How wide a rollup bucket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// One minute (kept for a configured period, default 90 days).
    Minute,
    /// One hour (kept forever).
    Hour,
    /// One UTC day (kept forever).
    Day,
}

impl Resolution {
    /// The bucket width in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Resolution::Minute => 60,
            Resolution::Hour => 3_600,
            Resolution::Day => 86_400,
        }
    }
}

/// Counts of samples in one bucket of one monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollup {
    /// The monitor.
    pub monitor_id: String,
    /// The bucket's first instant (aligned to its resolution, UTC).
    pub bucket_start: OffsetDateTime,
    /// Samples that were up.
    pub up: u32,
    /// Samples that were degraded.
    pub degraded: u32,
    /// Samples that were down.
    pub down: u32,
    /// Samples taken during announced maintenance (also counted above).
    pub in_maintenance: u32,
    /// Sum of latencies, ms.
    pub latency_sum_ms: u64,
    /// Largest latency, ms.
    pub latency_max_ms: u32,
}

/// A new incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncident {
    /// Title.
    pub name: String,
    /// Impact.
    pub impact: IncidentImpact,
    /// First status (investigating for live incidents; resolved for back-fills).
    pub status: IncidentStatus,
    /// First update's text.
    pub body: String,
    /// Components and their statuses.
    pub components: Vec<AffectedComponent>,
    /// How it came to be.
    pub origin: IncidentOrigin,
    /// Not public until published.
    pub draft: bool,
    /// When the trouble started (defaults to now for live incidents).
    pub started_at: OffsetDateTime,
    /// For back-filled incidents: when it ended (must be after `started_at`).
    pub resolved_at: Option<OffsetDateTime>,
}

/// A new entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIncidentUpdate {
    /// The incident's status from now on.
    pub status: IncidentStatus,
    /// What is said.
    pub body: String,
    /// Component statuses this update sets (replacing those it names).
    pub components: Vec<AffectedComponent>,
    /// Shown as having happened at (defaults to now).
    pub display_at: OffsetDateTime,
}

/// A new scheduled maintenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMaintenance {
    /// Title.
    pub name: String,
    /// What will happen.
    pub body: String,
    /// Components in the window.
    pub components: Vec<String>,
    /// Window start.
    pub scheduled_for: OffsetDateTime,
    /// Window end (after the start).
    pub scheduled_until: OffsetDateTime,
}

/// Which incidents to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// Include drafts (operators only).
    pub include_drafts: bool,
    /// Only unresolved ones.
    pub unresolved_only: bool,
    /// Only those whose [started_at, resolved_at or now) overlaps [since, until).
    pub since: Option<OffsetDateTime>,
    /// See `since`.
    pub until: Option<OffsetDateTime>,
    /// At most this many, newest (by started_at) first.
    pub limit: Option<u32>,
}

/// A closed SLA report as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaReportRecord {
    /// The component (or group) it is about.
    pub component_id: String,
    /// `2026-10` or `2026-Q4`.
    pub period: String,
    /// The canonical JSON of the report (what the log entry commits to).
    pub report_json: String,
    /// The log index of the report this one amends, if any.
    pub amends: Option<u64>,
    /// Its own log index.
    pub log_index: u64,
    /// When it was recorded.
    pub recorded_at: OffsetDateTime,
}

/// What retention removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Raw samples deleted.
    pub samples: u64,
    /// Minute rollups deleted.
    pub minute_rollups: u64,
}

/// The operations store.
pub trait StatusStore: Send + Sync {
    /// Stores a batch of samples and folds them into the minute, hour and day rollups, in one
    /// transaction (acknowledged samples survive a crash).
    fn record_samples(
        &self,
        samples: &[SampleRecord],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Raw samples of a monitor in `[from, to)`, oldest first.
    fn samples(
        &self,
        monitor_id: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<SampleRecord>, StoreError>> + Send;
    /// Raw samples of every monitor in `[from, to)` (also of monitors no longer declared), by
    /// monitor then time: one index range over time.
    fn samples_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<SampleRecord>, StoreError>> + Send;
    /// Rollups of a monitor in `[from, to)`, oldest first.
    fn rollups(
        &self,
        monitor_id: &str,
        resolution: Resolution,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Rollup>, StoreError>> + Send;
    /// Deletes raw samples before `samples_before` and minute rollups before `minutes_before`.
    fn prune(
        &self,
        samples_before: OffsetDateTime,
        minutes_before: OffsetDateTime,
    ) -> impl Future<Output = Result<Pruned, StoreError>> + Send;

    /// The open interval of every subject.
    fn open_intervals(
        &self,
    ) -> impl Future<Output = Result<Vec<StatusInterval>, StoreError>> + Send;
    /// Closes the subject's open interval (if any) at `at`, journalling it as a
    /// `status.interval` entry, and opens a new one with `status` from `at`, in one transaction.
    /// Returns the log index of the closed interval's entry.
    fn change_status(
        &self,
        subject: &Subject,
        status: ComponentStatus,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;
    /// Confirms the open intervals of these subjects up to `at` (their `last_seen`).
    fn touch_intervals(
        &self,
        subjects: &[Subject],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Closes the subject's open interval at `at` without opening another (a gap in data
    /// follows), journalling it. Returns the entry's log index, None when nothing was open.
    fn close_interval(
        &self,
        subject: &Subject,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;
    /// Intervals of a subject overlapping `[from, to)`, oldest first (open ones included).
    fn intervals(
        &self,
        subject: &Subject,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<StatusInterval>, StoreError>> + Send;

    /// Intervals of every subject of one kind (`component` or `monitor`) overlapping
    /// `[from, to)`, by subject id then start: one query for a whole status page.
    fn intervals_of_kind(
        &self,
        kind: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<StatusInterval>, StoreError>> + Send;

    /// Closed intervals of subjects of one kind that ended after `ended_after` and were
    /// journalled after log index `index_after`, with their index, in index order. A closed
    /// interval never changes, so a reader can keep a copy of history and ask only for what
    /// closed since (`index_after` = the largest index it holds).
    fn closed_intervals_of_kind(
        &self,
        kind: &str,
        ended_after: OffsetDateTime,
        index_after: Option<u64>,
    ) -> impl Future<Output = Result<Vec<(u64, StatusInterval)>, StoreError>> + Send;

    /// Monitors created through the API, by id.
    fn api_monitors(&self) -> impl Future<Output = Result<Vec<StoredMonitor>, StoreError>> + Send;

    /// Creates or replaces a monitor made through the API; returns true when it is new. A
    /// replacement keeps the creation time, and the token hash unless a new one is given.
    fn put_api_monitor(
        &self,
        id: &str,
        definition: &str,
        token_hash: Option<&str>,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes a monitor made through the API; false when there was none.
    fn delete_api_monitor(&self, id: &str)
    -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Creates an incident with its first update, journalled. With an idempotency key, a retry
    /// returns the first call's incident (and `false`) instead of a second incident.
    fn create_incident(
        &self,
        incident: &NewIncident,
        at: OffsetDateTime,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = Result<(Incident, bool), StoreError>> + Send;
    /// Adds an update to an incident, journalled; `NotFound` for an unknown id.
    fn update_incident(
        &self,
        id: &str,
        update: &NewIncidentUpdate,
        at: OffsetDateTime,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = Result<Incident, StoreError>> + Send;
    /// Makes a draft public, journalled; `NotFound` for an unknown id.
    fn publish_incident(
        &self,
        id: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Incident, StoreError>> + Send;
    /// One incident.
    fn incident(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Incident>, StoreError>> + Send;
    /// Incidents matching the filter.
    fn incidents(
        &self,
        filter: &IncidentFilter,
    ) -> impl Future<Output = Result<Vec<Incident>, StoreError>> + Send;

    /// Announces a maintenance window, journalled with its announcement time; `Conflict` when
    /// it overlaps another window of one of its components.
    fn schedule_maintenance(
        &self,
        maintenance: &NewMaintenance,
        at: OffsetDateTime,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = Result<(Maintenance, bool), StoreError>> + Send;
    /// Completes a window early, journalled; `NotFound` for an unknown id.
    fn complete_maintenance(
        &self,
        id: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Maintenance, StoreError>> + Send;
    /// Windows overlapping `[from, to)`, by start.
    fn maintenances(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Maintenance>, StoreError>> + Send;

    /// Sets (or with None clears) an operator's override of a component's status, journalled.
    fn set_component_override(
        &self,
        component_id: &str,
        status: Option<ComponentStatus>,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every override in force.
    fn component_overrides(
        &self,
    ) -> impl Future<Output = Result<Vec<(String, ComponentStatus)>, StoreError>> + Send;

    /// Records a closed period's SLA report (entry type `sla.report`, or an amendment naming the
    /// report it replaces). Returns the record with its log index.
    fn record_sla_report(
        &self,
        component_id: &str,
        period: &str,
        report_json: &str,
        amends: Option<u64>,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<SlaReportRecord, StoreError>> + Send;
    /// Every recorded report of a component for a period, oldest first (the last is in force).
    fn sla_reports(
        &self,
        component_id: &str,
        period: &str,
    ) -> impl Future<Output = Result<Vec<SlaReportRecord>, StoreError>> + Send;
}

// ---- implementation ----
//
// The SQL is the same on both backends (`$N` placeholders, see `identity.rs`), so one macro
// implements the trait for each. Writes that check before they write (an interval to close, a
// window that must not overlap, an idempotency key) hold SQLite's write lock (`BEGIN
// IMMEDIATE`) or, on PostgreSQL, an advisory lock for the whole transaction, so replicas sharing
// one database never both pass the check.

use std::collections::{HashMap, HashSet};

use candor_core::entries::{self, EntryError, timestamp};
use candor_core::status::{IncidentUpdate, SampleOutcome};

use crate::{Store, from_ms, to_ms};

/// Serialises status writers (intervals, incidents, maintenance, overrides, SLA reports) across
/// processes sharing one PostgreSQL database.
const STATUS_LOCK_KEY: i64 = 0x0063_616e_646f_7210; // "candor" + 0x10

/// Rows per multi-row statement: at most 8 bound values per row, far below SQLite's 32,766.
const ROWS_PER_STATEMENT: usize = 1_000;

/// A monitor created through the API.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredMonitor {
    /// Its id.
    pub id: String,
    /// The definition as sent: a JSON object with the keys of a `[[monitors]]` table and the
    /// components it feeds.
    pub definition: String,
    /// SHA-256 (hex) of a heartbeat monitor's push token.
    pub token_hash: Option<String>,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Last replaced.
    pub updated_at: OffsetDateTime,
}

impl std::fmt::Debug for StoredMonitor {
    // The definition may carry request headers with credentials: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredMonitor")
            .field("id", &self.id)
            .field(
                "definition",
                &format_args!("<{} bytes>", self.definition.len()),
            )
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

fn entry_error(e: EntryError) -> StoreError {
    StoreError::Invalid(e.to_string())
}

/// The instant as stored (millisecond precision), so that what a call returns equals what a
/// later read returns.
fn stored(at: OffsetDateTime) -> OffsetDateTime {
    from_ms(to_ms(at))
}

/// A new stable id: 12 characters of lowercase RFC 4648 base32 (60 random bits), the shape of
/// Statuspage's ids.
fn new_id() -> Result<String, StoreError> {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Invalid(format!("no randomness for an id: {e}")))?;
    let mut bits = u64::from_le_bytes(bytes);
    let mut id = String::with_capacity(12);
    for _ in 0..12 {
        id.push(char::from(ALPHABET[(bits & 31) as usize]));
        bits >>= 5;
    }
    Ok(id)
}

fn corrupt<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn count(n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("count {n} is out of range")))
}

fn check_name(what: &str, name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() {
        return Err(StoreError::Invalid(format!("{what} needs a name")));
    }
    Ok(())
}

fn check_distinct<'a>(
    what: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(StoreError::Invalid(format!(
                "{what} names component \"{id}\" twice"
            )));
        }
    }
    Ok(())
}

fn check_ends_after_start(start: OffsetDateTime, end: OffsetDateTime) -> Result<(), StoreError> {
    if end < start {
        return Err(StoreError::Invalid(format!(
            "an incident cannot end ({}) before it starts ({})",
            timestamp(end),
            timestamp(start)
        )));
    }
    Ok(())
}

/// The counts one batch adds to one bucket.
#[derive(Debug, Clone, Copy, Default)]
struct Delta {
    up: i64,
    degraded: i64,
    down: i64,
    in_maintenance: i64,
    latency_sum_ms: i64,
    latency_max_ms: i64,
}

impl Delta {
    fn add(&mut self, sample: &SampleRecord) {
        match sample.outcome {
            SampleOutcome::Up => self.up += 1,
            SampleOutcome::Degraded => self.degraded += 1,
            SampleOutcome::Down => self.down += 1,
        }
        if sample.in_maintenance {
            self.in_maintenance += 1;
        }
        let latency = i64::from(sample.latency_ms);
        self.latency_sum_ms += latency;
        self.latency_max_ms = self.latency_max_ms.max(latency);
    }
}

/// Folds samples into per-bucket deltas for each resolution.
fn fold<'a>(
    samples: impl IntoIterator<Item = &'a SampleRecord>,
) -> [Vec<(&'a str, i64, Delta)>; 3] {
    let resolutions = [Resolution::Minute, Resolution::Hour, Resolution::Day];
    let mut out: [Vec<(&'a str, i64, Delta)>; 3] = Default::default();
    let mut index: [HashMap<(&'a str, i64), usize>; 3] = Default::default();
    for sample in samples {
        let at_ms = to_ms(sample.at);
        for (r, resolution) in resolutions.iter().enumerate() {
            let width = resolution.seconds() * 1_000;
            let bucket = at_ms.div_euclid(width) * width;
            let slot = *index[r]
                .entry((sample.monitor_id.as_str(), bucket))
                .or_insert_with(|| {
                    out[r].push((sample.monitor_id.as_str(), bucket, Delta::default()));
                    out[r].len() - 1
                });
            out[r][slot].2.add(sample);
        }
    }
    // In key order, so that concurrent batches on PostgreSQL lock shared buckets in one order
    // (never a deadlock).
    for deltas in &mut out {
        deltas.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    }
    out
}

fn rollup_table(resolution: Resolution) -> &'static str {
    match resolution {
        Resolution::Minute => "status_rollups_minute",
        Resolution::Hour => "status_rollups_hour",
        Resolution::Day => "status_rollups_day",
    }
}

fn rollups_query(resolution: Resolution) -> &'static str {
    match resolution {
        Resolution::Minute => {
            "SELECT monitor_id, bucket_start_ms, up, degraded, down, in_maintenance, latency_sum_ms, latency_max_ms
             FROM status_rollups_minute WHERE monitor_id = $1 AND bucket_start_ms >= $2 AND bucket_start_ms < $3 ORDER BY bucket_start_ms"
        }
        Resolution::Hour => {
            "SELECT monitor_id, bucket_start_ms, up, degraded, down, in_maintenance, latency_sum_ms, latency_max_ms
             FROM status_rollups_hour WHERE monitor_id = $1 AND bucket_start_ms >= $2 AND bucket_start_ms < $3 ORDER BY bucket_start_ms"
        }
        Resolution::Day => {
            "SELECT monitor_id, bucket_start_ms, up, degraded, down, in_maintenance, latency_sum_ms, latency_max_ms
             FROM status_rollups_day WHERE monitor_id = $1 AND bucket_start_ms >= $2 AND bucket_start_ms < $3 ORDER BY bucket_start_ms"
        }
    }
}

type RollupRow = (String, i64, i64, i64, i64, i64, i64, i64);

fn rollup_from(
    (monitor_id, bucket, up, degraded, down, maint, sum, max): RollupRow,
) -> Result<Rollup, StoreError> {
    Ok(Rollup {
        monitor_id,
        bucket_start: from_ms(bucket),
        up: count(up)?,
        degraded: count(degraded)?,
        down: count(down)?,
        in_maintenance: count(maint)?,
        latency_sum_ms: u64::try_from(sum)
            .map_err(|_| StoreError::Corrupt(format!("latency sum {sum}")))?,
        latency_max_ms: count(max)?,
    })
}

type SampleRow = (String, i64, String, i64, bool, Option<String>);

fn sample_from(
    (monitor_id, at, outcome, latency, in_maintenance, error): SampleRow,
) -> Result<SampleRecord, StoreError> {
    Ok(SampleRecord {
        monitor_id,
        at: from_ms(at),
        outcome: outcome.parse().map_err(corrupt("sample outcome"))?,
        latency_ms: count(latency)?,
        in_maintenance,
        error,
    })
}

type IntervalRow = (String, String, String, i64, Option<i64>, i64);

fn interval_from(
    (kind, id, status, start, end, last_seen): IntervalRow,
) -> Result<StatusInterval, StoreError> {
    Ok(StatusInterval {
        subject: Subject::from_parts(&kind, &id).map_err(corrupt("interval subject"))?,
        status: status.parse().map_err(corrupt("interval status"))?,
        start: from_ms(start),
        end: end.map(from_ms),
        last_seen: from_ms(last_seen),
    })
}

const INCIDENT_COLUMNS: &str = "id, name, status, impact, origin, draft, created_at_ms, updated_at_ms, started_at_ms, monitoring_at_ms, resolved_at_ms";

type IncidentRow = (
    String,
    String,
    String,
    String,
    String,
    bool,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
);
/// (owner id, component id, status, users affected)
type ComponentRow = (String, String, String, Option<i64>);
/// (incident id, update id, status, body, created, display)
type UpdateRow = (String, String, String, String, i64, i64);

fn affected_from(
    component_id: String,
    status: &str,
    users_affected: Option<i64>,
) -> Result<AffectedComponent, StoreError> {
    Ok(AffectedComponent {
        component_id,
        status: status.parse().map_err(corrupt("component status"))?,
        users_affected: users_affected
            .map(|n| {
                u64::try_from(n)
                    .map_err(|_| StoreError::Corrupt(format!("negative users affected {n}")))
            })
            .transpose()?,
    })
}

/// A declared users-affected count as stored (BIGINT); counts are checked against the policy's
/// user count (at most 1,000,000,000) before they get here.
fn users_column(c: &AffectedComponent) -> Option<i64> {
    c.users_affected
        .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

/// Assembles incidents from their rows (in the rows' order); updates come newest first.
fn assemble_incidents(
    rows: Vec<IncidentRow>,
    components: Vec<ComponentRow>,
    updates: Vec<UpdateRow>,
    update_components: Vec<ComponentRow>,
) -> Result<Vec<Incident>, StoreError> {
    let mut affected_by_update: HashMap<String, Vec<AffectedComponent>> = HashMap::new();
    for (update_id, component_id, status, users) in update_components {
        affected_by_update
            .entry(update_id)
            .or_default()
            .push(affected_from(component_id, &status, users)?);
    }
    let mut updates_by_incident: HashMap<String, Vec<IncidentUpdate>> = HashMap::new();
    for (incident_id, id, status, body, created, display) in updates {
        let affected = affected_by_update.remove(&id).unwrap_or_default();
        updates_by_incident
            .entry(incident_id)
            .or_default()
            .push(IncidentUpdate {
                id,
                status: status.parse().map_err(corrupt("update status"))?,
                body,
                created_at: from_ms(created),
                display_at: from_ms(display),
                affected,
            });
    }
    let mut components_by_incident: HashMap<String, Vec<AffectedComponent>> = HashMap::new();
    for (incident_id, component_id, status, users) in components {
        components_by_incident
            .entry(incident_id)
            .or_default()
            .push(affected_from(component_id, &status, users)?);
    }
    rows.into_iter()
        .map(
            |(
                id,
                name,
                status,
                impact,
                origin,
                draft,
                created,
                updated,
                started,
                monitoring,
                resolved,
            )| {
                Ok(Incident {
                    components: components_by_incident.remove(&id).unwrap_or_default(),
                    updates: updates_by_incident.remove(&id).unwrap_or_default(),
                    id,
                    name,
                    status: status.parse().map_err(corrupt("incident status"))?,
                    impact: impact.parse().map_err(corrupt("incident impact"))?,
                    origin: origin.parse().map_err(corrupt("incident origin"))?,
                    draft,
                    created_at: from_ms(created),
                    updated_at: from_ms(updated),
                    started_at: from_ms(started),
                    monitoring_at: monitoring.map(from_ms),
                    resolved_at: resolved.map(from_ms),
                })
            },
        )
        .collect()
}

/// (id, name, body, announced, for, until, completed, updated)
type MaintenanceRow = (String, String, String, i64, i64, i64, Option<i64>, i64);

const MAINTENANCE_COLUMNS: &str = "id, name, body, announced_at_ms, scheduled_for_ms, scheduled_until_ms, completed_at_ms, updated_at_ms";

fn assemble_maintenances(
    rows: Vec<MaintenanceRow>,
    components: Vec<(String, String)>,
) -> Vec<Maintenance> {
    let mut by_id: HashMap<String, Vec<String>> = HashMap::new();
    for (id, component) in components {
        by_id.entry(id).or_default().push(component);
    }
    rows.into_iter()
        .map(
            |(id, name, body, announced, start, until, completed, updated)| Maintenance {
                components: by_id.remove(&id).unwrap_or_default(),
                id,
                name,
                body,
                announced_at: from_ms(announced),
                scheduled_for: from_ms(start),
                scheduled_until: from_ms(until),
                completed_at: completed.map(from_ms),
                updated_at: from_ms(updated),
            },
        )
        .collect()
}

/// (log index, component, period, report, amends, recorded)
type SlaRow = (i64, String, String, String, Option<i64>, i64);

fn sla_from(
    (log_index, component_id, period, report_json, amends, recorded): SlaRow,
) -> Result<SlaReportRecord, StoreError> {
    let index = |n: i64| {
        u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative log index {n}")))
    };
    Ok(SlaReportRecord {
        component_id,
        period,
        report_json,
        amends: amends.map(index).transpose()?,
        log_index: index(log_index)?,
        recorded_at: from_ms(recorded),
    })
}

fn log_index(seq: u64) -> Result<i64, StoreError> {
    crate::log::to_i64(seq)
}

/// What an update does to an incident's lifecycle times: (monitoring_at, resolved_at).
fn lifecycle(
    incident: &Incident,
    status: IncidentStatus,
    display_at: OffsetDateTime,
) -> (Option<OffsetDateTime>, Option<OffsetDateTime>) {
    let monitoring_at =
        if status == IncidentStatus::Monitoring && incident.status != IncidentStatus::Monitoring {
            Some(display_at)
        } else {
            incident.monitoring_at
        };
    let resolved_at = if !status.is_closed() {
        // Reopened (or still open).
        None
    } else {
        Some(incident.resolved_at.unwrap_or(display_at))
    };
    (monitoring_at, resolved_at)
}

async fn lock_sqlite(_tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>) -> Result<(), StoreError> {
    // `BEGIN IMMEDIATE` already holds SQLite's single write lock.
    Ok(())
}

async fn lock_postgres(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(STATUS_LOCK_KEY)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

macro_rules! impl_status {
    ($store:ty, $backend:ident, $module:ident, $lock:ident, $read:ident) => {
        impl $store {
            /// Incidents by id (in the order of `rows`), with components and timelines.
            async fn load_incidents(
                conn: &mut <sqlx::$backend as sqlx::Database>::Connection,
                rows: Vec<IncidentRow>,
            ) -> Result<Vec<Incident>, StoreError> {
                let mut components = Vec::new();
                let mut updates = Vec::new();
                let mut update_components = Vec::new();
                let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
                for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                    let mut q = sqlx::QueryBuilder::<sqlx::$backend>::new(
                        "SELECT incident_id, component_id, status, users_affected FROM incident_components WHERE incident_id IN (",
                    );
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(id);
                    }
                    q.push(") ORDER BY incident_id, position");
                    components.extend(q.build_query_as::<ComponentRow>().fetch_all(&mut *conn).await?);

                    let mut q = sqlx::QueryBuilder::<sqlx::$backend>::new(
                        "SELECT incident_id, id, status, body, created_at_ms, display_at_ms FROM incident_updates WHERE incident_id IN (",
                    );
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(id);
                    }
                    q.push(") ORDER BY display_at_ms DESC, created_at_ms DESC, log_index DESC");
                    updates.extend(q.build_query_as::<UpdateRow>().fetch_all(&mut *conn).await?);

                    let mut q = sqlx::QueryBuilder::<sqlx::$backend>::new(
                        "SELECT c.update_id, c.component_id, c.status, c.users_affected FROM incident_update_components c
                         JOIN incident_updates u ON u.id = c.update_id WHERE u.incident_id IN (",
                    );
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(id);
                    }
                    q.push(") ORDER BY c.update_id, c.position");
                    update_components
                        .extend(q.build_query_as::<ComponentRow>().fetch_all(&mut *conn).await?);
                }
                assemble_incidents(rows, components, updates, update_components)
            }

            async fn load_incident(
                conn: &mut <sqlx::$backend as sqlx::Database>::Connection,
                id: &str,
            ) -> Result<Option<Incident>, StoreError> {
                let row: Option<IncidentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Self::load_incidents(conn, vec![row]).await?.pop())
            }

            async fn load_maintenances(
                conn: &mut <sqlx::$backend as sqlx::Database>::Connection,
                rows: Vec<MaintenanceRow>,
            ) -> Result<Vec<Maintenance>, StoreError> {
                let mut components = Vec::new();
                let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
                for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                    let mut q = sqlx::QueryBuilder::<sqlx::$backend>::new(
                        "SELECT maintenance_id, component_id FROM maintenance_components WHERE maintenance_id IN (",
                    );
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(id);
                    }
                    q.push(") ORDER BY maintenance_id, position");
                    components.extend(
                        q.build_query_as::<(String, String)>().fetch_all(&mut *conn).await?,
                    );
                }
                Ok(assemble_maintenances(rows, components))
            }

            async fn load_maintenance(
                conn: &mut <sqlx::$backend as sqlx::Database>::Connection,
                id: &str,
            ) -> Result<Option<Maintenance>, StoreError> {
                let row: Option<MaintenanceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {MAINTENANCE_COLUMNS} FROM maintenances WHERE id = $1"
                )))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
                let Some(row) = row else { return Ok(None) };
                Ok(Self::load_maintenances(conn, vec![row]).await?.pop())
            }

            /// The subject's open interval: (row id, status, start, last seen).
            async fn open_interval(
                conn: &mut <sqlx::$backend as sqlx::Database>::Connection,
                subject: &Subject,
            ) -> Result<Option<(i64, ComponentStatus, i64, i64)>, StoreError> {
                let row: Option<(i64, String, i64, i64)> = sqlx::query_as(
                    "SELECT id, status, start_ms, last_seen_ms FROM status_intervals
                     WHERE subject_kind = $1 AND subject_id = $2 AND end_ms IS NULL",
                )
                .bind(subject.kind())
                .bind(subject.id())
                .fetch_optional(&mut *conn)
                .await?;
                row.map(|(id, status, start, seen)| {
                    Ok((id, status.parse().map_err(corrupt("interval status"))?, start, seen))
                })
                .transpose()
            }

            /// Closes the open interval `row` at `end_ms`, journalled; returns the entry's index.
            async fn close_open_interval(
                tx: &mut sqlx::Transaction<'static, sqlx::$backend>,
                subject: &Subject,
                (row, status, start): (i64, ComponentStatus, i64),
                end_ms: i64,
                at: OffsetDateTime,
            ) -> Result<u64, StoreError> {
                let entry = entries::status_interval(subject, status, from_ms(start), from_ms(end_ms))
                    .map_err(entry_error)?;
                let seq = crate::$module::append(tx, &entry, at, None).await?;
                sqlx::query(
                    "UPDATE status_intervals SET end_ms = $1, last_seen_ms = $2, log_index = $3 WHERE id = $4",
                )
                .bind(end_ms)
                .bind(end_ms)
                .bind(log_index(seq)?)
                .bind(row)
                .execute(&mut **tx)
                .await?;
                Ok(seq)
            }
        }

        impl StatusStore for $store {
            async fn record_samples(&self, samples: &[SampleRecord]) -> Result<(), StoreError> {
                if samples.is_empty() {
                    return Ok(());
                }
                // A sample is identified by (monitor, start): a repeat within the batch, or of an
                // earlier batch, is stored and counted once.
                let mut seen = HashSet::with_capacity(samples.len());
                let mut unique: Vec<&SampleRecord> = samples
                    .iter()
                    .filter(|s| seen.insert((s.monitor_id.as_str(), to_ms(s.at))))
                    .collect();
                drop(seen);
                // In key order: each monitor's rows land together in the B-tree, and concurrent
                // writers on PostgreSQL take row locks in one order.
                unique.sort_unstable_by(|a, b| {
                    (a.monitor_id.as_str(), to_ms(a.at)).cmp(&(b.monitor_id.as_str(), to_ms(b.at)))
                });
                let mut tx = self.begin_write().await?;
                let mut inserted: Vec<&SampleRecord> = Vec::with_capacity(unique.len());
                for chunk in unique.chunks(ROWS_PER_STATEMENT) {
                    let insert = |returning: bool| {
                        let mut q = sqlx::QueryBuilder::<sqlx::$backend>::new(
                            "INSERT INTO status_samples (monitor_id, at_ms, outcome, latency_ms, in_maintenance, error) ",
                        );
                        q.push_values(chunk, |mut row, sample| {
                            row.push_bind(sample.monitor_id.as_str())
                                .push_bind(to_ms(sample.at))
                                .push_bind(sample.outcome.as_str())
                                .push_bind(i64::from(sample.latency_ms))
                                .push_bind(sample.in_maintenance)
                                .push_bind(sample.error.as_deref());
                        });
                        q.push(" ON CONFLICT (monitor_id, at_ms) DO NOTHING");
                        if returning {
                            q.push(" RETURNING monitor_id, at_ms");
                        }
                        q
                    };
                    // Usually every sample is new: insert them and count. When some were
                    // already stored (a retried batch), undo and insert again, learning which
                    // rows are new, so that only those are counted in the rollups.
                    sqlx::query("SAVEPOINT status_samples").execute(&mut *tx).await?;
                    let added = insert(false).build().execute(&mut *tx).await?.rows_affected();
                    if usize::try_from(added).ok() == Some(chunk.len()) {
                        sqlx::query("RELEASE SAVEPOINT status_samples").execute(&mut *tx).await?;
                        inserted.extend(chunk);
                        continue;
                    }
                    sqlx::query("ROLLBACK TO SAVEPOINT status_samples").execute(&mut *tx).await?;
                    sqlx::query("RELEASE SAVEPOINT status_samples").execute(&mut *tx).await?;
                    let new: Vec<(String, i64)> =
                        insert(true).build_query_as().fetch_all(&mut *tx).await?;
                    let new: HashSet<(String, i64)> = new.into_iter().collect();
                    inserted.extend(
                        chunk
                            .iter()
                            .filter(|s| new.contains(&(s.monitor_id.clone(), to_ms(s.at)))),
                    );
                }
                let folded = fold(inserted.iter().copied());
                for (resolution, deltas) in
                    [Resolution::Minute, Resolution::Hour, Resolution::Day].into_iter().zip(&folded)
                {
                    let table = rollup_table(resolution);
                    for chunk in deltas.chunks(ROWS_PER_STATEMENT) {
                        let mut q = sqlx::QueryBuilder::<sqlx::$backend>::new(format!(
                            "INSERT INTO {table} (monitor_id, bucket_start_ms, up, degraded, down, in_maintenance, latency_sum_ms, latency_max_ms) "
                        ));
                        q.push_values(chunk, |mut row, (monitor, bucket, d)| {
                            row.push_bind(*monitor)
                                .push_bind(*bucket)
                                .push_bind(d.up)
                                .push_bind(d.degraded)
                                .push_bind(d.down)
                                .push_bind(d.in_maintenance)
                                .push_bind(d.latency_sum_ms)
                                .push_bind(d.latency_max_ms);
                        });
                        q.push(format!(
                            " ON CONFLICT (monitor_id, bucket_start_ms) DO UPDATE SET
                               up = {table}.up + excluded.up,
                               degraded = {table}.degraded + excluded.degraded,
                               down = {table}.down + excluded.down,
                               in_maintenance = {table}.in_maintenance + excluded.in_maintenance,
                               latency_sum_ms = {table}.latency_sum_ms + excluded.latency_sum_ms,
                               latency_max_ms = CASE WHEN excluded.latency_max_ms > {table}.latency_max_ms
                                                THEN excluded.latency_max_ms ELSE {table}.latency_max_ms END"
                        ));
                        q.build().execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn samples(
                &self,
                monitor_id: &str,
                from: OffsetDateTime,
                to: OffsetDateTime,
            ) -> Result<Vec<SampleRecord>, StoreError> {
                let rows: Vec<SampleRow> = sqlx::query_as(
                    "SELECT monitor_id, at_ms, outcome, latency_ms, in_maintenance, error FROM status_samples
                     WHERE monitor_id = $1 AND at_ms >= $2 AND at_ms < $3 ORDER BY at_ms",
                )
                .bind(monitor_id)
                .bind(to_ms(from))
                .bind(to_ms(to))
                .fetch_all(&self.$read)
                .await?;
                rows.into_iter().map(sample_from).collect()
            }

            async fn samples_between(
                &self,
                from: OffsetDateTime,
                to: OffsetDateTime,
            ) -> Result<Vec<SampleRecord>, StoreError> {
                let rows: Vec<SampleRow> = sqlx::query_as(
                    "SELECT monitor_id, at_ms, outcome, latency_ms, in_maintenance, error FROM status_samples
                     WHERE at_ms >= $1 AND at_ms < $2 ORDER BY monitor_id, at_ms",
                )
                .bind(to_ms(from))
                .bind(to_ms(to))
                .fetch_all(&self.$read)
                .await?;
                rows.into_iter().map(sample_from).collect()
            }

            async fn rollups(
                &self,
                monitor_id: &str,
                resolution: Resolution,
                from: OffsetDateTime,
                to: OffsetDateTime,
            ) -> Result<Vec<Rollup>, StoreError> {
                let rows: Vec<RollupRow> = sqlx::query_as(rollups_query(resolution))
                    .bind(monitor_id)
                    .bind(to_ms(from))
                    .bind(to_ms(to))
                    .fetch_all(&self.$read)
                    .await?;
                rows.into_iter().map(rollup_from).collect()
            }

            async fn prune(
                &self,
                samples_before: OffsetDateTime,
                minutes_before: OffsetDateTime,
            ) -> Result<Pruned, StoreError> {
                let mut tx = self.begin_write().await?;
                // Per monitor (every monitor that ever sampled has a day rollup), so that each
                // delete is a range of the primary key rather than a scan of every sample.
                let samples = sqlx::query(
                    "DELETE FROM status_samples WHERE monitor_id IN (SELECT DISTINCT monitor_id FROM status_rollups_day)
                     AND at_ms < $1",
                )
                .bind(to_ms(samples_before))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let minute_rollups = sqlx::query(
                    "DELETE FROM status_rollups_minute WHERE monitor_id IN (SELECT DISTINCT monitor_id FROM status_rollups_day)
                     AND bucket_start_ms < $1",
                )
                .bind(to_ms(minutes_before))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(Pruned { samples, minute_rollups })
            }

            async fn open_intervals(&self) -> Result<Vec<StatusInterval>, StoreError> {
                let rows: Vec<IntervalRow> = sqlx::query_as(
                    "SELECT subject_kind, subject_id, status, start_ms, end_ms, last_seen_ms FROM status_intervals
                     WHERE end_ms IS NULL ORDER BY subject_kind, subject_id",
                )
                .fetch_all(&self.$read)
                .await?;
                rows.into_iter().map(interval_from).collect()
            }

            async fn change_status(
                &self,
                subject: &Subject,
                status: ComponentStatus,
                at: OffsetDateTime,
            ) -> Result<Option<u64>, StoreError> {
                let at_ms = to_ms(at);
                let mut tx = self.begin_write().await?;
                $lock(&mut tx).await?;
                let closed = match Self::open_interval(&mut *tx, subject).await? {
                    Some((_, _, start, _)) if at_ms < start => {
                        return Err(StoreError::Invalid(format!(
                            "{subject} cannot change status at {}, before its current status began ({})",
                            timestamp(at),
                            timestamp(from_ms(start))
                        )));
                    }
                    Some((row, current, _, seen)) if current == status => {
                        // No change: the data confirms the open interval.
                        sqlx::query("UPDATE status_intervals SET last_seen_ms = $1 WHERE id = $2")
                            .bind(at_ms.max(seen))
                            .bind(row)
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        return Ok(None);
                    }
                    Some((row, _, start, _)) if at_ms == start => {
                        // The open status lasted no time: it is replaced, nothing is journalled.
                        sqlx::query("UPDATE status_intervals SET status = $1, last_seen_ms = $2 WHERE id = $3")
                            .bind(status.as_str())
                            .bind(at_ms)
                            .bind(row)
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                        return Ok(None);
                    }
                    Some((row, current, start, _)) => Some(
                        Self::close_open_interval(&mut tx, subject, (row, current, start), at_ms, at)
                            .await?,
                    ),
                    None => {
                        let last_end: Option<Option<i64>> = sqlx::query_scalar(
                            "SELECT end_ms FROM status_intervals WHERE subject_kind = $1 AND subject_id = $2
                             ORDER BY start_ms DESC LIMIT 1",
                        )
                        .bind(subject.kind())
                        .bind(subject.id())
                        .fetch_optional(&mut *tx)
                        .await?;
                        if let Some(end) = last_end.flatten().filter(|end| at_ms < *end) {
                            return Err(StoreError::Invalid(format!(
                                "{subject} cannot change status at {}, before its last status ended ({})",
                                timestamp(at),
                                timestamp(from_ms(end))
                            )));
                        }
                        None
                    }
                };
                sqlx::query(
                    "INSERT INTO status_intervals (subject_kind, subject_id, status, start_ms, end_ms, last_seen_ms)
                     VALUES ($1, $2, $3, $4, NULL, $5)",
                )
                .bind(subject.kind())
                .bind(subject.id())
                .bind(status.as_str())
                .bind(at_ms)
                .bind(at_ms)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(closed)
            }

            async fn touch_intervals(
                &self,
                subjects: &[Subject],
                at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                if subjects.is_empty() {
                    return Ok(());
                }
                let at_ms = to_ms(at);
                let mut tx = self.begin_write().await?;
                for chunk in subjects.chunks(ROWS_PER_STATEMENT) {
                    let mut q = sqlx::QueryBuilder::<sqlx::$backend>::new(
                        "UPDATE status_intervals SET last_seen_ms = ",
                    );
                    q.push_bind(at_ms);
                    q.push(" WHERE end_ms IS NULL AND last_seen_ms < ");
                    q.push_bind(at_ms);
                    q.push(" AND (subject_kind, subject_id) IN (");
                    q.push_values(chunk, |mut row, subject| {
                        row.push_bind(subject.kind()).push_bind(subject.id());
                    });
                    q.push(")");
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn close_interval(
                &self,
                subject: &Subject,
                at: OffsetDateTime,
            ) -> Result<Option<u64>, StoreError> {
                let at_ms = to_ms(at);
                let mut tx = self.begin_write().await?;
                $lock(&mut tx).await?;
                let closed = match Self::open_interval(&mut *tx, subject).await? {
                    None => None,
                    Some((_, _, start, _)) if at_ms < start => {
                        return Err(StoreError::Invalid(format!(
                            "{subject} cannot close its status at {}, before it began ({})",
                            timestamp(at),
                            timestamp(from_ms(start))
                        )));
                    }
                    Some((row, _, start, _)) if at_ms == start => {
                        sqlx::query("DELETE FROM status_intervals WHERE id = $1")
                            .bind(row)
                            .execute(&mut *tx)
                            .await?;
                        None
                    }
                    Some((row, current, start, _)) => Some(
                        Self::close_open_interval(&mut tx, subject, (row, current, start), at_ms, at)
                            .await?,
                    ),
                };
                tx.commit().await?;
                Ok(closed)
            }

            async fn intervals(
                &self,
                subject: &Subject,
                from: OffsetDateTime,
                to: OffsetDateTime,
            ) -> Result<Vec<StatusInterval>, StoreError> {
                // Intervals of a subject never overlap, so only the last one starting at or
                // before `from` can reach into the range: the scan starts there.
                let rows: Vec<IntervalRow> = sqlx::query_as(
                    "SELECT subject_kind, subject_id, status, start_ms, end_ms, last_seen_ms FROM status_intervals
                     WHERE subject_kind = $1 AND subject_id = $2 AND start_ms < $3
                       AND start_ms >= COALESCE((SELECT MAX(start_ms) FROM status_intervals
                                                 WHERE subject_kind = $1 AND subject_id = $2 AND start_ms <= $4), $4)
                       AND (end_ms IS NULL OR end_ms > $4)
                     ORDER BY start_ms",
                )
                .bind(subject.kind())
                .bind(subject.id())
                .bind(to_ms(to))
                .bind(to_ms(from))
                .fetch_all(&self.$read)
                .await?;
                rows.into_iter().map(interval_from).collect()
            }

            async fn intervals_of_kind(
                &self,
                kind: &str,
                from: OffsetDateTime,
                to: OffsetDateTime,
            ) -> Result<Vec<StatusInterval>, StoreError> {
                let rows: Vec<IntervalRow> = sqlx::query_as(
                    "SELECT subject_kind, subject_id, status, start_ms, end_ms, last_seen_ms FROM status_intervals
                     WHERE subject_kind = $1 AND start_ms < $2 AND (end_ms IS NULL OR end_ms > $3)
                     ORDER BY subject_id, start_ms",
                )
                .bind(kind)
                .bind(to_ms(to))
                .bind(to_ms(from))
                .fetch_all(&self.$read)
                .await?;
                rows.into_iter().map(interval_from).collect()
            }

            async fn closed_intervals_of_kind(
                &self,
                kind: &str,
                ended_after: OffsetDateTime,
                index_after: Option<u64>,
            ) -> Result<Vec<(u64, StatusInterval)>, StoreError> {
                let after = match index_after {
                    Some(i) => log_index(i)?,
                    None => -1,
                };
                let rows: Vec<(String, String, String, i64, Option<i64>, i64, i64)> = sqlx::query_as(
                    "SELECT subject_kind, subject_id, status, start_ms, end_ms, last_seen_ms, log_index FROM status_intervals
                     WHERE subject_kind = $1 AND end_ms IS NOT NULL AND end_ms > $2 AND log_index > $3
                     ORDER BY log_index",
                )
                .bind(kind)
                .bind(to_ms(ended_after))
                .bind(after)
                .fetch_all(&self.$read)
                .await?;
                rows.into_iter()
                    .map(|(k, id, status, start, end, seen, index)| {
                        let index = u64::try_from(index).map_err(corrupt("interval log index"))?;
                        Ok((index, interval_from((k, id, status, start, end, seen))?))
                    })
                    .collect()
            }

            async fn api_monitors(&self) -> Result<Vec<StoredMonitor>, StoreError> {
                let rows: Vec<(String, String, Option<String>, i64, i64)> = sqlx::query_as(
                    "SELECT id, definition, token_hash, created_at_ms, updated_at_ms FROM api_monitors ORDER BY id",
                )
                .fetch_all(&self.$read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, definition, token_hash, created, updated)| StoredMonitor {
                        id,
                        definition,
                        token_hash,
                        created_at: from_ms(created),
                        updated_at: from_ms(updated),
                    })
                    .collect())
            }

            async fn put_api_monitor(
                &self,
                id: &str,
                definition: &str,
                token_hash: Option<&str>,
                at: OffsetDateTime,
            ) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let existed: Option<String> =
                    sqlx::query_scalar("SELECT id FROM api_monitors WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                sqlx::query(
                    "INSERT INTO api_monitors (id, definition, token_hash, created_at_ms, updated_at_ms) VALUES ($1, $2, $3, $4, $4)
                     ON CONFLICT (id) DO UPDATE SET definition = excluded.definition,
                        token_hash = COALESCE(excluded.token_hash, api_monitors.token_hash),
                        updated_at_ms = excluded.updated_at_ms",
                )
                .bind(id)
                .bind(definition)
                .bind(token_hash)
                .bind(to_ms(at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(existed.is_none())
            }

            async fn delete_api_monitor(&self, id: &str) -> Result<bool, StoreError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM api_monitors WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }

            async fn create_incident(
                &self,
                new: &NewIncident,
                at: OffsetDateTime,
                idempotency_key: Option<&str>,
            ) -> Result<(Incident, bool), StoreError> {
                check_name("an incident", &new.name)?;
                check_distinct("an incident", new.components.iter().map(|c| c.component_id.as_str()))?;
                let started_at = stored(new.started_at);
                let created_at = stored(at);
                let resolved_at = match (new.resolved_at.map(stored), new.status.is_closed()) {
                    (Some(end), true) => Some(end),
                    (None, true) => Some(created_at.max(started_at)),
                    (Some(end), false) => {
                        return Err(StoreError::Invalid(format!(
                            "an incident that ended ({}) must be resolved or postmortem, not {}",
                            timestamp(end),
                            new.status
                        )));
                    }
                    (None, false) => None,
                };
                if let Some(end) = resolved_at {
                    check_ends_after_start(started_at, end)?;
                }
                // The first update is shown when it happened: a closed incident's at its end, a
                // back-filled one's at its start, a live one's when it was written.
                let display_at = match (resolved_at, new.origin) {
                    (Some(end), _) => end,
                    (None, IncidentOrigin::Backfill) => started_at,
                    (None, _) => created_at,
                };
                let mut tx = self.begin_write().await?;
                $lock(&mut tx).await?;
                if let Some(key) = idempotency_key {
                    let existing: Option<String> =
                        sqlx::query_scalar("SELECT id FROM incidents WHERE idempotency_key = $1")
                            .bind(key)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if let Some(id) = existing {
                        let incident = Self::load_incident(&mut *tx, &id)
                            .await?
                            .ok_or_else(|| StoreError::Corrupt(format!("incident {id} vanished")))?;
                        return Ok((incident, false));
                    }
                }
                let update = IncidentUpdate {
                    id: new_id()?,
                    status: new.status,
                    body: new.body.clone(),
                    created_at,
                    display_at,
                    affected: new.components.clone(),
                };
                let incident = Incident {
                    id: new_id()?,
                    name: new.name.clone(),
                    status: new.status,
                    impact: new.impact,
                    origin: new.origin,
                    draft: new.draft,
                    created_at,
                    updated_at: created_at,
                    started_at,
                    monitoring_at: (new.status == IncidentStatus::Monitoring).then_some(display_at),
                    resolved_at,
                    components: new.components.clone(),
                    updates: vec![update],
                };
                let entry = entries::incident_record(&incident, &new.body).map_err(entry_error)?;
                let seq = log_index(crate::$module::append(&mut tx, &entry, at, None).await?)?;
                sqlx::query(
                    "INSERT INTO incidents (id, name, status, impact, origin, draft, created_at_ms, updated_at_ms,
                        started_at_ms, monitoring_at_ms, resolved_at_ms, idempotency_key, log_index)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(&incident.id)
                .bind(&incident.name)
                .bind(incident.status.as_str())
                .bind(incident.impact.as_str())
                .bind(incident.origin.as_str())
                .bind(incident.draft)
                .bind(to_ms(created_at))
                .bind(to_ms(created_at))
                .bind(to_ms(started_at))
                .bind(incident.monitoring_at.map(to_ms))
                .bind(resolved_at.map(to_ms))
                .bind(idempotency_key)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
                for (position, c) in (0i64..).zip(&incident.components) {
                    sqlx::query(
                        "INSERT INTO incident_components (incident_id, component_id, status, position, users_affected) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&incident.id)
                    .bind(&c.component_id)
                    .bind(c.status.as_str())
                    .bind(position)
                    .bind(users_column(c))
                    .execute(&mut *tx)
                    .await?;
                }
                Self::insert_update(&mut tx, &incident.id, &incident.updates[0], None, seq).await?;
                tx.commit().await?;
                Ok((incident, true))
            }

            async fn update_incident(
                &self,
                id: &str,
                new: &NewIncidentUpdate,
                at: OffsetDateTime,
                idempotency_key: Option<&str>,
            ) -> Result<Incident, StoreError> {
                check_distinct("an incident update", new.components.iter().map(|c| c.component_id.as_str()))?;
                let mut tx = self.begin_write().await?;
                $lock(&mut tx).await?;
                if let Some(key) = idempotency_key {
                    let existing: Option<String> = sqlx::query_scalar(
                        "SELECT incident_id FROM incident_updates WHERE idempotency_key = $1",
                    )
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(existing) = existing {
                        return Self::load_incident(&mut *tx, &existing)
                            .await?
                            .ok_or_else(|| StoreError::Corrupt(format!("incident {existing} vanished")));
                    }
                }
                let Some(incident) = Self::load_incident(&mut *tx, id).await? else {
                    return Err(StoreError::NotFound(format!("incident {id}")));
                };
                let display_at = stored(new.display_at);
                let (monitoring_at, resolved_at) = lifecycle(&incident, new.status, display_at);
                if let Some(end) = resolved_at {
                    check_ends_after_start(incident.started_at, end)?;
                }
                let update = IncidentUpdate {
                    id: new_id()?,
                    status: new.status,
                    body: new.body.clone(),
                    created_at: stored(at),
                    display_at,
                    affected: new.components.clone(),
                };
                let entry = entries::incident_update(id, &update).map_err(entry_error)?;
                let seq = log_index(crate::$module::append(&mut tx, &entry, at, None).await?)?;
                Self::insert_update(&mut tx, id, &update, idempotency_key, seq).await?;
                let mut position = i64::try_from(incident.components.len()).unwrap_or(i64::MAX);
                for c in &new.components {
                    let known = incident.components.iter().any(|k| k.component_id == c.component_id);
                    sqlx::query(
                        "INSERT INTO incident_components (incident_id, component_id, status, position, users_affected) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (incident_id, component_id) DO UPDATE SET status = excluded.status, users_affected = excluded.users_affected",
                    )
                    .bind(id)
                    .bind(&c.component_id)
                    .bind(c.status.as_str())
                    .bind(position)
                    .bind(users_column(c))
                    .execute(&mut *tx)
                    .await?;
                    if !known {
                        position += 1;
                    }
                }
                sqlx::query(
                    "UPDATE incidents SET status = $1, monitoring_at_ms = $2, resolved_at_ms = $3, updated_at_ms = $4 WHERE id = $5",
                )
                .bind(new.status.as_str())
                .bind(monitoring_at.map(to_ms))
                .bind(resolved_at.map(to_ms))
                .bind(to_ms(at))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                let updated = Self::load_incident(&mut *tx, id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("incident {id} vanished")))?;
                tx.commit().await?;
                Ok(updated)
            }

            async fn publish_incident(&self, id: &str, at: OffsetDateTime) -> Result<Incident, StoreError> {
                let mut tx = self.begin_write().await?;
                $lock(&mut tx).await?;
                let Some(incident) = Self::load_incident(&mut *tx, id).await? else {
                    return Err(StoreError::NotFound(format!("incident {id}")));
                };
                if !incident.draft {
                    return Ok(incident);
                }
                let entry = entries::incident_publish(id, at).map_err(entry_error)?;
                crate::$module::append(&mut tx, &entry, at, None).await?;
                sqlx::query("UPDATE incidents SET draft = $1, updated_at_ms = $2 WHERE id = $3")
                    .bind(false)
                    .bind(to_ms(at))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let published = Self::load_incident(&mut *tx, id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("incident {id} vanished")))?;
                tx.commit().await?;
                Ok(published)
            }

            async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
                let mut conn = self.$read.acquire().await?;
                Self::load_incident(&mut *conn, id).await
            }

            async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
                let mut conn = self.$read.acquire().await?;
                let rows: Vec<IncidentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {INCIDENT_COLUMNS} FROM incidents
                     WHERE ($1 OR draft = $2)
                       AND ($3 = $4 OR resolved_at_ms IS NULL)
                       AND (resolved_at_ms IS NULL OR resolved_at_ms > $5)
                       AND started_at_ms < $6
                     ORDER BY started_at_ms DESC, created_at_ms DESC, id
                     LIMIT $7"
                )))
                .bind(filter.include_drafts)
                .bind(false)
                .bind(filter.unresolved_only)
                .bind(false)
                .bind(filter.since.map_or(i64::MIN, to_ms))
                .bind(filter.until.map_or(i64::MAX, to_ms))
                .bind(filter.limit.map_or(i64::MAX, i64::from))
                .fetch_all(&mut *conn)
                .await?;
                Self::load_incidents(&mut *conn, rows).await
            }

            async fn schedule_maintenance(
                &self,
                new: &NewMaintenance,
                at: OffsetDateTime,
                idempotency_key: Option<&str>,
            ) -> Result<(Maintenance, bool), StoreError> {
                check_name("a maintenance", &new.name)?;
                check_distinct("a maintenance", new.components.iter().map(String::as_str))?;
                let (start, until) = (stored(new.scheduled_for), stored(new.scheduled_until));
                if until <= start {
                    return Err(StoreError::Invalid(format!(
                        "a maintenance window must end ({}) after it starts ({})",
                        timestamp(until),
                        timestamp(start)
                    )));
                }
                let mut tx = self.begin_write().await?;
                $lock(&mut tx).await?;
                if let Some(key) = idempotency_key {
                    let existing: Option<String> =
                        sqlx::query_scalar("SELECT id FROM maintenances WHERE idempotency_key = $1")
                            .bind(key)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if let Some(id) = existing {
                        let maintenance = Self::load_maintenance(&mut *tx, &id)
                            .await?
                            .ok_or_else(|| StoreError::Corrupt(format!("maintenance {id} vanished")))?;
                        return Ok((maintenance, false));
                    }
                }
                for chunk in new.components.chunks(ROWS_PER_STATEMENT) {
                    let mut q = sqlx::QueryBuilder::<sqlx::$backend>::new(
                        "SELECT m.id, m.name, m.scheduled_for_ms, m.scheduled_until_ms, m.completed_at_ms, c.component_id
                         FROM maintenances m JOIN maintenance_components c ON c.maintenance_id = m.id
                         WHERE m.scheduled_for_ms < ",
                    );
                    q.push_bind(to_ms(until));
                    q.push(" AND m.scheduled_until_ms > ");
                    q.push_bind(to_ms(start));
                    q.push(" AND c.component_id IN (");
                    let mut list = q.separated(", ");
                    for component in chunk {
                        list.push_bind(component.as_str());
                    }
                    q.push(") ORDER BY m.scheduled_for_ms, m.id");
                    let rows: Vec<(String, String, i64, i64, Option<i64>, String)> =
                        q.build_query_as().fetch_all(&mut *tx).await?;
                    for (id, name, other_for, other_until, completed, component) in rows {
                        let other_end = match completed {
                            Some(c) if c < other_until => c.max(other_for),
                            _ => other_until,
                        };
                        if other_end > to_ms(start) {
                            return Err(StoreError::Conflict(format!(
                                "component \"{component}\" is already in maintenance \"{name}\" ({id}) from {} to {}; windows of one component cannot overlap",
                                timestamp(from_ms(other_for)),
                                timestamp(from_ms(other_end))
                            )));
                        }
                    }
                }
                let maintenance = Maintenance {
                    id: new_id()?,
                    name: new.name.clone(),
                    body: new.body.clone(),
                    components: new.components.clone(),
                    announced_at: stored(at),
                    scheduled_for: start,
                    scheduled_until: until,
                    completed_at: None,
                    updated_at: stored(at),
                };
                let entry = entries::maintenance_record(&maintenance).map_err(entry_error)?;
                let seq = log_index(crate::$module::append(&mut tx, &entry, at, None).await?)?;
                sqlx::query(
                    "INSERT INTO maintenances (id, name, body, announced_at_ms, scheduled_for_ms, scheduled_until_ms,
                        completed_at_ms, updated_at_ms, idempotency_key, log_index)
                     VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9)",
                )
                .bind(&maintenance.id)
                .bind(&maintenance.name)
                .bind(&maintenance.body)
                .bind(to_ms(at))
                .bind(to_ms(start))
                .bind(to_ms(until))
                .bind(to_ms(at))
                .bind(idempotency_key)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
                for (position, component) in (0i64..).zip(&maintenance.components) {
                    sqlx::query(
                        "INSERT INTO maintenance_components (maintenance_id, component_id, position) VALUES ($1, $2, $3)",
                    )
                    .bind(&maintenance.id)
                    .bind(component)
                    .bind(position)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok((maintenance, true))
            }

            async fn complete_maintenance(&self, id: &str, at: OffsetDateTime) -> Result<Maintenance, StoreError> {
                let mut tx = self.begin_write().await?;
                $lock(&mut tx).await?;
                let Some(maintenance) = Self::load_maintenance(&mut *tx, id).await? else {
                    return Err(StoreError::NotFound(format!("maintenance {id}")));
                };
                if maintenance.completed_at.is_some() {
                    return Ok(maintenance);
                }
                let entry = entries::maintenance_complete(id, at).map_err(entry_error)?;
                crate::$module::append(&mut tx, &entry, at, None).await?;
                sqlx::query("UPDATE maintenances SET completed_at_ms = $1, updated_at_ms = $2 WHERE id = $3")
                    .bind(to_ms(at))
                    .bind(to_ms(at))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Maintenance {
                    completed_at: Some(stored(at)),
                    updated_at: stored(at),
                    ..maintenance
                })
            }

            async fn maintenances(
                &self,
                from: OffsetDateTime,
                to: OffsetDateTime,
            ) -> Result<Vec<Maintenance>, StoreError> {
                let mut conn = self.$read.acquire().await?;
                let rows: Vec<MaintenanceRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {MAINTENANCE_COLUMNS} FROM maintenances
                     WHERE scheduled_until_ms > $1 AND scheduled_for_ms < $2 ORDER BY scheduled_for_ms, id"
                )))
                .bind(to_ms(from))
                .bind(to_ms(to))
                .fetch_all(&mut *conn)
                .await?;
                let mut windows = Self::load_maintenances(&mut *conn, rows).await?;
                // A window completed early ends then.
                windows.retain(|m| m.effective_end() > from);
                Ok(windows)
            }

            async fn set_component_override(
                &self,
                component_id: &str,
                status: Option<ComponentStatus>,
                at: OffsetDateTime,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                $lock(&mut tx).await?;
                let current: Option<String> =
                    sqlx::query_scalar("SELECT status FROM component_overrides WHERE component_id = $1")
                        .bind(component_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if current.as_deref() == status.map(ComponentStatus::as_str) {
                    return Ok(());
                }
                let entry = entries::component_override(component_id, status, at).map_err(entry_error)?;
                crate::$module::append(&mut tx, &entry, at, None).await?;
                match status {
                    Some(status) => {
                        sqlx::query(
                            "INSERT INTO component_overrides (component_id, status, set_at_ms) VALUES ($1, $2, $3)
                             ON CONFLICT (component_id) DO UPDATE SET status = excluded.status, set_at_ms = excluded.set_at_ms",
                        )
                        .bind(component_id)
                        .bind(status.as_str())
                        .bind(to_ms(at))
                        .execute(&mut *tx)
                        .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM component_overrides WHERE component_id = $1")
                            .bind(component_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn component_overrides(&self) -> Result<Vec<(String, ComponentStatus)>, StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT component_id, status FROM component_overrides ORDER BY component_id",
                )
                .fetch_all(&self.$read)
                .await?;
                rows.into_iter()
                    .map(|(id, status)| Ok((id, status.parse().map_err(corrupt("override status"))?)))
                    .collect()
            }

            async fn record_sla_report(
                &self,
                component_id: &str,
                period: &str,
                report_json: &str,
                amends: Option<u64>,
                at: OffsetDateTime,
            ) -> Result<SlaReportRecord, StoreError> {
                if component_id.is_empty() || period.is_empty() {
                    return Err(StoreError::Invalid("an SLA report needs a component and a period".into()));
                }
                let report_json = entries::canonical_object(report_json).map_err(entry_error)?;
                let mut tx = self.begin_write().await?;
                $lock(&mut tx).await?;
                let latest: Option<SlaRow> = sqlx::query_as(
                    "SELECT log_index, component_id, period, report_json, amends_index, recorded_at_ms FROM sla_reports
                     WHERE component_id = $1 AND period = $2 ORDER BY log_index DESC LIMIT 1",
                )
                .bind(component_id)
                .bind(period)
                .fetch_optional(&mut *tx)
                .await?;
                let latest = latest.map(sla_from).transpose()?;
                match (&latest, amends) {
                    // A retry of the call that recorded the report in force.
                    (Some(l), _) if l.report_json == report_json && l.amends == amends => {
                        return Ok(l.clone());
                    }
                    (None, None) => {}
                    (Some(l), Some(a)) if l.log_index == a => {}
                    (Some(l), None) => {
                        return Err(StoreError::Conflict(format!(
                            "the SLA report of {component_id} for {period} is already recorded (log index {}); an amendment names it",
                            l.log_index
                        )));
                    }
                    (Some(l), Some(a)) => {
                        return Err(StoreError::Conflict(format!(
                            "the SLA report of {component_id} for {period} in force is log index {}, not {a}; an amendment names the report it replaces",
                            l.log_index
                        )));
                    }
                    (None, Some(a)) => {
                        return Err(StoreError::Invalid(format!(
                            "there is no SLA report of {component_id} for {period} to amend (log index {a})"
                        )));
                    }
                }
                let entry = entries::sla_report(component_id, period, &report_json, amends)
                    .map_err(entry_error)?;
                let seq = crate::$module::append(&mut tx, &entry, at, None).await?;
                sqlx::query(
                    "INSERT INTO sla_reports (log_index, component_id, period, report_json, amends_index, recorded_at_ms)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(log_index(seq)?)
                .bind(component_id)
                .bind(period)
                .bind(&report_json)
                .bind(amends.map(log_index).transpose()?)
                .bind(to_ms(at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(SlaReportRecord {
                    component_id: component_id.to_owned(),
                    period: period.to_owned(),
                    report_json,
                    amends,
                    log_index: seq,
                    recorded_at: stored(at),
                })
            }

            async fn sla_reports(
                &self,
                component_id: &str,
                period: &str,
            ) -> Result<Vec<SlaReportRecord>, StoreError> {
                let rows: Vec<SlaRow> = sqlx::query_as(
                    "SELECT log_index, component_id, period, report_json, amends_index, recorded_at_ms FROM sla_reports
                     WHERE component_id = $1 AND period = $2 ORDER BY log_index",
                )
                .bind(component_id)
                .bind(period)
                .fetch_all(&self.$read)
                .await?;
                rows.into_iter().map(sla_from).collect()
            }
        }

        impl $store {
            async fn insert_update(
                tx: &mut sqlx::Transaction<'static, sqlx::$backend>,
                incident_id: &str,
                update: &IncidentUpdate,
                idempotency_key: Option<&str>,
                log_index: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO incident_updates (id, incident_id, status, body, created_at_ms, display_at_ms, idempotency_key, log_index)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&update.id)
                .bind(incident_id)
                .bind(update.status.as_str())
                .bind(&update.body)
                .bind(to_ms(update.created_at))
                .bind(to_ms(update.display_at))
                .bind(idempotency_key)
                .bind(log_index)
                .execute(&mut **tx)
                .await?;
                for (position, c) in (0i64..).zip(&update.affected) {
                    sqlx::query(
                        "INSERT INTO incident_update_components (update_id, component_id, status, position, users_affected) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&update.id)
                    .bind(&c.component_id)
                    .bind(c.status.as_str())
                    .bind(position)
                    .bind(users_column(c))
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }
        }
    };
}

impl_status!(
    crate::sqlite::SqliteStore,
    Sqlite,
    sqlite,
    lock_sqlite,
    readers
);
impl_status!(
    crate::postgres::PgStore,
    Postgres,
    postgres,
    lock_postgres,
    pool
);

macro_rules! delegate {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Sqlite(s) => s.$method($($arg),*).await,
            Store::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl StatusStore for Store {
    async fn record_samples(&self, samples: &[SampleRecord]) -> Result<(), StoreError> {
        delegate!(self, record_samples(samples))
    }
    async fn samples(
        &self,
        monitor_id: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<SampleRecord>, StoreError> {
        delegate!(self, samples(monitor_id, from, to))
    }
    async fn rollups(
        &self,
        monitor_id: &str,
        resolution: Resolution,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Rollup>, StoreError> {
        delegate!(self, rollups(monitor_id, resolution, from, to))
    }
    async fn prune(
        &self,
        samples_before: OffsetDateTime,
        minutes_before: OffsetDateTime,
    ) -> Result<Pruned, StoreError> {
        delegate!(self, prune(samples_before, minutes_before))
    }
    async fn open_intervals(&self) -> Result<Vec<StatusInterval>, StoreError> {
        delegate!(self, open_intervals())
    }
    async fn change_status(
        &self,
        subject: &Subject,
        status: ComponentStatus,
        at: OffsetDateTime,
    ) -> Result<Option<u64>, StoreError> {
        delegate!(self, change_status(subject, status, at))
    }
    async fn touch_intervals(
        &self,
        subjects: &[Subject],
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, touch_intervals(subjects, at))
    }
    async fn close_interval(
        &self,
        subject: &Subject,
        at: OffsetDateTime,
    ) -> Result<Option<u64>, StoreError> {
        delegate!(self, close_interval(subject, at))
    }
    async fn intervals(
        &self,
        subject: &Subject,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<StatusInterval>, StoreError> {
        delegate!(self, intervals(subject, from, to))
    }
    async fn intervals_of_kind(
        &self,
        kind: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<StatusInterval>, StoreError> {
        delegate!(self, intervals_of_kind(kind, from, to))
    }
    async fn closed_intervals_of_kind(
        &self,
        kind: &str,
        ended_after: OffsetDateTime,
        index_after: Option<u64>,
    ) -> Result<Vec<(u64, StatusInterval)>, StoreError> {
        delegate!(
            self,
            closed_intervals_of_kind(kind, ended_after, index_after)
        )
    }
    async fn api_monitors(&self) -> Result<Vec<StoredMonitor>, StoreError> {
        delegate!(self, api_monitors())
    }
    async fn samples_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<SampleRecord>, StoreError> {
        delegate!(self, samples_between(from, to))
    }
    async fn put_api_monitor(
        &self,
        id: &str,
        definition: &str,
        token_hash: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        delegate!(self, put_api_monitor(id, definition, token_hash, at))
    }
    async fn delete_api_monitor(&self, id: &str) -> Result<bool, StoreError> {
        delegate!(self, delete_api_monitor(id))
    }
    async fn create_incident(
        &self,
        incident: &NewIncident,
        at: OffsetDateTime,
        idempotency_key: Option<&str>,
    ) -> Result<(Incident, bool), StoreError> {
        delegate!(self, create_incident(incident, at, idempotency_key))
    }
    async fn update_incident(
        &self,
        id: &str,
        update: &NewIncidentUpdate,
        at: OffsetDateTime,
        idempotency_key: Option<&str>,
    ) -> Result<Incident, StoreError> {
        delegate!(self, update_incident(id, update, at, idempotency_key))
    }
    async fn publish_incident(&self, id: &str, at: OffsetDateTime) -> Result<Incident, StoreError> {
        delegate!(self, publish_incident(id, at))
    }
    async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        delegate!(self, incident(id))
    }
    async fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>, StoreError> {
        delegate!(self, incidents(filter))
    }
    async fn schedule_maintenance(
        &self,
        maintenance: &NewMaintenance,
        at: OffsetDateTime,
        idempotency_key: Option<&str>,
    ) -> Result<(Maintenance, bool), StoreError> {
        delegate!(self, schedule_maintenance(maintenance, at, idempotency_key))
    }
    async fn complete_maintenance(
        &self,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<Maintenance, StoreError> {
        delegate!(self, complete_maintenance(id, at))
    }
    async fn maintenances(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Maintenance>, StoreError> {
        delegate!(self, maintenances(from, to))
    }
    async fn set_component_override(
        &self,
        component_id: &str,
        status: Option<ComponentStatus>,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        delegate!(self, set_component_override(component_id, status, at))
    }
    async fn component_overrides(&self) -> Result<Vec<(String, ComponentStatus)>, StoreError> {
        delegate!(self, component_overrides())
    }
    async fn record_sla_report(
        &self,
        component_id: &str,
        period: &str,
        report_json: &str,
        amends: Option<u64>,
        at: OffsetDateTime,
    ) -> Result<SlaReportRecord, StoreError> {
        delegate!(
            self,
            record_sla_report(component_id, period, report_json, amends, at)
        )
    }
    async fn sla_reports(
        &self,
        component_id: &str,
        period: &str,
    ) -> Result<Vec<SlaReportRecord>, StoreError> {
        delegate!(self, sla_reports(component_id, period))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_are_twelve_lowercase_base32_characters() {
        let a = new_id().unwrap();
        assert_eq!(a.len(), 12);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || ('2'..='7').contains(&c))
        );
        assert_ne!(a, new_id().unwrap());
    }

    #[test]
    fn samples_fold_into_aligned_buckets() {
        use time::macros::datetime;
        let sample = |at, outcome, latency| SampleRecord {
            monitor_id: "m".into(),
            at,
            outcome,
            latency_ms: latency,
            in_maintenance: false,
            error: None,
        };
        let samples = [
            sample(datetime!(2026-10-01 10:00:30 UTC), SampleOutcome::Up, 10),
            sample(
                datetime!(2026-10-01 10:00:59.999 UTC),
                SampleOutcome::Down,
                30,
            ),
            sample(
                datetime!(2026-10-01 10:01:00 UTC),
                SampleOutcome::Degraded,
                20,
            ),
        ];
        let [minutes, hours, days] = fold(&samples);
        assert_eq!(minutes.len(), 2);
        assert_eq!(minutes[0].1, to_ms(datetime!(2026-10-01 10:00 UTC)));
        assert_eq!(
            (
                minutes[0].2.up,
                minutes[0].2.down,
                minutes[0].2.latency_max_ms
            ),
            (1, 1, 30)
        );
        assert_eq!(hours.len(), 1);
        assert_eq!(hours[0].2.latency_sum_ms, 60);
        assert_eq!(days[0].1, to_ms(datetime!(2026-10-01 0:00 UTC)));
    }
}
