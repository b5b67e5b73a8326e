//! Merkle hashing and proof generation: `candor-tlog` against the `ct-merkle` crate at the same
//! tree sizes, and tree building against the raw SHA-256 throughput of this CPU.
//!
//! ```sh
//! cargo bench -p candor-tlog --bench merkle
//! ROUNDS=9 SIZES=10,16,20 PROOFS=20000 cargo bench -p candor-tlog --bench merkle
//! ```
//!
//! Every figure is the median of `ROUNDS` samples; within a round Candor and ct-merkle run back
//! to back on the same inputs, so drift on a shared machine hits both alike. Results are
//! cross-checked (same roots, same proofs) before anything is timed. Exits 1 when Candor builds
//! a tree more slowly than ct-merkle at any size. See docs/BENCHMARKS.md.

// A benchmark binary, not library code: a failed setup or a wrong result should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use candor_tlog::merkle::root_from_leaf_hashes;
use candor_tlog::{Hash, MemoryTree, consistency_proof, inclusion_proof, leaf_hash};
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use sha2::{Digest, Sha256};

type CtTree<'a> = MemoryBackedTree<Sha256, &'a [u8]>;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A `content.revision`-shaped entry (about 150 bytes, like Candor's real ones).
fn entry(i: u64) -> Vec<u8> {
    let digest = Sha256::digest(i.to_le_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        r#"{{"content_sha256":"{hex}","page":"/bench/page-{i}","published_at":"2026-11-30T10:00:00.000Z","type":"content.revision","v":1}}"#
    )
    .into_bytes()
}

/// SplitMix64: reproducible pseudo-random indices without a `rand` dependency.
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

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    }
}

/// Runs `f` `reps` times and returns the time per call.
fn per_call(reps: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..reps {
        f();
    }
    start.elapsed() / reps
}

/// SHA-256 calls per second on `len`-byte inputs; each input depends on the previous output,
/// so the calls cannot overlap or be optimised away.
fn sha256_rate(len: usize, calls: u32) -> f64 {
    let mut buf = vec![0x5au8; len];
    let start = Instant::now();
    for _ in 0..calls {
        let out: [u8; 32] = Sha256::digest(&buf).into();
        buf[1..33].copy_from_slice(&out);
    }
    black_box(&buf);
    f64::from(calls) / start.elapsed().as_secs_f64()
}

/// SHA-256 calls per second on independent `len`-byte inputs (the CPU may overlap calls).
fn sha256_rate_independent(len: usize, calls: u32) -> f64 {
    let mut buf = vec![0x5au8; len];
    let mut acc = [0u8; 32];
    let start = Instant::now();
    for i in 0..calls {
        buf[1..5].copy_from_slice(&i.to_le_bytes());
        let out: [u8; 32] = Sha256::digest(&buf).into();
        for (a, o) in acc.iter_mut().zip(out) {
            *a ^= o;
        }
    }
    black_box(&acc);
    f64::from(calls) / start.elapsed().as_secs_f64()
}

fn sha_extensions() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sha") {
        return "the CPU has SHA extensions";
    }
    "no SHA extensions detected"
}

fn fmt_rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2} M/s", per_s / 1e6)
    } else if per_s >= 1e3 {
        format!("{:.1} k/s", per_s / 1e3)
    } else {
        format!("{per_s:.0} /s")
    }
}

fn fmt_time(d: f64) -> String {
    if d >= 1.0 {
        format!("{d:.3} s")
    } else if d >= 1e-3 {
        format!("{:.2} ms", d * 1e3)
    } else if d >= 1e-6 {
        format!("{:.2} µs", d * 1e6)
    } else {
        format!("{:.0} ns", d * 1e9)
    }
}

struct SizeResult {
    log2: u32,
    /// Seconds per build, medians.
    candor_root: f64,
    candor_memtree: f64,
    candor_from_entries: f64,
    ct_from_entries: f64,
    /// Seconds per proof, medians.
    candor_inclusion: f64,
    ct_inclusion: f64,
    candor_consistency: f64,
    ct_consistency: f64,
}

fn bench_size(log2: u32, rounds: usize, proofs: usize) -> SizeResult {
    let n = 1u64 << log2;
    let entries: Vec<Vec<u8>> = (0..n).map(entry).collect();
    let slices: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();

    // Cross-check before timing: same root, same proofs.
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    let mut ct: CtTree = MemoryBackedTree::new();
    for e in &slices {
        ct.push(e);
    }
    assert_eq!(tree.root().0.as_slice(), ct.root().as_bytes().as_slice());
    assert_eq!(root_from_leaf_hashes(&leaves), tree.root());
    let mut rng = Rng(0x00c0_ffee ^ u64::from(log2));
    let indices: Vec<u64> = (0..proofs).map(|_| rng.below(n)).collect();
    // Old sizes for consistency proofs: 1..n (n itself gives an empty proof).
    let old_sizes: Vec<u64> = (0..proofs).map(|_| 1 + rng.below(n - 1)).collect();
    for (&i, &m) in indices.iter().zip(&old_sizes).take(200) {
        let ours = inclusion_proof(i, n, &tree).unwrap();
        let theirs = ct.prove_inclusion(usize::try_from(i).unwrap());
        let ours_bytes: Vec<u8> = ours.iter().flat_map(|h| h.0).collect();
        assert_eq!(
            ours_bytes.as_slice(),
            theirs.as_bytes(),
            "inclusion {i}/{n}"
        );
        let ours = consistency_proof(m, n, &tree).unwrap();
        let theirs = ct.prove_consistency(usize::try_from(n - m).unwrap());
        let ours_bytes: Vec<u8> = ours.iter().flat_map(|h| h.0).collect();
        assert_eq!(
            ours_bytes.as_slice(),
            theirs.as_bytes(),
            "consistency {m}->{n}"
        );
    }

    // Enough repetitions that one sample takes a measurable time even for 2^10 leaves.
    let reps = u32::try_from((1u64 << 20) / n).unwrap_or(1).max(1);
    let build_reps = reps.min(64);
    let (mut cr, mut cm, mut ce, mut te) = (vec![], vec![], vec![], vec![]);
    let (mut ci, mut ti, mut cc, mut tc) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        cr.push(
            per_call(build_reps, || {
                black_box(root_from_leaf_hashes(black_box(&leaves)));
            })
            .as_secs_f64(),
        );
        cm.push(
            per_call(build_reps, || {
                black_box(MemoryTree::from_leaf_hashes(black_box(&leaves)));
            })
            .as_secs_f64(),
        );
        ce.push(
            per_call(build_reps, || {
                let mut t = MemoryTree::new();
                for e in black_box(&entries) {
                    t.push(leaf_hash(e));
                }
                black_box(t.root());
            })
            .as_secs_f64(),
        );
        te.push(
            per_call(build_reps, || {
                let mut t: CtTree = MemoryBackedTree::new();
                for e in black_box(&slices) {
                    t.push(e);
                }
                black_box(t.root());
            })
            .as_secs_f64(),
        );
        let start = Instant::now();
        for &i in &indices {
            black_box(inclusion_proof(i, n, &tree).unwrap());
        }
        ci.push(start.elapsed().as_secs_f64() / proofs as f64);
        let start = Instant::now();
        for &i in &indices {
            black_box(ct.prove_inclusion(i as usize));
        }
        ti.push(start.elapsed().as_secs_f64() / proofs as f64);
        let start = Instant::now();
        for &m in &old_sizes {
            black_box(consistency_proof(m, n, &tree).unwrap());
        }
        cc.push(start.elapsed().as_secs_f64() / proofs as f64);
        let start = Instant::now();
        for &m in &old_sizes {
            black_box(ct.prove_consistency((n - m) as usize));
        }
        tc.push(start.elapsed().as_secs_f64() / proofs as f64);
    }
    SizeResult {
        log2,
        candor_root: median(cr),
        candor_memtree: median(cm),
        candor_from_entries: median(ce),
        ct_from_entries: median(te),
        candor_inclusion: median(ci),
        ct_inclusion: median(ti),
        candor_consistency: median(cc),
        ct_consistency: median(tc),
    }
}

fn main() {
    let rounds: usize = env_or("ROUNDS", 5);
    let proofs: usize = env_or("PROOFS", 10_000);
    let sizes: Vec<u32> = std::env::var("SIZES")
        .unwrap_or_else(|_| "10,16,20".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|&l: &u32| (2..=24).contains(&l))
        .collect();
    println!(
        "merkle bench: ROUNDS={rounds} PROOFS={proofs} SIZES={sizes:?} (log2 of the leaf count); medians"
    );

    // The hardware limit: one interior node is one SHA-256 call on 65 bytes (0x01 || l || r).
    let entry_len = entry(0).len();
    let (mut node_chained, mut node_free, mut leaf_chained, mut leaf_free) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        node_chained.push(sha256_rate(65, 2_000_000));
        node_free.push(sha256_rate_independent(65, 2_000_000));
        leaf_chained.push(sha256_rate(1 + entry_len, 1_000_000));
        leaf_free.push(sha256_rate_independent(1 + entry_len, 1_000_000));
    }
    let (node_chained, node_free) = (median(node_chained), median(node_free));
    let (leaf_chained, leaf_free) = (median(leaf_chained), median(leaf_free));
    println!(
        "raw SHA-256 (sha2 0.11, {}): 65-byte inputs (an interior node) {} chained, {} independent; \
         {}-byte inputs (a leaf) {} chained, {} independent",
        sha_extensions(),
        fmt_rate(node_chained),
        fmt_rate(node_free),
        1 + entry_len,
        fmt_rate(leaf_chained),
        fmt_rate(leaf_free),
    );
    // The limit is the faster of the two ways of calling SHA-256.
    let node_rate = node_chained.max(node_free);
    let leaf_rate = leaf_chained.max(leaf_free);
    // Building from leaf hashes costs n-1 node hashes; from entries n leaf hashes on top.
    let ideal_from_entries = 1.0 / (1.0 / node_rate + 1.0 / leaf_rate);

    let mut missed = false;
    let mut results = vec![];
    for &log2 in &sizes {
        let r = bench_size(log2, rounds, proofs);
        let n = (1u64 << r.log2) as f64;
        println!();
        println!("## 2^{} = {} leaves", r.log2, 1u64 << r.log2);
        println!(
            "| build | time | leaves/s | vs ct-merkle | vs raw SHA-256 limit |\n| --- | ---: | ---: | ---: | ---: |"
        );
        let line = |name: &str, t: f64, ct: Option<f64>, ideal: f64| {
            println!(
                "| {name} | {} | {} | {} | {:.2} |",
                fmt_time(t),
                fmt_rate(n / t),
                ct.map_or("".into(), |c| format!("{:.1}× faster", c / t)),
                (n / t) / ideal
            );
        };
        line(
            "candor root_from_leaf_hashes (TreeBuilder, from leaf hashes)",
            r.candor_root,
            None,
            node_rate,
        );
        line(
            "candor MemoryTree::from_leaf_hashes (all nodes kept)",
            r.candor_memtree,
            None,
            node_rate,
        );
        line(
            "candor leaf_hash + MemoryTree::push (from entries)",
            r.candor_from_entries,
            Some(r.ct_from_entries),
            ideal_from_entries,
        );
        line(
            "ct-merkle MemoryBackedTree::push (from entries)",
            r.ct_from_entries,
            None,
            ideal_from_entries,
        );
        println!(
            "| proof | candor | ct-merkle | candor / ct-merkle time |\n| --- | ---: | ---: | ---: |"
        );
        println!(
            "| inclusion (random index) | {} | {} | {:.2} |",
            fmt_time(r.candor_inclusion),
            fmt_time(r.ct_inclusion),
            r.candor_inclusion / r.ct_inclusion
        );
        println!(
            "| consistency (random old size → n) | {} | {} | {:.2} |",
            fmt_time(r.candor_consistency),
            fmt_time(r.ct_consistency),
            r.candor_consistency / r.ct_consistency
        );
        if r.candor_from_entries > r.ct_from_entries {
            missed = true;
        }
        results.push(r);
    }
    println!();
    println!("target: Candor builds a tree at least as fast as ct-merkle at every size");
    for r in &results {
        println!(
            "  2^{}: candor {} vs ct-merkle {} -> {}",
            r.log2,
            fmt_time(r.candor_from_entries),
            fmt_time(r.ct_from_entries),
            if r.candor_from_entries <= r.ct_from_entries {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    if missed {
        std::process::exit(1);
    }
}
