//! Signed notes, keys, checkpoints and cosignatures: spec vectors, round trips, malformed input.

use candor_tlog::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use candor_tlog::cosignature::{CosignatureV1, CosignerKey, cosigned_message};
use candor_tlog::keys::{Ed25519NoteSigner, Ed25519NoteVerifier, KeyError, VerifierKey, key_id};
use candor_tlog::note::{MAX_SIGNATURES, Note, NoteError, NoteSignature, NoteVerifier};
use candor_tlog::{CosignatureVerifier, Hash, leaf_hash};
use proptest::prelude::*;

const FOO_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const FOO_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

const PN_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PN_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PN_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PN_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn spec_example_note_verifies() {
    let v = Ed25519NoteVerifier::from_vkey(FOO_VKEY).unwrap();
    assert_eq!(v.key_id(), 0x530d903a);
    assert_eq!(v.to_vkey(), FOO_VKEY);
    let note = Note::parse(FOO_NOTE.as_bytes()).unwrap();
    assert_eq!(note.text(), "This is an example message.\n");
    let verified = note.verify(&[&v]).unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(note.to_bytes(), FOO_NOTE.as_bytes());
}

#[test]
fn go_known_answer_signature_is_reproduced() {
    let signer = Ed25519NoteSigner::from_skey(PN_SKEY).unwrap();
    assert_eq!(signer.vkey(), PN_VKEY);
    assert_eq!(signer.to_skey(), PN_SKEY);
    let mut note = Note::new(PN_TEXT).unwrap();
    note.sign(&signer).unwrap();
    let expected = format!("{PN_TEXT}\n{PN_SIG}");
    assert_eq!(String::from_utf8(note.to_bytes()).unwrap(), expected);
    let v = Ed25519NoteVerifier::from_vkey(PN_VKEY).unwrap();
    Note::parse(expected.as_bytes())
        .unwrap()
        .verify(&[&v])
        .unwrap();
    // Debug output never shows the private key.
    assert!(!format!("{signer:?}").contains("AYEKFALV"));
}

#[test]
fn key_id_computation() {
    let v = VerifierKey::parse(PN_VKEY).unwrap();
    assert_eq!(key_id("PeterNeumann", 0x01, &v.public_key), 0xc74f20a3);
    assert_eq!(v.to_string(), PN_VKEY);
}

#[test]
fn spec_poem_note_with_blank_line_in_text_parses() {
    let poem = "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u{e8} subito sera.\n\n\u{2014} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n";
    let note = Note::parse(poem.as_bytes()).unwrap();
    assert!(note.text().ends_with("sera.\n"));
    assert!(note.text().contains("\n\n"));
    assert_eq!(note.signatures()[0].name, "quasimodo.example/salvatore");
    assert_eq!(note.to_bytes(), poem.as_bytes());
}

#[test]
fn unknown_keys_are_ignored_and_bad_known_signatures_reject() {
    let a = Ed25519NoteSigner::from_seed("a.example/log", [1; 32]).unwrap();
    let b = Ed25519NoteSigner::from_seed("b.example/log", [2; 32]).unwrap();
    let mut note = Note::new("hello\n").unwrap();
    note.sign(&b).unwrap();
    note.sign(&a).unwrap();
    // Same name as a, different key: unknown, ignored.
    let impostor = Ed25519NoteSigner::from_seed("a.example/log", [3; 32]).unwrap();
    note.sign(&impostor).unwrap();
    let verified = note.verify(&[&a.verifier()]).unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].signature_index, 1);
    // No known key.
    let c = Ed25519NoteSigner::from_seed("c.example/log", [4; 32]).unwrap();
    let err = note.verify(&[&c.verifier()]).unwrap_err();
    assert!(matches!(err, NoteError::NoKnownSignature { .. }), "{err}");
    // A corrupted signature from a known key rejects the note.
    let mut bytes = note.to_string();
    let sig_line = note.signatures()[1].to_line();
    let mut bad = note.signatures()[1].clone();
    bad.signature[0] ^= 1;
    bytes = bytes.replace(&sig_line, &bad.to_line());
    let tampered = Note::parse(bytes.as_bytes()).unwrap();
    let err = tampered.verify(&[&a.verifier()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "signature by a.example/log (key ID {:08x}) does not verify",
            a.verifier().key_id()
        )
    );
    // Tampered text.
    let changed = note.to_string().replacen("hello", "hellp", 1);
    assert!(
        Note::parse(changed.as_bytes())
            .unwrap()
            .verify(&[&a.verifier()])
            .is_err()
    );
}

#[test]
fn duplicate_signature_lines_count_once() {
    let a = Ed25519NoteSigner::from_seed("a.example/log", [1; 32]).unwrap();
    let mut note = Note::new("hello\n").unwrap();
    note.sign(&a).unwrap();
    note.sign(&a).unwrap();
    assert_eq!(note.verify(&[&a.verifier()]).unwrap().len(), 1);
}

#[test]
fn malformed_notes_are_rejected_with_specific_errors() {
    let sig = "\u{2014} a Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let cases: Vec<crate::Case<Vec<u8>, NoteError>> = vec![
        (b"no separator\n".to_vec(), |e| {
            matches!(e, NoteError::MissingSeparator)
        }),
        (b"text\n\n".to_vec(), |e| {
            matches!(e, NoteError::NoSignatures)
        }),
        (format!("text\n\n{}", sig.trim_end()).into_bytes(), |e| {
            matches!(e, NoteError::SignaturesNotNewlineTerminated)
        }),
        (format!("te\rxt\n\n{sig}").into_bytes(), |e| {
            matches!(
                e,
                NoteError::ControlCharacter {
                    byte: 0x0d,
                    offset: 2
                }
            )
        }),
        (vec![0xff, b'\n', b'\n'], |e| {
            matches!(e, NoteError::NotUtf8 { offset: 0 })
        }),
        (b"text\n\n- a AAAAAAA=\n".to_vec(), |e| {
            matches!(e, NoteError::SignaturePrefix { line: 1, .. })
        }),
        ("text\n\n\u{2014} nospace\n".as_bytes().to_vec(), |e| {
            matches!(e, NoteError::SignatureMissingSpace { .. })
        }),
        ("text\n\n\u{2014} a+b AAAAAAA=\n".as_bytes().to_vec(), |e| {
            matches!(e, NoteError::SignatureKeyName { .. })
        }),
        ("text\n\n\u{2014} a AAAA\n".as_bytes().to_vec(), |e| {
            matches!(e, NoteError::SignatureTooShort { len: 3, .. })
        }),
        ("text\n\n\u{2014} a !!!!\n".as_bytes().to_vec(), |e| {
            matches!(e, NoteError::SignatureBase64 { .. })
        }),
        // Non-canonical base64 (non-zero trailing bits) is rejected so formatting is exact.
        ("text\n\n\u{2014} a AAAAAAB=\n".as_bytes().to_vec(), |e| {
            matches!(e, NoteError::SignatureBase64 { .. })
        }),
        ("text\n\n\u{2014} a \n".as_bytes().to_vec(), |e| {
            matches!(e, NoteError::SignatureBase64 { .. })
        }),
        ("text\n\n\u{2014}  AAAAAAA=\n".as_bytes().to_vec(), |e| {
            matches!(e, NoteError::SignatureKeyName { .. })
        }),
        (
            format!("text\n\n{}", sig.repeat(MAX_SIGNATURES + 1)).into_bytes(),
            |e| matches!(e, NoteError::TooManySignatures { .. }),
        ),
        (vec![b'a'; candor_tlog::note::MAX_NOTE_SIZE + 1], |e| {
            matches!(e, NoteError::TooLarge { .. })
        }),
    ];
    for (input, check) in cases {
        let err = Note::parse(&input).unwrap_err();
        assert!(
            check(&err),
            "input {:?} gave {err}",
            String::from_utf8_lossy(&input[..input.len().min(60)])
        );
    }
    // Exactly the limit is accepted (spec: at least 16 must be).
    let ok = format!("text\n\n{}", sig.repeat(MAX_SIGNATURES));
    assert_eq!(
        Note::parse(ok.as_bytes()).unwrap().signatures().len(),
        MAX_SIGNATURES
    );
    assert!(matches!(
        Note::new("no newline"),
        Err(NoteError::TextNotNewlineTerminated)
    ));
    assert!(matches!(Note::new(""), Err(NoteError::EmptyText)));
    assert!(matches!(
        Note::new("tab\there\n"),
        Err(NoteError::ControlCharacter { .. })
    ));
}

#[test]
fn malformed_keys_are_rejected() {
    assert!(matches!(
        VerifierKey::parse("nameonly"),
        Err(KeyError::Format { .. })
    ));
    assert!(matches!(
        VerifierKey::parse("a+1234567+AQ=="),
        Err(KeyError::KeyIdFormat { .. })
    ));
    assert!(matches!(
        VerifierKey::parse("a+12345678+!!"),
        Err(KeyError::Base64 { .. })
    ));
    assert!(matches!(
        VerifierKey::parse("a+12345678+"),
        Err(KeyError::EmptyMaterial { .. })
    ));
    assert!(matches!(
        VerifierKey::parse(" a+12345678+AQ=="),
        Err(KeyError::Name(_))
    ));
    // Key ID that does not match.
    let wrong_id = PN_VKEY.replace("c74f20a3", "c74f20a4");
    assert!(matches!(
        Ed25519NoteVerifier::from_vkey(&wrong_id),
        Err(KeyError::KeyIdMismatch {
            declared: 0xc74f20a4,
            computed: 0xc74f20a3,
            ..
        })
    ));
    // Wrong type: a cosigner key is not a log key and vice versa.
    let cosigner = CosignerKey::from_seed("w.example", [9; 32]).unwrap();
    assert!(matches!(
        Ed25519NoteVerifier::from_vkey(&cosigner.vkey()),
        Err(KeyError::WrongType {
            got: 4,
            expected: 1,
            ..
        })
    ));
    assert!(matches!(
        CosignatureVerifier::from_vkey(PN_VKEY),
        Err(KeyError::WrongType {
            got: 1,
            expected: 4,
            ..
        })
    ));
    assert!(matches!(
        Ed25519NoteVerifier::from_vkey("a+12345678+AQID"),
        Err(KeyError::WrongLength { got: 2, .. })
    ));
    // Private key strings: bad ID, never echoed.
    let bad = PN_SKEY.replace("c74f20a3", "00000000");
    let err = Ed25519NoteSigner::from_skey(&bad).unwrap_err();
    assert!(matches!(err, KeyError::KeyIdMismatch { .. }));
    let err = Ed25519NoteSigner::from_skey("PRIVATE+KEY+x").unwrap_err();
    assert!(!err.to_string().contains("PRIVATE+KEY+x"), "{err}");
    assert!(Ed25519NoteSigner::from_seed("bad name", [0; 32]).is_err());
    let generated = Ed25519NoteSigner::generate("gen.example/log").unwrap();
    assert_eq!(
        Ed25519NoteSigner::from_skey(&generated.to_skey())
            .unwrap()
            .vkey(),
        generated.vkey()
    );
}

// --- checkpoints ---

const SOFA: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

#[test]
fn spec_checkpoint_and_cosignature_parse() {
    let signed = SignedCheckpoint::parse(SOFA.as_bytes()).unwrap();
    let cp = signed.checkpoint();
    assert_eq!(cp.origin, "example.com/behind-the-sofa");
    assert_eq!(cp.size, 20852163);
    assert_eq!(
        cp.root.to_base64(),
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    );
    assert!(cp.extensions.is_empty());
    let cosig = &signed.note().signatures()[1];
    assert_eq!(cosig.key_id, 0x8d66cf3f);
    let decoded = CosignatureV1::from_signature(cosig).unwrap();
    assert_eq!(decoded.timestamp, 1679315147);
    assert_eq!(signed.to_bytes(), SOFA.as_bytes());
    assert_eq!(
        String::from_utf8(cosigned_message(1679315147, signed.note().text())).unwrap(),
        "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
}

#[test]
fn go_sumdb_golden_checkpoint_text() {
    let text = "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n";
    let cp = Checkpoint::parse(text).unwrap();
    assert_eq!(cp.origin, "go.sum database tree");
    assert_eq!(cp.size, 123456789012);
    assert_eq!(cp.root, leaf_hash(b"hello world"));
    assert_eq!(cp.to_text(), text);
}

#[test]
fn checkpoint_sign_verify_and_cosign() {
    let log = Ed25519NoteSigner::from_seed("candor.example/log", [7; 32]).unwrap();
    let cp = Checkpoint::new("candor.example/log", 3, leaf_hash(b"r")).unwrap();
    let mut signed = cp.sign(&log).unwrap();
    signed
        .verify_log("candor.example/log", &log.verifier())
        .unwrap();
    let err = signed
        .verify_log("other.example/log", &log.verifier())
        .unwrap_err();
    assert!(matches!(err, CheckpointError::OriginMismatch { .. }));
    let other = Ed25519NoteSigner::from_seed("candor.example/log", [8; 32]).unwrap();
    assert!(matches!(
        signed.verify_log("candor.example/log", &other.verifier()),
        Err(CheckpointError::MissingLogSignature { .. })
    ));

    let witness = CosignerKey::from_seed("witness.example/w1", [5; 32]).unwrap();
    let line = witness.cosign(signed.note().text(), 1_700_000_000).unwrap();
    assert_eq!(line.signature.len(), 72);
    signed.add_signature(line).unwrap();
    let reparsed = SignedCheckpoint::parse(&signed.to_bytes()).unwrap();
    let wv = witness.verifier();
    let verified = reparsed.note().verify(&[&wv]).unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(
        CosignatureV1::from_signature(&reparsed.note().signatures()[1])
            .unwrap()
            .timestamp,
        1_700_000_000
    );
    // The cosigner verifier rejects a cosignature over a different checkpoint.
    let cp2 = Checkpoint::new("candor.example/log", 4, leaf_hash(b"r")).unwrap();
    let sig = &reparsed.note().signatures()[1].signature;
    assert!(!wv.verify(cp2.to_text().as_bytes(), sig));
    // Timestamps above 2^63-1 are refused.
    assert!(witness.cosign(signed.note().text(), u64::MAX).is_err());
    // Only checkpoints can be cosigned.
    assert!(witness.cosign("not a checkpoint\n", 1).is_err());
    // vkey round trip, key ID type 0x04.
    let v = CosignatureVerifier::from_vkey(&witness.vkey()).unwrap();
    assert_eq!(
        v.key_id(),
        key_id("witness.example/w1", 0x04, &witness.verifier().public_key())
    );
    assert_eq!(
        CosignerKey::from_skey(&witness.to_skey()).unwrap().vkey(),
        witness.vkey()
    );
}

#[test]
fn malformed_checkpoints_are_rejected() {
    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let bad: Vec<crate::Case<String, CheckpointError>> = vec![
        ("origin\n5\n".into(), |e| {
            matches!(e, CheckpointError::TooFewLines { lines: 2 })
        }),
        (format!("\n5\n{root}\n"), |e| {
            matches!(e, CheckpointError::EmptyOrigin)
        }),
        (format!("o\n05\n{root}\n"), |e| {
            matches!(e, CheckpointError::Size { .. })
        }),
        (format!("o\n-5\n{root}\n"), |e| {
            matches!(e, CheckpointError::Size { .. })
        }),
        (format!("o\n+5\n{root}\n"), |e| {
            matches!(e, CheckpointError::Size { .. })
        }),
        (format!("o\n18446744073709551616\n{root}\n"), |e| {
            matches!(e, CheckpointError::Size { .. })
        }),
        ("o\n5\nAAAA\n".into(), |e| {
            matches!(e, CheckpointError::RootHash { .. })
        }),
        (format!("o\n5\n{root}\n\n"), |e| {
            matches!(e, CheckpointError::EmptyExtension { line: 4 })
        }),
        (format!("o\n5\n{root}"), |e| {
            matches!(
                e,
                CheckpointError::Note(NoteError::TextNotNewlineTerminated)
            )
        }),
    ];
    for (text, check) in bad {
        let err = Checkpoint::parse(&text).unwrap_err();
        assert!(check(&err), "{text:?} gave {err}");
    }
    let with_ext = format!("o\n0\n{root}\next one\n");
    let cp = Checkpoint::parse(&with_ext).unwrap();
    assert_eq!(cp.extensions, vec!["ext one".to_owned()]);
    assert_eq!(cp.to_text(), with_ext);
}

#[test]
fn cosignature_wrong_length_is_an_error() {
    let sig = NoteSignature {
        name: "w".into(),
        key_id: 1,
        signature: vec![0; 71],
    };
    assert!(CosignatureV1::from_signature(&sig).is_err());
    let mut big = vec![0xff; 72];
    big[0] = 0x80;
    let sig = NoteSignature {
        name: "w".into(),
        key_id: 1,
        signature: big,
    };
    assert!(CosignatureV1::from_signature(&sig).is_err());
}

fn arb_name() -> impl Strategy<Value = String> {
    "[a-z0-9./_-]{1,30}"
}

fn arb_text() -> impl Strategy<Value = String> {
    // Lines of printable text (possibly empty lines, including non-ASCII).
    proptest::collection::vec("[ -~é—]{0,40}", 1..6).prop_map(|lines| {
        let mut t = lines.join("\n");
        t.push('\n');
        t
    })
}

proptest! {
    #[test]
    fn note_round_trip(text in arb_text(), names in proptest::collection::vec(arb_name(), 1..5), seed in any::<[u8; 32]>()) {
        let mut note = Note::new(text.clone()).unwrap();
        for name in &names {
            note.sign(&Ed25519NoteSigner::from_seed(name, seed).unwrap()).unwrap();
        }
        let bytes = note.to_bytes();
        let parsed = Note::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &note);
        prop_assert_eq!(parsed.to_bytes(), bytes);
        let v = Ed25519NoteSigner::from_seed(&names[0], seed).unwrap().verifier();
        prop_assert!(parsed.verify(&[&v]).is_ok());
    }

    #[test]
    fn checkpoint_round_trip(origin in "[a-z0-9.]{1,20}(/[a-z0-9]{1,10})?", size in any::<u64>(), root in any::<[u8; 32]>(),
                             exts in proptest::collection::vec("[ -~]{1,20}", 0..3)) {
        let mut cp = Checkpoint::new(origin, size, Hash(root)).unwrap();
        cp.extensions = exts;
        let text = cp.to_text();
        prop_assert_eq!(Checkpoint::parse(&text).unwrap(), cp.clone());
        let signer = Ed25519NoteSigner::from_seed("log.example", [1; 32]).unwrap();
        let signed = cp.sign(&signer).unwrap();
        let parsed = SignedCheckpoint::parse(&signed.to_bytes()).unwrap();
        prop_assert_eq!(parsed.checkpoint(), &cp);
    }

    #[test]
    fn vkey_round_trip(name in arb_name(), seed in any::<[u8; 32]>()) {
        let s = Ed25519NoteSigner::from_seed(&name, seed).unwrap();
        let v = Ed25519NoteVerifier::from_vkey(&s.vkey()).unwrap();
        prop_assert_eq!(v.to_vkey(), s.vkey());
        prop_assert_eq!(Ed25519NoteSigner::from_skey(&s.to_skey()).unwrap().vkey(), s.vkey());
    }

    #[test]
    fn note_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(note) = Note::parse(&bytes) {
            // Anything accepted formats back to the same bytes.
            prop_assert_eq!(note.to_bytes(), bytes);
        }
    }

    #[test]
    fn note_parser_never_panics_on_near_valid(text in arb_text(), junk in "[\u{2014} a-zA-Z0-9+/=\n]{0,200}") {
        let input = format!("{text}\n{junk}");
        if let Ok(note) = Note::parse(input.as_bytes()) {
            prop_assert_eq!(note.to_bytes(), input.as_bytes());
        }
        let _ = SignedCheckpoint::parse(input.as_bytes());
    }
}
