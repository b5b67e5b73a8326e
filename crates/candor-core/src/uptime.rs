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
            users_affected: None,
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
    // Each change sets the status and the users affected (a count applies until the next
    // update naming the component, like its status).
    let mut changes: Vec<(OffsetDateTime, Impact, Option<u64>)> = updates
        .iter()
        .filter_map(|u| {
            u.affected
                .iter()
                .find(|a| a.component_id == component_id)
                .map(|a| {
                    (
                        u.display_at,
                        a.status.impact().unwrap_or(Impact::Operational),
                        a.users_affected,
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
                a.users_affected,
            )),
            None => return Vec::new(),
        }
    }
    // The first status applies from the incident's start.
    changes[0].0 = incident.started_at;
    let mut out = Vec::new();
    for (k, (from, impact, users_affected)) in changes.iter().enumerate() {
        let to = changes.get(k + 1).map_or(end, |next| next.0).min(end);
        let from = (*from).max(incident.started_at);
        if to > from && *impact != Impact::Operational {
            out.push(Interval {
                start: from,
                end: to,
                impact: *impact,
                users_affected: *users_affected,
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
    let report = sla::compute_with(
        period,
        &intervals,
        &windows,
        &spec.policy,
        spec.formula_for(component_id),
    );
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

    /// The report as JSON: integers only (exact), plus display strings for the uptime (and the
    /// user minutes). This is what the API returns and what a closed period's `sla.report`
    /// entry commits to. Under the user-minute formula it adds `formula`, `users`,
    /// `weighted_downtime_permille_user_seconds`, `user_minutes` and `downtime_user_minutes`;
    /// under the time formula those are absent, so reports recorded before the formula existed
    /// read the same.
    pub fn to_json(&self) -> Value {
        let r = &self.report;
        let coverage_ppm = if r.counted_seconds > 0 {
            (i128::from(r.covered_seconds) * 1_000_000 / i128::from(r.counted_seconds)) as i64
        } else {
            0
        };
        let mut out = json!({
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
        });
        if let (Some(users), Some(downtime), Value::Object(map)) = (
            r.formula.users(),
            r.weighted_downtime_permille_user_seconds,
            &mut out,
        ) {
            let counted = i128::from(r.counted_seconds) * i128::from(users) * 1000;
            let counted = i64::try_from(counted).unwrap_or(i64::MAX);
            map.insert("formula".into(), json!(r.formula.as_str()));
            map.insert("users".into(), json!(users));
            map.insert(
                "weighted_downtime_permille_user_seconds".into(),
                json!(downtime),
            );
            map.insert("user_minutes".into(), json!(minutes_display(counted)));
            map.insert(
                "downtime_user_minutes".into(),
                json!(minutes_display(downtime)),
            );
        }
        out
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
                users_affected: None,
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
                users_affected: None,
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

    /// A resolved incident on `api` with one status (and users affected) throughout.
    fn counted(
        id: &str,
        status: ComponentStatus,
        users_affected: Option<u64>,
        started: OffsetDateTime,
        resolved: OffsetDateTime,
    ) -> Incident {
        let mut i = incident(started, resolved);
        i.id = id.into();
        i.updates[1].affected[0].status = status;
        i.updates[1].affected[0].users_affected = users_affected;
        i
    }

    fn with_users(source: DowntimeSource, users: u64) -> SlaPolicySpec {
        SlaPolicySpec {
            user_counts: vec![("api".into(), users)],
            ..spec(source)
        }
    }

    fn november_report(spec: &SlaPolicySpec, incidents: &[Incident]) -> ComponentReport {
        // November 2026 (30 days), closed, observed throughout by probes.
        let now = datetime!(2026-12-01 00:00 UTC);
        let whole = [interval(
            ComponentStatus::Operational,
            datetime!(2026-11-01 00:00 UTC),
            now,
        )];
        component_report(
            spec,
            "api",
            "2026-11",
            &Records {
                intervals: &whole,
                incidents,
                maintenances: &[],
            },
            now,
        )
        .unwrap()
    }

    #[test]
    fn user_minutes_weigh_downtime_by_the_users_affected() {
        // 1,200 users; an incident affecting 300 of them for 60 minutes in a 30-day month:
        // 60 × 300 = 18,000 user-minutes of 43,200 × 1,200 = 51,840,000 → 99.96527… %.
        let inc = [counted(
            "inc1",
            ComponentStatus::MajorOutage,
            Some(300),
            datetime!(2026-11-10 08:00 UTC),
            datetime!(2026-11-10 09:00 UTC),
        )];
        let r = november_report(&with_users(DowntimeSource::Incidents, 1200), &inc);
        let json = r.to_json();
        assert_eq!(json["formula"], "user_minutes");
        assert_eq!(json["users"], 1200);
        assert_eq!(json["user_minutes"], "51840000.0");
        assert_eq!(json["downtime_user_minutes"], "18000.0");
        assert_eq!(
            json["weighted_downtime_permille_user_seconds"],
            18_000i64 * 60 * 1000
        );
        assert_eq!(json["uptime_ppb"], 999_652_777);
        assert_eq!(json["uptime_percent"], "99.965");
        // A quarter of the users for an hour is 15 minutes of full downtime.
        assert_eq!(json["weighted_downtime_permille_seconds"], 900_000);
        assert_eq!(json["target_met"], true);
        assert_eq!(json["credit_percent"], 0);
        // The same incident counted by its status alone: the whole hour, 99.861 %, a credit.
        let by_time = november_report(&spec(DowntimeSource::Incidents), &inc).to_json();
        assert_eq!(by_time["uptime_percent"], "99.861");
        assert_eq!(by_time["credit_percent"], 25);
        assert_eq!(
            by_time.get("formula"),
            None,
            "time reports keep their shape"
        );
        assert_eq!(by_time.get("users"), None);
    }

    #[test]
    fn the_user_minute_boundary_is_exact() {
        // 99.9 % of 51,840,000 user-minutes leaves 51,840 user-minutes = 3,110,400 user-seconds.
        // 7 users affected: 444,342 s is 3,110,394 user-seconds (met), 444,343 s is 3,110,401.
        let policy = with_users(DowntimeSource::Both, 1200);
        let start = datetime!(2026-11-01 00:00 UTC);
        let over = |seconds: i64| {
            [counted(
                "inc1",
                ComponentStatus::PartialOutage,
                Some(7),
                start,
                start + time::Duration::seconds(seconds),
            )]
        };
        let met = november_report(&policy, &over(444_342));
        assert!(met.report.target_met);
        assert_eq!(met.report.credit_percent, 0);
        assert_eq!(
            met.report.weighted_downtime_permille_user_seconds,
            Some(3_110_394_000)
        );
        let missed = november_report(&policy, &over(444_343));
        assert!(!missed.report.target_met);
        assert_eq!(missed.report.credit_percent, 25);
        // Half the users for exactly 86.4 minutes is exactly 99.9 %: nothing owed, budget 0.
        let half = [counted(
            "inc1",
            ComponentStatus::MajorOutage,
            Some(600),
            start,
            start + time::Duration::seconds(5_184),
        )];
        let exact = november_report(&policy, &half);
        assert_eq!(exact.report.uptime_ppb, Some(999_000_000));
        assert!(exact.report.target_met);
        assert_eq!(exact.report.credit_percent, 0);
        assert_eq!(exact.report.error_budget_left_permille_seconds, 0);
        let half = [counted(
            "inc1",
            ComponentStatus::MajorOutage,
            Some(600),
            start,
            start + time::Duration::seconds(5_185),
        )];
        assert_eq!(november_report(&policy, &half).report.credit_percent, 25);
    }

    #[test]
    fn overlapping_incidents_count_the_larger_number_of_users_once() {
        // 300 users from 08:00 to 09:00, 900 from 08:30 to 09:30: 30 min × 300 + 60 min × 900.
        let inc = [
            counted(
                "inc1",
                ComponentStatus::PartialOutage,
                Some(300),
                datetime!(2026-11-10 08:00 UTC),
                datetime!(2026-11-10 09:00 UTC),
            ),
            counted(
                "inc2",
                ComponentStatus::PartialOutage,
                Some(900),
                datetime!(2026-11-10 08:30 UTC),
                datetime!(2026-11-10 09:30 UTC),
            ),
        ];
        let r = november_report(&with_users(DowntimeSource::Incidents, 1200), &inc);
        assert_eq!(
            r.to_json()["downtime_user_minutes"],
            format!("{}.0", 30 * 300 + 60 * 900)
        );
        // More users affected than the component has counts as all of them.
        let too_many = [counted(
            "inc1",
            ComponentStatus::PartialOutage,
            Some(5_000),
            datetime!(2026-11-10 08:00 UTC),
            datetime!(2026-11-10 09:00 UTC),
        )];
        let r = november_report(&with_users(DowntimeSource::Incidents, 1200), &too_many);
        assert_eq!(r.to_json()["downtime_user_minutes"], "72000.0");
    }

    #[test]
    fn without_a_declared_count_status_weights_apply() {
        // A major outage with no count costs all users; a partial one 30 % of them; probe
        // intervals keep their status weights too. The figures equal the time formula's.
        let inc = [
            counted(
                "inc1",
                ComponentStatus::MajorOutage,
                None,
                datetime!(2026-11-10 08:00 UTC),
                datetime!(2026-11-10 09:00 UTC),
            ),
            counted(
                "inc2",
                ComponentStatus::PartialOutage,
                None,
                datetime!(2026-11-12 08:00 UTC),
                datetime!(2026-11-12 10:00 UTC),
            ),
        ];
        let users = november_report(&with_users(DowntimeSource::Both, 1200), &inc);
        let time = november_report(&spec(DowntimeSource::Both), &inc);
        assert_eq!(
            users.report.formula,
            sla::Formula::UserMinutes { users: 1200 }
        );
        assert_eq!(
            users.report.weighted_downtime_permille_seconds,
            3_600_000 + 7_200 * 300
        );
        assert_eq!(
            (users.report.uptime_ppb, users.report.credit_percent),
            (time.report.uptime_ppb, time.report.credit_percent)
        );
        assert_eq!(
            users.to_json()["downtime_user_minutes"],
            format!("{}.0", (60 + 36) * 1200)
        );
        // With downtime from probes alone the user count is recorded but not used.
        let probes = november_report(&with_users(DowntimeSource::Probes, 1200), &inc);
        assert_eq!(probes.report.formula, sla::Formula::Time);
        assert_eq!(probes.to_json().get("formula"), None);
    }

    #[test]
    fn percentages_truncate_never_round_up() {
        assert_eq!(percent_from_ppb(999_999_999), "99.999");
        assert_eq!(percent_from_ppb(1_000_000_000), "100.000");
        assert_eq!(percent_from_ppb(999_000_000), "99.900");
    }
}
