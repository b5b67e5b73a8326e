//! The one route table of a Candor server. The README reproduces it; later capabilities add their
//! pages here so that content slugs can never shadow them.

/// A top-level route and what it is for.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The path prefix, without a trailing slash.
    pub path: &'static str,
    /// What a visitor or operator finds there.
    pub purpose: &'static str,
}

/// Every top-level route, in the order the README lists them.
pub const ROUTES: &[Route] = &[
    Route {
        path: "/",
        purpose: "welcome page",
    },
    Route {
        path: "/security",
        purpose: "pillar: built-in security, with its pages below it",
    },
    Route {
        path: "/privacy",
        purpose: "pillar: privacy by design",
    },
    Route {
        path: "/compliance",
        purpose: "pillar: continuous compliance",
    },
    Route {
        path: "/operations",
        purpose: "pillar: transparent operations",
    },
    Route {
        path: "/status",
        purpose: "service status, with incidents and history below it",
    },
    Route {
        path: "/sla",
        purpose: "SLA: monthly uptime and service credits",
    },
    Route {
        path: "/documents",
        purpose: "documents and audit reports (some behind NDA)",
    },
    Route {
        path: "/subprocessors",
        purpose: "subprocessor list",
    },
    Route {
        path: "/data-residency",
        purpose: "where customer data is stored",
    },
    Route {
        path: "/notices",
        purpose: "change notices and maintenance",
    },
    Route {
        path: "/verify",
        purpose: "how to verify the log",
    },
    Route {
        path: "/feedback",
        purpose: "visitor feedback",
    },
    Route {
        path: "/feeds",
        purpose: "Atom feeds",
    },
    Route {
        path: "/log",
        purpose: "the verifiable log (checkpoint, tiles)",
    },
    Route {
        path: "/api/v1",
        purpose: "native JSON API",
    },
    Route {
        path: "/api/v2",
        purpose: "Statuspage-compatible API",
    },
    Route {
        path: "/admin",
        purpose: "operators' area",
    },
    Route {
        path: "/customer",
        purpose: "customer tenants' area",
    },
    Route {
        path: "/assets",
        purpose: "stylesheet and icons (immutable, fingerprinted)",
    },
    Route {
        path: "/healthz",
        purpose: "liveness",
    },
    Route {
        path: "/readyz",
        purpose: "readiness: database reachable, migrations applied",
    },
    Route {
        path: "/metrics",
        purpose: "Prometheus metrics",
    },
];

/// Slugs reserved below a pillar for pages the product itself renders there.
pub const RESERVED_PILLAR_SLUGS: &[&str] = &[
    "index",
    "feed",
    "posture",
    "requests",
    "export",
    "frameworks",
    "controls",
    "oscal",
];

/// The route a top-level slug would shadow, if any (`"status"` → `"/status"`).
pub fn shadowed_route(slug: &str) -> Option<&'static str> {
    ROUTES.iter().map(|r| r.path).find(|path| {
        let first = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        !first.is_empty() && first == slug
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_top_level_route_is_reserved() {
        assert_eq!(shadowed_route("status"), Some("/status"));
        assert_eq!(shadowed_route("api"), Some("/api/v1"));
        assert_eq!(shadowed_route("security"), Some("/security"));
        assert_eq!(shadowed_route("encryption"), None);
    }
}
