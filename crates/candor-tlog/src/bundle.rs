//! tlog-tiles entry bundles: up to 256 entries, each a big-endian uint16 length and the bytes.

use thiserror::Error;

use crate::merkle::{Hash, leaf_hash};
use crate::tiles::TILE_WIDTH;

/// Largest entry a bundle can hold (uint16 length prefix).
pub const MAX_ENTRY_SIZE: usize = u16::MAX as usize;

/// Why an entry bundle is malformed or cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BundleError {
    /// A bundle must hold at least one entry.
    #[error("entry bundle is empty")]
    Empty,
    /// More than 256 entries.
    #[error("entry bundle holds more than 256 entries")]
    TooManyEntries,
    /// An entry is larger than 65,535 bytes.
    #[error("entry {index} is {size} bytes, larger than the 65535-byte limit")]
    EntryTooLarge {
        /// Position in the bundle.
        index: usize,
        /// Its size.
        size: usize,
    },
    /// The data ends inside a length prefix.
    #[error("entry bundle ends inside the length prefix of entry {index} (offset {offset})")]
    TruncatedLength {
        /// Position in the bundle.
        index: usize,
        /// Byte offset of the prefix.
        offset: usize,
    },
    /// The data ends inside an entry.
    #[error("entry {index} declares {declared} bytes but only {available} remain")]
    TruncatedEntry {
        /// Position in the bundle.
        index: usize,
        /// Declared length.
        declared: usize,
        /// Bytes left.
        available: usize,
    },
    /// The bundle holds a different number of entries than its path says.
    #[error("entry bundle holds {got} entries, expected {expected}")]
    WrongCount {
        /// Entries found.
        got: usize,
        /// Entries required.
        expected: usize,
    },
}

/// Encodes entries as a bundle (1–256 entries of at most 65,535 bytes).
pub fn encode_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, BundleError> {
    if entries.is_empty() {
        return Err(BundleError::Empty);
    }
    if entries.len() > usize::from(TILE_WIDTH) {
        return Err(BundleError::TooManyEntries);
    }
    let total: usize = entries.iter().map(|e| e.as_ref().len() + 2).sum();
    let mut out = Vec::with_capacity(total);
    for (index, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| BundleError::EntryTooLarge {
            index,
            size: entry.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Splits a bundle into its entries (1–256 of them).
pub fn parse_bundle(data: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    if data.is_empty() {
        return Err(BundleError::Empty);
    }
    let mut entries = Vec::new();
    let mut at = 0usize;
    while at < data.len() {
        let index = entries.len();
        if index == usize::from(TILE_WIDTH) {
            return Err(BundleError::TooManyEntries);
        }
        let prefix = data
            .get(at..at + 2)
            .ok_or(BundleError::TruncatedLength { index, offset: at })?;
        let declared = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        at += 2;
        let available = data.len() - at;
        let entry = data
            .get(at..at + declared)
            .ok_or(BundleError::TruncatedEntry {
                index,
                declared,
                available,
            })?;
        entries.push(entry);
        at += declared;
    }
    Ok(entries)
}

/// Splits a bundle and checks it holds exactly `width` entries.
pub fn parse_bundle_exact(data: &[u8], width: u16) -> Result<Vec<&[u8]>, BundleError> {
    let entries = parse_bundle(data)?;
    if entries.len() != usize::from(width) {
        return Err(BundleError::WrongCount {
            got: entries.len(),
            expected: usize::from(width),
        });
    }
    Ok(entries)
}

/// Leaf hashes of a bundle's entries (the contents of the matching level-0 tile).
pub fn bundle_leaf_hashes(data: &[u8]) -> Result<Vec<Hash>, BundleError> {
    Ok(parse_bundle(data)?.into_iter().map(leaf_hash).collect())
}
