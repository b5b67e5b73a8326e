//! Turns a [`Site`] into HTML pages: Markdown rendered and sanitised, wrapped in the templates.

use std::collections::HashMap;

use askama::Template;
use candor_core::content::{Page, PageKind};
use candor_core::{Pillar, Site};
use candor_store::Revision;
use pulldown_cmark::{Options, Parser, html};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::assets::Assets;

/// Markdown to HTML, with any raw HTML in the source removed or made inert.
pub fn markdown_to_safe_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_HEADING_ATTRIBUTES;
    let mut raw = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, options));
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .add_generic_attributes(["id"])
        .clean(&raw)
        .to_string()
}

/// A link in navigation or a list.
#[derive(Debug, Clone)]
pub struct Link {
    /// Target path.
    pub href: String,
    /// Visible text.
    pub label: String,
    /// One sentence (cards only).
    pub summary: String,
}

/// What every page shares: names, navigation, asset URLs.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// Site name.
    pub site_name: String,
    /// Vendor name.
    pub vendor: String,
    /// Tagline.
    pub tagline: Option<String>,
    /// Security contact.
    pub contact_email: Option<String>,
    /// Fingerprinted stylesheet URL.
    pub css_href: String,
    /// Fingerprinted icon URL.
    pub icon_href: String,
    /// The pillars.
    pub nav: Vec<Link>,
}

/// "Last updated", machine- and human-readable.
#[derive(Debug, Clone)]
pub struct Updated {
    /// RFC 3339.
    pub iso: String,
    /// `30 November 2026`.
    pub human: String,
}

#[derive(Template)]
#[template(path = "page.html")]
struct PortalPage<'a> {
    chrome: &'a Chrome,
    current: String,
    current_pillar: String,
    canonical: String,
    title: String,
    description: String,
    updated: Option<Updated>,
    body_html: String,
    breadcrumbs: Vec<Link>,
    cards_heading: String,
    cards: Vec<Link>,
    cards_first: bool,
    siblings: Vec<Link>,
    pillar_title: String,
    pillar_href: String,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundPage<'a> {
    chrome: &'a Chrome,
    current: String,
    current_pillar: String,
    canonical: String,
    description: String,
}

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage<'a> {
    chrome: &'a Chrome,
    current: String,
    current_pillar: String,
    canonical: String,
    description: String,
    origin: &'a str,
    vkey: &'a str,
    checkpoint: Option<&'a str>,
    earlier: &'a [EarlierLog],
}

/// A log this trust center used before a key rotation, as listed on the Verify page.
#[derive(Debug, Clone)]
pub struct EarlierLog {
    /// Served under `/log/archive/<id>/`.
    pub id: u64,
    /// Its origin.
    pub origin: String,
    /// Its verifier key.
    pub vkey: String,
    /// Its final size.
    pub size: u64,
}

/// Renders the Verify page for the current checkpoint.
pub fn render_verify(
    chrome: &Chrome,
    canonical: String,
    origin: &str,
    vkey: &str,
    checkpoint: Option<&str>,
    earlier: &[EarlierLog],
) -> Result<String, askama::Error> {
    VerifyPage {
        chrome,
        current: "/verify".into(),
        current_pillar: String::new(),
        canonical,
        description: "Check for yourself that the history published here was never rewritten."
            .into(),
        origin,
        vkey,
        checkpoint,
        earlier,
    }
    .render()
}

/// A rendered page: its path and HTML.
#[derive(Debug, Clone)]
pub struct RenderedPage {
    /// The URL path.
    pub path: String,
    /// The full HTML document.
    pub html: String,
}

/// Every page of the site plus the 404 page, rendered.
pub struct RenderedSite {
    /// What every page shares (for pages rendered later, such as Verify).
    pub chrome: Chrome,
    /// Portal pages by path.
    pub pages: Vec<RenderedPage>,
    /// The 404 page.
    pub not_found: String,
}

/// Renders the whole site. `revisions` maps page path to its latest revision.
pub fn render_site(
    site: &Site,
    revisions: &HashMap<String, Revision>,
    assets: &Assets,
) -> Result<RenderedSite, askama::Error> {
    let s = &site.settings;
    let chrome = Chrome {
        site_name: s.site_name.clone(),
        vendor: s.vendor.clone(),
        tagline: s.tagline.clone(),
        contact_email: s.contact_email.clone(),
        css_href: assets.css_href(),
        icon_href: assets.icon_href(),
        nav: Pillar::ALL
            .iter()
            .map(|p| Link {
                href: p.path(),
                label: p.title().to_owned(),
                summary: String::new(),
            })
            .collect(),
    };
    let updated = |path: &str| revisions.get(path).map(|r| format_updated(r.published_at));
    let mut pages = Vec::new();

    let welcome_cards = Pillar::ALL
        .iter()
        .map(|p| Link {
            href: p.path(),
            label: p.title().to_owned(),
            summary: site
                .landing(*p)
                .map_or_else(|| p.promise().to_owned(), |l| l.summary.clone()),
        })
        .collect();
    if let Some(welcome) = site.welcome() {
        pages.push(RenderedPage {
            path: "/".into(),
            html: PortalPage {
                chrome: &chrome,
                current: "/".into(),
                current_pillar: String::new(),
                canonical: s.public_url.join("/"),
                title: welcome.title.clone(),
                description: welcome.summary.clone(),
                updated: updated("/"),
                body_html: markdown_to_safe_html(&welcome.body),
                breadcrumbs: vec![],
                cards_heading: "The four pillars".into(),
                cards: welcome_cards,
                cards_first: true,
                siblings: vec![],
                pillar_title: String::new(),
                pillar_href: String::new(),
            }
            .render()?,
        });
    }

    for pillar in Pillar::ALL {
        let articles: Vec<&Page> = site.articles(pillar).collect();
        let article_links: Vec<Link> = articles
            .iter()
            .map(|a| Link {
                href: a.path(),
                label: a.title.clone(),
                summary: a.summary.clone(),
            })
            .collect();
        let landing = site.landing(pillar);
        let path = pillar.path();
        pages.push(RenderedPage {
            path: path.clone(),
            html: PortalPage {
                chrome: &chrome,
                current: path.clone(),
                current_pillar: path.clone(),
                canonical: s.public_url.join(&path),
                title: landing.map_or_else(|| pillar.title().to_owned(), |l| l.title.clone()),
                description: landing
                    .map_or_else(|| pillar.promise().to_owned(), |l| l.summary.clone()),
                updated: updated(&path),
                body_html: landing
                    .map(|l| markdown_to_safe_html(&l.body))
                    .unwrap_or_default(),
                breadcrumbs: vec![],
                cards_heading: format!("In {}", pillar.title().to_lowercase()),
                cards: article_links.clone(),
                cards_first: false,
                siblings: vec![],
                pillar_title: String::new(),
                pillar_href: String::new(),
            }
            .render()?,
        });
        for article in articles {
            debug_assert!(matches!(article.kind, PageKind::Article(_)));
            let apath = article.path();
            pages.push(RenderedPage {
                path: apath.clone(),
                html: PortalPage {
                    chrome: &chrome,
                    current: apath.clone(),
                    current_pillar: path.clone(),
                    canonical: s.public_url.join(&apath),
                    title: article.title.clone(),
                    description: article.summary.clone(),
                    updated: updated(&apath),
                    body_html: markdown_to_safe_html(&article.body),
                    breadcrumbs: vec![Link {
                        href: path.clone(),
                        label: pillar.title().to_owned(),
                        summary: String::new(),
                    }],
                    cards_heading: String::new(),
                    cards: vec![],
                    cards_first: false,
                    siblings: article_links.clone(),
                    pillar_title: pillar.title().to_owned(),
                    pillar_href: path.clone(),
                }
                .render()?,
            });
        }
    }

    let not_found = NotFoundPage {
        chrome: &chrome,
        current: String::new(),
        current_pillar: String::new(),
        canonical: s.public_url.join("/"),
        description: "There is no page at this address.".into(),
    }
    .render()?;
    Ok(RenderedSite {
        chrome,
        pages,
        not_found,
    })
}

fn format_updated(at: OffsetDateTime) -> Updated {
    let human = at
        .format(format_description!(
            "[day padding:none] [month repr:long] [year]"
        ))
        .unwrap_or_default();
    Updated {
        iso: at.format(&Rfc3339).unwrap_or_default(),
        human,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_in_markdown_is_neutralised() {
        let html = markdown_to_safe_html(
            "Hello <script>alert(1)</script> <a href=\"javascript:alert(1)\" onclick=\"x()\">x</a>\n\n<img src=x onerror=alert(1)>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("onclick"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
    }

    #[test]
    fn tables_and_links_survive() {
        let html = markdown_to_safe_html(
            "| a | b |\n|---|---|\n| 1 | 2 |\n\nSee [encryption](/security/encryption).",
        );
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("href=\"/security/encryption\""), "{html}");
    }
}
