//! The public status page, incident history, Atom feed and Statuspage-compatible API, driven
//! through the native incident API and the `candor incident` CLI against the real server.

use candor_core::identity::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Server, api_token, candor, client, tiny_site};

/// A tiny site with a group of two components and one ungrouped component.
fn status_site() -> tempfile::TempDir {
    let dir = tiny_site();
    let path = dir.path().join("candor.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    toml.push_str(
        "\n[[component_groups]]\nid = \"core\"\nname = \"Core platform\"\n\n\
         [[components]]\nid = \"api\"\nname = \"Public API\"\ngroup = \"core\"\n\n\
         [[components]]\nid = \"db\"\nname = \"Database\"\ngroup = \"core\"\n\n\
         [[components]]\nid = \"web\"\nname = \"Website\"\n",
    );
    std::fs::write(path, toml).unwrap();
    dir
}

async fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> (Server, String) {
    let server = Server::start(dir, env).await;
    let token = match env.iter().find(|(k, _)| *k == "CANDOR_DATABASE_URL") {
        Some((_, url)) => pg_token(url).await,
        None => api_token(&server.data_dir, &[Scope::IncidentsWrite]).await,
    };
    (server, token)
}

/// A token made directly in a PostgreSQL database (as `support::api_token` does for SQLite).
async fn pg_token(url: &str) -> String {
    use candor_store::identity::{Identity, NewAuditEvent};
    let store = candor_store::Store::open(&candor_core::config::Database::Postgres(
        candor_core::config::SecretString::new(url.to_owned()),
    ))
    .await
    .unwrap();
    let audit = NewAuditEvent {
        actor: "system".into(),
        action: "operator_created:owner".into(),
        target: String::new(),
        source_addr: "test".into(),
    };
    let owner = store
        .create_operator(
            "tests@candor.invalid",
            "owner",
            time::OffsetDateTime::now_utc(),
            &audit,
        )
        .await
        .unwrap();
    let auth = candor_web::auth::Auth::with_cost(
        store.clone(),
        std::sync::Arc::new(candor_core::SystemClock),
        8,
        1,
    )
    .unwrap();
    let (_, token) = auth
        .create_token("test", &[Scope::IncidentsWrite], None, &owner, "test")
        .await
        .unwrap();
    store.close().await;
    token
}

async fn get(server: &Server, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let r = client().get(server.url(path)).send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.text().await.unwrap())
}

async fn get_json(server: &Server, path: &str) -> Value {
    let (status, headers, body) = get(server, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    assert!(
        headers[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{path}"
    );
    serde_json::from_str(&body).unwrap()
}

async fn send(
    server: &Server,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    idempotency_key: Option<&str>,
) -> (StatusCode, Value) {
    let mut r = client()
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        r = r.json(&body);
    }
    if let Some(k) = idempotency_key {
        r = r.header("Idempotency-Key", k);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post(server: &Server, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    send(server, token, reqwest::Method::POST, path, Some(body), None).await
}

fn errors(v: &Value) -> String {
    v["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|d| d["detail"].as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

async fn incident_lifecycle(env: &[(&str, &str)]) {
    let site = status_site();
    let (server, token) = start(site.path(), env).await;

    // Quiet page: operational, grouped, 90 bars each, grey (no data) rather than green.
    let (status, headers, html) = get(&server, "/status").await;
    assert_eq!(status, 200);
    assert!(headers.get(reqwest::header::SET_COOKIE).is_none());
    assert!(!html.contains("<script"), "the status page runs no scripts");
    assert!(html.contains("All Systems Operational"), "{html}");
    assert!(html.contains("Core platform") && html.contains("Public API"));
    assert!(html.contains("<link rel=\"alternate\" type=\"application/atom+xml\""));
    assert_eq!(html.matches("<li class=\"bar ").count(), 3 * 90);
    assert_eq!(html.matches("<li class=\"bar nodata\"").count(), 3 * 90);
    assert!(
        html.contains("Quarterly uptime: insufficient data"),
        "{html}"
    );

    // Open, with an idempotent retry.
    let body = json!({
        "name": "API errors <b>",
        "impact": "major",
        "body": "Investigating elevated error rates",
        "components": {"api": "partial_outage"},
    });
    let (code, first) = send(
        &server,
        &token,
        reqwest::Method::POST,
        "/api/v1/incidents",
        Some(body.clone()),
        Some("retry-1"),
    )
    .await;
    assert_eq!(code, 201, "{first}");
    let (code, again) = send(
        &server,
        &token,
        reqwest::Method::POST,
        "/api/v1/incidents",
        Some(body),
        Some("retry-1"),
    )
    .await;
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(first["status"], "investigating");
    assert_eq!(first["components"][0]["status"], "partial_outage");

    let (_, _, html) = get(&server, "/status").await;
    assert!(html.contains("Partial System Outage"), "{html}");
    assert!(
        html.contains("API errors &") && !html.contains("API errors <b>"),
        "the title is escaped: {html}"
    );
    assert!(html.contains("Partial outage"));
    let (status, _, page) = get(&server, &format!("/status/incidents/{id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Investigating elevated error rates"));
    assert!(page.contains("Public API: Partial outage"));
    let (_, headers, feed) = get(&server, "/status/history.atom").await;
    assert!(
        headers[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    assert!(feed.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">"));
    assert!(
        feed.contains("API errors &lt;b&gt; (Investigating)"),
        "{feed}"
    );

    let summary = get_json(&server, "/api/v2/summary.json").await;
    assert_eq!(summary["status"]["indicator"], "major");
    assert_eq!(summary["incidents"][0]["id"], id.as_str());
    let api = summary["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "api")
        .unwrap();
    assert_eq!(api["status"], "partial_outage");
    assert_eq!(api["group_id"], "core");

    // Identified, then resolved: the page returns to operational and history keeps it.
    let (code, v) = post(&server, &token, &format!("/api/v1/incidents/{id}/updates"), json!({"status": "identified", "body": "A bad deploy", "components": {"api": "major_outage"}})).await;
    assert_eq!(code, 200, "{v}");
    let status_doc = get_json(&server, "/api/v2/status.json").await;
    assert_eq!(
        status_doc["status"]["indicator"], "critical",
        "a major outage of a component is critical"
    );
    let components = get_json(&server, "/api/v2/components.json").await;
    let api = components["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "api")
        .unwrap()
        .clone();
    assert_eq!(api["status"], "major_outage");
    let (code, v) = post(
        &server,
        &token,
        &format!("/api/v1/incidents/{id}/updates"),
        json!({"status": "resolved", "message": "Rolled back"}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert!(v["resolved_at"].is_string(), "{v}");
    assert_eq!(
        get_json(&server, "/api/v2/incidents/unresolved.json").await["incidents"],
        json!([])
    );
    let all = get_json(&server, "/api/v2/incidents.json").await;
    assert_eq!(all["incidents"][0]["status"], "resolved");
    assert_eq!(
        all["incidents"][0]["incident_updates"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (_, _, html) = get(&server, "/status").await;
    assert!(html.contains("All Systems Operational"), "{html}");
    let (_, _, history) = get(&server, "/status/incidents").await;
    assert!(
        history.contains(&format!("/status/incidents/{id}")),
        "{history}"
    );
    let (_, _, page) = get(&server, &format!("/status/incidents/{id}")).await;
    assert!(page.contains("Rolled back") && page.contains("Resolved"));

    // ETag, Cache-Control and 304.
    let r = client()
        .get(server.url("/api/v2/summary.json"))
        .send()
        .await
        .unwrap();
    let etag = r.headers()[reqwest::header::ETAG].clone();
    assert!(
        r.headers()[reqwest::header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .starts_with("public, max-age=")
    );
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let r = client()
        .get(server.url("/api/v2/summary.json"))
        .header(reqwest::header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
}

#[tokio::test]
async fn an_incident_opened_updated_and_resolved_through_the_api_shows_everywhere() {
    incident_lifecycle(&[]).await;
}

#[tokio::test]
async fn the_incident_lifecycle_works_on_postgres() {
    let Some(pg) = crate::support::PgDatabase::create().await else {
        return;
    };
    incident_lifecycle(&[("CANDOR_DATABASE_URL", pg.url.as_str())]).await;
}

#[tokio::test]
async fn drafts_stay_private_until_published() {
    let site = status_site();
    let (server, token) = start(site.path(), &[]).await;
    let (code, draft) = post(&server, &token, "/api/v1/incidents", json!({"name": "Maybe trouble", "impact": "minor", "body": "Monitors saw errors", "components": {"web": "degraded_performance"}, "draft": true})).await;
    assert_eq!(code, 201, "{draft}");
    let id = draft["id"].as_str().unwrap();
    assert_eq!(
        get(&server, &format!("/status/incidents/{id}")).await.0,
        404
    );
    assert_eq!(
        get_json(&server, "/api/v2/incidents.json").await["incidents"],
        json!([])
    );
    assert_eq!(
        get_json(&server, "/api/v2/status.json").await["status"]["indicator"],
        "none"
    );
    assert!(
        !get(&server, "/status/history.atom")
            .await
            .2
            .contains("Maybe trouble")
    );
    assert!(!get(&server, "/status").await.2.contains("Maybe trouble"));
    // Operators see it.
    let (code, list) = send(
        &server,
        &token,
        reqwest::Method::GET,
        "/api/v1/incidents",
        None,
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(list["incidents"][0]["draft"], true);

    let (code, published) = post(
        &server,
        &token,
        &format!("/api/v1/incidents/{id}/publish"),
        json!({}),
    )
    .await;
    assert_eq!(code, 200, "{published}");
    assert_eq!(
        get(&server, &format!("/status/incidents/{id}")).await.0,
        200
    );
    assert_eq!(
        get_json(&server, "/api/v2/status.json").await["status"]["indicator"],
        "minor"
    );
    assert!(get(&server, "/status").await.2.contains("Maybe trouble"));
}

#[tokio::test]
async fn bad_input_is_refused_with_what_to_do() {
    let site = status_site();
    let (server, token) = start(site.path(), &[]).await;
    // No token.
    let r = client()
        .post(server.url("/api/v1/incidents"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let (code, v) = post(
        &server,
        &token,
        "/api/v1/incidents",
        json!({"name": "x", "impact": "huge", "body": "y", "components": {"nope": "down"}}),
    )
    .await;
    assert_eq!(code, 422);
    let e = errors(&v);
    assert!(
        e.contains("\"huge\"") && e.contains("none, minor, major or critical"),
        "{e}"
    );
    assert!(e.contains("\"nope\"") && e.contains("api, db, web"), "{e}");
    assert!(
        e.contains("major_outage"),
        "the allowed statuses are listed: {e}"
    );

    let (code, v) = post(&server, &token, "/api/v1/incidents", json!({"name": "x", "impact": "minor", "body": "y", "started_at": "2026-01-02T10:00:00Z", "resolved_at": "2026-01-02T09:00:00Z"})).await;
    assert_eq!(code, 422);
    let e = errors(&v);
    assert!(
        e.contains("2026-01-02T09:00:00Z") && e.contains("2026-01-02T10:00:00Z"),
        "{e}"
    );

    let (code, v) = post(
        &server,
        &token,
        "/api/v1/incidents/does-not-exist/updates",
        json!({"status": "resolved", "body": "x"}),
    )
    .await;
    assert_eq!(code, 404);
    assert!(errors(&v).contains("does-not-exist"), "{v}");
    let (code, _) = send(
        &server,
        &token,
        reqwest::Method::GET,
        "/api/v1/incidents/does-not-exist",
        None,
        None,
    )
    .await;
    assert_eq!(code, 404);

    let (code, v) = post(
        &server,
        &token,
        "/api/v1/incidents",
        json!({"name": "x", "impact": "minor", "body": "y", "status": "fixed"}),
    )
    .await;
    assert_eq!(code, 422);
    assert!(
        errors(&v).contains("investigating, identified, monitoring, resolved or postmortem"),
        "{v}"
    );

    // Overlapping maintenance names the other window.
    let soon = time::OffsetDateTime::now_utc() + time::Duration::days(2);
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let (code, m) = post(&server, &token, "/api/v1/maintenances", json!({"name": "Database upgrade", "body": "Minor version", "components": ["db"], "scheduled_for": fmt(soon), "scheduled_until": fmt(soon + time::Duration::hours(2))})).await;
    assert_eq!(code, 201, "{m}");
    let (code, v) = post(&server, &token, "/api/v1/maintenances", json!({"name": "Other", "components": ["db", "api"], "scheduled_for": fmt(soon + time::Duration::hours(1)), "scheduled_until": fmt(soon + time::Duration::hours(3))})).await;
    assert_eq!(code, 409, "{v}");
    assert!(errors(&v).contains("Database upgrade"), "{v}");
    // Unknown component override.
    let (code, v) = send(
        &server,
        &token,
        reqwest::Method::PUT,
        "/api/v1/components/nope/override",
        Some(json!({"status": "major_outage"})),
        None,
    )
    .await;
    assert_eq!(code, 404);
    assert!(errors(&v).contains("api, db, web"), "{v}");
}

#[tokio::test]
async fn maintenance_backfill_and_overrides_show_on_the_page_and_v2() {
    let site = status_site();
    let (server, token) = start(site.path(), &[]).await;
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };

    let (code, m) = post(&server, &token, "/api/v1/maintenances", json!({"name": "Upgrade now", "components": ["db"], "scheduled_for": fmt(now - time::Duration::minutes(5)), "scheduled_until": fmt(now + time::Duration::hours(1))})).await;
    assert_eq!(code, 201, "{m}");
    let (code, later) = post(&server, &token, "/api/v1/maintenances", json!({"name": "Upgrade later", "components": ["web"], "scheduled_for": fmt(now + time::Duration::days(3)), "scheduled_until": fmt(now + time::Duration::days(3) + time::Duration::hours(1))})).await;
    assert_eq!(code, 201, "{later}");
    let active = get_json(&server, "/api/v2/scheduled-maintenances/active.json").await;
    assert_eq!(active["scheduled_maintenances"][0]["name"], "Upgrade now");
    assert_eq!(active["scheduled_maintenances"][0]["status"], "in_progress");
    assert_eq!(active["scheduled_maintenances"][0]["impact"], "maintenance");
    let upcoming = get_json(&server, "/api/v2/scheduled-maintenances/upcoming.json").await;
    assert_eq!(
        upcoming["scheduled_maintenances"][0]["name"],
        "Upgrade later"
    );
    assert_eq!(
        get_json(&server, "/api/v2/status.json").await["status"]["indicator"],
        "maintenance"
    );
    let (_, _, html) = get(&server, "/status").await;
    assert!(
        html.contains("Upgrade now") && html.contains("Under maintenance"),
        "{html}"
    );

    let (code, done) = post(
        &server,
        &token,
        &format!(
            "/api/v1/maintenances/{}/complete",
            m["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    assert_eq!(code, 200, "{done}");
    assert_eq!(done["status"], "completed");
    let all = get_json(&server, "/api/v2/scheduled-maintenances.json").await;
    assert_eq!(all["scheduled_maintenances"].as_array().unwrap().len(), 2);
    assert_eq!(
        get_json(&server, "/api/v2/status.json").await["status"]["indicator"],
        "none"
    );

    // A back-filled incident lands in history, resolved, with both times.
    let start = now - time::Duration::hours(5);
    let (code, b) = post(&server, &token, "/api/v1/incidents", json!({"name": "Yesterday's blip", "impact": "minor", "body": "Found in the logs", "components": {"api": "degraded_performance"}, "started_at": fmt(start), "resolved_at": fmt(start + time::Duration::minutes(20))})).await;
    assert_eq!(code, 201, "{b}");
    assert_eq!(b["status"], "resolved");
    assert_eq!(b["origin"], "backfill");
    let (_, _, page) = get(
        &server,
        &format!("/status/incidents/{}", b["id"].as_str().unwrap()),
    )
    .await;
    assert!(page.contains("20 min"), "{page}");

    // Override wins over everything, null clears it.
    let (code, v) = send(
        &server,
        &token,
        reqwest::Method::PUT,
        "/api/v1/components/web/override",
        Some(json!({"status": "major_outage"})),
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    let current = get_json(&server, "/api/v1/status").await;
    let web = current["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "web")
        .unwrap()
        .clone();
    assert_eq!(web["status"], "major_outage");
    assert_eq!(web["source"], "override");
    assert_eq!(
        get_json(&server, "/api/v2/status.json").await["status"]["indicator"],
        "critical"
    );
    let (code, _) = send(
        &server,
        &token,
        reqwest::Method::PUT,
        "/api/v1/components/web/override",
        Some(json!({"status": null})),
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        get_json(&server, "/api/v2/status.json").await["status"]["indicator"],
        "none"
    );
}

#[tokio::test]
async fn the_cli_opens_updates_resolves_and_lists_incidents() {
    let site = status_site();
    let (server, token) = start(site.path(), &[]).await;
    let env = [("CANDOR_TOKEN", token.as_str())];
    let url = server.base.clone();

    let out = candor(
        &[
            "incident",
            "open",
            "--url",
            &url,
            "--title",
            "API errors",
            "--impact",
            "major",
            "--component",
            "api=partial_outage",
            "--message",
            "Investigating elevated error rates",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", out.stderr);
    let id = out.stdout.trim().to_owned();
    assert!(!id.is_empty());
    assert!(!out.stdout.contains(&token) && !out.stderr.contains(&token));
    let out = candor(
        &[
            "incident",
            "update",
            &id,
            "--url",
            &url,
            "--status",
            "identified",
            "--message",
            "Bad deploy",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", out.stderr);
    let out = candor(&["incident", "list", "--url", &url, "--unresolved"], &env);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains(&id) && out.stdout.contains("identified"),
        "{}",
        out.stdout
    );
    let out = candor(
        &[
            "incident",
            "resolve",
            &id,
            "--url",
            &url,
            "--message",
            "Rolled back",
        ],
        &env,
    );
    assert!(out.status.success(), "{}", out.stderr);
    let v = get_json(&server, "/api/v2/incidents.json").await;
    assert_eq!(v["incidents"][0]["id"], id.as_str());
    assert_eq!(v["incidents"][0]["status"], "resolved");

    // Clear errors.
    let out = candor(&["incident", "resolve", "nope", "--url", &url], &env);
    assert!(!out.status.success());
    assert!(out.stderr.contains("no incident nope"), "{}", out.stderr);
    let out = candor(
        &["incident", "list", "--url", &url],
        &[("CANDOR_TOKEN", "candor_wrong")],
    );
    assert!(!out.status.success());
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    let out = candor(&["incident", "list", "--url", &url], &[]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("CANDOR_TOKEN"), "{}", out.stderr);
    let dead = format!("http://127.0.0.1:{}", crate::support::free_port());
    let out = candor(&["incident", "list", "--url", &dead], &env);
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("cannot reach the Candor server"),
        "{}",
        out.stderr
    );
    // Back-fill from the CLI, token from a file.
    let token_file = site.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    let out = candor(
        &[
            "incident",
            "open",
            "--url",
            &url,
            "--token-file",
            token_file.to_str().unwrap(),
            "--title",
            "Old one",
            "--impact",
            "minor",
            "--message",
            "Back-filled",
            "--started-at",
            "2026-01-02T10:00:00Z",
            "--resolved-at",
            "2026-01-02T09:00:00Z",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        out.stderr.contains("2026-01-02T09:00:00Z") && out.stderr.contains("2026-01-02T10:00:00Z"),
        "{}",
        out.stderr
    );
}

/// Above 50 components `/status` shows one bar row per group and links to the group pages,
/// which carry each component's bars.
#[tokio::test]
async fn a_large_page_is_compact_with_one_bar_row_per_group_and_group_pages() {
    let dir = tiny_site();
    let path = dir.path().join("candor.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    for g in 1..=2 {
        toml.push_str(&format!(
            "\n[[component_groups]]\nid = \"g{g}\"\nname = \"Group {g}\"\n"
        ));
    }
    for k in 0..60 {
        toml.push_str(&format!(
            "\n[[components]]\nid = \"c{k}\"\nname = \"Component {k}\"\ngroup = \"g{}\"\n",
            k % 2 + 1
        ));
    }
    std::fs::write(&path, toml).unwrap();
    let (server, _token) = start(dir.path(), &[]).await;

    let (status, _, html) = get(&server, "/status").await;
    assert_eq!(status, 200);
    assert_eq!(
        html.matches("<li class=\"bar ").count(),
        0,
        "no per-component bars"
    );
    assert_eq!(html.matches("<ol class=\"bars days\"").count(), 2, "{html}");
    assert_eq!(html.matches("tabindex=\"0\"").count(), 2 * 90);
    assert!(html.contains("href=\"/status/groups/g1\""), "{html}");
    assert!(html.contains("href=\"/status/groups/g2\""), "{html}");
    assert!(html.contains("Component 59"), "every component is listed");
    assert!(!html.contains("No components are declared yet"));
    // 60 components: a few tens of KB, not 60 × 90 bars.
    assert!(html.len() < 60_000, "/status is {} bytes", html.len());

    let (status, _, group) = get(&server, "/status/groups/g1").await;
    assert_eq!(status, 200);
    assert_eq!(
        group.matches("<ol class=\"bars days\"").count(),
        30,
        "{group}"
    );
    assert_eq!(group.matches("tabindex=\"0\"").count(), 30 * 90);
    assert!(group.contains("Component 0") && !group.contains("Component 1<"));

    let (status, _, _) = get(&server, "/status/groups/nope").await;
    assert_eq!(status, 404);
    let (status, _, _) = get(&server, "/status/groups/ungrouped").await;
    assert_eq!(status, 404, "no ungrouped components here");
}

#[tokio::test]
async fn users_affected_is_checked_against_the_policy_and_weighs_the_sla_figure() {
    let site = status_site();
    let path = site.path().join("candor.toml");
    let mut toml = std::fs::read_to_string(&path).unwrap();
    toml.push_str(
        "\n[[sla]]\nid = \"per-user\"\ndowntime_source = \"incidents\"\nusers = { api = 1200 }\n",
    );
    std::fs::write(&path, toml).unwrap();
    let (server, token) = start(site.path(), &[]).await;
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let started = now - time::Duration::hours(2);
    let backfill = |users: Value| {
        json!({
            "name": "Login errors",
            "impact": "minor",
            "body": "Some users could not sign in",
            "components": {"api": "partial_outage", "db": "degraded_performance"},
            "users_affected": users,
            "started_at": fmt(started),
            "resolved_at": fmt(started + time::Duration::hours(1)),
        })
    };

    // Each refusal names the component and why.
    for (users, want) in [
        (
            json!({"api": 0}),
            "users_affected.api: 0 is not a number of users affected",
        ),
        (
            json!({"api": 1201}),
            "users_affected.api: 1201 is more than the 1200 users the SLA policy \"per-user\" counts for \"api\"",
        ),
        (
            json!({"db": 5}),
            "users_affected.db: the SLA policy \"per-user\" declares no user count for \"db\"",
        ),
        (
            json!({"web": 5}),
            "users_affected.web: \"web\" is not in components",
        ),
    ] {
        let (code, v) = post(&server, &token, "/api/v1/incidents", backfill(users)).await;
        assert_eq!(code, 422, "{v}");
        assert!(errors(&v).contains(want), "{v}");
    }

    let (code, incident) = post(
        &server,
        &token,
        "/api/v1/incidents",
        backfill(json!({"api": 300})),
    )
    .await;
    assert_eq!(code, 201, "{incident}");
    let api = |v: &Value| {
        v["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "api")
            .cloned()
            .unwrap()
    };
    assert_eq!(api(&incident)["users_affected"], 300);
    assert_eq!(api(&incident["updates"][0])["users_affected"], 300);
    let db = &incident["components"][1];
    assert_eq!(db["id"], "db");
    assert!(db.get("users_affected").is_none(), "{db}");

    // The report of the period weighs the hour by 300 of 1,200 users.
    let period = format!("{}-{:02}", started.year(), u8::from(started.month()));
    let report = get_json(&server, &format!("/api/v1/sla/api/{period}")).await;
    assert_eq!(report["formula"], "user_minutes", "{report}");
    assert_eq!(report["users"], 1200);
    assert_eq!(
        report["weighted_downtime_permille_user_seconds"],
        3_600i64 * 300 * 1000
    );
    assert_eq!(report["downtime_user_minutes"], "18000.0");
    assert_eq!(report["weighted_downtime_permille_seconds"], 900_000);

    // An update may change the count; the CLI passes it through.
    let id = incident["id"].as_str().unwrap().to_owned();
    let out = candor(
        &[
            "incident",
            "update",
            &id,
            "--url",
            &server.base,
            "--status",
            "postmortem",
            "--message",
            "Counted again",
            "--component",
            "api=partial_outage",
            "--users-affected",
            "api=900",
        ],
        &[("CANDOR_TOKEN", token.as_str())],
    );
    assert!(out.status.success(), "{}", out.stderr);
    let (code, v) = send(
        &server,
        &token,
        reqwest::Method::GET,
        &format!("/api/v1/incidents/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(api(&v)["users_affected"], 900);
    let out = candor(
        &[
            "incident",
            "update",
            &id,
            "--url",
            &server.base,
            "--status",
            "postmortem",
            "--message",
            "x",
            "--users-affected",
            "api",
        ],
        &[("CANDOR_TOKEN", token.as_str())],
    );
    assert!(!out.status.success());
    assert!(out.stderr.contains("is not ID=N"), "{}", out.stderr);
}

/// The page keeps a copy of closed status intervals between renders and reads only what closed
/// since: an outage that closes while the server runs must show after the next change, and the
/// history read before it must stay.
#[tokio::test]
async fn intervals_closed_after_a_render_show_on_the_next_one() {
    use candor_core::status::{ComponentStatus, Subject};
    use candor_store::status::StatusStore;
    let dir = status_site();
    let (server, token) = start(dir.path(), &[]).await;
    let store = candor_store::Store::open(&candor_core::config::Database::Sqlite(
        server.data_dir.join("candor.db"),
    ))
    .await
    .unwrap();
    let today = time::OffsetDateTime::now_utc()
        .date()
        .with_time(time::Time::MIDNIGHT)
        .assume_utc();
    let (two_days_ago, yesterday) = (
        today - time::Duration::days(2),
        today - time::Duration::days(1),
    );
    let api = Subject::Component("api".into());
    let at = |day: time::OffsetDateTime, h: i64| day + time::Duration::hours(h);
    store
        .change_status(&api, ComponentStatus::Operational, two_days_ago)
        .await
        .unwrap();
    store
        .change_status(&api, ComponentStatus::PartialOutage, at(two_days_ago, 6))
        .await
        .unwrap();
    store
        .change_status(&api, ComponentStatus::Operational, at(two_days_ago, 8))
        .await
        .unwrap();
    let (_, _, before) = get(&server, "/status").await;
    // 2 h of partial outage at 30 % = 36 minutes.
    assert!(before.contains("36 minutes of downtime"), "{before}");
    assert!(!before.contains("major outage 60 min"), "{before}");

    // An outage yesterday closes while the server runs; a change elsewhere invalidates the page.
    store
        .change_status(&api, ComponentStatus::MajorOutage, at(yesterday, 10))
        .await
        .unwrap();
    store
        .change_status(&api, ComponentStatus::Operational, at(yesterday, 11))
        .await
        .unwrap();
    store.close().await;
    let (status, body) = send(
        &server,
        &token,
        reqwest::Method::PUT,
        "/api/v1/components/web/override",
        Some(json!({"status": "degraded_performance"})),
        None,
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let (_, _, after) = get(&server, "/status").await;
    assert!(after.contains("major outage 60 min"), "{after}");
    assert!(after.contains("36 minutes of downtime"), "{after}");
}
