//! `candor verify --uptime`: a month's SLA report recomputed from the log by the real binary
//! against a real server, agreeing with what is published, and failing loudly (naming the field)
//! when a published figure is forged.

use std::time::{Duration, Instant};

use candor_core::config::Database;
use candor_core::status::{
    AffectedComponent, ComponentStatus, IncidentImpact, IncidentOrigin, IncidentStatus, Subject,
};
use candor_store::Store;
use candor_store::status::{NewIncident, NewMaintenance, StatusStore};
use time::macros::datetime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::log::{checkpoint_of_size, get};
use crate::support::{Output, Server, candor, tiny_site, write};

/// The tiny site with two components: `api` (with a month of history seeded below) and `web`
/// (none). Their monitor probes a closed loopback port once an hour: nothing it does touches
/// October.
pub(crate) const STATUS_CONFIG: &str = r#"
[[monitors]]
id = "api-port"
name = "API port"
kind = "tcp"
target = "127.0.0.1:9"
interval = "1h"
allow_private = true

[[components]]
id = "api"
name = "API"
monitors = ["api-port"]
incidents = "off"

[[components]]
id = "web"
name = "Web"
monitors = ["api-port"]
incidents = "off"
"#;

/// October 2026 for `api`, through the store the server uses: operational all month but for a
/// 45-minute major outage on the 10th, a data gap of 6 hours on the 20th, a back-filled
/// partial outage on the 25th and a maintenance window announced a week ahead.
pub(crate) async fn seed(data_dir: &std::path::Path) {
    seed_with(data_dir, None).await;
}

/// [`seed`], with the back-filled incident declaring how many users it affected.
async fn seed_with(data_dir: &std::path::Path, users_affected: Option<u64>) {
    std::fs::create_dir_all(data_dir).unwrap();
    let store = Store::open(&Database::Sqlite(data_dir.join("candor.db")))
        .await
        .unwrap();
    let api = Subject::Component("api".into());
    for (status, from) in [
        (
            ComponentStatus::Operational,
            datetime!(2026-10-01 00:00 UTC),
        ),
        (
            ComponentStatus::MajorOutage,
            datetime!(2026-10-10 08:00 UTC),
        ),
        (
            ComponentStatus::Operational,
            datetime!(2026-10-10 08:45 UTC),
        ),
    ] {
        store.change_status(&api, status, from).await.unwrap();
    }
    store
        .close_interval(&api, datetime!(2026-10-20 00:00 UTC))
        .await
        .unwrap();
    store
        .change_status(
            &api,
            ComponentStatus::Operational,
            datetime!(2026-10-20 06:00 UTC),
        )
        .await
        .unwrap();
    store
        .close_interval(&api, datetime!(2026-11-01 00:00 UTC))
        .await
        .unwrap();
    store
        .create_incident(
            &NewIncident {
                name: "Slow provisioning".into(),
                impact: IncidentImpact::Major,
                status: IncidentStatus::Resolved,
                body: "Provisioning failed for some customers.".into(),
                components: vec![AffectedComponent {
                    component_id: "api".into(),
                    status: ComponentStatus::PartialOutage,
                    users_affected,
                }],
                origin: IncidentOrigin::Backfill,
                draft: false,
                started_at: datetime!(2026-10-25 03:00 UTC),
                resolved_at: Some(datetime!(2026-10-25 04:00 UTC)),
            },
            datetime!(2026-10-26 09:00 UTC),
            None,
        )
        .await
        .unwrap();
    store
        .schedule_maintenance(
            &NewMaintenance {
                name: "Database upgrade".into(),
                body: "Rolling upgrade.".into(),
                components: vec!["api".into()],
                scheduled_for: datetime!(2026-10-05 02:00 UTC),
                scheduled_until: datetime!(2026-10-05 04:00 UTC),
            },
            datetime!(2026-09-28 12:00 UTC),
            None,
        )
        .await
        .unwrap();
    store.close().await;
}

/// The log index of the newest `sla.report` entry about `component`, waiting (at most 30 s) for
/// the server to record one.
async fn report_index(server: &Server, component: &str) -> u64 {
    let db = format!("sqlite://{}", server.data_dir.join("candor.db").display());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(seq) FROM log_entries WHERE entry_type = 'sla.report' AND CAST(entry AS TEXT) LIKE ?1",
        )
        .bind(format!("%\"component\":\"{component}\"%"))
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        if let Some(seq) = found {
            return u64::try_from(seq).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "the server recorded no sla.report for {component}: {}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn verify_uptime(server: &Server, key: &str, state: &std::path::Path, extra: &[&str]) -> Output {
    let url = server.url("/log");
    let mut args = vec![
        "verify",
        url.as_str(),
        "--key",
        key,
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    candor(&args, &[])
}

/// A one-route HTTP server on loopback answering every request with `body` (a forged API). It
/// runs on the test's runtime, which must have worker threads: `candor()` blocks its caller.
async fn fake_api(body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_recomputes_a_closed_month_and_catches_a_forged_figure() {
    let site = tiny_site();
    let config = std::fs::read_to_string(site.path().join("candor.toml")).unwrap();
    write(
        site.path(),
        "candor.toml",
        &format!("{config}{STATUS_CONFIG}"),
    );
    seed(&site.path().join("data")).await;
    let server = Server::start(site.path(), &[]).await;
    // The engine closes October at start-up; wait until the checkpoint covers that report.
    let index = report_index(&server, "api").await;
    checkpoint_of_size(&server, index + 1).await;
    let key = get(&server, "/log/key").await.text().await.unwrap();
    let key = key.trim();
    let state = tempfile::tempdir().unwrap();

    // 1. The log, the recorded report and the API agree.
    let ok = verify_uptime(
        &server,
        key,
        state.path(),
        &["--uptime", "api", "--period", "2026-10"],
    );
    assert!(ok.status.success(), "{}\n{}", ok.stdout, ok.stderr);
    let api: serde_json::Value = get(&server, "/api/v1/sla/api/2026-10")
        .await
        .json()
        .await
        .unwrap();
    let shown = api["uptime_percent"].as_str().unwrap().to_owned();
    assert!(ok.stdout.contains(&format!("{shown} %")), "{}", ok.stdout);
    assert!(
        ok.stdout.contains(&format!(
            "the sla.report at log index {index} and the API agree"
        )),
        "{}",
        ok.stdout
    );
    assert!(
        ok.stdout.contains(&format!("#{index} (original)")),
        "{}",
        ok.stdout
    );
    // 45 minutes of major outage, and 1 hour of partial outage counted only with incidents.
    let downtime = api["weighted_downtime_permille_seconds"].as_i64().unwrap();
    assert!(downtime >= 45 * 60 * 1000, "{api}");
    assert_eq!(api["insufficient_data"], false, "{api}");

    // 2. A forged API figure fails, naming the field and both values.
    let mut forged = api.clone();
    let real_ppb = api["uptime_ppb"].as_u64().unwrap();
    forged["uptime_ppb"] = serde_json::json!(999_990_000u64);
    let fake = fake_api(forged.to_string()).await;
    let bad = verify_uptime(
        &server,
        key,
        state.path(),
        &["--uptime", "api", "--period", "2026-10", "--api", &fake],
    );
    assert_eq!(bad.status.code(), Some(1), "{}\n{}", bad.stdout, bad.stderr);
    assert!(
        bad.stderr.contains("VERIFICATION FAILED")
            && bad.stderr.contains(&format!(
                "uptime_ppb: recomputed {real_ppb}, but the API ({fake}/api/v1/sla/api/2026-10) says 999990000"
            )),
        "{}",
        bad.stderr
    );

    // 3. A forged report recorded in the log (an amendment the figures do not support) fails
    //    too, and the amendment chain is shown.
    let store = Store::open(&Database::Sqlite(server.data_dir.join("candor.db")))
        .await
        .unwrap();
    let mut lie = api.clone();
    lie["credit_percent"] = serde_json::json!(0);
    lie["weighted_downtime_permille_seconds"] = serde_json::json!(0);
    let amendment = store
        .record_sla_report(
            "api",
            "2026-10",
            &lie.to_string(),
            Some(index),
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    store.close().await;
    checkpoint_of_size(&server, amendment.log_index + 1).await;
    let lied = verify_uptime(
        &server,
        key,
        state.path(),
        &["--uptime", "api", "--period", "2026-10"],
    );
    assert_eq!(
        lied.status.code(),
        Some(1),
        "{}\n{}",
        lied.stdout,
        lied.stderr
    );
    assert!(
        lied.stderr.contains(&format!(
            "weighted_downtime_permille_seconds: recomputed {downtime}, but the sla.report at log index {} says 0",
            amendment.log_index
        )),
        "{}",
        lied.stderr
    );
    assert!(
        lied.stderr.contains(&format!(
            "#{index} (original) -> #{} (amends #{index})",
            amendment.log_index
        )),
        "{}",
        lied.stderr
    );

    // 4. A component without data reads "insufficient data", never 100 %.
    let none = verify_uptime(
        &server,
        key,
        state.path(),
        &["--uptime", "web", "--period", "2026-10"],
    );
    assert!(none.status.success(), "{}\n{}", none.stdout, none.stderr);
    assert!(none.stdout.contains("insufficient data"), "{}", none.stdout);
    assert!(!none.stdout.contains("100.000"), "{}", none.stdout);

    // 5. An open period cannot be checked yet, and says why.
    let open = verify_uptime(
        &server,
        key,
        state.path(),
        &["--uptime", "api", "--period", "2026-11"],
    );
    assert_eq!(
        open.status.code(),
        Some(2),
        "{}\n{}",
        open.stdout,
        open.stderr
    );
    assert!(open.stderr.contains("is not over"), "{}", open.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_agrees_in_a_named_zone_under_the_user_minute_formula() {
    let site = tiny_site();
    let config = std::fs::read_to_string(site.path().join("candor.toml")).unwrap();
    write(
        site.path(),
        "candor.toml",
        &format!(
            "{config}{STATUS_CONFIG}\n[[sla]]\nid = \"per-user\"\ndowntime_source = \"both\"\ntime_zone = \"Europe/Berlin\"\nusers = {{ api = 1200 }}\n"
        ),
    );
    seed_with(&site.path().join("data"), Some(300)).await;
    let server = Server::start(site.path(), &[]).await;
    let index = report_index(&server, "api").await;
    checkpoint_of_size(&server, index + 1).await;
    let key = get(&server, "/log/key").await.text().await.unwrap();
    let state = tempfile::tempdir().unwrap();

    let api: serde_json::Value = get(&server, "/api/v1/sla/api/2026-10")
        .await
        .json()
        .await
        .unwrap();
    // October in Berlin: local midnight to local midnight, 745 hours.
    assert_eq!(api["time_zone"], "Europe/Berlin", "{api}");
    assert_eq!(api["start"], "2026-09-30T22:00:00Z", "{api}");
    assert_eq!(api["end"], "2026-10-31T23:00:00Z", "{api}");
    // 45 minutes of major outage from probes (all 1,200 users) and an hour with 300 affected.
    assert_eq!(api["formula"], "user_minutes", "{api}");
    assert_eq!(api["users"], 1200);
    assert_eq!(
        api["weighted_downtime_permille_user_seconds"],
        (45 * 60 * 1200 + 3_600 * 300) * 1000i64
    );

    let ok = verify_uptime(
        &server,
        key.trim(),
        state.path(),
        &["--uptime", "api", "--period", "2026-10"],
    );
    assert!(ok.status.success(), "{}\n{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("(Europe/Berlin)"), "{}", ok.stdout);
    // `candor sla` says which formula it applied: 45 min × 1,200 + 60 min × 300 user-minutes
    // down, of (745 h − 2 h of maintenance) × 1,200.
    let cfg = site.path().join("candor.toml");
    let table = candor(
        &[
            "sla",
            "--config",
            cfg.to_str().unwrap(),
            "--data-dir",
            server.data_dir.to_str().unwrap(),
            "--period",
            "2026-10",
            "--component",
            "api",
        ],
        &[],
    );
    assert!(table.status.success(), "{}", table.stderr);
    assert!(
        table.stdout.contains("Periods are cut in Europe/Berlin")
            && table.stdout.contains(
                "api: user-minute formula, 1200 users: 72000.0 of 53496000.0 user-minutes down"
            ),
        "{}",
        table.stdout
    );
    assert!(
        ok.stdout.contains(&format!(
            "the sla.report at log index {index} and the API agree"
        )),
        "{}",
        ok.stdout
    );
    // So does the SLA page.
    let page = get(&server, "/status/sla/2026-10")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Periods are cut in Europe/Berlin")
            && page.contains(
                "user-minute formula: 1200 users; 72000.0 of 53496000.0 user-minutes down"
            ),
        "{page}"
    );
}
