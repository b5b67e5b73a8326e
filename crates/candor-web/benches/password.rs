//! How long one password verification takes with Candor's Argon2id cost, on this machine.
//!
//! ```sh
//! cargo bench -p candor-web --bench password
//! ```
//!
//! The target (docs/BENCHMARKS.md): one sign-in's verification takes 50–250 ms. It runs on a
//! blocking thread, as `candor serve` does, and the figure is the median of `RUNS` (default 21)
//! verifications of a correct password, plus the same for a wrong one (which must cost the same).
//! Exits 1 when the median is outside the window.

// A benchmark binary, not library code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use candor_core::SystemClock;
use candor_core::config::Database;
use candor_store::Store;
use candor_web::auth::{ARGON2_MEMORY_KIB, ARGON2_PASSES, Auth};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(21);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ok = rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Database::Sqlite(dir.path().join("candor.db")))
            .await
            .unwrap();
        let auth = Auth::new(store, Arc::new(SystemClock)).unwrap();
        let password = "correct horse battery staple";
        let hash = auth.hash_password(password).await.unwrap();
        let mut right = Vec::new();
        let mut wrong = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            assert!(auth.verify_password(password, &hash).await.unwrap());
            right.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            assert!(!auth.verify_password("a wrong guess!!", &hash).await.unwrap());
            wrong.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let (r, w) = (median(right.clone()), median(wrong));
        println!(
            "Argon2id m={ARGON2_MEMORY_KIB} KiB, t={ARGON2_PASSES}, p=1: verification median {r:.1} ms (right password), {w:.1} ms (wrong); min {:.1}, max {:.1} ms over {runs} runs",
            right.iter().copied().fold(f64::INFINITY, f64::min),
            right.iter().copied().fold(0.0, f64::max)
        );
        let ok = (50.0..=250.0).contains(&r);
        println!(
            "target: 50-250 ms per verification -> {}",
            if ok { "met" } else { "MISSED" }
        );
        ok
    });
    if !ok {
        std::process::exit(1);
    }
}
