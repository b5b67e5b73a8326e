//! RFC 6962 / RFC 9162 Merkle tree hashing: leaf and node hashes, tree roots and an incremental
//! builder that reports every newly completed subtree so a server can store it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Size in bytes of every hash in the tree (SHA-256).
pub const HASH_SIZE: usize = 32;

/// A SHA-256 hash of a leaf, an interior node or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

/// Why a string or byte slice is not a hash.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HashParseError {
    /// The text is not canonical standard base64 (RFC 4648 §4, with padding).
    #[error("hash {text:?} is not canonical standard base64 with padding")]
    NotBase64 {
        /// The rejected text (truncated to 100 characters).
        text: String,
    },
    /// The decoded value has the wrong length.
    #[error("hash decodes to {got} bytes, expected 32")]
    WrongLength {
        /// Number of bytes decoded.
        got: usize,
    },
}

impl Hash {
    /// Returns the raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_SIZE] {
        &self.0
    }

    /// Builds a hash from a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashParseError> {
        let array: [u8; HASH_SIZE] = bytes
            .try_into()
            .map_err(|_| HashParseError::WrongLength { got: bytes.len() })?;
        Ok(Hash(array))
    }

    /// Encodes the hash as standard padded base64 (the encoding used by checkpoints and proofs).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses standard padded base64 (canonical encoding only) into a hash.
    pub fn from_base64(text: &str) -> Result<Self, HashParseError> {
        let bytes =
            crate::encoding::decode_base64(text).ok_or_else(|| HashParseError::NotBase64 {
                text: text.chars().take(100).collect(),
            })?;
        Self::from_slice(&bytes)
    }

    /// Encodes the hash as lowercase hex (for logs and error messages).
    pub fn to_hex(&self) -> String {
        crate::encoding::hex_lower(&self.0)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

/// RFC 6962 leaf hash: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    Hash(hasher.finalize().into())
}

/// RFC 6962 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

/// Root hash of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// A complete (perfect) subtree: the `2^level` leaves starting at leaf `index << level`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct NodeId {
    /// Height above the leaves (0 = a leaf hash).
    pub level: u8,
    /// Position among the nodes of this level, counting from the left.
    pub index: u64,
}

impl NodeId {
    /// Creates a node identifier.
    pub fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }

    /// Half-open range of leaf indices covered, or `None` if it does not fit in a u64 tree.
    pub fn leaf_range(&self) -> Option<(u64, u64)> {
        if self.level > 63 {
            return None;
        }
        let width = 1u128 << self.level;
        let start = u128::from(self.index) * width;
        let end = start + width;
        if end > u128::from(u64::MAX) {
            return None;
        }
        Some((start as u64, end as u64))
    }
}

/// Splits `[start, end)` into maximal aligned complete subtrees, left to right.
///
/// Only ranges produced by the RFC 6962 recursion (start aligned to a power of two at least
/// as large as the range) are folded back into a Merkle hash with [`fold_subtrees`].
pub(crate) fn subtrees_of_range(start: u64, end: u64, out: &mut Vec<NodeId>) {
    let mut at = start;
    while at < end {
        let remaining = end - at;
        let mut level = if at == 0 { 63 } else { at.trailing_zeros() };
        while (1u128 << level) > u128::from(remaining) {
            level -= 1;
        }
        out.push(NodeId {
            level: level as u8,
            index: at >> level,
        });
        at += 1u64 << level;
    }
}

/// Folds subtree roots of decreasing size (left to right) into the root of their union.
pub(crate) fn fold_subtrees(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    let mut acc = *last;
    for left in rest.iter().rev() {
        acc = node_hash(left, &acc);
    }
    Some(acc)
}

/// Root of a complete subtree from its `2^k` bottom-level hashes (pairwise hashing).
pub(crate) fn complete_subtree_root(hashes: &[Hash]) -> Option<Hash> {
    if hashes.is_empty() || !hashes.len().is_power_of_two() {
        return None;
    }
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level.first().copied()
}

/// Merkle tree hash (RFC 6962 `MTH`) of the given leaf hashes.
pub fn root_from_leaf_hashes(leaf_hashes: &[Hash]) -> Hash {
    let mut builder = TreeBuilder::new();
    for leaf in leaf_hashes {
        // Cannot overflow: a slice never holds u64::MAX hashes.
        let _ = builder.append_with(*leaf, |_, _| {});
    }
    builder.root()
}

/// Merkle tree hash (RFC 6962 `MTH`) of the given entries (hashes each entry as a leaf).
pub fn root_from_entries<E: AsRef<[u8]>>(entries: &[E]) -> Hash {
    let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e.as_ref())).collect();
    root_from_leaf_hashes(&leaves)
}

/// Why a [`TreeBuilder`] could not be created or extended.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TreeBuilderError {
    /// The tree already holds `u64::MAX` leaves.
    #[error("tree is full: it already holds {size} leaves")]
    Full {
        /// Current size.
        size: u64,
    },
    /// The frontier does not have one hash per set bit of the size.
    #[error("frontier for size {size} must have {expected} hashes (one per set bit), got {got}")]
    FrontierLength {
        /// Tree size.
        size: u64,
        /// Hashes required.
        expected: usize,
        /// Hashes supplied.
        got: usize,
    },
}

/// Incremental RFC 6962 tree: keeps only the `O(log n)` roots of the complete subtrees that make
/// up the tree (its "frontier"), appends leaves and reports every subtree each append completes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TreeBuilder {
    size: u64,
    frontier: Vec<Hash>,
}

impl TreeBuilder {
    /// Creates an empty tree.
    pub fn new() -> Self {
        TreeBuilder::default()
    }

    /// Resumes a tree of `size` leaves from its frontier (roots of its complete subtrees, largest
    /// first, as listed by [`frontier_nodes`]).
    pub fn from_frontier(size: u64, frontier: Vec<Hash>) -> Result<Self, TreeBuilderError> {
        let expected = size.count_ones() as usize;
        if frontier.len() != expected {
            return Err(TreeBuilderError::FrontierLength {
                size,
                expected,
                got: frontier.len(),
            });
        }
        Ok(TreeBuilder { size, frontier })
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Roots of the complete subtrees of the tree, largest first.
    pub fn frontier(&self) -> &[Hash] {
        &self.frontier
    }

    /// Current root hash (the empty-tree hash when no leaf was appended).
    pub fn root(&self) -> Hash {
        fold_subtrees(&self.frontier).unwrap_or_else(empty_root)
    }

    /// Appends a leaf hash and returns every node it completes (the leaf itself first, then
    /// each new parent up the tree).
    pub fn append(&mut self, leaf: Hash) -> Result<Vec<(NodeId, Hash)>, TreeBuilderError> {
        let mut completed = Vec::new();
        self.append_with(leaf, |node, hash| completed.push((node, hash)))?;
        Ok(completed)
    }

    /// Appends a leaf hash, calling `on_node` for every node it completes (no allocation).
    pub fn append_with(
        &mut self,
        leaf: Hash,
        mut on_node: impl FnMut(NodeId, Hash),
    ) -> Result<(), TreeBuilderError> {
        if self.size == u64::MAX {
            return Err(TreeBuilderError::Full { size: self.size });
        }
        let index = self.size;
        on_node(NodeId::new(0, index), leaf);
        let mut current = leaf;
        // Each trailing one bit of the index means a left sibling subtree is now complete.
        let merges = index.trailing_ones();
        for level in 0..merges {
            let left = self.frontier.pop().unwrap_or_default();
            current = node_hash(&left, &current);
            let parent_level = level + 1;
            on_node(
                NodeId::new(parent_level as u8, index >> parent_level),
                current,
            );
        }
        self.frontier.push(current);
        self.size += 1;
        Ok(())
    }
}

/// Complete subtrees whose roots form the frontier of a tree of `size` leaves, largest first.
pub fn frontier_nodes(size: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    subtrees_of_range(0, size, &mut nodes);
    nodes
}

/// An in-memory tree that stores every node hash; handy for tests and small logs.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
    builder: TreeBuilder,
}

impl MemoryTree {
    /// Creates an empty in-memory tree.
    pub fn new() -> Self {
        MemoryTree::default()
    }

    /// Builds a tree from leaf hashes.
    pub fn from_leaf_hashes(leaf_hashes: &[Hash]) -> Self {
        let mut tree = MemoryTree::new();
        for leaf in leaf_hashes {
            tree.push(*leaf);
        }
        tree
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let levels = &mut self.levels;
        // Cannot overflow: memory runs out long before u64::MAX leaves.
        let _ = self.builder.append_with(leaf, |node, hash| {
            let level = usize::from(node.level);
            if levels.len() <= level {
                levels.resize_with(level + 1, Vec::new);
            }
            levels[level].push(hash);
        });
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.builder.size()
    }

    /// Root hash of the whole tree.
    pub fn root(&self) -> Hash {
        self.builder.root()
    }

    /// Hash of a complete subtree, if it exists.
    pub fn node(&self, node: NodeId) -> Option<Hash> {
        let index = usize::try_from(node.index).ok()?;
        self.levels
            .get(usize::from(node.level))
            .and_then(|level| level.get(index))
            .copied()
    }
}

impl crate::proof::HashReader for MemoryTree {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, crate::proof::HashReadError> {
        nodes
            .iter()
            .map(|node| {
                self.node(*node)
                    .ok_or(crate::proof::HashReadError::Missing { node: *node })
            })
            .collect()
    }
}
