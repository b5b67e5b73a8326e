//! C2SP tlog-checkpoint (`c2sp.org/tlog-checkpoint@v1.0.0`): origin, tree size and root hash,
//! plus optional extension lines, carried as the text of a signed note.

use thiserror::Error;

use crate::encoding::{excerpt, parse_canonical_u64};
use crate::merkle::Hash;
use crate::note::{Note, NoteError, NoteSignature, NoteSigner, NoteVerifier, validate_note_text};

/// Why a checkpoint is malformed or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckpointError {
    /// The enclosing signed note is malformed or its signatures failed.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The text has fewer than three lines.
    #[error("checkpoint text has {lines} lines, need at least 3 (origin, size, root hash)")]
    TooFewLines {
        /// Lines found.
        lines: usize,
    },
    /// The origin line is empty.
    #[error("checkpoint origin line is empty")]
    EmptyOrigin,
    /// The origin contains a newline or control character.
    #[error("checkpoint origin {origin:?} contains a control character")]
    OriginControl {
        /// The origin.
        origin: String,
    },
    /// The size line is not a canonical decimal.
    #[error(
        "checkpoint tree size {text:?} is not a decimal without leading zeros that fits in 64 bits"
    )]
    Size {
        /// The size line.
        text: String,
    },
    /// The root hash line is not a base64 SHA-256 hash.
    #[error("checkpoint root hash {text:?} is not the base64 of 32 bytes")]
    RootHash {
        /// The root hash line.
        text: String,
    },
    /// An extension line is empty.
    #[error("checkpoint extension line {line} is empty")]
    EmptyExtension {
        /// 1-based line number within the checkpoint text.
        line: usize,
    },
    /// An extension line contains a newline or control character.
    #[error("checkpoint extension line {line} contains a control character")]
    ExtensionControl {
        /// 1-based line number within the checkpoint text.
        line: usize,
    },
    /// The checkpoint is for a different log than expected.
    #[error("checkpoint origin is {got:?}, expected {expected:?}")]
    OriginMismatch {
        /// Origin in the checkpoint.
        got: String,
        /// Origin expected by the caller.
        expected: String,
    },
    /// The log's key did not sign this checkpoint.
    #[error("checkpoint has no signature from log key {name}+{key_id:08x}")]
    MissingLogSignature {
        /// Log key name.
        name: String,
        /// Log key ID.
        key_id: u32,
    },
}

/// An unsigned checkpoint: the body of a log's signed tree head.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Checkpoint {
    /// Log identity, normally the schema-less URL prefix of the log.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 root hash of the tree.
    pub root: Hash,
    /// Optional extension lines (without newlines); NOT RECOMMENDED by the spec.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// Creates a checkpoint without extension lines, checking the origin.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        let checkpoint = Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        };
        checkpoint.validate()?;
        Ok(checkpoint)
    }

    fn validate(&self) -> Result<(), CheckpointError> {
        if self.origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        if self.origin.chars().any(char::is_control) {
            return Err(CheckpointError::OriginControl {
                origin: excerpt(&self.origin),
            });
        }
        for (i, ext) in self.extensions.iter().enumerate() {
            if ext.is_empty() {
                return Err(CheckpointError::EmptyExtension { line: i + 4 });
            }
            if ext.chars().any(char::is_control) {
                return Err(CheckpointError::ExtensionControl { line: i + 4 });
            }
        }
        Ok(())
    }

    /// Parses checkpoint text (the note text, including its final newline).
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        validate_note_text(text)?;
        let body = &text[..text.len() - 1];
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() < 3 {
            return Err(CheckpointError::TooFewLines { lines: lines.len() });
        }
        let origin = lines[0];
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_canonical_u64(lines[1]).ok_or_else(|| CheckpointError::Size {
            text: excerpt(lines[1]),
        })?;
        let root = Hash::from_base64(lines[2]).map_err(|_| CheckpointError::RootHash {
            text: excerpt(lines[2]),
        })?;
        let extensions: Vec<String> = lines[3..].iter().map(|s| (*s).to_owned()).collect();
        let checkpoint = Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        };
        checkpoint.validate()?;
        Ok(checkpoint)
    }

    /// Formats the checkpoint text (ends with a newline).
    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for ext in &self.extensions {
            text.push_str(ext);
            text.push('\n');
        }
        text
    }

    /// Signs the checkpoint with the log key, producing a signed checkpoint.
    pub fn sign(&self, signer: &dyn NoteSigner) -> Result<SignedCheckpoint, CheckpointError> {
        self.validate()?;
        let mut note = Note::new(self.to_text())?;
        note.sign(signer)?;
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            note,
        })
    }
}

/// A checkpoint together with the signed note carrying it (log signature and cosignatures).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
}

impl SignedCheckpoint {
    /// Parses a signed checkpoint note (signatures are not verified yet).
    pub fn parse(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Wraps an already parsed note whose text is a checkpoint.
    pub fn from_note(note: Note) -> Result<Self, CheckpointError> {
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// The checkpoint body.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// Formats the signed note.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.note.to_bytes()
    }

    /// Appends a signature line (for example a witness cosignature).
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), CheckpointError> {
        self.note.add_signature(signature)?;
        Ok(())
    }

    /// Verifies that the log key signed this checkpoint and that its origin is `origin`.
    /// Signatures by other keys are ignored.
    pub fn verify_log(
        &self,
        origin: &str,
        log_key: &dyn NoteVerifier,
    ) -> Result<&Checkpoint, CheckpointError> {
        if self.checkpoint.origin != origin {
            return Err(CheckpointError::OriginMismatch {
                got: excerpt(&self.checkpoint.origin),
                expected: origin.to_owned(),
            });
        }
        let verified = self.note.verify_known(&[log_key])?;
        if verified.is_empty() {
            return Err(CheckpointError::MissingLogSignature {
                name: log_key.name().to_owned(),
                key_id: log_key.key_id(),
            });
        }
        Ok(&self.checkpoint)
    }
}
