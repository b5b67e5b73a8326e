//! tlog-policy parsing and evaluation against cosigned checkpoints.

use candor_tlog::policy::{Member, Policy, PolicyError, Quorum};
use candor_tlog::{Checkpoint, CosignerKey, Ed25519NoteSigner, SignedCheckpoint, leaf_hash};

struct Fixture {
    log: Ed25519NoteSigner,
    witnesses: Vec<CosignerKey>,
}

fn fixture() -> Fixture {
    Fixture {
        log: Ed25519NoteSigner::from_seed("log.example/candor", [1; 32]).unwrap(),
        witnesses: (0..6u8)
            .map(|i| CosignerKey::from_seed(&format!("w{i}.example"), [10 + i; 32]).unwrap())
            .collect(),
    }
}

fn spec_style_policy(f: &Fixture) -> String {
    let w = &f.witnesses;
    format!(
        "# example policy\nlog {}  https://log.example/candor/\n\n\
         witness X1 {}\nwitness X2 {}\n\twitness X3 {} https://w2.example/\n\
         group X-witnesses 2 X1 X2 X3\n\n\
         witness Y1 {}\nwitness Y2 {}\nwitness Y3 {}\n\
         group Y-witnesses any Y1 Y2 Y3\n\n\
         group X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
        f.log.vkey(),
        w[0].vkey(),
        w[1].vkey(),
        w[2].vkey(),
        w[3].vkey(),
        w[4].vkey(),
        w[5].vkey()
    )
}

fn checkpoint(f: &Fixture, cosigners: &[usize]) -> SignedCheckpoint {
    let cp = Checkpoint::new("log.example/candor", 10, leaf_hash(b"root")).unwrap();
    let mut signed = cp.sign(&f.log).unwrap();
    for &i in cosigners {
        let line = f.witnesses[i]
            .cosign(signed.note().text(), 1_700_000_000 + i as u64)
            .unwrap();
        signed.add_signature(line).unwrap();
    }
    signed
}

#[test]
fn spec_example_structure_parses() {
    let f = fixture();
    let p = Policy::parse(spec_style_policy(&f).as_bytes()).unwrap();
    assert_eq!(p.logs.len(), 1);
    assert_eq!(
        p.logs[0].url.as_deref(),
        Some("https://log.example/candor/")
    );
    assert_eq!(p.witnesses.len(), 6);
    assert_eq!(p.witnesses[2].url.as_deref(), Some("https://w2.example/"));
    assert_eq!(p.groups.len(), 3);
    assert_eq!(p.groups[0].threshold, 2);
    assert_eq!(p.groups[1].threshold, 1);
    assert_eq!(p.groups[2].threshold, 2);
    assert_eq!(
        p.groups[2].members,
        vec![Member::Group(0), Member::Group(1)]
    );
    assert_eq!(p.quorum, Quorum::Member(Member::Group(2)));
    // Formatting parses back to the same policy.
    assert_eq!(Policy::parse(p.to_text().as_bytes()).unwrap(), p);
}

#[test]
fn quorum_evaluation() {
    let f = fixture();
    let p = Policy::parse(spec_style_policy(&f).as_bytes()).unwrap();
    // Two X witnesses and one Y witness: satisfied.
    let ok = p.verify_checkpoint(&checkpoint(&f, &[0, 2, 4])).unwrap();
    assert_eq!(ok.log, 0);
    assert_eq!(ok.cosignatures.len(), 3);
    assert!(ok.cosignatures.contains(&(4, 1_700_000_004)));
    // Only one X witness: not satisfied, and the error names who did cosign.
    let err = p
        .verify_checkpoint(&checkpoint(&f, &[0, 3, 4]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "witness quorum \"X-and-Y\" not met; valid cosignatures from: [X1, Y1, Y2]"
    );
    // No Y witness.
    assert!(p.verify_checkpoint(&checkpoint(&f, &[0, 1, 2])).is_err());
    // Quorum none only needs the log.
    let none = format!("log {}\nquorum none\n", f.log.vkey());
    let pn = Policy::parse(none.as_bytes()).unwrap();
    pn.verify_checkpoint(&checkpoint(&f, &[])).unwrap();
    // A single-witness quorum.
    let single = format!(
        "log {}\nwitness A {}\nquorum A",
        f.log.vkey(),
        f.witnesses[0].vkey()
    );
    let ps = Policy::parse(single.as_bytes()).unwrap();
    ps.verify_checkpoint(&checkpoint(&f, &[0])).unwrap();
    assert!(ps.verify_checkpoint(&checkpoint(&f, &[1])).is_err());
}

#[test]
fn wrong_log_and_bad_signatures() {
    let f = fixture();
    let p = Policy::parse(spec_style_policy(&f).as_bytes()).unwrap();
    // Unknown origin.
    let other = Ed25519NoteSigner::from_seed("other.example", [2; 32]).unwrap();
    let cp = Checkpoint::new("other.example", 1, leaf_hash(b"x"))
        .unwrap()
        .sign(&other)
        .unwrap();
    assert!(matches!(
        p.verify_checkpoint(&cp),
        Err(PolicyError::UnknownLog { .. })
    ));
    // Right origin, wrong key.
    let fake = Ed25519NoteSigner::from_seed("log.example/candor", [3; 32]).unwrap();
    let cp = Checkpoint::new("log.example/candor", 1, leaf_hash(b"x"))
        .unwrap()
        .sign(&fake)
        .unwrap();
    assert!(matches!(
        p.verify_checkpoint(&cp),
        Err(PolicyError::MissingLogSignature { .. })
    ));
    // A forged cosignature from a known witness rejects the checkpoint.
    let good = checkpoint(&f, &[0, 2, 4]);
    let mut bytes = String::from_utf8(good.to_bytes()).unwrap();
    let line = good.note().signatures()[1].to_line();
    let mut forged = good.note().signatures()[1].clone();
    forged.signature[20] ^= 0x40;
    bytes = bytes.replace(&line, &forged.to_line());
    let tampered = SignedCheckpoint::parse(bytes.as_bytes()).unwrap();
    assert!(matches!(
        p.verify_checkpoint(&tampered),
        Err(PolicyError::Note(_))
    ));
}

#[test]
fn malformed_policies() {
    let f = fixture();
    let lv = f.log.vkey();
    let w0 = f.witnesses[0].vkey();
    let w1 = f.witnesses[1].vkey();
    let cases: Vec<crate::Case<String, PolicyError>> = vec![
        (format!("log {lv}\n"), |e| {
            matches!(e, PolicyError::MissingQuorum)
        }),
        ("quorum none\nquorum none\n".into(), |e| {
            matches!(
                e,
                PolicyError::DuplicateQuorum {
                    line: 2,
                    first_line: 1
                }
            )
        }),
        ("quorum X\n".into(), |e| {
            matches!(e, PolicyError::UndefinedName { line: 1, .. })
        }),
        (format!("witness A {w0}\nwitness A {w1}\nquorum A\n"), |e| {
            matches!(e, PolicyError::DuplicateName { line: 2, .. })
        }),
        (format!("witness A {w0}\nwitness B {w0}\nquorum A\n"), |e| {
            matches!(
                e,
                PolicyError::DuplicateKey {
                    line: 2,
                    first_line: 1,
                    ..
                }
            )
        }),
        (format!("log {lv}\nlog {lv}\nquorum none\n"), |e| {
            matches!(e, PolicyError::DuplicateKey { kind: "log", .. })
        }),
        (format!("witness none {w0}\nquorum none\n"), |e| {
            matches!(e, PolicyError::ReservedName { line: 1 })
        }),
        (
            format!("witness A {w0}\ngroup G any A none\nquorum G\n"),
            |e| matches!(e, PolicyError::ReservedName { line: 2 }),
        ),
        (
            format!("witness A {w0}\ngroup G any A A\nquorum G\n"),
            |e| matches!(e, PolicyError::DuplicateMember { .. }),
        ),
        (format!("witness A {w0}\ngroup G 2 A\nquorum G\n"), |e| {
            matches!(e, PolicyError::Threshold { members: 1, .. })
        }),
        (format!("witness A {w0}\ngroup G 0 A\nquorum G\n"), |e| {
            matches!(e, PolicyError::Threshold { .. })
        }),
        (format!("witness A {w0}\ngroup G +1 A\nquorum G\n"), |e| {
            matches!(e, PolicyError::Threshold { .. })
        }),
        (format!("witness A {w0}\ngroup G any\nquorum G\n"), |e| {
            matches!(e, PolicyError::Fields { .. })
        }),
        (format!("witness A {w0}\ngroup G any B\nquorum G\n"), |e| {
            matches!(e, PolicyError::UndefinedName { .. })
        }),
        (format!("group G any A\nwitness A {w0}\nquorum G\n"), |e| {
            matches!(e, PolicyError::UndefinedName { line: 1, .. })
        }),
        (format!("witness A {lv}\nquorum A\n"), |e| {
            matches!(e, PolicyError::Key { line: 1, .. })
        }),
        (format!("log {w0}\nquorum none\n"), |e| {
            matches!(e, PolicyError::Key { line: 1, .. })
        }),
        ("log\nquorum none\n".into(), |e| {
            matches!(e, PolicyError::Fields { line: 1, .. })
        }),
        ("frobnicate x\n".into(), |e| {
            matches!(e, PolicyError::UnknownKeyword { .. })
        }),
        ("quorum none\r\n".into(), |e| {
            matches!(e, PolicyError::Character { byte: 0x0d, .. })
        }),
        ("quorum none\n\u{0}".into(), |e| {
            matches!(e, PolicyError::Character { .. })
        }),
        ("quorum none extra\n".into(), |e| {
            matches!(e, PolicyError::Fields { .. })
        }),
    ];
    for (text, check) in cases {
        let err = Policy::parse(text.as_bytes()).unwrap_err();
        assert!(check(&err), "{text:?} gave {err}");
    }
    // Non-ASCII bytes are allowed in comments, even when not UTF-8.
    let mut with_comment = b"# caf\xe9\n".to_vec();
    with_comment.extend_from_slice(b"quorum none\n");
    Policy::parse(&with_comment).unwrap();
}
