//! Inclusion and consistency proofs (RFC 6962 §2.1.1–2.1.2 generation, RFC 9162 §2.1.3.2 and
//! §2.1.4.2 verification), generated from any store that can read complete-subtree hashes.

use thiserror::Error;

use crate::merkle::{Hash, NodeId, empty_root, fold_subtrees, node_hash, subtrees_of_range};

/// Why a [`HashReader`] could not supply a hash.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HashReadError {
    /// The store has no hash for this node.
    #[error("no stored hash for node at level {} index {}", node.level, node.index)]
    Missing {
        /// The node that was asked for.
        node: NodeId,
    },
    /// The store returned a different number of hashes than requested.
    #[error("hash reader returned {got} hashes for {requested} requested nodes")]
    WrongCount {
        /// Nodes requested.
        requested: usize,
        /// Hashes returned.
        got: usize,
    },
    /// A tile needed for the node is missing or malformed.
    #[error("tile {path}: {reason}")]
    Tile {
        /// The tile path.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The backing store failed (database, disk, network).
    #[error("hash store failed: {0}")]
    Backend(String),
}

/// Source of complete-subtree hashes, by (level, index); back it with tiles or a database.
pub trait HashReader {
    /// Returns the hashes of `nodes`, in the same order. Every node is a complete subtree of the
    /// tree being proven; callers batch all the nodes one proof needs into a single call.
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, HashReadError>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hashes(&self, nodes: &[NodeId]) -> Result<Vec<Hash>, HashReadError> {
        (**self).read_hashes(nodes)
    }
}

/// Why a proof could not be generated or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The old tree is larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizesReversed {
        /// Old size.
        old_size: u64,
        /// New size.
        new_size: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("{kind} proof has {got} hashes, expected {expected} for {detail}")]
    WrongLength {
        /// "inclusion" or "consistency".
        kind: &'static str,
        /// Hashes in the proof.
        got: usize,
        /// Hashes required.
        expected: usize,
        /// The index and sizes the length was computed for.
        detail: String,
    },
    /// The inclusion proof leads to a different root.
    #[error(
        "inclusion proof for leaf {index} in tree size {size} computes root {computed}, expected {expected}"
    )]
    InclusionRootMismatch {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
        /// Root the proof produced (base64).
        computed: Hash,
        /// Root that was expected (base64).
        expected: Hash,
    },
    /// Equal sizes must have equal roots.
    #[error("trees of equal size {size} have different roots {old_root} and {new_root}")]
    EqualSizeRootsDiffer {
        /// The size.
        size: u64,
        /// Old root.
        old_root: Hash,
        /// New root.
        new_root: Hash,
    },
    /// The consistency proof reproduces a different old root.
    #[error(
        "consistency proof {old_size}->{new_size} computes old root {computed}, expected {expected}"
    )]
    OldRootMismatch {
        /// Old size.
        old_size: u64,
        /// New size.
        new_size: u64,
        /// Old root computed from the proof.
        computed: Hash,
        /// Old root expected.
        expected: Hash,
    },
    /// The consistency proof reproduces a different new root.
    #[error(
        "consistency proof {old_size}->{new_size} computes new root {computed}, expected {expected}"
    )]
    NewRootMismatch {
        /// Old size.
        old_size: u64,
        /// New size.
        new_size: u64,
        /// New root computed from the proof.
        computed: Hash,
        /// New root expected.
        expected: Hash,
    },
    /// The hash store failed.
    #[error(transparent)]
    Read(#[from] HashReadError),
}

/// Largest power of two strictly less than `n` (requires `n > 1`).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Leaf ranges whose Merkle hashes form `PATH(index, D[0:size])`, leaf sibling first.
fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index - lo < k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    ranges.reverse();
    ranges
}

/// Leaf ranges whose Merkle hashes form `PROOF(old_size, D[0:new_size])` (0 < old < new).
fn consistency_ranges(old_size: u64, new_size: u64) -> Vec<(u64, u64)> {
    let mut ranges = Vec::new();
    let (mut lo, mut hi, mut m, mut whole) = (0u64, new_size, old_size, true);
    loop {
        if m == hi - lo {
            if !whole {
                ranges.push((lo, hi));
            }
            break;
        }
        let k = split_point(hi - lo);
        if m <= k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            m -= k;
            whole = false;
        }
    }
    ranges.reverse();
    ranges
}

/// Reads the hashes of whole ranges with one batched read and folds each into its Merkle hash.
fn hash_ranges(ranges: &[(u64, u64)], reader: &impl HashReader) -> Result<Vec<Hash>, ProofError> {
    let mut nodes = Vec::new();
    let mut counts = Vec::with_capacity(ranges.len());
    for &(start, end) in ranges {
        let before = nodes.len();
        subtrees_of_range(start, end, &mut nodes);
        counts.push(nodes.len() - before);
    }
    let hashes = reader.read_hashes(&nodes)?;
    if hashes.len() != nodes.len() {
        return Err(HashReadError::WrongCount {
            requested: nodes.len(),
            got: hashes.len(),
        }
        .into());
    }
    let mut out = Vec::with_capacity(ranges.len());
    let mut at = 0;
    for count in counts {
        let folded = fold_subtrees(&hashes[at..at + count]).unwrap_or_else(empty_root);
        out.push(folded);
        at += count;
    }
    Ok(out)
}

fn nodes_of_ranges(ranges: &[(u64, u64)]) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    for &(start, end) in ranges {
        subtrees_of_range(start, end, &mut nodes);
    }
    nodes
}

/// Complete subtrees a [`HashReader`] must supply to build an inclusion proof.
pub fn inclusion_proof_nodes(index: u64, size: u64) -> Result<Vec<NodeId>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    Ok(nodes_of_ranges(&inclusion_ranges(index, size)))
}

/// Complete subtrees a [`HashReader`] must supply to build a consistency proof.
pub fn consistency_proof_nodes(old_size: u64, new_size: u64) -> Result<Vec<NodeId>, ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesReversed { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    Ok(nodes_of_ranges(&consistency_ranges(old_size, new_size)))
}

/// Complete subtrees a [`HashReader`] must supply to compute the root of a tree.
pub fn tree_root_nodes(size: u64) -> Vec<NodeId> {
    crate::merkle::frontier_nodes(size)
}

/// Builds the inclusion proof (audit path) of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    reader: &impl HashReader,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    hash_ranges(&inclusion_ranges(index, size), reader)
}

/// Builds the consistency proof between tree sizes `old_size` and `new_size` (empty when the
/// old tree is empty or the sizes are equal).
pub fn consistency_proof(
    old_size: u64,
    new_size: u64,
    reader: &impl HashReader,
) -> Result<Vec<Hash>, ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesReversed { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    hash_ranges(&consistency_ranges(old_size, new_size), reader)
}

/// Computes the root hash of the tree of `size` leaves from stored subtree hashes.
pub fn tree_root(size: u64, reader: &impl HashReader) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(empty_root());
    }
    let hashes = hash_ranges(&[(0, size)], reader)?;
    Ok(hashes.first().copied().unwrap_or_else(empty_root))
}

/// Number of hashes in an inclusion proof for `index` in a tree of `size` (`index < size`).
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index.checked_shr(inner).unwrap_or(0)).count_ones();
    (inner + border) as usize
}

/// Number of hashes in a consistency proof between sizes `0 < old_size < new_size`.
pub fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    let shift = old_size.trailing_zeros();
    let seed = usize::from(old_size != 1u64 << shift);
    let index = old_size - 1;
    let inner = 64 - (index ^ (new_size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    seed + (inner - shift) as usize + border as usize
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves with root `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            kind: "inclusion",
            got: proof.len(),
            expected,
            detail: format!("leaf {index} in tree size {size}"),
        });
    }
    let computed = root_from_inclusion_proof(index, size, leaf_hash, proof).ok_or_else(|| {
        ProofError::WrongLength {
            kind: "inclusion",
            got: proof.len(),
            expected,
            detail: format!("leaf {index} in tree size {size}"),
        }
    })?;
    if computed != *root {
        return Err(ProofError::InclusionRootMismatch {
            index,
            size,
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// RFC 9162 inclusion walk; `None` when the proof length does not fit the tree shape.
fn root_from_inclusion_proof(index: u64, size: u64, leaf: &Hash, proof: &[Hash]) -> Option<Hash> {
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return None;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    (snode == 0).then_some(r)
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends the tree of
/// `old_size` leaves with root `old_root` (RFC 9162 §2.1.4.2, plus the usual edge cases: equal
/// sizes need equal roots and an empty proof; an empty old tree needs an empty proof).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let detail = || format!("tree sizes {old_size}->{new_size}");
    if old_size > new_size {
        return Err(ProofError::SizesReversed { old_size, new_size });
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                kind: "consistency",
                got: proof.len(),
                expected: 0,
                detail: detail(),
            });
        }
        if old_size == new_size && old_root != new_root {
            return Err(ProofError::EqualSizeRootsDiffer {
                size: old_size,
                old_root: *old_root,
                new_root: *new_root,
            });
        }
        if old_size == 0 && *old_root != empty_root() {
            return Err(ProofError::OldRootMismatch {
                old_size,
                new_size,
                computed: empty_root(),
                expected: *old_root,
            });
        }
        return Ok(());
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            kind: "consistency",
            got: proof.len(),
            expected,
            detail: detail(),
        });
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let wrong_length = || ProofError::WrongLength {
        kind: "consistency",
        got: proof.len(),
        expected,
        detail: detail(),
    };
    let (first, rest) = path.split_first().ok_or_else(wrong_length)?;
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return Err(wrong_length());
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(wrong_length());
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch {
            old_size,
            new_size,
            computed: fr,
            expected: *old_root,
        });
    }
    if sr != *new_root {
        return Err(ProofError::NewRootMismatch {
            old_size,
            new_size,
            computed: sr,
            expected: *new_root,
        });
    }
    Ok(())
}
