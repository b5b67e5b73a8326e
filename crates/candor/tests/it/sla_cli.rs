//! `candor sla`: the month's report from the database, in the three formats, equal to what the
//! server publishes; clear errors for bad periods and unknown components.

use crate::support::{Server, candor, client, tiny_site, write};
use crate::verify_uptime::{STATUS_CONFIG, seed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candor_sla_reports_what_the_server_publishes() {
    let dir = tiny_site();
    let config = std::fs::read_to_string(dir.path().join("candor.toml")).unwrap();
    write(
        dir.path(),
        "candor.toml",
        &format!("{config}{STATUS_CONFIG}"),
    );
    let data = dir.path().join("data");
    seed(&data).await;
    let cfg = dir.path().join("candor.toml");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "sla",
            "--config",
            cfg.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--period",
            "2026-10",
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        candor(&refs, &[])
    };

    let json = run(&["--component", "api", "--format", "json"]);
    assert!(json.status.success(), "{}", json.stderr);
    let cli: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(cli["component"], "api");
    assert_eq!(cli["complete"], true);
    assert!(
        cli["weighted_downtime_permille_seconds"].as_i64().unwrap() > 0,
        "{cli}"
    );
    assert!(cli["uptime_ppb"].as_u64().unwrap() < 1_000_000_000, "{cli}");

    let table = run(&[]);
    assert!(table.status.success(), "{}", table.stderr);
    assert!(table.stdout.contains("COMPONENT"), "{}", table.stdout);
    assert!(table.stdout.contains("api"), "{}", table.stdout);
    // `web` has no data in October: it says so rather than claiming 100 %.
    let web_line = table.stdout.lines().find(|l| l.starts_with("web")).unwrap();
    assert!(web_line.contains("insufficient data"), "{web_line}");

    let csv = run(&["--format", "csv"]);
    assert!(csv.status.success(), "{}", csv.stderr);
    assert!(
        csv.stdout.starts_with("component,period,"),
        "{}",
        csv.stdout
    );
    assert_eq!(csv.stdout.lines().count(), 3, "{}", csv.stdout);

    let bad = run(&["--component", "nope"]);
    assert!(!bad.status.success());
    assert!(
        bad.stderr.contains("unknown component \"nope\""),
        "{}",
        bad.stderr
    );
    assert!(bad.stderr.contains("api, web"), "{}", bad.stderr);
    let a = args(&[]);
    let mut refs: Vec<&str> = a.iter().map(String::as_str).collect();
    let at = refs.iter().position(|a| *a == "2026-10").unwrap();
    refs[at] = "2026-13";
    let bad = candor(&refs, &[]);
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("is not a period"), "{}", bad.stderr);

    // The server publishes the same report.
    let server = Server::start_with_data(dir.path(), &data, &[]).await;
    let api: serde_json::Value = client()
        .get(server.url("/api/v1/sla/api/2026-10"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(api, cli);
    server.stop();
}
