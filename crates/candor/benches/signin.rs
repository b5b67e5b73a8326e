//! Does the sign-in endpoint keep serving other users during a brute-force attempt?
//!
//! ```sh
//! cargo bench -p candor --bench signin
//! ```
//!
//! Runs the real `candor serve` (release) on loopback with two operators, and measures, from
//! source address 127.0.0.2, a legitimate operator's sign-in (the full Argon2id check) and a
//! portal page, first on a quiet server (the baseline), then while an attacker hammers the
//! sign-in form:
//!
//! - **brute force**: 32 parallel connections from one address (127.0.0.3) guessing the other
//!   operator's password, for `ATTACK_S` seconds (default 15);
//! - **distributed**: the same from 64 addresses (127.0.1.1–64), 4 connections each, guessing
//!   passwords of unknown accounts (every guess costs a dummy Argon2id check until the address is
//!   throttled).
//!
//! Reports p50/p95 of each and the ratio to the baseline, in the same run. Verdict: the legitimate
//! sign-ins all succeed and their p95 under the brute force stays under 3× the quiet p95. The
//! distributed figures are reported without a target.

// A benchmark binary, not library code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_candor");
const PASSWORD: &str = "correct horse battery staple";

fn encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn client(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn post(c: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> u16 {
    match c
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(form))
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

fn admin_create(dir: &Path, email: &str) -> String {
    let out = Command::new(BIN)
        .args(["admin", "create", "--config"])
        .arg(dir.join("candor.toml"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .args(["--email", email, "--role", "editor"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8(out.stdout).unwrap();
    link.trim().split("token=").nth(1).unwrap().to_owned()
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// `rounds` legitimate sign-ins and page loads; returns (sign-in ms, page ms, failures).
async fn legit(base: &str, rounds: usize) -> (Vec<f64>, Vec<f64>, usize) {
    let c = client(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let (mut sign, mut pages, mut failed) = (Vec::new(), Vec::new(), 0);
    for _ in 0..rounds {
        let t = Instant::now();
        let status = post(
            &c,
            &format!("{base}/admin/sign-in"),
            &[("email", "user@bench.example"), ("password", PASSWORD)],
        )
        .await;
        sign.push(t.elapsed().as_secs_f64() * 1000.0);
        if status != 303 {
            failed += 1;
        }
        let t = Instant::now();
        let ok = c
            .get(format!("{base}/security"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        pages.push(t.elapsed().as_secs_f64() * 1000.0);
        if !ok {
            failed += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (sign, pages, failed)
}

/// Attack traffic from `addresses` × `per_address` connections until `stop`.
fn attack(
    base: &str,
    addresses: Vec<IpAddr>,
    per_address: usize,
    unknown_accounts: bool,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (a, ip) in addresses.into_iter().enumerate() {
        for k in 0..per_address {
            let c = client(ip);
            let url = format!("{base}/admin/sign-in");
            let (stop, sent) = (stop.clone(), sent.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let email = if unknown_accounts {
                        format!("ghost{a}-{k}-{n}@bench.example")
                    } else {
                        "target@bench.example".to_owned()
                    };
                    post(
                        &c,
                        &url,
                        &[("email", &email), ("password", &format!("guess {n}"))],
                    )
                    .await;
                    sent.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
    }
    tasks
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One kind of attack traffic.
struct Attack {
    name: &'static str,
    addresses: Vec<IpAddr>,
    per_address: usize,
    unknown_accounts: bool,
}

async fn scenario(
    base: &str,
    attack_kind: Attack,
    attack_s: u64,
    rounds: usize,
    quiet: (f64, f64),
) -> bool {
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let name = attack_kind.name;
    let tasks = attack(
        base,
        attack_kind.addresses,
        attack_kind.per_address,
        attack_kind.unknown_accounts,
        stop.clone(),
        sent.clone(),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let (sign, pages, failed) = legit(base, rounds).await;
    let remaining = Duration::from_secs(attack_s).saturating_sub(started.elapsed());
    tokio::time::sleep(remaining).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let (s50, s95, p50) = (pct(sign.clone(), 0.5), pct(sign, 0.95), pct(pages, 0.5));
    println!(
        "| {name} | {} | {s50:.0} | {s95:.0} | {:.2} | {p50:.1} | {failed} |",
        sent.load(Ordering::Relaxed),
        s95 / quiet.1,
    );
    let _ = quiet.0;
    failed == 0 && s95 < 3.0 * quiet.1
}

fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let attack_s: u64 = std::env::var("ATTACK_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("content")).unwrap();
    std::fs::write(
        dir.path().join("candor.toml"),
        "version = 1\n[site]\nname = \"Bench\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("content/index.md"),
        "+++\ntitle = \"Bench\"\npillar = \"welcome\"\nsummary = \"Bench.\"\n+++\nHello.\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("content/security.md"),
        "+++\ntitle = \"Security\"\npillar = \"security\"\nsummary = \"Security.\"\n+++\nSecure.\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = Server(
        Command::new(BIN)
            .args(["serve", "--config"])
            .arg(dir.path().join("candor.toml"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ok = rt.block_on(async move {
        let c = client(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let deadline = Instant::now() + Duration::from_secs(30);
        while !c.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) {
            assert!(Instant::now() < deadline, "candor did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for email in ["user@bench.example", "target@bench.example"] {
            let token = admin_create(dir.path(), email);
            let status = post(&c, &format!("{base}/admin/set-password"), &[("token", &token), ("password", PASSWORD), ("confirm", PASSWORD)]).await;
            assert_eq!(status, 303);
        }
        let (sign, pages, failed) = legit(&base, rounds).await;
        assert_eq!(failed, 0, "quiet sign-ins failed");
        let quiet = (pct(sign.clone(), 0.5), pct(sign.clone(), 0.95));
        println!("sign-in bench: {rounds} legitimate sign-ins per scenario, attacks of {attack_s} s");
        println!();
        println!("| scenario | attack requests | sign-in p50 ms | sign-in p95 ms | p95 / quiet p95 | page p50 ms | failed |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        println!("| quiet (baseline) | 0 | {:.0} | {:.0} | 1.00 | {:.1} | 0 |", quiet.0, quiet.1, pct(pages, 0.5));
        let brute = scenario(&base, Attack { name: "brute force, 1 address × 32", addresses: vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))], per_address: 32, unknown_accounts: false }, attack_s, rounds, quiet).await;
        let spread: Vec<IpAddr> = (1..=64).map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 1, i))).collect();
        scenario(&base, Attack { name: "distributed, 64 addresses × 4, unknown accounts", addresses: spread, per_address: 4, unknown_accounts: true }, attack_s, rounds, quiet).await;
        println!();
        println!(
            "target: every legitimate sign-in succeeds and its p95 under the brute force stays under 3x quiet -> {}",
            if brute { "met" } else { "MISSED" }
        );
        brute
    });
    if !ok {
        std::process::exit(1);
    }
}
