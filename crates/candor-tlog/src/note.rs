//! C2SP signed-note (`c2sp.org/signed-note@v1.0.0`): text, a blank line, and signature lines
//! `— <name> <base64(key ID || signature)>`.

use std::collections::HashSet;

use thiserror::Error;

use crate::encoding::{decode_base64, encode_base64, excerpt};

/// Signature line prefix: em dash (U+2014) and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Largest note accepted, in bytes (checkpoints are a few hundred bytes; this leaves room for
/// a hundred post-quantum cosignatures).
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// Most signature lines accepted in one note (the spec requires at least 16; Go allows 100).
pub const MAX_SIGNATURES: usize = 100;

/// Why a note is malformed or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_SIZE`].
    #[error("note is {size} bytes, larger than the {max}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The note is not valid UTF-8.
    #[error("note is not valid UTF-8 (first invalid byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The note contains an ASCII control character other than newline.
    #[error(
        "note contains control character 0x{byte:02x} at offset {offset}; only newline is allowed"
    )]
    ControlCharacter {
        /// The character.
        byte: u8,
        /// Its offset.
        offset: usize,
    },
    /// The note text is empty.
    #[error("note text is empty")]
    EmptyText,
    /// The note text does not end with a newline.
    #[error("note text does not end with a newline")]
    TextNotNewlineTerminated,
    /// No blank line separates the text from the signatures.
    #[error("note has no blank line separating the text from the signatures")]
    MissingSeparator,
    /// There is nothing after the blank line.
    #[error("note has no signature lines after the blank line")]
    NoSignatures,
    /// The last signature line has no final newline.
    #[error("the last signature line does not end with a newline")]
    SignaturesNotNewlineTerminated,
    /// A signature line does not start with the em dash and space.
    #[error("signature line {line} does not start with \"— \" (U+2014, space): {text:?}")]
    SignaturePrefix {
        /// 1-based signature line number.
        line: usize,
        /// The line (shortened).
        text: String,
    },
    /// A signature line has no space between the key name and the signature.
    #[error("signature line {line} has no space between key name and signature")]
    SignatureMissingSpace {
        /// 1-based signature line number.
        line: usize,
    },
    /// A key name is empty or contains whitespace or `+`.
    #[error("signature line {line}: {source}")]
    SignatureKeyName {
        /// 1-based signature line number.
        line: usize,
        /// What is wrong with the name.
        source: KeyNameError,
    },
    /// A signature is not canonical base64.
    #[error("signature line {line}: signature {text:?} is not canonical standard base64")]
    SignatureBase64 {
        /// 1-based signature line number.
        line: usize,
        /// The signature text (shortened).
        text: String,
    },
    /// A signature is shorter than a key ID plus one byte.
    #[error(
        "signature line {line}: signature is {len} bytes, need at least 5 (key ID and signature)"
    )]
    SignatureTooShort {
        /// 1-based signature line number.
        line: usize,
        /// Decoded length.
        len: usize,
    },
    /// The note has more than [`MAX_SIGNATURES`] signatures.
    #[error("note has more than {max} signature lines")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// A signature from a known key failed to verify.
    #[error("signature by {name} (key ID {key_id:08x}) does not verify")]
    BadSignature {
        /// Key name.
        name: String,
        /// Key ID.
        key_id: u32,
    },
    /// No signature came from any of the known keys.
    #[error("note has no signature from a known key (signed by: {signers}; known keys: {known})")]
    NoKnownSignature {
        /// `name+keyid` of the signatures present.
        signers: String,
        /// `name+keyid` of the keys that were accepted.
        known: String,
    },
}

/// Why a key name is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyNameError {
    /// The name is empty.
    #[error("key name is empty")]
    Empty,
    /// The name contains a Unicode space.
    #[error("key name {name:?} contains whitespace")]
    Whitespace {
        /// The name.
        name: String,
    },
    /// The name contains `+`.
    #[error("key name {name:?} contains '+'")]
    Plus {
        /// The name.
        name: String,
    },
    /// The name contains a control character.
    #[error("key name {name:?} contains a control character")]
    Control {
        /// The name.
        name: String,
    },
}

/// Checks the signed-note key name rules: non-empty, no Unicode whitespace, no `+`.
pub fn validate_key_name(name: &str) -> Result<(), KeyNameError> {
    if name.is_empty() {
        return Err(KeyNameError::Empty);
    }
    if name.chars().any(char::is_whitespace) {
        return Err(KeyNameError::Whitespace {
            name: excerpt(name),
        });
    }
    if name.contains('+') {
        return Err(KeyNameError::Plus {
            name: excerpt(name),
        });
    }
    if name.chars().any(char::is_control) {
        return Err(KeyNameError::Control {
            name: excerpt(name),
        });
    }
    Ok(())
}

/// One signature line: key name, key ID and the signature bytes that follow the key ID.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct NoteSignature {
    /// Name of the signing key.
    pub name: String,
    /// 32-bit key ID (first four bytes of the decoded signature, big-endian).
    pub key_id: u32,
    /// Signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// Formats the signature line, including its final newline.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, encode_base64(&raw))
    }

    /// Parses signature lines (each ending in a newline), e.g. a witness's response body.
    pub fn parse_lines(text: &str) -> Result<Vec<NoteSignature>, NoteError> {
        if text.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        if !text.ends_with('\n') {
            return Err(NoteError::SignaturesNotNewlineTerminated);
        }
        check_characters(text)?;
        let mut out = Vec::new();
        for (i, line) in text[..text.len() - 1].split('\n').enumerate() {
            if out.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    max: MAX_SIGNATURES,
                });
            }
            out.push(parse_signature_line(i + 1, line)?);
        }
        Ok(out)
    }
}

fn parse_signature_line(line_no: usize, line: &str) -> Result<NoteSignature, NoteError> {
    let rest = line
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or_else(|| NoteError::SignaturePrefix {
            line: line_no,
            text: excerpt(line),
        })?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or(NoteError::SignatureMissingSpace { line: line_no })?;
    validate_key_name(name).map_err(|source| NoteError::SignatureKeyName {
        line: line_no,
        source,
    })?;
    let raw = decode_base64(b64)
        .filter(|_| !b64.is_empty())
        .ok_or_else(|| NoteError::SignatureBase64 {
            line: line_no,
            text: excerpt(b64),
        })?;
    if raw.len() < 5 {
        return Err(NoteError::SignatureTooShort {
            line: line_no,
            len: raw.len(),
        });
    }
    let key_id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id,
        signature: raw[4..].to_vec(),
    })
}

fn check_characters(text: &str) -> Result<(), NoteError> {
    if let Some((offset, byte)) = text
        .bytes()
        .enumerate()
        .find(|&(_, b)| b < 0x20 && b != b'\n')
    {
        return Err(NoteError::ControlCharacter { byte, offset });
    }
    Ok(())
}

/// Checks that `text` can be the text of a signed note.
pub fn validate_note_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() {
        return Err(NoteError::EmptyText);
    }
    if text.len() > MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge {
            size: text.len(),
            max: MAX_NOTE_SIZE,
        });
    }
    if !text.ends_with('\n') {
        return Err(NoteError::TextNotNewlineTerminated);
    }
    check_characters(text)
}

/// Something that can sign note text with one key.
pub trait NoteSigner {
    /// Key name written on the signature line.
    fn name(&self) -> &str;
    /// Key ID written in front of the signature.
    fn key_id(&self) -> u32;
    /// Signs the note text (including its final newline) and returns the signature bytes.
    fn sign(&self, text: &[u8]) -> Vec<u8>;
}

/// Something that can verify note signatures made by one key.
pub trait NoteVerifier {
    /// Key name this verifier accepts.
    fn name(&self) -> &str;
    /// Key ID this verifier accepts.
    fn key_id(&self) -> u32;
    /// Returns true if `signature` (without the key ID) is valid over `text`.
    fn verify(&self, text: &[u8], signature: &[u8]) -> bool;
}

/// A signature that verified, with the position of the signature and of its verifier.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VerifiedSignature {
    /// Index into [`Note::signatures`].
    pub signature_index: usize,
    /// Index into the verifier slice passed to [`Note::verify`].
    pub verifier_index: usize,
}

/// A signed note: text plus signature lines.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Creates an unsigned note after checking its text.
    pub fn new(text: impl Into<String>) -> Result<Self, NoteError> {
        let text = text.into();
        validate_note_text(&text)?;
        Ok(Note {
            text,
            signatures: Vec::new(),
        })
    }

    /// The signed text, including its final newline.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Signs the text with `signer` and appends the signature line.
    pub fn sign(&mut self, signer: &dyn NoteSigner) -> Result<(), NoteError> {
        let signature = NoteSignature {
            name: signer.name().to_owned(),
            key_id: signer.key_id(),
            signature: signer.sign(self.text.as_bytes()),
        };
        self.add_signature(signature)
    }

    /// Appends an existing signature line (for example a witness cosignature).
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        validate_key_name(&signature.name).map_err(|source| NoteError::SignatureKeyName {
            line: self.signatures.len() + 1,
            source,
        })?;
        if signature.signature.is_empty() {
            return Err(NoteError::SignatureTooShort {
                line: self.signatures.len() + 1,
                len: 4,
            });
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// Parses a signed note, checking every structural rule of the spec (signatures are not
    /// verified; call [`Note::verify`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge {
                size: bytes.len(),
                max: MAX_NOTE_SIZE,
            });
        }
        let message = std::str::from_utf8(bytes).map_err(|e| NoteError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        check_characters(message)?;
        let split = message.rfind("\n\n").ok_or(NoteError::MissingSeparator)?;
        let text = &message[..=split];
        let sigs = &message[split + 2..];
        if sigs.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let signatures = NoteSignature::parse_lines(sigs)?;
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Formats the note: text, blank line, signature lines.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Verifies the signatures against known keys, following the spec: signatures from unknown
    /// (name, key ID) pairs are ignored, repeated lines from one key after the first are
    /// ignored, a known key whose signature fails rejects the whole note, and at least one known
    /// key must have signed.
    pub fn verify(
        &self,
        verifiers: &[&dyn NoteVerifier],
    ) -> Result<Vec<VerifiedSignature>, NoteError> {
        let verified = self.verify_known(verifiers)?;
        if verified.is_empty() {
            let signers = self
                .signatures
                .iter()
                .map(|s| format!("{}+{:08x}", s.name, s.key_id))
                .collect::<Vec<_>>()
                .join(", ");
            let known = verifiers
                .iter()
                .map(|v| format!("{}+{:08x}", v.name(), v.key_id()))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(NoteError::NoKnownSignature { signers, known });
        }
        Ok(verified)
    }

    /// Like [`Note::verify`] but returns an empty list instead of an error when no known key
    /// signed (useful when counting cosignatures).
    pub fn verify_known(
        &self,
        verifiers: &[&dyn NoteVerifier],
    ) -> Result<Vec<VerifiedSignature>, NoteError> {
        let mut seen = HashSet::new();
        let mut verified = Vec::new();
        for (signature_index, sig) in self.signatures.iter().enumerate() {
            if !seen.insert((sig.name.as_str(), sig.key_id)) {
                continue;
            }
            let Some(verifier_index) = verifiers
                .iter()
                .position(|v| v.name() == sig.name && v.key_id() == sig.key_id)
            else {
                continue;
            };
            if !verifiers[verifier_index].verify(self.text.as_bytes(), &sig.signature) {
                return Err(NoteError::BadSignature {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                });
            }
            verified.push(VerifiedSignature {
                signature_index,
                verifier_index,
            });
        }
        Ok(verified)
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for sig in &self.signatures {
            f.write_str(&sig.to_line())?;
        }
        Ok(())
    }
}
