//! Monitors through the API: `GET /api/v1/monitors`, and `GET`, `PUT` and `DELETE` on
//! `/api/v1/monitors/<id>`.
//!
//! A monitor sent here is a JSON object with the keys of a `[[monitors]]` table plus the
//! `components` it feeds, checked by exactly the rules of `candor.toml`
//! ([`candor_core::monitor::monitor_from_json`]). It is stored, runs at once beside the monitors
//! of `candor.toml` (the engine and the scheduler take the new set without a restart; monitors
//! that stay keep their state and phase) and again after every start. Monitors of `candor.toml`
//! cannot be changed here. A heartbeat monitor's push token is generated, returned once and
//! stored as its SHA-256 only. Monitors made here may not probe private or loopback addresses
//! unless `[status] api_monitors_allow_private = true`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use candor_core::identity::Scope;
use candor_core::monitor::{Check, FieldProblem, MonitorSpec, format_duration, monitor_from_json};
use candor_core::status::{ComponentStatus, StatusSettings, Subject};
use candor_probe::{PushToken, TokenHash};
use candor_store::identity::{Identity, NewAuditEvent};
use candor_store::status::{StatusStore, StoredMonitor};
use serde_json::{Map, Value, json};

use crate::App;
use crate::api::{authorize, authorize_either, error_response};

/// A monitor made through the API, checked against the configuration.
#[derive(Debug, Clone)]
pub struct ApiMonitor {
    /// What to run.
    pub spec: MonitorSpec,
    /// The components it feeds.
    pub components: Vec<String>,
    /// A heartbeat monitor's push-token hash.
    pub token: Option<TokenHash>,
}

/// Checks a definition (a JSON object: `[[monitors]]` keys and `components`) for monitor `id`
/// against the configuration.
pub fn parse_definition(
    id: &str,
    body: &Map<String, Value>,
    config: &StatusSettings,
) -> Result<(MonitorSpec, Vec<String>), Vec<FieldProblem>> {
    let problem = |field: &str, message: String| FieldProblem {
        field: field.to_owned(),
        message,
    };
    let mut problems = Vec::new();
    let mut rest = body.clone();
    let mut components = Vec::new();
    match rest.remove("components") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(c) if config.component(c).is_some() => {
                        if !components.iter().any(|x| x == c) {
                            components.push(c.to_owned());
                        }
                    }
                    Some(c) => problems.push(problem(
                        &format!("components[{i}]"),
                        format!(
                            "there is no component \"{c}\"; components are declared in candor.toml: {}",
                            config
                                .components
                                .iter()
                                .map(|c| c.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )),
                    None => problems.push(problem(
                        &format!("components[{i}]"),
                        "a component id is a string".to_owned(),
                    )),
                }
            }
        }
        Some(_) => problems.push(problem(
            "components",
            "a list of component ids, e.g. [\"api\"]".to_owned(),
        )),
    }
    if rest.get("allow_private") == Some(&Value::Bool(true)) && !config.api_monitors_allow_private {
        problems.push(problem(
            "allow_private",
            "monitors made through the API may not probe private or loopback addresses; declare the monitor in candor.toml, or set [status] api_monitors_allow_private = true".to_owned(),
        ));
    }
    match monitor_from_json(id, &rest) {
        Ok(spec) if problems.is_empty() => Ok((spec, components)),
        Ok(_) => Err(problems),
        Err(mut more) => {
            problems.append(&mut more);
            Err(problems)
        }
    }
}

/// The configuration with the API monitors added: each one joins the monitors, and the monitor
/// lists of the components it feeds.
pub fn merged(config: &StatusSettings, api: &[ApiMonitor]) -> StatusSettings {
    let mut settings = config.clone();
    for m in api {
        settings.monitors.push(m.spec.clone());
        for c in settings
            .components
            .iter_mut()
            .filter(|c| m.components.contains(&c.id))
        {
            if !c.monitors.contains(&m.spec.id) {
                c.monitors.push(m.spec.id.clone());
            }
        }
    }
    settings
}

/// One stored monitor, checked against the configuration.
fn from_stored(stored: &StoredMonitor, config: &StatusSettings) -> Result<ApiMonitor, String> {
    if config.monitors.iter().any(|m| m.id == stored.id) {
        return Err("candor.toml now declares a monitor with this id, which wins".to_owned());
    }
    let body: Map<String, Value> = serde_json::from_str(&stored.definition)
        .map_err(|e| format!("the stored definition cannot be read: {e}"))?;
    let (spec, components) = parse_definition(&stored.id, &body, config).map_err(|p| {
        p.iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let token = stored.token_hash.as_deref().and_then(TokenHash::from_hex);
    if matches!(spec.check, Check::Heartbeat(_)) && token.is_none() {
        return Err("a heartbeat monitor without a push token".to_owned());
    }
    Ok(ApiMonitor {
        spec,
        components,
        token,
    })
}

/// The stored API monitors that fit the configuration; any that no longer do (a component
/// removed from `candor.toml`, an id now declared there) are skipped with a warning and stay
/// stored, so fixing the configuration brings them back.
pub async fn load<S: StatusStore>(
    store: &S,
    config: &StatusSettings,
) -> Result<Vec<ApiMonitor>, candor_store::StoreError> {
    let mut out = Vec::new();
    for stored in store.api_monitors().await? {
        match from_stored(&stored, config) {
            Ok(m) => out.push(m),
            Err(why) => {
                tracing::warn!(monitor = %stored.id, problem = %why, "a monitor made through the API is not run");
            }
        }
    }
    Ok(out)
}

/// The push-token hashes of the API's heartbeat monitors.
pub fn tokens(api: &[ApiMonitor]) -> Vec<(String, TokenHash)> {
    api.iter()
        .filter_map(|m| m.token.clone().map(|t| (m.spec.id.clone(), t)))
        .collect()
}

/// Hands the engine and the scheduler the monitors of the published `candor.toml` plus those
/// stored now (after an API change, and after a reload of the configuration).
pub async fn apply_all(
    app: &App,
    monitoring: &crate::monitoring::Monitoring,
) -> Result<(), candor_store::StoreError> {
    let published = app.published();
    let config = &published.site.settings.status;
    let api = load(app.store(), config).await?;
    monitoring.apply(merged(config, &api), &tokens(&api)).await;
    Ok(())
}

async fn apply(app: &App, monitoring: &crate::monitoring::Monitoring) -> Result<(), Response> {
    apply_all(app, monitoring)
        .await
        .map_err(|e| unavailable(&e))
}

fn unavailable(err: &candor_store::StoreError) -> Response {
    tracing::error!(error = %err, "reading or writing monitors failed");
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        ["the database is unavailable; try again shortly".to_owned()],
    )
}

fn problems_response(problems: Vec<FieldProblem>) -> Response {
    error_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        problems
            .into_iter()
            .map(|p| format!("{}: {}", p.field, p.message)),
    )
}

/// The monitor as the API shows it.
fn monitor_json(
    spec: &MonitorSpec,
    source: &str,
    components: &[String],
    status: Option<(ComponentStatus, time::OffsetDateTime)>,
) -> Value {
    let (state, since) = match status {
        None => ("unknown", None),
        Some((s, since)) => (
            match s {
                ComponentStatus::MajorOutage | ComponentStatus::PartialOutage => "down",
                ComponentStatus::DegradedPerformance => "degraded",
                _ => "up",
            },
            Some(candor_core::entries::timestamp(since)),
        ),
    };
    json!({
        "id": spec.id,
        "name": spec.name,
        "kind": spec.kind().as_str(),
        "source": source,
        "interval": format_duration(spec.interval),
        "components": components,
        "state": state,
        "since": since,
    })
}

/// Every monitor with where it comes from, what it feeds and its state.
async fn all_monitors(app: &App) -> Result<Vec<Value>, Response> {
    let published = app.published();
    let config = &published.site.settings.status;
    let api = load(app.store(), config)
        .await
        .map_err(|e| unavailable(&e))?;
    let open = app
        .store()
        .open_intervals()
        .await
        .map_err(|e| unavailable(&e))?;
    let status_of = |id: &str| {
        open.iter()
            .find(|i| i.end.is_none() && i.subject == Subject::Monitor(id.to_owned()))
            .map(|i| (i.status, i.start))
    };
    let feeds = |id: &str| -> Vec<String> {
        config
            .components
            .iter()
            .filter(|c| c.monitors.iter().any(|m| m == id))
            .map(|c| c.id.clone())
            .collect()
    };
    let mut out: Vec<Value> = config
        .monitors
        .iter()
        .map(|m| monitor_json(m, "config", &feeds(&m.id), status_of(&m.id)))
        .collect();
    out.extend(
        api.iter()
            .map(|m| monitor_json(&m.spec, "api", &m.components, status_of(&m.spec.id))),
    );
    Ok(out)
}

/// `GET /api/v1/monitors` (scope `read` or `monitors:write`).
pub async fn list(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize_either(&app, &headers, Scope::Read, Scope::MonitorsWrite).await {
        return r;
    }
    match all_monitors(&app).await {
        Ok(list) => Json(json!({ "monitors": list })).into_response(),
        Err(r) => r,
    }
}

/// `GET /api/v1/monitors/{id}` (scope `read` or `monitors:write`).
pub async fn get_one(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = authorize_either(&app, &headers, Scope::Read, Scope::MonitorsWrite).await {
        return r;
    }
    match all_monitors(&app).await {
        Ok(list) => match list.into_iter().find(|m| m["id"] == id.as_str()) {
            Some(m) => Json(m).into_response(),
            None => not_found(&id),
        },
        Err(r) => r,
    }
}

fn not_found(id: &str) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        [format!(
            "there is no monitor \"{id}\"; list monitors with GET /api/v1/monitors"
        )],
    )
}

fn declared_in_config(id: &str) -> Response {
    error_response(
        StatusCode::CONFLICT,
        [format!(
            "the monitor \"{id}\" is declared in candor.toml; change it there (monitors of candor.toml are not changed through the API)"
        )],
    )
}

/// The token of a caller allowed to change monitors, and the running engine.
async fn writer(
    app: &App,
    headers: &HeaderMap,
) -> Result<
    (
        candor_store::identity::ApiToken,
        Arc<crate::monitoring::Monitoring>,
    ),
    Response,
> {
    let token = authorize(app, headers, Scope::MonitorsWrite).await?;
    let monitoring = app.monitoring().cloned().ok_or_else(|| {
        error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            ["monitoring is not running on this server".to_owned()],
        )
    })?;
    Ok((token, monitoring))
}

async fn audit(app: &App, token: &candor_store::identity::ApiToken, action: &str, id: &str) {
    let event = NewAuditEvent {
        actor: format!("token:{}", token.id),
        action: action.to_owned(),
        target: format!("monitor:{id}"),
        source_addr: "api".to_owned(),
    };
    if let Err(e) = app.store().record_audit(&[event], app.clock.now()).await {
        tracing::error!(error = %e, action, "recording an audit event failed");
    }
}

/// `PUT /api/v1/monitors/{id}` (scope `monitors:write`): creates (201) or replaces (200) a
/// monitor and runs it at once. A new heartbeat monitor's push URL is in the response, once.
pub async fn put(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (token, monitoring) = match writer(&app, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let published = app.published();
    let config = &published.site.settings.status;
    if config.monitors.iter().any(|m| m.id == id) {
        return declared_in_config(&id);
    }
    let definition: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return problems_response(vec![FieldProblem {
                field: "body".into(),
                message: "a JSON object with the keys of a [[monitors]] table".into(),
            }]);
        }
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                [format!("the request body is not JSON: {e}")],
            );
        }
    };
    let (spec, components) = match parse_definition(&id, &definition, config) {
        Ok(ok) => ok,
        Err(problems) => return problems_response(problems),
    };
    let _one_change_at_a_time = monitoring.changing.lock().await;
    let stored = match app.store().api_monitors().await {
        Ok(all) => all.into_iter().find(|m| m.id == id),
        Err(e) => return unavailable(&e),
    };
    // A heartbeat monitor keeps its push URL when replaced; a new one gets a new token.
    let mut push = None;
    if matches!(spec.check, Check::Heartbeat(_))
        && stored
            .as_ref()
            .and_then(|s| s.token_hash.as_ref())
            .is_none()
    {
        match PushToken::generate() {
            Ok(t) => push = Some(t),
            Err(e) => {
                tracing::error!(error = %e, "generating a push token failed");
                return error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ["a push token cannot be generated right now; try again".to_owned()],
                );
            }
        }
    }
    let text = Value::Object(definition).to_string();
    let hash = push.as_ref().map(|t| t.hash().to_hex());
    let created = match app
        .store()
        .put_api_monitor(&id, &text, hash.as_deref(), app.clock.now())
        .await
    {
        Ok(created) => created,
        Err(e) => return unavailable(&e),
    };
    if let Err(r) = apply(&app, &monitoring).await {
        return r;
    }
    audit(
        &app,
        &token,
        if created {
            "monitor_created"
        } else {
            "monitor_replaced"
        },
        &id,
    )
    .await;
    let mut view = monitor_json(&spec, "api", &components, None);
    if let Some(t) = &push {
        view["push_url"] = Value::String(
            published
                .site
                .settings
                .public_url
                .join(&format!("/api/v1/heartbeats/{}", t.expose())),
        );
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    (status, Json(view)).into_response()
}

/// `DELETE /api/v1/monitors/{id}` (scope `monitors:write`): stops and removes a monitor made
/// through the API. Its history stays.
pub async fn delete(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (token, monitoring) = match writer(&app, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if app
        .published()
        .site
        .settings
        .status
        .monitors
        .iter()
        .any(|m| m.id == id)
    {
        return declared_in_config(&id);
    }
    let _one_change_at_a_time = monitoring.changing.lock().await;
    match app.store().delete_api_monitor(&id).await {
        Ok(true) => {}
        Ok(false) => return not_found(&id),
        Err(e) => return unavailable(&e),
    }
    if let Err(r) = apply(&app, &monitoring).await {
        return r;
    }
    audit(&app, &token, "monitor_deleted", &id).await;
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use candor_core::status::{ComponentSpec, IncidentPolicy};

    fn config(allow_private: bool) -> StatusSettings {
        StatusSettings {
            components: vec![ComponentSpec {
                id: "api".into(),
                name: "API".into(),
                description: None,
                group: None,
                monitors: vec!["api-port".into()],
                position: 0,
                incident_policy: IncidentPolicy::Draft,
                start_date: None,
            }],
            api_monitors_allow_private: allow_private,
            ..StatusSettings::default()
        }
    }

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn private_targets_need_the_operator_to_allow_them_for_the_api() {
        let definition = body(json!({
            "kind": "tcp",
            "target": "127.0.0.1:5432",
            "allow_private": true,
            "components": ["api"],
        }));
        let refused = parse_definition("db", &definition, &config(false)).unwrap_err();
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].field, "allow_private");
        assert!(refused[0].message.contains("api_monitors_allow_private"));
        let (spec, components) = parse_definition("db", &definition, &config(true)).unwrap();
        assert!(spec.allow_private);
        assert_eq!(components, vec!["api".to_owned()]);
    }

    #[test]
    fn an_api_monitor_joins_its_components_monitor_lists() {
        let config = config(false);
        let (spec, components) = parse_definition(
            "api-health",
            &body(
                json!({ "kind": "http", "url": "https://api.example.com/", "components": ["api"] }),
            ),
            &config,
        )
        .unwrap();
        let merged = merged(
            &config,
            &[ApiMonitor {
                spec,
                components,
                token: None,
            }],
        );
        assert_eq!(merged.monitors.len(), 1);
        assert_eq!(
            merged.components[0].monitors,
            vec!["api-port".to_owned(), "api-health".to_owned()]
        );
        let unknown = parse_definition(
            "x",
            &body(json!({ "kind": "http", "url": "https://a.example/", "components": "api" })),
            &config,
        )
        .unwrap_err();
        assert_eq!(unknown[0].field, "components");
    }
}
