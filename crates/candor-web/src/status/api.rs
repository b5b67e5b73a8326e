//! The native incident API (`/api/v1`): open, update, publish and list incidents, announce and
//! complete maintenance, override a component's status, and read the rich current status.
//! Writes need a token with `incidents:write`; reading incidents (drafts included) needs `read`
//! or `incidents:write`; `GET /api/v1/status` is public like the status page.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use candor_core::identity::Scope;
use candor_core::status::{
    AffectedComponent, ComponentStatus, Incident, IncidentImpact, IncidentOrigin, IncidentStatus,
    Maintenance, StatusSettings,
};
use candor_store::StoreError;
use candor_store::status::{
    IncidentFilter, NewIncident, NewIncidentUpdate, NewMaintenance, StatusStore,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::load_current;
use crate::App;
use crate::api::{authorize, authorize_either, error_response};

/// How far in the future a start or display time may lie (clock skew between machines).
const FUTURE_SLACK: Duration = Duration::minutes(5);

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// A component and its status, as the native API shows it.
#[derive(Debug, Serialize)]
pub struct ComponentStatusJson {
    /// Component id.
    pub id: String,
    /// Component name.
    pub name: String,
    /// Status.
    pub status: &'static str,
    /// Users of the component affected, when declared (user-minute SLA formula).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users_affected: Option<u64>,
}

/// An incident update, as the native API shows it.
#[derive(Debug, Serialize)]
pub struct UpdateJson {
    /// Id.
    pub id: String,
    /// Incident status from this update on.
    pub status: &'static str,
    /// Text (Markdown).
    pub body: String,
    /// When written.
    pub created_at: String,
    /// When shown as having happened.
    pub display_at: String,
    /// Component statuses it set.
    pub components: Vec<ComponentStatusJson>,
}

/// An incident, as the native API shows it.
#[derive(Debug, Serialize)]
pub struct IncidentJson {
    /// Id.
    pub id: String,
    /// Title.
    pub name: String,
    /// Status.
    pub status: &'static str,
    /// Impact.
    pub impact: &'static str,
    /// `operator`, `monitor` or `backfill`.
    pub origin: &'static str,
    /// Not public while true.
    pub draft: bool,
    /// Created.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Trouble started.
    pub started_at: String,
    /// Entered monitoring.
    pub monitoring_at: Option<String>,
    /// Resolved.
    pub resolved_at: Option<String>,
    /// The public page (404 while a draft).
    pub url: String,
    /// Components and the status the incident gives them.
    pub components: Vec<ComponentStatusJson>,
    /// Timeline, newest first.
    pub updates: Vec<UpdateJson>,
}

fn component_json(settings: &StatusSettings, a: &AffectedComponent) -> ComponentStatusJson {
    ComponentStatusJson {
        id: a.component_id.clone(),
        name: settings
            .component(&a.component_id)
            .map_or_else(|| a.component_id.clone(), |c| c.name.clone()),
        status: a.status.as_str(),
        users_affected: a.users_affected,
    }
}

/// The native shape of an incident.
pub fn incident_json(settings: &StatusSettings, public_url: &str, i: &Incident) -> IncidentJson {
    IncidentJson {
        id: i.id.clone(),
        name: i.name.clone(),
        status: i.status.as_str(),
        impact: i.impact.as_str(),
        origin: i.origin.as_str(),
        draft: i.draft,
        created_at: rfc3339(i.created_at),
        updated_at: rfc3339(i.updated_at),
        started_at: rfc3339(i.started_at),
        monitoring_at: i.monitoring_at.map(rfc3339),
        resolved_at: i.resolved_at.map(rfc3339),
        url: format!("{public_url}/status/incidents/{}", i.id),
        components: i
            .components
            .iter()
            .map(|a| component_json(settings, a))
            .collect(),
        updates: i
            .updates
            .iter()
            .map(|u| UpdateJson {
                id: u.id.clone(),
                status: u.status.as_str(),
                body: u.body.clone(),
                created_at: rfc3339(u.created_at),
                display_at: rfc3339(u.display_at),
                components: u
                    .affected
                    .iter()
                    .map(|a| component_json(settings, a))
                    .collect(),
            })
            .collect(),
    }
}

/// The native shape of a maintenance window.
pub fn maintenance_json(
    public_url: &str,
    m: &Maintenance,
    now: OffsetDateTime,
) -> serde_json::Value {
    json!({
        "id": m.id,
        "name": m.name,
        "body": m.body,
        "status": m.status_at(now).as_str(),
        "components": m.components,
        "announced_at": rfc3339(m.announced_at),
        "scheduled_for": rfc3339(m.scheduled_for),
        "scheduled_until": rfc3339(m.scheduled_until),
        "completed_at": m.completed_at.map(rfc3339),
        "announced_in_advance": m.announced_in_advance(),
        "updated_at": rfc3339(m.updated_at),
        "url": format!("{public_url}/status/maintenance/{}", m.id),
    })
}

fn unprocessable(details: Vec<String>) -> Response {
    error_response(StatusCode::UNPROCESSABLE_ENTITY, details)
}

fn store_error(err: StoreError, what: &str) -> Response {
    match err {
        StoreError::NotFound(m) => error_response(
            StatusCode::NOT_FOUND,
            [format!("{m}; list {what}s with GET /api/v1/{what}s")],
        ),
        StoreError::Conflict(m) => error_response(StatusCode::CONFLICT, [m]),
        StoreError::Invalid(m) => unprocessable(vec![m]),
        other => {
            tracing::error!(error = %other, "status store write failed");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                ["the database is unavailable; try again shortly (retries with the same Idempotency-Key are safe)".to_owned()],
            )
        }
    }
}

// The error is the response a handler returns as is; boxing it would only add noise.
#[allow(clippy::result_large_err)]
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Response> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(k) if !k.trim().is_empty() && k.len() <= 200 => Ok(Some(k.trim().to_owned())),
            _ => Err(error_response(
                StatusCode::BAD_REQUEST,
                [
                    "the Idempotency-Key header must be 1 to 200 visible ASCII characters"
                        .to_owned(),
                ],
            )),
        },
    }
}

/// The prologue of a creating call: a token with `incidents:write`, the optional
/// `Idempotency-Key` and the JSON body.
async fn write_request<T: serde::de::DeserializeOwned>(
    app: &App,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Option<String>, T), Response> {
    authorize(app, headers, Scope::IncidentsWrite).await?;
    let key = idempotency_key(headers)?;
    Ok((key, parse_body(body)?))
}

#[allow(clippy::result_large_err)]
fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        let status = if e.is_data() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        error_response(status, [format!("the request body is not valid: {e}")])
    })
}

fn parse_time(field: &str, raw: &str, problems: &mut Vec<String>) -> Option<OffsetDateTime> {
    match OffsetDateTime::parse(raw, &Rfc3339) {
        Ok(t) => Some(t),
        Err(_) => {
            problems.push(format!(
                "{field} \"{raw}\" is not an RFC 3339 time; use e.g. 2026-10-05T14:00:00Z"
            ));
            None
        }
    }
}

fn valid_ids(settings: &StatusSettings) -> String {
    if settings.components.is_empty() {
        "none are declared; add [[components]] to candor.toml".to_owned()
    } else {
        settings
            .components
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn check_component(settings: &StatusSettings, id: &str, problems: &mut Vec<String>) -> bool {
    if settings.component(id).is_some() {
        return true;
    }
    problems.push(format!(
        "there is no component \"{id}\"; valid components: {}",
        valid_ids(settings)
    ));
    false
}

/// Checks a declared count of users affected against the user count the component's SLA
/// policy declares (`users = { api = 1200 }`): between 1 and that count.
fn check_users_affected(
    settings: &StatusSettings,
    id: &str,
    n: i64,
    problems: &mut Vec<String>,
) -> Option<u64> {
    let policy = settings.policy_for(id);
    let Some(users) = policy.users_of(id) else {
        problems.push(format!(
            "users_affected.{id}: the SLA policy \"{}\" declares no user count for \"{id}\", so users affected cannot be weighed; add users = {{ {id} = N }} to its [[sla]] in candor.toml, or leave {id} out of users_affected",
            policy.id
        ));
        return None;
    };
    match u64::try_from(n) {
        Ok(n) if (1..=users).contains(&n) => Some(n),
        Ok(0) | Err(_) => {
            problems.push(format!(
                "users_affected.{id}: {n} is not a number of users affected; give at least 1 (leave {id} out of users_affected when the count is not known)"
            ));
            None
        }
        Ok(n) => {
            problems.push(format!(
                "users_affected.{id}: {n} is more than the {users} users the SLA policy \"{}\" counts for \"{id}\"",
                policy.id
            ));
            None
        }
    }
}

fn parse_components(
    settings: &StatusSettings,
    raw: &BTreeMap<String, String>,
    users_affected: &BTreeMap<String, i64>,
    problems: &mut Vec<String>,
) -> Vec<AffectedComponent> {
    for id in users_affected.keys() {
        if !raw.contains_key(id) {
            problems.push(format!(
                "users_affected.{id}: \"{id}\" is not in components; give its status there too, e.g. \"components\": {{\"{id}\": \"partial_outage\"}}"
            ));
        }
    }
    raw.iter()
        .filter_map(|(id, status)| {
            let known = check_component(settings, id, problems);
            let users = users_affected
                .get(id)
                .filter(|_| known)
                .map(|n| check_users_affected(settings, id, *n, problems));
            match status.parse::<ComponentStatus>() {
                Ok(status) if known => Some(AffectedComponent {
                    component_id: id.clone(),
                    status,
                    users_affected: users.flatten(),
                }),
                Ok(_) => None,
                Err(e) => {
                    problems.push(format!("components.{id}: {e}"));
                    None
                }
            }
        })
        .collect()
}

fn non_empty(field: &str, value: &str, problems: &mut Vec<String>) {
    if value.trim().is_empty() {
        problems.push(format!("{field} must not be empty"));
    }
}

/// Body of `POST /api/v1/incidents`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateIncidentRequest {
    /// Title.
    pub name: String,
    /// `none|minor|major|critical`.
    pub impact: String,
    /// First status (default investigating, or resolved for a back-fill).
    pub status: Option<String>,
    /// First update's text.
    #[serde(alias = "message")]
    pub body: String,
    /// Component id → status.
    #[serde(default)]
    pub components: BTreeMap<String, String>,
    /// Component id → how many of its users are affected (each must also be in `components`;
    /// 1 up to the user count of the component's SLA policy).
    #[serde(default)]
    pub users_affected: BTreeMap<String, i64>,
    /// When it started (default now; required with resolved_at).
    pub started_at: Option<String>,
    /// Back-fill: when it ended.
    pub resolved_at: Option<String>,
    /// Keep it private until published.
    #[serde(default)]
    pub draft: bool,
}

/// `POST /api/v1/incidents` (scope `incidents:write`): 201 with the incident, or 200 with the
/// first one when the `Idempotency-Key` was seen before.
pub async fn create_incident(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (key, req): (Option<String>, CreateIncidentRequest) =
        match write_request(&app, &headers, &body).await {
            Ok(parsed) => parsed,
            Err(r) => return r,
        };
    let published = app.published();
    let settings = &published.site.settings;
    let now = app.clock.now();
    let mut problems = Vec::new();
    non_empty("name", &req.name, &mut problems);
    non_empty("body", &req.body, &mut problems);
    let impact = req
        .impact
        .parse::<IncidentImpact>()
        .map_err(|e| problems.push(format!("impact: {e}")))
        .ok();
    let status = match req.status.as_deref().map(str::parse::<IncidentStatus>) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            problems.push(format!("status: {e}"));
            None
        }
        None => None,
    };
    let components = parse_components(
        &settings.status,
        &req.components,
        &req.users_affected,
        &mut problems,
    );
    let started_at = req
        .started_at
        .as_deref()
        .and_then(|raw| parse_time("started_at", raw, &mut problems));
    let resolved_at = req
        .resolved_at
        .as_deref()
        .and_then(|raw| parse_time("resolved_at", raw, &mut problems));
    if req.resolved_at.is_some() && req.started_at.is_none() {
        problems.push("a back-filled incident needs both started_at and resolved_at".to_owned());
    }
    if let (Some(s), Some(r)) = (started_at, resolved_at)
        && r <= s
    {
        problems.push(format!(
            "resolved_at {} is not after started_at {}; the end of an incident must come after its start",
            rfc3339(r),
            rfc3339(s)
        ));
    }
    if let Some(s) = started_at
        && s > now + FUTURE_SLACK
    {
        problems.push(format!("started_at {} is in the future", rfc3339(s)));
    }
    if let Some(r) = resolved_at
        && r > now + FUTURE_SLACK
    {
        problems.push(format!("resolved_at {} is in the future", rfc3339(r)));
    }
    let status = match (status, resolved_at) {
        (Some(s), Some(_)) if !s.is_closed() => {
            problems.push(format!(
                "status \"{s}\" contradicts resolved_at: a back-filled incident is resolved or postmortem"
            ));
            s
        }
        (Some(s), _) => s,
        (None, Some(_)) => IncidentStatus::Resolved,
        (None, None) => IncidentStatus::Investigating,
    };
    let (Some(impact), true) = (impact, problems.is_empty()) else {
        return unprocessable(problems);
    };
    let new = NewIncident {
        name: req.name.trim().to_owned(),
        impact,
        status,
        body: req.body,
        components,
        origin: if resolved_at.is_some() {
            IncidentOrigin::Backfill
        } else {
            IncidentOrigin::Operator
        },
        draft: req.draft,
        started_at: started_at.unwrap_or(now),
        resolved_at,
    };
    match app.store().create_incident(&new, now, key.as_deref()).await {
        Ok((incident, created)) => {
            app.status_changed();
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                code,
                Json(incident_json(
                    &settings.status,
                    settings.public_url.as_str(),
                    &incident,
                )),
            )
                .into_response()
        }
        Err(err) => store_error(err, "incident"),
    }
}

/// Body of `POST /api/v1/incidents/{id}/updates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateIncidentRequest {
    /// The incident's status from now on.
    pub status: String,
    /// What is said.
    #[serde(alias = "message")]
    pub body: String,
    /// Component id → status, replacing those named.
    #[serde(default)]
    pub components: BTreeMap<String, String>,
    /// Component id → users affected from now on (each must also be in `components`; a
    /// component named without a count has none from this update on).
    #[serde(default)]
    pub users_affected: BTreeMap<String, i64>,
    /// Shown as having happened at (default now).
    pub display_at: Option<String>,
}

/// `POST /api/v1/incidents/{id}/updates` (scope `incidents:write`).
pub async fn update_incident(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (key, req): (Option<String>, UpdateIncidentRequest) =
        match write_request(&app, &headers, &body).await {
            Ok(parsed) => parsed,
            Err(r) => return r,
        };
    let published = app.published();
    let settings = &published.site.settings;
    let now = app.clock.now();
    let existing = match app.store().incident(&id).await {
        Ok(Some(i)) => i,
        Ok(None) => {
            return error_response(
                StatusCode::NOT_FOUND,
                [format!(
                    "there is no incident \"{id}\"; list incidents with GET /api/v1/incidents"
                )],
            );
        }
        Err(err) => return store_error(err, "incident"),
    };
    let mut problems = Vec::new();
    non_empty("body", &req.body, &mut problems);
    let status = req
        .status
        .parse::<IncidentStatus>()
        .map_err(|e| problems.push(format!("status: {e}")))
        .ok();
    let components = parse_components(
        &settings.status,
        &req.components,
        &req.users_affected,
        &mut problems,
    );
    let display_at = req
        .display_at
        .as_deref()
        .and_then(|raw| parse_time("display_at", raw, &mut problems));
    if let Some(d) = display_at
        && d < existing.started_at
    {
        problems.push(format!(
            "display_at {} is before the incident started ({})",
            rfc3339(d),
            rfc3339(existing.started_at)
        ));
    }
    let (Some(status), true) = (status, problems.is_empty()) else {
        return unprocessable(problems);
    };
    let update = NewIncidentUpdate {
        status,
        body: req.body,
        components,
        display_at: display_at.unwrap_or(now),
    };
    match app
        .store()
        .update_incident(&id, &update, now, key.as_deref())
        .await
    {
        Ok(incident) => {
            app.status_changed();
            Json(incident_json(
                &settings.status,
                settings.public_url.as_str(),
                &incident,
            ))
            .into_response()
        }
        Err(err) => store_error(err, "incident"),
    }
}

/// `POST /api/v1/incidents/{id}/publish` (scope `incidents:write`): makes a draft public.
pub async fn publish_incident(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&app, &headers, Scope::IncidentsWrite).await {
        return r;
    }
    let published = app.published();
    let settings = &published.site.settings;
    match app.store().publish_incident(&id, app.clock.now()).await {
        Ok(incident) => {
            app.status_changed();
            Json(incident_json(
                &settings.status,
                settings.public_url.as_str(),
                &incident,
            ))
            .into_response()
        }
        Err(err) => store_error(err, "incident"),
    }
}

/// Reading incidents through the native API takes `read` or `incidents:write`.
async fn authorize_read(app: &App, headers: &HeaderMap) -> Result<(), Response> {
    authorize_either(app, headers, Scope::Read, Scope::IncidentsWrite)
        .await
        .map(|_| ())
}

/// Query of `GET /api/v1/incidents`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Only unresolved ones.
    #[serde(default)]
    pub unresolved: bool,
    /// Include drafts (default true).
    pub drafts: Option<bool>,
    /// RFC 3339: only incidents overlapping `[since, until)`.
    pub since: Option<String>,
    /// See `since`.
    pub until: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// `GET /api/v1/incidents` (scope `read` or `incidents:write`): newest first, drafts included.
pub async fn list_incidents(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Err(r) = authorize_read(&app, &headers).await {
        return r;
    }
    let mut problems = Vec::new();
    let since = q
        .since
        .as_deref()
        .and_then(|r| parse_time("since", r, &mut problems));
    let until = q
        .until
        .as_deref()
        .and_then(|r| parse_time("until", r, &mut problems));
    if !problems.is_empty() {
        return unprocessable(problems);
    }
    let filter = IncidentFilter {
        include_drafts: q.drafts.unwrap_or(true),
        unresolved_only: q.unresolved,
        since,
        until,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 1_000)),
    };
    let published = app.published();
    let settings = &published.site.settings;
    match app.store().incidents(&filter).await {
        Ok(list) => Json(json!({
            "incidents": list
                .iter()
                .filter(|i| filter.include_drafts || !i.draft)
                .map(|i| incident_json(&settings.status, settings.public_url.as_str(), i))
                .collect::<Vec<_>>()
        }))
        .into_response(),
        Err(err) => store_error(err, "incident"),
    }
}

/// `GET /api/v1/incidents/{id}` (scope `read` or `incidents:write`).
pub async fn get_incident(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize_read(&app, &headers).await {
        return r;
    }
    let published = app.published();
    let settings = &published.site.settings;
    match app.store().incident(&id).await {
        Ok(Some(i)) => Json(incident_json(
            &settings.status,
            settings.public_url.as_str(),
            &i,
        ))
        .into_response(),
        Ok(None) => error_response(
            StatusCode::NOT_FOUND,
            [format!(
                "there is no incident \"{id}\"; list incidents with GET /api/v1/incidents"
            )],
        ),
        Err(err) => store_error(err, "incident"),
    }
}

/// Body of `POST /api/v1/maintenances`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceRequest {
    /// Title.
    pub name: String,
    /// What will happen.
    #[serde(alias = "message", default)]
    pub body: String,
    /// Component ids.
    pub components: Vec<String>,
    /// Window start (RFC 3339).
    pub scheduled_for: String,
    /// Window end (RFC 3339).
    pub scheduled_until: String,
}

/// `POST /api/v1/maintenances` (scope `incidents:write`): 201, 200 on an idempotent retry, 409
/// when the window overlaps another window of one of its components.
pub async fn schedule_maintenance(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (key, req): (Option<String>, MaintenanceRequest) =
        match write_request(&app, &headers, &body).await {
            Ok(parsed) => parsed,
            Err(r) => return r,
        };
    let published = app.published();
    let settings = &published.site.settings;
    let now = app.clock.now();
    let mut problems = Vec::new();
    non_empty("name", &req.name, &mut problems);
    if req.components.is_empty() {
        problems.push("components must name at least one component".to_owned());
    }
    for id in &req.components {
        check_component(&settings.status, id, &mut problems);
    }
    let from = parse_time("scheduled_for", &req.scheduled_for, &mut problems);
    let until = parse_time("scheduled_until", &req.scheduled_until, &mut problems);
    if let (Some(f), Some(u)) = (from, until)
        && u <= f
    {
        problems.push(format!(
            "scheduled_until {} is not after scheduled_for {}",
            rfc3339(u),
            rfc3339(f)
        ));
    }
    let (Some(from), Some(until), true) = (from, until, problems.is_empty()) else {
        return unprocessable(problems);
    };
    // Name the window in the way; the store enforces the same rule inside its transaction.
    if key.is_none() {
        match app.store().maintenances(from, until).await {
            Ok(existing) => {
                if let Some((other, shared)) = existing.iter().find_map(|m| {
                    let overlaps = m.scheduled_for < until && m.effective_end() > from;
                    let shared = m.components.iter().find(|c| req.components.contains(c));
                    overlaps.then_some(()).and(shared).map(|c| (m, c))
                }) {
                    return error_response(
                        StatusCode::CONFLICT,
                        [format!(
                            "the window overlaps maintenance \"{}\" ({}) on {shared}, from {} to {}; choose another time or complete that one first",
                            other.name,
                            other.id,
                            rfc3339(other.scheduled_for),
                            rfc3339(other.scheduled_until)
                        )],
                    );
                }
            }
            Err(err) => return store_error(err, "maintenance"),
        }
    }
    let new = NewMaintenance {
        name: req.name.trim().to_owned(),
        body: req.body,
        components: req.components,
        scheduled_for: from,
        scheduled_until: until,
    };
    match app
        .store()
        .schedule_maintenance(&new, now, key.as_deref())
        .await
    {
        Ok((m, created)) => {
            app.status_changed();
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                code,
                Json(maintenance_json(settings.public_url.as_str(), &m, now)),
            )
                .into_response()
        }
        Err(err) => store_error(err, "maintenance"),
    }
}

/// `POST /api/v1/maintenances/{id}/complete` (scope `incidents:write`).
pub async fn complete_maintenance(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize(&app, &headers, Scope::IncidentsWrite).await {
        return r;
    }
    let now = app.clock.now();
    let published = app.published();
    match app.store().complete_maintenance(&id, now).await {
        Ok(m) => {
            app.status_changed();
            Json(maintenance_json(
                published.site.settings.public_url.as_str(),
                &m,
                now,
            ))
            .into_response()
        }
        Err(StoreError::NotFound(_)) => error_response(
            StatusCode::NOT_FOUND,
            [format!(
                "there is no maintenance window \"{id}\"; see GET /api/v2/scheduled-maintenances.json"
            )],
        ),
        Err(err) => store_error(err, "maintenance"),
    }
}

/// `GET /api/v1/status`: each component's status and why, groups, the page indicator, open
/// incidents and upcoming or in-progress maintenance. Public.
pub async fn current_status(State(app): State<Arc<App>>) -> Response {
    let published = app.published();
    let s = &published.site.settings;
    let now = app.clock.now();
    let current = match load_current(app.store(), &s.status, now).await {
        Ok(c) => c,
        Err(err) => return super::unavailable(&err),
    };
    let components: Vec<serde_json::Value> = current
        .statuses
        .iter()
        .map(|c| {
            let spec = s.status.component(&c.component_id);
            json!({
                "id": c.component_id,
                "name": spec.map(|x| x.name.clone()),
                "group": spec.and_then(|x| x.group.clone()),
                "status": c.status.as_str(),
                "source": c.source.as_str(),
                "since": c.since.map(rfc3339),
            })
        })
        .collect();
    let groups: Vec<serde_json::Value> = super::layout(&s.status)
        .iter()
        .filter_map(|section| {
            section.group.map(|g| {
                let status = super::current::group_status(
                    current
                        .statuses
                        .iter()
                        .filter(|c| section.components.iter().any(|x| x.id == c.component_id)),
                );
                json!({
                    "id": g.id,
                    "name": g.name,
                    "status": status.as_str(),
                    "components": section.components.iter().map(|c| c.id.clone()).collect::<Vec<_>>(),
                })
            })
        })
        .collect();
    let mut response = Json(json!({
        "as_of": rfc3339(now),
        "indicator": current.indicator.as_str(),
        "description": current.indicator.description(),
        "components": components,
        "groups": groups,
        "incidents": current.open_incidents.iter().map(|i| incident_json(&s.status, s.public_url.as_str(), i)).collect::<Vec<_>>(),
        "maintenances": current.maintenances.iter().map(|m| maintenance_json(s.public_url.as_str(), m, now)).collect::<Vec<_>>(),
    }))
    .into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    response
}

/// Body of `PUT /api/v1/components/{id}/override`: `{"status": "major_outage"}` sets an
/// override, `{"status": null}` (or `null`) clears it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// The status to show whatever monitors say, or null to clear.
    pub status: Option<String>,
}

/// `PUT /api/v1/components/{id}/override` (scope `incidents:write`).
pub async fn set_override(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = authorize(&app, &headers, Scope::IncidentsWrite).await {
        return r;
    }
    let published = app.published();
    let settings = &published.site.settings;
    let mut problems = Vec::new();
    if !check_component(&settings.status, &id, &mut problems) {
        return error_response(StatusCode::NOT_FOUND, problems);
    }
    let req: Option<OverrideRequest> = match parse_body(&body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let status = match req
        .and_then(|r| r.status)
        .map(|s| s.parse::<ComponentStatus>())
    {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return unprocessable(vec![format!("status: {e}")]),
    };
    match app
        .store()
        .set_component_override(&id, status, app.clock.now())
        .await
    {
        Ok(()) => {
            app.status_changed();
            Json(json!({
                "component": id,
                "override": status.map(ComponentStatus::as_str),
            }))
            .into_response()
        }
        Err(err) => store_error(err, "component"),
    }
}
