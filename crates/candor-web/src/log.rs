//! The verifiable log at run time: integrates sequenced entries into the Merkle tree (full tiles
//! stored, partial tiles derived), signs checkpoints, and serves them per C2SP tlog-tiles.
//!
//! Safety against rewriting history: a high-water file beside the signing key (outside the
//! database) holds the newest signed checkpoint. On start the database must contain that tree:
//! if it is behind (an old backup was restored) or disagrees (a different log), the server
//! refuses to start and says how to recover, because signing a smaller or different tree would
//! fork the log.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use candor_core::Clock;
use candor_store::{ArchivedLog, LogStore, Store, StoreError, StoredCheckpoint, TreeState};
use candor_tlog::merkle::{frontier_nodes, root_from_leaf_hashes};
use candor_tlog::tiles::parse_tile_hashes;
use candor_tlog::{
    BundleId, Checkpoint, Ed25519NoteSigner, Hash, HashReader, NodeId, NoteVerifier,
    SignedCheckpoint, TileHashReader, TileId, TilePath, TreeBuilder, encode_bundle,
};

const TILE_WIDTH: usize = 256;
const HASH_BYTES: usize = 32;
/// Leaves integrated per database round trip.
const INTEGRATE_CHUNK: u64 = 16_384;

/// Why the log cannot run.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signing key cannot be read or made.
    #[error("log signing key {path}: {detail}")]
    Key {
        /// The key file.
        path: String,
        /// What went wrong and what to do.
        detail: String,
    },
    /// The database does not hold the tree that was already signed.
    #[error("{0}")]
    Rollback(String),
    /// Stored data contradicts itself.
    #[error("the log in the database is inconsistent: {0}")]
    Corrupt(String),
    /// Anything else from the log library.
    #[error("{0}")]
    Format(String),
}

/// Loads the signing key, creating it (mode 0600) when `create` and it does not exist.
///
/// A log's origin is fixed by its key. When the origin was only derived (no `log.origin` in the
/// config, e.g. a loopback address that changed) and an existing key names another origin, the
/// key's origin wins, with a warning; an explicit `log.origin` that disagrees is an error.
pub fn load_or_create_key(
    path: &Path,
    origin: &str,
    origin_explicit: bool,
    create: bool,
) -> Result<Ed25519NoteSigner, LogError> {
    let key_err = |detail: String| LogError::Key {
        path: path.display().to_string(),
        detail,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && create => {
            let signer = Ed25519NoteSigner::generate(origin).map_err(|e| key_err(e.to_string()))?;
            match write_private(path, signer.to_skey().as_bytes()) {
                Ok(()) => {
                    tracing::info!(key_file = %path.display(), vkey = %signer.vkey(), "created a new log signing key");
                    return Ok(signer);
                }
                // Another process sharing the data directory made it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    std::fs::read_to_string(path)
                        .map_err(|e| key_err(format!("cannot read: {e}")))?
                }
                Err(e) => return Err(key_err(format!("cannot create: {e}"))),
            }
        }
        Err(err) => {
            return Err(key_err(format!(
                "cannot read: {err}; create one with `candor keygen`"
            )));
        }
    };
    let signer = Ed25519NoteSigner::from_skey(text.trim())
        .map_err(|e| key_err(format!("cannot parse: {e}")))?;
    let key_origin = candor_tlog::NoteSigner::name(&signer).to_owned();
    if key_origin != origin {
        if origin_explicit {
            return Err(key_err(format!(
                "the key signs for origin \"{key_origin}\" but log.origin is \"{origin}\"; a log's key and origin never change: use this log's key, or start a new log (new origin, new data directory)"
            )));
        }
        tracing::warn!(key_origin = %key_origin, derived_origin = %origin, "the log keeps the origin its key was made for; set log.origin to make this explicit");
    }
    Ok(signer)
}

/// Writes a new file readable only by its owner, refusing to overwrite one.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    if path.exists() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!("{} already exists", path.display()),
        ));
    }
    // Write and sync a temporary file, then link it into place: a crash can leave a stray
    // temporary file but never an empty or partial key under the real name.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.new", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
    }
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked?;
    std::fs::File::open(dir)?.sync_all()
}

/// Replaces `path` atomically and durably: temp file, fsync, rename, fsync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let step = |what: String| {
        move |e: std::io::Error| std::io::Error::new(e.kind(), format!("{what}: {e}"))
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut file =
            std::fs::File::create(&tmp).map_err(step(format!("create {}", tmp.display())))?;
        file.write_all(bytes)
            .map_err(step(format!("write {}", tmp.display())))?;
        file.sync_all()
            .map_err(step(format!("sync {}", tmp.display())))?;
    }
    std::fs::rename(&tmp, path).map_err(step(format!(
        "rename {} to {}",
        tmp.display(),
        path.display()
    )))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(step(format!("sync {}", dir.display())))
}

/// The tree as integrated so far, plus the hashes of the tiles not yet full at each level.
#[derive(Clone, Default)]
struct Integrator {
    builder: TreeBuilder,
    /// `partial[k]`: the hashes (Merkle level 8k) collected for the current level-k tile.
    partial: Vec<Vec<u8>>,
}

impl Integrator {
    /// Appends a leaf; returns the tiles it completed.
    fn push(
        &mut self,
        leaf: Hash,
        completed: &mut Vec<(u8, u64, Vec<u8>)>,
    ) -> Result<(), LogError> {
        let partial = &mut self.partial;
        self.builder
            .append_with(leaf, |node, hash| {
                if node.level % 8 == 0 {
                    let k = usize::from(node.level / 8);
                    if partial.len() <= k {
                        partial.resize(k + 1, Vec::new());
                    }
                    if let Some(buffer) = partial.get_mut(k) {
                        buffer.extend_from_slice(&hash.0);
                        if buffer.len() == TILE_WIDTH * HASH_BYTES {
                            completed.push((
                                node.level / 8,
                                node.index >> 8,
                                std::mem::take(buffer),
                            ));
                        }
                    }
                }
            })
            .map_err(|e| LogError::Format(e.to_string()))
    }

    fn state(&self) -> TreeState {
        TreeState {
            size: self.builder.size(),
            root: self.builder.root().0,
        }
    }
}

/// The latest signed checkpoint, as served.
#[derive(Debug, Clone)]
pub struct LatestCheckpoint {
    /// Tree size.
    pub size: u64,
    /// The signed note.
    pub note: Bytes,
}

/// The running log.
pub struct LogService {
    origin: String,
    signer: Ed25519NoteSigner,
    store: Store,
    clock: Arc<dyn Clock>,
    highwater_path: PathBuf,
    highwater: std::sync::Mutex<Option<Checkpoint>>,
    integrator: tokio::sync::Mutex<Integrator>,
    integrated_size: AtomicU64,
    latest: ArcSwapOption<LatestCheckpoint>,
    wake: tokio::sync::Notify,
    /// Logs retired by key rotations, served read-only under `/log/archive/<id>/`.
    archives: Vec<ArchivedLog>,
    /// Serialises the witnesses' updates of the served note.
    cosigning: tokio::sync::Mutex<()>,
}

impl LogService {
    /// Resumes the tree from its stored tiles, checks it against the high-water checkpoint and
    /// integrates whatever was sequenced but not yet integrated. It signs nothing yet.
    pub async fn open(
        store: Store,
        clock: Arc<dyn Clock>,
        origin: String,
        signer: Ed25519NoteSigner,
        highwater_path: PathBuf,
    ) -> Result<Arc<LogService>, LogError> {
        let all_archives = store.archives().await?;
        if let Some(retired) = all_archives
            .iter()
            .find(|a| a.complete && a.origin == origin)
        {
            return Err(LogError::Rollback(format!(
                "the log \"{}\" was retired by a key rotation (it is archive {}, served under /log/archive/{}/); this key \
                 may not sign again. If `candor rotate-log` was interrupted, run it again to finish; otherwise configure the \
                 new log's key file and origin.",
                retired.origin, retired.id, retired.id
            )));
        }
        if let Some(unfinished) = all_archives.iter().find(|a| !a.complete) {
            return Err(LogError::Rollback(format!(
                "a key rotation of the log \"{}\" was started but not finished; run `candor rotate-log` again to finish it",
                unfinished.origin
            )));
        }
        let archives = all_archives.into_iter().filter(|a| a.complete).collect();
        let highwater = read_highwater(&highwater_path, &origin)?;
        let service = LogService {
            origin,
            signer,
            store,
            clock,
            highwater_path,
            highwater: std::sync::Mutex::new(highwater.clone()),
            integrator: tokio::sync::Mutex::new(Integrator::default()),
            integrated_size: AtomicU64::new(0),
            latest: ArcSwapOption::empty(),
            wake: tokio::sync::Notify::new(),
            archives,
            cosigning: tokio::sync::Mutex::new(()),
        };
        if let Some(hw) = &highwater {
            let sequenced = service.store.sequenced_size().await?;
            if sequenced < hw.size {
                return Err(LogError::Rollback(format!(
                    "the database holds {sequenced} log entries, but a checkpoint of size {} was already signed (recorded in {}). \
                     The database was restored from an older backup or belongs to another log. Restore the newest backup of this \
                     log's database. Do not delete the high-water file: signing a smaller tree would fork the log, which every \
                     witness and verifier would detect.",
                    hw.size,
                    service.highwater_path.display()
                )));
            }
        }
        // Resume the in-memory frontier from the stored tiles: O(log n) hashes, read from at
        // most a few hundred tiles, however long the log is.
        if let Some(state) = service.store.tree_state().await? {
            let resumed = resume(&service.store, state.size).await?;
            if resumed.state() != state {
                return Err(LogError::Corrupt(format!(
                    "the stored tiles do not give the stored root for size {}",
                    state.size
                )));
            }
            if let Some(hw) = &highwater
                && hw.size <= state.size
            {
                let root = tree_root_at(&service.store, hw.size, state.size)
                    .await
                    .map_err(LogError::Corrupt)?;
                if root != hw.root {
                    return Err(LogError::Rollback(format!(
                        "the tree in the database at size {} has root {} but the checkpoint already signed for that size (in {}) has root {}: \
                         this database does not hold the log that was published. Restore this log's own database.",
                        hw.size,
                        root.to_base64(),
                        service.highwater_path.display(),
                        hw.root.to_base64()
                    )));
                }
            }
            *service.integrator.lock().await = resumed;
            service.integrated_size.store(state.size, Ordering::Release);
        }
        if let Some(cp) = service.store.latest_checkpoint().await? {
            service.check_stored_checkpoint(&cp)?;
            service.latest.store(Some(Arc::new(LatestCheckpoint {
                size: cp.size,
                note: Bytes::from(cp.note.into_bytes()),
            })));
        }
        let service = Arc::new(service);
        // Integrating is deterministic and safe; signing waits for `sign_if_grown` (the caller
        // first asks the witnesses whether the database was rolled back).
        service.integrate_once().await?;
        Ok(service)
    }

    fn check_stored_checkpoint(&self, cp: &StoredCheckpoint) -> Result<(), LogError> {
        let parsed = SignedCheckpoint::parse(cp.note.as_bytes())
            .map_err(|e| LogError::Corrupt(format!("stored checkpoint: {e}")))?;
        parsed.verify_log(&self.origin, &self.signer.verifier()).map_err(|e| {
            LogError::Rollback(format!(
                "the newest checkpoint in the database was not signed by this key for origin \"{}\" ({e}). A log's origin and key never \
                 change once a checkpoint is signed: restore the original key file, or start a new log with a new origin and data directory.",
                self.origin
            ))
        })?;
        Ok(())
    }

    fn check_highwater(&self, integrator: &Integrator) -> Result<(), LogError> {
        let guard = self
            .highwater
            .lock()
            .map_err(|_| LogError::Corrupt("high-water lock poisoned".into()))?;
        if let Some(hw) = guard.as_ref()
            && integrator.builder.size() == hw.size
            && integrator.builder.root() != hw.root
        {
            return Err(LogError::Rollback(format!(
                "the tree in the database at size {} has root {} but the checkpoint already signed for that size (in {}) has root {}: \
                 this database does not hold the log that was published. Restore this log's own database.",
                hw.size,
                integrator.builder.root().to_base64(),
                self.highwater_path.display(),
                hw.root.to_base64()
            )));
        }
        Ok(())
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key, in C2SP vkey format.
    pub fn vkey(&self) -> String {
        self.signer.vkey()
    }

    /// The newest signed checkpoint.
    pub fn latest(&self) -> Option<Arc<LatestCheckpoint>> {
        self.latest.load_full()
    }

    /// Asks the background loop to integrate now (after new entries were sequenced).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Integrates every sequenced entry not yet in the tree. Returns the new size.
    pub async fn integrate_once(&self) -> Result<u64, LogError> {
        let mut integrator = self.integrator.lock().await;
        // Integrate up to the head seen now, then return so a checkpoint gets signed: chasing a
        // head that keeps moving under sustained writes would starve signing.
        let head = self.store.sequenced_size().await?;
        loop {
            let from = integrator.builder.size();
            if head <= from {
                return Ok(from);
            }
            let to = head.min(from + INTEGRATE_CHUNK);
            let mut next = integrator.clone();
            let mut tiles = Vec::new();
            for leaf in self.store.leaf_hashes(from, to).await? {
                next.push(Hash(leaf), &mut tiles)?;
                self.check_highwater(&next)?;
            }
            if next.builder.size() != to {
                return Err(LogError::Corrupt(format!("entries {from}..{to} have gaps")));
            }
            if self
                .store
                .integrate(from, next.state(), &tiles, self.clock.now())
                .await?
            {
                *integrator = next;
            } else {
                // Another replica integrated first: catch up to what it stored.
                let Some(state) = self.store.tree_state().await? else {
                    continue;
                };
                let mut caught = integrator.clone();
                let mut ignored = Vec::new();
                for leaf in self.store.leaf_hashes(from, state.size).await? {
                    caught.push(Hash(leaf), &mut ignored)?;
                }
                if caught.state() != state {
                    return Err(LogError::Corrupt(format!(
                        "another replica stored root for size {} that the entries do not give",
                        state.size
                    )));
                }
                *integrator = caught;
            }
            self.integrated_size
                .store(integrator.builder.size(), Ordering::Release);
        }
    }

    /// Signs a checkpoint when the tree grew past the newest signed one (or none exists yet).
    pub async fn sign_if_grown(&self) -> Result<(), LogError> {
        let integrator = self.integrator.lock().await;
        let _cosigning = self.cosigning.lock().await;
        let state = integrator.state();
        // Another replica may have signed a newer one.
        if let Some(stored) = self.store.latest_checkpoint().await?
            && self.latest().is_none_or(|l| l.size < stored.size)
        {
            self.check_stored_checkpoint(&stored)?;
            self.latest.store(Some(Arc::new(LatestCheckpoint {
                size: stored.size,
                note: Bytes::from(stored.note.into_bytes()),
            })));
        }
        if self.latest().is_some_and(|l| l.size >= state.size) {
            return Ok(());
        }
        let checkpoint = Checkpoint::new(self.origin.clone(), state.size, Hash(state.root))
            .map_err(|e| LogError::Format(e.to_string()))?;
        let signed = checkpoint
            .sign(&self.signer)
            .map_err(|e| LogError::Format(e.to_string()))?;
        let note = signed.to_bytes();
        // The high-water mark is durable before anyone can see the checkpoint.
        write_atomic(&self.highwater_path, &note).map_err(|e| LogError::Key {
            path: self.highwater_path.display().to_string(),
            detail: format!("cannot record the signed checkpoint: {e}"),
        })?;
        if let Ok(mut hw) = self.highwater.lock() {
            *hw = Some(checkpoint);
        }
        let text = String::from_utf8(note.clone()).map_err(|e| LogError::Format(e.to_string()))?;
        self.store
            .add_checkpoint(&StoredCheckpoint {
                size: state.size,
                root: state.root,
                note: text,
                signed_at: self.clock.now(),
            })
            .await?;
        self.latest.store(Some(Arc::new(LatestCheckpoint {
            size: state.size,
            note: Bytes::from(note),
        })));
        tracing::debug!(log.size = state.size, "signed a checkpoint");
        Ok(())
    }

    /// Integrates and signs at most once a second, sooner when woken, until the process ends.
    pub fn spawn(self: &Arc<Self>) {
        let log = self.clone();
        tokio::spawn(async move {
            let mut last_sign = Instant::now();
            loop {
                tokio::select! {
                    () = log.wake.notified() => {},
                    () = tokio::time::sleep(Duration::from_secs(1)) => {},
                }
                let since = last_sign.elapsed();
                if since < Duration::from_secs(1) {
                    tokio::time::sleep(Duration::from_secs(1) - since).await;
                }
                last_sign = Instant::now();
                if let Err(err) = log.integrate_once().await {
                    tracing::error!(error = %err, "log integration failed; will retry");
                    continue;
                }
                if let Err(err) = log.sign_if_grown().await {
                    tracing::error!(error = %err, "signing a checkpoint failed; will retry");
                }
            }
        });
    }

    /// Serves `/log/<rest>`: `checkpoint`, `key`, `tile/…`.
    pub async fn serve(&self, rest: &str) -> Response {
        match rest {
            "checkpoint" => match self.latest() {
                Some(latest) => bytes_response(
                    latest.note.clone(),
                    "text/plain; charset=utf-8",
                    "public, max-age=5",
                ),
                None => plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no checkpoint has been signed yet\n",
                ),
            },
            "key" => bytes_response(
                Bytes::from(format!("{}\n", self.vkey())),
                "text/plain; charset=utf-8",
                "public, max-age=3600",
            ),
            _ if rest.starts_with("archive/") => self.serve_archive(rest).await,
            _ => match TilePath::parse(rest) {
                Ok(tile) => self.serve_tile(tile).await,
                Err(err) => plain(StatusCode::NOT_FOUND, &format!("not found: {err}\n")),
            },
        }
    }

    async fn serve_tile(&self, tile: TilePath) -> Response {
        let size = self.integrated_size.load(Ordering::Acquire);
        let result = match tile {
            TilePath::Hashes(id) => {
                self.hash_tile(id.level, id.index, usize::from(id.width), size)
                    .await
            }
            TilePath::Entries(id) => {
                self.entry_bundle(id.index, usize::from(id.width), size)
                    .await
            }
        };
        let full = match tile {
            TilePath::Hashes(id) => usize::from(id.width) == TILE_WIDTH,
            TilePath::Entries(id) => usize::from(id.width) == TILE_WIDTH,
        };
        match result {
            Ok(Some(data)) => {
                let cache = if full {
                    "public, max-age=31536000, immutable"
                } else {
                    "public, max-age=300"
                };
                bytes_response(Bytes::from(data), "application/octet-stream", cache)
            }
            Ok(None) => plain(
                StatusCode::NOT_FOUND,
                "this tile does not exist (yet) in this log\n",
            ),
            Err(err) => {
                tracing::error!(error = %err, "reading a tile failed");
                plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the log is temporarily unavailable\n",
                )
            }
        }
    }

    async fn hash_tile(
        &self,
        level: u8,
        index: u64,
        width: usize,
        size: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        hash_tile(&self.store, level, index, width, size).await
    }

    async fn entry_bundle(
        &self,
        index: u64,
        width: usize,
        size: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        entry_bundle(&self.store, index, width, size).await
    }

    /// Logs retired by key rotations, oldest first.
    pub fn archives(&self) -> &[ArchivedLog] {
        &self.archives
    }

    /// Serves `/log/archive/<id>/…`: a retired log, frozen at its final checkpoint.
    async fn serve_archive(&self, rest: &str) -> Response {
        let not_found = || {
            plain(
                StatusCode::NOT_FOUND,
                "there is no such archived log or file\n",
            )
        };
        let Some((id, file)) = rest
            .strip_prefix("archive/")
            .and_then(|r| r.split_once('/'))
        else {
            return not_found();
        };
        let Some(archive) = self.archives.iter().find(|a| id.parse() == Ok(a.id)) else {
            return not_found();
        };
        // A frozen log never changes: everything may be cached for long.
        const FROZEN: &str = "public, max-age=31536000, immutable";
        match file {
            "checkpoint" => bytes_response(
                Bytes::from(archive.checkpoint.clone().into_bytes()),
                "text/plain; charset=utf-8",
                "public, max-age=3600",
            ),
            "key" => bytes_response(
                Bytes::from(format!("{}\n", archive.vkey)),
                "text/plain; charset=utf-8",
                FROZEN,
            ),
            _ => {
                let Ok(tile) = TilePath::parse(file) else {
                    return not_found();
                };
                match self.store.archive_file(archive.id, &tile.path()).await {
                    Ok(Some(data)) => {
                        bytes_response(Bytes::from(data), "application/octet-stream", FROZEN)
                    }
                    Ok(None) => not_found(),
                    Err(err) => {
                        tracing::error!(error = %err, "reading an archived tile failed");
                        plain(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "the log is temporarily unavailable\n",
                        )
                    }
                }
            }
        }
    }
}

/// The data of hash tile (`level`, `index`) of `width` hashes in the tree of `size` leaves: full
/// tiles as stored, partial ones derived from the level below. `None` when the tree does not
/// reach it.
pub(crate) async fn hash_tile(
    store: &Store,
    level: u8,
    index: u64,
    width: usize,
    size: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    // A tile exists only as far as the tree goes.
    let span = 1u64.checked_shl(8 * u32::from(level)).unwrap_or(u64::MAX);
    let first = index.saturating_mul(TILE_WIDTH as u64);
    let needed = first.saturating_add(width as u64).saturating_mul(span);
    if needed > size || level >= 8 {
        return Ok(None);
    }
    if width == TILE_WIDTH {
        return store.full_tile(level, index).await;
    }
    if level == 0 {
        let leaves = store.leaf_hashes(first, first + width as u64).await?;
        return Ok((leaves.len() == width).then(|| leaves.concat()));
    }
    let below = store
        .full_tiles(level - 1, first, first + width as u64)
        .await?;
    if below.len() != width {
        return Ok(None);
    }
    let mut data = Vec::with_capacity(width * HASH_BYTES);
    for tile in below {
        let Ok(hashes) = parse_tile_hashes(&tile) else {
            return Ok(None);
        };
        data.extend_from_slice(&root_from_leaf_hashes(&hashes).0);
    }
    Ok(Some(data))
}

/// Entry bundle `index` of `width` entries in the tree of `size` leaves.
pub(crate) async fn entry_bundle(
    store: &Store,
    index: u64,
    width: usize,
    size: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let first = index.saturating_mul(TILE_WIDTH as u64);
    if first.saturating_add(width as u64) > size {
        return Ok(None);
    }
    let entries = store.entries(first, first + width as u64).await?;
    if entries.len() != width {
        return Ok(None);
    }
    let bodies: Vec<&[u8]> = entries.iter().map(|e| e.entry.as_slice()).collect();
    Ok(encode_bundle(&bodies).ok())
}

/// The hashes of `nodes` (complete subtrees of the tree of `size` leaves), read from its tiles.
async fn read_nodes(store: &Store, nodes: &[NodeId], size: u64) -> Result<Vec<Hash>, String> {
    let tiles = candor_tlog::tiles::tiles_for_nodes(nodes, size).map_err(|e| e.to_string())?;
    let mut map = std::collections::BTreeMap::new();
    for tile in tiles {
        let data = hash_tile(store, tile.level, tile.index, usize::from(tile.width), size)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("tile {} is missing", tile.path()))?;
        map.insert(tile, data);
    }
    TileHashReader::new(size, &map)
        .read_hashes(nodes)
        .map_err(|e| e.to_string())
}

/// The root of the first `at` leaves, read from the tiles of the tree of `size` leaves.
async fn tree_root_at(store: &Store, at: u64, size: u64) -> Result<Hash, String> {
    if at == 0 {
        return Ok(candor_tlog::empty_root());
    }
    let hashes = read_nodes(store, &frontier_nodes(at), size).await?;
    let Some((last, rest)) = hashes.split_last() else {
        return Err(format!("no hashes for a tree of size {at}"));
    };
    Ok(rest
        .iter()
        .rev()
        .fold(*last, |acc, left| candor_tlog::node_hash(left, &acc)))
}

/// The integrator of a tree of `size` leaves, from its stored tiles: the frontier (roots of its
/// complete subtrees) and, at each tile level, the hashes of the tile not yet full.
async fn resume(store: &Store, size: u64) -> Result<Integrator, LogError> {
    let frontier = read_nodes(store, &frontier_nodes(size), size)
        .await
        .map_err(|e| LogError::Corrupt(format!("cannot resume the tree of size {size}: {e}")))?;
    let builder =
        TreeBuilder::from_frontier(size, frontier).map_err(|e| LogError::Corrupt(e.to_string()))?;
    let mut partial = Vec::new();
    for level in 0u8..8 {
        let count = size.checked_shr(8 * u32::from(level)).unwrap_or(0);
        if count == 0 {
            break;
        }
        let width = (count % TILE_WIDTH as u64) as usize;
        let data = if width == 0 {
            Vec::new()
        } else {
            hash_tile(store, level, count / TILE_WIDTH as u64, width, size)
                .await?
                .ok_or_else(|| {
                    LogError::Corrupt(format!(
                        "the partial tile at level {level} of the tree of size {size} cannot be derived"
                    ))
                })?
        };
        partial.push(data);
    }
    Ok(Integrator { builder, partial })
}

/// What a key rotation did.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The archive the old log became (served under `/log/archive/<id>/`).
    pub archive_id: u64,
    /// The old log's origin.
    pub old_origin: String,
    /// The old log's verifier key.
    pub old_vkey: String,
    /// The old log's final size (its newest signed checkpoint).
    pub archived_size: u64,
    /// Entries sequenced after that checkpoint, moved into the new log after its entry 0.
    pub carried_over: u64,
}

/// Retires the live log, signed by `old`, at its newest signed checkpoint: every tile and entry
/// bundle of that tree is stored as an archive, served unchanged under `/log/archive/<id>/`;
/// then, in one transaction, the live log starts again with a `log.rotation` entry (naming the
/// old origin, key, size and root) followed by any entries sequenced after that checkpoint. The
/// new log is signed by a new key for `new_origin` from its first checkpoint on.
///
/// Run it with the server stopped. An interrupted rotation resumes where it stopped.
pub async fn rotate(
    store: &Store,
    old: &Ed25519NoteSigner,
    new_origin: &str,
    clock: &dyn Clock,
) -> Result<Rotation, LogError> {
    let old_origin = candor_tlog::NoteSigner::name(old).to_owned();
    if new_origin == old_origin {
        return Err(LogError::Format(format!(
            "the new origin must differ from the old one (\"{old_origin}\"): a new key means a new log"
        )));
    }
    if let Some(used) = store
        .archives()
        .await?
        .into_iter()
        .find(|a| a.complete && a.origin == new_origin)
    {
        return Err(LogError::Format(format!(
            "the origin \"{new_origin}\" belongs to archived log {}; an origin is never reused",
            used.id
        )));
    }
    let Some(latest) = store.latest_checkpoint().await? else {
        return Err(LogError::Format(
            "this log has no signed checkpoint yet, so there is nothing to retire: replace the key file and set \
             log.origin instead"
                .into(),
        ));
    };
    let signed = SignedCheckpoint::parse(latest.note.as_bytes())
        .map_err(|e| LogError::Corrupt(format!("stored checkpoint: {e}")))?;
    let checkpoint = signed
        .verify_log(&old_origin, &old.verifier())
        .map_err(|e| {
            LogError::Rollback(format!(
                "the newest checkpoint in the database was not signed by the configured key for \"{old_origin}\" ({e}); \
                 rotate with the key of the log in this database"
            ))
        })?
        .clone();
    let size = checkpoint.size;
    let now = clock.now();
    let archive_id = store
        .begin_archive(&ArchivedLog {
            id: 0,
            origin: old_origin.clone(),
            vkey: old.vkey(),
            size,
            root: checkpoint.root.0,
            checkpoint: latest.note.clone(),
            complete: false,
            archived_at: now,
        })
        .await?;
    let format = |e: candor_tlog::TileError| LogError::Format(e.to_string());
    let missing = |what: String| {
        LogError::Corrupt(format!("{what} of the tree of size {size} cannot be read"))
    };
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let width_at =
        |count: u64, index: u64| (count - index * TILE_WIDTH as u64).min(TILE_WIDTH as u64) as u16;
    for index in 0..size.div_ceil(TILE_WIDTH as u64) {
        let bundle = BundleId::new(index, width_at(size, index)).map_err(format)?;
        let data = entry_bundle(store, index, usize::from(bundle.width), size)
            .await?
            .ok_or_else(|| missing(bundle.path()))?;
        files.push((bundle.path(), data));
        if files.len() >= TILE_WIDTH {
            store
                .add_archive_files(archive_id, &std::mem::take(&mut files))
                .await?;
        }
    }
    for level in 0u8..8 {
        let count = size.checked_shr(8 * u32::from(level)).unwrap_or(0);
        if count == 0 {
            break;
        }
        for index in 0..count.div_ceil(TILE_WIDTH as u64) {
            let tile = TileId::new(level, index, width_at(count, index)).map_err(format)?;
            let data = hash_tile(store, level, index, usize::from(tile.width), size)
                .await?
                .ok_or_else(|| missing(tile.path()))?;
            files.push((tile.path(), data));
            if files.len() >= TILE_WIDTH {
                store
                    .add_archive_files(archive_id, &std::mem::take(&mut files))
                    .await?;
            }
        }
    }
    store.add_archive_files(archive_id, &files).await?;
    let first = candor_core::entries::log_rotation(
        &old_origin,
        &old.vkey(),
        size,
        &checkpoint.root.to_base64(),
        now,
    )
    .map_err(|e| LogError::Format(e.to_string()))?;
    let sequenced = store.sequenced_size().await?;
    store.finish_archive(archive_id, &first, now).await?;
    Ok(Rotation {
        archive_id,
        old_origin,
        old_vkey: old.vkey(),
        archived_size: size,
        carried_over: sequenced.saturating_sub(size),
    })
}

fn read_highwater(path: &Path, origin: &str) -> Result<Option<Checkpoint>, LogError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let signed = SignedCheckpoint::parse(&bytes)
                .map_err(|e| LogError::Corrupt(format!("{}: {e}", path.display())))?;
            let cp = signed.checkpoint().clone();
            if cp.origin != origin {
                return Err(LogError::Rollback(format!(
                    "{} records checkpoints of the log \"{}\", but this server is configured for \"{origin}\". A log's origin never \
                     changes once a checkpoint is signed: set log.origin back, or use a new data directory for a new log.",
                    path.display(),
                    cp.origin
                )));
            }
            Ok(Some(cp))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(LogError::Key {
            path: path.display().to_string(),
            detail: format!("cannot read: {err}"),
        }),
    }
}

fn bytes_response(
    body: Bytes,
    content_type: &'static str,
    cache_control: &'static str,
) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut response = (status, text.to_owned()).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Where a checkpoint goes to be cosigned.
pub enum WitnessEndpoint {
    /// A witness reached over HTTP at this submission prefix.
    Remote {
        /// Submission prefix.
        url: String,
        /// Its cosigner key.
        verifier: Box<candor_tlog::CosignatureVerifier>,
    },
    /// The witness inside this process.
    Builtin(Arc<crate::witness::Witness>),
}

impl WitnessEndpoint {
    fn verifier(&self) -> Result<candor_tlog::CosignatureVerifier, String> {
        match self {
            WitnessEndpoint::Remote { verifier, .. } => Ok((**verifier).clone()),
            WitnessEndpoint::Builtin(w) => {
                candor_tlog::CosignatureVerifier::from_vkey(&w.vkey()).map_err(|e| e.to_string())
            }
        }
    }

    fn label(&self) -> String {
        match self {
            WitnessEndpoint::Remote { url, .. } => url.clone(),
            WitnessEndpoint::Builtin(_) => "builtin witness".to_owned(),
        }
    }

    /// Posts one add-checkpoint request; returns (status, body).
    async fn post(&self, client: &reqwest::Client, body: Vec<u8>) -> Result<(u16, String), String> {
        match self {
            WitnessEndpoint::Remote { url, .. } => {
                let r = client
                    .post(format!("{url}/add-checkpoint"))
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = r.status().as_u16();
                Ok((status, r.text().await.map_err(|e| e.to_string())?))
            }
            WitnessEndpoint::Builtin(w) => {
                let r = w.add(&body).await;
                let status = r.status().as_u16();
                let bytes = axum::body::to_bytes(r.into_body(), 64 * 1024)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
            }
        }
    }
}

impl LogService {
    /// Submits every new checkpoint to each witness in the background and attaches the
    /// cosignatures to the served checkpoint as they arrive (publication never waits).
    pub fn spawn_witnessing(self: &Arc<Self>, witnesses: Vec<WitnessEndpoint>) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
        {
            Ok(c) => c,
            Err(err) => {
                tracing::error!(error = %err, "cannot make an HTTP client for witnesses");
                return;
            }
        };
        for witness in witnesses {
            let log = self.clone();
            let client = client.clone();
            tokio::spawn(async move { log.witness_loop(witness, client).await });
        }
    }

    async fn witness_loop(self: Arc<Self>, witness: WitnessEndpoint, client: reqwest::Client) {
        let Ok(verifier) = witness.verifier() else {
            tracing::error!(witness = %witness.label(), "unusable witness key");
            return;
        };
        let mut old_size = 0u64;
        let mut cosigned_size: Option<u64> = None;
        let mut backoff = Duration::from_secs(1);
        loop {
            let Some(latest) = self.latest() else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            if cosigned_size == Some(latest.size) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            match self
                .submit(&witness, &client, &verifier, &latest, old_size)
                .await
            {
                Ok(Submitted::Cosigned) => {
                    old_size = latest.size;
                    cosigned_size = Some(latest.size);
                    backoff = Duration::from_secs(1);
                }
                // The witness told us what it has: try again at once from there.
                Ok(Submitted::Conflict(size)) if size != old_size => old_size = size,
                Ok(Submitted::Conflict(size)) => {
                    tracing::warn!(witness = %witness.label(), size, "witness keeps answering 409 with the size we sent");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
                Err(err) => {
                    tracing::warn!(witness = %witness.label(), error = %err, retry_in_s = backoff.as_secs(), "witness did not cosign");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
    }

    async fn submit(
        &self,
        witness: &WitnessEndpoint,
        client: &reqwest::Client,
        verifier: &candor_tlog::CosignatureVerifier,
        latest: &LatestCheckpoint,
        old_size: u64,
    ) -> Result<Submitted, String> {
        let signed = SignedCheckpoint::parse(&latest.note).map_err(|e| e.to_string())?;
        let cp = signed.checkpoint().clone();
        if old_size > cp.size {
            return Err(format!(
                "the witness has size {old_size}, larger than ours ({}): it saw a log we did not sign",
                cp.size
            ));
        }
        let proof = self.consistency_proof(old_size, cp.size).await?;
        // Send the checkpoint with the log's own signature only.
        let mut log_only = SignedCheckpoint::from_note(
            candor_tlog::Note::new(signed.note().text().to_owned()).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        for sig in signed.note().signatures() {
            if sig.name == self.origin {
                log_only
                    .add_signature(sig.clone())
                    .map_err(|e| e.to_string())?;
            }
        }
        let mut body = format!("old {old_size}\n").into_bytes();
        for hash in &proof {
            body.extend_from_slice(hash.to_base64().as_bytes());
            body.push(b'\n');
        }
        body.push(b'\n');
        body.extend_from_slice(&log_only.to_bytes());
        let (status, text) = witness.post(client, body).await?;
        match status {
            200 => {
                let signatures = candor_tlog::NoteSignature::parse_lines(&text)
                    .map_err(|e| format!("unparseable cosignature: {e}"))?;
                self.attach_cosignatures(cp.size, signatures, verifier)
                    .await?;
                Ok(Submitted::Cosigned)
            }
            409 => text
                .trim()
                .parse()
                .map(Submitted::Conflict)
                .map_err(|_| format!("409 with a body that is not a size: {text:?}")),
            422 => Err(format!(
                "422: the witness finds our checkpoint inconsistent with what it saw: {}",
                text.trim()
            )),
            other => Err(format!("HTTP {other}: {}", text.trim())),
        }
    }

    async fn attach_cosignatures(
        &self,
        size: u64,
        signatures: Vec<candor_tlog::NoteSignature>,
        verifier: &candor_tlog::CosignatureVerifier,
    ) -> Result<(), String> {
        // One witness at a time changes the served note.
        let _guard = self.cosigning.lock().await;
        let Some(latest) = self.latest() else {
            return Ok(());
        };
        if latest.size != size {
            return Ok(()); // a newer checkpoint replaced it meanwhile
        }
        let current = SignedCheckpoint::parse(&latest.note).map_err(|e| e.to_string())?;
        // Start from the note without this witness's earlier cosignature (one from before a
        // restart, say): a note carries at most one signature per key.
        let mut signed = SignedCheckpoint::from_note(
            candor_tlog::Note::new(current.note().text().to_owned()).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
        for sig in current.note().signatures() {
            if sig.name != verifier.name() || sig.key_id != verifier.key_id() {
                signed
                    .add_signature(sig.clone())
                    .map_err(|e| e.to_string())?;
            }
        }
        let mut attached = 0;
        for sig in signatures {
            if sig.name != verifier.name() || sig.key_id != verifier.key_id() || attached > 0 {
                continue;
            }
            let mut candidate = signed.clone();
            candidate.add_signature(sig).map_err(|e| e.to_string())?;
            let ok = candidate
                .note()
                .verify_known(&[verifier as &dyn NoteVerifier])
                .map(|v| !v.is_empty())
                .unwrap_or(false);
            if !ok {
                return Err("the witness's cosignature does not verify with its key".into());
            }
            signed = candidate;
            attached += 1;
        }
        if attached == 0 {
            return Err("the witness answered 200 without a cosignature from its key".into());
        }
        let note = signed.to_bytes();
        // Keep the cosignatures across restarts: the stored note of this checkpoint gets them.
        let text = String::from_utf8(note.clone()).map_err(|e| e.to_string())?;
        self.store
            .update_checkpoint_note(size, signed.checkpoint().root.0, &text)
            .await
            .map_err(|e| format!("cannot store the cosigned checkpoint: {e}"))?;
        self.latest.store(Some(Arc::new(LatestCheckpoint {
            size,
            note: Bytes::from(note),
        })));
        tracing::debug!(log.size = size, witness = %verifier.name(), "attached a cosignature");
        Ok(())
    }

    /// The consistency proof between two sizes, from stored and derived tiles.
    async fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, String> {
        if old == 0 || old == new {
            return Ok(Vec::new());
        }
        let nodes =
            candor_tlog::proof::consistency_proof_nodes(old, new).map_err(|e| e.to_string())?;
        let tiles = candor_tlog::tiles::tiles_for_nodes(&nodes, new).map_err(|e| e.to_string())?;
        let mut map = std::collections::BTreeMap::new();
        for tile in tiles {
            let data = self
                .hash_tile(tile.level, tile.index, usize::from(tile.width), new)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("tile {} is missing", tile.path()))?;
            map.insert(tile, data);
        }
        candor_tlog::consistency_proof(old, new, &candor_tlog::TileHashReader::new(new, &map))
            .map_err(|e| e.to_string())
    }
}

enum Submitted {
    Cosigned,
    Conflict(u64),
}

impl LogService {
    /// Asks each witness what it last cosigned (an `old 0` submission answers 409 with its size)
    /// and fails when any witness has cosigned a larger tree than this database holds: a second
    /// source, beside the high-water file, that the database was rolled back. Witnesses that do
    /// not answer within the timeout are skipped (and logged) so a dead witness never blocks a
    /// start.
    pub async fn check_witnesses_at_start(
        &self,
        witnesses: &[WitnessEndpoint],
        timeout: Duration,
    ) -> Result<(), LogError> {
        if witnesses.is_empty() {
            return Ok(());
        }
        let latest = match self.latest() {
            Some(latest) => latest,
            None => {
                // Nothing signed in this database yet: show the witnesses the tree as it is
                // (claiming old size 0, so they answer with their own size and cosign nothing).
                let state = self.integrator.lock().await.state();
                let cp = Checkpoint::new(self.origin.clone(), state.size, Hash(state.root))
                    .map_err(|e| LogError::Format(e.to_string()))?;
                let signed = cp
                    .sign(&self.signer)
                    .map_err(|e| LogError::Format(e.to_string()))?;
                Arc::new(LatestCheckpoint {
                    size: state.size,
                    note: Bytes::from(signed.to_bytes()),
                })
            }
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let Ok(client) = reqwest::Client::builder().timeout(timeout).build() else {
            return Ok(());
        };
        let signed =
            SignedCheckpoint::parse(&latest.note).map_err(|e| LogError::Format(e.to_string()))?;
        let mut body = b"old 0\n\n".to_vec();
        body.extend_from_slice(&signed.to_bytes());
        for witness in witnesses {
            match tokio::time::timeout(timeout, witness.post(&client, body.clone())).await {
                Ok(Ok((409, text))) => {
                    if let Ok(size) = text.trim().parse::<u64>()
                        && size > latest.size
                    {
                        return Err(LogError::Rollback(format!(
                            "the witness {} has cosigned a tree of size {size} for this log, but the database only reaches size {}. \
                             The database was restored from an older backup (or the high-water file was removed). Restore the newest \
                             backup of this log's database; signing a smaller tree would fork the log.",
                            witness.label(),
                            latest.size
                        )));
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    tracing::warn!(witness = %witness.label(), error = %err, "witness unreachable at start; not consulted")
                }
                Err(_) => {
                    tracing::warn!(witness = %witness.label(), "witness did not answer in time at start; not consulted")
                }
            }
        }
        Ok(())
    }
}
