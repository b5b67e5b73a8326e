//! What a year of probing leaves in the SQLite status store, how fast samples go in, and how fast
//! the SLA engine's reads are.
//!
//! ```sh
//! cargo bench -p candor --bench status_store
//! MONITORS=1000 SUBSET=10 COMPONENTS=100 ROUNDS=3 BATCHES=10 cargo bench -p candor --bench status_store
//! ```
//!
//! One database file (WAL, `synchronous=FULL`, as `candor serve` opens it) is filled directly
//! with what one year (2025) of one-minute samples of `MONITORS` monitors leaves behind under
//! the default retention, written in time order across monitors as the real writer does (so the
//! B-trees split as they do in production):
//!
//! - hour and day rollups of every monitor for the whole year;
//! - status intervals of every monitor and of `COMPONENTS` components for the year: three outages
//!   per subject-month (5 to 60 minutes, alternating degraded, partial and major), each closed
//!   interval with its `status.interval` log entry (log tiles, 32 bytes per entry, not counted);
//! - one two-hour maintenance window per component-month, announced a week ahead through
//!   `StatusStore::schedule_maintenance` (so with its `maintenance.record` entry);
//! - raw samples for the last 30 days and minute rollups for the last 90 days, for `SUBSET`
//!   monitors only (a full year of 1,000 monitors would take too long to synthesise): their
//!   bytes are measured separately and extrapolated linearly to `MONITORS`.
//!
//! Bytes are the database file plus its WAL after `wal_checkpoint(TRUNCATE)`. Monitor ids are 16
//! characters (`probe-0001-https`).
//!
//! Then, on that database:
//!
//! - **insert**: `StatusStore::record_samples` in batches of 10,000 samples (every monitor, ten
//!   minutes), each folding into the minute, hour and day rollups in its transaction, against a
//!   baseline of the same rows written with multi-row `INSERT`s (1,000 rows per statement, one
//!   transaction per batch) into a table like `status_samples` without rollups, in a fresh file
//!   with the same settings. Rounds alternate the order; figures are medians.
//! - **SLA read**: for 100 random (component, month) pairs of 2025, the time to fetch the
//!   component's intervals and the month's maintenance windows (what the SLA engine reads), and
//!   the whole report (reads plus `candor_core::sla::compute`), p50 and p99. Target: the whole
//!   report under 100 ms; the benchmark exits 1 when p99 misses it.
//!
//! Files go to `BENCH_TMPDIR` (default: cargo's target/tmp).

// A benchmark binary, not library code: a failed setup or a wrong result should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candor_core::config::Database;
use candor_core::status::{ComponentStatus, SampleOutcome, SampleRecord, Subject};
use candor_store::Store;
use candor_store::status::{NewMaintenance, StatusStore};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite};
use time::macros::datetime;
use time::{OffsetDateTime, UtcOffset};

const YEAR_START: OffsetDateTime = datetime!(2025-01-01 0:00 UTC);
const DAYS: i64 = 365;
const DAY_MS: i64 = 86_400_000;
const BATCH: usize = 10_000;
const SLA_TARGET: Duration = Duration::from_millis(100);

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

fn ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap()
}

fn monitor_id(i: usize) -> String {
    format!("probe-{i:04}-https")
}

fn component_id(i: usize) -> String {
    format!("component-{i:03}")
}

/// A small deterministic generator (SplitMix64), so that runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

async fn pool(path: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap()
}

/// Database plus WAL, after a truncating checkpoint.
async fn bytes_on_disk(path: &Path) -> u64 {
    let p = pool(path).await;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&p)
        .await
        .unwrap();
    p.close().await;
    let size = |p: PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    size(path.to_path_buf()) + size(path.with_extension("db-wal"))
}

/// A deterministic hash of (step, monitor) in SQL, for varied but reproducible values.
const H: &str = "(((n + $1) * 2654435761 + i * 40503) % 1000003)";

async fn synthesise_rollups(p: &SqlitePool, monitors: usize) {
    // Hour rollups, a day (24 × monitors rows) per statement, in time order across monitors.
    for day in 0..DAYS {
        let sql = format!(
            "WITH RECURSIVE t(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM t WHERE n < 23),
                            m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < {last})
             INSERT INTO status_rollups_hour (monitor_id, bucket_start_ms, up, degraded, down, in_maintenance, latency_sum_ms, latency_max_ms)
             SELECT printf('probe-%04d-https', i), $2 + n * 3600000,
                    60 - (CASE WHEN {H} % 100 = 0 THEN 1 + {H} % 30 ELSE 0 END) - (CASE WHEN {H} % 100 = 1 THEN 1 + {H} % 5 ELSE 0 END),
                    CASE WHEN {H} % 100 = 1 THEN 1 + {H} % 5 ELSE 0 END,
                    CASE WHEN {H} % 100 = 0 THEN 1 + {H} % 30 ELSE 0 END,
                    0, 60 * (40 + {H} % 150), 150 + {H} % 3000
             FROM t, m ORDER BY n, i",
            last = monitors - 1
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(day * 24)
            .bind(ms(YEAR_START) + day * DAY_MS)
            .execute(p)
            .await
            .unwrap();
    }
    let sql = format!(
        "WITH RECURSIVE t(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM t WHERE n < {days}),
                        m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < {last})
         INSERT INTO status_rollups_day (monitor_id, bucket_start_ms, up, degraded, down, in_maintenance, latency_sum_ms, latency_max_ms)
         SELECT printf('probe-%04d-https', i), $2 + n * 86400000,
                1440 - {H} % 40, {H} % 30, {H} % 10, 0, 1440 * (40 + {H} % 150), 1000 + {H} % 9000
         FROM t, m ORDER BY n, i",
        days = DAYS - 1,
        last = monitors - 1
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(0i64)
        .bind(ms(YEAR_START))
        .execute(p)
        .await
        .unwrap();
}

async fn synthesise_samples(p: &SqlitePool, subset: usize) {
    for day in DAYS - 30..DAYS {
        let sql = format!(
            "WITH RECURSIVE t(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM t WHERE n < 1439),
                            m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < {last})
             INSERT INTO status_samples (monitor_id, at_ms, outcome, latency_ms, in_maintenance, error)
             SELECT printf('probe-%04d-https', i), $2 + n * 60000 + i * 37,
                    CASE WHEN {H} % 500 = 0 THEN 'down' WHEN {H} % 50 = 0 THEN 'degraded' ELSE 'up' END,
                    40 + {H} % 200, 0,
                    CASE WHEN {H} % 500 = 0 THEN 'connection timed out after 10 s' ELSE NULL END
             FROM t, m ORDER BY n, i",
            last = subset - 1
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(day * 1440)
            .bind(ms(YEAR_START) + day * DAY_MS)
            .execute(p)
            .await
            .unwrap();
    }
}

async fn synthesise_minute_rollups(p: &SqlitePool, subset: usize) {
    for day in DAYS - 90..DAYS {
        let sql = format!(
            "WITH RECURSIVE t(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM t WHERE n < 1439),
                            m(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM m WHERE i < {last})
             INSERT INTO status_rollups_minute (monitor_id, bucket_start_ms, up, degraded, down, in_maintenance, latency_sum_ms, latency_max_ms)
             SELECT printf('probe-%04d-https', i), $2 + n * 60000,
                    CASE WHEN {H} % 50 = 0 THEN 0 ELSE 1 END,
                    CASE WHEN {H} % 50 = 0 AND {H} % 500 <> 0 THEN 1 ELSE 0 END,
                    CASE WHEN {H} % 500 = 0 THEN 1 ELSE 0 END,
                    0, 40 + {H} % 200, 40 + {H} % 200
             FROM t, m ORDER BY n, i",
            last = subset - 1
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(day * 1440)
            .bind(ms(YEAR_START) + day * DAY_MS)
            .execute(p)
            .await
            .unwrap();
    }
}

/// One closed or open interval: (subject, status, start ms, end ms).
type Span = (Subject, ComponentStatus, i64, Option<i64>);

/// A year of intervals for each subject: three outages a month, between them operational.
fn intervals_for(subjects: &[Subject], rng: &mut Rng) -> Vec<Span> {
    let troubles = [
        ComponentStatus::DegradedPerformance,
        ComponentStatus::PartialOutage,
        ComponentStatus::MajorOutage,
    ];
    let mut spans = Vec::new();
    for subject in subjects {
        let mut outages: Vec<i64> = (0..36)
            .map(|k| {
                let month = k / 3;
                ms(YEAR_START) + month * 30 * DAY_MS + (rng.below(29 * 86_400) as i64) * 1_000
            })
            .collect();
        outages.sort_unstable();
        let mut cursor = ms(YEAR_START);
        for start in outages {
            if start <= cursor {
                continue;
            }
            let end = start + (5 + rng.below(56) as i64) * 60_000;
            spans.push((
                subject.clone(),
                ComponentStatus::Operational,
                cursor,
                Some(start),
            ));
            let status = troubles[rng.below(3) as usize];
            spans.push((subject.clone(), status, start, Some(end)));
            cursor = end;
        }
        spans.push((subject.clone(), ComponentStatus::Operational, cursor, None));
    }
    // Written in the order they closed, as the real writer does (open ones last).
    spans.sort_by_key(|s| s.3.unwrap_or(i64::MAX));
    spans
}

async fn synthesise_intervals(p: &SqlitePool, spans: &[Span]) {
    let mut tx = p.begin().await.unwrap();
    let mut seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq) + 1, 0) FROM log_entries")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    for chunk in spans.chunks(1_000) {
        let mut rows = Vec::with_capacity(chunk.len());
        let mut entries = Vec::new();
        for (subject, status, start, end) in chunk {
            let index = end.map(|end| {
                let entry = candor_core::entries::status_interval(
                    subject,
                    *status,
                    OffsetDateTime::from_unix_timestamp_nanos(i128::from(*start) * 1_000_000)
                        .unwrap(),
                    OffsetDateTime::from_unix_timestamp_nanos(i128::from(end) * 1_000_000).unwrap(),
                )
                .unwrap();
                let leaf = entry.leaf_hash().to_vec();
                entries.push((seq, entry.entry_type, entry.bytes, leaf, end));
                seq += 1;
                seq - 1
            });
            rows.push((subject, status, *start, *end, index));
        }
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO status_intervals (subject_kind, subject_id, status, start_ms, end_ms, last_seen_ms, log_index) ",
        );
        q.push_values(&rows, |mut row, (subject, status, start, end, index)| {
            row.push_bind(subject.kind())
                .push_bind(subject.id())
                .push_bind(status.as_str())
                .push_bind(*start)
                .push_bind(*end)
                .push_bind(end.unwrap_or(*start))
                .push_bind(*index);
        });
        q.build().execute(&mut *tx).await.unwrap();
        if !entries.is_empty() {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO log_entries (seq, entry_type, entry, leaf_hash, recorded_at_ms) ",
            );
            q.push_values(&entries, |mut row, (seq, kind, bytes, leaf, at)| {
                row.push_bind(*seq)
                    .push_bind(*kind)
                    .push_bind(bytes.as_slice())
                    .push_bind(leaf.as_slice())
                    .push_bind(*at);
            });
            q.build().execute(&mut *tx).await.unwrap();
        }
    }
    tx.commit().await.unwrap();
}

async fn schedule_maintenances(store: &Store, components: usize) -> usize {
    let mut n = 0;
    for month in 1..=12u8 {
        for c in 0..components {
            let day = 3 + (c % 20) as u8;
            let month = time::Month::try_from(month).unwrap();
            let from = time::Date::from_calendar_date(2025, month, day)
                .unwrap()
                .with_hms(2, 0, 0)
                .unwrap()
                .assume_offset(UtcOffset::UTC);
            let window = NewMaintenance {
                name: format!("Upgrade {}", component_id(c)),
                body: "Rolling upgrade of the database cluster; short failovers are expected."
                    .into(),
                components: vec![component_id(c)],
                scheduled_for: from,
                scheduled_until: from + time::Duration::hours(2),
            };
            store
                .schedule_maintenance(&window, from - time::Duration::days(7), None)
                .await
                .unwrap();
            n += 1;
        }
    }
    n
}

/// The samples of batch `k` after the synthesised year: every monitor, ten minutes.
fn batch(k: usize, monitors: usize, rng: &mut Rng) -> Vec<SampleRecord> {
    let minutes = BATCH / monitors;
    let start = ms(YEAR_START) + DAYS * DAY_MS + (k * minutes) as i64 * 60_000;
    let mut out = Vec::with_capacity(BATCH);
    for minute in 0..minutes {
        for i in 0..monitors {
            let roll = rng.below(1_000);
            let outcome = match roll {
                0..=1 => SampleOutcome::Down,
                2..=20 => SampleOutcome::Degraded,
                _ => SampleOutcome::Up,
            };
            out.push(SampleRecord {
                monitor_id: monitor_id(i),
                at: OffsetDateTime::from_unix_timestamp_nanos(
                    i128::from(start + minute as i64 * 60_000 + i as i64 * 37) * 1_000_000,
                )
                .unwrap(),
                outcome,
                latency_ms: 40 + (roll % 200) as u32,
                in_maintenance: false,
                error: (outcome == SampleOutcome::Down)
                    .then(|| "connection timed out after 10 s".to_owned()),
            });
        }
    }
    out
}

async fn run_store(store: &Store, batches: &[Vec<SampleRecord>]) -> f64 {
    let start = Instant::now();
    for b in batches {
        store.record_samples(b).await.unwrap();
    }
    (batches.len() * BATCH) as f64 / start.elapsed().as_secs_f64()
}

async fn run_plain(p: &SqlitePool, batches: &[Vec<SampleRecord>]) -> f64 {
    let start = Instant::now();
    for b in batches {
        let mut tx = p.begin_with("BEGIN IMMEDIATE").await.unwrap();
        for chunk in b.chunks(1_000) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO plain_samples (monitor_id, at_ms, outcome, latency_ms, in_maintenance, error) ",
            );
            q.push_values(chunk, |mut row, s| {
                row.push_bind(s.monitor_id.as_str())
                    .push_bind(ms(s.at))
                    .push_bind(s.outcome.as_str())
                    .push_bind(i64::from(s.latency_ms))
                    .push_bind(s.in_maintenance)
                    .push_bind(s.error.as_deref());
            });
            q.build().execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    (batches.len() * BATCH) as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / 1_048_576.0)
}

async fn sla_reads(
    store: &Store,
    components: usize,
    rng: &mut Rng,
) -> (Vec<Duration>, Vec<Duration>) {
    use candor_core::sla::{Interval, Period, Policy, compute};
    let policy = Policy::default();
    let mut reads = Vec::new();
    let mut reports = Vec::new();
    for _ in 0..100 {
        let c = component_id(rng.below(components as u64) as usize);
        let month = 1 + rng.below(12);
        let period = Period::parse(&format!("2025-{month:02}")).unwrap();
        let start = Instant::now();
        let intervals = store
            .intervals(&Subject::Component(c.clone()), period.start, period.end)
            .await
            .unwrap();
        let windows: Vec<_> = store
            .maintenances(period.start, period.end)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.components.contains(&c) && m.announced_in_advance())
            .collect();
        reads.push(start.elapsed());
        let observed: Vec<Interval> = intervals
            .iter()
            .filter_map(|i| {
                Some(Interval {
                    start: i.start,
                    end: i.end.unwrap_or(period.end),
                    impact: i.status.impact()?,
                    users_affected: None,
                })
            })
            .collect();
        let holes: Vec<_> = windows
            .iter()
            .map(|m| (m.scheduled_for, m.effective_end()))
            .collect();
        let report = compute(period, &observed, &holes, &policy);
        std::hint::black_box(report);
        reports.push(start.elapsed());
        assert!(
            !intervals.is_empty(),
            "{c} 2025-{month:02} has no intervals"
        );
    }
    reads.sort_unstable();
    reports.sort_unstable();
    (reads, reports)
}

async fn bench() -> bool {
    let monitors: usize = env_or("MONITORS", 1_000);
    let subset: usize = env_or("SUBSET", 10).min(monitors);
    let components: usize = env_or("COMPONENTS", 100);
    let rounds: usize = env_or("ROUNDS", 3);
    let batches_per_round: usize = env_or("BATCHES", 10);
    assert!(
        BATCH.is_multiple_of(monitors),
        "MONITORS must divide 10,000"
    );
    let dir = tempfile::tempdir_in({
        let d = bench_dir();
        std::fs::create_dir_all(&d).unwrap();
        d
    })
    .unwrap();
    let path = dir.path().join("candor.db");
    let mut rng = Rng(20_251_231);

    // ---- a year of history ----
    let clock = Instant::now();
    let store = Store::open(&Database::Sqlite(path.clone())).await.unwrap();
    let maintenances = schedule_maintenances(&store, components).await;
    store.close().await;
    let p = pool(&path).await;
    synthesise_rollups(&p, monitors).await;
    let subjects: Vec<Subject> = (0..monitors)
        .map(|i| Subject::Monitor(monitor_id(i)))
        .chain((0..components).map(|c| Subject::Component(component_id(c))))
        .collect();
    let spans = intervals_for(&subjects, &mut rng);
    synthesise_intervals(&p, &spans).await;
    p.close().await;
    let year = bytes_on_disk(&path).await;
    let p = pool(&path).await;
    synthesise_samples(&p, subset).await;
    p.close().await;
    let with_samples = bytes_on_disk(&path).await;
    let p = pool(&path).await;
    synthesise_minute_rollups(&p, subset).await;
    p.close().await;
    let with_minutes = bytes_on_disk(&path).await;
    let scale = monitors as f64 / subset as f64;
    let samples_bytes = (with_samples - year) as f64 * scale;
    let minutes_bytes = (with_minutes - with_samples) as f64 * scale;
    let total = year as f64 + samples_bytes + minutes_bytes;
    println!(
        "synthesised in {:.0} s: {monitors} monitors, {components} components, {} intervals, {maintenances} maintenance windows; raw samples and minute rollups for {subset} monitors",
        clock.elapsed().as_secs_f64(),
        spans.len()
    );
    println!(
        "bytes on disk: hour+day rollups, intervals, maintenance and their entries {} (measured); raw samples (30 d) {} and minute rollups (90 d) {} (extrapolated ×{scale:.0}); total {}",
        mib(year as f64),
        mib(samples_bytes),
        mib(minutes_bytes),
        mib(total)
    );
    println!(
        "per monitor-year: {:.0} KiB (history {:.0} KiB, raw samples {:.0} KiB, minute rollups {:.0} KiB)",
        total / monitors as f64 / 1024.0,
        year as f64 / monitors as f64 / 1024.0,
        samples_bytes / monitors as f64 / 1024.0,
        minutes_bytes / monitors as f64 / 1024.0
    );

    // ---- insert throughput ----
    let plain_path = dir.path().join("plain.db");
    let plain = pool(&plain_path).await;
    sqlx::query(
        "CREATE TABLE plain_samples (monitor_id TEXT NOT NULL, at_ms INTEGER NOT NULL, outcome TEXT NOT NULL,
         latency_ms INTEGER NOT NULL, in_maintenance INTEGER NOT NULL, error TEXT, PRIMARY KEY (monitor_id, at_ms)) WITHOUT ROWID",
    )
    .execute(&plain)
    .await
    .unwrap();
    let store = Store::open(&Database::Sqlite(path.clone())).await.unwrap();
    let (mut store_rates, mut plain_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let batches: Vec<Vec<SampleRecord>> = (0..batches_per_round)
            .map(|k| batch(round * batches_per_round + k, monitors, &mut rng))
            .collect();
        let (s, b) = if round % 2 == 0 {
            let s = run_store(&store, &batches).await;
            (s, run_plain(&plain, &batches).await)
        } else {
            let b = run_plain(&plain, &batches).await;
            (run_store(&store, &batches).await, b)
        };
        println!("round {round}: record_samples {s:.0} samples/s, plain INSERT {b:.0} samples/s");
        store_rates.push(s);
        plain_rates.push(b);
        ratios.push(s / b);
    }
    plain.close().await;
    println!(
        "insert (10,000-sample batches, median of {rounds}): record_samples {:.0} samples/s, plain multi-row INSERT {:.0} samples/s, ratio {:.2}",
        median(store_rates),
        median(plain_rates),
        median(ratios)
    );
    store.close().await;

    // ---- what the SLA engine reads ----
    let store = Store::open(&Database::Sqlite(path.clone())).await.unwrap();
    let (reads, reports) = sla_reads(&store, components, &mut rng).await;
    store.close().await;
    let millis = |d: Duration| d.as_secs_f64() * 1_000.0;
    println!(
        "SLA month (100 random component-months): store reads p50 {:.2} ms, p99 {:.2} ms; whole report p50 {:.2} ms, p99 {:.2} ms (target < {} ms)",
        millis(percentile(&reads, 0.5)),
        millis(percentile(&reads, 0.99)),
        millis(percentile(&reports, 0.5)),
        millis(percentile(&reports, 0.99)),
        SLA_TARGET.as_millis()
    );
    percentile(&reports, 0.99) < SLA_TARGET
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let ok = runtime.block_on(async { tokio::spawn(bench()).await.unwrap() });
    if !ok {
        std::process::exit(1);
    }
}
