//! Log entries: every published fact, typed, versioned and canonical. Each type is registered in
//! `docs/LOG-ENTRIES.md`. Entries never contain personal data or free text in clear.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::canonical::{CanonicalError, to_canonical_json};

/// The largest entry the log accepts (tlog-tiles entry bundles use a 16-bit length).
pub const MAX_ENTRY_BYTES: usize = 65_535;

/// Why an entry cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Not canonicalisable.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// Over the size limit.
    #[error("log entry of type {entry_type} is {size} bytes; the limit is {MAX_ENTRY_BYTES}")]
    TooLarge {
        /// The entry type.
        entry_type: &'static str,
        /// Its canonical size.
        size: usize,
    },
}

/// A canonical log entry, ready to sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The registered type, e.g. `content.revision`.
    pub entry_type: &'static str,
    /// RFC 8785 bytes.
    pub bytes: Vec<u8>,
}

impl Entry {
    /// The RFC 6962 leaf hash: SHA-256(0x00 || bytes).
    pub fn leaf_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(&self.bytes);
        h.finalize().into()
    }
}

fn build(entry_type: &'static str, version: u32, mut fields: Value) -> Result<Entry, EntryError> {
    if let Value::Object(map) = &mut fields {
        map.insert("type".into(), Value::String(entry_type.into()));
        map.insert("v".into(), Value::from(version));
    }
    let bytes = to_canonical_json(&fields)?;
    if bytes.len() > MAX_ENTRY_BYTES {
        return Err(EntryError::TooLarge {
            entry_type,
            size: bytes.len(),
        });
    }
    Ok(Entry { entry_type, bytes })
}

/// RFC 3339 UTC with milliseconds, the one time format entries use.
pub fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let ms = at
        .replace_nanosecond(at.millisecond() as u32 * 1_000_000)
        .unwrap_or(at);
    ms.format(&Rfc3339).unwrap_or_default()
}

/// A person's keyed commitment: hex HMAC-SHA256 under the person's own key. Entries name people
/// only this way; deleting the key (crypto-shredding) makes every entry about them unlinkable.
pub fn person_commitment(person_key: &[u8; 32], person_ref: &str) -> String {
    use hmac::{KeyInit, Mac};
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(person_key) else {
        return String::new();
    };
    mac.update(b"candor.person/v1\n");
    mac.update(person_ref.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `digest.batch` v1: facts that arrive in floods (failed sign-ins, probe samples) are not a leaf
/// each; every interval, one entry commits to all of them through the RFC 6962 root of their
/// canonical bytes.
pub fn digest_batch(
    stream: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    count: u64,
    root_hex: &str,
) -> Result<Entry, EntryError> {
    build(
        "digest.batch",
        1,
        json!({ "stream": stream, "from": timestamp(from), "to": timestamp(to), "count": count, "root": root_hex }),
    )
}

/// `content.revision` v1: a content page's bytes changed and were published.
pub fn content_revision(
    page_path: &str,
    content_sha256: &str,
    published_at: OffsetDateTime,
) -> Result<Entry, EntryError> {
    build(
        "content.revision",
        1,
        json!({ "page": page_path, "content_sha256": content_sha256, "published_at": timestamp(published_at) }),
    )
}

/// One audit event as committed by an `audit.events` digest item: canonical JSON with the actor as
/// a person commitment (or `anonymous`/`system`) and the target and source address as SHA-256
/// hex, so the item bytes hold no personal data in clear.
pub fn audit_item(
    id: i64,
    at: OffsetDateTime,
    actor: &str,
    action: &str,
    target: &str,
    source_addr: &str,
) -> Result<Vec<u8>, EntryError> {
    let sha = |text: &str| hex::encode(Sha256::digest(text.as_bytes()));
    Ok(to_canonical_json(&json!({
        "id": id,
        "at": timestamp(at),
        "actor": actor,
        "action": action,
        "target_sha256": sha(target),
        "source_sha256": sha(source_addr),
    }))?)
}

/// The RFC 6962 Merkle tree hash over items (leaf hash = SHA-256(0x00 || item)): the `root` of a
/// `digest.batch` entry. SHA-256 of nothing for no items.
pub fn items_root(items: &[Vec<u8>]) -> [u8; 32] {
    fn leaf(item: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([0u8]);
        h.update(item);
        h.finalize().into()
    }
    fn node(left: [u8; 32], right: [u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(left);
        h.update(right);
        h.finalize().into()
    }
    fn root(items: &[Vec<u8>]) -> [u8; 32] {
        match items {
            [] => Sha256::digest([]).into(),
            [one] => leaf(one),
            _ => {
                // Split at the largest power of two smaller than the count (RFC 6962 §2.1).
                let k = 1usize << (usize::BITS - 1 - (items.len() - 1).leading_zeros());
                let (l, r) = items.split_at(k);
                node(root(l), root(r))
            }
        }
    }
    root(items)
}

/// `log.rotation` v1: entry 0 of a log that replaced another after a key rotation. It names the
/// retired log and its final tree, so that the chain of logs can be followed and checked.
pub fn log_rotation(
    previous_origin: &str,
    previous_vkey: &str,
    previous_size: u64,
    previous_root_base64: &str,
    rotated_at: OffsetDateTime,
) -> Result<Entry, EntryError> {
    build(
        "log.rotation",
        1,
        json!({
            "previous_origin": previous_origin,
            "previous_vkey": previous_vkey,
            "previous_size": previous_size,
            "previous_root": previous_root_base64,
            "rotated_at": timestamp(rotated_at),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn content_revision_is_canonical_and_stable() {
        let e =
            content_revision("/security", "ab12", datetime!(2026-11-30 10:00:00.5 UTC)).unwrap();
        assert_eq!(
            String::from_utf8(e.bytes).unwrap(),
            r#"{"content_sha256":"ab12","page":"/security","published_at":"2026-11-30T10:00:00.5Z","type":"content.revision","v":1}"#
        );
    }

    #[test]
    fn person_commitments_depend_on_key_and_person() {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        assert_eq!(
            person_commitment(&k1, "operator:7"),
            person_commitment(&k1, "operator:7")
        );
        assert_ne!(
            person_commitment(&k1, "operator:7"),
            person_commitment(&k1, "operator:8")
        );
        assert_ne!(
            person_commitment(&k1, "operator:7"),
            person_commitment(&k2, "operator:7")
        );
        assert_eq!(person_commitment(&k1, "x").len(), 64);
    }

    #[test]
    fn oversized_entries_are_refused() {
        let long = "x".repeat(MAX_ENTRY_BYTES);
        assert!(matches!(
            content_revision(&long, "", OffsetDateTime::UNIX_EPOCH),
            Err(EntryError::TooLarge { .. })
        ));
    }
}
