//! The page cache: every public page rendered once per content change, kept in memory with its
//! gzip form (made at render time) and its brotli form (made in the background at the highest
//! quality, never on the request path).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::assets::{Assets, CSS, ICON_SVG};
use crate::render::RenderedSite;

const HTML: &str = "text/html; charset=utf-8";
/// Pages may change on reload; browsers revalidate cheaply with the ETag after a minute.
const PAGE_CACHE_CONTROL: &str = "public, max-age=60";
/// Fingerprinted assets never change under the same URL.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One cached response body in all its encodings.
#[derive(Debug)]
pub struct CachedResponse {
    status: StatusCode,
    content_type: HeaderValue,
    cache_control: HeaderValue,
    etag: HeaderValue,
    identity: Bytes,
    gzip: Bytes,
    brotli: OnceLock<Bytes>,
}

impl CachedResponse {
    /// Prepares a body for serving: its ETag and gzip form now, brotli later (if ever).
    pub fn new(
        status: StatusCode,
        content_type: &'static str,
        cache_control: &'static str,
        body: Vec<u8>,
    ) -> CachedResponse {
        let digest = Sha256::digest(&body);
        let etag = format!("W/\"{}\"", hex::encode(&digest[..12]));
        let gzip = gzip(&body);
        CachedResponse {
            status,
            content_type: HeaderValue::from_static(content_type),
            cache_control: HeaderValue::from_static(cache_control),
            etag: HeaderValue::from_str(&etag)
                .unwrap_or_else(|_| HeaderValue::from_static("W/\"0\"")),
            identity: Bytes::from(body),
            gzip: Bytes::from(gzip),
            brotli: OnceLock::new(),
        }
    }

    /// The uncompressed body.
    pub fn body(&self) -> &Bytes {
        &self.identity
    }

    /// True once the background brotli pass has reached this entry.
    pub fn has_brotli(&self) -> bool {
        self.brotli.get().is_some()
    }

    fn compress_brotli(&self) {
        if self.brotli.get().is_none() {
            let _ = self.brotli.set(Bytes::from(brotli_best(&self.identity)));
        }
    }

    /// Builds the response for a request with these headers: 304 when the ETag matches, else
    /// the best encoding the client accepts.
    pub fn respond(&self, request: &HeaderMap) -> Response {
        let mut response = Response::new(Body::empty());
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::CACHE_CONTROL, self.cache_control.clone());
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if self.status == StatusCode::OK && etag_matches(request, &self.etag) {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return response;
        }
        headers.insert(header::CONTENT_TYPE, self.content_type.clone());
        let accepted = request
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let body = match (
            accepts(accepted, "br"),
            self.brotli.get(),
            accepts(accepted, "gzip"),
        ) {
            (true, Some(br), _) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
                br.clone()
            }
            (_, _, true) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                self.gzip.clone()
            }
            _ => self.identity.clone(),
        };
        *response.status_mut() = self.status;
        *response.body_mut() = Body::from(body);
        response
    }
}

/// Every public page, the 404 page and the assets, ready to serve.
#[derive(Debug)]
pub struct PageCache {
    entries: HashMap<String, Arc<CachedResponse>>,
    not_found: Arc<CachedResponse>,
}

impl PageCache {
    /// Builds the cache from a freshly rendered site (gzip happens here; brotli later).
    pub fn build(rendered: RenderedSite, assets: &Assets) -> PageCache {
        let mut entries = HashMap::new();
        for page in rendered.pages {
            entries.insert(
                page.path,
                Arc::new(CachedResponse::new(
                    StatusCode::OK,
                    HTML,
                    PAGE_CACHE_CONTROL,
                    page.html.into_bytes(),
                )),
            );
        }
        entries.insert(
            assets.css_href(),
            Arc::new(CachedResponse::new(
                StatusCode::OK,
                "text/css; charset=utf-8",
                IMMUTABLE,
                CSS.as_bytes().to_vec(),
            )),
        );
        entries.insert(
            assets.icon_href(),
            Arc::new(CachedResponse::new(
                StatusCode::OK,
                "image/svg+xml",
                IMMUTABLE,
                ICON_SVG.as_bytes().to_vec(),
            )),
        );
        let not_found = Arc::new(CachedResponse::new(
            StatusCode::NOT_FOUND,
            HTML,
            "no-cache",
            rendered.not_found.into_bytes(),
        ));
        PageCache { entries, not_found }
    }

    /// The cached response for an exact path. Lookups never touch the filesystem, so no request
    /// path (`/../`, `%2e%2e`, …) can read outside what was rendered.
    pub fn get(&self, path: &str) -> Option<&Arc<CachedResponse>> {
        self.entries.get(path)
    }

    /// The 404 page.
    pub fn not_found(&self) -> &Arc<CachedResponse> {
        &self.not_found
    }

    /// Every cached path.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// Compresses every entry with brotli at quality 11. Slow: run it on a blocking thread.
    pub fn compress_brotli(&self) {
        for entry in self
            .entries
            .values()
            .chain(std::iter::once(&self.not_found))
        {
            entry.compress_brotli();
        }
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 3), Compression::best());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

fn brotli_best(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 3);
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    let mut input = body;
    match brotli::BrotliCompress(&mut input, &mut out, &params) {
        Ok(_) => out,
        Err(_) => Vec::new(),
    }
}

fn etag_matches(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(wanted) = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    let bare = ours.trim_start_matches("W/");
    wanted
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == ours || t.trim_start_matches("W/") == bare)
}

/// True when `accept_encoding` allows `coding` with a non-zero quality.
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    let mut star = false;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let q_zero = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().map(|q| q <= 0.0).unwrap_or(false))
        });
        if name.eq_ignore_ascii_case(coding) {
            return !q_zero;
        }
        if name == "*" {
            star = !q_zero;
        }
    }
    star
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_negotiation() {
        assert!(accepts("gzip, deflate, br", "br"));
        assert!(accepts("gzip;q=0.5, br;q=1.0", "gzip"));
        assert!(!accepts("gzip;q=0, br", "gzip"));
        assert!(!accepts("identity", "gzip"));
        assert!(accepts("*", "br"));
    }

    #[test]
    fn brotli_only_after_background_pass() {
        let entry = CachedResponse::new(
            StatusCode::OK,
            HTML,
            PAGE_CACHE_CONTROL,
            b"<p>hello hello hello</p>".repeat(50),
        );
        let mut req = HeaderMap::new();
        req.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip"),
        );
        assert_eq!(
            entry.respond(&req).headers()[header::CONTENT_ENCODING],
            "gzip"
        );
        entry.compress_brotli();
        assert_eq!(
            entry.respond(&req).headers()[header::CONTENT_ENCODING],
            "br"
        );
        let etag = entry.etag.clone();
        req.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(entry.respond(&req).status(), StatusCode::NOT_MODIFIED);
    }
}
