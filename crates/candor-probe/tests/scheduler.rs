//! The scheduler on real time and loopback sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use candor_core::SystemClock;
use candor_probe::schedule::phase;
use candor_probe::{Sample, Scheduler, SchedulerOptions};
use support::*;
use tokio::sync::mpsc;

fn scheduler(
    specs: Vec<candor_core::monitor::MonitorSpec>,
    capacity: usize,
) -> (Scheduler, mpsc::Receiver<Sample>) {
    let (sender, receiver) = mpsc::channel(capacity);
    let s = Scheduler::spawn(
        specs,
        sender,
        Arc::new(prober()),
        Arc::new(SystemClock),
        SchedulerOptions::default(),
    );
    (s, receiver)
}

fn tcp_monitors(n: usize, target: std::net::SocketAddr, interval: &str) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[[monitors]]\nid = \"m{i}\"\nkind = \"tcp\"\ntarget = \"{target}\"\ninterval = \"{interval}\"\nallow_private = true\n"
            )
        })
        .collect()
}

#[test]
fn phases_are_stable_and_spread_over_the_interval() {
    let interval = Duration::from_secs(60);
    assert_eq!(phase("api", interval), phase("api", interval));
    let mut per_ten_seconds = [0usize; 6];
    for i in 0..6000 {
        let p = phase(&format!("monitor-{i}"), interval);
        assert!(p < interval);
        per_ten_seconds[(p.as_secs() / 10) as usize] += 1;
    }
    // 1000 expected per slice; a hash bunching them up would fail this.
    assert!(
        per_ten_seconds.iter().all(|&n| (850..1150).contains(&n)),
        "{per_ten_seconds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_rate_does_not_drift_by_the_probe_duration() {
    // Each probe takes ~400 ms; with an interval of 1 s, starts stay 1 s apart (not 1.4 s).
    let server = http_server("127.0.0.1", |_| {
        Reply::After(Duration::from_millis(400), Box::new(ok("ok")))
    })
    .await;
    let spec = spec(&format!(
        "kind = \"http\"\nurl = \"{}\"\ninterval = \"1s\"\ntimeout = \"900ms\"\nallow_private = true",
        server.url("/")
    ));
    let (s, mut samples) = scheduler(vec![spec], 16);
    let mut starts = Vec::new();
    while starts.len() < 4 {
        let sample = tokio::time::timeout(Duration::from_secs(5), samples.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(sample.latency_ms >= 400, "{sample:?}");
        starts.push(sample.started_at);
    }
    for pair in starts.windows(2) {
        let gap = (pair[1] - pair[0]).whole_milliseconds();
        assert!((950..1100).contains(&gap), "gap {gap} ms: {starts:?}");
    }
    let slip = s.slip_snapshot();
    assert!(
        slip.count >= 4 && slip.p99 < Duration::from_millis(100),
        "{slip:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_monitors_each_run_once_per_interval() {
    let server = http_server("127.0.0.1", |_| ok("")).await;
    let (s, mut samples) = scheduler(specs(&tcp_monitors(50, server.addr, "1s")), 1024);
    tokio::time::sleep(Duration::from_millis(3_050)).await;
    drop(s);
    let mut per_monitor: HashMap<String, usize> = HashMap::new();
    while let Ok(sample) = samples.try_recv() {
        *per_monitor.entry(sample.monitor_id).or_default() += 1;
    }
    assert_eq!(per_monitor.len(), 50);
    // 3 s at 1 s per run: each monitor ran 3 times (or 4 if its phase is ~0).
    assert!(
        per_monitor.values().all(|&n| (3..=4).contains(&n)),
        "{per_monitor:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_still_in_flight_makes_its_next_run_skip_not_queue() {
    let server = http_server("127.0.0.1", |_| ok("")).await;
    // The receiver does not read: the second probe waits to hand its sample over and stays in
    // flight; the following runs are skipped and counted, not queued up behind it.
    let (s, mut samples) = scheduler(specs(&tcp_monitors(1, server.addr, "1s")), 1);
    tokio::time::sleep(Duration::from_millis(4_200)).await;
    assert!(s.skipped() >= 2, "skipped {}", s.skipped());
    assert_eq!(s.started(), 2);
    // Reading releases it; the schedule goes on at its own pace.
    assert!(samples.recv().await.is_some());
    assert!(samples.recv().await.is_some());
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_swaps_the_monitor_set_and_drop_stops_everything() {
    let server = http_server("127.0.0.1", |_| ok("")).await;
    let (s, mut samples) = scheduler(specs(&tcp_monitors(3, server.addr, "1s")), 1024);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let text = format!(
        "[[monitors]]\nid = \"new\"\nkind = \"tcp\"\ntarget = \"{}\"\ninterval = \"1s\"\nallow_private = true\n",
        server.addr
    );
    s.replace(specs(&text));
    while samples.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let mut ids = Vec::new();
    while let Ok(sample) = samples.try_recv() {
        ids.push(sample.monitor_id);
    }
    assert!(
        !ids.is_empty() && ids.iter().all(|id| id == "new"),
        "{ids:?}"
    );
    s.shutdown().await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(
        samples.recv().await.is_none(),
        "no sender left after shutdown"
    );
}
