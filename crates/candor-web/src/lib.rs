//! Candor's HTTP surface.
//!
//! [`App`] holds the current site, rendered once per content change into a [`cache::PageCache`],
//! and swaps it atomically on reload. [`App::router`] is the one route table: the public portal
//! (served from memory), the native API under `/api/v1`, and the operations endpoints.
#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod assets;
pub mod auth;
pub mod cache;
pub mod customer;
pub mod digest;
pub mod headers;
pub mod log;
pub mod monitoring;
pub mod monitors_api;
pub mod observe;
pub mod render;
pub mod sla_page;
pub mod sla_policy;
pub mod status;
pub mod witness;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use candor_core::config::{Overrides, Settings};
use candor_core::{Clock, Diagnostics, Site};
use candor_store::{ContentRevisions, Health, PageDigest, Revision, Store, StoreError};

use crate::assets::Assets;
use crate::cache::PageCache;
use crate::observe::Metrics;

/// Outgoing mail as the app needs it. The binary connects it to the persistent outbox, so a
/// mail is durably queued when `send` returns.
pub trait Mailer: Send + Sync {
    /// Queues a plain-text mail.
    fn send<'a>(
        &'a self,
        to: &'a str,
        subject: &'a str,
        text: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// Why the site could not be (re)published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The trust-as-code has problems; nothing changed.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// Recording content revisions failed; nothing changed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// A template failed to render; nothing changed.
    #[error("rendering failed: {0}")]
    Render(String),
}

/// What a successful reload did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadReport {
    /// Pages now published.
    pub pages: usize,
    /// Settings that changed but only take effect after a restart.
    pub restart_required_for: Vec<&'static str>,
}

/// The published state: swapped whole on each content change.
pub struct Published {
    /// The validated site.
    pub site: Site,
    /// Latest revision by page path.
    pub revisions: HashMap<String, Revision>,
    /// Rendered pages.
    pub cache: Arc<PageCache>,
    /// Security headers derived from `public_url`.
    pub security_headers: HeaderMap,
    /// Shared page chrome, for pages rendered per request.
    pub chrome: render::Chrome,
}

/// The running trust center.
pub struct App {
    config_path: PathBuf,
    overrides: Overrides,
    /// Settings the process started with (listen, data dir, database are fixed until restart).
    started_with: Settings,
    store: Store,
    clock: Arc<dyn Clock>,
    assets: Assets,
    current: ArcSwap<Published>,
    reloading: tokio::sync::Mutex<()>,
    metrics: Metrics,
    log: Arc<log::LogService>,
    auth: Arc<auth::Auth>,
    oidc: Option<Arc<auth::OidcSignIn>>,
    mailer: Arc<dyn Mailer>,
    /// Discovered providers of tenants that sign in with their own OpenID Connect provider,
    /// keyed by (tenant, issuer, client id).
    tenant_oidc: std::sync::Mutex<HashMap<(i64, String, String), Arc<auth::OidcSignIn>>>,
    /// The monitoring engine, once `serve` started it.
    monitoring: std::sync::OnceLock<Arc<monitoring::Monitoring>>,
    /// Bumped whenever the public status changed (status page caches compare it).
    status_generation: std::sync::atomic::AtomicU64,
    /// Rendered status pages, feed and `/api/v2` documents, dropped by [`App::status_changed`].
    status_cache: status::StatusCache,
}

impl App {
    /// Attaches the monitoring engine (heartbeat pings reach it through the API).
    pub fn attach_monitoring(&self, monitoring: Arc<monitoring::Monitoring>) {
        let _ = self.monitoring.set(monitoring);
    }

    /// The monitoring engine, if running.
    pub fn monitoring(&self) -> Option<&Arc<monitoring::Monitoring>> {
        self.monitoring.get()
    }

    /// Sets a gauge shown on `/metrics`.
    pub fn set_gauge(&self, name: &'static str, value: f64) {
        self.metrics.set_gauge(name, value);
    }

    /// Says the public status changed: cached status pages are re-rendered on next request.
    /// Call after any change of a component's status, an incident or a maintenance window (the
    /// status API's own writes call it).
    pub fn status_changed(&self) {
        self.status_generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        self.status_cache.invalidate();
    }

    /// The current status generation (see [`App::status_changed`]).
    pub fn status_generation(&self) -> u64 {
        self.status_generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Publishes `site` (recording content revisions) and returns the running app.
    pub async fn start(
        site: Site,
        overrides: Overrides,
        store: Store,
        clock: Arc<dyn Clock>,
        log: Arc<log::LogService>,
        mailer: Arc<dyn Mailer>,
    ) -> Result<Arc<App>, PublishError> {
        let assets = Assets::default();
        let published = publish(&site, &store, clock.as_ref(), &assets).await?;
        let auth = auth::Auth::new(store.clone(), clock.clone()).map_err(PublishError::Render)?;
        let app = Arc::new(App {
            config_path: site.settings.config_path.clone(),
            overrides,
            started_with: site.settings.clone(),
            store,
            clock,
            assets,
            current: ArcSwap::from_pointee(published),
            reloading: tokio::sync::Mutex::new(()),
            metrics: Metrics::new(),
            log,
            auth,
            oidc: site
                .settings
                .oidc
                .as_ref()
                .map(|c| Arc::new(auth::OidcSignIn::new(c, site.settings.public_url.as_str()))),
            mailer,
            tenant_oidc: std::sync::Mutex::new(HashMap::new()),
            monitoring: std::sync::OnceLock::new(),
            status_generation: std::sync::atomic::AtomicU64::new(0),
            status_cache: status::StatusCache::default(),
        });
        app.log.wake();
        app.compress_in_background();
        app.metrics.spawn_upkeep();
        Ok(app)
    }

    /// Re-reads the trust-as-code. On any problem the old content keeps being served and the
    /// problems are returned (and logged by the caller).
    pub async fn reload(&self) -> Result<ReloadReport, PublishError> {
        let _one_at_a_time = self.reloading.lock().await;
        let path = self.config_path.clone();
        let overrides = self.overrides.clone();
        let loaded =
            tokio::task::spawn_blocking(move || candor_core::load::load_site(&path, &overrides))
                .await
                .map_err(|e| PublishError::Render(e.to_string()))?;
        let mut site = loaded.map_err(PublishError::Invalid)?;
        let mut restart_required_for = Vec::new();
        let old = &self.started_with;
        if site.settings.listen != old.listen {
            restart_required_for.push("server.listen");
        }
        if site.settings.data_dir != old.data_dir {
            restart_required_for.push("server.data_dir");
        }
        if site.settings.database != old.database {
            restart_required_for.push("server.database_url");
        }
        // Keep what the process actually runs with; the rest applies now.
        site.settings.listen = old.listen;
        site.settings.data_dir = old.data_dir.clone();
        site.settings.database = old.database.clone();
        // A new or changed SLA policy is in the log before any figure uses it: if it cannot be
        // recorded, the reload is refused and the previous configuration stays in force.
        if self.monitoring().is_some() {
            sla_policy::record_policies(&self.store, &site.settings.status, self.clock.now())
                .await?;
        }
        let published = publish(&site, &self.store, self.clock.as_ref(), &self.assets).await?;
        let pages = site.pages.len();
        self.current.store(Arc::new(published));
        // Monitors, components and groups may have changed: the engine and the scheduler take
        // the new set.
        if let Some(monitoring) = self.monitoring().cloned() {
            let _one_change_at_a_time = monitoring.changing.lock().await;
            if let Err(err) = monitors_api::apply_all(self, &monitoring).await {
                tracing::error!(error = %err, "applying the reloaded monitors failed; the previous ones keep running");
            }
        }
        self.status_changed();
        self.log.wake();
        self.compress_in_background();
        Ok(ReloadReport {
            pages,
            restart_required_for,
        })
    }

    /// The currently published state.
    pub fn published(&self) -> Arc<Published> {
        self.current.load_full()
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// When this trust center was first published (the oldest revision of its home page, or of
    /// its oldest page): the stable creation time of status objects that have none of their own.
    pub async fn status_epoch(&self) -> time::OffsetDateTime {
        self.status_cache
            .epoch(|| async {
                let published = self.published();
                let oldest_latest = published.revisions.values().min_by_key(|r| r.published_at);
                let path = if published.revisions.contains_key("/") {
                    Some("/".to_owned())
                } else {
                    oldest_latest.map(|r| r.page_path.clone())
                };
                let first = match path {
                    Some(path) => self
                        .store
                        .revisions(&path)
                        .await
                        .ok()
                        .and_then(|r| r.first().map(|r| r.published_at)),
                    None => None,
                };
                first
                    .or_else(|| oldest_latest.map(|r| r.published_at))
                    .unwrap_or_else(|| self.clock.now())
            })
            .await
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Operator authentication.
    pub fn auth(&self) -> &Arc<auth::Auth> {
        &self.auth
    }

    /// Outgoing mail.
    pub fn mailer(&self) -> &Arc<dyn Mailer> {
        &self.mailer
    }

    /// The sign-in client for a tenant's own provider (public client with PKCE), made once.
    pub fn tenant_oidc(
        &self,
        tenant_id: i64,
        issuer: &str,
        client_id: &str,
    ) -> Arc<auth::OidcSignIn> {
        let key = (tenant_id, issuer.to_owned(), client_id.to_owned());
        let mut map = match self.tenant_oidc.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(key)
            .or_insert_with(|| {
                let config = candor_core::config::OidcConfig {
                    issuer: issuer.to_owned(),
                    client_id: client_id.to_owned(),
                    client_secret: None,
                    label: String::new(),
                };
                let public_url = self
                    .published()
                    .site
                    .settings
                    .public_url
                    .as_str()
                    .to_owned();
                Arc::new(auth::OidcSignIn::with_callback(
                    &config,
                    &format!(
                        "{}/customer/oidc/callback",
                        public_url.trim_end_matches('/')
                    ),
                ))
            })
            .clone()
    }

    /// OpenID Connect sign-in, when configured.
    pub fn oidc(&self) -> Option<&Arc<auth::OidcSignIn>> {
        self.oidc.as_ref()
    }

    /// The route table.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(observe::metrics))
            .route("/log/{*rest}", get(serve_log))
            .route("/verify", get(verify))
            .route("/api/v1/pages", get(api::list_pages))
            .route("/api/v1/revisions", get(api::page_revisions))
            .route("/api/v1/admin/reload", post(api::reload))
            .route("/api/v1/audit", get(api::audit_events))
            .route("/api/v1/openapi.json", get(api::openapi))
            .route("/status/sla", get(sla_page::index))
            .route("/status/sla/{period}", get(sla_page::period_page))
            .route("/api/v1/sla/{period}", get(sla_page::api_period))
            .route(
                "/api/v1/sla/{component}/{period}",
                get(sla_page::api_component),
            )
            .route("/api/v1/samples", get(sla_page::api_samples))
            .route("/api/v1/monitors", get(monitors_api::list))
            .route(
                "/api/v1/monitors/{id}",
                get(monitors_api::get_one)
                    .put(monitors_api::put)
                    .delete(monitors_api::delete),
            )
            .route(
                "/api/v1/heartbeats/{token}",
                get(api::heartbeat_success).post(api::heartbeat_success),
            )
            .route(
                "/api/v1/heartbeats/{token}/{signal}",
                get(api::heartbeat_signal).post(api::heartbeat_signal),
            )
            .route(
                "/api/v1/incidents",
                get(status::api::list_incidents).post(status::api::create_incident),
            )
            .route("/api/v1/incidents/{id}", get(status::api::get_incident))
            .route(
                "/api/v1/incidents/{id}/updates",
                post(status::api::update_incident),
            )
            .route(
                "/api/v1/incidents/{id}/publish",
                post(status::api::publish_incident),
            )
            .route(
                "/api/v1/maintenances",
                post(status::api::schedule_maintenance),
            )
            .route(
                "/api/v1/maintenances/{id}/complete",
                post(status::api::complete_maintenance),
            )
            .route("/api/v1/status", get(status::api::current_status))
            .route(
                "/api/v1/components/{id}/override",
                put(status::api::set_override),
            )
            .merge(status::routes())
            .merge(admin::routes())
            .merge(customer::routes())
            .fallback(portal)
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                observe::around_request,
            ))
            .with_state(self.clone())
    }

    fn compress_in_background(&self) {
        let cache = self.current.load().cache.clone();
        // Brotli at quality 11 is slow; gzip serves until it is done.
        tokio::task::spawn_blocking(move || cache.compress_brotli());
    }
}

async fn publish(
    site: &Site,
    store: &Store,
    clock: &dyn Clock,
    assets: &Assets,
) -> Result<Published, PublishError> {
    let digests: Vec<PageDigest> = site
        .pages
        .iter()
        .map(|p| PageDigest {
            page_path: p.path(),
            title: p.title.clone(),
            content_sha256: p.content_sha256.clone(),
        })
        .collect();
    let latest = store.record_revisions(&digests, clock.now()).await?;
    let revisions: HashMap<String, Revision> = latest
        .into_iter()
        .map(|r| (r.page_path.clone(), r))
        .collect();
    let site_for_render = site.clone();
    let revisions_for_render = revisions.clone();
    let assets_for_render = assets.clone();
    let (cache, chrome) = tokio::task::spawn_blocking(move || {
        render::render_site(&site_for_render, &revisions_for_render, &assets_for_render).map(|r| {
            let chrome = r.chrome.clone();
            (PageCache::build(r, &assets_for_render), chrome)
        })
    })
    .await
    .map_err(|e| PublishError::Render(e.to_string()))?
    .map_err(|e| PublishError::Render(e.to_string()))?;
    Ok(Published {
        security_headers: headers::security_headers(&site.settings.public_url),
        site: site.clone(),
        revisions,
        cache: Arc::new(cache),
        chrome,
    })
}

async fn serve_log(
    State(app): State<Arc<App>>,
    axum::extract::Path(rest): axum::extract::Path<String>,
) -> Response {
    app.log.serve(&rest).await
}

async fn verify(State(app): State<Arc<App>>) -> Response {
    let published = app.published();
    let latest = app.log.latest();
    let checkpoint = latest
        .as_ref()
        .and_then(|l| std::str::from_utf8(&l.note).ok());
    let canonical = published.site.settings.public_url.join("/verify");
    let earlier: Vec<render::EarlierLog> = app
        .log
        .archives()
        .iter()
        .map(|a| render::EarlierLog {
            id: a.id,
            origin: a.origin.clone(),
            vkey: a.vkey.clone(),
            size: a.size,
        })
        .collect();
    match render::render_verify(
        &published.chrome,
        canonical,
        app.log.origin(),
        &app.log.vkey(),
        checkpoint,
        &earlier,
    ) {
        Ok(html) => {
            let mut response = axum::response::Html(html).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "rendering the Verify page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    match app.store.readiness().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {err}\n"),
            )
                .into_response()
        }
    }
}

/// Serves every public page from the cache; anything else is the 404 page.
async fn portal(State(app): State<Arc<App>>, request: Request) -> Response {
    let (method, headers) = (request.method(), request.headers());
    if method != Method::GET && method != Method::HEAD {
        let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let published = app.current.load();
    let path = request.uri().path();
    if let Some(entry) = published.cache.get(path) {
        return entry.respond(headers);
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed != path
        && published.cache.get(trimmed).is_some()
        && let Ok(location) = HeaderValue::from_str(trimmed)
    {
        let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
        response.headers_mut().insert(header::LOCATION, location);
        return response;
    }
    published.cache.not_found().respond(headers)
}
