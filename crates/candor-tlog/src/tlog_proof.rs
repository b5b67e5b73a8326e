//! C2SP tlog-proof (`c2sp.org/tlog-proof@v1`): an offline-verifiable `.tlog-proof` file with
//! the entry's index, its inclusion proof and the (cosigned) checkpoint.

use thiserror::Error;

use crate::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use crate::encoding::{decode_base64, encode_base64, excerpt, parse_canonical_u64};
use crate::merkle::Hash;
use crate::note::{MAX_NOTE_SIZE, NoteVerifier};
use crate::policy::{Policy, PolicyError, PolicyVerified};
use crate::proof::{ProofError, verify_inclusion};

/// First line of every proof file.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Most inclusion proof lines accepted (a 64-bit tree needs at most 64).
pub const MAX_PROOF_HASHES: usize = 64;

/// Largest proof file accepted, in bytes.
pub const MAX_PROOF_FILE_SIZE: usize = 2 * MAX_NOTE_SIZE;

/// Why a proof file is malformed or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TlogProofError {
    /// The file is larger than [`MAX_PROOF_FILE_SIZE`].
    #[error("proof file is {size} bytes, larger than the {max}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The first line is not `c2sp.org/tlog-proof@v1`.
    #[error("proof file line 1 is {got:?}, expected \"c2sp.org/tlog-proof@v1\"")]
    Header {
        /// The first line (shortened).
        got: String,
    },
    /// A header line is missing its newline or is not UTF-8.
    #[error("proof file line {line} is not a complete UTF-8 line")]
    Line {
        /// 1-based line number.
        line: usize,
    },
    /// The extra data is not base64.
    #[error("proof file line {line}: extra data is not canonical standard base64")]
    Extra {
        /// 1-based line number.
        line: usize,
    },
    /// The index line is missing or malformed.
    #[error(
        "proof file line {line} is {got:?}, expected \"index <decimal without leading zeros>\""
    )]
    Index {
        /// 1-based line number.
        line: usize,
        /// The line (shortened).
        got: String,
    },
    /// A proof line is not a base64 hash.
    #[error("proof file line {line}: {got:?} is not the base64 of a 32-byte hash")]
    ProofHash {
        /// 1-based line number.
        line: usize,
        /// The line (shortened).
        got: String,
    },
    /// Too many proof lines.
    #[error("proof file has more than {max} inclusion proof hashes")]
    TooManyHashes {
        /// The limit.
        max: usize,
    },
    /// No blank line before the checkpoint.
    #[error("proof file has no blank line before the checkpoint")]
    MissingCheckpoint,
    /// The embedded checkpoint is malformed or its log signature failed.
    #[error("proof file checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The inclusion proof did not verify.
    #[error("proof file inclusion proof: {0}")]
    Inclusion(#[from] ProofError),
    /// The checkpoint did not satisfy the policy.
    #[error("proof file checkpoint: {0}")]
    Policy(#[from] PolicyError),
}

/// A parsed `.tlog-proof` file.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TlogProof {
    /// Optional opaque, unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    /// Zero-based index of the entry in the log.
    pub index: u64,
    /// Inclusion proof, leaf sibling first.
    pub inclusion_proof: Vec<Hash>,
    /// The checkpoint with the log signature and any cosignatures.
    pub checkpoint: SignedCheckpoint,
}

impl TlogProof {
    /// Parses a proof file (signatures and proof are not verified yet).
    pub fn parse(bytes: &[u8]) -> Result<Self, TlogProofError> {
        if bytes.len() > MAX_PROOF_FILE_SIZE {
            return Err(TlogProofError::TooLarge {
                size: bytes.len(),
                max: MAX_PROOF_FILE_SIZE,
            });
        }
        let mut rest = bytes;
        let mut line_no = 0usize;
        let mut next_line = |rest: &mut &[u8]| -> Result<(usize, String), TlogProofError> {
            line_no += 1;
            let pos = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or(TlogProofError::Line { line: line_no })?;
            let line = std::str::from_utf8(&rest[..pos])
                .map_err(|_| TlogProofError::Line { line: line_no })?
                .to_owned();
            *rest = &rest[pos + 1..];
            Ok((line_no, line))
        };
        let (_, header) = next_line(&mut rest)?;
        if header != TLOG_PROOF_HEADER {
            return Err(TlogProofError::Header {
                got: excerpt(&header),
            });
        }
        let (mut n, mut line) = next_line(&mut rest)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(decode_base64(b64).ok_or(TlogProofError::Extra { line: n })?);
            (n, line) = next_line(&mut rest)?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_canonical_u64)
            .ok_or_else(|| TlogProofError::Index {
                line: n,
                got: excerpt(&line),
            })?;
        let mut inclusion_proof = Vec::new();
        loop {
            let (n, line) = next_line(&mut rest).map_err(|_| TlogProofError::MissingCheckpoint)?;
            if line.is_empty() {
                break;
            }
            if inclusion_proof.len() == MAX_PROOF_HASHES {
                return Err(TlogProofError::TooManyHashes {
                    max: MAX_PROOF_HASHES,
                });
            }
            let hash = Hash::from_base64(&line).map_err(|_| TlogProofError::ProofHash {
                line: n,
                got: excerpt(&line),
            })?;
            inclusion_proof.push(hash);
        }
        let checkpoint = SignedCheckpoint::parse(rest)?;
        Ok(TlogProof {
            extra,
            index,
            inclusion_proof,
            checkpoint,
        })
    }

    /// Formats the proof file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&encode_base64(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.inclusion_proof {
            out.push_str(&hash.to_base64());
            out.push('\n');
        }
        out.push('\n');
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.checkpoint.to_bytes());
        bytes
    }

    /// Verifies the proof for an entry whose leaf hash is `leaf_hash` against one pinned log
    /// (origin and key), ignoring cosignatures.
    pub fn verify_with_log(
        &self,
        leaf_hash: &Hash,
        origin: &str,
        log_key: &dyn NoteVerifier,
    ) -> Result<&Checkpoint, TlogProofError> {
        let checkpoint = self.checkpoint.verify_log(origin, log_key)?;
        self.verify_inclusion_only(leaf_hash)?;
        Ok(checkpoint)
    }

    /// Verifies the proof against a tlog-policy: a listed log signed the checkpoint, the
    /// witness quorum cosigned it, and the entry is included under its root.
    pub fn verify_with_policy(
        &self,
        leaf_hash: &Hash,
        policy: &Policy,
    ) -> Result<PolicyVerified, TlogProofError> {
        let verified = policy.verify_checkpoint(&self.checkpoint)?;
        self.verify_inclusion_only(leaf_hash)?;
        Ok(verified)
    }

    /// Checks only the inclusion proof against the checkpoint's root (no signatures).
    pub fn verify_inclusion_only(&self, leaf_hash: &Hash) -> Result<(), TlogProofError> {
        let cp = self.checkpoint.checkpoint();
        verify_inclusion(
            self.index,
            cp.size,
            leaf_hash,
            &self.inclusion_proof,
            &cp.root,
        )?;
        Ok(())
    }
}
