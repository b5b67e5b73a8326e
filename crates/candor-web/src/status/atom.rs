//! `/status/history.atom`: every recent incident and maintenance window as an Atom 1.0 entry
//! with its latest update, so feed readers and chat integrations follow the page.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use candor_core::status::{Incident, Maintenance, MaintenanceStatus};
use candor_store::StoreError;
use candor_store::status::{IncidentFilter, StatusStore};
use time::{Duration, OffsetDateTime};

use super::statuspage::{RECENT_LIMIT, timestamp};
use super::{CACHE_CONTROL, cached};
use crate::App;
use crate::cache::CachedResponse;
use crate::render::markdown_to_safe_html;

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 forbids are dropped rather than breaking the feed.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

struct Entry {
    id: String,
    title: String,
    link: String,
    updated: OffsetDateTime,
    published: OffsetDateTime,
    summary_html: String,
}

/// The feed document.
pub fn render(
    site_name: &str,
    public_url: &str,
    incidents: &[Incident],
    maintenances: &[Maintenance],
    now: OffsetDateTime,
    epoch: OffsetDateTime,
) -> String {
    let mut entries: Vec<Entry> = incidents
        .iter()
        .filter(|i| !i.draft)
        .map(|i| {
            let link = format!("{public_url}/status/incidents/{}", i.id);
            let latest = i.updates.first();
            Entry {
                id: link.clone(),
                title: format!("{} ({})", i.name, i.status.label()),
                link,
                updated: i.updated_at,
                published: i.created_at,
                summary_html: latest.map_or_else(String::new, |u| {
                    format!(
                        "<p><strong>{}</strong> ({})</p>{}",
                        u.status.label(),
                        timestamp(u.display_at),
                        markdown_to_safe_html(&u.body)
                    )
                }),
            }
        })
        .chain(maintenances.iter().map(|m| {
            let link = format!("{public_url}/status/maintenance/{}", m.id);
            let status = m.status_at(now);
            let label = match status {
                MaintenanceStatus::Scheduled => "Scheduled",
                MaintenanceStatus::InProgress => "In progress",
                MaintenanceStatus::Verifying => "Verifying",
                MaintenanceStatus::Completed => "Completed",
            };
            Entry {
                id: link.clone(),
                title: format!("Maintenance: {} ({label})", m.name),
                link,
                updated: m.updated_at,
                published: m.announced_at,
                summary_html: format!(
                    "<p>From {} to {}</p>{}",
                    timestamp(m.scheduled_for),
                    timestamp(m.scheduled_until),
                    markdown_to_safe_html(&m.body)
                ),
            }
        }))
        .collect();
    entries.sort_by(|a, b| b.updated.cmp(&a.updated).then(a.id.cmp(&b.id)));
    entries.truncate(RECENT_LIMIT);
    let updated = entries.first().map_or(epoch, |e| e.updated);
    let mut xml = String::with_capacity(1024 + entries.len() * 512);
    xml.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    xml.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    xml.push_str(&format!(
        "  <id>{}</id>\n  <title>{} status history</title>\n  <updated>{}</updated>\n  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n  <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n  <author><name>{}</name></author>\n",
        escape(&format!("{public_url}/status/history.atom")),
        escape(site_name),
        timestamp(updated),
        escape(&format!("{public_url}/status/history.atom")),
        escape(&format!("{public_url}/status")),
        escape(site_name),
    ));
    for e in &entries {
        xml.push_str(&format!(
            "  <entry>\n    <id>{}</id>\n    <title>{}</title>\n    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>\n    <published>{}</published>\n    <updated>{}</updated>\n    <content type=\"html\">{}</content>\n  </entry>\n",
            escape(&e.id),
            escape(&e.title),
            escape(&e.link),
            timestamp(e.published),
            timestamp(e.updated),
            escape(&e.summary_html),
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

async fn build<S: StatusStore>(
    store: &S,
    site_name: &str,
    public_url: &str,
    now: OffsetDateTime,
    epoch: OffsetDateTime,
) -> Result<String, StoreError> {
    let incidents = store
        .incidents(&IncidentFilter {
            limit: Some(RECENT_LIMIT as u32),
            ..IncidentFilter::default()
        })
        .await?;
    let mut maintenances = store
        .maintenances(
            OffsetDateTime::UNIX_EPOCH,
            now + Duration::days(super::FAR_FUTURE_DAYS),
        )
        .await?;
    maintenances.sort_by_key(|m| std::cmp::Reverse(m.updated_at));
    maintenances.truncate(RECENT_LIMIT);
    Ok(render(
        site_name,
        public_url,
        &incidents,
        &maintenances,
        now,
        epoch,
    ))
}

/// `GET /status/history.atom`
pub async fn feed(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let builder = app.clone();
    cached(&app, "/status/history.atom", &headers, move || async move {
        let published = builder.published();
        let s = &published.site.settings;
        let epoch = builder.status_epoch().await;
        let xml = build(
            builder.store(),
            &s.site_name,
            s.public_url.as_str(),
            builder.clock.now(),
            epoch,
        )
        .await?;
        Ok(CachedResponse::new(
            StatusCode::OK,
            "application/atom+xml; charset=utf-8",
            CACHE_CONTROL,
            xml.into_bytes(),
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use candor_core::status::{IncidentImpact, IncidentOrigin, IncidentStatus, IncidentUpdate};
    use time::macros::datetime;

    #[test]
    fn titles_and_bodies_are_escaped_and_required_elements_present() {
        let at = datetime!(2026-10-05 10:00 UTC);
        let incident = Incident {
            id: "inc1".into(),
            name: "Errors <script> & \"quotes\"".into(),
            status: IncidentStatus::Identified,
            impact: IncidentImpact::Major,
            origin: IncidentOrigin::Operator,
            draft: false,
            created_at: at,
            updated_at: at,
            started_at: at,
            monitoring_at: None,
            resolved_at: None,
            components: vec![],
            updates: vec![IncidentUpdate {
                id: "u1".into(),
                status: IncidentStatus::Identified,
                body: "Fixed <b>x</b> & y\u{1}".into(),
                created_at: at,
                display_at: at,
                affected: vec![],
            }],
        };
        let mut draft = incident.clone();
        draft.id = "secret".into();
        draft.draft = true;
        let xml = render(
            "Acme <Trust>",
            "https://t.example",
            &[incident, draft],
            &[],
            at,
            at,
        );
        assert!(
            xml.contains(
                "<title>Errors &lt;script&gt; &amp; &quot;quotes&quot; (Identified)</title>"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<title>Acme &lt;Trust&gt; status history</title>"),
            "{xml}"
        );
        assert!(!xml.contains("secret"), "{xml}");
        assert!(!xml.contains('\u{1}'));
        assert!(
            xml.contains("<updated>2026-10-05T10:00:00.000Z</updated>"),
            "{xml}"
        );
        assert!(
            xml.contains("<id>https://t.example/status/incidents/inc1</id>"),
            "{xml}"
        );
        assert_eq!(xml.matches("<entry>").count(), 1);
    }
}
