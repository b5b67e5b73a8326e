//! Uptime records rebuilt from log entries alone, so that anyone holding a Candor log can
//! recompute a published SLA report with [`crate::uptime::component_report`] — the very function
//! the server uses — and compare.
//!
//! Used entry types: `status.interval`, `incident.record`, `incident.update`,
//! `incident.publish`, `maintenance.record`, `maintenance.complete`, `sla.policy` and
//! `sla.report` (all v1). Every other type is skipped. An entry of a used type that does not
//! parse, or that contradicts the entries before it (an update of an unknown incident, two
//! records with one id), is an error naming its index and what is wrong: a verifier never
//! guesses around a malformed log.
//!
//! What the log does not hold is filled in so that it cannot change a figure: incident and
//! maintenance names and bodies enter the log only as SHA-256 hashes (reports list ids only),
//! and an incident's creation time is not recorded, so the first update of a live incident is
//! placed at the incident's start (the uptime arithmetic applies the first update's component
//! status from the start anyway).

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::sla::{CreditTier, Policy, Weights};
use crate::status::{
    AffectedComponent, ComponentStatus, DowntimeSource, Incident, IncidentImpact, IncidentOrigin,
    IncidentStatus, IncidentUpdate, Maintenance, SlaPeriodKind, SlaPolicySpec, StatusInterval,
    StatusSettings, Subject,
};
use crate::uptime::Records;

/// A log entry that cannot be used: which one, of what type, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntryError {
    /// The entry's log index.
    pub index: u64,
    /// Its `type`, when it had one.
    pub entry_type: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LogEntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry_type {
            Some(t) => write!(f, "log entry {} ({t}): {}", self.index, self.message),
            None => write!(f, "log entry {}: {}", self.index, self.message),
        }
    }
}

impl std::error::Error for LogEntryError {}

/// An `sla.report` entry as found in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedReport {
    /// Its log index.
    pub index: u64,
    /// The component.
    pub component_id: String,
    /// The period label.
    pub period: String,
    /// The report object (what `ComponentReport::to_json` gave the server).
    pub report: Value,
    /// The log index of the report it replaces, for an amendment.
    pub amends: Option<u64>,
}

/// Where the policy used for a component came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOrigin {
    /// The `sla.policy` entry at this log index.
    Logged(u64),
    /// No `sla.policy` entry covers the component: the built-in default policy.
    Default,
}

/// Everything the uptime arithmetic needs, rebuilt from a log.
#[derive(Debug, Clone, Default)]
pub struct LogRecords {
    /// Closed status intervals (monitors and components), in log order.
    pub intervals: Vec<StatusInterval>,
    /// Incidents (drafts included, as in the store), with their timelines newest first.
    pub incidents: Vec<Incident>,
    /// Maintenance windows, in log order.
    pub maintenances: Vec<Maintenance>,
    /// Every `sla.policy` entry, in log order.
    pub policies: Vec<(u64, SlaPolicySpec)>,
    /// Every `sla.report` entry, in log order.
    pub reports: Vec<PublishedReport>,
}

impl LogRecords {
    /// The records as [`crate::uptime::component_report`] takes them.
    pub fn records(&self) -> Records<'_> {
        Records {
            intervals: &self.intervals,
            incidents: &self.incidents,
            maintenances: &self.maintenances,
        }
    }

    /// The policy in force for a component: of the latest entry of each policy id, the most
    /// recent naming the component, else the most recent naming none (covering every
    /// component), else the default policy.
    pub fn policy_for(&self, component_id: &str) -> (SlaPolicySpec, PolicyOrigin) {
        let mut latest: Vec<&(u64, SlaPolicySpec)> = Vec::new();
        for entry in self.policies.iter().rev() {
            if !latest.iter().any(|(_, p)| p.id == entry.1.id) {
                latest.push(entry);
            }
        }
        // `latest` is newest first.
        let naming = latest
            .iter()
            .find(|(_, p)| p.components.iter().any(|c| c == component_id));
        let covering = || latest.iter().find(|(_, p)| p.components.is_empty());
        match naming.or_else(covering) {
            Some((index, spec)) => (spec.clone(), PolicyOrigin::Logged(*index)),
            None => (
                StatusSettings::default().policy_for(component_id),
                PolicyOrigin::Default,
            ),
        }
    }

    /// The recorded reports of a component for a period, in log order, checked as a chain:
    /// the first is an original (or amends nothing known) and each later one must amend the
    /// one before it. The last is the report in force.
    pub fn report_chain(
        &self,
        component_id: &str,
        period: &str,
    ) -> Result<Vec<&PublishedReport>, String> {
        let chain: Vec<&PublishedReport> = self
            .reports
            .iter()
            .filter(|r| r.component_id == component_id && r.period == period)
            .collect();
        for pair in chain.windows(2) {
            if let [before, after] = pair
                && after.amends != Some(before.index)
            {
                return Err(format!(
                    "the sla.report at log index {} for {component_id} {period} should amend the report at index {} (the one before it) but {}",
                    after.index,
                    before.index,
                    match after.amends {
                        Some(i) => format!("amends index {i}"),
                        None => "amends nothing: two originals for one period".to_owned(),
                    }
                ));
            }
        }
        if let Some(first) = chain.first()
            && let Some(i) = first.amends
        {
            return Err(format!(
                "the first sla.report for {component_id} {period} (log index {}) amends index {i}, which is not a report of that component and period",
                first.index
            ));
        }
        Ok(chain)
    }
}

/// An incident being rebuilt, with the log index of each update (for ordering).
struct Building {
    incident: Incident,
    update_indexes: Vec<u64>,
}

/// Rebuilds the records from `(log index, entry bytes)` pairs in log order.
pub fn rebuild(entries: &[(u64, Vec<u8>)]) -> Result<LogRecords, LogEntryError> {
    let mut out = LogRecords::default();
    let mut incidents: Vec<Building> = Vec::new();
    let mut incident_at: HashMap<String, usize> = HashMap::new();
    let mut maintenance_at: HashMap<String, usize> = HashMap::new();
    for (index, bytes) in entries {
        let index = *index;
        let value: Value = serde_json::from_slice(bytes).map_err(|e| LogEntryError {
            index,
            entry_type: None,
            message: format!("not JSON ({e}); every Candor entry is a JSON object"),
        })?;
        let Value::Object(map) = value else {
            return Err(LogEntryError {
                index,
                entry_type: None,
                message: "not a JSON object; every Candor entry is one".into(),
            });
        };
        let Some(Value::String(entry_type)) = map.get("type") else {
            return Err(LogEntryError {
                index,
                entry_type: None,
                message: "has no \"type\" string".into(),
            });
        };
        let entry_type = entry_type.clone();
        let used = matches!(
            entry_type.as_str(),
            "status.interval"
                | "incident.record"
                | "incident.update"
                | "incident.publish"
                | "maintenance.record"
                | "maintenance.complete"
                | "sla.policy"
                | "sla.report"
        );
        if !used {
            continue;
        }
        let f = Fields {
            map: &map,
            index,
            entry_type: &entry_type,
        };
        let version = f.u64("v")?;
        if version != 1 {
            return Err(f.error(format!(
                "version {version} is not known to this verifier (it reads v1); upgrade candor"
            )));
        }
        match entry_type.as_str() {
            "status.interval" => {
                let subject = f.str("subject")?;
                let subject = subject
                    .split_once(':')
                    .ok_or_else(|| format!("\"{subject}\" is not kind:id"))
                    .and_then(|(kind, id)| Subject::from_parts(kind, id))
                    .map_err(|m| f.error(format!("subject: {m}")))?;
                let start = f.time("start")?;
                let end = f.time("end")?;
                if end < start {
                    return Err(f.error(format!(
                        "ends ({}) before it starts ({})",
                        f.str("end")?,
                        f.str("start")?
                    )));
                }
                out.intervals.push(StatusInterval {
                    subject,
                    status: f.parse::<ComponentStatus>("status")?,
                    start,
                    end: Some(end),
                    last_seen: end,
                });
            }
            "incident.record" => {
                let id = f.str("id")?.to_owned();
                if incident_at.contains_key(&id) {
                    return Err(f.error(format!("a second record of incident {id}")));
                }
                let status = f.parse::<IncidentStatus>("status")?;
                let origin = f.parse::<IncidentOrigin>("origin")?;
                let started_at = f.time("started_at")?;
                let resolved_at = f.optional_time("resolved_at")?;
                if resolved_at.is_some() != status.is_closed() {
                    return Err(f.error(format!(
                        "status {status} does not agree with resolved_at {}",
                        if resolved_at.is_some() { "set" } else { "null" }
                    )));
                }
                let components = f.components("components")?;
                // As the store places the first update (its creation time is not logged; see
                // the module docs).
                let display_at = match (resolved_at, origin) {
                    (Some(end), _) => end,
                    _ => started_at,
                };
                let name = format!("sha256:{}", f.str("name_sha256")?);
                f.str("body_sha256")?;
                let incident = Incident {
                    id: id.clone(),
                    name,
                    status,
                    impact: f.parse::<IncidentImpact>("impact")?,
                    origin,
                    draft: f.bool("draft")?,
                    created_at: started_at,
                    updated_at: started_at,
                    started_at,
                    monitoring_at: (status == IncidentStatus::Monitoring).then_some(display_at),
                    resolved_at,
                    components: components.clone(),
                    updates: vec![IncidentUpdate {
                        id: format!("log-{index}"),
                        status,
                        body: String::new(),
                        created_at: display_at,
                        display_at,
                        affected: components,
                    }],
                };
                incident_at.insert(id, incidents.len());
                incidents.push(Building {
                    incident,
                    update_indexes: vec![index],
                });
            }
            "incident.update" => {
                let id = f.str("incident")?;
                let Some(&k) = incident_at.get(id) else {
                    return Err(f.error(format!(
                        "updates incident {id}, which has no incident.record before it"
                    )));
                };
                let status = f.parse::<IncidentStatus>("status")?;
                let display_at = f.time("display_at")?;
                let affected = f.components("components")?;
                f.str("body_sha256")?;
                let b = &mut incidents[k];
                let incident = &mut b.incident;
                // The store's lifecycle rule: entering monitoring stamps it; closing keeps the
                // first resolution time; reopening clears it.
                if status == IncidentStatus::Monitoring
                    && incident.status != IncidentStatus::Monitoring
                {
                    incident.monitoring_at = Some(display_at);
                }
                incident.resolved_at = if status.is_closed() {
                    Some(incident.resolved_at.unwrap_or(display_at))
                } else {
                    None
                };
                incident.status = status;
                incident.updated_at = display_at;
                for c in &affected {
                    match incident
                        .components
                        .iter_mut()
                        .find(|k| k.component_id == c.component_id)
                    {
                        // An update replaces the component's status and its count of users
                        // affected, as the store does.
                        Some(known) => {
                            known.status = c.status;
                            known.users_affected = c.users_affected;
                        }
                        None => incident.components.push(c.clone()),
                    }
                }
                incident.updates.push(IncidentUpdate {
                    id: f.str("update_id")?.to_owned(),
                    status,
                    body: String::new(),
                    created_at: display_at,
                    display_at,
                    affected,
                });
                b.update_indexes.push(index);
            }
            "incident.publish" => {
                let id = f.str("id")?;
                let Some(&k) = incident_at.get(id) else {
                    return Err(f.error(format!(
                        "publishes incident {id}, which has no incident.record before it"
                    )));
                };
                f.time("published_at")?;
                incidents[k].incident.draft = false;
            }
            "maintenance.record" => {
                let id = f.str("id")?.to_owned();
                if maintenance_at.contains_key(&id) {
                    return Err(f.error(format!("a second record of maintenance {id}")));
                }
                let scheduled_for = f.time("scheduled_for")?;
                let scheduled_until = f.time("scheduled_until")?;
                if scheduled_until <= scheduled_for {
                    return Err(f.error("the window ends before it starts".to_owned()));
                }
                let announced_at = f.time("announced_at")?;
                let components = f
                    .array("components")?
                    .iter()
                    .map(|c| {
                        c.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| f.error("components: not a list of ids".to_owned()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let name = format!("sha256:{}", f.str("name_sha256")?);
                f.str("body_sha256")?;
                maintenance_at.insert(id.clone(), out.maintenances.len());
                out.maintenances.push(Maintenance {
                    id,
                    name,
                    body: String::new(),
                    components,
                    announced_at,
                    scheduled_for,
                    scheduled_until,
                    completed_at: None,
                    updated_at: announced_at,
                });
            }
            "maintenance.complete" => {
                let id = f.str("id")?;
                let Some(&k) = maintenance_at.get(id) else {
                    return Err(f.error(format!(
                        "completes maintenance {id}, which has no maintenance.record before it"
                    )));
                };
                let at = f.time("completed_at")?;
                let m = &mut out.maintenances[k];
                if m.completed_at.is_none() {
                    m.completed_at = Some(at);
                    m.updated_at = at;
                }
            }
            "sla.policy" => out.policies.push((index, f.policy()?)),
            "sla.report" => {
                let report = match f.get("report")? {
                    Value::Object(o) => Value::Object(o.clone()),
                    _ => return Err(f.error("report: not a JSON object".to_owned())),
                };
                out.reports.push(PublishedReport {
                    index,
                    component_id: f.str("component")?.to_owned(),
                    period: f.str("period")?.to_owned(),
                    report,
                    amends: f.optional_u64("amends")?,
                });
            }
            _ => {}
        }
    }
    out.incidents = incidents
        .into_iter()
        .map(|b| {
            let mut incident = b.incident;
            // Newest first, as the store lists a timeline: by display time, then log order.
            let mut timeline: Vec<(IncidentUpdate, u64)> =
                incident.updates.into_iter().zip(b.update_indexes).collect();
            timeline.sort_by(|(a, ai), (b, bi)| {
                b.display_at.cmp(&a.display_at).then_with(|| bi.cmp(ai))
            });
            incident.updates = timeline.into_iter().map(|(u, _)| u).collect();
            incident
        })
        .collect();
    Ok(out)
}

/// Typed access to one entry's fields, with errors that name the entry.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    index: u64,
    entry_type: &'a str,
}

impl Fields<'_> {
    fn error(&self, message: String) -> LogEntryError {
        LogEntryError {
            index: self.index,
            entry_type: Some(self.entry_type.to_owned()),
            message,
        }
    }

    fn get(&self, name: &str) -> Result<&Value, LogEntryError> {
        self.map
            .get(name)
            .ok_or_else(|| self.error(format!("the field \"{name}\" is missing")))
    }

    fn str(&self, name: &str) -> Result<&str, LogEntryError> {
        self.get(name)?
            .as_str()
            .ok_or_else(|| self.error(format!("\"{name}\" is not a string")))
    }

    fn bool(&self, name: &str) -> Result<bool, LogEntryError> {
        self.get(name)?
            .as_bool()
            .ok_or_else(|| self.error(format!("\"{name}\" is not true or false")))
    }

    fn u64(&self, name: &str) -> Result<u64, LogEntryError> {
        self.get(name)?
            .as_u64()
            .ok_or_else(|| self.error(format!("\"{name}\" is not a non-negative integer")))
    }

    fn u32(&self, name: &str) -> Result<u32, LogEntryError> {
        u32::try_from(self.u64(name)?)
            .map_err(|_| self.error(format!("\"{name}\" is out of range")))
    }

    fn optional_u64(&self, name: &str) -> Result<Option<u64>, LogEntryError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.u64(name).map(Some),
        }
    }

    fn array(&self, name: &str) -> Result<&Vec<Value>, LogEntryError> {
        self.get(name)?
            .as_array()
            .ok_or_else(|| self.error(format!("\"{name}\" is not a list")))
    }

    fn parse<T: std::str::FromStr<Err = String>>(&self, name: &str) -> Result<T, LogEntryError> {
        self.str(name)?
            .parse()
            .map_err(|m| self.error(format!("{name}: {m}")))
    }

    fn time(&self, name: &str) -> Result<OffsetDateTime, LogEntryError> {
        let text = self.str(name)?;
        OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| self.error(format!("{name}: \"{text}\" is not an RFC 3339 time ({e})")))
    }

    fn optional_time(&self, name: &str) -> Result<Option<OffsetDateTime>, LogEntryError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.time(name).map(Some),
        }
    }

    fn components(&self, name: &str) -> Result<Vec<AffectedComponent>, LogEntryError> {
        self.array(name)?
            .iter()
            .map(|c| {
                let id = c.get("id").and_then(Value::as_str);
                let status = c.get("status").and_then(Value::as_str);
                let users_affected = match c.get("users_affected") {
                    None | Some(Value::Null) => None,
                    Some(n) => Some(n.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                        self.error(format!(
                            "{name}: \"users_affected\" must be a whole number above 0, not {n}"
                        ))
                    })?),
                };
                match (id, status) {
                    (Some(id), Some(status)) => Ok(AffectedComponent {
                        component_id: id.to_owned(),
                        status: status
                            .parse()
                            .map_err(|m| self.error(format!("{name}: {m}")))?,
                        users_affected,
                    }),
                    _ => Err(self.error(format!(
                        "{name}: every item needs an \"id\" and a \"status\" string"
                    ))),
                }
            })
            .collect()
    }

    fn policy(&self) -> Result<SlaPolicySpec, LogEntryError> {
        let components = self
            .array("components")?
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.error("components: not a list of ids".to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let weights = match self.get("weights")? {
            Value::Object(w) => Fields {
                map: w,
                index: self.index,
                entry_type: self.entry_type,
            },
            _ => return Err(self.error("\"weights\" is not an object".to_owned())),
        };
        let weights = Weights {
            major: weights.u32("major")?,
            partial: weights.u32("partial")?,
            degraded: weights.u32("degraded")?,
        };
        let tiers = self
            .array("tiers")?
            .iter()
            .map(|t| match t {
                Value::Object(t) => {
                    let t = Fields {
                        map: t,
                        index: self.index,
                        entry_type: self.entry_type,
                    };
                    Ok(CreditTier {
                        below_ppm: t.u32("below_ppm")?,
                        credit_percent: t.u32("credit_percent")?,
                    })
                }
                _ => Err(self.error("tiers: not a list of objects".to_owned())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let source = match self.str("source")? {
            "probes" => DowntimeSource::Probes,
            "incidents" => DowntimeSource::Incidents,
            "both" => DowntimeSource::Both,
            other => {
                return Err(self.error(format!(
                    "source: \"{other}\" is not probes, incidents or both"
                )));
            }
        };
        let period = match self.str("period")? {
            "month" => SlaPeriodKind::Month,
            "quarter" => SlaPeriodKind::Quarter,
            other => {
                return Err(self.error(format!("period: \"{other}\" is not month or quarter")));
            }
        };
        let time_zone = match self.map.get("time_zone") {
            None | Some(Value::Null) => None,
            // Checked here so a zone this build does not know names its entry.
            Some(_) => Some(
                crate::sla::Zone::parse(self.str("time_zone")?)
                    .map_err(|m| self.error(format!("time_zone: {m}")))?
                    .name()
                    .to_owned(),
            ),
        };
        let user_counts = self
            .array("user_counts")?
            .iter()
            .map(|u| {
                let id = u.get("component").and_then(Value::as_str);
                let users = u.get("users").and_then(Value::as_u64);
                match (id, users) {
                    (Some(id), Some(users)) => Ok((id.to_owned(), users)),
                    _ => Err(self.error(
                        "user_counts: every item needs a \"component\" and \"users\"".to_owned(),
                    )),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SlaPolicySpec {
            id: self.str("id")?.to_owned(),
            components,
            policy: Policy {
                target_ppm: self.u32("target_ppm")?,
                weights,
                exclude_maintenance: self.bool("exclude_maintenance")?,
                tiers,
                min_coverage_ppm: self.u32("min_coverage_ppm")?,
            },
            source,
            period,
            time_zone,
            user_counts,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::entries;
    use crate::uptime::component_report;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);

    fn affected(id: &str, status: ComponentStatus) -> Vec<AffectedComponent> {
        vec![AffectedComponent {
            component_id: id.into(),
            status,
            users_affected: None,
        }]
    }

    fn affected_users(id: &str, status: ComponentStatus, users: u64) -> Vec<AffectedComponent> {
        vec![AffectedComponent {
            users_affected: Some(users),
            ..affected(id, status).remove(0)
        }]
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

    /// What the server holds for October: intervals with a gap and an outage, a live incident
    /// (drafted, published, updated, resolved), a back-filled one, an announced maintenance
    /// completed early and one announced too late; plus the entries it journalled for them.
    type Server = (Vec<StatusInterval>, Vec<Incident>, Vec<Maintenance>);

    fn october() -> (Server, Vec<(u64, Vec<u8>)>) {
        use ComponentStatus::*;
        let intervals = vec![
            interval(
                Operational,
                datetime!(2026-10-01 00:00 UTC),
                datetime!(2026-10-10 00:00 UTC),
            ),
            interval(
                MajorOutage,
                datetime!(2026-10-10 00:00 UTC),
                datetime!(2026-10-10 00:45:30.5 UTC),
            ),
            interval(
                PartialOutage,
                datetime!(2026-10-10 00:45:30.5 UTC),
                datetime!(2026-10-10 02:00 UTC),
            ),
            interval(
                Operational,
                datetime!(2026-10-10 02:00 UTC),
                datetime!(2026-10-20 00:00 UTC),
            ),
            // A gap (server down) from the 20th to the 21st.
            interval(
                Operational,
                datetime!(2026-10-21 00:00 UTC),
                datetime!(2026-11-01 00:00 UTC),
            ),
        ];
        let t0 = datetime!(2026-10-15 09:00 UTC);
        let live_first = IncidentUpdate {
            id: "u1".into(),
            status: IncidentStatus::Investigating,
            body: "Looking".into(),
            created_at: t0,
            display_at: t0,
            affected: affected_users("api", MajorOutage, 25),
        };
        let live_mid = IncidentUpdate {
            id: "u2".into(),
            status: IncidentStatus::Monitoring,
            body: "Fix deployed".into(),
            created_at: datetime!(2026-10-15 09:20 UTC),
            display_at: datetime!(2026-10-15 09:20 UTC),
            affected: affected("api", DegradedPerformance),
        };
        let live_end = IncidentUpdate {
            id: "u3".into(),
            status: IncidentStatus::Resolved,
            body: "Over".into(),
            created_at: datetime!(2026-10-15 10:00 UTC),
            display_at: datetime!(2026-10-15 10:00 UTC),
            affected: affected("api", Operational),
        };
        let live_at_creation = Incident {
            id: "inc-live".into(),
            name: "API errors".into(),
            status: IncidentStatus::Investigating,
            impact: IncidentImpact::Critical,
            origin: IncidentOrigin::Monitor,
            draft: true,
            created_at: t0,
            updated_at: t0,
            started_at: t0,
            monitoring_at: None,
            resolved_at: None,
            components: affected_users("api", MajorOutage, 25),
            updates: vec![live_first.clone()],
        };
        let live = Incident {
            status: IncidentStatus::Resolved,
            draft: false,
            monitoring_at: Some(live_mid.display_at),
            resolved_at: Some(live_end.display_at),
            updated_at: live_end.created_at,
            components: affected("api", Operational),
            updates: vec![live_end.clone(), live_mid.clone(), live_first],
            ..live_at_creation.clone()
        };
        let b_start = datetime!(2026-10-25 03:00 UTC);
        let b_end = datetime!(2026-10-25 03:30 UTC);
        let backfill = Incident {
            id: "inc-back".into(),
            name: "Night outage".into(),
            status: IncidentStatus::Resolved,
            impact: IncidentImpact::Major,
            origin: IncidentOrigin::Backfill,
            draft: false,
            created_at: datetime!(2026-11-02 08:00 UTC),
            updated_at: datetime!(2026-11-02 08:00 UTC),
            started_at: b_start,
            monitoring_at: None,
            resolved_at: Some(b_end),
            components: affected_users("api", PartialOutage, 10),
            updates: vec![IncidentUpdate {
                id: "u4".into(),
                status: IncidentStatus::Resolved,
                body: "It happened".into(),
                created_at: datetime!(2026-11-02 08:00 UTC),
                display_at: b_end,
                affected: affected_users("api", PartialOutage, 10),
            }],
        };
        let announced = Maintenance {
            id: "m1".into(),
            name: "DB upgrade".into(),
            body: "Upgrading".into(),
            components: vec!["api".into(), "web".into()],
            announced_at: datetime!(2026-10-01 12:00 UTC),
            scheduled_for: datetime!(2026-10-05 02:00 UTC),
            scheduled_until: datetime!(2026-10-05 06:00 UTC),
            completed_at: None,
            updated_at: datetime!(2026-10-01 12:00 UTC),
        };
        let completed = Maintenance {
            completed_at: Some(datetime!(2026-10-05 03:00 UTC)),
            updated_at: datetime!(2026-10-05 03:00 UTC),
            ..announced.clone()
        };
        let late = Maintenance {
            id: "m2".into(),
            name: "Emergency".into(),
            body: String::new(),
            components: vec!["api".into()],
            announced_at: datetime!(2026-10-10 00:30 UTC),
            scheduled_for: datetime!(2026-10-10 00:00 UTC),
            scheduled_until: datetime!(2026-10-10 01:00 UTC),
            completed_at: None,
            updated_at: datetime!(2026-10-10 00:30 UTC),
        };

        let mut log: Vec<Vec<u8>> = vec![
            entries::content_revision("/", "ab", t0).unwrap().bytes,
            entries::maintenance_record(&announced).unwrap().bytes,
        ];
        for i in &intervals[..3] {
            log.push(
                entries::status_interval(&i.subject, i.status, i.start, i.end.unwrap())
                    .unwrap()
                    .bytes,
            );
        }
        // A monitor's interval: not the component's, ignored by the report.
        log.push(
            entries::status_interval(
                &Subject::Monitor("api-https".into()),
                MajorOutage,
                datetime!(2026-10-12 00:00 UTC),
                datetime!(2026-10-13 00:00 UTC),
            )
            .unwrap()
            .bytes,
        );
        log.push(entries::maintenance_record(&late).unwrap().bytes);
        log.push(
            entries::maintenance_complete("m1", datetime!(2026-10-05 03:00 UTC))
                .unwrap()
                .bytes,
        );
        log.push(
            entries::incident_record(&live_at_creation, "Looking")
                .unwrap()
                .bytes,
        );
        log.push(
            entries::digest_batch("probe.samples", t0, t0, 0, "00")
                .unwrap()
                .bytes,
        );
        log.push(
            entries::incident_publish("inc-live", datetime!(2026-10-15 09:05 UTC))
                .unwrap()
                .bytes,
        );
        log.push(
            entries::incident_update("inc-live", &live_mid)
                .unwrap()
                .bytes,
        );
        log.push(
            entries::incident_update("inc-live", &live_end)
                .unwrap()
                .bytes,
        );
        for i in &intervals[3..] {
            log.push(
                entries::status_interval(&i.subject, i.status, i.start, i.end.unwrap())
                    .unwrap()
                    .bytes,
            );
        }
        log.push(
            entries::incident_record(&backfill, "It happened")
                .unwrap()
                .bytes,
        );
        let log = (0u64..).zip(log).collect();
        (
            (intervals, vec![live, backfill], vec![completed, late]),
            log,
        )
    }

    fn spec(source: DowntimeSource) -> SlaPolicySpec {
        SlaPolicySpec {
            id: "standard".into(),
            components: vec!["api".into()],
            policy: Policy::default(),
            source,
            period: SlaPeriodKind::Month,
            time_zone: None,
            user_counts: vec![("api".into(), 40)],
        }
    }

    #[test]
    fn entries_round_trip_into_the_records_the_server_used() {
        let ((intervals, incidents, maintenances), log) = october();
        let rebuilt = rebuild(&log).unwrap();
        let component: Vec<_> = rebuilt
            .intervals
            .iter()
            .filter(|i| i.subject.kind() == "component")
            .cloned()
            .collect();
        assert_eq!(component, intervals);
        assert_eq!(rebuilt.intervals.len(), intervals.len() + 1);
        assert_eq!(rebuilt.maintenances.len(), 2);
        for (got, want) in rebuilt.maintenances.iter().zip(&maintenances) {
            assert_eq!(
                (
                    &got.id,
                    &got.components,
                    got.announced_at,
                    got.scheduled_for,
                    got.scheduled_until,
                    got.completed_at
                ),
                (
                    &want.id,
                    &want.components,
                    want.announced_at,
                    want.scheduled_for,
                    want.scheduled_until,
                    want.completed_at
                )
            );
        }
        for (got, want) in rebuilt.incidents.iter().zip(&incidents) {
            assert_eq!(
                (
                    &got.id,
                    got.status,
                    got.impact,
                    got.origin,
                    got.draft,
                    got.started_at,
                    got.monitoring_at,
                    got.resolved_at,
                    &got.components
                ),
                (
                    &want.id,
                    want.status,
                    want.impact,
                    want.origin,
                    want.draft,
                    want.started_at,
                    want.monitoring_at,
                    want.resolved_at,
                    &want.components
                )
            );
            let timeline = |i: &Incident| {
                i.updates
                    .iter()
                    .map(|u| (u.status, u.display_at, u.affected.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(timeline(got), timeline(want), "{}", want.id);
        }
        // The figure, under every downtime source: identical JSON.
        let server = Records {
            intervals: &intervals,
            incidents: &incidents,
            maintenances: &maintenances,
        };
        for source in [
            DowntimeSource::Probes,
            DowntimeSource::Incidents,
            DowntimeSource::Both,
        ] {
            let want = component_report(&spec(source), "api", "2026-10", &server, NOW).unwrap();
            let got =
                component_report(&spec(source), "api", "2026-10", &rebuilt.records(), NOW).unwrap();
            assert_eq!(got.to_json(), want.to_json(), "{source:?}");
            assert!(want.report.weighted_downtime_permille_seconds > 0);
        }
        let both = component_report(
            &spec(DowntimeSource::Both),
            "api",
            "2026-10",
            &rebuilt.records(),
            NOW,
        )
        .unwrap()
        .to_json();
        assert_eq!(
            both["incidents"],
            serde_json::json!(["inc-live", "inc-back"])
        );
        assert_eq!(both["maintenances"], serde_json::json!(["m1", "m2"]));
        // Maintenance announced late is not excluded; the early-completed window counts one hour.
        assert_eq!(both["excluded_seconds"], 3_600);
        // The policy counts 40 users: the declared counts (25 of them for 20 minutes, 10 for
        // half an hour) travelled through the entries and weigh the incidents.
        assert_eq!(both["formula"], "user_minutes");
        assert_eq!(both["users"], 40);
        let incidents_only = component_report(
            &spec(DowntimeSource::Incidents),
            "api",
            "2026-10",
            &rebuilt.records(),
            NOW,
        )
        .unwrap()
        .to_json();
        assert_eq!(
            incidents_only["weighted_downtime_permille_user_seconds"],
            (20 * 60 * 25 + 30 * 60 * 10) * 1000
        );
    }

    #[test]
    fn policies_and_reports_are_read_back() {
        let mut covering = spec(DowntimeSource::Probes);
        covering.id = "all".into();
        covering.components.clear();
        covering.policy.target_ppm = 995_000;
        let mut changed = spec(DowntimeSource::Both);
        changed.time_zone = Some("+02:00".into());
        changed.period = SlaPeriodKind::Quarter;
        let log: Vec<(u64, Vec<u8>)> = vec![
            (
                3,
                entries::sla_policy(&spec(DowntimeSource::Probes))
                    .unwrap()
                    .bytes,
            ),
            (4, entries::sla_policy(&covering).unwrap().bytes),
            (
                7,
                entries::sla_report("api", "2026-10", r#"{"uptime_ppb":1}"#, None)
                    .unwrap()
                    .bytes,
            ),
            (8, entries::sla_policy(&changed).unwrap().bytes),
            (
                9,
                entries::sla_report("api", "2026-10", r#"{"uptime_ppb":2}"#, Some(7))
                    .unwrap()
                    .bytes,
            ),
            (
                10,
                entries::sla_report("web", "2026-10", r#"{"uptime_ppb":3}"#, None)
                    .unwrap()
                    .bytes,
            ),
        ];
        let r = rebuild(&log).unwrap();
        assert_eq!(r.policies.len(), 3);
        assert_eq!(r.policy_for("api"), (changed, PolicyOrigin::Logged(8)));
        assert_eq!(r.policy_for("web"), (covering, PolicyOrigin::Logged(4)));
        assert_eq!(
            rebuild(&[]).unwrap().policy_for("api").1,
            PolicyOrigin::Default
        );
        assert_eq!(
            rebuild(&[]).unwrap().policy_for("api").0,
            StatusSettings::default().policy_for("api")
        );
        let chain = r.report_chain("api", "2026-10").unwrap();
        assert_eq!(
            chain.iter().map(|c| c.index).collect::<Vec<_>>(),
            vec![7, 9]
        );
        assert_eq!(chain[1].report["uptime_ppb"], 2);
        assert!(r.report_chain("api", "2026-09").unwrap().is_empty());
        // Two originals for one period are not a chain.
        let mut broken = log.clone();
        broken.push((
            11,
            entries::sla_report("web", "2026-10", "{}", None)
                .unwrap()
                .bytes,
        ));
        let err = rebuild(&broken)
            .unwrap()
            .report_chain("web", "2026-10")
            .unwrap_err();
        assert!(
            err.contains("two originals") && err.contains("index 11"),
            "{err}"
        );
    }

    #[test]
    fn a_named_zone_travels_through_the_policy_entry() {
        let ((intervals, incidents, maintenances), _) = october();
        let mut berlin = spec(DowntimeSource::Both);
        berlin.time_zone = Some("Europe/Berlin".into());
        let entry = entries::sla_policy(&berlin).unwrap();
        let text = String::from_utf8(entry.bytes.clone()).unwrap();
        assert!(text.contains(r#""time_zone":"Europe/Berlin""#), "{text}");
        let rebuilt = rebuild(&[(0, entry.bytes)]).unwrap();
        let (logged, origin) = rebuilt.policy_for("api");
        assert_eq!((&logged, origin), (&berlin, PolicyOrigin::Logged(0)));
        let server = Records {
            intervals: &intervals,
            incidents: &incidents,
            maintenances: &maintenances,
        };
        let want = component_report(&berlin, "api", "2026-10", &server, NOW).unwrap();
        let got = component_report(&logged, "api", "2026-10", &server, NOW).unwrap();
        assert_eq!(got.to_json(), want.to_json());
        assert_eq!(want.to_json()["time_zone"], "Europe/Berlin");
        assert_eq!(want.to_json()["start"], "2026-09-30T22:00:00Z");
        assert_eq!(want.to_json()["end"], "2026-10-31T23:00:00Z");
        assert_eq!(want.report.period.seconds(), 745 * 3_600);
        // A zone this build does not know is an error naming the entry.
        let unknown = String::from_utf8(entries::sla_policy(&berlin).unwrap().bytes)
            .unwrap()
            .replace("Europe/Berlin", "Europe/Atlantis");
        let err = rebuild(&[(4, unknown.into_bytes())]).unwrap_err();
        assert_eq!(err.index, 4);
        assert!(err.message.contains("\"Europe/Atlantis\""), "{err}");
    }

    #[test]
    fn malformed_entries_say_which_and_what() {
        let bad =
            |index: u64, text: &str| rebuild(&[(index, text.as_bytes().to_vec())]).unwrap_err();
        let e = bad(5, "not json");
        assert_eq!(e.index, 5);
        assert!(e.to_string().starts_with("log entry 5: not JSON"), "{e}");
        let e = bad(
            6,
            r#"{"type":"status.interval","v":1,"subject":"component:api","status":"down","start":"2026-10-01T00:00:00Z","end":"2026-10-02T00:00:00Z"}"#,
        );
        assert!(
            e.to_string()
                .starts_with("log entry 6 (status.interval): status:"),
            "{e}"
        );
        let e = bad(
            7,
            r#"{"type":"status.interval","v":1,"subject":"component:api","status":"operational","start":"2026-10-03T00:00:00Z","end":"2026-10-02T00:00:00Z"}"#,
        );
        assert!(e.message.contains("before it starts"), "{e}");
        let e = bad(
            8,
            r#"{"type":"status.interval","v":1,"subject":"api","status":"operational","start":"yesterday","end":"2026-10-02T00:00:00Z"}"#,
        );
        assert!(e.message.contains("subject"), "{e}");
        let e = bad(
            9,
            r#"{"type":"incident.update","v":1,"incident":"nope","update_id":"u","status":"resolved","display_at":"2026-10-02T00:00:00Z","components":[],"body_sha256":"00"}"#,
        );
        assert!(e.message.contains("no incident.record before it"), "{e}");
        let e = bad(
            10,
            r#"{"type":"sla.report","v":2,"component":"api","period":"2026-10","report":{},"amends":null}"#,
        );
        assert!(e.message.contains("version 2"), "{e}");
        let e = bad(11, r#"{"type":"sla.policy","v":1,"id":"x"}"#);
        assert!(e.message.contains("\"components\" is missing"), "{e}");
        let e = bad(
            12,
            r#"{"type":"maintenance.complete","v":1,"id":"m9","completed_at":"2026-10-02T00:00:00Z"}"#,
        );
        assert!(e.message.contains("m9"), "{e}");
        // Types the uptime arithmetic does not use are skipped, whatever their shape.
        assert!(rebuild(&[(0, br#"{"type":"future.thing","v":9,"x":1.5}"#.to_vec())]).is_ok());
        assert!(bad(1, "[1]").message.contains("not a JSON object"));
    }
}
