//! Reloading trust-as-code (SIGHUP and the admin API) and the content revision history.

use serde_json::Value;

use crate::support::{Server, client, page, tiny_site, write};

async fn get_text(server: &Server, path: &str) -> (u16, String) {
    let r = client().get(server.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn revisions(server: &Server, page_path: &str) -> Vec<Value> {
    let r = client()
        .get(server.url(&format!("/api/v1/revisions?page={page_path}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Vec<Value>>().await.unwrap()
}

async fn wait_until_served(server: &Server, path: &str, needle: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if get_text(server, path).await.1.contains(needle) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never showed {needle:?}: {}",
            server.stderr()
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn sighup_publishes_edits_and_records_a_revision() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    assert!(
        get_text(&server, "/security/encryption")
            .await
            .1
            .contains("AES-256-GCM")
    );
    assert_eq!(revisions(&server, "/security/encryption").await.len(), 1);
    let welcome_before = revisions(&server, "/").await;

    write(
        site.path(),
        "content/encryption.md",
        &page(
            "Encryption",
            "security",
            "How we encrypt.",
            "## At rest\n\nXChaCha20-Poly1305.",
        ),
    );
    write(
        site.path(),
        "content/pentests.md",
        &page(
            "Penetration tests",
            "security",
            "Twice a year.",
            "By an outside firm.",
        ),
    );
    server.signal("HUP");
    wait_until_served(&server, "/security/encryption", "XChaCha20-Poly1305").await;
    assert_eq!(get_text(&server, "/security/pentests").await.0, 200);
    assert!(
        get_text(&server, "/security")
            .await
            .1
            .contains("href=\"/security/pentests\"")
    );

    let history = revisions(&server, "/security/encryption").await;
    assert_eq!(history.len(), 2, "{history:?}");
    assert_ne!(history[0]["content_sha256"], history[1]["content_sha256"]);
    assert_eq!(
        revisions(&server, "/").await,
        welcome_before,
        "an unchanged page keeps its revision and date"
    );

    // Removing a page unpublishes it.
    std::fs::remove_file(site.path().join("content/pentests.md")).unwrap();
    server.signal("HUP");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while get_text(&server, "/security/pentests").await.0 != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "removed page still served"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_broken_reload_keeps_serving_the_old_content() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    write(
        site.path(),
        "content/encryption.md",
        "+++\ntitle = \"Encryption\"\npillar = \"securty\"\nsummary = \"x\"\n+++\nBROKEN",
    );
    server.signal("HUP");
    let log = server.wait_for_log(|l| l.contains("reload rejected")).await;
    assert!(
        log.contains("encryption.md:3") && log.contains("securty"),
        "{log}"
    );
    let (status, body) = get_text(&server, "/security/encryption").await;
    assert_eq!(status, 200);
    assert!(body.contains("AES-256-GCM") && !body.contains("BROKEN"));

    // The same through the API: 422 with every problem, old content kept.
    write(
        site.path(),
        "candor.toml",
        "version = 1\n[site]\nname = \"Tiny Trust\"\nvendr = \"typo\"\n",
    );
    let token = crate::support::api_token(
        &server.data_dir,
        &[candor_core::identity::Scope::ContentReload],
    )
    .await;
    let r = client()
        .post(server.url("/api/v1/admin/reload"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    let details: Vec<String> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["detail"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("candor.toml:4") && d.contains("vendr")),
        "{details:?}"
    );
    assert!(details.iter().any(|d| d.contains("securty")), "{details:?}");
    assert!(
        get_text(&server, "/security/encryption")
            .await
            .1
            .contains("AES-256-GCM")
    );
    assert_eq!(
        client()
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "still healthy"
    );
}

#[tokio::test]
async fn reload_through_the_api_and_read_only_pages() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    write(
        site.path(),
        "content/privacy.md",
        &page(
            "Privacy by design",
            "privacy",
            "We never sell data.",
            "Our commitments.",
        ),
    );
    let token = crate::support::api_token(
        &server.data_dir,
        &[candor_core::identity::Scope::ContentReload],
    )
    .await;
    let r = client()
        .post(server.url("/api/v1/admin/reload"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["pages"], 3);
    assert!(
        get_text(&server, "/privacy")
            .await
            .1
            .contains("Our commitments.")
    );

    let pages: Vec<Value> = client()
        .get(server.url("/api/v1/pages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    assert!(
        pages
            .iter()
            .all(|p| p["read_only"] == true && p["source"] == "trust-as-code")
    );
    assert!(pages.iter().any(|p| p["path"] == "/privacy"
        && p["pillar"] == "privacy"
        && p["last_updated"].is_string()));
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::POST,
    ] {
        let r = client()
            .request(method.clone(), server.url("/api/v1/pages"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            405,
            "{method} must not change trust-as-code objects"
        );
    }
    let missing = client()
        .get(server.url("/api/v1/revisions?page=/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(
        missing.json::<Value>().await.unwrap()["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("/nope")
    );
}

#[tokio::test]
async fn last_updated_survives_a_restart() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    let first = revisions(&server, "/security/encryption").await;
    let html = get_text(&server, "/security/encryption").await.1;
    assert_eq!(server.stop().code(), Some(0));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = Server::start(site.path(), &[]).await;
    assert_eq!(
        revisions(&again, "/security/encryption").await,
        first,
        "restart must not invent a new revision"
    );
    let stamp = |h: &str| {
        h.split("<time datetime=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        stamp(&get_text(&again, "/security/encryption").await.1),
        stamp(&html)
    );
}

#[tokio::test]
async fn json_logs() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[("CANDOR_LOG_FORMAT", "json")]).await;
    let log = server
        .wait_for_log(|l| l.contains("Candor is serving"))
        .await;
    let line = log
        .lines()
        .find(|l| l.contains("Candor is serving"))
        .unwrap();
    let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["site"], "Tiny Trust");
}

#[tokio::test]
async fn two_servers_share_one_postgres_database() {
    let Some(pg) = crate::support::PgDatabase::create().await else {
        return;
    };
    let site = tiny_site();
    let env = [("CANDOR_DATABASE_URL", pg.url.as_str())];
    let (a, b) = tokio::join!(
        Server::start(site.path(), &env),
        Server::start(site.path(), &env)
    );
    assert!(a.stderr().contains("PostgreSQL at"), "{}", a.stderr());
    for server in [&a, &b] {
        assert_eq!(get_text(server, "/security/encryption").await.0, 200);
        assert_eq!(
            revisions(server, "/security/encryption").await.len(),
            1,
            "one revision, though two replicas published it"
        );
    }
    write(
        site.path(),
        "content/encryption.md",
        &page(
            "Encryption",
            "security",
            "How we encrypt.",
            "Now with HSMs.",
        ),
    );
    a.signal("HUP");
    wait_until_served(&a, "/security/encryption", "Now with HSMs.").await;
    // The other replica reads the same history, even before it reloads itself.
    assert_eq!(revisions(&b, "/security/encryption").await.len(), 2);

    // Both replicas sequence into one log: 3 entries, gapless, and they serve the same tree.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (ca, cb) = (
            get_text(&a, "/log/checkpoint").await.1,
            get_text(&b, "/log/checkpoint").await.1,
        );
        let head = |c: &str| c.lines().take(3).collect::<Vec<_>>().join("\n");
        if head(&ca) == head(&cb) && ca.lines().nth(1) == Some("3") {
            break; // same origin, size and root on both replicas
        }
        assert!(
            std::time::Instant::now() < deadline,
            "replicas disagree: {ca} / {cb}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let bundle = client()
        .get(b.url("/log/tile/entries/000.p/3"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
}
