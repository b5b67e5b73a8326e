//! Note keys: key IDs, verifier key strings (`<name>+<hex id>+<base64(type || key)>`), signer
//! key strings (`PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)>`) and Ed25519 signers and
//! verifiers for signature type 0x01.

use std::fmt;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::encoding::{decode_base64, encode_base64, excerpt};
use crate::note::{KeyNameError, NoteSigner, NoteVerifier, validate_key_name};

/// Signature type byte for Ed25519 note signatures.
pub const SIG_TYPE_ED25519: u8 = 0x01;
/// Signature type byte for timestamped Ed25519 checkpoint cosignatures (`cosignature/v1`).
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;

/// Why a key string or key material is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// The key string does not have the expected `+`-separated fields.
    #[error("key string {text:?} must have the form {expected}")]
    Format {
        /// The key string (shortened; never contains private material).
        text: String,
        /// The expected shape.
        expected: &'static str,
    },
    /// The key name is invalid.
    #[error(transparent)]
    Name(#[from] KeyNameError),
    /// The key ID field is not eight hex digits.
    #[error("key ID {text:?} is not 8 hex digits")]
    KeyIdFormat {
        /// The key ID text.
        text: String,
    },
    /// The key material is not canonical base64.
    #[error("key material of {name} is not canonical standard base64")]
    Base64 {
        /// Key name.
        name: String,
    },
    /// The key material is empty (no signature type byte).
    #[error("key material of {name} is empty")]
    EmptyMaterial {
        /// Key name.
        name: String,
    },
    /// The signature type byte is not the one this key kind needs.
    #[error("key {name} has signature type 0x{got:02x}, expected 0x{expected:02x}")]
    WrongType {
        /// Key name.
        name: String,
        /// Type found.
        got: u8,
        /// Type required.
        expected: u8,
    },
    /// The key material has the wrong length.
    #[error("key {name} has {got} bytes of key material, expected {expected}")]
    WrongLength {
        /// Key name.
        name: String,
        /// Length found.
        got: usize,
        /// Length required.
        expected: usize,
    },
    /// The public key is not a valid Ed25519 point.
    #[error("key {name} is not a valid Ed25519 public key")]
    InvalidPublicKey {
        /// Key name.
        name: String,
    },
    /// The key ID in the string does not match the one computed from name and key.
    #[error("key {name} declares key ID {declared:08x} but its name and key give {computed:08x}")]
    KeyIdMismatch {
        /// Key name.
        name: String,
        /// ID written in the string.
        declared: u32,
        /// ID computed from the key.
        computed: u32,
    },
    /// The operating system's random number generator failed.
    #[error("could not read random bytes for a new key: {0}")]
    Random(String),
}

/// Key ID: `SHA-256(name || 0x0A || sig_type || public_key)[:4]` as a big-endian u32.
pub fn key_id(name: &str, sig_type: u8, public_key: &[u8]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', sig_type]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn parse_key_id(text: &str) -> Result<u32, KeyError> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::KeyIdFormat {
            text: excerpt(text),
        });
    }
    u32::from_str_radix(text, 16).map_err(|_| KeyError::KeyIdFormat {
        text: excerpt(text),
    })
}

/// A parsed verifier key string of any signature type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifierKey {
    /// Key name.
    pub name: String,
    /// Declared key ID.
    pub key_id: u32,
    /// Signature type byte (first byte of the key material).
    pub sig_type: u8,
    /// Public key bytes after the type byte.
    pub public_key: Vec<u8>,
}

impl VerifierKey {
    /// Parses `<name>+<hex key ID>+<base64(type || public key)>`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let format_error = || KeyError::Format {
            text: excerpt(text),
            expected: "<name>+<8 hex digit key ID>+<base64 key>",
        };
        // The base64 key material may itself contain '+', so split only twice.
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format_error());
        };
        validate_key_name(name)?;
        let key_id = parse_key_id(id)?;
        let raw = decode_base64(material).ok_or_else(|| KeyError::Base64 {
            name: name.to_owned(),
        })?;
        let (&sig_type, public_key) = raw.split_first().ok_or_else(|| KeyError::EmptyMaterial {
            name: name.to_owned(),
        })?;
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id,
            sig_type,
            public_key: public_key.to_vec(),
        })
    }

    /// Checks the declared key ID against the recommended computation.
    pub fn check_key_id(&self) -> Result<(), KeyError> {
        let computed = key_id(&self.name, self.sig_type, &self.public_key);
        if computed != self.key_id {
            return Err(KeyError::KeyIdMismatch {
                name: self.name.clone(),
                declared: self.key_id,
                computed,
            });
        }
        Ok(())
    }

    /// Decodes a 32-byte Ed25519 public key of the given signature type, checking the key ID.
    pub(crate) fn ed25519_key(&self, expected_type: u8) -> Result<VerifyingKey, KeyError> {
        if self.sig_type != expected_type {
            return Err(KeyError::WrongType {
                name: self.name.clone(),
                got: self.sig_type,
                expected: expected_type,
            });
        }
        let bytes: [u8; 32] =
            self.public_key
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::WrongLength {
                    name: self.name.clone(),
                    got: self.public_key.len(),
                    expected: 32,
                })?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidPublicKey {
            name: self.name.clone(),
        })?;
        self.check_key_id()?;
        Ok(key)
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut material = Vec::with_capacity(1 + self.public_key.len());
        material.push(self.sig_type);
        material.extend_from_slice(&self.public_key);
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            encode_base64(&material)
        )
    }
}

/// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)>`, returning name, id, type, seed.
fn parse_signer_key(text: &str) -> Result<(String, u32, u8, Vec<u8>), KeyError> {
    // Never echo the string: it holds the private key.
    let format_error = || KeyError::Format {
        text: "PRIVATE+KEY+…".to_owned(),
        expected: "PRIVATE+KEY+<name>+<8 hex digit key ID>+<base64 key>",
    };
    let mut parts = text.splitn(5, '+');
    let (Some("PRIVATE"), Some("KEY"), Some(name), Some(id), Some(material)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(format_error());
    };
    validate_key_name(name)?;
    let key_id = parse_key_id(id)?;
    let raw = decode_base64(material).ok_or_else(|| KeyError::Base64 {
        name: name.to_owned(),
    })?;
    let (&sig_type, seed) = raw.split_first().ok_or_else(|| KeyError::EmptyMaterial {
        name: name.to_owned(),
    })?;
    Ok((name.to_owned(), key_id, sig_type, seed.to_vec()))
}

/// Shared Ed25519 private key handling for log keys (0x01) and cosigner keys (0x04).
#[derive(Clone)]
pub(crate) struct Ed25519Secret {
    pub(crate) name: String,
    pub(crate) key_id: u32,
    pub(crate) sig_type: u8,
    pub(crate) key: SigningKey,
}

impl Ed25519Secret {
    pub(crate) fn from_seed(name: &str, sig_type: u8, seed: [u8; 32]) -> Result<Self, KeyError> {
        validate_key_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(name, sig_type, key.verifying_key().as_bytes());
        Ok(Ed25519Secret {
            name: name.to_owned(),
            key_id,
            sig_type,
            key,
        })
    }

    pub(crate) fn generate(name: &str, sig_type: u8) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Self::from_seed(name, sig_type, seed)
    }

    pub(crate) fn from_skey(text: &str, sig_type: u8) -> Result<Self, KeyError> {
        let (name, declared, got_type, seed) = parse_signer_key(text)?;
        if got_type != sig_type {
            return Err(KeyError::WrongType {
                name,
                got: got_type,
                expected: sig_type,
            });
        }
        let seed: [u8; 32] = seed
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength {
                name: name.clone(),
                got: seed.len(),
                expected: 32,
            })?;
        let secret = Self::from_seed(&name, sig_type, seed)?;
        if secret.key_id != declared {
            return Err(KeyError::KeyIdMismatch {
                name,
                declared,
                computed: secret.key_id,
            });
        }
        Ok(secret)
    }

    pub(crate) fn to_skey(&self) -> String {
        let mut material = Vec::with_capacity(33);
        material.push(self.sig_type);
        material.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id,
            encode_base64(&material)
        )
    }

    pub(crate) fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            sig_type: self.sig_type,
            public_key: self.key.verifying_key().as_bytes().to_vec(),
        }
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl fmt::Debug for Ed25519Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Ed25519Secret({}+{:08x}, type 0x{:02x}, private key redacted)",
            self.name, self.key_id, self.sig_type
        )
    }
}

/// Strict Ed25519 verification of a 64-byte signature.
pub(crate) fn ed25519_verify(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    let signature = Signature::from_bytes(&bytes);
    key.verify_strict(message, &signature).is_ok()
}

/// An Ed25519 note signing key (signature type 0x01), e.g. the log's checkpoint key.
#[derive(Clone, Debug)]
pub struct Ed25519NoteSigner {
    secret: Ed25519Secret,
}

impl Ed25519NoteSigner {
    /// Creates a signer from a key name and a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, KeyError> {
        Ok(Ed25519NoteSigner {
            secret: Ed25519Secret::from_seed(name, SIG_TYPE_ED25519, seed)?,
        })
    }

    /// Generates a new key from the operating system's random number generator.
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        Ok(Ed25519NoteSigner {
            secret: Ed25519Secret::generate(name, SIG_TYPE_ED25519)?,
        })
    }

    /// Parses a `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>` string.
    pub fn from_skey(text: &str) -> Result<Self, KeyError> {
        Ok(Ed25519NoteSigner {
            secret: Ed25519Secret::from_skey(text, SIG_TYPE_ED25519)?,
        })
    }

    /// Formats the private key string (keep it secret).
    pub fn to_skey(&self) -> String {
        self.secret.to_skey()
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Ed25519NoteVerifier {
        Ed25519NoteVerifier {
            name: self.secret.name.clone(),
            key_id: self.secret.key_id,
            key: self.secret.key.verifying_key(),
        }
    }

    /// The public verifier key string.
    pub fn vkey(&self) -> String {
        self.secret.verifier_key().to_string()
    }
}

impl NoteSigner for Ed25519NoteSigner {
    fn name(&self) -> &str {
        &self.secret.name
    }

    fn key_id(&self) -> u32 {
        self.secret.key_id
    }

    fn sign(&self, text: &[u8]) -> Vec<u8> {
        self.secret.sign(text).to_vec()
    }
}

/// An Ed25519 note verifier (signature type 0x01), e.g. a pinned log key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519NoteVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl Ed25519NoteVerifier {
    /// Parses a verifier key string of type 0x01, checking its key ID.
    pub fn from_vkey(text: &str) -> Result<Self, KeyError> {
        Self::from_verifier_key(&VerifierKey::parse(text)?)
    }

    /// Converts a parsed verifier key of type 0x01.
    pub fn from_verifier_key(vkey: &VerifierKey) -> Result<Self, KeyError> {
        let key = vkey.ed25519_key(SIG_TYPE_ED25519)?;
        Ok(Ed25519NoteVerifier {
            name: vkey.name.clone(),
            key_id: vkey.key_id,
            key,
        })
    }

    /// Creates a verifier from a name and a 32-byte public key.
    pub fn from_public_key(name: &str, public_key: [u8; 32]) -> Result<Self, KeyError> {
        validate_key_name(name)?;
        let key =
            VerifyingKey::from_bytes(&public_key).map_err(|_| KeyError::InvalidPublicKey {
                name: name.to_owned(),
            })?;
        Ok(Ed25519NoteVerifier {
            name: name.to_owned(),
            key_id: key_id(name, SIG_TYPE_ED25519, &public_key),
            key,
        })
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Formats the verifier key string.
    pub fn to_vkey(&self) -> String {
        VerifierKey {
            name: self.name.clone(),
            key_id: self.key_id,
            sig_type: SIG_TYPE_ED25519,
            public_key: self.key.as_bytes().to_vec(),
        }
        .to_string()
    }
}

impl NoteVerifier for Ed25519NoteVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn verify(&self, text: &[u8], signature: &[u8]) -> bool {
        ed25519_verify(&self.key, text, signature)
    }
}
