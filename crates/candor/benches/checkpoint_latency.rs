//! Time from an acknowledged append to its inclusion in a signed checkpoint, with Candor's real
//! `LogService` (integrate-and-sign loop) on SQLite while a writer appends at a steady rate.
//!
//! ```sh
//! cargo bench -p candor --bench checkpoint_latency
//! SCENARIOS=10x16,20x256,10x1024 DURATION=20 cargo bench -p candor --bench checkpoint_latency
//! ```
//!
//! A scenario `RxB` appends `R` batches per second of `B` changed pages each through
//! `ContentRevisions::record_revisions` (one transaction, one log entry per page), calls
//! `LogService::wake` after each, for `DURATION` seconds. A poller reads `LogService::latest`
//! every `POLL_MS` milliseconds and notes when each new checkpoint size first appears. A batch's
//! latency runs from the moment its `record_revisions` returned (acknowledged, committed with
//! `synchronous=FULL`) to the first checkpoint whose size covers its last entry. Exits 1 when
//! p99 is 2 s or more. See docs/BENCHMARKS.md.

// A benchmark binary, not library code: a failed setup or a wrong result should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candor_core::SystemClock;
use candor_core::config::Database;
use candor_store::{ContentRevisions, LogStore, PageDigest, Store};
use candor_tlog::Ed25519NoteSigner;
use candor_web::log::LogService;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

const PAGES: u64 = 8192;
const MAX_P99: Duration = Duration::from_secs(2);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bench_dir() -> PathBuf {
    std::env::var_os("BENCH_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")))
}

fn digest(i: u64) -> PageDigest {
    let hash = Sha256::digest(i.to_le_bytes());
    PageDigest {
        page_path: format!("/bench/page-{}", i % PAGES),
        title: format!("Bench page {}", i % PAGES),
        content_sha256: hash.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

struct Outcome {
    rate: u32,
    batch: usize,
    batches: usize,
    entries: u64,
    checkpoints: usize,
    /// Longest time between two new checkpoints while the writer ran.
    longest_gap: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
    append_p50: Duration,
    append_max: Duration,
}

async fn scenario(rate: u32, batch: usize, duration: Duration, poll: Duration) -> Outcome {
    let dir = tempfile::Builder::new()
        .prefix("candor-checkpoint-bench-")
        .tempdir_in(bench_dir())
        .unwrap();
    let store = Store::open(&Database::Sqlite(dir.path().join("candor.db")))
        .await
        .unwrap();
    let origin = "bench.example/log".to_owned();
    let signer = Ed25519NoteSigner::generate(&origin).unwrap();
    let log = LogService::open(
        store.clone(),
        Arc::new(SystemClock),
        origin,
        signer,
        dir.path().join("log-signing.key.checkpoint"),
    )
    .await
    .unwrap();
    log.spawn();

    // The poller: (checkpoint size, first seen).
    let seen: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (log, seen, stop) = (log.clone(), seen.clone(), stop.clone());
        tokio::spawn(async move {
            let mut last = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(latest) = log.latest()
                    && latest.size > last
                {
                    last = latest.size;
                    seen.lock().unwrap().push((last, Instant::now()));
                }
                tokio::time::sleep(poll).await;
            }
        })
    };

    // The writer: (entries sequenced after this batch, acknowledged at).
    let mut acks: Vec<(u64, Instant)> = vec![];
    let mut append_times = vec![];
    let mut next = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate);
    let start = Instant::now();
    while start.elapsed() < duration {
        ticker.tick().await;
        let digests: Vec<PageDigest> = (next..next + batch as u64).map(digest).collect();
        let began = Instant::now();
        store
            .record_revisions(&digests, OffsetDateTime::now_utc())
            .await
            .unwrap();
        let acked = Instant::now();
        log.wake();
        next += batch as u64;
        acks.push((next, acked));
        append_times.push(acked - began);
    }
    // Wait (bounded) for the last batch to be signed.
    let deadline = Instant::now() + Duration::from_secs(15);
    while log.latest().is_none_or(|l| l.size < next) && Instant::now() < deadline {
        tokio::time::sleep(poll).await;
    }
    tokio::time::sleep(poll * 2).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    poller.await.unwrap();
    assert_eq!(store.sequenced_size().await.unwrap(), next);

    let seen = seen.lock().unwrap().clone();
    let writer_end = acks.last().map_or(start, |&(_, at)| at);
    let mut marks: Vec<Instant> = vec![start];
    marks.extend(
        seen.iter()
            .map(|&(_, at)| at)
            .filter(|&at| at <= writer_end),
    );
    marks.push(writer_end);
    let longest_gap = marks
        .windows(2)
        .map(|w| w[1].saturating_duration_since(w[0]))
        .max()
        .unwrap_or_default();
    let mut latencies: Vec<Duration> = acks
        .iter()
        .map(|&(size, acked)| {
            let (_, at) = seen
                .iter()
                .find(|(s, _)| *s >= size)
                .unwrap_or_else(|| panic!("no checkpoint covered size {size} within 15 s"));
            // A checkpoint can appear before the writer task gets its acknowledgement back.
            at.saturating_duration_since(acked)
        })
        .collect();
    latencies.sort();
    append_times.sort();
    store.close().await;
    Outcome {
        rate,
        batch,
        batches: acks.len(),
        entries: next,
        checkpoints: seen.len(),
        longest_gap,
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
        max: latencies.last().copied().unwrap_or_default(),
        append_p50: percentile(&append_times, 50.0),
        append_max: append_times.last().copied().unwrap_or_default(),
    }
}

async fn bench() -> bool {
    let duration = Duration::from_secs_f64(env_or("DURATION", 20.0));
    let poll = Duration::from_millis(env_or("POLL_MS", 2));
    let scenarios: Vec<(u32, usize)> = std::env::var("SCENARIOS")
        .unwrap_or_else(|_| "10x16,20x256,10x1024".into())
        .split(',')
        .filter_map(|s| {
            let (r, b) = s.trim().split_once('x')?;
            Some((r.parse().ok()?, b.parse().ok()?))
        })
        .filter(|&(r, b)| r > 0 && b > 0 && b as u64 <= PAGES)
        .collect();
    std::fs::create_dir_all(bench_dir()).unwrap();
    println!(
        "checkpoint latency bench: DURATION={}s POLL_MS={} SCENARIOS={scenarios:?} (batches/s x entries/batch)",
        duration.as_secs_f64(),
        poll.as_millis()
    );
    let mut ok = true;
    let mut outcomes = vec![];
    for &(rate, batch) in &scenarios {
        let o = scenario(rate, batch, duration, poll).await;
        ok &= o.p99 < MAX_P99;
        outcomes.push(o);
    }
    println!();
    println!(
        "| batches/s × entries | batches | entries | checkpoints | longest gap between checkpoints | p50 | p99 | max | append (commit) p50 / max |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for o in &outcomes {
        println!(
            "| {} × {} | {} | {} | {} | {} | {} | {} | {} | {} / {} |",
            o.rate,
            o.batch,
            o.batches,
            o.entries,
            o.checkpoints,
            ms(o.longest_gap),
            ms(o.p50),
            ms(o.p99),
            ms(o.max),
            ms(o.append_p50),
            ms(o.append_max)
        );
    }
    println!();
    println!(
        "target: p99 append-to-checkpoint < {} -> {}",
        ms(MAX_P99),
        if ok { "met" } else { "MISSED" }
    );
    ok
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // On a worker thread, as `candor serve` calls the store.
    let ok = runtime.block_on(async { tokio::spawn(bench()).await.unwrap() });
    if !ok {
        std::process::exit(1);
    }
}
