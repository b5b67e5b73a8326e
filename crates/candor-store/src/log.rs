//! Storage of the verifiable log: sequenced entries, full hash tiles, the integrated tree state
//! and signed checkpoints. Entries are appended by the store's own fact-recording transactions
//! (see `record_revisions`), never on their own, so a fact and its entry commit together.

use std::future::Future;

use time::OffsetDateTime;

use crate::StoreError;

/// One sequenced log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequencedEntry {
    /// Leaf index.
    pub seq: u64,
    /// Registered entry type.
    pub entry_type: String,
    /// Canonical bytes.
    pub entry: Vec<u8>,
    /// RFC 6962 leaf hash.
    pub leaf_hash: [u8; 32],
    /// When it was sequenced.
    pub recorded_at: OffsetDateTime,
}

/// How far the Merkle tree has been integrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeState {
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash.
    pub root: [u8; 32],
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: [u8; 32],
    /// The signed note, exactly as served.
    pub note: String,
    /// When it was signed.
    pub signed_at: OffsetDateTime,
}

/// A full tile made during integration: (level, index, 256 × 32 bytes).
pub type NewTile = (u8, u64, Vec<u8>);

/// A log retired by a key rotation, frozen at its last signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedLog {
    /// Served under `/log/archive/<id>/`.
    pub id: u64,
    /// Its origin (never reused).
    pub origin: String,
    /// Its verifier key.
    pub vkey: String,
    /// Its final size.
    pub size: u64,
    /// Its final root.
    pub root: [u8; 32],
    /// Its final signed checkpoint, cosignatures included.
    pub checkpoint: String,
    /// Whether the live log has switched to the new origin (files are all stored).
    pub complete: bool,
    /// When the rotation started.
    pub archived_at: OffsetDateTime,
}

/// The log's storage.
pub trait LogStore: Send + Sync {
    /// Number of sequenced entries (the next leaf index).
    fn sequenced_size(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Leaf hashes of entries `from..to`, in order.
    fn leaf_hashes(
        &self,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<[u8; 32]>, StoreError>> + Send;
    /// Entries `from..to`, in order.
    fn entries(
        &self,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<SequencedEntry>, StoreError>> + Send;
    /// The integrated tree, if anything was integrated yet.
    fn tree_state(&self) -> impl Future<Output = Result<Option<TreeState>, StoreError>> + Send;
    /// A full tile, if it exists.
    fn full_tile(
        &self,
        level: u8,
        index: u64,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// Moves the tree from `from_size` to `new` and stores the tiles completed on the way, in one
    /// transaction. Returns false (changing nothing) when another integrator moved it first.
    fn integrate(
        &self,
        from_size: u64,
        new: TreeState,
        tiles: &[NewTile],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Stores a signed checkpoint. Storing one with the size of an existing one but another root
    /// is refused ([`StoreError::Conflict`]).
    fn add_checkpoint(
        &self,
        checkpoint: &StoredCheckpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Replaces the note of the stored checkpoint of `size` and `root` with one carrying more
    /// signatures (witness cosignatures), so they survive a restart. The caller checks that the
    /// new note is the same checkpoint; a checkpoint of another root is never touched.
    fn update_checkpoint_note(
        &self,
        size: u64,
        root: [u8; 32],
        note: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Full tiles `from..to` of one level, in order, stopping at the first missing one.
    fn full_tiles(
        &self,
        level: u8,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<Vec<u8>>, StoreError>> + Send;
    /// Starts retiring the live log (see [`ArchivedLog`]), or returns the unfinished archive of
    /// the same origin from an interrupted rotation. Its files are added with
    /// [`LogStore::add_archive_files`], then [`LogStore::finish_archive`] switches over.
    fn begin_archive(
        &self,
        archive: &ArchivedLog,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Stores files (`tile/…` path, bytes) of an unfinished archive; storing one twice is a no-op.
    fn add_archive_files(
        &self,
        archive_id: u64,
        files: &[(String, Vec<u8>)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// In one transaction: checks that the newest signed checkpoint is still the archive's,
    /// marks the archive complete, removes the archived entries, tiles, tree and checkpoints
    /// from the live log, renumbers the entries sequenced after the archive's size to follow
    /// `first_entry` (the new log's entry 0). [`StoreError::Conflict`] when the log moved on.
    fn finish_archive(
        &self,
        archive_id: u64,
        first_entry: &candor_core::entries::Entry,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every archive, oldest first.
    fn archives(&self) -> impl Future<Output = Result<Vec<ArchivedLog>, StoreError>> + Send;
    /// One file of a complete archive.
    fn archive_file(
        &self,
        archive_id: u64,
        path: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;
    /// The newest signed checkpoint.
    fn latest_checkpoint(
        &self,
    ) -> impl Future<Output = Result<Option<StoredCheckpoint>, StoreError>> + Send;
    /// Appends an entry that records no other state (e.g. a `digest.batch`). With an
    /// idempotency key, a retry returns the first append's index instead of adding a duplicate;
    /// the flag says whether this call appended.
    fn append_entry(
        &self,
        entry: &candor_core::entries::Entry,
        at: OffsetDateTime,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = Result<(u64, bool), StoreError>> + Send;
}

pub(crate) fn hash32(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes.try_into().map_err(|_| {
        StoreError::Corrupt(format!(
            "expected a 32-byte hash, found {} bytes",
            bytes.len()
        ))
    })
}

pub(crate) fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} is out of range")))
}

pub(crate) type EntryRow = (i64, String, Vec<u8>, Vec<u8>, i64);

pub(crate) fn entry_from_row(
    (seq, entry_type, entry, leaf_hash, ms): EntryRow,
) -> Result<SequencedEntry, StoreError> {
    Ok(SequencedEntry {
        seq: u64::try_from(seq)
            .map_err(|_| StoreError::Corrupt(format!("negative sequence number {seq}")))?,
        entry_type,
        entry,
        leaf_hash: hash32(&leaf_hash)?,
        recorded_at: crate::from_ms(ms),
    })
}

/// The tiles of `rows` ((index, data), ordered) that follow on from `from` without a gap.
pub(crate) fn contiguous_tiles(from: u64, rows: Vec<(i64, Vec<u8>)>) -> Vec<Vec<u8>> {
    (from..)
        .zip(rows)
        .take_while(|(expected, (index, _))| u64::try_from(*index).ok() == Some(*expected))
        .map(|(_, (_, data))| data)
        .collect()
}

pub(crate) type ArchiveRow = (i64, String, String, i64, Vec<u8>, String, bool, i64);

pub(crate) fn archive_from_row(
    (id, origin, vkey, size, root, checkpoint, complete, ms): ArchiveRow,
) -> Result<ArchivedLog, StoreError> {
    Ok(ArchivedLog {
        id: u64::try_from(id).map_err(|_| StoreError::Corrupt(format!("archive id {id}")))?,
        origin,
        vkey,
        size: u64::try_from(size)
            .map_err(|_| StoreError::Corrupt(format!("archive size {size}")))?,
        root: hash32(&root)?,
        checkpoint,
        complete,
        archived_at: crate::from_ms(ms),
    })
}
