//! The native JSON API (`/api/v1`). Errors have one shape: `{"errors":[{"detail": "…"}]}`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use candor_store::ContentRevisions;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{App, PublishError};

/// A JSON error response.
pub fn error_response(status: StatusCode, details: impl IntoIterator<Item = String>) -> Response {
    let errors: Vec<_> = details
        .into_iter()
        .map(|detail| serde_json::json!({ "detail": detail }))
        .collect();
    (status, Json(serde_json::json!({ "errors": errors }))).into_response()
}

/// A content page as the API shows it.
#[derive(Debug, Serialize)]
pub struct PageResponse {
    /// URL path.
    pub path: String,
    /// File stem; stable identifier.
    pub slug: String,
    /// `welcome` or the pillar id.
    pub pillar: String,
    /// Title.
    pub title: String,
    /// Summary.
    pub summary: String,
    /// Sort order.
    pub order: i64,
    /// SHA-256 of the source.
    pub content_sha256: String,
    /// When this version was first published.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_updated: Option<OffsetDateTime>,
    /// Where the object is declared: trust-as-code objects are read-only through the API.
    pub source: &'static str,
    /// Whether the API may change it.
    pub read_only: bool,
}

/// `GET /api/v1/pages`
pub async fn list_pages(State(app): State<Arc<App>>) -> Json<Vec<PageResponse>> {
    let published = app.published();
    let pages = published
        .site
        .pages
        .iter()
        .map(|p| {
            let path = p.path();
            PageResponse {
                last_updated: published.revisions.get(&path).map(|r| r.published_at),
                pillar: p
                    .pillar()
                    .map_or_else(|| "welcome".to_owned(), |pl| pl.id().to_owned()),
                path,
                slug: p.slug.clone(),
                title: p.title.clone(),
                summary: p.summary.clone(),
                order: p.order,
                content_sha256: p.content_sha256.clone(),
                source: "trust-as-code",
                read_only: true,
            }
        })
        .collect();
    Json(pages)
}

/// Query of `GET /api/v1/revisions`.
#[derive(Debug, Deserialize)]
pub struct RevisionsQuery {
    /// The page path, e.g. `/security/encryption`.
    pub page: String,
}

/// One revision as the API shows it.
#[derive(Debug, Serialize)]
pub struct RevisionResponse {
    /// Increasing id.
    pub id: i64,
    /// Title at that revision.
    pub title: String,
    /// SHA-256 of the source.
    pub content_sha256: String,
    /// When it was published.
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
}

/// `GET /api/v1/revisions?page=/security/encryption`: what was published when.
pub async fn page_revisions(
    State(app): State<Arc<App>>,
    Query(query): Query<RevisionsQuery>,
) -> Response {
    match app.store().revisions(&query.page).await {
        Ok(revisions) if revisions.is_empty() => error_response(
            StatusCode::NOT_FOUND,
            [format!("no page has ever been published at {}", query.page)],
        ),
        Ok(revisions) => Json(
            revisions
                .into_iter()
                .map(|r| RevisionResponse {
                    id: r.id,
                    title: r.title,
                    content_sha256: r.content_sha256,
                    published_at: r.published_at,
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "listing revisions failed");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                ["the database is unavailable; try again shortly".to_owned()],
            )
        }
    }
}

/// Like [`authorize`], for endpoints that accept either of two scopes (e.g. `read` or the
/// matching write scope). Without a live token the answer is 401 once; with one that has
/// neither scope, the 403 names the first.
pub async fn authorize_either(
    app: &App,
    headers: &axum::http::HeaderMap,
    first: candor_core::identity::Scope,
    second: candor_core::identity::Scope,
) -> Result<candor_store::identity::ApiToken, Response> {
    match authorize(app, headers, first).await {
        Ok(token) => Ok(token),
        Err(r) if r.status() == StatusCode::FORBIDDEN => {
            authorize(app, headers, second).await.map_err(|_| r)
        }
        Err(r) => Err(r),
    }
}

/// The API token presented as `Authorization: Bearer <token>`, if it is live and has `scope`;
/// otherwise the response to send (401 without a live token, 403 without the scope).
pub async fn authorize(
    app: &App,
    headers: &axum::http::HeaderMap,
    scope: candor_core::identity::Scope,
) -> Result<candor_store::identity::ApiToken, Response> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let unauthorized = |detail: &str| {
        let mut r = error_response(StatusCode::UNAUTHORIZED, [detail.to_owned()]);
        r.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer realm=\"candor\""),
        );
        r
    };
    let Some(presented) = presented else {
        return Err(unauthorized(
            "this endpoint needs an API token: send Authorization: Bearer <token> (create one under /admin/tokens)",
        ));
    };
    let token = match app.auth().token(presented).await {
        Ok(Some(token)) => token,
        Ok(None) => {
            return Err(unauthorized("the API token is unknown, revoked or expired"));
        }
        Err(err) => {
            tracing::error!(error = %err, "checking an API token failed");
            return Err(error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                ["cannot check the token right now".to_owned()],
            ));
        }
    };
    if !token.scopes.iter().any(|s| s == scope.as_str()) {
        return Err(error_response(
            StatusCode::FORBIDDEN,
            [format!(
                "the token \"{}\" lacks the scope {scope} (it has: {})",
                token.name,
                token.scopes.join(", ")
            )],
        ));
    }
    Ok(token)
}

/// `POST /api/v1/admin/reload`: re-reads the trust-as-code (token scope `content:reload`); a
/// broken config keeps the old content.
pub async fn reload(State(app): State<Arc<App>>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    let token = match authorize(
        &app,
        request.headers(),
        candor_core::identity::Scope::ContentReload,
    )
    .await
    {
        Ok(token) => token,
        Err(response) => return response,
    };
    let event = candor_store::identity::NewAuditEvent {
        actor: format!("token:{}", token.id),
        action: "content_reload".into(),
        target: "content".into(),
        source_addr: peer,
    };
    if let Err(err) = candor_store::identity::Identity::record_audit(
        app.store(),
        &[event],
        app.auth().clock().now(),
    )
    .await
    {
        tracing::error!(error = %err, "recording an audit event failed");
    }
    match app.reload().await {
        Ok(report) => {
            tracing::info!(pages = report.pages, "content reloaded through the API");
            Json(report).into_response()
        }
        Err(PublishError::Invalid(problems)) => {
            tracing::warn!(problems = %problems, "reload rejected; still serving the previous content");
            error_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                problems.iter().map(ToString::to_string),
            )
        }
        Err(err) => {
            tracing::error!(error = %err, "reload failed; still serving the previous content");
            error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                [format!(
                    "reload failed: {err}; still serving the previous content"
                )],
            )
        }
    }
}

/// `GET /api/v1/audit?actor=&action=&limit=`: the audit trail, newest first (scope `read`).
pub async fn audit_events(
    State(app): State<Arc<App>>,
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<AuditQuery>,
) -> Response {
    if let Err(response) = authorize(&app, &headers, candor_core::identity::Scope::Read).await {
        return response;
    }
    let filter = candor_store::identity::AuditFilter {
        actor: q.actor.filter(|a| !a.is_empty()),
        action: q.action.filter(|a| !a.is_empty()),
        since: None,
        until: None,
        target: None,
        limit: q.limit.unwrap_or(100).clamp(1, 10_000),
    };
    match candor_store::identity::Identity::audit_events(app.store(), &filter).await {
        Ok(events) => Json(serde_json::json!({
            "events": events.iter().map(|e| serde_json::json!({
                "id": e.id,
                "at": e.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "source": e.source_addr,
            })).collect::<Vec<_>>()
        }))
        .into_response(),
        Err(err) => {
            tracing::error!(error = %err, "reading the audit trail failed");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                ["cannot read the audit trail right now".to_owned()],
            )
        }
    }
}

/// Query of `GET /api/v1/audit`.
#[derive(Debug, serde::Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    limit: Option<u32>,
}

/// The OpenAPI document of the native API (kept beside the code; a test checks it against the
/// router and the scopes the handlers demand).
pub const OPENAPI: &str = include_str!("openapi.json");

/// `GET /api/v1/openapi.json`
pub async fn openapi() -> Response {
    let mut response = OPENAPI.into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET|POST|HEAD /api/v1/heartbeats/{token}`: a heartbeat monitor's job succeeded
/// (Healthchecks semantics; the secret token in the URL is the credential).
pub async fn heartbeat_success(
    State(app): State<Arc<App>>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Response {
    heartbeat(&app, &token, candor_probe::PingKind::Success)
}

/// `…/heartbeats/{token}/start`, `/fail` or `/<exit code>` (0 is success).
pub async fn heartbeat_signal(
    State(app): State<Arc<App>>,
    axum::extract::Path((token, signal)): axum::extract::Path<(String, String)>,
) -> Response {
    let kind = match signal.as_str() {
        "start" => candor_probe::PingKind::Start,
        "fail" => candor_probe::PingKind::Fail,
        code => match code.parse::<u8>() {
            Ok(code) => candor_probe::PingKind::from_exit_code(code),
            Err(_) => {
                return error_response(
                    StatusCode::NOT_FOUND,
                    [format!(
                        "\"{signal}\" is not a heartbeat signal; use start, fail or an exit code 0-255"
                    )],
                );
            }
        },
    };
    heartbeat(&app, &token, kind)
}

fn heartbeat(app: &App, token: &str, kind: candor_probe::PingKind) -> Response {
    let Some(monitoring) = app.monitoring() else {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            ["monitoring is not running".to_owned()],
        );
    };
    match monitoring.ping(token, kind) {
        Some(_) => (StatusCode::OK, "OK\n").into_response(),
        None => error_response(
            StatusCode::NOT_FOUND,
            ["no heartbeat monitor has this token".to_owned()],
        ),
    }
}
