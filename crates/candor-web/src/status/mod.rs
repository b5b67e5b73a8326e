//! The public face of transparent operations: the status page (`/status`), incident history and
//! its Atom feed, the Statuspage-compatible read API (`/api/v2`) and the native incident API
//! (`/api/v1/incidents`, `/api/v1/maintenances`, `/api/v1/status`, component overrides).
//!
//! Everything public is rendered from one read of the store per render and kept in a
//! [`StatusCache`] (ETag, gzip, 304) until [`crate::App::status_changed`] is called (after any
//! change of status, incident or maintenance) or a short time passes (maintenance windows open
//! and close with the clock, and days roll over).

pub mod api;
pub mod atom;
pub mod current;
pub mod html;
pub mod statuspage;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use candor_core::status::{
    ComponentSpec, GroupSpec, Incident, Maintenance, MaintenanceStatus, PageIndicator,
    StatusInterval, StatusSettings,
};
use candor_store::StoreError;
use candor_store::status::{IncidentFilter, StatusStore};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::App;
use crate::cache::CachedResponse;
pub use current::{CurrentStatus, StatusSource};

/// How long a rendered status response is served before it is rebuilt even without a change
/// (maintenance windows open and close on the clock; bars roll over at midnight UTC).
const FRESH_FOR: StdDuration = StdDuration::from_secs(30);
/// Browsers and proxies may reuse a status response this long, then revalidate with the ETag.
pub const CACHE_CONTROL: &str = "public, max-age=30";
/// Entries kept at most (incident pages are keyed by id; anything beyond this starts afresh).
const MAX_ENTRIES: usize = 2_000;
/// Far enough ahead to mean "every upcoming window".
const FAR_FUTURE_DAYS: i64 = 3_650;

/// Rendered responses by key, with the generation and time they were rendered at.
type Entries = HashMap<String, (u64, Instant, Arc<CachedResponse>)>;

/// Rendered status responses, invalidated as a whole.
#[derive(Debug, Default)]
pub struct StatusCache {
    generation: AtomicU64,
    entries: Mutex<Entries>,
    rendering: tokio::sync::Mutex<()>,
    epoch: tokio::sync::OnceCell<OffsetDateTime>,
    history: tokio::sync::Mutex<Option<History>>,
}

/// How long a copy of closed component intervals is brought up to date before it is read again
/// in full (a bound on what a log rotation's renumbering could hide from it).
const HISTORY_RELOAD: StdDuration = StdDuration::from_secs(600);

/// Closed component intervals, kept between renders. A closed interval never changes and every
/// close is journalled with a rising log index, so after one full read only the intervals closed
/// since the largest index held are read. A render then costs one small query instead of
/// reading every interval of the bar window.
#[derive(Debug)]
struct History {
    /// Intervals that ended before this are not held.
    from: OffsetDateTime,
    /// The largest log index held.
    through: Option<u64>,
    loaded: Instant,
    by_component: HashMap<String, Arc<Vec<StatusInterval>>>,
}

/// Each component's intervals overlapping a window: its closed ones (oldest first) and its open
/// one.
#[derive(Debug, Default)]
pub struct ComponentHistory {
    closed: HashMap<String, Arc<Vec<StatusInterval>>>,
    open: HashMap<String, StatusInterval>,
}

impl ComponentHistory {
    /// The intervals of one component.
    pub fn of<'a>(&'a self, id: &str) -> impl Iterator<Item = &'a StatusInterval> + Clone + 'a {
        self.closed
            .get(id)
            .map_or(&[][..], |list| list.as_slice())
            .iter()
            .chain(self.open.get(id))
    }
}

impl StatusCache {
    /// Forgets every rendered response; the next request renders afresh.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.lock().clear();
    }

    /// Every component's intervals from `from` on: the closed ones from the copy kept here
    /// (brought up to date with one query), the open ones as given.
    pub async fn component_history<S: StatusStore>(
        &self,
        store: &S,
        from: OffsetDateTime,
        open: &[StatusInterval],
    ) -> Result<ComponentHistory, StoreError> {
        let mut held = self.history.lock().await;
        let reusable = held
            .as_ref()
            .is_some_and(|h| h.from <= from && h.loaded.elapsed() < HISTORY_RELOAD);
        if !reusable {
            *held = None;
        }
        let history = match held.as_mut() {
            Some(h) => h,
            None => held.insert(History {
                from,
                through: None,
                loaded: Instant::now(),
                by_component: HashMap::new(),
            }),
        };
        let fresh = store
            .closed_intervals_of_kind("component", history.from, history.through)
            .await?;
        for (index, interval) in fresh {
            history.through = Some(history.through.map_or(index, |t| t.max(index)));
            // Closes arrive in index order, which is also each component's time order.
            Arc::make_mut(
                history
                    .by_component
                    .entry(interval.subject.id().to_owned())
                    .or_default(),
            )
            .push(interval);
        }
        // What ended before the window is no longer needed.
        for list in history.by_component.values_mut() {
            if list
                .first()
                .is_some_and(|i| i.end.is_none_or(|e| e <= from))
            {
                Arc::make_mut(list).retain(|i| i.end.is_some_and(|e| e > from));
            }
        }
        history.by_component.retain(|_, list| !list.is_empty());
        let closed = history.by_component.clone();
        let open = open
            .iter()
            .filter(|i| i.subject.kind() == "component" && i.end.is_none())
            .map(|i| (i.subject.id().to_owned(), i.clone()))
            .collect();
        Ok(ComponentHistory { closed, open })
    }

    /// The site's first publication time, computed once.
    pub async fn epoch<F, Fut>(&self, compute: F) -> OffsetDateTime
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = OffsetDateTime>,
    {
        *self.epoch.get_or_init(compute).await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn fresh(&self, key: &str) -> Option<Arc<CachedResponse>> {
        let generation = self.generation.load(Ordering::SeqCst);
        self.lock()
            .get(key)
            .filter(|(g, at, _)| *g == generation && at.elapsed() < FRESH_FOR)
            .map(|(_, _, r)| r.clone())
    }

    /// The cached response for `key`, rendering it with `build` when missing or stale. One
    /// render runs at a time, so a burst of visitors after an invalidation costs one render.
    pub async fn get_or_render<F, Fut>(
        &self,
        key: &str,
        build: F,
    ) -> Result<Arc<CachedResponse>, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<CachedResponse, StoreError>>,
    {
        if let Some(hit) = self.fresh(key) {
            return Ok(hit);
        }
        let _one_at_a_time = self.rendering.lock().await;
        if let Some(hit) = self.fresh(key) {
            return Ok(hit);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let response = Arc::new(build().await?);
        // A change that landed while rendering makes this render stale: serve it once, keep none.
        if self.generation.load(Ordering::SeqCst) == generation {
            let mut entries = self.lock();
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
                key.to_owned(),
                (generation, Instant::now(), response.clone()),
            );
        }
        Ok(response)
    }
}

/// The public status routes (HTML, feed and the Statuspage-compatible API).
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/status", get(html::status_page))
        .route("/status/groups/{id}", get(html::group_page))
        .route("/status/incidents", get(html::history_page))
        .route("/status/incidents/{id}", get(html::incident_page))
        .route("/status/maintenance/{id}", get(html::maintenance_page))
        .route("/status/history.atom", get(atom::feed))
        .route("/api/v2/summary.json", get(statuspage::summary))
        .route("/api/v2/status.json", get(statuspage::status))
        .route("/api/v2/components.json", get(statuspage::components))
        .route("/api/v2/incidents.json", get(statuspage::incidents))
        .route(
            "/api/v2/incidents/unresolved.json",
            get(statuspage::unresolved),
        )
        .route(
            "/api/v2/scheduled-maintenances.json",
            get(statuspage::maintenances),
        )
        .route(
            "/api/v2/scheduled-maintenances/upcoming.json",
            get(statuspage::upcoming),
        )
        .route(
            "/api/v2/scheduled-maintenances/active.json",
            get(statuspage::active),
        )
}

/// What the page shows right now.
#[derive(Debug, Clone)]
pub struct Current {
    /// When it was read.
    pub now: OffsetDateTime,
    /// Each component's status, in page order.
    pub statuses: Vec<CurrentStatus>,
    /// Published, unresolved incidents, newest first.
    pub open_incidents: Vec<Incident>,
    /// Maintenance windows in progress or upcoming, by start.
    pub maintenances: Vec<Maintenance>,
    /// The page indicator.
    pub indicator: PageIndicator,
    /// Every open status interval (monitors and components).
    pub open_intervals: Vec<StatusInterval>,
}

impl Current {
    /// The status of one component.
    pub fn status_of(&self, id: &str) -> Option<&CurrentStatus> {
        self.statuses.iter().find(|s| s.component_id == id)
    }

    /// Maintenance windows with this status.
    pub fn maintenances_with(
        &self,
        status: MaintenanceStatus,
    ) -> impl Iterator<Item = &Maintenance> {
        self.maintenances
            .iter()
            .filter(move |m| m.status_at(self.now) == status)
    }

    /// When anything on the page last changed (None when nothing is known).
    pub fn updated_at(&self) -> Option<OffsetDateTime> {
        self.open_incidents
            .iter()
            .map(|i| i.updated_at)
            .chain(self.maintenances.iter().map(|m| m.updated_at))
            .chain(self.statuses.iter().filter_map(|s| s.since))
            .max()
    }
}

/// Reads everything the current status needs (four queries) and derives it. The lead's engine
/// and webhooks can call this too: it is the one definition of "current status".
pub async fn load_current<S: StatusStore>(
    store: &S,
    settings: &StatusSettings,
    now: OffsetDateTime,
) -> Result<Current, StoreError> {
    let overrides = store.component_overrides().await?;
    let open_intervals = store.open_intervals().await?;
    let open_incidents = store
        .incidents(&IncidentFilter {
            include_drafts: false,
            unresolved_only: true,
            ..IncidentFilter::default()
        })
        .await?;
    let open_incidents: Vec<Incident> = open_incidents
        .into_iter()
        .filter(|i| !i.draft && !i.status.is_closed())
        .collect();
    let mut maintenances: Vec<Maintenance> = store
        .maintenances(now, now + Duration::days(FAR_FUTURE_DAYS))
        .await?
        .into_iter()
        .filter(|m| m.status_at(now) != MaintenanceStatus::Completed)
        .collect();
    maintenances.sort_by_key(|m| m.scheduled_for);
    let statuses = current::component_statuses(
        settings,
        &current::Facts {
            overrides: &overrides,
            maintenances: &maintenances,
            open_intervals: &open_intervals,
            incidents: &open_incidents,
            now,
        },
    );
    let indicator = current::page_indicator(&statuses, &open_incidents);
    Ok(Current {
        now,
        statuses,
        open_incidents,
        maintenances,
        indicator,
        open_intervals,
    })
}

/// The Statuspage page id: stable for a public URL, 12 lowercase letters and digits.
pub fn page_id(public_url: &str) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    Sha256::digest(public_url.as_bytes())
        .iter()
        .take(12)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// The response when the store cannot answer.
pub(crate) fn unavailable(err: &StoreError) -> Response {
    tracing::error!(error = %err, "reading status data failed");
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        "the status data cannot be read right now; try again shortly\n",
    )
        .into_response();
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("5"),
    );
    response
}

/// Serves `key` from the status cache, rendering it with `build` when needed.
pub(crate) async fn cached<F, Fut>(app: &App, key: &str, headers: &HeaderMap, build: F) -> Response
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<CachedResponse, StoreError>>,
{
    match app.status_cache.get_or_render(key, build).await {
        Ok(entry) => entry.respond(headers),
        Err(err) => unavailable(&err),
    }
}

/// `?page=` of paginated pages.
#[derive(Debug, serde::Deserialize)]
pub struct PageQuery {
    /// 1-based.
    pub page: Option<u32>,
}

/// One block of the page: a group with its components, or ungrouped components.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    /// The group, if any.
    pub group: Option<&'a GroupSpec>,
    /// Its components, in position order.
    pub components: Vec<&'a ComponentSpec>,
}

/// The page layout: groups and ungrouped components by position (a group before a component at
/// the same position), each group's components by position. Consecutive ungrouped components
/// share one section.
pub fn layout(settings: &StatusSettings) -> Vec<Section<'_>> {
    let known = |g: &Option<String>| {
        g.as_deref()
            .and_then(|id| settings.groups.iter().find(|x| x.id == id))
    };
    enum Top<'a> {
        Group(&'a GroupSpec),
        Component(&'a ComponentSpec),
    }
    let mut top: Vec<(u32, u8, Top<'_>)> = settings
        .groups
        .iter()
        .map(|g| (g.position, 0, Top::Group(g)))
        .chain(
            settings
                .components
                .iter()
                .filter(|c| known(&c.group).is_none())
                .map(|c| (c.position, 1, Top::Component(c))),
        )
        .collect();
    top.sort_by_key(|(p, k, _)| (*p, *k));
    let mut sections: Vec<Section<'_>> = Vec::new();
    for (_, _, item) in top {
        match item {
            Top::Group(g) => {
                let mut components: Vec<&ComponentSpec> = settings
                    .components
                    .iter()
                    .filter(|c| c.group.as_deref() == Some(g.id.as_str()))
                    .collect();
                components.sort_by_key(|c| c.position);
                sections.push(Section {
                    group: Some(g),
                    components,
                });
            }
            Top::Component(c) => match sections.last_mut() {
                Some(last) if last.group.is_none() => last.components.push(c),
                _ => sections.push(Section {
                    group: None,
                    components: vec![c],
                }),
            },
        }
    }
    sections
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn page_id_is_stable_and_statuspage_shaped() {
        let a = page_id("https://trust.example.com");
        assert_eq!(a, page_id("https://trust.example.com"));
        assert_ne!(a, page_id("https://status.example.com"));
        assert_eq!(a.len(), 12);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }

    #[tokio::test]
    async fn invalidation_drops_rendered_entries() {
        let cache = StatusCache::default();
        let make = |body: &'static str| {
            move || async move {
                Ok(CachedResponse::new(
                    StatusCode::OK,
                    "text/plain",
                    CACHE_CONTROL,
                    body.as_bytes().to_vec(),
                ))
            }
        };
        let first = cache.get_or_render("/x", make("one")).await.unwrap();
        let again = cache.get_or_render("/x", make("two")).await.unwrap();
        assert_eq!(again.body(), first.body());
        cache.invalidate();
        let after = cache.get_or_render("/x", make("two")).await.unwrap();
        assert_eq!(after.body().as_ref(), b"two");
    }
}
