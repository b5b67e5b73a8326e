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

/// `POST /api/v1/admin/reload`: re-reads the trust-as-code. Until operator tokens exist it is
/// accepted only from the machine itself (loopback); a broken config keeps the old content.
pub async fn reload(State(app): State<Arc<App>>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !peer.is_some_and(|p| p.ip().is_loopback()) {
        return error_response(
            StatusCode::FORBIDDEN,
            [
                "reload is accepted only from the server's own machine (loopback) or by SIGHUP"
                    .to_owned(),
            ],
        );
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
