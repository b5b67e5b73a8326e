//! Crash consistency: `candor serve` is killed with SIGKILL at random moments while it publishes
//! pages, integrates the log and signs checkpoints, and restarted on the same data directory.
//! After every restart, every acknowledged fact (a reload answered 200) must be in the log, and
//! every checkpoint ever served (or left in the high-water file) must be a prefix of the newest
//! one: same key, no two roots for one size, sizes never going backwards.
//!
//! The run is reproducible from its seed (printed in the summary); set `CANDOR_CRASH_SEED` to
//! replay one.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use candor_tlog::merkle::root_from_entries;
use candor_tlog::{
    BundleId, Ed25519NoteVerifier, Hash, NoteVerifier, SignedCheckpoint, TreeBuilder, leaf_hash,
    parse_bundle,
};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::support::{BIN, Server, client, free_port, page, tiny_site, write};

/// Runs that end in a SIGKILL after the server was ready (the run after the last one is
/// stopped cleanly).
const RUNS: usize = 50;
/// Every this many runs, one extra start is killed before it is ready (during start-up
/// integration, signing and the first publish).
const EARLY_KILL_EVERY: usize = 5;
/// Every this many runs, the kill is aimed at the integrator's next tick instead of random.
const AIMED_KILL_EVERY: usize = 4;
/// Page files the writer creates and edits (`content/p<N>.md`).
const PAGES: u64 = 24;
const DEFAULT_SEED: u64 = 0x0c4a_d0c5_7e57_2026;
/// The file name of the high-water checkpoint, beside the default key.
const HIGH_WATER: &str = "log-signing.key.checkpoint";

/// SplitMix64: a tiny seeded PRNG, enough to spread delays and choose pages.
#[derive(Clone)]
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
        self.next() % n.max(1)
    }

    fn millis(&mut self, max: u64) -> Duration {
        Duration::from_millis(self.below(max + 1))
    }
}

/// A published fact the server acknowledged: this page had these bytes.
#[derive(Clone, Debug)]
struct Fact {
    page: String,
    sha256: String,
    run: usize,
}

/// A checkpoint the test saw, in the order it saw them.
#[derive(Clone, Debug)]
struct Seen {
    run: usize,
    source: &'static str,
    size: u64,
    root: Hash,
}

impl Seen {
    fn describe(&self) -> String {
        format!(
            "the checkpoint of size {} with root {} ({}, run {})",
            self.size,
            self.root.to_base64(),
            self.source,
            self.run
        )
    }
}

/// Everything the test recorded across runs.
#[derive(Default)]
struct Recorder {
    acked: Vec<Fact>,
    seen: Vec<Seen>,
    reloads: u64,
    polls: u64,
}

impl Recorder {
    /// Records a checkpoint; consecutive duplicates add nothing to the checks and are merged.
    fn see(&mut self, seen: Seen) {
        let same = self
            .seen
            .last()
            .is_some_and(|last| last.size == seen.size && last.root == seen.root);
        if !same {
            self.seen.push(seen);
        }
    }
}

/// The log's identity, as first served.
struct LogKey {
    vkey: String,
    origin: String,
    verifier: Ed25519NoteVerifier,
}

impl LogKey {
    /// Parses and verifies a signed checkpoint; returns its size and root.
    fn verify(&self, bytes: &[u8]) -> Result<(u64, Hash), String> {
        let cp = SignedCheckpoint::parse(bytes).map_err(|e| {
            format!(
                "unparsable checkpoint ({e}): {:?}",
                String::from_utf8_lossy(bytes)
            )
        })?;
        cp.verify_log(&self.origin, &self.verifier).map_err(|e| {
            format!(
                "checkpoint not signed by the log key {} for origin {} ({e}): {:?}",
                self.vkey,
                self.origin,
                String::from_utf8_lossy(bytes)
            )
        })?;
        Ok((cp.checkpoint().size, cp.checkpoint().root))
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Starts `candor serve` on the shared data dir; a refusal or failure to start is reported with
/// the run and the end of the killed server's log.
async fn restart(dir: &Path, run: usize, killed_log: &str) -> Server {
    let dir = dir.to_path_buf();
    match tokio::spawn(async move { Server::start(&dir, &[]).await }).await {
        Ok(server) => server,
        Err(err) => {
            let why = match err.try_into_panic() {
                Ok(payload) => payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default(),
                Err(err) => err.to_string(),
            };
            let gone = if Path::new(BIN).exists() {
                ""
            } else {
                "\n(the candor executable itself is gone: was it rebuilt by another cargo command during the test?)"
            };
            panic!(
                "start #{run} after a SIGKILL failed; a server must always restart after a crash.\n{why}{gone}\n--- end of the killed server's log ---\n{}",
                tail(killed_log, 30)
            );
        }
    }
}

/// Fetches the verifier key; it must never change across restarts.
async fn check_key(server: &Server, first: &mut Option<Arc<LogKey>>, run: usize) -> Arc<LogKey> {
    let r = client().get(server.url("/log/key")).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET /log/key in run {run}");
    let vkey = r.text().await.unwrap().trim().to_owned();
    if let Some(first) = first {
        assert_eq!(
            vkey, first.vkey,
            "the verifier key changed at restart #{run} (first run served {}, now {vkey})",
            first.vkey
        );
        return first.clone();
    }
    let verifier = Ed25519NoteVerifier::from_vkey(&vkey)
        .unwrap_or_else(|e| panic!("/log/key serves an invalid verifier key {vkey:?}: {e}"));
    let key = Arc::new(LogKey {
        origin: verifier.name().to_owned(),
        vkey,
        verifier,
    });
    *first = Some(key.clone());
    key
}

/// GETs `/log/<rest>`; a non-200 answer is an error naming the path.
async fn get_log(http: &reqwest::Client, server: &Server, rest: &str) -> Result<Vec<u8>, String> {
    let r = http
        .get(server.url(&format!("/log/{rest}")))
        .send()
        .await
        .map_err(|e| format!("GET /log/{rest}: {e}"))?;
    let status = r.status();
    let body = r
        .bytes()
        .await
        .map_err(|e| format!("GET /log/{rest}: {e}"))?;
    if status != 200 {
        return Err(format!(
            "GET /log/{rest} answered {status}: {}",
            String::from_utf8_lossy(&body).trim()
        ));
    }
    Ok(body.to_vec())
}

/// Every entry of the tree of `size`, from the entry bundles.
async fn fetch_entries(
    http: &reqwest::Client,
    server: &Server,
    size: u64,
) -> Result<Vec<Vec<u8>>, String> {
    let mut entries = Vec::with_capacity(usize::try_from(size).unwrap());
    let mut index = 0;
    while index * 256 < size {
        let width = u16::try_from((size - index * 256).min(256)).unwrap();
        let path = BundleId::new(index, width).unwrap().path();
        let bundle = get_log(http, server, &path).await?;
        let parsed =
            parse_bundle(&bundle).map_err(|e| format!("/log/{path} is not a bundle: {e}"))?;
        if parsed.len() != usize::from(width) {
            return Err(format!(
                "/log/{path} holds {} entries, expected {width}",
                parsed.len()
            ));
        }
        entries.extend(parsed.into_iter().map(<[u8]>::to_vec));
        index += 1;
    }
    Ok(entries)
}

/// The checks after a restart: returns the size of the newest checkpoint.
async fn check_log(server: &Server, key: &LogKey, rec: &mut Recorder, run: usize) -> u64 {
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(15);
    let (size, root, entries) = loop {
        let note = match get_log(&http, server, "checkpoint").await {
            Ok(note) => note,
            // A new log has no checkpoint until it first signs one.
            Err(_) if rec.seen.is_empty() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => panic!(
                "after restart #{run}: {e} (before this restart: {})\n{}",
                rec.seen
                    .last()
                    .map_or_else(|| "no checkpoint yet".to_owned(), Seen::describe),
                tail(&server.stderr(), 30)
            ),
        };
        let (size, root) = key
            .verify(&note)
            .unwrap_or_else(|e| panic!("after restart #{run}: /log/checkpoint: {e}"));
        rec.see(Seen {
            run,
            source: "served right after a restart",
            size,
            root,
        });
        let entries = fetch_entries(&http, server, size)
            .await
            .unwrap_or_else(|e| panic!("after restart #{run}, checkpoint size {size}: {e}"));
        let recomputed = root_from_entries(&entries);
        assert!(
            recomputed == root,
            "after restart #{run}: the {size} entries served give root {} but the checkpoint of size {size} says {}",
            recomputed.to_base64(),
            root.to_base64()
        );
        let logged: HashSet<(String, String)> = entries
            .iter()
            .enumerate()
            .filter_map(|(seq, bytes)| {
                let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_else(|e| {
                    panic!(
                        "entry {seq} is not JSON ({e}): {:?}",
                        String::from_utf8_lossy(bytes)
                    )
                });
                (v["type"] == "content.revision").then(|| {
                    (
                        v["page"].as_str().unwrap_or_default().to_owned(),
                        v["content_sha256"].as_str().unwrap_or_default().to_owned(),
                    )
                })
            })
            .collect();
        let missing: Vec<&Fact> = rec
            .acked
            .iter()
            .filter(|f| !logged.contains(&(f.page.clone(), f.sha256.clone())))
            .collect();
        if missing.is_empty() {
            break (size, root, entries);
        }
        if Instant::now() > deadline {
            let list: Vec<String> = missing
                .iter()
                .take(10)
                .map(|f| {
                    format!(
                        "page {} content_sha256 {} (acknowledged in run {})",
                        f.page, f.sha256, f.run
                    )
                })
                .collect();
            panic!(
                "after restart #{run}: {} of {} acknowledged facts are not in the log of size {size} (waited 15 s for the checkpoint to cover them), e.g.:\n  {}\n--- server log ---\n{}",
                missing.len(),
                rec.acked.len(),
                list.join("\n  "),
                tail(&server.stderr(), 30)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // The root of every prefix of the log, in one pass.
    let mut builder = TreeBuilder::new();
    let mut roots = Vec::with_capacity(entries.len() + 1);
    roots.push(builder.root());
    for entry in &entries {
        builder.append(leaf_hash(entry)).unwrap();
        roots.push(builder.root());
    }
    assert!(roots[roots.len() - 1] == root, "tree builder disagrees");

    let mut by_size: BTreeMap<u64, &Seen> = BTreeMap::new();
    let mut previous: Option<&Seen> = None;
    for seen in &rec.seen {
        if let Some(prev) = previous {
            assert!(
                seen.size >= prev.size,
                "checkpoint sizes went backwards: {} came before {}",
                prev.describe(),
                seen.describe()
            );
        }
        previous = Some(seen);
        if let Some(other) = by_size.get(&seen.size) {
            assert!(
                other.root == seen.root,
                "two checkpoints of size {} differ (a fork): {} and {}",
                seen.size,
                other.describe(),
                seen.describe()
            );
        } else {
            by_size.insert(seen.size, seen);
        }
        let prefix = usize::try_from(seen.size)
            .ok()
            .and_then(|s| roots.get(s))
            .unwrap_or_else(|| {
                panic!(
                    "after restart #{run}: {} is larger than the newest checkpoint (size {size})",
                    seen.describe()
                )
            });
        assert!(
            *prefix == seen.root,
            "after restart #{run}: {} is not consistent with the newest checkpoint (size {size}, root {}): the first {} entries give root {}",
            seen.describe(),
            root.to_base64(),
            seen.size,
            prefix.to_base64()
        );
    }
    size
}

/// Keeps changing 1–3 page files and reloading; returns the facts acknowledged with 200.
async fn write_and_reload(
    base: String,
    token: String,
    dir: PathBuf,
    run: usize,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
) -> Result<(Vec<Fact>, u64), String> {
    let http = client();
    let mut acked = Vec::new();
    let mut reloads = 0;
    let mut step = 0u64;
    while !stop.load(Ordering::Acquire) {
        step += 1;
        let mut changed: Vec<Fact> = Vec::new();
        for change in 0..=rng.below(3) {
            let n = rng.below(PAGES);
            let page_path = format!("/security/p{n}");
            if changed.iter().any(|f| f.page == page_path) {
                continue;
            }
            let text = page(
                &format!("Page {n}"),
                "security",
                "A page the crash test keeps editing.",
                &format!(
                    "Run {run}, step {step}, change {change}: {:016x}.",
                    rng.next()
                ),
            );
            write(&dir, &format!("content/p{n}.md"), &text);
            changed.push(Fact {
                page: page_path,
                sha256: sha256_hex(text.as_bytes()),
                run,
            });
        }
        match http
            .post(format!("{base}/api/v1/admin/reload"))
            .bearer_auth(&token)
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => {
                reloads += 1;
                acked.extend(changed);
            }
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_default();
                return Err(format!(
                    "run {run}: POST /api/v1/admin/reload answered {status}: {body}"
                ));
            }
            // The server is being killed; the change is not acknowledged.
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    Ok((acked, reloads))
}

/// Polls /log/checkpoint; returns every (distinct in a row) checkpoint served, verified.
async fn poll_checkpoints(
    base: String,
    key: Arc<LogKey>,
    run: usize,
    stop: Arc<AtomicBool>,
    grew: watch::Sender<Option<(u64, Instant)>>,
) -> Result<(Vec<Seen>, u64), String> {
    let http = client();
    let mut seen: Vec<Seen> = Vec::new();
    let mut polls = 0;
    while !stop.load(Ordering::Acquire) {
        let answer = match http.get(format!("{base}/log/checkpoint")).send().await {
            Ok(r) => {
                let status = r.status();
                r.bytes().await.map(|b| (status, b))
            }
            Err(e) => Err(e),
        };
        match answer {
            Ok((status, body)) if status == 200 => {
                polls += 1;
                let (size, root) = key
                    .verify(&body)
                    .map_err(|e| format!("run {run}: /log/checkpoint: {e}"))?;
                let last = seen.last().map(|s| (s.size, s.root));
                if last != Some((size, root)) {
                    if last.is_some_and(|(s, _)| s < size) {
                        grew.send_replace(Some((size, Instant::now())));
                    }
                    seen.push(Seen {
                        run,
                        source: "served while publishing",
                        size,
                        root,
                    });
                }
            }
            Ok((status, body)) => {
                return Err(format!(
                    "run {run}: /log/checkpoint answered {status}: {}",
                    String::from_utf8_lossy(&body).trim()
                ));
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok((seen, polls))
}

/// Waits (at most 10 s) for a killed process to be gone.
async fn wait_exit(child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "{what} did not exit within 10 s of SIGKILL"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Reads the high-water checkpoint the killed server left (it is written before a checkpoint
/// becomes visible, so it may be ahead of everything served).
fn read_high_water(data: &Path, key: &LogKey, run: usize) -> Option<(u64, Hash)> {
    let bytes = std::fs::read(data.join(HIGH_WATER)).ok()?;
    Some(key.verify(&bytes).unwrap_or_else(|e| {
        panic!("run {run}: the high-water file left by the killed server: {e}")
    }))
}

/// Starts `candor serve` and kills it before it is ready (during start-up integration,
/// signing and the first publish). It must not exit on its own before.
async fn kill_during_startup(dir: &Path, data: &Path, delay: Duration, run: usize) -> String {
    let logs = tempfile::tempdir().unwrap();
    let stderr_path = logs.path().join("stderr");
    let mut child = Command::new(BIN)
        .arg("serve")
        .arg("--config")
        .arg(dir.join("candor.toml"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--data-dir")
        .arg(data)
        .env_remove("CANDOR_DATABASE_URL")
        .env_remove("CANDOR_PUBLIC_URL")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    tokio::time::sleep(delay).await;
    if let Some(status) = child.try_wait().unwrap() {
        panic!(
            "start after run {run} exited on its own ({status}) before it was killed; a server must always restart after a crash:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
    }
    child.kill().unwrap(); // SIGKILL
    wait_exit(&mut child, "candor serve (killed during start-up)").await;
    std::fs::read_to_string(&stderr_path).unwrap_or_default()
}

#[tokio::test]
async fn acknowledged_facts_and_checkpoints_survive_sigkill() {
    let started = Instant::now();
    let seed = std::env::var("CANDOR_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let mut rng = Rng(seed);
    let site = tiny_site();
    let dir = site.path().to_path_buf();
    let data = dir.join("data");
    let mut rec = Recorder::default();
    let mut first_key: Option<Arc<LogKey>> = None;
    let mut killed_log = String::new();
    let mut ready_in = Duration::from_millis(200);
    let (mut early_kills, mut aimed_kills, mut high_water_ahead) = (0, 0, 0);
    let mut final_size = 0;
    let mut token: Option<String> = None;

    for run in 0..=RUNS {
        if run > 0 && run % EARLY_KILL_EVERY == 0 {
            let delay = rng.millis(u64::try_from(ready_in.as_millis()).unwrap() + 50);
            killed_log = kill_during_startup(&dir, &data, delay, run).await;
            early_kills += 1;
            if let Some((size, root)) = first_key
                .as_deref()
                .and_then(|key| read_high_water(&data, key, run))
            {
                rec.see(Seen {
                    run,
                    source: "high-water file after a kill during start-up",
                    size,
                    root,
                });
            }
        }

        let t0 = Instant::now();
        let mut server = restart(&dir, run, &killed_log).await;
        ready_in = t0.elapsed();
        let key = check_key(&server, &mut first_key, run).await;
        final_size = check_log(&server, &key, &mut rec, run).await;
        if token.is_none() {
            token = Some(
                crate::support::api_token(&data, &[candor_core::identity::Scope::ContentReload])
                    .await,
            );
        }
        if run == RUNS {
            let status = server.stop();
            assert_eq!(
                status.code(),
                Some(0),
                "the last server did not stop cleanly"
            );
            break;
        }

        let stop = Arc::new(AtomicBool::new(false));
        let (grew_tx, mut grew_rx) = watch::channel(None);
        let writer = tokio::spawn(write_and_reload(
            server.base.clone(),
            token.clone().unwrap_or_default(),
            dir.clone(),
            run,
            Rng(rng.next()),
            stop.clone(),
        ));
        let poller = tokio::spawn(poll_checkpoints(
            server.base.clone(),
            key.clone(),
            run,
            stop.clone(),
            grew_tx,
        ));
        if run % AIMED_KILL_EVERY == AIMED_KILL_EVERY - 1 {
            // The integrator wakes about 1 s after its previous tick; the checkpoint it signed
            // became visible a few ms after that tick. Kill around the next tick.
            aimed_kills += 1;
            let grown =
                tokio::time::timeout(Duration::from_secs(5), grew_rx.wait_for(Option::is_some))
                    .await
                    .ok()
                    .and_then(|r| r.ok().and_then(|v| *v));
            let at = grown.map_or_else(Instant::now, |(_, at)| at);
            let target = at + Duration::from_millis(985) + rng.millis(30);
            tokio::time::sleep_until(target.into()).await;
        } else {
            tokio::time::sleep(rng.millis(1500)).await;
        }

        if let Some(status) = server.child.try_wait().unwrap() {
            panic!(
                "run {run}: candor serve exited on its own ({status}):\n{}",
                tail(&server.stderr(), 30)
            );
        }
        server.signal("KILL");
        wait_exit(&mut server.child, "candor serve").await;
        stop.store(true, Ordering::Release);
        let (acked, reloads) = writer.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
        let (seen, polls) = poller.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
        rec.acked.extend(acked);
        rec.reloads += reloads;
        rec.polls += polls;
        let served_max = seen.iter().map(|s| s.size).max().unwrap_or(0);
        for s in seen {
            rec.see(s);
        }
        if let Some((size, root)) = read_high_water(&data, &key, run) {
            if size > served_max {
                high_water_ahead += 1;
            }
            rec.see(Seen {
                run,
                source: "high-water file after the kill",
                size,
                root,
            });
        }
        killed_log = server.stderr();
    }

    eprintln!(
        "crash: seed {seed}, {RUNS} SIGKILLs while publishing ({aimed_kills} aimed at the integrator's tick) + {early_kills} during start-up, {} acknowledged facts in {} reloads, {} checkpoint polls ({} distinct checkpoints recorded), high-water ahead of served at {high_water_ahead} kills, final size {final_size}, {:.1} s",
        rec.acked.len(),
        rec.reloads,
        rec.polls,
        rec.seen.len(),
        started.elapsed().as_secs_f64()
    );
}
