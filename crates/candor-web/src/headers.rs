//! Security headers on every response.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use candor_core::config::PublicUrl;

/// The portal runs no scripts, loads nothing from elsewhere and may not be framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'; upgrade-insecure-requests";

/// The headers every response carries; HSTS only when visitors come over TLS.
pub fn security_headers(public_url: &PublicUrl) -> HeaderMap {
    let mut h = HeaderMap::new();
    let csp = if public_url.is_https() {
        CONTENT_SECURITY_POLICY.to_owned()
    } else {
        // Asking a plain-http site to upgrade would break it.
        CONTENT_SECURITY_POLICY.replace("; upgrade-insecure-requests", "")
    };
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(
            "camera=(), microphone=(), geolocation=(), interest-cohort=(), browsing-topics=()",
        ),
    );
    if public_url.is_https() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    h
}
