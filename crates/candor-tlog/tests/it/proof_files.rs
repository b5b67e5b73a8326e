//! tlog-proof files: format, parse, verify.

use candor_tlog::merkle::MemoryTree;
use candor_tlog::tlog_proof::{TlogProof, TlogProofError};
use candor_tlog::{Checkpoint, CosignerKey, Ed25519NoteSigner, Policy, leaf_hash};
use proptest::prelude::*;

fn make(
    extra: Option<Vec<u8>>,
    index: u64,
    size: u64,
) -> (
    TlogProof,
    Ed25519NoteSigner,
    CosignerKey,
    Vec<candor_tlog::Hash>,
) {
    let leaves: Vec<_> = (0..size)
        .map(|i| leaf_hash(format!("claim {i}").as_bytes()))
        .collect();
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    let log = Ed25519NoteSigner::from_seed("trust.example.com/log", [4; 32]).unwrap();
    let witness = CosignerKey::from_seed("witness.example/w", [6; 32]).unwrap();
    let cp = Checkpoint::new("trust.example.com/log", size, tree.root()).unwrap();
    let mut signed = cp.sign(&log).unwrap();
    let cosig = witness.cosign(signed.note().text(), 1_760_000_000).unwrap();
    signed.add_signature(cosig).unwrap();
    let proof = candor_tlog::inclusion_proof(index, size, &tree).unwrap();
    (
        TlogProof {
            extra,
            index,
            inclusion_proof: proof,
            checkpoint: signed,
        },
        log,
        witness,
        leaves,
    )
}

#[test]
fn write_parse_verify() {
    let (proof, log, witness, leaves) = make(Some(b"context".to_vec()), 5, 11);
    let bytes = proof.to_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.starts_with("c2sp.org/tlog-proof@v1\nextra Y29udGV4dA==\nindex 5\n"),
        "{text}"
    );
    assert!(text.contains("\n\ntrust.example.com/log\n11\n"));
    let parsed = TlogProof::parse(&bytes).unwrap();
    assert_eq!(parsed, proof);
    assert_eq!(parsed.to_bytes(), bytes);
    parsed
        .verify_with_log(&leaves[5], "trust.example.com/log", &log.verifier())
        .unwrap();
    assert!(
        parsed
            .verify_with_log(&leaves[4], "trust.example.com/log", &log.verifier())
            .is_err()
    );
    let policy = format!(
        "log {}\nwitness W {}\nquorum W\n",
        log.vkey(),
        witness.vkey()
    );
    let policy = Policy::parse(policy.as_bytes()).unwrap();
    let v = parsed.verify_with_policy(&leaves[5], &policy).unwrap();
    assert_eq!(v.cosignatures, vec![(0, 1_760_000_000)]);
    let err = parsed.verify_with_policy(&leaves[6], &policy).unwrap_err();
    assert!(matches!(err, TlogProofError::Inclusion(_)), "{err}");
}

#[test]
fn spec_layout_without_extra_and_empty_proof() {
    let (proof, _, _, leaves) = make(None, 0, 1);
    let bytes = proof.to_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n\ntrust.example.com/log\n1\n"),
        "{text}"
    );
    let parsed = TlogProof::parse(&bytes).unwrap();
    assert!(parsed.inclusion_proof.is_empty());
    parsed.verify_inclusion_only(&leaves[0]).unwrap();
}

#[test]
fn malformed_proof_files() {
    let (proof, _, _, _) = make(None, 2, 5);
    let good = String::from_utf8(proof.to_bytes()).unwrap();
    let cp = String::from_utf8(proof.checkpoint.to_bytes()).unwrap();
    let cases: Vec<crate::Case<String, TlogProofError>> = vec![
        ("".into(), |e| matches!(e, TlogProofError::Line { line: 1 })),
        (good.replace("tlog-proof@v1", "tlog-proof@v2"), |e| {
            matches!(e, TlogProofError::Header { .. })
        }),
        (good.replace("index 2", "index 02"), |e| {
            matches!(e, TlogProofError::Index { line: 2, .. })
        }),
        (good.replace("index 2", "idx 2"), |e| {
            matches!(e, TlogProofError::Index { .. })
        }),
        (good.replace("index 2\n", "extra !!\nindex 2\n"), |e| {
            matches!(e, TlogProofError::Extra { line: 2 })
        }),
        (good.replace("index 2\n", "index 2\nAAAA\n"), |e| {
            matches!(e, TlogProofError::ProofHash { line: 3, .. })
        }),
        (
            format!(
                "c2sp.org/tlog-proof@v1\nindex 2\n{}",
                "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n".repeat(65)
            ),
            |e| matches!(e, TlogProofError::TooManyHashes { .. }),
        ),
        ("c2sp.org/tlog-proof@v1\nindex 2\n".into(), |e| {
            matches!(e, TlogProofError::MissingCheckpoint)
        }),
        (
            format!(
                "c2sp.org/tlog-proof@v1\nindex 2\n\n{}",
                cp.replace("\n\n", "\n")
            ),
            |e| matches!(e, TlogProofError::Checkpoint(_)),
        ),
    ];
    for (text, check) in cases {
        let err = TlogProof::parse(text.as_bytes()).unwrap_err();
        assert!(check(&err), "{text:?} gave {err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn proof_file_round_trip(extra in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..50)), size in 1u64..100, seed in any::<u64>()) {
        let index = seed % size;
        let (proof, log, _, leaves) = make(extra, index, size);
        let parsed = TlogProof::parse(&proof.to_bytes()).unwrap();
        prop_assert_eq!(&parsed, &proof);
        prop_assert!(parsed.verify_with_log(&leaves[index as usize], "trust.example.com/log", &log.verifier()).is_ok());
    }

    #[test]
    fn proof_parser_never_panics(prefix in "(c2sp.org/tlog-proof@v1\n)?(extra [A-Za-z0-9+/=]{0,8}\n)?(index [0-9]{0,3}\n)?([A-Za-z0-9+/=]{0,44}\n){0,3}\n?", tail in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut bytes = prefix.into_bytes();
        bytes.extend(tail);
        let _ = TlogProof::parse(&bytes);
    }
}
