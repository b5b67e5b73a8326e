//! The four pillars every Candor trust center is organised around.

use std::fmt;

/// A pillar of the trust center; each has a landing page at `/<id>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pillar {
    /// Built-in security.
    Security,
    /// Privacy by design.
    Privacy,
    /// Continuous compliance.
    Compliance,
    /// Transparent operations.
    Operations,
}

impl Pillar {
    /// All pillars, in navigation order.
    pub const ALL: [Pillar; 4] = [
        Pillar::Security,
        Pillar::Privacy,
        Pillar::Compliance,
        Pillar::Operations,
    ];

    /// The identifier used in front matter and in the URL.
    pub fn id(self) -> &'static str {
        match self {
            Pillar::Security => "security",
            Pillar::Privacy => "privacy",
            Pillar::Compliance => "compliance",
            Pillar::Operations => "operations",
        }
    }

    /// The heading shown to visitors.
    pub fn title(self) -> &'static str {
        match self {
            Pillar::Security => "Built-in security",
            Pillar::Privacy => "Privacy by design",
            Pillar::Compliance => "Continuous compliance",
            Pillar::Operations => "Transparent operations",
        }
    }

    /// A one-line promise, used when the vendor wrote no landing page of their own.
    pub fn promise(self) -> &'static str {
        match self {
            Pillar::Security => {
                "Defence in depth, customer controls, hardening and operational best practice."
            }
            Pillar::Privacy => {
                "Your data is not used for advertising; you control it and can take it with you."
            }
            Pillar::Compliance => {
                "Proactive processes, customer controls and independent verification."
            }
            Pillar::Operations => {
                "Where your data lives, who can access it, and how the service is doing."
            }
        }
    }

    /// The URL path of the landing page.
    pub fn path(self) -> String {
        format!("/{}", self.id())
    }

    /// Parses a front-matter identifier.
    pub fn from_id(id: &str) -> Option<Pillar> {
        Pillar::ALL.into_iter().find(|p| p.id() == id)
    }
}

impl fmt::Display for Pillar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}
