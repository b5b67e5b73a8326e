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
