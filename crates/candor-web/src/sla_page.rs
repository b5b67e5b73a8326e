//! SLA figures in public: `/status/sla` (the months so far), `/status/sla/{period}` (each
//! component's uptime, downtime, error budget and credit, with the incidents and maintenance
//! windows behind them), and the same as JSON at `/api/v1/sla/{period}` and
//! `/api/v1/sla/{component}/{period}`, plus `/api/v1/samples` (the raw samples a
//! `digest.batch` entry commits to, so the digest can be checked).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use candor_core::uptime::{ComponentReport, minutes_display, percent_from_ppb};
use candor_store::status::StatusStore;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::App;
use crate::api::error_response;
use crate::render::Chrome;

/// One component's row on the SLA page.
struct Row {
    name: String,
    uptime: String,
    downtime_minutes: String,
    budget_left_minutes: String,
    credit: String,
    coverage: String,
    verdict: &'static str,
    incidents: Vec<(String, String)>,
    maintenances: Vec<(String, String)>,
    /// Under the user-minute formula: how it was applied.
    user_minutes: Option<String>,
}

#[derive(Template)]
#[template(path = "sla.html")]
struct SlaPage<'a> {
    chrome: &'a Chrome,
    current: String,
    current_pillar: String,
    canonical: String,
    description: String,
    period: String,
    complete: bool,
    time_zone: String,
    target: String,
    rows: Vec<Row>,
    periods: Vec<String>,
    log_url: String,
}

fn row(name: &str, r: &ComponentReport) -> Row {
    Row {
        name: name.to_owned(),
        uptime: r.uptime_display(),
        downtime_minutes: minutes_display(r.report.weighted_downtime_permille_seconds),
        budget_left_minutes: minutes_display(r.report.error_budget_left_permille_seconds),
        credit: if r.report.insufficient_data {
            "—".into()
        } else {
            format!("{} %", r.report.credit_percent)
        },
        coverage: format!("{} %", r.coverage_percent()),
        verdict: if r.report.insufficient_data {
            "insufficient data"
        } else if r.report.target_met {
            "met"
        } else {
            "missed"
        },
        incidents: r.incidents.clone(),
        maintenances: r.maintenances.clone(),
        user_minutes: r
            .report
            .formula
            .users()
            .zip(r.report.weighted_downtime_permille_user_seconds)
            .map(|(users, down)| {
                let counted = i128::from(r.report.counted_seconds) * i128::from(users) * 1000;
                format!(
                    "{users} users; {} of {} user-minutes down",
                    minutes_display(down),
                    minutes_display(i64::try_from(counted).unwrap_or(i64::MAX))
                )
            }),
    }
}

/// The months from the first with data (or the last 12) up to now, newest first.
fn recent_months(now: OffsetDateTime, count: usize) -> Vec<String> {
    let (mut year, mut month) = (now.year(), u8::from(now.month()));
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(format!("{year}-{month:02}"));
        if month == 1 {
            year -= 1;
            month = 12;
        } else {
            month -= 1;
        }
    }
    out
}

async fn reports(app: &App, period: &str) -> Result<Vec<(String, ComponentReport)>, String> {
    let settings = &app.published().site.settings;
    let ids: Vec<&str> = settings
        .status
        .components
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    let reports = crate::monitoring::load_reports(
        &app.store,
        &settings.status,
        &ids,
        period,
        app.clock.now(),
    )
    .await?;
    Ok(settings
        .status
        .components
        .iter()
        .map(|c| c.name.clone())
        .zip(reports)
        .collect())
}

/// `GET /status/sla`: the current month's page.
pub async fn index(State(app): State<Arc<App>>) -> Response {
    let now = app.clock.now();
    let period = format!("{}-{:02}", now.year(), u8::from(now.month()));
    page(&app, &period).await
}

/// `GET /status/sla/{period}`
pub async fn period_page(State(app): State<Arc<App>>, Path(period): Path<String>) -> Response {
    page(&app, &period).await
}

async fn page(app: &App, period: &str) -> Response {
    let published = app.published();
    let settings = &published.site.settings;
    let rows = match reports(app, period).await {
        Ok(r) => r,
        Err(message) => {
            let status =
                if message.contains("is not a period") || message.contains("has not started") {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::INTERNAL_SERVER_ERROR
                };
            return (
                status,
                Html(format!(
                    "<!doctype html><title>SLA</title><p>{}</p>",
                    html_escape(&message)
                )),
            )
                .into_response();
        }
    };
    let first = rows.first().map(|(_, r)| r.clone());
    let policy = settings.status.sla.first().cloned();
    let target_ppm = first
        .as_ref()
        .map(|r| r.target_ppm)
        .or(policy.as_ref().map(|p| p.policy.target_ppm))
        .unwrap_or(999_000);
    let html = SlaPage {
        chrome: &published.chrome,
        current: "/status/sla".into(),
        current_pillar: "operations".into(),
        canonical: settings.public_url.join(&format!("/status/sla/{period}")),
        description: format!(
            "Uptime, downtime, error budget and service credits for {period}, computed from the status history recorded in the verifiable log."
        ),
        period: period.to_owned(),
        complete: first.as_ref().is_some_and(|r| r.complete),
        time_zone: first.as_ref().map_or_else(|| "UTC".into(), |r| r.time_zone.clone()),
        target: percent_from_ppb(u64::from(target_ppm) * 1000),
        rows: rows.iter().map(|(name, r)| row(name, r)).collect(),
        periods: recent_months(app.clock.now(), 12),
        log_url: settings.public_url.join("/log"),
    }
    .render();
    match html {
        Ok(html) => {
            let mut response = Html(html).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=60"),
            );
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "rendering the SLA page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn api_error(message: String) -> Response {
    let status = if message.starts_with("unknown component") {
        StatusCode::NOT_FOUND
    } else if message.contains("is not a period") || message.contains("has not started") {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    error_response(status, [message])
}

/// `GET /api/v1/sla/{period}`: every component's report.
pub async fn api_period(State(app): State<Arc<App>>, Path(period): Path<String>) -> Response {
    match reports(&app, &period).await {
        Ok(rows) => {
            let reports: Vec<serde_json::Value> = rows.iter().map(|(_, r)| r.to_json()).collect();
            axum::Json(serde_json::json!({ "period": period, "reports": reports })).into_response()
        }
        Err(message) => api_error(message),
    }
}

/// `GET /api/v1/sla/{component}/{period}`: one component's report (the JSON a closed period's
/// `sla.report` entry commits to).
pub async fn api_component(
    State(app): State<Arc<App>>,
    Path((component, period)): Path<(String, String)>,
) -> Response {
    let settings = &app.published().site.settings;
    match crate::monitoring::load_report(
        &app.store,
        &settings.status,
        &component,
        &period,
        app.clock.now(),
    )
    .await
    {
        Ok(r) => axum::Json(r.to_json()).into_response(),
        Err(message) => api_error(message),
    }
}

/// Query of `/api/v1/samples`.
#[derive(Debug, Deserialize)]
pub struct SamplesQuery {
    /// RFC 3339 start of the digest window.
    pub from: String,
    /// RFC 3339 end (at most one hour after `from`).
    pub to: String,
}

/// `GET /api/v1/samples?from=&to=`: the raw samples of a window, in the order and form a
/// `probe.samples` digest commits to (each item is the canonical JSON of one sample).
pub async fn api_samples(State(app): State<Arc<App>>, Query(q): Query<SamplesQuery>) -> Response {
    use time::format_description::well_known::Rfc3339;
    let parse = |name: &str, text: &str| {
        OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
            format!("`{name}` = \"{text}\" is not an RFC 3339 time such as 2026-10-05T12:00:00Z")
        })
    };
    let (from, to) = match (parse("from", &q.from), parse("to", &q.to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return error_response(StatusCode::UNPROCESSABLE_ENTITY, [e]),
    };
    if to <= from || to - from > time::Duration::HOUR {
        return error_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            ["`to` must be after `from` and at most one hour later".to_owned()],
        );
    }
    let unavailable = |err: candor_store::StoreError| {
        tracing::error!(error = %err, "reading samples failed");
        error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            ["cannot read samples right now".to_owned()],
        )
    };
    // Every monitor's samples, also of monitors removed since: the digest committed to them.
    let mut samples = match app.store.samples_between(from, to).await {
        Ok(s) => s,
        Err(err) => return unavailable(err),
    };
    crate::monitoring::sort_for_digest(&mut samples);
    let items: Vec<serde_json::Value> = samples
        .iter()
        .filter_map(|s| candor_core::entries::sample_item(s).ok())
        .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
        .collect();
    axum::Json(serde_json::json!({
        "stream": crate::monitoring::SAMPLE_STREAM,
        "from": candor_core::entries::timestamp(from),
        "to": candor_core::entries::timestamp(to),
        "count": items.len(),
        "items": items,
    }))
    .into_response()
}
