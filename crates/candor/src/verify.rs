//! `candor verify`: checks a Candor (or any C2SP tlog-tiles) log from the outside, trusting only
//! a pinned verifier key (and optionally a witness policy).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use candor_tlog::merkle::leaf_hash;
use candor_tlog::proof::{consistency_proof_nodes, tree_root_nodes};
use candor_tlog::tiles::{BundleId, TileHashReader, TileId, tiles_for_nodes};
use candor_tlog::{
    Ed25519NoteVerifier, Hash, NoteVerifier, Policy, SignedCheckpoint, TlogProof, TreeBuilder,
    consistency_proof, parse_bundle, tree_root, verify_consistency,
};

use crate::cli::VerifyArgs;
use crate::{EXIT_CONFIG, EXIT_FAILURE};

/// A verification failure, phrased as what did not match.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Bad arguments or unreadable local files.
    #[error("{0}")]
    Usage(String),
    /// The log could not be fetched.
    #[error("{0}")]
    Fetch(String),
    /// Something the log served does not verify.
    #[error("{0}")]
    Mismatch(String),
}

/// Runs `candor verify` and prints the report.
pub fn run(args: &VerifyArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match runtime.block_on(verify(args)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(VerifyError::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(err) => {
            eprintln!("VERIFICATION FAILED: {err}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn read_arg_or_file(value: &str) -> Result<String, VerifyError> {
    let path = Path::new(value);
    if !value.contains('+') && path.exists() {
        return std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| VerifyError::Usage(format!("cannot read {value}: {e}")));
    }
    Ok(value.trim().to_owned())
}

async fn verify(args: &VerifyArgs) -> Result<String, VerifyError> {
    let verifier = match &args.key {
        Some(key) => Some(
            Ed25519NoteVerifier::from_vkey(&read_arg_or_file(key)?)
                .map_err(|e| VerifyError::Usage(format!("--key is not a verifier key: {e}")))?,
        ),
        None => None,
    };
    let policy = match &args.policy {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| {
                VerifyError::Usage(format!("cannot read policy {}: {e}", path.display()))
            })?;
            Some(
                Policy::parse(&bytes)
                    .map_err(|e| VerifyError::Usage(format!("{}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    if verifier.is_none() && policy.is_none() {
        return Err(VerifyError::Usage(
            "pin the log with --key VKEY (or --policy FILE)".into(),
        ));
    }
    if let Some(proof) = &args.proof {
        return verify_proof_file(
            proof,
            args.entry.as_deref(),
            verifier.as_ref(),
            policy.as_ref(),
        );
    }
    let Some(url) = &args.log_url else {
        return Err(VerifyError::Usage(
            "give the log's URL (e.g. https://trust.example.com/log) or --proof FILE".into(),
        ));
    };
    let fetcher = Fetcher::new(url)?;
    let mut report = Vec::new();

    // 1. The checkpoint, signed by the pinned key (and cosigned per policy).
    let note = fetcher.get("checkpoint").await?;
    let signed = SignedCheckpoint::parse(&note)
        .map_err(|e| VerifyError::Mismatch(format!("{}: {e}", fetcher.url("checkpoint"))))?;
    if let Some(v) = &verifier {
        signed
            .verify_log(v.name(), v)
            .map_err(|e| VerifyError::Mismatch(format!("checkpoint: {e}")))?;
        report.push(format!(
            "checkpoint signed by the pinned key {} ({:08x})",
            v.name(),
            v.key_id()
        ));
    }
    if let Some(policy) = &policy {
        let verified = policy.verify_checkpoint(&signed).map_err(|e| {
            VerifyError::Mismatch(format!("checkpoint does not satisfy the policy: {e}"))
        })?;
        report.push(format!(
            "witness policy satisfied ({} cosignature(s) verified)",
            verified.cosignatures.len()
        ));
    }
    let cp = signed.checkpoint().clone();

    // 2. The root, recomputed from the tiles.
    let mut tiles = BTreeMap::new();
    let root_tiles = tiles_for_nodes(&tree_root_nodes(cp.size), cp.size)
        .map_err(|e| VerifyError::Mismatch(e.to_string()))?;
    fetcher.fetch_tiles(&root_tiles, &mut tiles).await?;
    let computed = tree_root(cp.size, &TileHashReader::new(cp.size, &tiles))
        .map_err(|e| VerifyError::Mismatch(format!("tiles: {e}")))?;
    if computed != cp.root {
        return Err(VerifyError::Mismatch(format!(
            "the tiles give root {} but the checkpoint says {} for size {}: the tiles were tampered with",
            computed.to_base64(),
            cp.root.to_base64(),
            cp.size
        )));
    }
    report.push(format!("root recomputed from {} tile(s)", root_tiles.len()));

    // 3. Consistency with the checkpoint seen last time.
    let state = args.state.clone().or_else(default_state_dir);
    if let Some(state) = &state {
        std::fs::create_dir_all(state)
            .map_err(|e| VerifyError::Usage(format!("cannot create {}: {e}", state.display())))?;
        let state_file = state.join(format!(
            "{}.checkpoint",
            cp.origin.replace(['/', ':', '\\'], "_")
        ));
        if let Ok(old_bytes) = std::fs::read(&state_file) {
            let old_signed = SignedCheckpoint::parse(&old_bytes)
                .map_err(|e| VerifyError::Usage(format!("{}: {e}", state_file.display())))?;
            let old = old_signed.checkpoint().clone();
            let fork = |why: String| -> VerifyError {
                let evidence = write_evidence(state, &old_bytes, &note);
                VerifyError::Mismatch(format!(
                    "FORK DETECTED: {why}.\nThe log showed you two histories that cannot both be true. Evidence{evidence}:\n--- previously seen ---\n{}--- now served ---\n{}",
                    String::from_utf8_lossy(&old_bytes),
                    String::from_utf8_lossy(&note)
                ))
            };
            if old.size > cp.size {
                return Err(fork(format!(
                    "the log shrank from {} to {} entries",
                    old.size, cp.size
                )));
            }
            let nodes = consistency_proof_nodes(old.size, cp.size)
                .map_err(|e| VerifyError::Mismatch(e.to_string()))?;
            let needed = tiles_for_nodes(&nodes, cp.size)
                .map_err(|e| VerifyError::Mismatch(e.to_string()))?;
            fetcher.fetch_tiles(&needed, &mut tiles).await?;
            let proof = consistency_proof(old.size, cp.size, &TileHashReader::new(cp.size, &tiles))
                .map_err(|e| VerifyError::Mismatch(format!("tiles: {e}")))?;
            verify_consistency(old.size, cp.size, &old.root, &cp.root, &proof).map_err(|e| {
                fork(format!(
                    "size {} is not consistent with the size {} seen before ({e})",
                    cp.size, old.size
                ))
            })?;
            report.push(format!(
                "consistent with the checkpoint seen before (size {})",
                old.size
            ));
        } else {
            report.push("first visit: no earlier checkpoint to compare with".to_owned());
        }
        candor_web::log::write_atomic(&state_file, &note).map_err(|e| {
            VerifyError::Usage(format!("cannot save {}: {e}", state_file.display()))
        })?;
    }

    // 4. Every entry, when asked.
    let mut entries = args.uptime.as_ref().map(|_| Vec::new());
    if args.full || entries.is_some() {
        let count = fetcher
            .check_all_entries(cp.size, &cp.root, entries.as_mut())
            .await?;
        report.push(format!(
            "all {count} entries downloaded and hashed to the checkpoint's root"
        ));
    }
    // 5. An SLA report recomputed from those entries, when asked.
    if let (Some(entries), Some(component)) = (entries, &args.uptime) {
        report.push(
            crate::verify_uptime::check(&fetcher.client, url, args, component, entries).await?,
        );
    }
    Ok(format!(
        "OK: log {} at size {}, root {}\n  - {}",
        cp.origin,
        cp.size,
        cp.root.to_base64(),
        report.join("\n  - ")
    ))
}

fn verify_proof_file(
    path: &Path,
    entry: Option<&Path>,
    verifier: Option<&Ed25519NoteVerifier>,
    policy: Option<&Policy>,
) -> Result<String, VerifyError> {
    let bytes = std::fs::read(path)
        .map_err(|e| VerifyError::Usage(format!("cannot read {}: {e}", path.display())))?;
    let Some(entry) = entry else {
        return Err(VerifyError::Usage(
            "--proof needs --entry FILE: the entry the proof is for".into(),
        ));
    };
    let entry_bytes = std::fs::read(entry)
        .map_err(|e| VerifyError::Usage(format!("cannot read {}: {e}", entry.display())))?;
    let proof = TlogProof::parse(&bytes)
        .map_err(|e| VerifyError::Mismatch(format!("{}: {e}", path.display())))?;
    let leaf = leaf_hash(&entry_bytes);
    let cp = match (verifier, policy) {
        (_, Some(policy)) => {
            proof
                .verify_with_policy(&leaf, policy)
                .map_err(|e| VerifyError::Mismatch(e.to_string()))?;
            proof.checkpoint.checkpoint().clone()
        }
        (Some(v), None) => proof
            .verify_with_log(&leaf, v.name(), v)
            .map_err(|e| VerifyError::Mismatch(e.to_string()))?
            .clone(),
        (None, None) => {
            return Err(VerifyError::Usage(
                "pin the log with --key or --policy".into(),
            ));
        }
    };
    Ok(format!(
        "OK: {} is entry {} of log {} (checkpoint size {}, root {})",
        entry.display(),
        proof.index,
        cp.origin,
        cp.size,
        cp.root.to_base64()
    ))
}

fn write_evidence(state: &Path, old: &[u8], new: &[u8]) -> String {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let old_path = state.join(format!("fork-{stamp}-seen-before.checkpoint"));
    let new_path = state.join(format!("fork-{stamp}-served-now.checkpoint"));
    match (
        std::fs::write(&old_path, old),
        std::fs::write(&new_path, new),
    ) {
        (Ok(()), Ok(())) => format!(
            " (saved as {} and {})",
            old_path.display(),
            new_path.display()
        ),
        _ => String::new(),
    }
}

struct Fetcher {
    client: reqwest::Client,
    base: String,
}

impl Fetcher {
    fn new(url: &str) -> Result<Fetcher, VerifyError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(VerifyError::Usage(format!(
                "\"{url}\" is not an http(s) URL; give the log prefix, e.g. https://trust.example.com/log"
            )));
        }
        // One crypto provider for the whole process (ring, as for the database driver).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("candor-verify/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| VerifyError::Fetch(format!("cannot make an HTTP client: {e}")))?;
        Ok(Fetcher {
            client,
            base: url.trim_end_matches('/').to_owned(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base)
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, VerifyError> {
        self.try_get(path)
            .await?
            .ok_or_else(|| VerifyError::Fetch(format!("{} answered 404", self.url(path))))
    }

    async fn try_get(&self, path: &str) -> Result<Option<Vec<u8>>, VerifyError> {
        let url = self.url(path);
        let response = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| VerifyError::Fetch(format!("GET {url}: {e}")))?;
        match response.status().as_u16() {
            200 => Ok(Some(
                response
                    .bytes()
                    .await
                    .map_err(|e| VerifyError::Fetch(format!("GET {url}: {e}")))?
                    .to_vec(),
            )),
            404 => Ok(None),
            status => Err(VerifyError::Fetch(format!("GET {url}: HTTP {status}"))),
        }
    }

    /// Fetches tiles not yet in `into`; a partial tile that became full is fetched full.
    async fn fetch_tiles(
        &self,
        ids: &[TileId],
        into: &mut BTreeMap<TileId, Vec<u8>>,
    ) -> Result<(), VerifyError> {
        for id in ids {
            if into.contains_key(id) || into.contains_key(&id.full()) {
                continue;
            }
            match self.try_get(&id.path()).await? {
                Some(data) => {
                    into.insert(*id, data);
                }
                None if !id.is_full() => {
                    let full = id.full();
                    let data = self.get(&full.path()).await?;
                    into.insert(full, data);
                }
                None => {
                    return Err(VerifyError::Fetch(format!(
                        "{} answered 404",
                        self.url(&id.path())
                    )));
                }
            }
        }
        Ok(())
    }

    /// Downloads every entry bundle and checks that the entries hash to `root`; with `keep`,
    /// also hands back every entry's bytes in log order.
    async fn check_all_entries(
        &self,
        size: u64,
        root: &Hash,
        mut keep: Option<&mut Vec<Vec<u8>>>,
    ) -> Result<u64, VerifyError> {
        let bundles = size.div_ceil(256);
        let mut builder = TreeBuilder::new();
        let mut set = tokio::task::JoinSet::new();
        let mut next_to_fetch = 0u64;
        let mut ready: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let mut next_to_hash = 0u64;
        while next_to_hash < bundles {
            while next_to_fetch < bundles && set.len() < 8 {
                let width = (size - next_to_fetch * 256).min(256);
                let path = bundle_path(next_to_fetch, width)?;
                let client = self.client.clone();
                let url = self.url(&path);
                let index = next_to_fetch;
                set.spawn(async move {
                    let r = client
                        .get(&url)
                        .send()
                        .await
                        .map_err(|e| VerifyError::Fetch(format!("GET {url}: {e}")))?;
                    if r.status() != 200 {
                        return Err(VerifyError::Fetch(format!(
                            "GET {url}: HTTP {}",
                            r.status()
                        )));
                    }
                    let body = r
                        .bytes()
                        .await
                        .map_err(|e| VerifyError::Fetch(format!("GET {url}: {e}")))?;
                    Ok((index, body.to_vec()))
                });
                next_to_fetch += 1;
            }
            let Some(joined) = set.join_next().await else {
                break;
            };
            let (index, body) = joined.map_err(|e| VerifyError::Fetch(e.to_string()))??;
            ready.insert(index, body);
            while let Some(body) = ready.remove(&next_to_hash) {
                let entries = parse_bundle(&body).map_err(|e| {
                    VerifyError::Mismatch(format!("entry bundle {next_to_hash}: {e}"))
                })?;
                let expected = (size - next_to_hash * 256).min(256);
                if entries.len() as u64 != expected {
                    return Err(VerifyError::Mismatch(format!(
                        "entry bundle {next_to_hash} has {} entries, expected {expected}",
                        entries.len()
                    )));
                }
                for entry in entries {
                    builder
                        .append_with(leaf_hash(entry), |_, _| {})
                        .map_err(|e| VerifyError::Mismatch(e.to_string()))?;
                    if let Some(keep) = keep.as_mut() {
                        keep.push(entry.to_vec());
                    }
                }
                next_to_hash += 1;
            }
        }
        if builder.size() != size || builder.root() != *root {
            return Err(VerifyError::Mismatch(format!(
                "the {} entries served hash to root {}, but the checkpoint says {}: an entry was changed, removed or added",
                builder.size(),
                builder.root().to_base64(),
                root.to_base64()
            )));
        }
        Ok(size)
    }
}

fn bundle_path(index: u64, width: u64) -> Result<String, VerifyError> {
    let width =
        u16::try_from(width).map_err(|_| VerifyError::Mismatch(format!("bundle width {width}")))?;
    BundleId::new(index, width)
        .map(|b| b.path())
        .map_err(|e| VerifyError::Mismatch(e.to_string()))
}

/// Where `candor verify` keeps what it saw, when asked to.
pub fn default_state_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".candor").join("verify"))
}
