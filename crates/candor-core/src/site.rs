//! A whole trust center: resolved settings plus its pages, validated together.

use crate::config::Settings;
use crate::content::{Page, PageKind};
use crate::pillar::Pillar;

/// A validated trust center, ready to render.
#[derive(Debug, Clone)]
pub struct Site {
    /// How it runs and what it is called.
    pub settings: Settings,
    /// Every page, welcome first, then by pillar, order and title.
    pub pages: Vec<Page>,
}

impl Site {
    /// Builds a site, sorting pages into navigation order.
    pub fn new(settings: Settings, mut pages: Vec<Page>) -> Site {
        pages.sort_by_key(sort_key);
        Site { settings, pages }
    }

    /// The welcome page.
    pub fn welcome(&self) -> Option<&Page> {
        self.pages.iter().find(|p| p.kind == PageKind::Welcome)
    }

    /// The vendor's landing page for a pillar, if they wrote one.
    pub fn landing(&self, pillar: Pillar) -> Option<&Page> {
        self.pages
            .iter()
            .find(|p| p.kind == PageKind::Landing(pillar))
    }

    /// The pages below a pillar, in order.
    pub fn articles(&self, pillar: Pillar) -> impl Iterator<Item = &Page> {
        self.pages
            .iter()
            .filter(move |p| p.kind == PageKind::Article(pillar))
    }
}

fn sort_key(page: &Page) -> (u8, i64, String) {
    let rank = match page.kind {
        PageKind::Welcome => 0,
        PageKind::Landing(p) => 1 + 2 * p as u8,
        PageKind::Article(p) => 2 + 2 * p as u8,
    };
    (rank, page.order, page.title.to_lowercase())
}
