//! A component's uptime for a period, from its records: the status intervals monitors made,
//! the impact declared on incidents and the announced maintenance windows. The same function
//! serves the status page, the SLA page, `candor sla`, the API, the closed report written to the
//! log and `candor verify --uptime` (which feeds it records rebuilt from log entries), so every
//! figure is computed one way.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::entries::timestamp;
use crate::sla::{self, Impact, Interval, Period};
use crate::status::{DowntimeSource, Incident, Maintenance, SlaPolicySpec, StatusInterval};

/// What a component's report is computed from (each list may hold records of other
/// components or outside the period; they are filtered here).
#[derive(Debug, Clone, Copy)]
pub struct Records<'a> {
    /// Status intervals of the component (open ones end at their `last_seen`).
    pub intervals: &'a [StatusInterval],
    /// Published incidents.
    pub incidents: &'a [Incident],
    /// Maintenance windows.
    pub maintenances: &'a [Maintenance],
}

/// A component's report for one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentReport {
    /// The component.
    pub component_id: String,
    /// The policy applied.
    pub policy_id: String,
    /// `2026-10` or `2026-Q4`.
    pub period_label: String,
    /// The time zone the calendar was cut in.
    pub time_zone: String,
    /// Whether the period is over (an open period is computed up to now).
    pub complete: bool,
    /// Where downtime came from.
    pub source: DowntimeSource,
    /// The arithmetic.
    pub report: sla::Report,
    /// The policy's target, ppm.
    pub target_ppm: u32,
    /// The policy's minimum coverage, ppm.
    pub min_coverage_ppm: u32,
    /// Incidents that touched the component in the period: (id, name).
    pub incidents: Vec<(String, String)>,
    /// Maintenance windows of the component in the period: (id, name).
    pub maintenances: Vec<(String, String)>,
}

/// The intervals the SLA arithmetic sees for a component: probe-made status intervals (as data
/// with their impact, or only as coverage when downtime comes from incidents alone) and the
/// component statuses declared on incidents over their timeline.
pub fn sla_intervals(
    source: DowntimeSource,
    component_id: &str,
    records: &Records<'_>,
    now: OffsetDateTime,
) -> Vec<Interval> {
    let mut out = Vec::new();
    for i in records.intervals {
        if i.subject.id() != component_id || i.subject.kind() != "component" {
            continue;
        }
        let end = i.end.unwrap_or(i.last_seen).min(now);
        if end <= i.start {
            continue;
        }
        let impact = match source {
            DowntimeSource::Incidents => Impact::Operational,
            _ => i.status.impact().unwrap_or(Impact::Operational),
        };
        out.push(Interval {
            start: i.start,
            end,
            impact,
        });
    }
    if matches!(source, DowntimeSource::Incidents | DowntimeSource::Both) {
        for incident in records.incidents.iter().filter(|i| !i.draft) {
            out.extend(incident_intervals(incident, component_id, now));
        }
    }
    out
}

/// The component's status over an incident's life, following its updates: before the first
/// update naming the component, that update's status applies (back-filled incidents start
/// before their first update); the incident's component list is the fallback.
fn incident_intervals(
    incident: &Incident,
    component_id: &str,
    now: OffsetDateTime,
) -> Vec<Interval> {
    let end = incident.resolved_at.unwrap_or(now).min(now);
    if end <= incident.started_at {
        return Vec::new();
    }
    let mut updates: Vec<_> = incident.updates.iter().collect();
    updates.sort_by_key(|u| u.display_at);
    let mut changes: Vec<(OffsetDateTime, Impact)> = updates
        .iter()
        .filter_map(|u| {
            u.affected
                .iter()
                .find(|a| a.component_id == component_id)
                .map(|a| {
                    (
                        u.display_at,
                        a.status.impact().unwrap_or(Impact::Operational),
                    )
                })
        })
        .collect();
    if changes.is_empty() {
        match incident
            .components
            .iter()
            .find(|a| a.component_id == component_id)
        {
            Some(a) => changes.push((
                incident.started_at,
                a.status.impact().unwrap_or(Impact::Operational),
            )),
            None => return Vec::new(),
        }
    }
    // The first status applies from the incident's start.
    changes[0].0 = incident.started_at;
    let mut out = Vec::new();
    for (k, (from, impact)) in changes.iter().enumerate() {
        let to = changes.get(k + 1).map_or(end, |next| next.0).min(end);
        let from = (*from).max(incident.started_at);
        if to > from && *impact != Impact::Operational {
            out.push(Interval {
                start: from,
                end: to,
                impact: *impact,
            });
        }
    }
    out
}

/// Windows of the component announced before they opened (only those are excluded).
pub fn announced_windows(
    component_id: &str,
    maintenances: &[Maintenance],
) -> Vec<(OffsetDateTime, OffsetDateTime)> {
    maintenances
        .iter()
        .filter(|m| m.announced_in_advance() && m.components.iter().any(|c| c == component_id))
        .map(|m| (m.scheduled_for, m.effective_end()))
        .collect()
}

/// Computes a component's report for a period label (`2026-10`, `2026-Q4`) under a policy.
pub fn component_report(
    spec: &SlaPolicySpec,
    component_id: &str,
    period_label: &str,
    records: &Records<'_>,
    now: OffsetDateTime,
) -> Result<ComponentReport, String> {
    let zone = spec.zone()?;
    let full = Period::parse_in(period_label, &zone)?;
    if full.start >= now {
        return Err(format!(
            "the period {period_label} has not started yet (it starts {})",
            timestamp(full.start)
        ));
    }
    let complete = full.end <= now;
    let period = Period {
        start: full.start,
        end: full.end.min(now),
    };
    let intervals = sla_intervals(spec.source, component_id, records, now);
    let windows = announced_windows(component_id, records.maintenances);
    let report = sla::compute(period, &intervals, &windows, &spec.policy);
    let overlaps = |s: OffsetDateTime, e: OffsetDateTime| s < period.end && e > period.start;
    let incidents = records
        .incidents
        .iter()
        .filter(|i| !i.draft)
        .filter(|i| i.components.iter().any(|c| c.component_id == component_id))
        .filter(|i| overlaps(i.started_at, i.resolved_at.unwrap_or(now)))
        .map(|i| (i.id.clone(), i.name.clone()))
        .collect();
    let maintenances = records
        .maintenances
        .iter()
        .filter(|m| m.components.iter().any(|c| c == component_id))
        .filter(|m| overlaps(m.scheduled_for, m.effective_end()))
        .map(|m| (m.id.clone(), m.name.clone()))
        .collect();
    Ok(ComponentReport {
        component_id: component_id.to_owned(),
        policy_id: spec.id.clone(),
        period_label: period_label.to_owned(),
        time_zone: zone.name().to_owned(),
        complete,
        source: spec.source,
        report,
        target_ppm: spec.policy.target_ppm,
        min_coverage_ppm: spec.policy.min_coverage_ppm,
        incidents,
        maintenances,
    })
}

/// `99.953` from parts per billion (truncated to three decimals, never rounded up to a
/// better figure).
pub fn percent_from_ppb(ppb: u64) -> String {
    let thousandths = ppb / 10_000; // 1 % = 10,000,000 ppb; 0.001 % = 10,000 ppb
    format!("{}.{:03}", thousandths / 1000, thousandths % 1000)
}

/// Weighted downtime (per-mille seconds) as minutes with one decimal, truncated toward zero:
/// `43.2`, `-1.5` for an exceeded budget.
pub fn minutes_display(permille_seconds: i64) -> String {
    let tenths = permille_seconds / 6_000;
    let sign = if tenths < 0 { "-" } else { "" };
    format!("{sign}{}.{}", tenths.abs() / 10, tenths.abs() % 10)
}

impl ComponentReport {
    /// The share of the counted time that had data, as `99.950` (truncated).
    pub fn coverage_percent(&self) -> String {
        let r = &self.report;
        if r.counted_seconds <= 0 {
            return "0.000".to_owned();
        }
        let ppb = i128::from(r.covered_seconds) * 1_000_000_000 / i128::from(r.counted_seconds);
        percent_from_ppb(u64::try_from(ppb).unwrap_or(0))
    }

    /// The report as JSON: integers only (exact), plus a display string for the uptime. This is
    /// what the API returns and what a closed period's `sla.report` entry commits to.
    pub fn to_json(&self) -> Value {
        let r = &self.report;
        let coverage_ppm = if r.counted_seconds > 0 {
            (i128::from(r.covered_seconds) * 1_000_000 / i128::from(r.counted_seconds)) as i64
        } else {
            0
        };
        json!({
            "component": self.component_id,
            "policy": self.policy_id,
            "period": self.period_label,
            "time_zone": self.time_zone,
            "start": timestamp(r.period.start),
            "end": timestamp(r.period.end),
            "complete": self.complete,
            "source": self.source.as_str(),
            "target_ppm": self.target_ppm,
            "min_coverage_ppm": self.min_coverage_ppm,
            "excluded_seconds": r.excluded_seconds,
            "counted_seconds": r.counted_seconds,
            "covered_seconds": r.covered_seconds,
            "coverage_ppm": coverage_ppm,
            "weighted_downtime_permille_seconds": r.weighted_downtime_permille_seconds,
            "downtime_seconds": r.weighted_downtime_permille_seconds / 1000,
            "uptime_ppb": r.uptime_ppb,
            "uptime_percent": r.uptime_ppb.map(percent_from_ppb),
            "insufficient_data": r.insufficient_data,
            "target_met": r.target_met,
            "credit_percent": r.credit_percent,
            "error_budget_left_permille_seconds": r.error_budget_left_permille_seconds,
            "incidents": self.incidents.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            "maintenances": self.maintenances.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        })
    }

    /// "99.953 %" or "insufficient data".
    pub fn uptime_display(&self) -> String {
        match self.report.uptime_ppb {
            Some(ppb) => format!("{} %", percent_from_ppb(ppb)),
            None => "insufficient data".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::status::{
        AffectedComponent, ComponentStatus, IncidentImpact, IncidentOrigin, IncidentStatus,
        IncidentUpdate, SlaPeriodKind, Subject,
    };
    use time::macros::datetime;

    fn spec(source: DowntimeSource) -> SlaPolicySpec {
        SlaPolicySpec {
            id: "standard".into(),
            components: vec![],
            policy: sla::Policy::default(),
            source,
            period: SlaPeriodKind::Month,
            time_zone: None,
            user_counts: vec![],
        }
    }

    fn interval(
        status: ComponentStatus,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> StatusInterval {
        StatusInterval {
            subject: Subject::Component("api".into()),
            status,
            start,
            end: Some(end),
            last_seen: end,
        }
    }

    fn incident(started: OffsetDateTime, resolved: OffsetDateTime) -> Incident {
        let update = |status, at, s| IncidentUpdate {
            id: format!("u{at}"),
            status,
            body: String::new(),
            created_at: at,
            display_at: at,
            affected: vec![AffectedComponent {
                component_id: "api".into(),
                status: s,
            }],
        };
        Incident {
            id: "inc1".into(),
            name: "API errors".into(),
            status: IncidentStatus::Resolved,
            impact: IncidentImpact::Major,
            origin: IncidentOrigin::Operator,
            draft: false,
            created_at: started,
            updated_at: resolved,
            started_at: started,
            monitoring_at: None,
            resolved_at: Some(resolved),
            components: vec![AffectedComponent {
                component_id: "api".into(),
                status: ComponentStatus::Operational,
            }],
            updates: vec![
                update(
                    IncidentStatus::Resolved,
                    resolved,
                    ComponentStatus::Operational,
                ),
                update(
                    IncidentStatus::Investigating,
                    started,
                    ComponentStatus::MajorOutage,
                ),
            ],
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);

    #[test]
    fn probe_intervals_make_the_figure() {
        let oct = [
            interval(
                ComponentStatus::Operational,
                datetime!(2026-10-01 00:00 UTC),
                datetime!(2026-10-10 00:00 UTC),
            ),
            interval(
                ComponentStatus::MajorOutage,
                datetime!(2026-10-10 00:00 UTC),
                datetime!(2026-10-10 01:00 UTC),
            ),
            interval(
                ComponentStatus::Operational,
                datetime!(2026-10-10 01:00 UTC),
                datetime!(2026-11-01 00:00 UTC),
            ),
        ];
        let records = Records {
            intervals: &oct,
            incidents: &[],
            maintenances: &[],
        };
        let r = component_report(
            &spec(DowntimeSource::Probes),
            "api",
            "2026-10",
            &records,
            NOW,
        )
        .unwrap();
        assert!(r.complete);
        assert_eq!(r.report.weighted_downtime_permille_seconds, 3_600_000);
        // 31 days = 2,678,400 s; 3,600 s down → 99.8655 %
        assert_eq!(r.to_json()["uptime_percent"], "99.865");
        assert_eq!(r.report.credit_percent, 25);
    }

    #[test]
    fn declared_incidents_count_only_when_the_policy_says_so() {
        let whole = [interval(
            ComponentStatus::Operational,
            datetime!(2026-10-01 00:00 UTC),
            datetime!(2026-11-01 00:00 UTC),
        )];
        let inc = [incident(
            datetime!(2026-10-05 00:00 UTC),
            datetime!(2026-10-05 00:30 UTC),
        )];
        let records = Records {
            intervals: &whole,
            incidents: &inc,
            maintenances: &[],
        };
        let probes = component_report(
            &spec(DowntimeSource::Probes),
            "api",
            "2026-10",
            &records,
            NOW,
        )
        .unwrap();
        assert_eq!(probes.report.weighted_downtime_permille_seconds, 0);
        let both =
            component_report(&spec(DowntimeSource::Both), "api", "2026-10", &records, NOW).unwrap();
        assert_eq!(both.report.weighted_downtime_permille_seconds, 1_800_000);
        assert_eq!(both.incidents.len(), 1);
    }

    #[test]
    fn a_month_without_data_says_so() {
        let r = component_report(
            &spec(DowntimeSource::Probes),
            "api",
            "2026-09",
            &Records {
                intervals: &[],
                incidents: &[],
                maintenances: &[],
            },
            NOW,
        )
        .unwrap();
        assert!(r.report.insufficient_data);
        assert_eq!(r.to_json()["uptime_ppb"], Value::Null);
        assert_eq!(r.uptime_display(), "insufficient data");
    }

    #[test]
    fn a_future_period_is_an_error_and_the_current_one_runs_to_now() {
        let err = component_report(
            &spec(DowntimeSource::Probes),
            "api",
            "2027-01",
            &Records {
                intervals: &[],
                incidents: &[],
                maintenances: &[],
            },
            NOW,
        )
        .unwrap_err();
        assert!(err.contains("has not started"), "{err}");
        let current = component_report(
            &spec(DowntimeSource::Probes),
            "api",
            "2026-11",
            &Records {
                intervals: &[],
                incidents: &[],
                maintenances: &[],
            },
            NOW,
        )
        .unwrap();
        assert!(!current.complete);
        assert_eq!(current.report.period.end, NOW);
    }

    #[test]
    fn percentages_truncate_never_round_up() {
        assert_eq!(percent_from_ppb(999_999_999), "99.999");
        assert_eq!(percent_from_ppb(1_000_000_000), "100.000");
        assert_eq!(percent_from_ppb(999_000_000), "99.900");
    }
}
