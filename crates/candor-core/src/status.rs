//! Transparent operations: the vocabulary of the status page, incidents, scheduled maintenance
//! and the samples and intervals behind SLA figures. Names and enum spellings follow Atlassian
//! Statuspage's public API, so `/api/v2` can map them one to one.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::sla::Impact;

/// A component's status (Statuspage's enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ComponentStatus {
    /// Working normally.
    Operational,
    /// Slower than it should be.
    DegradedPerformance,
    /// Partly unavailable.
    PartialOutage,
    /// Unavailable.
    MajorOutage,
    /// In an announced maintenance window.
    UnderMaintenance,
}

impl ComponentStatus {
    /// Every status, from best to worst (maintenance last).
    pub const ALL: [ComponentStatus; 5] = [
        ComponentStatus::Operational,
        ComponentStatus::DegradedPerformance,
        ComponentStatus::PartialOutage,
        ComponentStatus::MajorOutage,
        ComponentStatus::UnderMaintenance,
    ];

    /// The wire spelling (`partial_outage`).
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::DegradedPerformance => "degraded_performance",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
            ComponentStatus::UnderMaintenance => "under_maintenance",
        }
    }

    /// How a visitor reads it ("Partial outage").
    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
            ComponentStatus::UnderMaintenance => "Under maintenance",
        }
    }

    /// What it weighs in the SLA engine; None for maintenance (handled as an exclusion).
    pub fn impact(self) -> Option<Impact> {
        match self {
            ComponentStatus::Operational => Some(Impact::Operational),
            ComponentStatus::DegradedPerformance => Some(Impact::Degraded),
            ComponentStatus::PartialOutage => Some(Impact::Partial),
            ComponentStatus::MajorOutage => Some(Impact::Major),
            ComponentStatus::UnderMaintenance => None,
        }
    }

    /// Severity for "the worst of": maintenance ranks above operational and below any trouble.
    pub fn severity(self) -> u8 {
        match self {
            ComponentStatus::Operational => 0,
            ComponentStatus::UnderMaintenance => 1,
            ComponentStatus::DegradedPerformance => 2,
            ComponentStatus::PartialOutage => 3,
            ComponentStatus::MajorOutage => 4,
        }
    }

    /// The worse of two statuses.
    pub fn worst(self, other: ComponentStatus) -> ComponentStatus {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for ComponentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ComponentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ComponentStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "\"{s}\" is not a component status; use operational, degraded_performance, partial_outage, major_outage or under_maintenance"
                )
            })
    }
}

/// An incident's impact (Statuspage's enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IncidentImpact {
    /// No visible impact.
    None,
    /// Minor.
    Minor,
    /// Major.
    Major,
    /// Critical.
    Critical,
}

impl IncidentImpact {
    /// Every impact, least first.
    pub const ALL: [IncidentImpact; 4] = [
        IncidentImpact::None,
        IncidentImpact::Minor,
        IncidentImpact::Major,
        IncidentImpact::Critical,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentImpact::None => "none",
            IncidentImpact::Minor => "minor",
            IncidentImpact::Major => "major",
            IncidentImpact::Critical => "critical",
        }
    }

    /// The component status an incident of this impact implies for the components it names
    /// without a status of their own (used when downtime comes from declared incidents).
    pub fn implied_component_status(self) -> ComponentStatus {
        match self {
            IncidentImpact::None => ComponentStatus::Operational,
            IncidentImpact::Minor => ComponentStatus::DegradedPerformance,
            IncidentImpact::Major => ComponentStatus::PartialOutage,
            IncidentImpact::Critical => ComponentStatus::MajorOutage,
        }
    }
}

impl fmt::Display for IncidentImpact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentImpact {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        IncidentImpact::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!("\"{s}\" is not an incident impact; use none, minor, major or critical")
            })
    }
}

/// Where an incident is in its life (Statuspage's enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IncidentStatus {
    /// Something is wrong; the cause is being looked for.
    Investigating,
    /// The cause is known.
    Identified,
    /// A fix is in; watching.
    Monitoring,
    /// Over.
    Resolved,
    /// Over, with a written analysis.
    Postmortem,
}

impl IncidentStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [IncidentStatus; 5] = [
        IncidentStatus::Investigating,
        IncidentStatus::Identified,
        IncidentStatus::Monitoring,
        IncidentStatus::Resolved,
        IncidentStatus::Postmortem,
    ];

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Identified => "identified",
            IncidentStatus::Monitoring => "monitoring",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Postmortem => "postmortem",
        }
    }

    /// How a visitor reads it.
    pub fn label(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::Identified => "Identified",
            IncidentStatus::Monitoring => "Monitoring",
            IncidentStatus::Resolved => "Resolved",
            IncidentStatus::Postmortem => "Postmortem",
        }
    }

    /// Whether the incident is over (resolved or postmortem).
    pub fn is_closed(self) -> bool {
        matches!(self, IncidentStatus::Resolved | IncidentStatus::Postmortem)
    }
}

impl fmt::Display for IncidentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IncidentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        IncidentStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "\"{s}\" is not an incident status; use investigating, identified, monitoring, resolved or postmortem"
                )
            })
    }
}

/// A scheduled maintenance's status (Statuspage's enum), derived from its window and the clock
/// unless an operator completed it early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MaintenanceStatus {
    /// Announced, not started.
    Scheduled,
    /// The window is open.
    InProgress,
    /// Work done, being checked.
    Verifying,
    /// Over.
    Completed,
}

impl MaintenanceStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MaintenanceStatus::Scheduled => "scheduled",
            MaintenanceStatus::InProgress => "in_progress",
            MaintenanceStatus::Verifying => "verifying",
            MaintenanceStatus::Completed => "completed",
        }
    }
}

impl fmt::Display for MaintenanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a probe found, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleOutcome {
    /// Conditions passed in time.
    Up,
    /// Conditions passed, slower than the monitor's latency threshold.
    Degraded,
    /// A condition failed or the probe errored.
    Down,
}

impl SampleOutcome {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SampleOutcome::Up => "up",
            SampleOutcome::Degraded => "degraded",
            SampleOutcome::Down => "down",
        }
    }
}

impl FromStr for SampleOutcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "up" => Ok(SampleOutcome::Up),
            "degraded" => Ok(SampleOutcome::Degraded),
            "down" => Ok(SampleOutcome::Down),
            _ => Err(format!(
                "\"{s}\" is not a sample outcome (up, degraded, down)"
            )),
        }
    }
}

/// One probe result as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRecord {
    /// The monitor's id.
    pub monitor_id: String,
    /// When the probe started.
    pub at: OffsetDateTime,
    /// What it found.
    pub outcome: SampleOutcome,
    /// How long it took, in milliseconds.
    pub latency_ms: u32,
    /// Whether it fell in an announced maintenance window of a component the monitor feeds.
    pub in_maintenance: bool,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// What a status interval is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// A monitor, by id.
    Monitor(String),
    /// A component, by id.
    Component(String),
}

impl Subject {
    /// `monitor` or `component`.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Monitor(_) => "monitor",
            Subject::Component(_) => "component",
        }
    }

    /// The id.
    pub fn id(&self) -> &str {
        match self {
            Subject::Monitor(id) | Subject::Component(id) => id,
        }
    }

    /// Builds one from its kind and id.
    pub fn from_parts(kind: &str, id: &str) -> Result<Subject, String> {
        match kind {
            "monitor" => Ok(Subject::Monitor(id.to_owned())),
            "component" => Ok(Subject::Component(id.to_owned())),
            _ => Err(format!(
                "\"{kind}\" is not a subject kind (monitor, component)"
            )),
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.id())
    }
}

/// A span during which a monitor or component had one status. Intervals only cover time with
/// data: a gap (the server was down, no samples) is a gap, never invented availability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusInterval {
    /// Whose status.
    pub subject: Subject,
    /// The status.
    pub status: ComponentStatus,
    /// Inclusive start.
    pub start: OffsetDateTime,
    /// Exclusive end; None while it is the current status.
    pub end: Option<OffsetDateTime>,
    /// For an open interval, the last time data confirmed it.
    pub last_seen: OffsetDateTime,
}

/// A component's status as set on one incident or incident update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffectedComponent {
    /// The component's id.
    pub component_id: String,
    /// Its status during the incident.
    pub status: ComponentStatus,
    /// How many of the component's users it affected, when declared (for the user-minute
    /// formula; at most the user count of the component's SLA policy).
    pub users_affected: Option<u64>,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentUpdate {
    /// Stable id (never reused).
    pub id: String,
    /// The incident's status from this update on.
    pub status: IncidentStatus,
    /// What was said (Markdown, public).
    pub body: String,
    /// When it was written.
    pub created_at: OffsetDateTime,
    /// When it is shown as having happened (back-filled updates carry the past time).
    pub display_at: OffsetDateTime,
    /// Component statuses this update set.
    pub affected: Vec<AffectedComponent>,
}

/// How an incident came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentOrigin {
    /// Opened by an operator as it happened.
    Operator,
    /// Drafted by a monitor going down.
    Monitor,
    /// Back-filled after the fact with explicit start and end.
    Backfill,
}

impl IncidentOrigin {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentOrigin::Operator => "operator",
            IncidentOrigin::Monitor => "monitor",
            IncidentOrigin::Backfill => "backfill",
        }
    }
}

impl FromStr for IncidentOrigin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "operator" => Ok(IncidentOrigin::Operator),
            "monitor" => Ok(IncidentOrigin::Monitor),
            "backfill" => Ok(IncidentOrigin::Backfill),
            _ => Err(format!(
                "\"{s}\" is not an incident origin (operator, monitor, backfill)"
            )),
        }
    }
}

/// An incident with its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Stable id (never reused, the same across restarts).
    pub id: String,
    /// Title.
    pub name: String,
    /// Current status (that of the latest update).
    pub status: IncidentStatus,
    /// Impact.
    pub impact: IncidentImpact,
    /// How it came to be.
    pub origin: IncidentOrigin,
    /// A draft is not public until an operator publishes it.
    pub draft: bool,
    /// When the record was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
    /// When the trouble started (may precede `created_at` for back-filled incidents).
    pub started_at: OffsetDateTime,
    /// When it entered `monitoring`, if it did.
    pub monitoring_at: Option<OffsetDateTime>,
    /// When it was resolved.
    pub resolved_at: Option<OffsetDateTime>,
    /// Components affected, with the status the incident gives them (latest update wins).
    pub components: Vec<AffectedComponent>,
    /// The timeline, newest first (as Statuspage lists it).
    pub updates: Vec<IncidentUpdate>,
}

/// A scheduled maintenance window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maintenance {
    /// Stable id.
    pub id: String,
    /// Title.
    pub name: String,
    /// What will happen (Markdown, public).
    pub body: String,
    /// Components in the window.
    pub components: Vec<String>,
    /// When it was announced (recorded in the log, so "announced in advance" is provable).
    pub announced_at: OffsetDateTime,
    /// Window start.
    pub scheduled_for: OffsetDateTime,
    /// Window end.
    pub scheduled_until: OffsetDateTime,
    /// Set when an operator completed it before `scheduled_until`.
    pub completed_at: Option<OffsetDateTime>,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

impl Maintenance {
    /// Its status at `now`.
    pub fn status_at(&self, now: OffsetDateTime) -> MaintenanceStatus {
        if self.completed_at.is_some_and(|c| c <= now) || now >= self.scheduled_until {
            MaintenanceStatus::Completed
        } else if now >= self.scheduled_for {
            MaintenanceStatus::InProgress
        } else {
            MaintenanceStatus::Scheduled
        }
    }

    /// When the window actually ends (early completion shortens it).
    pub fn effective_end(&self) -> OffsetDateTime {
        match self.completed_at {
            Some(c) if c < self.scheduled_until => c.max(self.scheduled_for),
            _ => self.scheduled_until,
        }
    }

    /// Whether it was announced before its window opened.
    pub fn announced_in_advance(&self) -> bool {
        self.announced_at < self.scheduled_for
    }
}

/// The page's overall indicator, derived as Statuspage derives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageIndicator {
    /// All systems operational.
    None,
    /// Minor trouble.
    Minor,
    /// Major trouble.
    Major,
    /// Critical trouble.
    Critical,
    /// Maintenance in progress, nothing else wrong.
    Maintenance,
}

impl PageIndicator {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PageIndicator::None => "none",
            PageIndicator::Minor => "minor",
            PageIndicator::Major => "major",
            PageIndicator::Critical => "critical",
            PageIndicator::Maintenance => "maintenance",
        }
    }

    /// Statuspage's description of it.
    pub fn description(self) -> &'static str {
        match self {
            PageIndicator::None => "All Systems Operational",
            PageIndicator::Minor => "Minor Service Outage",
            PageIndicator::Major => "Partial System Outage",
            PageIndicator::Critical => "Major Service Outage",
            PageIndicator::Maintenance => "Service Under Maintenance",
        }
    }

    /// The indicator for these component statuses and the impacts of unresolved incidents: the
    /// worse of what the components say (degraded → minor, partial outage → major, major
    /// outage → critical) and the worst open incident's impact; maintenance only when nothing
    /// else is wrong.
    pub fn derive(
        components: impl IntoIterator<Item = ComponentStatus>,
        open_incident_impacts: impl IntoIterator<Item = IncidentImpact>,
    ) -> PageIndicator {
        let mut rank = 0u8;
        let mut maintenance = false;
        for status in components {
            rank = rank.max(match status {
                ComponentStatus::Operational => 0,
                ComponentStatus::UnderMaintenance => {
                    maintenance = true;
                    0
                }
                ComponentStatus::DegradedPerformance => 1,
                ComponentStatus::PartialOutage => 2,
                ComponentStatus::MajorOutage => 3,
            });
        }
        for impact in open_incident_impacts {
            rank = rank.max(match impact {
                IncidentImpact::None => 0,
                IncidentImpact::Minor => 1,
                IncidentImpact::Major => 2,
                IncidentImpact::Critical => 3,
            });
        }
        match rank {
            0 if maintenance => PageIndicator::Maintenance,
            0 => PageIndicator::None,
            1 => PageIndicator::Minor,
            2 => PageIndicator::Major,
            _ => PageIndicator::Critical,
        }
    }
}

/// What opens an incident when a component's monitors go down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncidentPolicy {
    /// Draft an incident for an operator to approve (the default).
    #[default]
    Draft,
    /// Publish the incident at once.
    Publish,
    /// Open nothing.
    Off,
}

/// A component as declared in `[[components]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSpec {
    /// Stable id (`[a-z0-9-]`), used in URLs and the API.
    pub id: String,
    /// What visitors see.
    pub name: String,
    /// One line about it.
    pub description: Option<String>,
    /// The group it belongs to, by id.
    pub group: Option<String>,
    /// Monitors whose state makes its status.
    pub monitors: Vec<String>,
    /// Order on the page (declaration order).
    pub position: u32,
    /// What a monitor going down does.
    pub incident_policy: IncidentPolicy,
    /// When it was first offered (shown by Statuspage as `start_date`).
    pub start_date: Option<time::Date>,
}

/// A group of components, as declared in `[[component_groups]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Stable id.
    pub id: String,
    /// What visitors see.
    pub name: String,
    /// One line about it.
    pub description: Option<String>,
    /// Order on the page.
    pub position: u32,
}

/// Where SLA downtime comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DowntimeSource {
    /// Component status intervals made by monitors (and overrides).
    #[default]
    Probes,
    /// Component impact declared on incidents.
    Incidents,
    /// Both; at each instant the worse counts, once.
    Both,
}

impl DowntimeSource {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DowntimeSource::Probes => "probes",
            DowntimeSource::Incidents => "incidents",
            DowntimeSource::Both => "both",
        }
    }
}

/// An SLA policy as declared in `[[sla]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicySpec {
    /// Stable id.
    pub id: String,
    /// Components it covers (empty: every component).
    pub components: Vec<String>,
    /// The arithmetic (target, weights, tiers, coverage, maintenance exclusion).
    pub policy: crate::sla::Policy,
    /// Where downtime comes from.
    pub source: DowntimeSource,
    /// `month` or `quarter`: the period reports close on.
    pub period: SlaPeriodKind,
    /// The zone periods are cut in (`+01:00`, or an IANA name such as `Europe/Berlin`, as
    /// [`crate::sla::Zone::name`] spells it); None = UTC. Recorded in every report.
    pub time_zone: Option<String>,
    /// For the user-minute formula: users per component (downtime weighted by users affected).
    pub user_counts: Vec<(String, u64)>,
}

impl SlaPolicySpec {
    /// The user count it declares for a component (`users = { api = 1200 }`).
    pub fn users_of(&self, component_id: &str) -> Option<u64> {
        self.user_counts
            .iter()
            .find(|(c, _)| c == component_id)
            .map(|(_, n)| *n)
    }

    /// The formula a component's figures use: user minutes when the policy counts the
    /// component's users and downtime comes from incidents (or both), time otherwise.
    pub fn formula_for(&self, component_id: &str) -> crate::sla::Formula {
        match (self.source, self.users_of(component_id)) {
            (DowntimeSource::Incidents | DowntimeSource::Both, Some(users)) if users > 0 => {
                crate::sla::Formula::UserMinutes { users }
            }
            _ => crate::sla::Formula::Time,
        }
    }

    /// The zone its periods are cut in (UTC when none is named).
    pub fn zone(&self) -> Result<crate::sla::Zone, String> {
        match &self.time_zone {
            Some(z) => crate::sla::Zone::parse(z),
            None => Ok(crate::sla::Zone::utc()),
        }
    }
}

/// The period an SLA policy closes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SlaPeriodKind {
    /// Calendar month.
    #[default]
    Month,
    /// Calendar quarter.
    Quarter,
}

/// `[status]` and the operations declarations, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusSettings {
    /// Monitors, in declaration order.
    pub monitors: Vec<crate::monitor::MonitorSpec>,
    /// Component groups, in page order.
    pub groups: Vec<GroupSpec>,
    /// Components, in page order.
    pub components: Vec<ComponentSpec>,
    /// SLA policies.
    pub sla: Vec<SlaPolicySpec>,
    /// How long raw samples are kept, days (default 30).
    pub sample_retention_days: u32,
    /// How long per-minute rollups are kept, days (default 90).
    pub minute_rollup_retention_days: u32,
    /// Whether monitors created through the API may set `allow_private` (default false).
    pub api_monitors_allow_private: bool,
}

impl Default for StatusSettings {
    fn default() -> Self {
        StatusSettings {
            monitors: Vec::new(),
            groups: Vec::new(),
            components: Vec::new(),
            sla: Vec::new(),
            sample_retention_days: 30,
            minute_rollup_retention_days: 90,
            api_monitors_allow_private: false,
        }
    }
}

impl StatusSettings {
    /// The component with this id.
    pub fn component(&self, id: &str) -> Option<&ComponentSpec> {
        self.components.iter().find(|c| c.id == id)
    }

    /// The SLA policy covering a component: the first that names it, else the first that names
    /// none (covers all), else the default policy.
    pub fn policy_for(&self, component_id: &str) -> SlaPolicySpec {
        self.sla
            .iter()
            .find(|p| p.components.iter().any(|c| c == component_id))
            .or_else(|| self.sla.iter().find(|p| p.components.is_empty()))
            .cloned()
            .unwrap_or_else(|| SlaPolicySpec {
                id: "default".into(),
                components: Vec::new(),
                policy: crate::sla::Policy::default(),
                source: DowntimeSource::Probes,
                period: SlaPeriodKind::Month,
                time_zone: None,
                user_counts: Vec::new(),
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn enums_round_trip_their_wire_spelling() {
        for s in ComponentStatus::ALL {
            assert_eq!(s.as_str().parse::<ComponentStatus>().unwrap(), s);
        }
        for s in IncidentStatus::ALL {
            assert_eq!(s.as_str().parse::<IncidentStatus>().unwrap(), s);
        }
        for s in IncidentImpact::ALL {
            assert_eq!(s.as_str().parse::<IncidentImpact>().unwrap(), s);
        }
        let err = "down".parse::<ComponentStatus>().unwrap_err();
        assert!(err.contains("major_outage"), "{err}");
    }

    #[test]
    fn page_indicator_follows_the_worst_component_or_incident() {
        use ComponentStatus::*;
        assert_eq!(
            PageIndicator::derive([Operational, Operational], []),
            PageIndicator::None
        );
        assert_eq!(
            PageIndicator::derive([Operational, DegradedPerformance], []),
            PageIndicator::Minor
        );
        assert_eq!(
            PageIndicator::derive([PartialOutage, DegradedPerformance], []),
            PageIndicator::Major
        );
        assert_eq!(
            PageIndicator::derive([MajorOutage], []),
            PageIndicator::Critical
        );
        assert_eq!(
            PageIndicator::derive([UnderMaintenance, Operational], []),
            PageIndicator::Maintenance
        );
        assert_eq!(
            PageIndicator::derive([UnderMaintenance], [IncidentImpact::Minor]),
            PageIndicator::Minor
        );
        assert_eq!(
            PageIndicator::derive([Operational], [IncidentImpact::Critical]),
            PageIndicator::Critical
        );
    }

    #[test]
    fn maintenance_status_follows_the_clock_and_early_completion() {
        let m = Maintenance {
            id: "m1".into(),
            name: "DB upgrade".into(),
            body: String::new(),
            components: vec!["api".into()],
            announced_at: datetime!(2026-10-01 00:00 UTC),
            scheduled_for: datetime!(2026-10-05 02:00 UTC),
            scheduled_until: datetime!(2026-10-05 04:00 UTC),
            completed_at: None,
            updated_at: datetime!(2026-10-01 00:00 UTC),
        };
        assert_eq!(
            m.status_at(datetime!(2026-10-05 01:59 UTC)),
            MaintenanceStatus::Scheduled
        );
        assert_eq!(
            m.status_at(datetime!(2026-10-05 02:00 UTC)),
            MaintenanceStatus::InProgress
        );
        assert_eq!(
            m.status_at(datetime!(2026-10-05 04:00 UTC)),
            MaintenanceStatus::Completed
        );
        assert!(m.announced_in_advance());
        let early = Maintenance {
            completed_at: Some(datetime!(2026-10-05 03:00 UTC)),
            ..m
        };
        assert_eq!(
            early.status_at(datetime!(2026-10-05 03:30 UTC)),
            MaintenanceStatus::Completed
        );
        assert_eq!(early.effective_end(), datetime!(2026-10-05 03:00 UTC));
    }
}
