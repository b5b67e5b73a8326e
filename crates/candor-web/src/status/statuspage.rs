//! The Statuspage-compatible read API (`/api/v2/*.json`): Atlassian Statuspage's field names,
//! shapes, enum spellings, sort orders and 50-item limits, so its widget, client libraries,
//! importers and aggregators read this page as they read any Statuspage page.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use candor_core::status::{
    ComponentSpec, ComponentStatus, Incident, Maintenance, MaintenanceStatus, StatusSettings,
};
use candor_store::StoreError;
use candor_store::status::{IncidentFilter, StatusStore};
use serde::Serialize;
use time::{Duration, OffsetDateTime, UtcOffset};

use super::{CACHE_CONTROL, Current, cached, layout, load_current};
use crate::App;
use crate::cache::CachedResponse;

/// How many incidents or maintenances the "most recent" endpoints list (as Statuspage).
pub const RECENT_LIMIT: usize = 50;

/// A timestamp as Statuspage writes it: ISO 8601 in UTC with milliseconds.
pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

fn ts(at: Option<OffsetDateTime>) -> Option<String> {
    at.map(timestamp)
}

/// `page`.
#[derive(Debug, Clone, Serialize)]
pub struct PageJson {
    /// Stable id derived from the public URL.
    pub id: String,
    /// Site name.
    pub name: String,
    /// Public URL.
    pub url: String,
    /// Always UTC.
    pub time_zone: &'static str,
    /// When anything on the page last changed.
    pub updated_at: String,
}

/// `status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusJson {
    /// `none|minor|major|critical|maintenance`.
    pub indicator: &'static str,
    /// "All Systems Operational", …
    pub description: &'static str,
}

/// A component or group.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentJson {
    /// Id from the config.
    pub id: String,
    /// Name.
    pub name: String,
    /// `operational|degraded_performance|partial_outage|major_outage|under_maintenance`.
    pub status: &'static str,
    /// The start date, else when the page was first published.
    pub created_at: String,
    /// When its status last changed.
    pub updated_at: String,
    /// 1-based order on the page.
    pub position: u32,
    /// One line about it.
    pub description: Option<String>,
    /// Whether uptime bars are shown for it.
    pub showcase: bool,
    /// `YYYY-MM-DD` or null.
    pub start_date: Option<String>,
    /// The group's id, for a grouped component.
    pub group_id: Option<String>,
    /// The page's id.
    pub page_id: String,
    /// True for groups.
    pub group: bool,
    /// Never hidden.
    pub only_show_if_degraded: bool,
    /// For groups: the ids of its components.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
}

/// A component named in an incident update.
#[derive(Debug, Clone, Serialize)]
pub struct AffectedComponentJson {
    /// Component id.
    pub code: String,
    /// Component name.
    pub name: String,
    /// Its status before the update.
    pub old_status: &'static str,
    /// Its status from the update on.
    pub new_status: &'static str,
}

/// An incident update.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentUpdateJson {
    /// Stable id.
    pub id: String,
    /// Incident (or maintenance) status from this update on.
    pub status: &'static str,
    /// Text.
    pub body: String,
    /// The incident's id.
    pub incident_id: String,
    /// When written.
    pub created_at: String,
    /// Same as created_at (updates are not edited).
    pub updated_at: String,
    /// When shown as having happened.
    pub display_at: String,
    /// Components whose status the update set, or null.
    pub affected_components: Option<Vec<AffectedComponentJson>>,
    /// Always true.
    pub deliver_notifications: bool,
    /// Always null.
    pub custom_tweet: Option<String>,
    /// Always null.
    pub tweet_id: Option<String>,
}

/// An incident or, with `scheduled_*` set, a scheduled maintenance.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentJson {
    /// Stable id.
    pub id: String,
    /// Title.
    pub name: String,
    /// Incident or maintenance status.
    pub status: &'static str,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Entered monitoring.
    pub monitoring_at: Option<String>,
    /// Resolved (or maintenance completed).
    pub resolved_at: Option<String>,
    /// `none|minor|major|critical`, or `maintenance`.
    pub impact: &'static str,
    /// The public page of the incident.
    pub shortlink: String,
    /// When the trouble started (the window's start for maintenance).
    pub started_at: String,
    /// The page's id.
    pub page_id: String,
    /// Timeline, newest first.
    pub incident_updates: Vec<IncidentUpdateJson>,
    /// Components involved, as component objects.
    pub components: Vec<ComponentJson>,
    /// Maintenance only: window start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_for: Option<String>,
    /// Maintenance only: window end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_until: Option<String>,
}

/// Everything the v2 documents are made from.
pub struct Context<'a> {
    /// Settings of the published site.
    pub settings: &'a StatusSettings,
    /// Site name.
    pub site_name: &'a str,
    /// Public URL.
    pub public_url: &'a str,
    /// When the site was first published (creation time of components without a start date).
    pub epoch: OffsetDateTime,
    /// The current status.
    pub current: &'a Current,
}

impl Context<'_> {
    /// The page object.
    pub fn page(&self) -> PageJson {
        PageJson {
            id: super::page_id(self.public_url),
            name: self.site_name.to_owned(),
            url: self.public_url.to_owned(),
            time_zone: "Etc/UTC",
            updated_at: timestamp(
                self.current
                    .updated_at()
                    .unwrap_or(self.epoch)
                    .max(self.epoch),
            ),
        }
    }

    /// The status object.
    pub fn status(&self) -> StatusJson {
        StatusJson {
            indicator: self.current.indicator.as_str(),
            description: self.current.indicator.description(),
        }
    }

    fn created_at(&self, c: &ComponentSpec) -> OffsetDateTime {
        c.start_date.map_or(self.epoch, super::current::day_start)
    }

    fn component(&self, c: &ComponentSpec, position: u32, group_id: Option<&str>) -> ComponentJson {
        let current = self.current.status_of(&c.id);
        let created = self.created_at(c);
        ComponentJson {
            id: c.id.clone(),
            name: c.name.clone(),
            status: current
                .map_or(ComponentStatus::Operational, |s| s.status)
                .as_str(),
            created_at: timestamp(created),
            updated_at: timestamp(
                current
                    .and_then(|s| s.since)
                    .unwrap_or(created)
                    .max(created),
            ),
            position,
            description: c.description.clone(),
            showcase: true,
            start_date: c.start_date.map(|d| d.to_string()),
            group_id: group_id.map(str::to_owned),
            page_id: super::page_id(self.public_url),
            group: false,
            only_show_if_degraded: false,
            components: None,
        }
    }

    /// Every component and group in page order: a group, then its components.
    pub fn components(&self) -> Vec<ComponentJson> {
        let mut out = Vec::new();
        let mut position = 0u32;
        for section in layout(self.settings) {
            let group_index = section.group.map(|g| {
                position += 1;
                out.push(ComponentJson {
                    id: g.id.clone(),
                    name: g.name.clone(),
                    status: ComponentStatus::Operational.as_str(),
                    created_at: timestamp(self.epoch),
                    updated_at: timestamp(self.epoch),
                    position,
                    description: g.description.clone(),
                    showcase: false,
                    start_date: None,
                    group_id: None,
                    page_id: super::page_id(self.public_url),
                    group: true,
                    only_show_if_degraded: false,
                    components: Some(section.components.iter().map(|c| c.id.clone()).collect()),
                });
                out.len() - 1
            });
            let group_id = section.group.map(|g| g.id.as_str());
            let mut worst = ComponentStatus::Operational;
            let mut latest: Option<String> = None;
            for c in &section.components {
                position += 1;
                let json = self.component(c, position, group_id);
                if let Some(s) = self.current.status_of(&c.id) {
                    worst = worst.worst(s.status);
                }
                if latest.as_ref().is_none_or(|l| json.updated_at > *l) {
                    latest = Some(json.updated_at.clone());
                }
                out.push(json);
            }
            if let Some(index) = group_index
                && let Some(group) = out.get_mut(index)
            {
                group.status = worst.as_str();
                if let Some(latest) = latest {
                    group.updated_at = latest;
                }
            }
        }
        out
    }

    fn component_by_id(
        &self,
        all: &HashMap<String, ComponentJson>,
        id: &str,
    ) -> Option<ComponentJson> {
        all.get(id).cloned()
    }

    fn index(&self) -> HashMap<String, ComponentJson> {
        self.components()
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect()
    }

    fn name_of(&self, id: &str) -> String {
        self.settings
            .component(id)
            .map_or_else(|| id.to_owned(), |c| c.name.clone())
    }

    /// An incident in Statuspage's shape.
    pub fn incident(&self, incident: &Incident) -> IncidentJson {
        let all = self.index();
        self.incident_with(incident, &all)
    }

    fn incident_with(
        &self,
        incident: &Incident,
        all: &HashMap<String, ComponentJson>,
    ) -> IncidentJson {
        // Walk the timeline oldest first to know each component's status before each update.
        let mut state: HashMap<&str, ComponentStatus> = HashMap::new();
        let mut updates: Vec<IncidentUpdateJson> = incident
            .updates
            .iter()
            .rev()
            .map(|u| {
                let affected: Vec<AffectedComponentJson> = u
                    .affected
                    .iter()
                    .map(|a| {
                        let old = state
                            .insert(a.component_id.as_str(), a.status)
                            .unwrap_or(ComponentStatus::Operational);
                        AffectedComponentJson {
                            code: a.component_id.clone(),
                            name: self.name_of(&a.component_id),
                            old_status: old.as_str(),
                            new_status: a.status.as_str(),
                        }
                    })
                    .collect();
                IncidentUpdateJson {
                    id: u.id.clone(),
                    status: u.status.as_str(),
                    body: u.body.clone(),
                    incident_id: incident.id.clone(),
                    created_at: timestamp(u.created_at),
                    updated_at: timestamp(u.created_at),
                    display_at: timestamp(u.display_at),
                    affected_components: (!affected.is_empty()).then_some(affected),
                    deliver_notifications: true,
                    custom_tweet: None,
                    tweet_id: None,
                }
            })
            .collect();
        updates.reverse();
        IncidentJson {
            id: incident.id.clone(),
            name: incident.name.clone(),
            status: incident.status.as_str(),
            created_at: timestamp(incident.created_at),
            updated_at: timestamp(incident.updated_at),
            monitoring_at: ts(incident.monitoring_at),
            resolved_at: ts(incident.resolved_at),
            impact: incident.impact.as_str(),
            shortlink: format!("{}/status/incidents/{}", self.public_url, incident.id),
            started_at: timestamp(incident.started_at),
            page_id: super::page_id(self.public_url),
            incident_updates: updates,
            components: incident
                .components
                .iter()
                .filter_map(|a| self.component_by_id(all, &a.component_id))
                .collect(),
            scheduled_for: None,
            scheduled_until: None,
        }
    }

    /// A scheduled maintenance in Statuspage's shape (its updates made from its life so far).
    pub fn maintenance(&self, m: &Maintenance) -> IncidentJson {
        let all = self.index();
        self.maintenance_with(m, &all)
    }

    fn maintenance_with(
        &self,
        m: &Maintenance,
        all: &HashMap<String, ComponentJson>,
    ) -> IncidentJson {
        let now = self.current.now;
        let status = m.status_at(now);
        let update = |suffix: &str,
                      status: MaintenanceStatus,
                      body: String,
                      at: OffsetDateTime,
                      to: ComponentStatus,
                      from: ComponentStatus| IncidentUpdateJson {
            id: format!("{}-{suffix}", m.id),
            status: status.as_str(),
            body,
            incident_id: m.id.clone(),
            created_at: timestamp(at),
            updated_at: timestamp(at),
            display_at: timestamp(at),
            affected_components: Some(
                m.components
                    .iter()
                    .map(|c| AffectedComponentJson {
                        code: c.clone(),
                        name: self.name_of(c),
                        old_status: from.as_str(),
                        new_status: to.as_str(),
                    })
                    .collect(),
            ),
            deliver_notifications: true,
            custom_tweet: None,
            tweet_id: None,
        };
        let op = ComponentStatus::Operational;
        let maint = ComponentStatus::UnderMaintenance;
        let mut updates = vec![update(
            "scheduled",
            MaintenanceStatus::Scheduled,
            m.body.clone(),
            m.announced_at,
            op,
            op,
        )];
        if status != MaintenanceStatus::Scheduled {
            updates.push(update(
                "in-progress",
                MaintenanceStatus::InProgress,
                "Scheduled maintenance is currently in progress.".into(),
                m.scheduled_for,
                maint,
                op,
            ));
        }
        let resolved_at = (status == MaintenanceStatus::Completed).then(|| m.effective_end());
        if let Some(end) = resolved_at {
            updates.push(update(
                "completed",
                MaintenanceStatus::Completed,
                "The scheduled maintenance has been completed.".into(),
                end,
                op,
                maint,
            ));
        }
        updates.reverse();
        IncidentJson {
            id: m.id.clone(),
            name: m.name.clone(),
            status: status.as_str(),
            created_at: timestamp(m.announced_at),
            updated_at: timestamp(m.updated_at.max(resolved_at.unwrap_or(m.updated_at))),
            monitoring_at: None,
            resolved_at: ts(resolved_at),
            impact: "maintenance",
            shortlink: format!("{}/status/maintenance/{}", self.public_url, m.id),
            started_at: timestamp(m.scheduled_for),
            page_id: super::page_id(self.public_url),
            incident_updates: updates,
            components: m
                .components
                .iter()
                .filter_map(|c| self.component_by_id(all, c))
                .collect(),
            scheduled_for: Some(timestamp(m.scheduled_for)),
            scheduled_until: Some(timestamp(m.scheduled_until)),
        }
    }

    /// Incidents in Statuspage's shape, in the order given.
    pub fn incidents<'i>(
        &self,
        incidents: impl IntoIterator<Item = &'i Incident>,
    ) -> Vec<IncidentJson> {
        let all = self.index();
        incidents
            .into_iter()
            .map(|i| self.incident_with(i, &all))
            .collect()
    }

    /// Maintenances in Statuspage's shape, in the order given.
    pub fn maintenances<'m>(
        &self,
        ms: impl IntoIterator<Item = &'m Maintenance>,
    ) -> Vec<IncidentJson> {
        let all = self.index();
        ms.into_iter()
            .map(|m| self.maintenance_with(m, &all))
            .collect()
    }

    /// `summary.json`.
    pub fn summary(&self) -> serde_json::Value {
        let mut scheduled: Vec<&Maintenance> = self.current.maintenances.iter().collect();
        scheduled.sort_by_key(|m| m.scheduled_for);
        serde_json::json!({
            "page": self.page(),
            "components": self.components(),
            "incidents": self.incidents(&self.current.open_incidents),
            "scheduled_maintenances": self.maintenances(scheduled),
            "status": self.status(),
        })
    }
}

/// Which v2 document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// `summary.json`
    Summary,
    /// `status.json`
    Status,
    /// `components.json`
    Components,
    /// `incidents.json`
    Incidents,
    /// `incidents/unresolved.json`
    Unresolved,
    /// `scheduled-maintenances.json`
    Maintenances,
    /// `scheduled-maintenances/upcoming.json`
    Upcoming,
    /// `scheduled-maintenances/active.json`
    Active,
}

impl Document {
    fn path(self) -> &'static str {
        match self {
            Document::Summary => "/api/v2/summary.json",
            Document::Status => "/api/v2/status.json",
            Document::Components => "/api/v2/components.json",
            Document::Incidents => "/api/v2/incidents.json",
            Document::Unresolved => "/api/v2/incidents/unresolved.json",
            Document::Maintenances => "/api/v2/scheduled-maintenances.json",
            Document::Upcoming => "/api/v2/scheduled-maintenances/upcoming.json",
            Document::Active => "/api/v2/scheduled-maintenances/active.json",
        }
    }
}

/// Builds a v2 document from the store.
pub async fn build<S: StatusStore>(
    store: &S,
    settings: &StatusSettings,
    site_name: &str,
    public_url: &str,
    epoch: OffsetDateTime,
    now: OffsetDateTime,
    document: Document,
) -> Result<serde_json::Value, StoreError> {
    let current = load_current(store, settings, now).await?;
    let ctx = Context {
        settings,
        site_name,
        public_url,
        epoch,
        current: &current,
    };
    let page = ctx.page();
    Ok(match document {
        Document::Summary => ctx.summary(),
        Document::Status => serde_json::json!({ "page": page, "status": ctx.status() }),
        Document::Components => serde_json::json!({ "page": page, "components": ctx.components() }),
        Document::Unresolved => {
            serde_json::json!({ "page": page, "incidents": ctx.incidents(&current.open_incidents) })
        }
        Document::Incidents => {
            let recent = store
                .incidents(&IncidentFilter {
                    limit: Some(RECENT_LIMIT as u32),
                    ..IncidentFilter::default()
                })
                .await?;
            let mut recent: Vec<Incident> = recent.into_iter().filter(|i| !i.draft).collect();
            recent.sort_by(|a, b| {
                b.started_at
                    .cmp(&a.started_at)
                    .then(b.created_at.cmp(&a.created_at))
            });
            recent.truncate(RECENT_LIMIT);
            serde_json::json!({ "page": page, "incidents": ctx.incidents(&recent) })
        }
        Document::Maintenances => {
            let mut all = store
                .maintenances(
                    OffsetDateTime::UNIX_EPOCH,
                    now + Duration::days(super::FAR_FUTURE_DAYS),
                )
                .await?;
            all.sort_by_key(|m| std::cmp::Reverse(m.scheduled_for));
            all.truncate(RECENT_LIMIT);
            serde_json::json!({ "page": page, "scheduled_maintenances": ctx.maintenances(&all) })
        }
        Document::Upcoming => serde_json::json!({
            "page": page,
            "scheduled_maintenances": ctx.maintenances(current.maintenances_with(MaintenanceStatus::Scheduled)),
        }),
        Document::Active => serde_json::json!({
            "page": page,
            "scheduled_maintenances": ctx.maintenances(
                current.maintenances.iter().filter(|m| matches!(m.status_at(now), MaintenanceStatus::InProgress | MaintenanceStatus::Verifying))
            ),
        }),
    })
}

/// A JSON body ready for the status cache.
pub fn json_response(value: &serde_json::Value) -> CachedResponse {
    CachedResponse::new(
        StatusCode::OK,
        "application/json; charset=utf-8",
        CACHE_CONTROL,
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

async fn serve(app: Arc<App>, headers: HeaderMap, document: Document) -> Response {
    let builder = app.clone();
    let mut response = cached(&app, document.path(), &headers, move || async move {
        let published = builder.published();
        let s = &published.site.settings;
        let value = build(
            builder.store(),
            &s.status,
            &s.site_name,
            s.public_url.as_str(),
            builder.status_epoch().await,
            builder.clock.now(),
            document,
        )
        .await?;
        Ok(json_response(&value))
    })
    .await;
    // Statuspage's widget and other embeds read these from other origins.
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// `GET /api/v2/summary.json`
pub async fn summary(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    serve(app, headers, Document::Summary).await
}
/// `GET /api/v2/status.json`
pub async fn status(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    serve(app, headers, Document::Status).await
}
/// `GET /api/v2/components.json`
pub async fn components(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    serve(app, headers, Document::Components).await
}
/// `GET /api/v2/incidents.json`
pub async fn incidents(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    serve(app, headers, Document::Incidents).await
}
/// `GET /api/v2/incidents/unresolved.json`
pub async fn unresolved(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    serve(app, headers, Document::Unresolved).await
}
/// `GET /api/v2/scheduled-maintenances.json`
pub async fn maintenances(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    serve(app, headers, Document::Maintenances).await
}
/// `GET /api/v2/scheduled-maintenances/upcoming.json`
pub async fn upcoming(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    serve(app, headers, Document::Upcoming).await
}
/// `GET /api/v2/scheduled-maintenances/active.json`
pub async fn active(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    serve(app, headers, Document::Active).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use candor_core::status::{
        AffectedComponent, ComponentSpec, GroupSpec, IncidentImpact, IncidentOrigin,
        IncidentPolicy, IncidentStatus, IncidentUpdate, PageIndicator,
    };
    use serde_json::Value;
    use time::macros::{date, datetime};

    use crate::status::current::{CurrentStatus, StatusSource};

    const NOW: OffsetDateTime = datetime!(2026-10-05 12:00 UTC);
    const EPOCH: OffsetDateTime = datetime!(2026-01-01 09:30 UTC);

    fn spec(id: &str, group: Option<&str>, position: u32) -> ComponentSpec {
        ComponentSpec {
            id: id.into(),
            name: id.to_uppercase(),
            description: Some(format!("The {id}")),
            group: group.map(str::to_owned),
            monitors: vec![],
            position,
            incident_policy: IncidentPolicy::Draft,
            start_date: (id == "api").then_some(date!(2025 - 06 - 01)),
        }
    }

    fn settings() -> StatusSettings {
        StatusSettings {
            groups: vec![GroupSpec {
                id: "core".into(),
                name: "Core".into(),
                description: None,
                position: 0,
            }],
            components: vec![
                spec("api", Some("core"), 0),
                spec("db", Some("core"), 1),
                spec("web", None, 2),
            ],
            ..StatusSettings::default()
        }
    }

    fn incident() -> Incident {
        Incident {
            id: "inc-1".into(),
            name: "API errors".into(),
            status: IncidentStatus::Identified,
            impact: IncidentImpact::Major,
            origin: IncidentOrigin::Operator,
            draft: false,
            created_at: datetime!(2026-10-05 10:00 UTC),
            updated_at: datetime!(2026-10-05 10:30 UTC),
            started_at: datetime!(2026-10-05 09:55 UTC),
            monitoring_at: None,
            resolved_at: None,
            components: vec![AffectedComponent {
                component_id: "api".into(),
                status: ComponentStatus::MajorOutage,
                users_affected: None,
            }],
            updates: vec![
                IncidentUpdate {
                    id: "u2".into(),
                    status: IncidentStatus::Identified,
                    body: "Found it".into(),
                    created_at: datetime!(2026-10-05 10:30 UTC),
                    display_at: datetime!(2026-10-05 10:30 UTC),
                    affected: vec![AffectedComponent {
                        component_id: "api".into(),
                        status: ComponentStatus::MajorOutage,
                        users_affected: None,
                    }],
                },
                IncidentUpdate {
                    id: "u1".into(),
                    status: IncidentStatus::Investigating,
                    body: "Looking".into(),
                    created_at: datetime!(2026-10-05 10:00 UTC),
                    display_at: datetime!(2026-10-05 10:00 UTC),
                    affected: vec![AffectedComponent {
                        component_id: "api".into(),
                        status: ComponentStatus::PartialOutage,
                        users_affected: None,
                    }],
                },
            ],
        }
    }

    fn maintenance(id: &str, from: OffsetDateTime) -> Maintenance {
        Maintenance {
            id: id.into(),
            name: format!("Window {id}"),
            body: "Upgrading".into(),
            components: vec!["db".into()],
            announced_at: datetime!(2026-10-01 00:00 UTC),
            scheduled_for: from,
            scheduled_until: from + Duration::hours(2),
            completed_at: None,
            updated_at: datetime!(2026-10-01 00:00 UTC),
        }
    }

    fn current() -> Current {
        Current {
            now: NOW,
            statuses: vec![
                CurrentStatus {
                    component_id: "api".into(),
                    status: ComponentStatus::MajorOutage,
                    source: StatusSource::Observed,
                    since: Some(datetime!(2026-10-05 09:55 UTC)),
                },
                CurrentStatus {
                    component_id: "db".into(),
                    status: ComponentStatus::UnderMaintenance,
                    source: StatusSource::Maintenance,
                    since: Some(datetime!(2026-10-05 11:00 UTC)),
                },
                CurrentStatus {
                    component_id: "web".into(),
                    status: ComponentStatus::Operational,
                    source: StatusSource::Default,
                    since: None,
                },
            ],
            open_incidents: vec![incident()],
            maintenances: vec![
                maintenance("m-active", datetime!(2026-10-05 11:00 UTC)),
                maintenance("m-later", datetime!(2026-10-09 02:00 UTC)),
            ],
            indicator: PageIndicator::Critical,
            open_intervals: Vec::new(),
        }
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    fn is_timestamp(v: &Value) -> bool {
        let s = v.as_str().unwrap_or_default();
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
            && s.len() == 24
            && s.as_bytes()[19] == b'.'
            && s.ends_with('Z')
    }

    const COMPONENT_STATUSES: [&str; 5] = [
        "operational",
        "degraded_performance",
        "partial_outage",
        "major_outage",
        "under_maintenance",
    ];

    /// What a Statuspage client (the statuspage.io widget, importers) relies on.
    fn check_component(c: &Value) {
        let mut expected = vec![
            "id",
            "name",
            "status",
            "created_at",
            "updated_at",
            "position",
            "description",
            "showcase",
            "start_date",
            "group_id",
            "page_id",
            "group",
            "only_show_if_degraded",
        ];
        if c["group"] == true {
            expected.push("components");
        }
        let mut got = keys(c);
        got.sort_unstable();
        expected.sort_unstable();
        assert_eq!(got, expected, "{c}");
        assert!(
            COMPONENT_STATUSES.contains(&c["status"].as_str().unwrap()),
            "{c}"
        );
        assert!(
            is_timestamp(&c["created_at"]) && is_timestamp(&c["updated_at"]),
            "{c}"
        );
        assert!(c["position"].as_u64().is_some());
    }

    fn check_incident(i: &Value, maintenance: bool) {
        let mut expected = vec![
            "id",
            "name",
            "status",
            "created_at",
            "updated_at",
            "monitoring_at",
            "resolved_at",
            "impact",
            "shortlink",
            "started_at",
            "page_id",
            "incident_updates",
            "components",
        ];
        if maintenance {
            expected.extend(["scheduled_for", "scheduled_until"]);
            assert!(
                ["scheduled", "in_progress", "verifying", "completed"]
                    .contains(&i["status"].as_str().unwrap())
            );
            assert_eq!(i["impact"], "maintenance");
            assert!(is_timestamp(&i["scheduled_for"]) && is_timestamp(&i["scheduled_until"]));
        } else {
            assert!(
                [
                    "investigating",
                    "identified",
                    "monitoring",
                    "resolved",
                    "postmortem"
                ]
                .contains(&i["status"].as_str().unwrap())
            );
            assert!(
                ["none", "minor", "major", "critical"].contains(&i["impact"].as_str().unwrap())
            );
        }
        let mut got = keys(i);
        got.sort_unstable();
        expected.sort_unstable();
        assert_eq!(got, expected, "{i}");
        for u in i["incident_updates"].as_array().unwrap() {
            let mut got = keys(u);
            got.sort_unstable();
            let mut expected = vec![
                "id",
                "status",
                "body",
                "incident_id",
                "created_at",
                "updated_at",
                "display_at",
                "affected_components",
                "deliver_notifications",
                "custom_tweet",
                "tweet_id",
            ];
            expected.sort_unstable();
            assert_eq!(got, expected, "{u}");
            assert_eq!(u["incident_id"], i["id"]);
            assert!(is_timestamp(&u["display_at"]));
        }
        for c in i["components"].as_array().unwrap() {
            check_component(c);
        }
    }

    fn summary() -> Value {
        let settings = settings();
        let current = current();
        let ctx = Context {
            settings: &settings,
            site_name: "Acme Trust",
            public_url: "https://trust.acme.example",
            epoch: EPOCH,
            current: &current,
        };
        ctx.summary()
    }

    #[test]
    fn summary_has_statuspage_shape_and_order() {
        let s = summary();
        assert_eq!(
            keys(&s),
            vec![
                "components",
                "incidents",
                "page",
                "scheduled_maintenances",
                "status"
            ]
        );
        assert_eq!(
            s["page"],
            serde_json::json!({
                "id": crate::status::page_id("https://trust.acme.example"),
                "name": "Acme Trust",
                "url": "https://trust.acme.example",
                "time_zone": "Etc/UTC",
                "updated_at": "2026-10-05T11:00:00.000Z",
            })
        );
        assert_eq!(
            s["status"],
            serde_json::json!({"indicator": "critical", "description": "Major Service Outage"})
        );
        let components = s["components"].as_array().unwrap();
        for c in components {
            check_component(c);
        }
        // Groups first, containing their children's ids; positions follow the page.
        let ids: Vec<&str> = components
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["core", "api", "db", "web"]);
        assert_eq!(
            components[0],
            serde_json::json!({
                "id": "core",
                "name": "Core",
                "status": "major_outage",
                "created_at": "2026-01-01T09:30:00.000Z",
                "updated_at": "2026-10-05T11:00:00.000Z",
                "position": 1,
                "description": null,
                "showcase": false,
                "start_date": null,
                "group_id": null,
                "page_id": crate::status::page_id("https://trust.acme.example"),
                "group": true,
                "only_show_if_degraded": false,
                "components": ["api", "db"],
            })
        );
        assert_eq!(components[1]["group_id"], "core");
        assert_eq!(components[1]["start_date"], "2025-06-01");
        assert_eq!(components[1]["created_at"], "2025-06-01T00:00:00.000Z");
        assert_eq!(components[1]["position"], 2);
        assert_eq!(components[3]["group_id"], Value::Null);
        assert_eq!(components[3]["created_at"], "2026-01-01T09:30:00.000Z");

        let incidents = s["incidents"].as_array().unwrap();
        assert_eq!(incidents.len(), 1);
        check_incident(&incidents[0], false);
        let updates = incidents[0]["incident_updates"].as_array().unwrap();
        // Newest first; old_status follows the timeline.
        assert_eq!(updates[0]["id"], "u2");
        assert_eq!(
            updates[0]["affected_components"],
            serde_json::json!([{"code": "api", "name": "API", "old_status": "partial_outage", "new_status": "major_outage"}])
        );
        assert_eq!(
            updates[1]["affected_components"][0]["old_status"],
            "operational"
        );
        assert_eq!(
            incidents[0]["shortlink"],
            "https://trust.acme.example/status/incidents/inc-1"
        );

        let maintenances = s["scheduled_maintenances"].as_array().unwrap();
        assert_eq!(maintenances.len(), 2);
        for m in maintenances {
            check_incident(m, true);
        }
        assert_eq!(maintenances[0]["status"], "in_progress");
        assert_eq!(maintenances[1]["status"], "scheduled");
        assert_eq!(
            maintenances[0]["incident_updates"][0]["status"],
            "in_progress"
        );
    }

    #[test]
    fn timestamps_have_milliseconds_and_utc_offset() {
        assert_eq!(
            timestamp(datetime!(2026-10-05 14:03:07.123456 +02:00)),
            "2026-10-05T12:03:07.123Z"
        );
    }
}
