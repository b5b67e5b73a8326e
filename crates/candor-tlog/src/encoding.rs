//! Small shared encoders: strict base64, lowercase hex and canonical decimals.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Decodes canonical standard base64 with padding; `None` for anything else.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    // The STANDARD engine rejects missing padding and non-zero trailing bits, so every accepted
    // string re-encodes to itself; parsing then formatting is byte-identical.
    STANDARD.decode(text).ok()
}

/// Encodes standard base64 with padding.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Lowercase hex.
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Parses an ASCII decimal with no sign and no leading zeros ("0" itself is allowed).
pub(crate) fn parse_canonical_u64(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse().ok()
}

/// Shortens untrusted text for inclusion in an error message.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 80;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push('…');
        s
    }
}
