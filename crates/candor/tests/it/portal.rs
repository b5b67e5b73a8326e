//! The public portal as a visitor's browser (or a cache, or a scanner) sees it.

use std::io::Read as _;
use std::time::{Duration, Instant};

use crate::support::{Server, acme_copy, client};

const PILLARS: [&str; 4] = ["/security", "/privacy", "/compliance", "/operations"];

#[tokio::test]
async fn welcome_and_pillars_are_served_with_strict_headers_and_no_cookies() {
    let site = acme_copy();
    let server = Server::start(site.path(), &[]).await;
    let http = client();
    for path in ["/"]
        .into_iter()
        .chain(PILLARS)
        .chain(["/security/encryption", "/operations/incident-response"])
    {
        let r = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert!(h.get("set-cookie").is_none(), "{path} sets a cookie");
        assert_eq!(h["content-type"], "text/html; charset=utf-8");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS on plain http"
        );
        let html = r.text().await.unwrap();
        assert!(!html.contains("<script"), "{path} has a script");
        assert!(!html.contains("style=\""), "{path} has an inline style");
        assert!(
            !html.contains("http://") || !html.contains("src=\"http"),
            "{path} loads from elsewhere"
        );
        assert_eq!(html.matches("<h1").count(), 1, "{path}");
        for pillar in PILLARS {
            assert!(
                html.contains(&format!("href=\"{pillar}\"")),
                "{path} lacks nav to {pillar}"
            );
        }
    }
    let security = http
        .get(server.url("/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for article in [
        "/security/encryption",
        "/security/vulnerability-disclosure",
        "/security/identity-and-access",
    ] {
        assert!(
            security.contains(&format!("href=\"{article}\"")),
            "pillar page lists {article}"
        );
    }
    assert!(
        security.contains("Last updated <time datetime=\""),
        "last updated shown"
    );
    assert_eq!(server.stop().code(), Some(0), "SIGTERM is a clean shutdown");
}

#[tokio::test]
async fn absolute_links_and_hsts_follow_public_url_not_listen() {
    let site = acme_copy();
    let server = Server::start(
        site.path(),
        &[("CANDOR_PUBLIC_URL", "https://trust.acme.example")],
    )
    .await;
    let r = client().get(server.url("/privacy")).send().await.unwrap();
    assert!(
        r.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("upgrade-insecure-requests")
    );
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<link rel=\"canonical\" href=\"https://trust.acme.example/privacy\">"),
        "canonical link"
    );
    assert!(
        !html.contains("127.0.0.1"),
        "the listen address leaked into the page"
    );
}

#[tokio::test]
async fn pages_are_precompressed_cacheable_and_revalidated() {
    let site = acme_copy();
    let server = Server::start(site.path(), &[]).await;
    let http = client();
    let plain = http.get(server.url("/compliance")).send().await.unwrap();
    let etag = plain.headers()["etag"].clone();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_body = plain.bytes().await.unwrap();

    let gz = http
        .get(server.url("/compliance"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(gz.headers()["vary"], "accept-encoding");
    let gz_body = gz.bytes().await.unwrap();
    assert!(gz_body.len() < plain_body.len() / 2);
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz_body[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain_body);

    // Brotli is made in the background; it must show up soon without anyone asking twice.
    let deadline = Instant::now() + Duration::from_secs(30);
    let br_body = loop {
        let r = http
            .get(server.url("/compliance"))
            .header("accept-encoding", "br, gzip")
            .send()
            .await
            .unwrap();
        if r.headers()
            .get("content-encoding")
            .is_some_and(|v| v == "br")
        {
            break r.bytes().await.unwrap();
        }
        assert!(Instant::now() < deadline, "brotli never became available");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut unbr = Vec::new();
    brotli::Decompressor::new(&br_body[..], 4096)
        .read_to_end(&mut unbr)
        .unwrap();
    assert_eq!(unbr, plain_body);

    let not_modified = http
        .get(server.url("/compliance"))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    assert!(not_modified.bytes().await.unwrap().is_empty());

    // Assets are fingerprinted and cached forever.
    let html = String::from_utf8(plain_body.to_vec()).unwrap();
    let css = html
        .split("href=\"/assets/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let r = http
        .get(server.url(&format!("/assets/{css}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/css; charset=utf-8");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
}

#[tokio::test]
async fn unknown_and_traversal_paths_get_the_404_page() {
    let site = acme_copy();
    std::fs::write(site.path().join("secret.txt"), "root:x:0:0").unwrap();
    let server = Server::start(site.path(), &[]).await;
    let http = client();
    for path in [
        "/no-such-page",
        "/security/no-such-page",
        "/security/../secret.txt",
        "/security/..%2f..%2fcandor.toml",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/..%2fsecret.txt",
        "/content/index.md",
        "/candor.toml",
        "/secret.txt",
        "/security/%2e%2e%2fencryption",
    ] {
        let r = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert!(
            r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        let body = r.text().await.unwrap();
        assert!(
            body.contains("<h1>Page not found</h1>") && body.contains("href=\"/\""),
            "{path}: {body}"
        );
        assert!(
            !body.contains("root:") && !body.contains("[site]"),
            "{path} leaked a file"
        );
    }
}

#[tokio::test]
async fn methods_slashes_and_head() {
    let site = acme_copy();
    let server = Server::start(site.path(), &[]).await;
    let http = client();
    let r = http.get(server.url("/security/")).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/security");
    let r = http.head(server.url("/security")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = http.post(server.url("/security")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn operations_endpoints() {
    let site = acme_copy();
    let server = Server::start(site.path(), &[]).await;
    let http = client();
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    http.get(server.url("/security")).send().await.unwrap();
    http.get(server.url("/nope")).send().await.unwrap();
    let metrics = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("candor_build_info{version=\""),
        "{metrics}"
    );
    let line = metrics.lines().find(|l| {
        l.starts_with("candor_http_requests_total{")
            && l.contains("route=\"portal\"")
            && l.contains("status=\"200\"")
    });
    assert!(line.is_some_and(|l| l.ends_with(" 1")), "{metrics}");
    assert!(metrics.contains("status=\"404\""), "{metrics}");
    assert!(
        metrics.contains("candor_http_request_duration_seconds_bucket{route=\"/readyz\""),
        "{metrics}"
    );
}

#[tokio::test]
async fn readiness_fails_when_the_database_goes_away() {
    let site = acme_copy();
    let server = Server::start(site.path(), &[]).await;
    // Swap the schema out from under the running server: migrations are no longer applied.
    let db = server.data_dir.join("candor.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let r = client().get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("migration"));
    assert_eq!(
        client()
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
