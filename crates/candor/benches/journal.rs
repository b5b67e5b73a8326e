//! Durable, acknowledged appends through the journal on SQLite, against raw batched SQLite
//! inserts of the same bytes on the same disk with the same settings, measured in one run.
//!
//! ```sh
//! cargo bench -p candor --bench journal
//! ROUNDS=5 BATCHES=256,1024 ENTRIES=131072 cargo bench -p candor --bench journal
//! ONLY=journal ROUNDS=1 BATCHES=1024 perf record -g target/release/deps/journal-<hash>
//! ```
//!
//! Three ways of writing the same `content.revision` entries, each into a new database file
//! (WAL, `synchronous=FULL`, one writer connection, `BEGIN IMMEDIATE` … `COMMIT` per batch):
//!
//! - **journal**: `ContentRevisions::record_revisions` on Candor's SQLite `Store`, one call per
//!   batch of page digests (each digest changed, so each becomes a revision row plus a log
//!   entry). It reads the latest revision of the batch's pages in one statement and writes with
//!   multi-row `INSERT`s: a constant number of statements per 1,000 pages;
//! - **raw**: the baseline the target is set against — one `INSERT` per entry of the entry bytes
//!   and their leaf hash into a table `(seq INTEGER PRIMARY KEY, entry BLOB, leaf_hash BLOB)`,
//!   through a sqlx pool with the same pragmas;
//! - **raw-multi** (a stricter comparison, no target): the raw table and bytes, one multi-row
//!   `INSERT` per 1,024 entries: about what SQLite itself does with these bytes and commits. The
//!   journal also reads the previous revisions and writes a second row per entry, into a second
//!   table with two more indexes.
//!
//! Entries/s counts acknowledged entries: the clock stops when the last batch's `COMMIT`
//! returned. Each round runs the variants in rotating order on fresh files; figures are medians
//! over `ROUNDS`, and each ratio is the median of the per-round ratios. Files go to
//! `BENCH_TMPDIR` (default: cargo's target/tmp, on the same disk as the build). Exits 1 when a
//! target is missed. See docs/BENCHMARKS.md.

// A benchmark binary, not library code: a failed setup or a wrong result should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candor_core::config::Database;
use candor_core::entries::content_revision;
use candor_store::{ContentRevisions, LogStore, PageDigest, Store};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};
use time::OffsetDateTime;

/// Distinct pages: after the first `PAGES` entries every digest updates an existing page, so the
/// journal's "previous revision" lookup finds a row, as it does for a real trust center.
const PAGES: u64 = 8192;
/// Targets from the issue.
const MIN_RATE: f64 = 20_000.0;
const MIN_RATIO: f64 = 0.5;

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

struct Workload {
    batch: usize,
    at: OffsetDateTime,
    digests: Vec<PageDigest>,
    /// (entry bytes, leaf hash): exactly what the journal writes for `digests` at `at`.
    entries: Vec<(Vec<u8>, [u8; 32])>,
}

impl Workload {
    fn new(batch: usize, count: usize) -> Workload {
        let at = OffsetDateTime::now_utc();
        let digests: Vec<PageDigest> = (0..count as u64).map(digest).collect();
        let entries = digests
            .iter()
            .map(|d| {
                let e = content_revision(&d.page_path, &d.content_sha256, at).unwrap();
                let hash = e.leaf_hash();
                (e.bytes, hash)
            })
            .collect();
        Workload {
            batch,
            at,
            digests,
            entries,
        }
    }
}

/// The same connection settings as `candor_store::sqlite::SqliteStore::open`.
async fn raw_pool(path: &Path) -> SqlitePool {
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

async fn run_journal(dir: &Path, w: &Workload) -> Duration {
    let store = Store::open(&Database::Sqlite(dir.join("candor.db")))
        .await
        .unwrap();
    let start = Instant::now();
    for batch in w.digests.chunks(w.batch) {
        let latest = store.record_revisions(batch, w.at).await.unwrap();
        assert_eq!(latest.len(), batch.len());
    }
    let elapsed = start.elapsed();
    assert_eq!(
        store.sequenced_size().await.unwrap(),
        w.digests.len() as u64
    );
    // Outside the clock: the journal stored exactly the bytes the raw variants write, in order.
    let stored = store.entries(0, w.entries.len() as u64).await.unwrap();
    assert!(
        stored
            .iter()
            .map(|e| (&e.entry, e.leaf_hash))
            .eq(w.entries.iter().map(|(entry, hash)| (entry, *hash))),
        "journal and raw bytes differ"
    );
    store.close().await;
    elapsed
}

async fn run_raw(dir: &Path, w: &Workload) -> Duration {
    let pool = raw_pool(&dir.join("raw.db")).await;
    sqlx::query(
        "CREATE TABLE raw_entries (seq INTEGER PRIMARY KEY, entry BLOB NOT NULL, leaf_hash BLOB NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let start = Instant::now();
    let mut seq = 0i64;
    for batch in w.entries.chunks(w.batch) {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        for (entry, hash) in batch {
            sqlx::query("INSERT INTO raw_entries (seq, entry, leaf_hash) VALUES (?1, ?2, ?3)")
                .bind(seq)
                .bind(entry)
                .bind(&hash[..])
                .execute(&mut *tx)
                .await
                .unwrap();
            seq += 1;
        }
        tx.commit().await.unwrap();
    }
    let elapsed = start.elapsed();
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM raw_entries")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(count, w.entries.len() as i64);
    pool.close().await;
    elapsed
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Journal,
    Raw,
    RawMulti,
}

const VARIANTS: [Variant; 3] = [Variant::Journal, Variant::Raw, Variant::RawMulti];

/// Rows per multi-row `INSERT` (6 bound values a row stays far below SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 1024;

/// raw-multi (a stricter comparison): the raw table, but one multi-row `INSERT` per 1,024 entries
/// instead of one statement per entry. What SQLite itself can do with the same bytes and commits.
async fn run_raw_multi(dir: &Path, w: &Workload) -> Duration {
    let pool = raw_pool(&dir.join("raw-multi.db")).await;
    sqlx::query(
        "CREATE TABLE raw_entries (seq INTEGER PRIMARY KEY, entry BLOB NOT NULL, leaf_hash BLOB NOT NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let start = Instant::now();
    let mut seq = 0i64;
    for batch in w.entries.chunks(w.batch) {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        for rows in batch.chunks(ROWS_PER_STATEMENT) {
            let mut q =
                QueryBuilder::<Sqlite>::new("INSERT INTO raw_entries (seq, entry, leaf_hash) ");
            q.push_values(rows, |mut b, (entry, hash)| {
                b.push_bind(seq)
                    .push_bind(entry.clone())
                    .push_bind(hash.to_vec());
                seq += 1;
            });
            q.build().execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let elapsed = start.elapsed();
    pool.close().await;
    elapsed
}

async fn run(variant: Variant, w: &Workload) -> f64 {
    let dir = tempfile::Builder::new()
        .prefix("candor-journal-bench-")
        .tempdir_in(bench_dir())
        .unwrap();
    let elapsed = match variant {
        Variant::Journal => run_journal(dir.path(), w).await,
        Variant::Raw => run_raw(dir.path(), w).await,
        Variant::RawMulti => run_raw_multi(dir.path(), w).await,
    };
    w.digests.len() as f64 / elapsed.as_secs_f64()
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    }
}

struct Row {
    batch: usize,
    entries: usize,
    /// Median entries/s of each variant, in `VARIANTS` order.
    rates: [f64; 3],
    /// Every round's entries/s, in `VARIANTS` order.
    rounds: [Vec<f64>; 3],
    /// Median of the per-round journal / raw ratios (the target).
    ratio: f64,
    /// Median of the per-round journal / raw-multi ratios (no target; the stricter comparison).
    ratio_multi: f64,
}

const NAMES: [&str; 3] = ["journal", "raw", "raw-multi"];

async fn bench() -> bool {
    let rounds: usize = env_or("ROUNDS", 3);
    let max_entries: usize = env_or("ENTRIES", 65_536);
    let batches: Vec<usize> = std::env::var("BATCHES")
        .unwrap_or_else(|_| "1,16,256,1024,4096".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|&b| b > 0 && b as u64 <= PAGES)
        .collect();
    // ONLY=<variant> runs one variant, for profiling it with perf (no verdict then).
    let only = std::env::var("ONLY")
        .ok()
        .and_then(|o| NAMES.iter().position(|n| *n == o));
    std::fs::create_dir_all(bench_dir()).unwrap();
    println!(
        "journal bench: ROUNDS={rounds} ENTRIES={max_entries} BATCHES={batches:?}, files in {}",
        bench_dir().display()
    );
    let mut rows = vec![];
    for &batch in &batches {
        // Small batches are bound by one fsync per commit: fewer entries keep the run short.
        let count = max_entries.min(batch * 512).max(batch);
        let w = Workload::new(batch, count);
        let mut rates: [Vec<f64>; 3] = Default::default();
        let (mut ratios, mut ratios_multi) = (vec![], vec![]);
        for round in 0..rounds {
            let mut this = [f64::NAN; 3];
            // Rotate the order every round so that no variant always runs first.
            for k in 0..VARIANTS.len() {
                let i = (k + round) % VARIANTS.len();
                if only.is_some_and(|o| o != i) {
                    continue;
                }
                this[i] = run(VARIANTS[i], &w).await;
                rates[i].push(this[i]);
            }
            ratios.push(this[0] / this[1]);
            ratios_multi.push(this[0] / this[2]);
            let line: Vec<String> = NAMES
                .iter()
                .zip(this)
                .map(|(n, r)| format!("{n} {r:.0}/s"))
                .collect();
            eprintln!("  batch {batch} round {}: {}", round + 1, line.join(", "));
        }
        rows.push(Row {
            batch,
            entries: count,
            rates: std::array::from_fn(|i| median(rates[i].clone())),
            rounds: rates,
            ratio: median(ratios.into_iter().filter(|r| r.is_finite()).collect()),
            ratio_multi: median(ratios_multi.into_iter().filter(|r| r.is_finite()).collect()),
        });
    }
    println!();
    println!(
        "| batch | entries per run | journal | raw (baseline) | **journal / raw** | raw-multi | journal / raw-multi |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {:.0} | **{:.2}** | {:.0} | {:.2} |",
            r.batch, r.entries, r.rates[0], r.rates[1], r.ratio, r.rates[2], r.ratio_multi
        );
    }
    println!("(entries/s, medians of {rounds} rounds)");
    println!();
    for r in &rows {
        let rounds: Vec<String> = NAMES
            .iter()
            .zip(&r.rounds)
            .map(|(n, v)| {
                let v: Vec<String> = v.iter().map(|x| format!("{x:.0}")).collect();
                format!("{n} [{}]", v.join(", "))
            })
            .collect();
        println!("batch {} rounds: {}", r.batch, rounds.join("; "));
    }
    if only.is_some() {
        return true;
    }
    // Targets apply "with batching": judge the batch sizes of 256 and more.
    let batched: Vec<&Row> = rows.iter().filter(|r| r.batch >= 256).collect();
    let best_rate = batched.iter().map(|r| r.rates[0]).fold(f64::NAN, f64::max);
    let best_ratio = batched.iter().map(|r| r.ratio).fold(f64::NAN, f64::max);
    let rate_ok = best_rate >= MIN_RATE;
    let ratio_ok = best_ratio >= MIN_RATIO;
    println!();
    println!(
        "target: >= {MIN_RATE:.0} entries/s through the journal with batching (batch >= 256): best {best_rate:.0}/s -> {}",
        if rate_ok { "met" } else { "MISSED" }
    );
    println!(
        "target: journal >= {MIN_RATIO}x raw inserts of the same bytes (batch >= 256): best {best_ratio:.2} -> {}",
        if ratio_ok { "met" } else { "MISSED" }
    );
    let best_multi = batched
        .iter()
        .map(|r| r.ratio_multi)
        .fold(f64::NAN, f64::max);
    println!(
        "no target: journal / raw-multi (one INSERT per 1,024 entries, no reads, one table) (batch >= 256): best {best_multi:.2}"
    );
    rate_ok && ratio_ok
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
