//! Content pages: `content/<slug>.md` with TOML front matter between `+++` lines.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::diagnostic::{Diagnostic, from_toml_error, line_of};
use crate::pillar::Pillar;
use crate::routes::{RESERVED_PILLAR_SLUGS, shadowed_route};

/// The front-matter value that marks the welcome page.
pub const WELCOME: &str = "welcome";

/// Where a page sits in the trust center.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// `index.md`: the welcome page at `/`.
    Welcome,
    /// `<pillar>.md`: the pillar's landing page at `/<pillar>`.
    Landing(Pillar),
    /// Any other page, at `/<pillar>/<slug>`.
    Article(Pillar),
}

/// One content page, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The file stem; stable across edits.
    pub slug: String,
    /// Where it is served.
    pub kind: PageKind,
    /// The heading.
    pub title: String,
    /// One sentence for lists and the meta description.
    pub summary: String,
    /// Sort order within the pillar (lower first).
    pub order: i64,
    /// The Markdown body.
    pub body: String,
    /// SHA-256 of the file's bytes, hex: changes whenever the published text changes.
    pub content_sha256: String,
}

impl Page {
    /// The URL path the page is served at.
    pub fn path(&self) -> String {
        match self.kind {
            PageKind::Welcome => "/".to_owned(),
            PageKind::Landing(p) => p.path(),
            PageKind::Article(p) => format!("/{}/{}", p.id(), self.slug),
        }
    }

    /// The pillar the page belongs to, if any.
    pub fn pillar(&self) -> Option<Pillar> {
        match self.kind {
            PageKind::Welcome => None,
            PageKind::Landing(p) | PageKind::Article(p) => Some(p),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    title: Spanned<String>,
    pillar: Spanned<String>,
    #[serde(default)]
    order: i64,
    summary: Spanned<String>,
}

/// True for slugs made of lowercase ASCII letters, digits and inner hyphens.
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parses one page. `path` is how the file is named in errors.
pub fn parse_page(path: &Path, slug: &str, text: &str) -> Result<Page, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let text_lf = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(after_open) = text_lf
        .strip_prefix("+++\n")
        .or_else(|| text_lf.strip_prefix("+++\r\n"))
    else {
        return Err(vec![Diagnostic::in_file(
            path,
            Some(1),
            None,
            "expected front matter: the file must start with a line `+++`, then title, pillar, order and summary as TOML, then a closing `+++`",
        )]);
    };
    let close = after_open
        .find("\n+++\n")
        .or_else(|| after_open.find("\n+++\r\n"))
        .map(|i| i + 1)
        .or_else(|| {
            let trimmed = after_open.trim_end();
            trimmed.ends_with("\n+++").then(|| trimmed.len() - 3)
        });
    let close = close.or_else(|| after_open.starts_with("+++").then_some(0));
    let Some(close) = close else {
        return Err(vec![Diagnostic::in_file(
            path,
            Some(1),
            None,
            "front matter is not closed: add a line `+++` after it",
        )]);
    };
    let front = &after_open[..close];
    let body_start = after_open[close..]
        .find('\n')
        .map_or(after_open.len(), |i| close + i + 1);
    let body = after_open[body_start..].to_owned();

    let fm: FrontMatter = match toml::from_str(front) {
        Ok(fm) => fm,
        Err(err) => {
            let mut d = from_toml_error(path, front, 1, &err);
            d.message = format!("front matter: {}", d.message);
            return Err(vec![d]);
        }
    };
    let line = |span: std::ops::Range<usize>| Some(line_of(front, span.start) + 1);

    if !is_valid_slug(slug) {
        problems.push(Diagnostic::in_file(
            path,
            None,
            None,
            format!("\"{slug}\" is not a valid page slug (the file name): use lowercase letters, digits and hyphens, e.g. encryption-at-rest.md"),
        ));
    }
    let pillar_id = fm.pillar.get_ref().trim();
    let kind = if pillar_id == WELCOME {
        if slug != "index" {
            problems.push(Diagnostic::in_file(
                path,
                line(fm.pillar.span()),
                Some("pillar"),
                "only index.md can be the welcome page; give this page one of the pillars security, privacy, compliance, operations",
            ));
        }
        Some(PageKind::Welcome)
    } else if let Some(pillar) = Pillar::from_id(pillar_id) {
        if slug == "index" {
            problems.push(Diagnostic::in_file(
                path,
                line(fm.pillar.span()),
                Some("pillar"),
                "index.md is the welcome page: set pillar = \"welcome\"",
            ));
            None
        } else if slug == pillar.id() {
            Some(PageKind::Landing(pillar))
        } else if let Some(route) = shadowed_route(slug) {
            problems.push(Diagnostic::in_file(
                path,
                None,
                None,
                format!("the slug \"{slug}\" would shadow the route {route}; rename the file (e.g. {slug}-overview.md)"),
            ));
            None
        } else if RESERVED_PILLAR_SLUGS.contains(&slug) {
            problems.push(Diagnostic::in_file(
                path,
                None,
                None,
                format!("the slug \"{slug}\" is reserved for a page Candor renders under /{}; rename the file", pillar.id()),
            ));
            None
        } else {
            Some(PageKind::Article(pillar))
        }
    } else {
        problems.push(Diagnostic::in_file(
            path,
            line(fm.pillar.span()),
            Some("pillar"),
            format!("unknown pillar \"{pillar_id}\"; expected one of security, privacy, compliance, operations (or welcome, for index.md)"),
        ));
        None
    };
    let title = fm.title.get_ref().trim().to_owned();
    if title.is_empty() {
        problems.push(Diagnostic::in_file(
            path,
            line(fm.title.span()),
            Some("title"),
            "must not be empty",
        ));
    }
    let summary = fm.summary.get_ref().trim().to_owned();
    if summary.is_empty() {
        problems.push(Diagnostic::in_file(
            path,
            line(fm.summary.span()),
            Some("summary"),
            "must not be empty; one sentence shown in lists",
        ));
    }
    match kind {
        Some(kind) if problems.is_empty() => Ok(Page {
            slug: slug.to_owned(),
            kind,
            title,
            summary,
            order: fm.order,
            body,
            content_sha256: hex::encode(Sha256::digest(text.as_bytes())),
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(slug: &str, text: &str) -> Result<Page, Vec<Diagnostic>> {
        parse_page(Path::new("content/x.md"), slug, text)
    }

    #[test]
    fn article_under_its_pillar() {
        let p = parse("encryption", "+++\ntitle = \"Encryption\"\npillar = \"security\"\norder = 10\nsummary = \"How.\"\n+++\n## At rest\n").unwrap();
        assert_eq!(p.path(), "/security/encryption");
        assert_eq!(p.body, "## At rest\n");
        assert_eq!(p.order, 10);
    }

    #[test]
    fn landing_and_welcome() {
        let l = parse(
            "privacy",
            "+++\ntitle = \"P\"\npillar = \"privacy\"\nsummary = \"S\"\n+++\n",
        )
        .unwrap();
        assert_eq!(l.path(), "/privacy");
        let w = parse(
            "index",
            "+++\ntitle = \"W\"\npillar = \"welcome\"\nsummary = \"S\"\n+++\nHi",
        )
        .unwrap();
        assert_eq!(w.path(), "/");
    }

    #[test]
    fn unknown_pillar_points_at_its_line() {
        let e = parse(
            "x",
            "+++\ntitle = \"T\"\nsummary = \"S\"\npillar = \"finance\"\n+++\n",
        )
        .unwrap_err();
        assert_eq!(e[0].line, Some(4));
        assert!(e[0].message.contains("unknown pillar \"finance\""));
    }

    #[test]
    fn shadowing_a_route_is_an_error() {
        let e = parse(
            "status",
            "+++\ntitle = \"T\"\npillar = \"operations\"\nsummary = \"S\"\n+++\n",
        )
        .unwrap_err();
        assert!(e[0].message.contains("shadow the route /status"), "{e:?}");
        let e = parse(
            "privacy",
            "+++\ntitle = \"T\"\npillar = \"security\"\nsummary = \"S\"\n+++\n",
        )
        .unwrap_err();
        assert!(e[0].message.contains("/privacy"), "{e:?}");
    }

    #[test]
    fn front_matter_errors_name_the_line() {
        let e = parse(
            "x",
            "+++\ntitle = \"T\"\npillar = \"security\"\nsummary = \"S\"\nauthor = \"me\"\n+++\n",
        )
        .unwrap_err();
        assert_eq!(e[0].line, Some(5), "{e:?}");
        assert!(e[0].message.contains("author"));
        let e = parse("x", "no front matter").unwrap_err();
        assert!(e[0].message.contains("+++"));
        let e = parse("x", "+++\ntitle = \"T\"\n").unwrap_err();
        assert!(e[0].message.contains("not closed"));
        let e = parse("x", "+++\ntitle = \"T\"\npillar = \"security\"\n+++\n").unwrap_err();
        assert!(e[0].message.contains("summary"), "{e:?}");
    }
}
