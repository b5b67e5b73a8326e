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
