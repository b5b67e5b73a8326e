//! C2SP tlog-cosignature `cosignature/v1` (`c2sp.org/tlog-cosignature@v1.0.1`): timestamped
//! Ed25519 witness cosignatures, signature type 0x04.

use ed25519_dalek::VerifyingKey;
use thiserror::Error;

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::keys::{
    Ed25519Secret, KeyError, SIG_TYPE_COSIGNATURE_V1, VerifierKey, ed25519_verify, key_id,
};
use crate::note::{NoteSignature, NoteVerifier, validate_key_name};

/// First line of every `cosignature/v1` signed message.
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// Largest timestamp allowed by the spec (2^63 − 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Size of an Ed25519 `timestamped_signature` (8-byte timestamp + 64-byte signature).
pub const COSIGNATURE_V1_SIZE: usize = 72;

/// Why a cosignature is malformed or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CosignatureError {
    /// The signature bytes are not a timestamp plus an Ed25519 signature.
    #[error(
        "cosignature by {name} is {got} bytes, expected 72 (8-byte timestamp, 64-byte signature)"
    )]
    WrongLength {
        /// Cosigner name.
        name: String,
        /// Length found.
        got: usize,
    },
    /// The timestamp exceeds 2^63 − 1.
    #[error("cosignature timestamp {timestamp} exceeds 2^63-1")]
    TimestampTooLarge {
        /// The timestamp.
        timestamp: u64,
    },
    /// Only checkpoints can be cosigned.
    #[error("cosigned text is not a checkpoint: {0}")]
    NotCheckpoint(#[from] CheckpointError),
    /// The key is invalid.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// A decoded `timestamped_signature` (Ed25519).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CosignatureV1 {
    /// POSIX seconds at which the cosigner signed.
    pub timestamp: u64,
    /// Ed25519 signature over the cosigned message.
    pub signature: [u8; 64],
}

impl CosignatureV1 {
    /// Decodes the bytes that follow the key ID on a cosignature line.
    pub fn from_signature(signature: &NoteSignature) -> Result<Self, CosignatureError> {
        let bytes = &signature.signature;
        if bytes.len() != COSIGNATURE_V1_SIZE {
            return Err(CosignatureError::WrongLength {
                name: signature.name.clone(),
                got: bytes.len(),
            });
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&bytes[..8]);
        let timestamp = u64::from_be_bytes(ts);
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::TimestampTooLarge { timestamp });
        }
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&bytes[8..]);
        Ok(CosignatureV1 {
            timestamp,
            signature: sig,
        })
    }

    /// Encodes the timestamp and signature (without key ID).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(COSIGNATURE_V1_SIZE);
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.signature);
        out
    }
}

/// The message a `cosignature/v1` signs: header, `time <secs>` line, then the checkpoint text.
pub fn cosigned_message(timestamp: u64, checkpoint_text: &str) -> Vec<u8> {
    format!("{COSIGNATURE_V1_HEADER}time {timestamp}\n{checkpoint_text}").into_bytes()
}

/// An Ed25519 cosigner (witness) private key, signature type 0x04.
#[derive(Clone, Debug)]
pub struct CosignerKey {
    secret: Ed25519Secret,
}

impl CosignerKey {
    /// Creates a cosigner key from its name and a 32-byte seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        Ok(CosignerKey {
            secret: Ed25519Secret::from_seed(name, SIG_TYPE_COSIGNATURE_V1, seed)?,
        })
    }

    /// Generates a new cosigner key from the operating system's random number generator.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        Ok(CosignerKey {
            secret: Ed25519Secret::generate(name, SIG_TYPE_COSIGNATURE_V1)?,
        })
    }

    /// Parses a `PRIVATE+KEY+<name>+<id>+<base64(0x04 || seed)>` string.
    pub fn from_skey(text: &str) -> Result<Self, KeyError> {
        Ok(CosignerKey {
            secret: Ed25519Secret::from_skey(text, SIG_TYPE_COSIGNATURE_V1)?,
        })
    }

    /// Formats the private key string (keep it secret).
    pub fn to_skey(&self) -> String {
        self.secret.to_skey()
    }

    /// Cosigner name.
    pub fn name(&self) -> &str {
        &self.secret.name
    }

    /// Key ID (type 0x04).
    pub fn key_id(&self) -> u32 {
        self.secret.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.secret.name.clone(),
            key_id: self.secret.key_id,
            key: self.secret.key.verifying_key(),
        }
    }

    /// The public verifier key string (type 0x04).
    pub fn vkey(&self) -> String {
        self.secret.verifier_key().to_string()
    }

    /// Cosigns a checkpoint text at `timestamp` (POSIX seconds) and returns the signature line.
    pub fn cosign(
        &self,
        checkpoint_text: &str,
        timestamp: u64,
    ) -> Result<NoteSignature, CosignatureError> {
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::TimestampTooLarge { timestamp });
        }
        Checkpoint::parse(checkpoint_text)?;
        let signature = self
            .secret
            .sign(&cosigned_message(timestamp, checkpoint_text));
        Ok(NoteSignature {
            name: self.secret.name.clone(),
            key_id: self.secret.key_id,
            signature: CosignatureV1 {
                timestamp,
                signature,
            }
            .to_bytes(),
        })
    }
}

/// Verifies `cosignature/v1` signatures from one cosigner; usable with [`crate::Note::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// Parses a verifier key string of type 0x04, checking its key ID.
    pub fn from_vkey(text: &str) -> Result<Self, KeyError> {
        Self::from_verifier_key(&VerifierKey::parse(text)?)
    }

    /// Converts a parsed verifier key of type 0x04.
    pub fn from_verifier_key(vkey: &VerifierKey) -> Result<Self, KeyError> {
        let key = vkey.ed25519_key(SIG_TYPE_COSIGNATURE_V1)?;
        Ok(CosignatureVerifier {
            name: vkey.name.clone(),
            key_id: vkey.key_id,
            key,
        })
    }

    /// Creates a verifier from a cosigner name and 32-byte Ed25519 public key.
    pub fn from_public_key(name: &str, public_key: [u8; 32]) -> Result<Self, KeyError> {
        validate_key_name(name)?;
        let key =
            VerifyingKey::from_bytes(&public_key).map_err(|_| KeyError::InvalidPublicKey {
                name: name.to_owned(),
            })?;
        Ok(CosignatureVerifier {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_COSIGNATURE_V1, &public_key),
            key,
        })
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Formats the verifier key string (type 0x04).
    pub fn to_vkey(&self) -> String {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            sig_type: SIG_TYPE_COSIGNATURE_V1,
            public_key: self.key.as_bytes().to_vec(),
        }
        .to_string()
    }
}

impl NoteVerifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        if signature.len() != COSIGNATURE_V1_SIZE {
            return false;
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&signature[..8]);
        let timestamp = u64::from_be_bytes(ts);
        if timestamp > MAX_TIMESTAMP {
            return false;
        }
        let Ok(text) = std::str::from_utf8(text) else {
            return false;
        };
        ed25519_verify(
            &self.key,
            &cosigned_message(timestamp, text),
            &signature[8..],
        )
    }
}
