//! Not a measurement on its own: fills a data directory with a large log for
//! `bench/verify-full.sh`, through the same write path `candor serve` uses
//! (`ContentRevisions::record_revisions`: a revision row and a `content.revision` log entry per
//! changed page, committed per batch).
//!
//! ```sh
//! BENCH_CONFIG=dir/candor.toml BENCH_DATA_DIR=dir/data ENTRIES=1000000 \
//!     cargo bench -p candor --bench make_log
//! ```
//!
//! The site's own pages (loaded from `BENCH_CONFIG` exactly as `candor serve` loads them) are
//! recorded last, so the server finds nothing new to record when it starts and the log holds
//! exactly `ENTRIES` entries. Refuses a data directory whose log is not empty. The log is not
//! integrated here: `candor serve` integrates and signs it when it starts.

// A benchmark helper, not library code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Instant;

use candor_core::config::Overrides;
use candor_core::load::load_site;
use candor_store::{ContentRevisions, LogStore, PageDigest, Store};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Distinct synthetic pages; later revisions update them.
const PAGES: u64 = 65_536;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn digest(i: u64) -> PageDigest {
    let hash = Sha256::digest(i.to_le_bytes());
    PageDigest {
        page_path: format!("/bench/page-{}", i % PAGES),
        title: format!("Bench page {}", i % PAGES),
        content_sha256: hash.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

async fn fill() {
    let (Some(config), Some(data_dir)) = (
        std::env::var_os("BENCH_CONFIG").map(PathBuf::from),
        std::env::var_os("BENCH_DATA_DIR").map(PathBuf::from),
    ) else {
        eprintln!("make_log: set BENCH_CONFIG (a candor.toml) and BENCH_DATA_DIR");
        std::process::exit(2);
    };
    let entries: u64 = env_or("ENTRIES", 1_000_000);
    let batch: u64 = env_or::<u64>("BATCH", 4096).clamp(1, PAGES);
    let overrides = Overrides {
        data_dir: Some(data_dir.clone()),
        ..Overrides::default()
    };
    let site = match load_site(&config, &overrides) {
        Ok(site) => site,
        Err(problems) => {
            eprint!("{problems}");
            std::process::exit(2);
        }
    };
    let pages: Vec<PageDigest> = site
        .pages
        .iter()
        .map(|p| PageDigest {
            page_path: p.path(),
            title: p.title.clone(),
            content_sha256: p.content_sha256.clone(),
        })
        .collect();
    let synthetic = entries
        .checked_sub(pages.len() as u64)
        .expect("ENTRIES must be at least the number of site pages");
    let store = Store::open(&site.settings.database).await.unwrap();
    assert_eq!(
        store.sequenced_size().await.unwrap(),
        0,
        "{} already holds a log; use an empty data directory",
        data_dir.display()
    );
    eprintln!(
        "make_log: recording {synthetic} synthetic revisions in batches of {batch}, then the site's {} page(s), into {}",
        pages.len(),
        site.settings.database
    );
    let start = Instant::now();
    let mut next = 0u64;
    let mut reported = 0u64;
    while next < synthetic {
        let end = (next + batch).min(synthetic);
        let digests: Vec<PageDigest> = (next..end).map(digest).collect();
        store
            .record_revisions(&digests, OffsetDateTime::now_utc())
            .await
            .unwrap();
        next = end;
        if next - reported >= 100_000 {
            reported = next;
            eprintln!(
                "make_log: {next} entries, {:.0}/s",
                next as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    store
        .record_revisions(&pages, OffsetDateTime::now_utc())
        .await
        .unwrap();
    let elapsed = start.elapsed();
    let size = store.sequenced_size().await.unwrap();
    assert_eq!(size, entries);
    store.close().await;
    println!(
        "make_log: {size} entries in {:.1} s ({:.0} entries/s through record_revisions, batch {batch})",
        elapsed.as_secs_f64(),
        size as f64 / elapsed.as_secs_f64()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(fill());
}
