//! Shared bodies of the fuzz targets, so `cargo fuzz` and the corpus replay test run the same
//! checks. Each returns `Err` with a description when an invariant is broken (a parser accepted
//! input that does not format back to itself, for example); the fuzz harness turns that into a
//! crash. Not part of the stable API.

use std::collections::BTreeMap;

use crate::bundle::{encode_bundle, parse_bundle};
use crate::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::cosignature::{CosignatureV1, CosignatureVerifier};
use crate::keys::{Ed25519NoteVerifier, VerifierKey};
use crate::merkle::Hash;
use crate::note::{Note, NoteSignature, NoteVerifier};
use crate::policy::Policy;
use crate::proof::{tree_root, verify_consistency, verify_inclusion};
use crate::tiles::{TileHashReader, TileId, TilePath, parse_tile_hashes};
use crate::tlog_proof::TlogProof;

/// Names of all fuzz targets (also the corpus directory names).
pub const TARGETS: &[&str] = &[
    "note",
    "checkpoint",
    "tile_path",
    "tile_data",
    "entry_bundle",
    "proof_file",
    "policy",
    "cosignature",
    "vkey",
    "merkle_verify",
];

const TEST_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fn ensure(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.to_owned()) }
}

/// Runs the named target on one input.
pub fn run(target: &str, data: &[u8]) -> Result<(), String> {
    match target {
        "note" => note(data),
        "checkpoint" => checkpoint(data),
        "tile_path" => tile_path(data),
        "tile_data" => tile_data(data),
        "entry_bundle" => entry_bundle(data),
        "proof_file" => proof_file(data),
        "policy" => policy(data),
        "cosignature" => cosignature(data),
        "vkey" => vkey(data),
        "merkle_verify" => merkle_verify(data),
        other => Err(format!("unknown fuzz target {other}")),
    }
}

fn note(data: &[u8]) -> Result<(), String> {
    if let Ok(note) = Note::parse(data) {
        ensure(
            note.to_bytes() == data,
            "note does not format back to its input",
        )?;
        if let Ok(v) = Ed25519NoteVerifier::from_vkey(TEST_VKEY) {
            let _ = note.verify(&[&v]);
        }
    }
    Ok(())
}

fn checkpoint(data: &[u8]) -> Result<(), String> {
    if let Ok(signed) = SignedCheckpoint::parse(data) {
        ensure(
            signed.to_bytes() == data,
            "signed checkpoint does not format back",
        )?;
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(cp) = Checkpoint::parse(text)
    {
        ensure(cp.to_text() == text, "checkpoint text does not format back")?;
    }
    Ok(())
}

fn tile_path(data: &[u8]) -> Result<(), String> {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(path) = TilePath::parse(text)
    {
        ensure(path.path() == text, "tile path does not format back")?;
    }
    Ok(())
}

fn tile_data(data: &[u8]) -> Result<(), String> {
    if let Ok(hashes) = parse_tile_hashes(data) {
        let joined: Vec<u8> = hashes.iter().flat_map(|h| h.0).collect();
        ensure(joined == data, "tile hashes do not re-encode to the tile")?;
        let width = hashes.len() as u16;
        if let Ok(tile) = TileId::new(0, 0, width) {
            let mut tiles = BTreeMap::new();
            tiles.insert(tile, data.to_vec());
            let reader = TileHashReader::new(u64::from(width), &tiles);
            ensure(
                tree_root(u64::from(width), &reader).is_ok(),
                "root of a well-formed level-0 tile could not be computed",
            )?;
        }
    }
    Ok(())
}

fn entry_bundle(data: &[u8]) -> Result<(), String> {
    if let Ok(entries) = parse_bundle(data) {
        let encoded = encode_bundle(&entries).map_err(|e| e.to_string())?;
        ensure(encoded == data, "bundle does not re-encode to its input")?;
    }
    Ok(())
}

fn proof_file(data: &[u8]) -> Result<(), String> {
    if let Ok(proof) = TlogProof::parse(data) {
        ensure(proof.to_bytes() == data, "proof file does not format back")?;
        let _ = proof.verify_inclusion_only(&Hash::default());
    }
    Ok(())
}

fn policy(data: &[u8]) -> Result<(), String> {
    if let Ok(policy) = Policy::parse(data) {
        let again = Policy::parse(policy.to_text().as_bytes()).map_err(|e| e.to_string())?;
        ensure(
            again == policy,
            "formatted policy parses to a different policy",
        )?;
        let _ = policy.quorum_met(&[0, 1, 2]);
    }
    Ok(())
}

fn cosignature(data: &[u8]) -> Result<(), String> {
    let sigs: Vec<NoteSignature> = match std::str::from_utf8(data) {
        Ok(text) => NoteSignature::parse_lines(text).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let verifier = CosignatureVerifier::from_public_key("witness.example", [0x11; 32]).ok();
    for sig in &sigs {
        if let Ok(cosig) = CosignatureV1::from_signature(sig) {
            ensure(
                cosig.to_bytes() == sig.signature,
                "cosignature does not re-encode",
            )?;
        }
        if let Some(v) = &verifier {
            let _ = v.verify(
                b"origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                &sig.signature,
            );
        }
    }
    if !sigs.is_empty() {
        let lines: String = sigs.iter().map(NoteSignature::to_line).collect();
        ensure(
            lines.as_bytes() == data,
            "signature lines do not format back",
        )?;
    }
    Ok(())
}

fn vkey(data: &[u8]) -> Result<(), String> {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(key) = VerifierKey::parse(text) {
            let again = VerifierKey::parse(&key.to_string()).map_err(|e| e.to_string())?;
            ensure(again == key, "vkey does not round trip")?;
            let _ = Ed25519NoteVerifier::from_verifier_key(&key);
            let _ = CosignatureVerifier::from_verifier_key(&key);
        }
        let _ = crate::keys::Ed25519NoteSigner::from_skey(text);
    }
    Ok(())
}

fn merkle_verify(data: &[u8]) -> Result<(), String> {
    // Layout: index (8 bytes), size (8 bytes), then 32-byte hashes: leaf, root, proof...
    if data.len() < 16 + 64 {
        return Ok(());
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(&data[..8]);
    let index = u64::from_be_bytes(a);
    a.copy_from_slice(&data[8..16]);
    let size = u64::from_be_bytes(a);
    let hashes: Vec<Hash> = data[16..]
        .chunks_exact(32)
        .filter_map(|c| Hash::from_slice(c).ok())
        .collect();
    let (leaf, rest) = hashes.split_first().ok_or("no leaf")?;
    let (root, proof) = rest.split_first().ok_or("no root")?;
    let _ = verify_inclusion(index, size, leaf, proof, root);
    let _ = verify_consistency(index, size, leaf, root, proof);
    Ok(())
}
