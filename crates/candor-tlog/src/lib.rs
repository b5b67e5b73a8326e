//! Candor's transparency-log formats: a pure library (no I/O, no async, no panics on input).
//!
//! Implemented specifications:
//! - RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs ([`merkle`],
//!   [`proof`]);
//! - C2SP `signed-note` v1.0.0 with Ed25519 keys, vkeys and Go-style private key strings
//!   ([`note`], [`keys`]);
//! - C2SP `tlog-checkpoint` v1.0.0 ([`checkpoint`]);
//! - C2SP `tlog-tiles` v0.1.0 paths, tiles and entry bundles ([`tiles`], [`bundle`]);
//! - C2SP `tlog-cosignature` v1.0.1, Ed25519 `cosignature/v1` only ([`cosignature`]);
//! - C2SP `tlog-proof` v1 files ([`tlog_proof`]);
//! - C2SP `tlog-policy` ([`policy`]).
//!
//! # Why not the published crates
//!
//! We evaluated Cloudflare Azul's `signed_note` 0.2.0 and `tlog_tiles` 0.2.0 (BSD-3-Clause,
//! ports of Go's `x/mod/sumdb`, maintained and tested with Go's vectors). They are correct as
//! far as we checked, but the published releases lag the repository and pin an older crypto
//! generation (`ed25519-dalek` 2, `sha2` 0.10, `base64` 0.21, `thiserror` 1), which would put a
//! second copy of the RustCrypto stack next to the workspace's `sha2` 0.11; `tlog_tiles` also
//! pulls `serde_json` and `url` for checkpoint handling we do not need, and neither crate covers
//! tlog-proof or tlog-policy. The formats are small and fully specified, so this crate
//! implements them directly against the C2SP texts and RFC 9162, using `ed25519-dalek` 3
//! (`verify_strict`, built on `sha2` 0.11) and `base64` for the primitives, and checks itself
//! against the published test vectors.
//!
//! # Serving and verifying a log
//!
//! A server appends leaf hashes with [`tiles::extend_tiles`] (reading its stored tiles through
//! [`tiles::TileHashReader`]), signs a [`checkpoint::Checkpoint`] with an
//! [`keys::Ed25519NoteSigner`], and answers proofs with [`proof::inclusion_proof`] and
//! [`proof::consistency_proof`] over any [`proof::HashReader`]. A verifier checks a
//! [`tlog_proof::TlogProof`] against a [`policy::Policy`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bundle;
pub mod checkpoint;
pub mod cosignature;
mod encoding;
#[doc(hidden)]
pub mod fuzz_support;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod policy;
pub mod proof;
pub mod tiles;
pub mod tlog_proof;

pub use bundle::{BundleError, encode_bundle, parse_bundle};
pub use checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
pub use cosignature::{CosignatureError, CosignatureV1, CosignatureVerifier, CosignerKey};
pub use keys::{Ed25519NoteSigner, Ed25519NoteVerifier, KeyError, VerifierKey, key_id};
pub use merkle::{Hash, MemoryTree, NodeId, TreeBuilder, empty_root, leaf_hash, node_hash};
pub use note::{Note, NoteError, NoteSignature, NoteSigner, NoteVerifier};
pub use policy::{Policy, PolicyError, PolicyVerified};
pub use proof::{
    HashReadError, HashReader, ProofError, consistency_proof, inclusion_proof, tree_root,
    verify_consistency, verify_inclusion,
};
pub use tiles::{BundleId, TileError, TileHashReader, TileId, TilePath, TileSource};
pub use tlog_proof::{TlogProof, TlogProofError};
