//! Replays every committed fuzz corpus file through its target, so CI covers the corpora
//! without cargo-fuzz.

use std::path::Path;

use candor_tlog::fuzz_support::{TARGETS, run};

#[test]
fn replay_fuzz_corpora() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus");
    let mut replayed = 0;
    for target in TARGETS {
        let dir = root.join(target);
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()));
        let mut count = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            if !path.is_file() {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            if let Err(problem) = run(target, &data) {
                panic!("{target} on {}: {problem}", path.display());
            }
            count += 1;
        }
        assert!(count > 0, "corpus for {target} is empty");
        replayed += count;
    }
    assert!(replayed >= TARGETS.len());
}

#[test]
fn fuzz_targets_accept_garbage() {
    for target in TARGETS {
        for data in [
            &b""[..],
            b"\n",
            b"\n\n",
            b"\xff\xfe",
            &[0u8; 100],
            b"tile/0/000",
        ] {
            run(target, data).unwrap();
        }
    }
    assert!(run("nope", b"").is_err());
}

/// The hand-picked seed inputs (spec examples and generated valid files) in
/// `fuzz/corpus/<target>/seed-*` are exactly what this generator produces (it is deterministic:
/// fixed keys and times), so a change to a format cannot leave stale seeds behind. With
/// `CANDOR_WRITE_SEEDS=1` it rewrites them instead of comparing.
#[test]
fn committed_seed_corpus_matches_its_generator() {
    use candor_tlog::{
        Checkpoint, CosignerKey, Ed25519NoteSigner, MemoryTree, TlogProof, encode_bundle,
        inclusion_proof, leaf_hash,
    };

    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join("corpus");
    let rewrite = std::env::var_os("CANDOR_WRITE_SEEDS").is_some_and(|v| v == "1");
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = root.join(target);
        let path = dir.join(format!("seed-{name}"));
        if rewrite {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, data).unwrap();
        } else {
            let committed = std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; regenerate with CANDOR_WRITE_SEEDS=1",
                    path.display()
                )
            });
            assert!(
                committed == data,
                "{} differs from its generator; regenerate with CANDOR_WRITE_SEEDS=1 cargo test -p candor-tlog committed_seed_corpus",
                path.display()
            );
        }
    };

    let log = Ed25519NoteSigner::from_seed("trust.example.com/log", [4; 32]).unwrap();
    let witness = CosignerKey::from_seed("witness.example/w", [6; 32]).unwrap();
    let leaves: Vec<_> = (0..13u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    let mut cp = Checkpoint::new("trust.example.com/log", 13, tree.root()).unwrap();
    let signed_plain = cp.sign(&log).unwrap();
    let mut signed = signed_plain.clone();
    let cosig = witness.cosign(signed.note().text(), 1_760_000_000).unwrap();
    signed.add_signature(cosig.clone()).unwrap();
    cp.extensions.push("ext line".into());
    let with_ext = cp.sign(&log).unwrap();

    let foo = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    let sofa = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
    write("note", "spec-foo", foo.as_bytes());
    write("note", "cosigned", &signed.to_bytes());
    write("note", "no-separator", b"hello\n");
    write("checkpoint", "spec-sofa", sofa.as_bytes());
    write("checkpoint", "signed", &signed_plain.to_bytes());
    write("checkpoint", "extension", &with_ext.to_bytes());
    write(
        "checkpoint",
        "go-text",
        b"go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n",
    );
    for (i, p) in [
        "tile/0/x001/x234/067",
        "tile/1/x001/000.p/17",
        "tile/entries/000.p/3",
        "tile/2/005",
    ]
    .iter()
    .enumerate()
    {
        write("tile_path", &i.to_string(), p.as_bytes());
    }
    let hashes: Vec<u8> = leaves.iter().flat_map(|h| h.0).collect();
    write("tile_data", "13-hashes", &hashes);
    write("tile_data", "one-hash", &hashes[..32]);
    write(
        "entry_bundle",
        "spec-abc",
        &encode_bundle(&[b"a", b"b", b"c"]).unwrap(),
    );
    write(
        "entry_bundle",
        "mixed",
        &encode_bundle(&[&b""[..], b"hello", &[0xff; 300]]).unwrap(),
    );
    let proof = TlogProof {
        extra: Some(b"extra data".to_vec()),
        index: 6,
        inclusion_proof: inclusion_proof(6, 13, &tree).unwrap(),
        checkpoint: signed.clone(),
    };
    write("proof_file", "cosigned", &proof.to_bytes());
    let proof0 = TlogProof {
        extra: None,
        index: 0,
        inclusion_proof: inclusion_proof(0, 13, &tree).unwrap(),
        checkpoint: signed_plain,
    };
    write("proof_file", "plain", &proof0.to_bytes());
    let w2 = CosignerKey::from_seed("witness2.example", [7; 32]).unwrap();
    let policy = format!(
        "# policy\nlog {} https://trust.example.com/log/\nwitness W1 {}\nwitness W2 {} https://w2.example/\ngroup G 1 W1 W2\ngroup All all G W1\nquorum All\n",
        log.vkey(),
        witness.vkey(),
        w2.vkey()
    );
    write("policy", "groups", policy.as_bytes());
    write(
        "policy",
        "none",
        format!("log {}\nquorum none\n", log.vkey()).as_bytes(),
    );
    write("cosignature", "spec-line", "\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n".as_bytes());
    write("cosignature", "generated", cosig.to_line().as_bytes());
    write(
        "vkey",
        "spec-foo",
        b"example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    );
    write("vkey", "witness", witness.vkey().as_bytes());
    write(
        "vkey",
        "skey",
        b"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
    );
    let mut mv = Vec::new();
    mv.extend_from_slice(&6u64.to_be_bytes());
    mv.extend_from_slice(&13u64.to_be_bytes());
    mv.extend_from_slice(&leaves[6].0);
    mv.extend_from_slice(&tree.root().0);
    for h in inclusion_proof(6, 13, &tree).unwrap() {
        mv.extend_from_slice(&h.0);
    }
    write("merkle_verify", "valid-inclusion", &mv);
}
