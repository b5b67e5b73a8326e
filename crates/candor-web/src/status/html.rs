//! The status pages: `/status` (current status, 90-day bars, open incidents and maintenance),
//! `/status/incidents` (history by month) and one page per incident and maintenance window.
//! Server-rendered, no scripts: a bar reveals its day on keyboard focus or hover with CSS.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use candor_core::status::{
    ComponentStatus, Incident, Maintenance, MaintenanceStatus, PageIndicator, StatusSettings,
};
use candor_store::StoreError;
use candor_store::status::{IncidentFilter, StatusStore};
use time::{Date, Duration, Month, OffsetDateTime, UtcOffset};

use super::current::{self, DayBar, DayLevel};
use super::{
    CACHE_CONTROL, Current, PageQuery, Section, StatusCache, cached, layout, load_current,
};
use crate::App;
use crate::cache::CachedResponse;
use crate::render::{Chrome, markdown_to_safe_html};

/// Days of bars per component.
pub const BAR_DAYS: u16 = 90;
/// `/status` shows every component's bars up to this many components; above it, one bar row
/// per group with its components' current status, each group's bars on `/status/groups/{id}`.
pub const FULL_LAYOUT_MAX: usize = 50;
/// The pseudo-group id of the components outside any group.
pub const UNGROUPED: &str = "ungrouped";
/// Months per history page.
const MONTHS_PER_PAGE: u32 = 3;

/// An instant, machine- and human-readable.
#[derive(Debug, Clone)]
pub struct When {
    /// ISO 8601 (UTC).
    pub iso: String,
    /// `5 October 2026, 14:03 UTC`.
    pub human: String,
}

/// Formats an instant for the page.
pub fn when(at: OffsetDateTime) -> When {
    let at = at.to_offset(UtcOffset::UTC);
    When {
        iso: super::statuspage::timestamp(at),
        human: format!(
            "{} {} {}, {:02}:{:02} UTC",
            at.day(),
            at.month(),
            at.year(),
            at.hour(),
            at.minute()
        ),
    }
}

/// `2 h 5 min`.
pub fn human_duration(d: Duration) -> String {
    let minutes = d.whole_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} d"));
    }
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if mins > 0 || parts.is_empty() {
        parts.push(format!("{mins} min"));
    }
    parts.join(" ")
}

fn status_class(s: ComponentStatus) -> &'static str {
    match s {
        ComponentStatus::Operational => "operational",
        ComponentStatus::DegradedPerformance => "degraded",
        ComponentStatus::PartialOutage => "partial",
        ComponentStatus::MajorOutage => "major",
        ComponentStatus::UnderMaintenance => "maintenance",
    }
}

fn indicator_class(i: PageIndicator) -> &'static str {
    match i {
        PageIndicator::None => "operational",
        PageIndicator::Minor => "degraded",
        PageIndicator::Major => "partial",
        PageIndicator::Critical => "major",
        PageIndicator::Maintenance => "maintenance",
    }
}

fn maintenance_label(s: MaintenanceStatus) -> &'static str {
    match s {
        MaintenanceStatus::Scheduled => "Scheduled",
        MaintenanceStatus::InProgress => "In progress",
        MaintenanceStatus::Verifying => "Verifying",
        MaintenanceStatus::Completed => "Completed",
    }
}

/// A bar of the 90.
#[derive(Debug, Clone)]
pub struct BarView {
    /// CSS level class.
    pub class: &'static str,
    /// What it says.
    pub text: String,
}

/// A component row.
#[derive(Debug, Clone)]
pub struct ComponentView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// One line.
    pub description: Option<String>,
    /// Status CSS class.
    pub status_class: &'static str,
    /// Status label.
    pub status_label: &'static str,
    /// The 90 bars, oldest first.
    pub bars: Vec<BarView>,
    /// `99.98%` or `no data`.
    pub uptime_90: String,
    /// `99.95%` or `insufficient data`.
    pub quarter: String,
}

/// A group (or the ungrouped components).
#[derive(Debug, Clone)]
pub struct SectionView {
    /// The group's name, if a group.
    pub name: Option<String>,
    /// Group status CSS class.
    pub status_class: &'static str,
    /// Group status label.
    pub status_label: &'static str,
    /// Components.
    pub components: Vec<ComponentView>,
}

/// An incident as listed.
#[derive(Debug, Clone)]
pub struct IncidentCard {
    /// Id.
    pub id: String,
    /// Title.
    pub name: String,
    /// `minor`, …
    pub impact: &'static str,
    /// Status label.
    pub status_label: &'static str,
    /// Latest update's text, as safe HTML.
    pub latest_html: String,
    /// Latest update's time.
    pub latest_at: When,
    /// Start.
    pub started: When,
    /// End, if over.
    pub resolved: Option<When>,
    /// Affected component names.
    pub components: Vec<String>,
}

/// A maintenance window as listed.
#[derive(Debug, Clone)]
pub struct MaintenanceCard {
    /// Id.
    pub id: String,
    /// Title.
    pub name: String,
    /// Status label.
    pub status_label: &'static str,
    /// Its text, as safe HTML.
    pub body_html: String,
    /// Window start.
    pub from: When,
    /// Window end.
    pub until: When,
    /// Component names.
    pub components: Vec<String>,
}

fn names(settings: &StatusSettings, ids: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
    ids.into_iter()
        .map(|id| {
            let id = id.as_ref();
            settings
                .component(id)
                .map_or_else(|| id.to_owned(), |c| c.name.clone())
        })
        .collect()
}

fn incident_card(settings: &StatusSettings, i: &Incident) -> IncidentCard {
    let latest = i.updates.first();
    IncidentCard {
        id: i.id.clone(),
        name: i.name.clone(),
        impact: i.impact.as_str(),
        status_label: i.status.label(),
        latest_html: latest
            .map(|u| markdown_to_safe_html(&u.body))
            .unwrap_or_default(),
        latest_at: when(latest.map_or(i.updated_at, |u| u.display_at)),
        started: when(i.started_at),
        resolved: i.resolved_at.map(when),
        components: names(
            settings,
            i.components.iter().map(|c| c.component_id.as_str()),
        ),
    }
}

fn maintenance_card(
    settings: &StatusSettings,
    m: &Maintenance,
    now: OffsetDateTime,
) -> MaintenanceCard {
    MaintenanceCard {
        id: m.id.clone(),
        name: m.name.clone(),
        status_label: maintenance_label(m.status_at(now)),
        body_html: markdown_to_safe_html(&m.body),
        from: when(m.scheduled_for),
        until: when(m.scheduled_until),
        components: names(settings, &m.components),
    }
}

#[derive(Template)]
#[template(path = "status_page.html")]
struct StatusPage<'a> {
    chrome: &'a Chrome,
    current: String,
    current_pillar: String,
    canonical: String,
    description: String,
    feed_href: String,
    indicator_class: &'static str,
    indicator_text: &'static str,
    updated: When,
    incidents: Vec<IncidentCard>,
    maintenances: Vec<MaintenanceCard>,
    sections: Vec<SectionView>,
    /// Compact rows (more than [`FULL_LAYOUT_MAX`] components); `sections` is then empty.
    groups: Vec<GroupRowView>,
    /// Short bar markup (no `title`, one-letter level classes).
    short: bool,
}

/// A component as listed in a compact group row: its current status only.
#[derive(Debug, Clone)]
pub struct MemberView {
    /// Name.
    pub name: String,
    /// Status CSS class.
    pub status_class: &'static str,
    /// Status label.
    pub status_label: &'static str,
}

/// One group of the compact `/status`: a single row of bars for the group and its components'
/// current status.
#[derive(Debug, Clone)]
pub struct GroupRowView {
    /// `/status/groups/{id}`.
    pub href: String,
    /// Name.
    pub name: String,
    /// Worst status of its components: CSS class.
    pub status_class: &'static str,
    /// Worst status of its components: label.
    pub status_label: &'static str,
    /// The group's 90 bars, oldest first (short classes).
    pub bars: Vec<BarView>,
    /// `99.98%` or `no data`.
    pub uptime_90: String,
    /// Its components.
    pub members: Vec<MemberView>,
}

/// The one-letter class of a bar in the short markup.
fn short_class(level: DayLevel) -> &'static str {
    match level {
        DayLevel::NoData => "n",
        DayLevel::Up => "u",
        DayLevel::Degraded => "d",
        DayLevel::Minor => "m",
        DayLevel::Major => "x",
    }
}

/// One day of a group: its components' day bars summed, with how many had data.
#[derive(Debug, Clone, Default)]
struct GroupDay {
    with_data: i64,
    with_downtime: i64,
    covered_seconds: i64,
    weighted_permille_seconds: i64,
    troubled: bool,
    incidents: Vec<(String, String)>,
}

impl GroupDay {
    fn add(&mut self, bar: &DayBar) {
        if bar.covered_seconds > 0 {
            self.with_data += 1;
            self.covered_seconds += bar.covered_seconds;
            self.weighted_permille_seconds += bar.weighted_permille_seconds;
            if bar.weighted_permille_seconds > 0 {
                self.with_downtime += 1;
            }
            self.troubled |=
                bar.degraded_seconds > 0 || bar.partial_seconds > 0 || bar.major_seconds > 0;
        }
        for incident in &bar.incidents {
            if !self.incidents.iter().any(|(id, _)| *id == incident.0) {
                self.incidents.push(incident.clone());
            }
        }
    }

    /// The average weighted downtime of the components with data, per-mille seconds.
    fn average(&self) -> i64 {
        if self.with_data == 0 {
            0
        } else {
            self.weighted_permille_seconds / self.with_data
        }
    }

    /// Coloured like a component's day, from the average.
    fn level(&self) -> DayLevel {
        let average = self.average();
        if self.with_data == 0 {
            DayLevel::NoData
        } else if average >= 3_600_000 {
            DayLevel::Major
        } else if self.weighted_permille_seconds > 0 {
            DayLevel::Minor
        } else if self.troubled {
            DayLevel::Degraded
        } else {
            DayLevel::Up
        }
    }

    fn describe(&self, date: Date, components: usize) -> String {
        let date = current::human_date(date);
        let mut text = if self.with_data == 0 {
            format!("{date}: no data")
        } else if self.weighted_permille_seconds == 0 {
            format!("{date}: no downtime")
        } else {
            let minutes = (self.average() + 30_000) / 60_000;
            let average = if minutes == 0 {
                "under a minute".to_owned()
            } else {
                format!("{minutes} min")
            };
            format!(
                "{date}: downtime on {} of {components} components, average {average}",
                self.with_downtime
            )
        };
        if self.with_data > 0 && (self.with_data as usize) < components {
            text.push_str(&format!("; data for {} of {components}", self.with_data));
        }
        if !self.incidents.is_empty() {
            let names: Vec<&str> = self.incidents.iter().map(|(_, n)| n.as_str()).collect();
            text.push_str(&format!(". Incidents: {}", names.join("; ")));
        }
        text
    }
}

/// Per-component lookups built once per render, so the render stays linear in components.
struct Lookups<'a> {
    days: Vec<Date>,
    from: OffsetDateTime,
    incidents: HashMap<&'a str, Vec<&'a Incident>>,
    maintenances: HashMap<&'a str, Vec<&'a Maintenance>>,
    statuses: HashMap<&'a str, ComponentStatus>,
}

impl<'a> Lookups<'a> {
    fn new(
        current: &'a Current,
        incidents: &'a [Incident],
        maintenances: &'a [Maintenance],
    ) -> Self {
        let now = current.now;
        let days = current::window(now, BAR_DAYS);
        let window_start = days.first().map_or(now, |d| current::day_start(*d));
        let mut by_incident: HashMap<&str, Vec<&Incident>> = HashMap::new();
        for i in incidents {
            for a in &i.components {
                let list = by_incident.entry(a.component_id.as_str()).or_default();
                // An incident naming a component twice counts once.
                if !list.last().is_some_and(|l| std::ptr::eq(*l, i)) {
                    list.push(i);
                }
            }
        }
        let mut by_maintenance: HashMap<&str, Vec<&Maintenance>> = HashMap::new();
        for m in maintenances {
            for c in &m.components {
                let list = by_maintenance.entry(c.as_str()).or_default();
                if !list.last().is_some_and(|l| std::ptr::eq(*l, m)) {
                    list.push(m);
                }
            }
        }
        let mut statuses = HashMap::with_capacity(current.statuses.len());
        for s in &current.statuses {
            // The first wins, as `Current::status_of` finds it.
            statuses.entry(s.component_id.as_str()).or_insert(s.status);
        }
        Lookups {
            days,
            from: window_start.min(current::quarter_start(now)),
            incidents: by_incident,
            maintenances: by_maintenance,
            statuses,
        }
    }

    fn status(&self, id: &str) -> ComponentStatus {
        self.statuses
            .get(id)
            .copied()
            .unwrap_or(ComponentStatus::Operational)
    }

    fn incidents_of(&self, id: &str) -> &[&'a Incident] {
        self.incidents.get(id).map_or(&[], Vec::as_slice)
    }

    fn maintenances_of(&self, id: &str) -> &[&'a Maintenance] {
        self.maintenances.get(id).map_or(&[], Vec::as_slice)
    }
}

/// The published incidents of the bar window and the maintenance windows since the quarter's
/// start (two queries).
async fn window_events<S: StatusStore>(
    store: &S,
    now: OffsetDateTime,
) -> Result<(Vec<Incident>, Vec<Maintenance>), StoreError> {
    let days = current::window(now, BAR_DAYS);
    let window_start = days.first().map_or(now, |d| current::day_start(*d));
    let from = window_start.min(current::quarter_start(now));
    let incidents = store
        .incidents(&IncidentFilter {
            since: Some(window_start),
            until: Some(now),
            ..IncidentFilter::default()
        })
        .await?;
    let incidents: Vec<Incident> = incidents.into_iter().filter(|i| !i.draft).collect();
    let maintenances = store.maintenances(from, now).await?;
    Ok((incidents, maintenances))
}

/// The full rows (bars per component) of `sections`: one interval query per component.
async fn full_sections<S: StatusStore>(
    store: &S,
    cache: &StatusCache,
    settings: &StatusSettings,
    current: &Current,
    sections: Vec<Section<'_>>,
    short: bool,
) -> Result<Vec<SectionView>, StoreError> {
    let now = current.now;
    let (incidents, maintenances) = window_events(store, now).await?;
    let look = Lookups::new(current, &incidents, &maintenances);
    let history = cache
        .component_history(store, look.from, &current.open_intervals)
        .await?;
    let mut views = Vec::with_capacity(sections.len());
    for section in sections {
        let mut components = Vec::with_capacity(section.components.len());
        let mut worst = ComponentStatus::Operational;
        for c in &section.components {
            let intervals = history.of(&c.id);
            let policy = settings.policy_for(&c.id).policy;
            let bars: Vec<DayBar> = current::daily_bars(
                intervals.clone(),
                look.incidents_of(&c.id),
                &look.days,
                &policy.weights,
                now,
            );
            let status = look.status(&c.id);
            worst = worst.worst(status);
            components.push(ComponentView {
                id: c.id.clone(),
                name: c.name.clone(),
                description: c.description.clone(),
                status_class: status_class(status),
                status_label: status.label(),
                uptime_90: current::uptime_percent(&bars)
                    .map_or_else(|| "no data".to_owned(), current::format_percent),
                quarter: current::quarter_to_date_uptime(
                    intervals,
                    look.maintenances_of(&c.id),
                    &policy,
                    now,
                )
                .map_or_else(|| "insufficient data".to_owned(), current::format_percent),
                bars: bars
                    .iter()
                    .map(|b| BarView {
                        class: if short {
                            short_class(b.level())
                        } else {
                            b.level().class()
                        },
                        text: b.describe(),
                    })
                    .collect(),
            });
        }
        views.push(SectionView {
            name: section.group.map(|g| g.name.clone()),
            status_class: status_class(worst),
            status_label: worst.label(),
            components,
        });
    }
    Ok(views)
}

/// The compact rows of `/status`: per group, one row of bars where a day is the average of its
/// components' weighted downtime, plus each component's current status. One interval query per
/// component, one pass.
async fn compact_rows<S: StatusStore>(
    store: &S,
    cache: &StatusCache,
    settings: &StatusSettings,
    current: &Current,
) -> Result<Vec<GroupRowView>, StoreError> {
    let now = current.now;
    let (incidents, maintenances) = window_events(store, now).await?;
    let look = Lookups::new(current, &incidents, &maintenances);
    let sections = layout(settings);
    let history = cache
        .component_history(store, look.from, &current.open_intervals)
        .await?;
    let mut rows = Vec::with_capacity(sections.len());
    for section in sections {
        let mut days = vec![GroupDay::default(); look.days.len()];
        let mut members = Vec::with_capacity(section.components.len());
        let mut worst = ComponentStatus::Operational;
        for c in &section.components {
            let policy = settings.policy_for(&c.id).policy;
            let bars = current::daily_bars(
                history.of(&c.id),
                look.incidents_of(&c.id),
                &look.days,
                &policy.weights,
                now,
            );
            for (day, bar) in days.iter_mut().zip(&bars) {
                day.add(bar);
            }
            let status = look.status(&c.id);
            worst = worst.worst(status);
            members.push(MemberView {
                name: c.name.clone(),
                status_class: status_class(status),
                status_label: status.label(),
            });
        }
        let count = section.components.len();
        let covered: i64 = days.iter().map(|d| d.covered_seconds).sum();
        let weighted: i64 = days.iter().map(|d| d.weighted_permille_seconds).sum();
        let uptime_90 = if covered > 0 {
            current::format_percent(100.0 * (1.0 - weighted as f64 / (covered as f64 * 1000.0)))
        } else {
            "no data".to_owned()
        };
        let (id, name) = match section.group {
            Some(g) => (g.id.as_str(), g.name.clone()),
            None => (UNGROUPED, "Other components".to_owned()),
        };
        rows.push(GroupRowView {
            href: format!("/status/groups/{id}"),
            name,
            status_class: status_class(worst),
            status_label: worst.label(),
            bars: days
                .iter()
                .zip(&look.days)
                .map(|(d, date)| BarView {
                    class: short_class(d.level()),
                    text: d.describe(*date, count),
                })
                .collect(),
            uptime_90,
            members,
        });
    }
    Ok(rows)
}

/// Everything `/status` shows in its full layout, read from the store: the current status plus
/// each component's intervals over the bar window (one query per component), the window's
/// published incidents and its maintenance windows.
pub async fn status_sections<S: StatusStore>(
    store: &S,
    cache: &StatusCache,
    settings: &StatusSettings,
    current: &Current,
) -> Result<Vec<SectionView>, StoreError> {
    full_sections(store, cache, settings, current, layout(settings), false).await
}

/// The sections of one group page: the group's, or every ungrouped component for
/// [`UNGROUPED`] (a real group with that id wins). None for an unknown group.
fn group_sections<'a>(settings: &'a StatusSettings, id: &str) -> Option<Vec<Section<'a>>> {
    let all = layout(settings);
    if let Some(one) = all
        .iter()
        .find(|s| s.group.is_some_and(|g| g.id == id))
        .cloned()
    {
        return Some(vec![one]);
    }
    if id != UNGROUPED {
        return None;
    }
    let components: Vec<_> = all
        .into_iter()
        .filter(|s| s.group.is_none())
        .flat_map(|s| s.components)
        .collect();
    (!components.is_empty()).then(|| {
        vec![Section {
            group: None,
            components,
        }]
    })
}

fn html_response(status: StatusCode, html: String) -> CachedResponse {
    CachedResponse::new(
        status,
        "text/html; charset=utf-8",
        CACHE_CONTROL,
        html.into_bytes(),
    )
}

fn render_failed(err: askama::Error) -> StoreError {
    StoreError::Invalid(format!("rendering a status page failed: {err}"))
}

/// `GET /status`
pub async fn status_page(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let builder = app.clone();
    cached(&app, "/status", &headers, move || async move {
        let published = builder.published();
        let s = &published.site.settings;
        let now = builder.clock.now();
        let current = load_current(builder.store(), &s.status, now).await?;
        let compact = s.status.components.len() > FULL_LAYOUT_MAX;
        let (sections, groups) = if compact {
            (
                Vec::new(),
                compact_rows(builder.store(), &builder.status_cache, &s.status, &current).await?,
            )
        } else {
            (
                status_sections(builder.store(), &builder.status_cache, &s.status, &current)
                    .await?,
                Vec::new(),
            )
        };
        let html = StatusPage {
            chrome: &published.chrome,
            current: "/status".into(),
            current_pillar: String::new(),
            canonical: s.public_url.join("/status"),
            description: format!("Current status and uptime of {}", s.vendor),
            feed_href: "/status/history.atom".into(),
            indicator_class: indicator_class(current.indicator),
            indicator_text: current.indicator.description(),
            updated: when(now),
            incidents: current
                .open_incidents
                .iter()
                .map(|i| incident_card(&s.status, i))
                .collect(),
            maintenances: current
                .maintenances
                .iter()
                .map(|m| maintenance_card(&s.status, m, now))
                .collect(),
            sections,
            groups,
            short: false,
        }
        .render()
        .map_err(render_failed)?;
        Ok(html_response(StatusCode::OK, html))
    })
    .await
}

#[derive(Template)]
#[template(path = "status_group.html")]
struct GroupPage<'a> {
    chrome: &'a Chrome,
    current: String,
    current_pillar: String,
    canonical: String,
    description: String,
    feed_href: String,
    title: String,
    updated: When,
    sections: Vec<SectionView>,
    short: bool,
}

/// `GET /status/groups/{id}`: the full rows (bars per component) of one group, or of the
/// ungrouped components for `ungrouped`; not found for an unknown group.
pub async fn group_page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let title = {
        let published = app.published();
        let settings = &published.site.settings.status;
        match group_sections(settings, &id) {
            Some(sections) => sections
                .first()
                .and_then(|s| s.group)
                .map_or_else(|| "Other components".to_owned(), |g| g.name.clone()),
            None => return not_found(&app, &headers),
        }
    };
    let key = format!("/status/groups/{id}");
    let builder = app.clone();
    cached(&app, &key, &headers, move || async move {
        let published = builder.published();
        let s = &published.site.settings;
        let now = builder.clock.now();
        let current = load_current(builder.store(), &s.status, now).await?;
        // Published settings may have changed since the check above.
        let sections = group_sections(&s.status, &id).unwrap_or_default();
        let sections = full_sections(
            builder.store(),
            &builder.status_cache,
            &s.status,
            &current,
            sections,
            true,
        )
        .await?;
        let path = format!("/status/groups/{id}");
        let html = GroupPage {
            chrome: &published.chrome,
            current: "/status".into(),
            current_pillar: String::new(),
            canonical: s.public_url.join(&path),
            description: format!("Status and uptime of {title} at {}", s.vendor),
            feed_href: "/status/history.atom".into(),
            title,
            updated: when(now),
            sections,
            short: true,
        }
        .render()
        .map_err(render_failed)?;
        Ok(html_response(StatusCode::OK, html))
    })
    .await
}

/// One month of history.
#[derive(Debug, Clone)]
pub struct MonthView {
    /// `October 2026`.
    pub label: String,
    /// Incidents that started in it, newest first.
    pub incidents: Vec<IncidentCard>,
    /// Maintenance windows that started in it, newest first.
    pub maintenances: Vec<MaintenanceCard>,
}

#[derive(Template)]
#[template(path = "status_history.html")]
struct HistoryPage<'a> {
    chrome: &'a Chrome,
    current: String,
    current_pillar: String,
    canonical: String,
    description: String,
    feed_href: String,
    months: Vec<MonthView>,
    newer: Option<String>,
    older: Option<String>,
}

/// The first instant of the month `back` months before the one containing `now`.
pub fn month_start(now: OffsetDateTime, back: u32) -> OffsetDateTime {
    let total = now.year() * 12 + i32::from(u8::from(now.month())) - 1 - back as i32;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let month = Month::try_from(month0 as u8 + 1).unwrap_or(Month::January);
    Date::from_calendar_date(year, month, 1)
        .map(current::day_start)
        .unwrap_or(now)
}

/// `GET /status/incidents?page=N`: three months per page, newest first.
pub async fn history_page(
    State(app): State<Arc<App>>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let page = query.page.unwrap_or(1).clamp(1, 1_000);
    let key = format!("/status/incidents?page={page}");
    let builder = app.clone();
    cached(&app, &key, &headers, move || async move {
        let published = builder.published();
        let s = &published.site.settings;
        let now = builder.clock.now();
        let first_back = (page - 1) * MONTHS_PER_PAGE;
        let range_end = if page == 1 {
            now
        } else {
            month_start(now, first_back - 1)
        };
        let range_start = month_start(now, first_back + MONTHS_PER_PAGE - 1);
        let incidents: Vec<Incident> = builder
            .store()
            .incidents(&IncidentFilter {
                since: Some(range_start),
                until: Some(range_end.max(range_start + Duration::SECOND)),
                ..IncidentFilter::default()
            })
            .await?
            .into_iter()
            .filter(|i| !i.draft && i.started_at >= range_start)
            .collect();
        let maintenances = builder.store().maintenances(range_start, range_end).await?;
        let mut months = Vec::new();
        for back in first_back..first_back + MONTHS_PER_PAGE {
            let (ms, me) = (
                month_start(now, back),
                if back == 0 {
                    now + Duration::days(FAR)
                } else {
                    month_start(now, back - 1)
                },
            );
            let mut mi: Vec<&Incident> = incidents
                .iter()
                .filter(|i| i.started_at >= ms && i.started_at < me)
                .collect();
            mi.sort_by_key(|i| std::cmp::Reverse(i.started_at));
            let mut mm: Vec<&Maintenance> = maintenances
                .iter()
                .filter(|m| m.scheduled_for >= ms && m.scheduled_for < me)
                .collect();
            mm.sort_by_key(|m| std::cmp::Reverse(m.scheduled_for));
            months.push(MonthView {
                label: format!("{} {}", ms.month(), ms.year()),
                incidents: mi
                    .into_iter()
                    .map(|i| incident_card(&s.status, i))
                    .collect(),
                maintenances: mm
                    .into_iter()
                    .map(|m| maintenance_card(&s.status, m, now))
                    .collect(),
            });
        }
        // An older page exists when anything started before this range.
        let older_exists = !builder
            .store()
            .incidents(&IncidentFilter {
                until: Some(range_start),
                limit: Some(5),
                ..IncidentFilter::default()
            })
            .await?
            .iter()
            .filter(|i| !i.draft)
            .collect::<Vec<_>>()
            .is_empty()
            || !builder
                .store()
                .maintenances(OffsetDateTime::UNIX_EPOCH, range_start)
                .await?
                .is_empty();
        let html = HistoryPage {
            chrome: &published.chrome,
            current: "/status/incidents".into(),
            current_pillar: String::new(),
            canonical: s.public_url.join("/status/incidents"),
            description: format!(
                "Every incident and maintenance window of {}, newest first",
                s.vendor
            ),
            feed_href: "/status/history.atom".into(),
            months,
            newer: (page > 1).then(|| format!("/status/incidents?page={}", page - 1)),
            older: older_exists.then(|| format!("/status/incidents?page={}", page + 1)),
        }
        .render()
        .map_err(render_failed)?;
        Ok(html_response(StatusCode::OK, html))
    })
    .await
}

/// Far enough ahead to include windows announced for the current month's future.
const FAR: i64 = 3_650;

/// One entry of a timeline.
#[derive(Debug, Clone)]
pub struct UpdateView {
    /// Status label.
    pub status_label: String,
    /// Text as safe HTML.
    pub body_html: String,
    /// When.
    pub at: When,
    /// `API: Partial outage` for each component it set.
    pub affected: Vec<String>,
}

#[derive(Template)]
#[template(path = "status_incident.html")]
struct IncidentPage<'a> {
    chrome: &'a Chrome,
    current: String,
    current_pillar: String,
    canonical: String,
    description: String,
    feed_href: String,
    title: String,
    kind: &'static str,
    status_label: String,
    impact: &'static str,
    started: When,
    ended: Option<When>,
    duration: Option<String>,
    components: Vec<String>,
    updates: Vec<UpdateView>,
    backfilled: bool,
}

fn incident_html(
    chrome: &Chrome,
    settings: &StatusSettings,
    canonical: String,
    i: &Incident,
) -> Result<String, askama::Error> {
    let affected = |a: &candor_core::status::AffectedComponent| {
        format!(
            "{}: {}",
            names(settings, [a.component_id.as_str()]).join(""),
            a.status.label()
        )
    };
    IncidentPage {
        chrome,
        current: String::new(),
        current_pillar: String::new(),
        canonical,
        description: format!("Incident: {}", i.name),
        feed_href: "/status/history.atom".into(),
        title: i.name.clone(),
        kind: "Incident",
        status_label: i.status.label().to_owned(),
        impact: i.impact.as_str(),
        started: when(i.started_at),
        ended: i.resolved_at.map(when),
        duration: i.resolved_at.map(|r| human_duration(r - i.started_at)),
        components: i.components.iter().map(affected).collect(),
        updates: i
            .updates
            .iter()
            .map(|u| UpdateView {
                status_label: u.status.label().to_owned(),
                body_html: markdown_to_safe_html(&u.body),
                at: when(u.display_at),
                affected: u.affected.iter().map(affected).collect(),
            })
            .collect(),
        backfilled: i.origin == candor_core::status::IncidentOrigin::Backfill,
    }
    .render()
}

fn maintenance_html(
    chrome: &Chrome,
    settings: &StatusSettings,
    canonical: String,
    m: &Maintenance,
    now: OffsetDateTime,
) -> Result<String, askama::Error> {
    let status = m.status_at(now);
    let mut updates = vec![UpdateView {
        status_label: "Scheduled".into(),
        body_html: markdown_to_safe_html(&m.body),
        at: when(m.announced_at),
        affected: vec![],
    }];
    if status != MaintenanceStatus::Scheduled {
        updates.push(UpdateView {
            status_label: "In progress".into(),
            body_html: "<p>The maintenance window opened.</p>".into(),
            at: when(m.scheduled_for),
            affected: names(settings, &m.components)
                .into_iter()
                .map(|n| format!("{n}: Under maintenance"))
                .collect(),
        });
    }
    if status == MaintenanceStatus::Completed {
        updates.push(UpdateView {
            status_label: "Completed".into(),
            body_html: "<p>The maintenance is complete.</p>".into(),
            at: when(m.effective_end()),
            affected: vec![],
        });
    }
    updates.reverse();
    let ended = (status == MaintenanceStatus::Completed).then(|| m.effective_end());
    IncidentPage {
        chrome,
        current: String::new(),
        current_pillar: String::new(),
        canonical,
        description: format!("Scheduled maintenance: {}", m.name),
        feed_href: "/status/history.atom".into(),
        title: m.name.clone(),
        kind: "Scheduled maintenance",
        status_label: maintenance_label(status).to_owned(),
        impact: "maintenance",
        started: when(m.scheduled_for),
        ended: ended.map(when),
        duration: Some(human_duration(m.effective_end() - m.scheduled_for)),
        components: names(settings, &m.components),
        updates,
        backfilled: false,
    }
    .render()
}

fn not_found(app: &App, headers: &HeaderMap) -> Response {
    app.published().cache.not_found().respond(headers)
}

/// `GET /status/incidents/{id}` (drafts are not found).
pub async fn incident_page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let incident = match app.store().incident(&id).await {
        Ok(Some(i)) if !i.draft => i,
        Ok(_) => return not_found(&app, &headers),
        Err(err) => return super::unavailable(&err),
    };
    let key = format!("/status/incidents/{id}");
    let builder = app.clone();
    cached(&app, &key, &headers, move || async move {
        let published = builder.published();
        let s = &published.site.settings;
        let html = incident_html(
            &published.chrome,
            &s.status,
            s.public_url
                .join(&format!("/status/incidents/{}", incident.id)),
            &incident,
        )
        .map_err(render_failed)?;
        Ok(html_response(StatusCode::OK, html))
    })
    .await
}

/// `GET /status/maintenance/{id}`
pub async fn maintenance_page(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let now = app.clock.now();
    let found = match app
        .store()
        .maintenances(OffsetDateTime::UNIX_EPOCH, now + Duration::days(FAR))
        .await
    {
        Ok(all) => all.into_iter().find(|m| m.id == id),
        Err(err) => return super::unavailable(&err),
    };
    let Some(m) = found else {
        return not_found(&app, &headers);
    };
    let key = format!("/status/maintenance/{id}");
    let builder = app.clone();
    cached(&app, &key, &headers, move || async move {
        let published = builder.published();
        let s = &published.site.settings;
        let html = maintenance_html(
            &published.chrome,
            &s.status,
            s.public_url.join(&format!("/status/maintenance/{}", m.id)),
            &m,
            now,
        )
        .map_err(render_failed)?;
        Ok(html_response(StatusCode::OK, html))
    })
    .await
}
