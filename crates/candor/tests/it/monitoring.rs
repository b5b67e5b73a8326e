//! The monitoring engine end to end: a real target on loopback that goes down and comes back,
//! the real server probing it, status history, an incident opened and resolved by monitors,
//! SLA figures that follow, samples that can be downloaded, and a restart that neither loses
//! history nor invents an outage.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::{Server, client, tiny_site, write};

/// A loopback HTTP service whose health the test switches.
async fn target(healthy: Arc<AtomicBool>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let healthy = healthy.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 2048];
                let _ = socket.read(&mut buf).await;
                let (status, body) = if healthy.load(Ordering::SeqCst) {
                    ("200 OK", "{\"status\":\"UP\"}")
                } else {
                    ("503 Service Unavailable", "{\"status\":\"DOWN\"}")
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

fn month() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{}-{:02}", now.year(), u8::from(now.month()))
}

async fn report(server: &Server) -> serde_json::Value {
    let url = server.url(&format!("/api/v1/sla/api/{}", month()));
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn wait_for(
    server: &Server,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = report(server).await;
        if pred(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last report: {r}\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn config(port: u16) -> String {
    format!(
        r#"version = 1
[site]
name = "Tiny Trust"
vendor = "Tiny"

[[monitors]]
id = "api-health"
kind = "http"
url = "http://127.0.0.1:{port}/health"
interval = "1s"
timeout = "800ms"
conditions = ["[STATUS] == 200", "[BODY].status == UP"]
failure_threshold = 2
success_threshold = 2
allow_private = true

[[components]]
id = "api"
name = "API"
monitors = ["api-health"]
incidents = "publish"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_recorded_opens_an_incident_and_counts_as_downtime() {
    let healthy = Arc::new(AtomicBool::new(true));
    let port = target(healthy.clone()).await;
    let dir = tiny_site();
    write(dir.path(), "candor.toml", &config(port));
    let server = Server::start(dir.path(), &[]).await;

    // Up: data accumulates, no downtime, no incident.
    let r = wait_for(&server, "coverage", |r| {
        r["covered_seconds"].as_i64().unwrap_or(0) >= 2
    })
    .await;
    assert_eq!(r["weighted_downtime_permille_seconds"], 0, "{r}");
    assert_eq!(r["incidents"].as_array().unwrap().len(), 0, "{r}");

    // Down: two failures confirm it; the incident is published by the monitors.
    healthy.store(false, Ordering::SeqCst);
    let r = wait_for(&server, "an incident and downtime", |r| {
        !r["incidents"].as_array().unwrap().is_empty()
            && r["weighted_downtime_permille_seconds"]
                .as_i64()
                .unwrap_or(0)
                > 0
    })
    .await;
    assert_eq!(r["incidents"].as_array().unwrap().len(), 1, "{r}");

    // Back up: downtime stops growing.
    healthy.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let settled = report(&server).await["weighted_downtime_permille_seconds"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = report(&server).await;
    assert_eq!(
        later["weighted_downtime_permille_seconds"]
            .as_i64()
            .unwrap(),
        settled,
        "downtime kept growing after recovery: {later}"
    );
    // The outage started at the first failing probe, so it is at least two probe intervals.
    assert!(settled >= 1_000, "{later}");
    // Seconds of data in a month that has run for days: the figure says so instead of
    // claiming an uptime.
    assert_eq!(later["insufficient_data"], true, "{later}");
    assert_eq!(later["uptime_ppb"], serde_json::Value::Null, "{later}");

    // The raw samples of a past minute can be downloaded, in digest order.
    let now = time::OffsetDateTime::now_utc();
    let from = now - time::Duration::seconds(30);
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let samples: serde_json::Value = client()
        .get(server.url(&format!(
            "/api/v1/samples?from={}&to={}",
            fmt(from),
            fmt(now)
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = samples["items"].as_array().unwrap();
    assert!(items.len() >= 5, "{samples}");
    assert!(items.iter().any(|i| i["outcome"] == "down"), "{samples}");
    assert!(items.iter().any(|i| i["outcome"] == "up"), "{samples}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_history_and_invents_no_outage() {
    let healthy = Arc::new(AtomicBool::new(true));
    let port = target(healthy.clone()).await;
    let dir = tiny_site();
    // Slower probes, so the restart falls well within the freshness window.
    write(
        dir.path(),
        "candor.toml",
        &config(port).replace("interval = \"1s\"", "interval = \"3s\""),
    );
    let server = Server::start(dir.path(), &[]).await;
    let before = wait_for(&server, "coverage", |r| {
        r["covered_seconds"].as_i64().unwrap_or(0) >= 6
    })
    .await;
    let data_dir = server.data_dir.clone();
    server.stop();
    let server = Server::start_with_data(dir.path(), &data_dir, &[]).await;
    let after = wait_for(&server, "coverage after the restart", |r| {
        r["covered_seconds"].as_i64().unwrap_or(0) > before["covered_seconds"].as_i64().unwrap() + 3
    })
    .await;
    assert_eq!(after["weighted_downtime_permille_seconds"], 0, "{after}");
    assert!(after["incidents"].as_array().unwrap().is_empty(), "{after}");
    server.stop();
}

#[test]
fn a_bad_monitor_condition_is_a_config_error_at_its_line() {
    let dir = tiny_site();
    write(
        dir.path(),
        "candor.toml",
        &config(9).replace("[BODY].status == UP", "[STAUTS] == 200"),
    );
    let out = crate::support::candor(
        &[
            "check-config",
            "--config",
            dir.path().join("candor.toml").to_str().unwrap(),
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(out.stderr.contains("candor.toml:12"), "{}", out.stderr);
    assert!(out.stderr.contains("[STAUTS]"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_keep_their_schedule_while_the_portal_is_under_load() {
    let healthy = Arc::new(AtomicBool::new(true));
    let port = target(healthy.clone()).await;
    let dir = tiny_site();
    let mut config =
        String::from("version = 1\n[site]\nname = \"Tiny Trust\"\nvendor = \"Tiny\"\n");
    for k in 0..20 {
        config.push_str(&format!(
            "\n[[monitors]]\nid = \"m{k}\"\nkind = \"http\"\nurl = \"http://127.0.0.1:{port}/health\"\ninterval = \"1s\"\nallow_private = true\n"
        ));
    }
    write(dir.path(), "candor.toml", &config);
    let server = Server::start(dir.path(), &[]).await;

    // 64 clients fetch portal pages as fast as they can for 8 seconds.
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut clients = Vec::new();
    for _ in 0..64 {
        let url = server.url("/security");
        clients.push(tokio::spawn(async move {
            let c = client();
            let mut served = 0u64;
            while Instant::now() < deadline {
                if let Ok(r) = c.get(&url).send().await
                    && r.bytes().await.is_ok()
                {
                    served += 1;
                }
            }
            served
        }));
    }
    let mut served = 0;
    for c in clients {
        served += c.await.unwrap();
    }
    assert!(
        served > 1_000,
        "the load generator made only {served} requests"
    );
    // The gauges are refreshed every 5 s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let gauge = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{metrics}"))
    };
    let started = gauge("candor_probe_started");
    assert!(
        started >= 20.0 * 8.0,
        "only {started} probes started during the 8 s of load"
    );
    let p99 = gauge("candor_probe_slip_p99_seconds");
    assert!(p99 < 1.0, "schedule slip p99 was {p99} s under load");
    assert_eq!(gauge("candor_probe_skipped"), 0.0);
    server.stop();
}

/// Sends `body` (JSON) with `method` and a bearer token; returns the status and JSON body.
async fn call(
    server: &Server,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (reqwest::StatusCode, serde_json::Value) {
    let mut r = client()
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

async fn api_monitor_state(server: &Server, token: &str, id: &str) -> Option<String> {
    let (status, list) = call(
        server,
        token,
        reqwest::Method::GET,
        "/api/v1/monitors",
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    list["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .map(|m| m["state"].as_str().unwrap().to_owned())
}

async fn wait_state(server: &Server, token: &str, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = api_monitor_state(server, token, id).await;
        if state.as_deref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "monitor {id} never became {want} (last: {state:?})\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_made_through_the_api_run_at_once_survive_a_restart_and_can_be_removed() {
    use candor_core::identity::Scope;
    use reqwest::Method;
    let healthy = Arc::new(AtomicBool::new(true));
    let port = target(healthy.clone()).await;
    let dir = tiny_site();
    write(
        dir.path(),
        "candor.toml",
        &format!(
            r#"version = 1
[site]
name = "Tiny Trust"
vendor = "Tiny"

[status]
api_monitors_allow_private = true

[[monitors]]
id = "api-port"
kind = "tcp"
target = "127.0.0.1:{port}"
interval = "5s"
allow_private = true

[[components]]
id = "api"
name = "API"
incidents = "publish"
"#
        ),
    );
    let server = Server::start(dir.path(), &[]).await;
    let token = crate::support::api_token(&server.data_dir, &[Scope::MonitorsWrite]).await;
    let reader = crate::support::api_token(&server.data_dir, &[Scope::Read]).await;
    let health = serde_json::json!({
        "kind": "http",
        "url": format!("http://127.0.0.1:{port}/health"),
        "interval": "1s",
        "timeout": "800ms",
        "conditions": ["[STATUS] == 200", "[BODY].status == UP"],
        "failure_threshold": 2,
        "success_threshold": 2,
        "allow_private": true,
        "components": ["api"],
    });

    // Bad definitions are refused naming the field; candor.toml's monitors are not changed here.
    let mut bad = health.clone();
    bad["conditions"] = serde_json::json!(["[STATUS] == 200", "[STATUS] =="]);
    bad["components"] = serde_json::json!(["api", "nope"]);
    let (status, body) = call(
        &server,
        &token,
        Method::PUT,
        "/api/v1/monitors/api-health",
        Some(bad),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let text = body.to_string();
    assert!(text.contains("conditions[1]"), "{text}");
    assert!(
        text.contains("components[1]") && text.contains("no component \\\"nope\\\""),
        "{text}"
    );
    let (status, body) = call(
        &server,
        &token,
        Method::PUT,
        "/api/v1/monitors/api-port",
        Some(health.clone()),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = call(
        &server,
        &reader,
        Method::PUT,
        "/api/v1/monitors/api-health",
        Some(health.clone()),
    )
    .await;
    assert_eq!(status, 403, "a read token cannot create monitors");
    assert_eq!(api_monitor_state(&server, &token, "api-health").await, None);

    // Created: it runs at once and feeds its component, which goes down with it.
    let (status, body) = call(
        &server,
        &token,
        Method::PUT,
        "/api/v1/monitors/api-health",
        Some(health.clone()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["source"], "api");
    wait_state(&server, &token, "api-health", "up").await;
    healthy.store(false, Ordering::SeqCst);
    wait_state(&server, &token, "api-health", "down").await;
    let r = wait_for(&server, "the API monitor's outage on its component", |r| {
        !r["incidents"].as_array().unwrap().is_empty()
    })
    .await;
    assert!(r["covered_seconds"].as_i64().unwrap() > 0, "{r}");
    healthy.store(true, Ordering::SeqCst);
    wait_state(&server, &token, "api-health", "up").await;

    // Listed with where each monitor comes from; readers see it too.
    let (_, list) = call(&server, &reader, Method::GET, "/api/v1/monitors", None).await;
    let sources: Vec<(String, String)> = list["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_owned(),
                m["source"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        sources,
        vec![
            ("api-port".into(), "config".into()),
            ("api-health".into(), "api".into())
        ]
    );

    // A heartbeat monitor gets a push URL once; replacing it keeps the URL working.
    let beat = serde_json::json!({ "kind": "heartbeat", "period": "1h", "grace": "5m" });
    let (status, created) = call(
        &server,
        &token,
        Method::PUT,
        "/api/v1/monitors/nightly",
        Some(beat.clone()),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let push = created["push_url"].as_str().unwrap().to_owned();
    let push_path = &push[push.find("/api/v1/heartbeats/").unwrap()..];
    let r = client().post(server.url(push_path)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (status, replaced) = call(
        &server,
        &token,
        Method::PUT,
        "/api/v1/monitors/nightly",
        Some(beat),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert!(replaced.get("push_url").is_none(), "{replaced}");
    let r = client().post(server.url(push_path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "the push URL survives a replacement");
    // The token is stored hashed only.
    let token_part = push_path.rsplit('/').next().unwrap();
    let db = std::fs::read(server.data_dir.join("candor.db")).unwrap();
    assert!(
        !db.windows(token_part.len())
            .any(|w| w == token_part.as_bytes())
    );

    // A restart runs it again, in its state.
    let data_dir = server.data_dir.clone();
    server.stop();
    let server = Server::start_with_data(dir.path(), &data_dir, &[]).await;
    wait_state(&server, &token, "api-health", "up").await;
    let r = client().post(server.url(push_path)).send().await.unwrap();
    assert_eq!(r.status(), 200, "the push URL survives a restart");

    let samples_after = |from: time::OffsetDateTime| {
        let url = server.url(&format!(
            "/api/v1/samples?from={}&to={}",
            from.format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
            time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        ));
        async move {
            let v: serde_json::Value = client()
                .get(url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["monitor"] == "api-health")
                .count()
        }
    };
    // Its samples are downloadable like any other monitor's (the digests commit to them).
    assert!(
        samples_after(time::OffsetDateTime::now_utc() - time::Duration::seconds(40)).await > 0,
        "no samples of the API monitor in /api/v1/samples"
    );
    // Removed: it stops, and its component keeps its history.
    let (status, _) = call(
        &server,
        &token,
        Method::DELETE,
        "/api/v1/monitors/api-health",
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &server,
        &token,
        Method::DELETE,
        "/api/v1/monitors/api-health",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &server,
        &token,
        Method::GET,
        "/api/v1/monitors/api-health",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &server,
        &token,
        Method::DELETE,
        "/api/v1/monitors/api-port",
        None,
    )
    .await;
    assert_eq!(status, 409);
    let removed_at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        samples_after(removed_at).await,
        0,
        "no probes after removal"
    );
    let r = report(&server).await;
    assert!(!r["incidents"].as_array().unwrap().is_empty(), "{r}");
    server.stop();
}

/// A run that stops before committing the digest of its last minutes of samples: the next run
/// reads them back and commits the digest, once (an already committed window is not repeated).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_a_stopped_run_had_not_digested_are_digested_by_the_next_run() {
    use candor_core::status::{
        ComponentStatus, SampleOutcome, SampleRecord, StatusSettings, Subject,
    };
    use candor_store::LogStore;
    use candor_store::status::StatusStore;
    let dir = tempfile::tempdir().unwrap();
    let store = candor_store::Store::open(&candor_core::config::Database::Sqlite(
        dir.path().join("candor.db"),
    ))
    .await
    .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let minute = now.unix_timestamp().div_euclid(60) * 60 - 180;
    let window = time::OffsetDateTime::from_unix_timestamp(minute).unwrap();
    let subject = Subject::Monitor("m".into());
    store
        .change_status(&subject, ComponentStatus::Operational, window)
        .await
        .unwrap();
    let samples: Vec<SampleRecord> = [10, 20, 30]
        .into_iter()
        .map(|s| SampleRecord {
            monitor_id: "m".into(),
            at: window + time::Duration::seconds(s),
            outcome: SampleOutcome::Up,
            latency_ms: 3,
            in_maintenance: false,
            error: None,
        })
        .collect();
    store.record_samples(&samples).await.unwrap();
    // A monitor the previous run had, removed since: its samples are in the window too.
    let mut gone = samples[0].clone();
    gone.monitor_id = "gone".into();
    store.record_samples(&[gone]).await.unwrap();
    store
        .touch_intervals(
            std::slice::from_ref(&subject),
            window + time::Duration::seconds(30),
        )
        .await
        .unwrap();
    let spec = candor_core::monitor::monitor_from_json(
        "m",
        serde_json::json!({ "kind": "tcp", "target": "127.0.0.1:9", "allow_private": true, "interval": "1h" })
            .as_object()
            .unwrap(),
    )
    .unwrap();
    let settings = StatusSettings {
        monitors: vec![spec],
        ..StatusSettings::default()
    };
    let digests = |store: candor_store::Store| async move {
        let size = store.sequenced_size().await.unwrap();
        store
            .entries(0, size)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.entry_type == "digest.batch")
            .map(|e| serde_json::from_slice::<serde_json::Value>(&e.entry).unwrap())
            .collect::<Vec<_>>()
    };
    for run in 0..2 {
        let _monitoring = candor_web::monitoring::start(
            store.clone(),
            settings.clone(),
            Vec::new(),
            dir.path(),
            std::sync::Arc::new(candor_core::SystemClock),
            std::sync::Arc::new(|| {}),
            std::sync::Arc::new(|| {}),
        )
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let found = loop {
            let found = digests(store.clone()).await;
            if !found.is_empty() || Instant::now() > deadline {
                break found;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        // A second run finds the window committed and adds nothing.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let found = if run == 1 {
            digests(store.clone()).await
        } else {
            found
        };
        assert_eq!(found.len(), 1, "run {run}: {found:?}");
        let text = found[0].to_string();
        assert!(text.contains("\"count\":4"), "{text}");
        assert!(text.contains("probe.samples"), "{text}");
    }
}

/// A reload of candor.toml that adds a monitor, feeds a component with it and adds an SLA
/// policy takes effect without a restart; removing the monitor again stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_of_candor_toml_starts_and_stops_monitors_and_records_new_policies() {
    use candor_core::identity::Scope;
    let healthy = Arc::new(AtomicBool::new(true));
    let port = target(healthy.clone()).await;
    let dir = tiny_site();
    let without = "version = 1\n[site]\nname = \"Tiny Trust\"\nvendor = \"Tiny\"\n\n[[components]]\nid = \"api\"\nname = \"API\"\nincidents = \"publish\"\n";
    write(dir.path(), "candor.toml", without);
    let server = Server::start(dir.path(), &[]).await;
    let token =
        crate::support::api_token(&server.data_dir, &[Scope::ContentReload, Scope::Read]).await;
    let reload = || async {
        let r = client()
            .post(server.url("/api/v1/admin/reload"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    };
    assert_eq!(api_monitor_state(&server, &token, "api-health").await, None);

    write(
        dir.path(),
        "candor.toml",
        &format!(
            "{}\n[[sla]]\nid = \"strict\"\ntarget = \"99.95\"\n",
            config(port)
        ),
    );
    reload().await;
    wait_state(&server, &token, "api-health", "up").await;
    healthy.store(false, Ordering::SeqCst);
    let r = wait_for(&server, "the reloaded monitor's outage", |r| {
        !r["incidents"].as_array().unwrap().is_empty()
    })
    .await;
    assert_eq!(r["policy"], "strict", "{r}");
    // The new policy is in the log before any report uses it.
    {
        use candor_store::LogStore;
        let store = candor_store::Store::open(&candor_core::config::Database::Sqlite(
            server.data_dir.join("candor.db"),
        ))
        .await
        .unwrap();
        let size = store.sequenced_size().await.unwrap();
        let policies: Vec<String> = store
            .entries(0, size)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.entry_type == "sla.policy")
            .map(|e| String::from_utf8(e.entry).unwrap())
            .collect();
        assert!(
            policies.iter().any(|p| p.contains("\"strict\"")),
            "{policies:?}"
        );
        store.close().await;
    }

    write(dir.path(), "candor.toml", without);
    reload().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while api_monitor_state(&server, &token, "api-health")
        .await
        .is_some()
    {
        assert!(
            Instant::now() < deadline,
            "the removed monitor is still listed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, list) = call(
        &server,
        &token,
        reqwest::Method::GET,
        "/api/v1/monitors",
        None,
    )
    .await;
    assert_eq!(list["monitors"].as_array().unwrap().len(), 0, "{list}");
    server.stop();
}
