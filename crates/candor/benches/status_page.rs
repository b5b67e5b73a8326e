//! The status page at scale: 1,000 components in 10 groups with 90 days of status history
//! (synthesised through the store, a few outages per component), served by a release
//! `candor serve` on loopback.
//!
//! - Throughput of `/status` from cache against a pillar page (`/security`), measured with `wrk`
//!   in alternating rounds in the same run; the ratio must be at least 0.7.
//! - Cold re-render after a status change: a component's status changes in the store (its open
//!   interval closes, as when a monitor goes down) and an operator override through the API
//!   invalidates the page; the next `GET /status` renders it. Reported p50/p99 over 30 changes;
//!   target < 50 ms. The first render after start, which reads the whole interval history, is
//!   reported too.
//!
//! `cargo bench -p candor --bench status_page` (needs `wrk`; ROUNDS, DURATION env vars).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use candor_core::config::Database;
use candor_core::status::{ComponentStatus, Subject};
use candor_store::Store;
use candor_store::identity::{Identity, NewAuditEvent};
use candor_store::status::StatusStore;
use time::OffsetDateTime;

const COMPONENTS: usize = 1_000;
const GROUPS: usize = 10;
const DAYS: i64 = 90;

fn config(port: u16) -> String {
    let mut c = format!(
        "version = 1\n[site]\nname = \"Bench Trust\"\nvendor = \"Bench\"\npublic_url = \"http://127.0.0.1:{port}\"\n"
    );
    for g in 0..GROUPS {
        c.push_str(&format!(
            "\n[[component_groups]]\nid = \"g{g}\"\nname = \"Group {g}\"\n"
        ));
    }
    for k in 0..COMPONENTS {
        c.push_str(&format!(
            "\n[[components]]\nid = \"c{k}\"\nname = \"Component {k}\"\ngroup = \"g{}\"\n",
            k % GROUPS
        ));
    }
    c
}

fn page(title: &str, pillar: &str, body: &str) -> String {
    format!(
        "+++\ntitle = \"{title}\"\npillar = \"{pillar}\"\nsummary = \"{title}.\"\n+++\n\n{body}\n"
    )
}

async fn seed(data_dir: &Path) -> String {
    std::fs::create_dir_all(data_dir).unwrap();
    let store = Store::open(&Database::Sqlite(data_dir.join("candor.db")))
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let start = now - time::Duration::days(DAYS);
    let mut subjects = Vec::with_capacity(COMPONENTS);
    for k in 0..COMPONENTS {
        let subject = Subject::Component(format!("c{k}"));
        store
            .change_status(&subject, ComponentStatus::Operational, start)
            .await
            .unwrap();
        // An outage every 17 days (shifted per component), 20 to 60 minutes long.
        let mut day = (k % 17) as i64;
        while day < DAYS {
            let at = start + time::Duration::days(day) + time::Duration::hours(3);
            let status = if k % 3 == 0 {
                ComponentStatus::PartialOutage
            } else {
                ComponentStatus::MajorOutage
            };
            store.change_status(&subject, status, at).await.unwrap();
            let back = at + time::Duration::minutes(20 + (k % 41) as i64);
            store
                .change_status(&subject, ComponentStatus::Operational, back)
                .await
                .unwrap();
            day += 17;
        }
        subjects.push(subject);
    }
    store.touch_intervals(&subjects, now).await.unwrap();
    // An owner and a token for the override calls.
    let audit = NewAuditEvent {
        actor: "system".into(),
        action: "operator_created:owner".into(),
        target: String::new(),
        source_addr: "bench".into(),
    };
    let owner = store
        .create_operator("bench@candor.invalid", "owner", now, &audit)
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
        .create_token(
            "bench",
            &[candor_core::identity::Scope::IncidentsWrite],
            None,
            &owner,
            "bench",
        )
        .await
        .unwrap();
    store.close().await;
    token
}

fn wrk(url: &str, seconds: u64) -> f64 {
    let out = Command::new("wrk")
        .args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency"])
        // Browsers compress: measure what they are served.
        .args(["-H", "Accept-Encoding: gzip", url])
        .output()
        .expect("wrk is needed: apt-get install wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("cannot read wrk output:\n{text}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let duration: u64 = std::env::var("DURATION")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(dir.path().join("candor.toml"), config(port)).unwrap();
    std::fs::create_dir_all(dir.path().join("content")).unwrap();
    std::fs::write(
        dir.path().join("content/index.md"),
        page("Bench Trust", "welcome", "Hello."),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("content/encryption.md"),
        page("Encryption", "security", "## At rest\n\nAES-256-GCM."),
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let seeding = Instant::now();
    let token = runtime.block_on(seed(&dir.path().join("data")));
    eprintln!(
        "seeded {COMPONENTS} components × {DAYS} days in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let mut server = Command::new(env!("CARGO_BIN_EXE_candor"))
        .args(["serve", "--config"])
        .arg(dir.path().join("candor.toml"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .env_remove("CANDOR_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if runtime.block_on(async {
            client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        }) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Warm both pages. The first `/status` after start reads the whole interval history (later
    // renders read only what closed since): timed on its own.
    let mut first_render = 0.0;
    for path in ["/security", "/status"] {
        let t = Instant::now();
        let r = runtime.block_on(async {
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            let status = r.status();
            let _ = r.bytes().await.unwrap();
            status
        });
        assert!(r.is_success(), "{path}: {r}");
        first_render = t.elapsed().as_secs_f64() * 1000.0;
    }
    let html = runtime.block_on(async {
        client
            .get(format!("{base}/status"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    // Sizes as served to a browser (gzip), per page.
    let gzip_len = |path: &str| {
        runtime.block_on(async {
            client
                .get(format!("{base}{path}"))
                .header("accept-encoding", "gzip")
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .len()
        })
    };
    let (security_gz, status_gz) = (gzip_len("/security"), gzip_len("/status"));
    let group_html = runtime.block_on(async {
        client
            .get(format!("{base}/status/groups/g0"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let (mut pillar, mut status) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        pillar.push(wrk(&format!("{base}/security"), duration));
        status.push(wrk(&format!("{base}/status"), duration));
    }
    let (p, s) = (median(pillar.clone()), median(status.clone()));

    // Cold re-render after a status change: each round a component's status changes in the
    // store (closing its open interval, as the monitoring engine would) and an override through
    // the API invalidates the page.
    let store = runtime.block_on(async {
        Store::open(&Database::Sqlite(dir.path().join("data/candor.db")))
            .await
            .unwrap()
    });
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for k in 0..30 {
        let changed = if k % 2 == 0 {
            ComponentStatus::DegradedPerformance
        } else {
            ComponentStatus::Operational
        };
        runtime.block_on(async {
            store
                .change_status(
                    &Subject::Component(format!("c{}", k / 2)),
                    changed,
                    OffsetDateTime::now_utc(),
                )
                .await
                .unwrap();
        });
        let body = if k % 2 == 0 {
            "{\"status\":\"major_outage\"}"
        } else {
            "{\"status\":null}"
        };
        runtime.block_on(async {
            let r = client
                .put(format!("{base}/api/v1/components/c{k}/override"))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "override: {}", r.status());
            let t = Instant::now();
            let r = client.get(format!("{base}/status")).send().await.unwrap();
            let _ = r.bytes().await.unwrap();
            cold.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let r = client.get(format!("{base}/status")).send().await.unwrap();
            let _ = r.bytes().await.unwrap();
            warm.push(t.elapsed().as_secs_f64() * 1000.0);
        });
    }
    // The SLA page and API for the month so far: every component's report (not cached).
    let month = {
        let now = OffsetDateTime::now_utc();
        format!("{}-{:02}", now.year(), u8::from(now.month()))
    };
    let mut sla_page = Vec::new();
    let mut sla_api = Vec::new();
    for _ in 0..10 {
        for (path, into) in [
            ("/status/sla".to_owned(), &mut sla_page),
            (format!("/api/v1/sla/{month}"), &mut sla_api),
        ] {
            let t = Instant::now();
            let status = runtime.block_on(async {
                let r = client.get(format!("{base}{path}")).send().await.unwrap();
                let status = r.status();
                let _ = r.bytes().await.unwrap();
                status
            });
            assert!(status.is_success(), "{path}: {status}");
            into.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    runtime.block_on(store.close());
    let _ = server.kill();
    let _ = server.wait();
    let ratio = s / p;
    println!(
        "status page bench: {COMPONENTS} components, {GROUPS} groups, {DAYS} days of history, page {} KiB",
        html.len() / 1024
    );
    println!(
        "  bytes: /status {} raw, {status_gz} gzip; /security {security_gz} gzip; /status/groups/g0 {} raw",
        html.len(),
        group_html.len()
    );
    println!("  /security  req/s per round: {pillar:.0?}  median {p:.0}");
    println!("  /status    req/s per round: {status:.0?}  median {s:.0}");
    println!("  ratio /status ÷ /security: {ratio:.2} (target ≥ 0.7)");
    println!(
        "  cold re-render after a status change: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target < 50 ms); warm p50 {:.2} ms",
        percentile(&mut cold.clone(), 0.5),
        percentile(&mut cold.clone(), 0.99),
        percentile(&mut cold, 1.0),
        percentile(&mut warm, 0.5)
    );
    println!("  first render after start (whole history read): {first_render:.1} ms");
    println!(
        "  SLA page /status/sla ({COMPONENTS} reports): p50 {:.1} ms; /api/v1/sla/<month>: p50 {:.1} ms",
        percentile(&mut sla_page, 0.5),
        percentile(&mut sla_api, 0.5)
    );
}
