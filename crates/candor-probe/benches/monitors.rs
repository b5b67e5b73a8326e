//! 10,000 HTTP monitors at a 60 s interval against a local target, for at least 150 s.
//!
//! `cargo bench -p candor-probe --bench monitors` (150 s); `-- 20` or `CANDOR_BENCH_SECS=20` for a
//! smoke run; `CANDOR_BENCH_MONITORS` changes the count. The target HTTP server runs as a child
//! process (this binary re-executed), so the CPU figures of the scheduler and of the target are
//! measured separately from /proc.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use candor_core::SystemClock;
use candor_core::condition::Condition;
use candor_core::monitor::{Check, HttpCheck, MonitorSpec};
use candor_probe::{Outcome, ProbeOptions, Prober, Scheduler, SchedulerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROLE: &str = "CANDOR_BENCH_ROLE";

fn main() {
    if std::env::var(ROLE).as_deref() == Ok("target") {
        return target();
    }
    let secs: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .or_else(|| std::env::var("CANDOR_BENCH_SECS").ok()?.parse().ok())
        .unwrap_or(150);
    let monitors: usize = std::env::var("CANDOR_BENCH_MONITORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);

    // The target: this binary as a child process.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(ROLE, "target")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let child_pid = child.id();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let condition = Condition::parse("[STATUS] == 200").unwrap();
    let specs: Vec<MonitorSpec> = (0..monitors)
        .map(|i| MonitorSpec {
            id: format!("bench-{i:05}"),
            name: format!("Bench {i}"),
            check: Check::Http(HttpCheck {
                url: format!("http://127.0.0.1:{port}/m/{i}"),
                method: "GET".into(),
                headers: vec![],
                body: None,
                follow_redirects: true,
                max_redirects: 5,
                max_body_bytes: 1 << 20,
            }),
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            conditions: vec![condition.clone()],
            degraded_after: None,
            failure_threshold: 3,
            success_threshold: 2,
            allow_private: true,
        })
        .collect();

    let (cpu_self_0, cpu_target_0) = (cpu_ticks("self"), cpu_ticks(&child_pid.to_string()));
    let wall = Instant::now();
    let (up, down, scheduler_stats) = runtime.block_on(async move {
        let (sender, mut samples) = tokio::sync::mpsc::channel(4096);
        let prober = Arc::new(Prober::new(ProbeOptions::default()).unwrap());
        let scheduler = Scheduler::spawn(
            specs,
            sender,
            prober,
            Arc::new(SystemClock),
            SchedulerOptions::default(),
        );
        let counting = tokio::spawn(async move {
            let (mut up, mut down) = (0u64, 0u64);
            let mut first_error = None;
            while let Some(s) = samples.recv().await {
                if s.outcome == Outcome::Down {
                    down += 1;
                    first_error.get_or_insert(s.error);
                } else {
                    up += 1;
                }
            }
            if let Some(e) = first_error {
                eprintln!("first failure: {e:?}");
            }
            (up, down)
        });
        let end = tokio::time::Instant::now() + Duration::from_secs(secs);
        while tokio::time::Instant::now() < end {
            tokio::time::sleep(Duration::from_secs(10).min(end - tokio::time::Instant::now()))
                .await;
            let s = scheduler.slip_snapshot();
            eprintln!(
                "{:>4}s  probes {:>6}  slip p50 {:?} p99 {:?} max {:?}",
                wall.elapsed().as_secs(),
                scheduler.started(),
                s.p50,
                s.p99,
                s.max
            );
        }
        let stats = (
            scheduler.slip_snapshot(),
            scheduler.skipped(),
            scheduler.started(),
        );
        scheduler.shutdown().await;
        let (up, down) = counting.await.unwrap();
        (up, down, stats)
    });
    let elapsed = wall.elapsed().as_secs_f64();
    let cpu_self = (cpu_ticks("self") - cpu_self_0) as f64 / 100.0 / elapsed * 100.0;
    let cpu_target =
        (cpu_ticks(&child_pid.to_string()) - cpu_target_0) as f64 / 100.0 / elapsed * 100.0;
    let hwm_kb = status_kb("VmHWM");
    let _ = child.stdin.take().map(|mut s| s.write_all(b"stop\n"));
    let _ = child.kill();
    let _ = child.wait();

    let (slip, skipped, started) = scheduler_stats;
    let rss_mb = hwm_kb as f64 / 1024.0;
    println!("monitors: {monitors} HTTP at 60s, run {elapsed:.0}s");
    println!("probes started: {started}, samples up: {up}, down: {down}, skipped: {skipped}");
    println!(
        "schedule slip: p50 {:?}, p99 {:?}, max {:?}",
        slip.p50, slip.p99, slip.max
    );
    println!("CPU (scheduler+probes process): {cpu_self:.1}% of one core");
    println!("CPU (target server process, separate): {cpu_target:.1}% of one core");
    println!("peak RSS (VmHWM): {rss_mb:.1} MB");
    let checks = [
        ("slip p99 < 1 s", slip.p99 < Duration::from_secs(1)),
        ("CPU < 25 % of one core", cpu_self < 25.0),
        ("peak RSS < 150 MB", rss_mb < 150.0),
        ("no probe failed", down == 0),
    ];
    let mut ok = true;
    for (name, passed) in checks {
        println!("{} {name}", if passed { "PASS" } else { "FAIL" });
        ok &= passed;
    }
    if !ok {
        std::process::exit(1);
    }
}

/// utime + stime in clock ticks (100 per second on Linux) of `self` or a pid.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the ")" that closes the command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let get = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(11) + get(12)
}

fn status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .trim_start_matches(':')
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The target: a minimal keep-alive HTTP/1.1 server answering 200 "ok" to every request, on a
/// single-threaded runtime; exits when its stdin closes.
fn target() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap().port());
        std::io::stdout().flush().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { continue };
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let mut filled = 0;
                    loop {
                        let Ok(n) = stream.read(&mut buf[filled..]).await else { return };
                        if n == 0 {
                            return;
                        }
                        filled += n;
                        while let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                            let used = end + 4;
                            buf.copy_within(used..filled, 0);
                            filled -= used;
                            if stream
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
                                .await
                                .is_err()
                            {
                                return;
                            }
                        }
                        if filled == buf.len() {
                            return;
                        }
                    }
                });
            }
        });
        // Stop when the parent goes away.
        let _ = tokio::task::spawn_blocking(|| {
            let mut byte = [0u8; 1];
            let _ = std::io::Read::read(&mut std::io::stdin(), &mut byte);
        })
        .await;
    });
}
