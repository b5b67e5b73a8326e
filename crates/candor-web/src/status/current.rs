//! What each component's status is right now, and what its last 90 days looked like. Pure: the
//! caller reads the store once and passes everything in.

use std::collections::HashMap;

use candor_core::sla::{self, Weights};
use candor_core::status::{
    ComponentStatus, Incident, Maintenance, MaintenanceStatus, PageIndicator, StatusInterval,
    StatusSettings,
};
use time::{Date, Duration, OffsetDateTime, Time};

/// Why a component has the status it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusSource {
    /// An operator set it.
    Override,
    /// An announced maintenance window naming it is in progress.
    Maintenance,
    /// Its monitors (its open `component:<id>` interval) or an unresolved incident.
    Observed,
    /// Nothing says otherwise.
    Default,
}

impl StatusSource {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusSource::Override => "override",
            StatusSource::Maintenance => "maintenance",
            StatusSource::Observed => "observed",
            StatusSource::Default => "default",
        }
    }
}

/// A component's current status and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentStatus {
    /// The component's id.
    pub component_id: String,
    /// Its status.
    pub status: ComponentStatus,
    /// Why.
    pub source: StatusSource,
    /// Since when, when known (the open interval's start, the maintenance window's start).
    pub since: Option<OffsetDateTime>,
}

/// What the current status is derived from.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Operator overrides in force.
    pub overrides: &'a [(String, ComponentStatus)],
    /// Maintenance windows (any; only those in progress at `now` count).
    pub maintenances: &'a [Maintenance],
    /// Open intervals (only `component:` subjects count).
    pub open_intervals: &'a [StatusInterval],
    /// Incidents (only published, unresolved ones count).
    pub incidents: &'a [Incident],
    /// The instant.
    pub now: OffsetDateTime,
}

/// Each configured component's status, in page order: an operator override if set, else
/// `under_maintenance` during an in-progress maintenance naming it, else the worse of its open
/// component interval and the status any unresolved published incident gives it, else
/// `operational`.
pub fn component_statuses(settings: &StatusSettings, facts: &Facts<'_>) -> Vec<CurrentStatus> {
    let overrides: HashMap<&str, ComponentStatus> = facts
        .overrides
        .iter()
        .map(|(id, s)| (id.as_str(), *s))
        .collect();
    let open: HashMap<&str, &StatusInterval> = facts
        .open_intervals
        .iter()
        .filter(|i| i.subject.kind() == "component" && i.end.is_none())
        .map(|i| (i.subject.id(), i))
        .collect();
    settings
        .components
        .iter()
        .map(|c| {
            let id = c.id.as_str();
            if let Some(status) = overrides.get(id) {
                return CurrentStatus {
                    component_id: c.id.clone(),
                    status: *status,
                    source: StatusSource::Override,
                    since: None,
                };
            }
            if let Some(m) = facts.maintenances.iter().find(|m| {
                m.components.iter().any(|x| x == id)
                    && m.status_at(facts.now) == MaintenanceStatus::InProgress
            }) {
                return CurrentStatus {
                    component_id: c.id.clone(),
                    status: ComponentStatus::UnderMaintenance,
                    source: StatusSource::Maintenance,
                    since: Some(m.scheduled_for),
                };
            }
            let mut status = ComponentStatus::Operational;
            let mut since = None;
            let mut observed = false;
            if let Some(interval) = open.get(id) {
                status = interval.status;
                since = Some(interval.start);
                observed = true;
            }
            for incident in facts
                .incidents
                .iter()
                .filter(|i| !i.draft && !i.status.is_closed())
            {
                for affected in incident.components.iter().filter(|a| a.component_id == id) {
                    if affected.status.severity() > status.severity() {
                        since = Some(incident.started_at);
                    }
                    status = status.worst(affected.status);
                    observed = true;
                }
            }
            CurrentStatus {
                component_id: c.id.clone(),
                status,
                source: if observed {
                    StatusSource::Observed
                } else {
                    StatusSource::Default
                },
                since,
            }
        })
        .collect()
}

/// The worst status among a group's components (operational for an empty group).
pub fn group_status<'a>(statuses: impl IntoIterator<Item = &'a CurrentStatus>) -> ComponentStatus {
    statuses
        .into_iter()
        .fold(ComponentStatus::Operational, |acc, s| acc.worst(s.status))
}

/// The page indicator from the component statuses and the unresolved published incidents.
pub fn page_indicator(statuses: &[CurrentStatus], incidents: &[Incident]) -> PageIndicator {
    PageIndicator::derive(
        statuses.iter().map(|s| s.status),
        incidents
            .iter()
            .filter(|i| !i.draft && !i.status.is_closed())
            .map(|i| i.impact),
    )
}

/// How a day's bar is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayLevel {
    /// No interval data that day: never shown as green.
    NoData,
    /// Data and no trouble.
    Up,
    /// Only degraded performance (weighted downtime 0 by default).
    Degraded,
    /// Under an hour of weighted downtime.
    Minor,
    /// An hour or more of weighted downtime.
    Major,
}

impl DayLevel {
    /// The CSS class of the bar.
    pub fn class(self) -> &'static str {
        match self {
            DayLevel::NoData => "nodata",
            DayLevel::Up => "up",
            DayLevel::Degraded => "degraded",
            DayLevel::Minor => "minor",
            DayLevel::Major => "major",
        }
    }
}

/// One UTC day of one component.
#[derive(Debug, Clone, PartialEq)]
pub struct DayBar {
    /// The day.
    pub date: Date,
    /// Seconds of the day with interval data.
    pub covered_seconds: i64,
    /// Weighted downtime, per-mille seconds (1000 = one second of full downtime).
    pub weighted_permille_seconds: i64,
    /// Seconds in a major outage.
    pub major_seconds: i64,
    /// Seconds in a partial outage.
    pub partial_seconds: i64,
    /// Seconds with degraded performance.
    pub degraded_seconds: i64,
    /// Seconds under maintenance.
    pub maintenance_seconds: i64,
    /// Published incidents naming the component that overlapped the day: (id, name).
    pub incidents: Vec<(String, String)>,
}

impl DayBar {
    /// Weighted downtime in whole minutes, rounded to nearest.
    pub fn downtime_minutes(&self) -> i64 {
        (self.weighted_permille_seconds + 30_000) / 60_000
    }

    /// Its colour.
    pub fn level(&self) -> DayLevel {
        if self.covered_seconds == 0 {
            DayLevel::NoData
        } else if self.weighted_permille_seconds >= 3_600_000 {
            DayLevel::Major
        } else if self.weighted_permille_seconds > 0 {
            DayLevel::Minor
        } else if self.degraded_seconds > 0 || self.partial_seconds > 0 || self.major_seconds > 0 {
            DayLevel::Degraded
        } else {
            DayLevel::Up
        }
    }

    /// What the bar says when focused or hovered: the date, downtime and incidents.
    pub fn describe(&self) -> String {
        let date = human_date(self.date);
        let mut text = if self.covered_seconds == 0 {
            format!("{date}: no data")
        } else {
            let minutes = self.downtime_minutes();
            let mut t = if self.weighted_permille_seconds == 0 {
                format!("{date}: no downtime")
            } else if minutes == 0 {
                format!("{date}: under a minute of downtime")
            } else {
                format!(
                    "{date}: {minutes} minute{} of downtime",
                    if minutes == 1 { "" } else { "s" }
                )
            };
            let mut parts = Vec::new();
            for (secs, what) in [
                (self.major_seconds, "major outage"),
                (self.partial_seconds, "partial outage"),
                (self.degraded_seconds, "degraded performance"),
                (self.maintenance_seconds, "maintenance"),
            ] {
                if secs > 0 {
                    parts.push(format!("{what} {} min", (secs + 30) / 60));
                }
            }
            if !parts.is_empty() {
                t.push_str(&format!(" ({})", parts.join(", ")));
            }
            if self.covered_seconds < 86_400 {
                t.push_str(&format!(
                    "; data for {} of 24 hours",
                    format_hours(self.covered_seconds)
                ));
            }
            t
        };
        if !self.incidents.is_empty() {
            let names: Vec<&str> = self.incidents.iter().map(|(_, n)| n.as_str()).collect();
            text.push_str(&format!(". Incidents: {}", names.join("; ")));
        }
        text
    }
}

fn format_hours(seconds: i64) -> String {
    let tenths = (seconds * 10 + 1_800) / 3_600;
    if tenths % 10 == 0 {
        format!("{}", tenths / 10)
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// `5 October 2026`.
pub fn human_date(date: Date) -> String {
    format!("{} {} {}", date.day(), date.month(), date.year())
}

/// The per-mille weight of a status (maintenance weighs nothing).
pub fn weight_of(weights: &Weights, status: ComponentStatus) -> u32 {
    match status {
        ComponentStatus::MajorOutage => weights.major,
        ComponentStatus::PartialOutage => weights.partial,
        ComponentStatus::DegradedPerformance => weights.degraded,
        ComponentStatus::Operational | ComponentStatus::UnderMaintenance => 0,
    }
}

/// The first instant of a UTC day.
pub fn day_start(date: Date) -> OffsetDateTime {
    date.with_time(Time::MIDNIGHT).assume_utc()
}

/// The `days` UTC days ending with today's, oldest first.
pub fn window(now: OffsetDateTime, days: u16) -> Vec<Date> {
    let today = now.date();
    (0..i64::from(days))
        .rev()
        .map(|back| today - Duration::days(back))
        .collect()
}

/// `[start, end)` of an interval, open ones running until `now`.
fn span(interval: &StatusInterval, now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    (interval.start, interval.end.unwrap_or(now).min(now))
}

/// Daily bars for one component from its intervals (any order), incidents naming it and the
/// days to show (consecutive, oldest first). Where intervals overlap, the worst status counts
/// once per second.
///
/// One sweep over the intervals' ends (O(k log k) for k intervals) cuts time into pieces with a
/// single worst status; each piece is then spread over the days it covers, so the cost does not
/// grow with intervals × days.
pub fn daily_bars<'a>(
    intervals: impl IntoIterator<Item = &'a StatusInterval>,
    incidents: &[&Incident],
    days: &[Date],
    weights: &Weights,
    now: OffsetDateTime,
) -> Vec<DayBar> {
    let mut bars: Vec<DayBar> = days
        .iter()
        .map(|&date| DayBar {
            date,
            covered_seconds: 0,
            weighted_permille_seconds: 0,
            major_seconds: 0,
            partial_seconds: 0,
            degraded_seconds: 0,
            maintenance_seconds: 0,
            incidents: Vec::new(),
        })
        .collect();
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return bars;
    };
    let origin = day_start(*first);
    let limit = (day_start(*last) + Duration::DAY).min(now);
    if limit <= origin {
        return bars;
    }
    let horizon = (limit - origin).whole_seconds();
    // Every interval's clipped ends, as seconds from the first day's start: +1 opens, -1 closes.
    let mut edges: Vec<(i64, i8, usize)> = Vec::new();
    for interval in intervals {
        let (s, e) = span(interval, now);
        let s = (s - origin).whole_seconds().max(0);
        let e = (e - origin).whole_seconds().min(horizon);
        if s < e {
            let rank = usize::from(interval.status.severity());
            edges.push((s, 1, rank));
            edges.push((e, -1, rank));
        }
    }
    edges.sort_unstable();
    // How many intervals of each status are open at the sweep position.
    let mut open = [0u32; STATUS_RANKS];
    let mut at = 0;
    for (position, delta, rank) in edges {
        if position > at {
            if let Some(worst) = (0..STATUS_RANKS).rev().find(|r| open[*r] > 0) {
                spread(&mut bars, at, position, RANKED[worst], weights);
            }
            at = position;
        }
        if delta > 0 {
            open[rank] += 1;
        } else {
            open[rank] -= 1;
        }
    }
    let window_end = day_start(*last) + Duration::DAY;
    for incident in incidents {
        let end = incident.resolved_at.unwrap_or(now);
        if incident.started_at >= window_end || end <= origin {
            continue;
        }
        let from = ((incident.started_at.max(origin) - origin).whole_days()).max(0) as usize;
        // The day holding the last instant before `end` (an incident ending at midnight does
        // not touch the next day).
        let to = ((end.min(window_end) - origin - Duration::nanoseconds(1)).whole_days()).max(0)
            as usize;
        for bar in bars.iter_mut().take(to + 1).skip(from) {
            bar.incidents
                .push((incident.id.clone(), incident.name.clone()));
        }
    }
    bars
}

/// Statuses by [`ComponentStatus::severity`]: a higher rank wins.
const RANKED: [ComponentStatus; STATUS_RANKS] = [
    ComponentStatus::Operational,
    ComponentStatus::UnderMaintenance,
    ComponentStatus::DegradedPerformance,
    ComponentStatus::PartialOutage,
    ComponentStatus::MajorOutage,
];
const STATUS_RANKS: usize = 5;

/// Adds `[from, to)` (seconds from the first bar's midnight) at `status` to the bars it covers.
fn spread(bars: &mut [DayBar], from: i64, to: i64, status: ComponentStatus, weights: &Weights) {
    const DAY: i64 = 86_400;
    let mut s = from;
    while s < to {
        let index = (s / DAY) as usize;
        let e = to.min((s / DAY + 1) * DAY);
        let Some(bar) = bars.get_mut(index) else {
            return;
        };
        let secs = e - s;
        bar.covered_seconds += secs;
        bar.weighted_permille_seconds += secs * i64::from(weight_of(weights, status));
        match status {
            ComponentStatus::MajorOutage => bar.major_seconds += secs,
            ComponentStatus::PartialOutage => bar.partial_seconds += secs,
            ComponentStatus::DegradedPerformance => bar.degraded_seconds += secs,
            ComponentStatus::UnderMaintenance => bar.maintenance_seconds += secs,
            ComponentStatus::Operational => {}
        }
        s = e;
    }
}

/// Uptime over the bars' covered time, as a percentage; None without data.
pub fn uptime_percent(bars: &[DayBar]) -> Option<f64> {
    let covered: i64 = bars.iter().map(|b| b.covered_seconds).sum();
    let weighted: i64 = bars.iter().map(|b| b.weighted_permille_seconds).sum();
    (covered > 0).then(|| 100.0 * (1.0 - weighted as f64 / (covered as f64 * 1000.0)))
}

/// The start of the calendar quarter (UTC) containing `now`.
pub fn quarter_start(now: OffsetDateTime) -> OffsetDateTime {
    let month = u8::from(now.month());
    let first = (month - 1) / 3 * 3 + 1;
    let month = time::Month::try_from(first).unwrap_or(time::Month::January);
    Date::from_calendar_date(now.year(), month, 1)
        .map(day_start)
        .unwrap_or(now)
}

/// The quarter so far (`[quarter start, now)`) through the SLA arithmetic with the component's
/// policy: uptime in percent, or None when coverage is below the policy's minimum.
pub fn quarter_to_date_uptime<'a>(
    intervals: impl IntoIterator<Item = &'a StatusInterval>,
    maintenances: &[&Maintenance],
    policy: &sla::Policy,
    now: OffsetDateTime,
) -> Option<f64> {
    let period = sla::Period {
        start: quarter_start(now),
        end: now,
    };
    let observed: Vec<sla::Interval> = intervals
        .into_iter()
        .filter_map(|i| {
            let (start, end) = span(i, now);
            // Maintenance weighs nothing; the window itself is excluded by the policy.
            let impact = i.status.impact().unwrap_or(sla::Impact::Operational);
            (start < end).then_some(sla::Interval {
                start,
                end,
                impact,
                users_affected: None,
            })
        })
        .collect();
    let windows: Vec<(OffsetDateTime, OffsetDateTime)> = maintenances
        .iter()
        .map(|m| (m.scheduled_for, m.effective_end()))
        .collect();
    sla::compute(period, &observed, &windows, policy).uptime_percent()
}

/// A percentage as the page shows it: two decimals, rounded down so 99.996 never reads 100.00.
pub fn format_percent(p: f64) -> String {
    let floored = (p * 100.0).floor() / 100.0;
    format!("{floored:.2}%")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use candor_core::status::{
        AffectedComponent, ComponentSpec, IncidentImpact, IncidentOrigin, IncidentPolicy,
        IncidentStatus, Subject,
    };
    use time::macros::{date, datetime};

    fn spec(id: &str) -> ComponentSpec {
        ComponentSpec {
            id: id.into(),
            name: id.to_uppercase(),
            description: None,
            group: None,
            monitors: vec![],
            position: 0,
            incident_policy: IncidentPolicy::Draft,
            start_date: None,
        }
    }

    fn settings() -> StatusSettings {
        StatusSettings {
            components: vec![spec("api"), spec("web"), spec("db")],
            ..StatusSettings::default()
        }
    }

    fn interval(
        id: &str,
        status: ComponentStatus,
        start: OffsetDateTime,
        end: Option<OffsetDateTime>,
    ) -> StatusInterval {
        StatusInterval {
            subject: Subject::Component(id.into()),
            status,
            start,
            end,
            last_seen: end.unwrap_or(start),
        }
    }

    fn incident(id: &str, components: &[(&str, ComponentStatus)]) -> Incident {
        Incident {
            id: id.into(),
            name: format!("Incident {id}"),
            status: IncidentStatus::Investigating,
            impact: IncidentImpact::Minor,
            origin: IncidentOrigin::Operator,
            draft: false,
            created_at: datetime!(2026-10-05 10:00 UTC),
            updated_at: datetime!(2026-10-05 10:00 UTC),
            started_at: datetime!(2026-10-05 10:00 UTC),
            monitoring_at: None,
            resolved_at: None,
            components: components
                .iter()
                .map(|(c, s)| AffectedComponent {
                    component_id: (*c).into(),
                    status: *s,
                    users_affected: None,
                })
                .collect(),
            updates: vec![],
        }
    }

    #[test]
    fn override_beats_maintenance_beats_observed() {
        use ComponentStatus::*;
        let now = datetime!(2026-10-05 12:00 UTC);
        let maintenance = Maintenance {
            id: "m1".into(),
            name: "Upgrade".into(),
            body: String::new(),
            components: vec!["api".into(), "web".into()],
            announced_at: datetime!(2026-10-01 00:00 UTC),
            scheduled_for: datetime!(2026-10-05 11:00 UTC),
            scheduled_until: datetime!(2026-10-05 13:00 UTC),
            completed_at: None,
            updated_at: datetime!(2026-10-01 00:00 UTC),
        };
        let overrides = vec![("api".to_owned(), MajorOutage)];
        let open = vec![
            interval(
                "db",
                DegradedPerformance,
                datetime!(2026-10-05 09:00 UTC),
                None,
            ),
            interval("web", MajorOutage, datetime!(2026-10-05 09:00 UTC), None),
        ];
        let incidents = vec![incident("i1", &[("db", PartialOutage)])];
        let facts = Facts {
            overrides: &overrides,
            maintenances: std::slice::from_ref(&maintenance),
            open_intervals: &open,
            incidents: &incidents,
            now,
        };
        let s = component_statuses(&settings(), &facts);
        assert_eq!(
            s.iter().map(|c| (c.status, c.source)).collect::<Vec<_>>(),
            vec![
                (MajorOutage, StatusSource::Override),
                (UnderMaintenance, StatusSource::Maintenance),
                (PartialOutage, StatusSource::Observed),
            ]
        );
        assert_eq!(group_status(&s), MajorOutage);
        assert_eq!(page_indicator(&s, &incidents), PageIndicator::Critical);
    }

    #[test]
    fn drafts_and_resolved_incidents_do_not_count() {
        let mut draft = incident("i1", &[("api", ComponentStatus::MajorOutage)]);
        draft.draft = true;
        let mut resolved = incident("i2", &[("api", ComponentStatus::MajorOutage)]);
        resolved.status = IncidentStatus::Resolved;
        let incidents = vec![draft, resolved];
        let facts = Facts {
            overrides: &[],
            maintenances: &[],
            open_intervals: &[],
            incidents: &incidents,
            now: datetime!(2026-10-05 12:00 UTC),
        };
        let s = component_statuses(&settings(), &facts);
        assert!(
            s.iter()
                .all(|c| c.status == ComponentStatus::Operational
                    && c.source == StatusSource::Default)
        );
        assert_eq!(page_indicator(&s, &incidents), PageIndicator::None);
    }

    #[test]
    fn bars_weigh_partial_at_30_percent_and_show_gaps_as_no_data() {
        use ComponentStatus::*;
        let now = datetime!(2026-10-05 12:00 UTC);
        let days = window(now, 3);
        assert_eq!(
            days,
            vec![
                date!(2026 - 10 - 03),
                date!(2026 - 10 - 04),
                date!(2026 - 10 - 05)
            ]
        );
        let intervals = vec![
            interval(
                "api",
                Operational,
                datetime!(2026-10-04 00:00 UTC),
                Some(datetime!(2026-10-04 10:00 UTC)),
            ),
            interval(
                "api",
                PartialOutage,
                datetime!(2026-10-04 10:00 UTC),
                Some(datetime!(2026-10-04 11:40 UTC)),
            ),
            interval(
                "api",
                Operational,
                datetime!(2026-10-04 11:40 UTC),
                Some(datetime!(2026-10-05 06:00 UTC)),
            ),
            interval("api", MajorOutage, datetime!(2026-10-05 06:00 UTC), None),
        ];
        let inc = incident("i1", &[("api", MajorOutage)]);
        let bars = daily_bars(&intervals, &[&inc], &days, &Weights::default(), now);
        assert_eq!(bars[0].level(), DayLevel::NoData);
        assert!(
            bars[0].describe().contains("no data"),
            "{}",
            bars[0].describe()
        );
        // 100 minutes of partial outage at 30 % = 30 minutes.
        assert_eq!(bars[1].covered_seconds, 86_400);
        assert_eq!(bars[1].downtime_minutes(), 30);
        assert_eq!(bars[1].level(), DayLevel::Minor);
        // Today so far: 6 h of data up to 06:00 then 6 h of major outage.
        assert_eq!(bars[2].covered_seconds, 12 * 3600);
        assert_eq!(bars[2].downtime_minutes(), 360);
        assert_eq!(bars[2].level(), DayLevel::Major);
        let text = bars[2].describe();
        assert!(text.contains("360 minutes of downtime"), "{text}");
        assert!(text.contains("Incident i1"), "{text}");
        assert!(text.contains("data for 12 of 24 hours"), "{text}");
        let up = uptime_percent(&bars).unwrap();
        assert!(
            (up - 100.0 * (1.0 - (1800.0 + 21600.0) / 129_600.0)).abs() < 1e-9,
            "{up}"
        );
    }

    #[test]
    fn overlapping_intervals_count_the_worst_once() {
        use ComponentStatus::*;
        let now = datetime!(2026-10-06 00:00 UTC);
        let intervals = vec![
            interval(
                "api",
                PartialOutage,
                datetime!(2026-10-05 00:00 UTC),
                Some(datetime!(2026-10-06 00:00 UTC)),
            ),
            interval(
                "api",
                MajorOutage,
                datetime!(2026-10-05 01:00 UTC),
                Some(datetime!(2026-10-05 02:00 UTC)),
            ),
        ];
        let bars = daily_bars(
            &intervals,
            &[],
            &[date!(2026 - 10 - 05)],
            &Weights::default(),
            now,
        );
        assert_eq!(bars[0].covered_seconds, 86_400);
        assert_eq!(bars[0].major_seconds, 3_600);
        assert_eq!(bars[0].partial_seconds, 82_800);
        assert_eq!(bars[0].weighted_permille_seconds, 3_600_000 + 82_800 * 300);
    }

    #[test]
    fn ranks_follow_severity() {
        for (rank, status) in RANKED.iter().enumerate() {
            assert_eq!(usize::from(status.severity()), rank);
        }
    }

    #[test]
    fn pieces_spanning_days_are_cut_at_midnight_and_incidents_mark_each_day() {
        use ComponentStatus::*;
        let now = datetime!(2026-10-08 06:00 UTC);
        let days = window(now, 4);
        // Major from 10-05 22:00 to 10-07 01:00 over an operational interval since 10-04.
        let intervals = vec![
            interval("api", Operational, datetime!(2026-10-04 00:00 UTC), None),
            interval(
                "api",
                MajorOutage,
                datetime!(2026-10-05 22:00 UTC),
                Some(datetime!(2026-10-07 01:00 UTC)),
            ),
        ];
        let mut inc = incident("i1", &[("api", MajorOutage)]);
        inc.started_at = datetime!(2026-10-05 22:00 UTC);
        // Resolved exactly at midnight: it does not touch 10-07.
        inc.resolved_at = Some(datetime!(2026-10-07 00:00 UTC));
        let bars = daily_bars(&intervals, &[&inc], &days, &Weights::default(), now);
        assert_eq!(
            bars.iter().map(|b| b.date).collect::<Vec<_>>(),
            vec![
                date!(2026 - 10 - 05),
                date!(2026 - 10 - 06),
                date!(2026 - 10 - 07),
                date!(2026 - 10 - 08)
            ]
        );
        assert_eq!(bars[0].major_seconds, 2 * 3600);
        assert_eq!(bars[0].covered_seconds, 86_400);
        assert_eq!(bars[1].major_seconds, 86_400);
        assert_eq!(bars[2].major_seconds, 3600);
        assert_eq!(bars[2].covered_seconds, 86_400);
        assert_eq!(bars[3].major_seconds, 0);
        assert_eq!(bars[3].covered_seconds, 6 * 3600);
        let with_incident: Vec<bool> = bars.iter().map(|b| !b.incidents.is_empty()).collect();
        assert_eq!(with_incident, vec![true, true, false, false]);
        // Nothing before the window counts, nothing after now.
        let early = vec![interval(
            "api",
            MajorOutage,
            datetime!(2026-09-01 00:00 UTC),
            Some(datetime!(2026-10-05 01:00 UTC)),
        )];
        let bars = daily_bars(&early, &[], &days, &Weights::default(), now);
        assert_eq!(bars[0].major_seconds, 3600);
        assert_eq!(bars[1].covered_seconds, 0);
    }

    #[test]
    fn quarter_to_date_uses_the_policy() {
        let now = datetime!(2026-11-01 00:00 UTC);
        assert_eq!(quarter_start(now), datetime!(2026-10-01 00:00 UTC));
        let intervals = vec![interval(
            "api",
            ComponentStatus::Operational,
            datetime!(2026-10-01 00:00 UTC),
            None,
        )];
        let up = quarter_to_date_uptime(&intervals, &[], &sla::Policy::default(), now).unwrap();
        assert_eq!(format_percent(up), "100.00%");
        assert_eq!(format_percent(99.99999), "99.99%");
        // Without data the quarter is not invented.
        assert!(quarter_to_date_uptime(&[], &[], &sla::Policy::default(), now).is_none());
    }
}
