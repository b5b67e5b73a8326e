//! The verifiable log: checkpoints and tiles a third party can check, and refusal to fork.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use candor_core::clock::FixedClock;
use candor_core::config::Database;
use candor_store::{ContentRevisions, PageDigest, Store};
use candor_tlog::merkle::root_from_entries;
use candor_tlog::tiles::{TileHashReader, TileId, parse_tile_hashes};
use candor_tlog::{
    Ed25519NoteSigner, Ed25519NoteVerifier, NoteSigner, SignedCheckpoint, leaf_hash, parse_bundle,
    proof,
};
use candor_web::log::LogService;
use time::macros::datetime;

use crate::support::{Server, candor, client, page, tiny_site, write};

pub(crate) async fn get(server: &Server, path: &str) -> reqwest::Response {
    client().get(server.url(path)).send().await.unwrap()
}

/// Polls /log/checkpoint until it covers `size` entries; returns it verified.
pub(crate) async fn checkpoint_of_size(server: &Server, size: u64) -> SignedCheckpoint {
    let vkey = get(server, "/log/key").await.text().await.unwrap();
    let verifier = Ed25519NoteVerifier::from_vkey(vkey.trim()).unwrap();
    let origin = candor_tlog::NoteVerifier::name(&verifier).to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = get(server, "/log/checkpoint").await;
        if r.status() == 200 {
            assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
            let cp = SignedCheckpoint::parse(&r.bytes().await.unwrap()).unwrap();
            cp.verify_log(&origin, &verifier)
                .expect("checkpoint signed by the published key");
            if cp.checkpoint().size >= size {
                return cp;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint of size {size}: {}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_third_party_can_check_the_published_log() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    let cp = checkpoint_of_size(&server, 2).await;
    assert_eq!(cp.checkpoint().size, 2, "one entry per published page");

    let bundle = get(&server, "/log/tile/entries/000.p/2").await;
    assert_eq!(bundle.status(), 200);
    assert_eq!(bundle.headers()["content-type"], "application/octet-stream");
    let bundle = bundle.bytes().await.unwrap();
    let entries = parse_bundle(&bundle).unwrap();
    assert_eq!(
        root_from_entries(&entries),
        cp.checkpoint().root,
        "root recomputed from the entries"
    );
    for e in &entries {
        let v: serde_json::Value = serde_json::from_slice(e).unwrap();
        assert_eq!(v["type"], "content.revision");
        assert_eq!(v["content_sha256"].as_str().unwrap().len(), 64);
    }
    let tile = get(&server, "/log/tile/0/000.p/2")
        .await
        .bytes()
        .await
        .unwrap();
    let hashes = parse_tile_hashes(&tile).unwrap();
    assert_eq!(
        hashes,
        entries.iter().map(|e| leaf_hash(e)).collect::<Vec<_>>()
    );

    for missing in [
        "/log/tile/0/000.p/3",
        "/log/tile/0/000",
        "/log/tile/entries/001.p/1",
        "/log/tile/0/x",
        "/log/nope",
    ] {
        assert_eq!(get(&server, missing).await.status(), 404, "{missing}");
    }
    let verify = get(&server, "/verify").await.text().await.unwrap();
    let vkey = get(&server, "/log/key").await.text().await.unwrap();
    assert!(verify.contains(vkey.trim()), "Verify page shows the key");
    assert!(
        verify.contains(&cp.checkpoint().root.to_base64()),
        "Verify page shows the checkpoint"
    );
}

#[tokio::test]
async fn publishing_grows_the_log_consistently() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    let old = checkpoint_of_size(&server, 2).await;
    write(
        site.path(),
        "content/encryption.md",
        &page(
            "Encryption",
            "security",
            "How we encrypt.",
            "Now with HSMs.",
        ),
    );
    server.signal("HUP");
    let new = checkpoint_of_size(&server, 3).await;
    let bundle = get(&server, "/log/tile/entries/000.p/3")
        .await
        .bytes()
        .await
        .unwrap();
    let entries = parse_bundle(&bundle).unwrap();
    assert_eq!(
        root_from_entries(&entries[..2]),
        old.checkpoint().root,
        "the old tree is a prefix of the new one"
    );
    assert_eq!(root_from_entries(&entries), new.checkpoint().root);
}

#[tokio::test]
async fn the_integrator_writes_full_tiles_that_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Database::Sqlite(dir.path().join("candor.db")))
        .await
        .unwrap();
    let pages: Vec<PageDigest> = (0..600)
        .map(|i| PageDigest {
            page_path: format!("/security/p{i}"),
            title: "t".into(),
            content_sha256: format!("{i:064x}"),
        })
        .collect();
    store
        .record_revisions(&pages, datetime!(2026-11-30 12:00 UTC))
        .await
        .unwrap();
    let signer = Ed25519NoteSigner::from_seed("trust.example.com/log", [7; 32]).unwrap();
    let verifier = signer.verifier();
    let clock = Arc::new(FixedClock(datetime!(2026-11-30 12:00 UTC)));
    let log = LogService::open(
        store.clone(),
        clock,
        "trust.example.com/log".into(),
        signer,
        dir.path().join("hw"),
    )
    .await
    .unwrap();
    assert!(log.latest().is_none(), "opening signs nothing");
    log.sign_if_grown().await.unwrap();
    let note = log.latest().unwrap().note.clone();
    let cp = SignedCheckpoint::parse(&note).unwrap();
    cp.verify_log("trust.example.com/log", &verifier).unwrap();
    assert_eq!(cp.checkpoint().size, 600);

    let fetch = |path: &'static str| {
        let log = log.clone();
        async move {
            let r = log.serve(path).await;
            let status = r.status();
            let cache = r
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap().to_owned());
            let body = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap();
            (status.as_u16(), cache, body.to_vec())
        }
    };
    let mut tiles = BTreeMap::new();
    for (path, level, index, width) in [
        ("tile/0/000", 0u8, 0u64, 256u16),
        ("tile/0/001", 0, 1, 256),
        ("tile/0/002.p/88", 0, 2, 88),
        ("tile/1/000.p/2", 1, 0, 2),
    ] {
        let (status, cache, body) = fetch(path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(cache.unwrap().contains("immutable"), width == 256, "{path}");
        assert_eq!(body.len(), usize::from(width) * 32, "{path}");
        tiles.insert(TileId::new(level, index, width).unwrap(), body);
    }
    // A verifier that knows only the checkpoint and the tiles recomputes the root.
    let reader = TileHashReader::new(600, &tiles);
    assert_eq!(
        proof::tree_root(600, &reader).unwrap(),
        cp.checkpoint().root
    );
    let (status, _, bundle) = fetch("tile/entries/001").await;
    assert_eq!(status, 200);
    assert_eq!(parse_bundle(&bundle).unwrap().len(), 256);
    assert_eq!(
        fetch("tile/0/002").await.0,
        404,
        "the third level-0 tile is not full yet"
    );

    // Reopening rebuilds the same tree from the database.
    let again = LogService::open(
        store.clone(),
        Arc::new(FixedClock(datetime!(2026-11-30 12:01 UTC))),
        "trust.example.com/log".into(),
        Ed25519NoteSigner::from_seed("trust.example.com/log", [7; 32]).unwrap(),
        dir.path().join("hw"),
    )
    .await
    .unwrap();
    assert_eq!(
        again.latest().unwrap().size,
        600,
        "the stored checkpoint is served again"
    );
}

#[tokio::test]
async fn restoring_an_older_database_backup_is_refused() {
    let site = tiny_site();
    let data = site.path().join("data");
    let server = Server::start(site.path(), &[]).await;
    checkpoint_of_size(&server, 2).await;
    assert_eq!(server.stop().code(), Some(0));
    let backup = tempfile::tempdir().unwrap();
    std::fs::copy(data.join("candor.db"), backup.path().join("candor.db")).unwrap();

    write(
        site.path(),
        "content/pentests.md",
        &page(
            "Penetration tests",
            "security",
            "Twice a year.",
            "By an outside firm.",
        ),
    );
    let server = Server::start(site.path(), &[]).await;
    checkpoint_of_size(&server, 3).await;
    assert_eq!(server.stop().code(), Some(0));

    for f in ["candor.db-wal", "candor.db-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    std::fs::copy(backup.path().join("candor.db"), data.join("candor.db")).unwrap();
    let out = candor(
        &[
            "serve",
            "--config",
            site.path().join("candor.toml").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("older backup") && out.stderr.contains("size 3"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn an_explicit_origin_cannot_change_under_a_key() {
    let site = tiny_site();
    write(
        site.path(),
        "candor.toml",
        "version = 1\n[site]\nname = \"Tiny\"\n[log]\norigin = \"trust.tiny.example/log\"\n",
    );
    let server = Server::start(site.path(), &[]).await;
    let vkey = get(&server, "/log/key").await.text().await.unwrap();
    assert!(vkey.starts_with("trust.tiny.example/log+"), "{vkey}");
    assert_eq!(server.stop().code(), Some(0));
    let key = std::fs::metadata(site.path().join("data/log-signing.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        key.permissions().mode() & 0o777,
        0o600,
        "the signing key is private"
    );

    write(
        site.path(),
        "candor.toml",
        "version = 1\n[site]\nname = \"Tiny\"\n[log]\norigin = \"trust.other.example/log\"\n",
    );
    let out = candor(
        &[
            "serve",
            "--config",
            site.path().join("candor.toml").to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("trust.tiny.example/log") && out.stderr.contains("never change"),
        "{}",
        out.stderr
    );
}

#[test]
fn keygen_writes_a_private_key_and_prints_the_verifier_key() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("log.key");
    let out = candor(
        &[
            "keygen",
            "--origin",
            "trust.example.com/log",
            "--out",
            out_path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", out.stderr);
    let vkey = out.stdout.trim();
    let verifier = Ed25519NoteVerifier::from_vkey(vkey).unwrap();
    let signer =
        Ed25519NoteSigner::from_skey(std::fs::read_to_string(&out_path).unwrap().trim()).unwrap();
    assert_eq!(signer.vkey(), vkey);
    assert_eq!(
        NoteSigner::name(&signer),
        candor_tlog::NoteVerifier::name(&verifier)
    );
    let again = candor(
        &[
            "keygen",
            "--origin",
            "trust.example.com/log",
            "--out",
            out_path.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(again.stderr.contains("never overwrites"));
}

fn verify_cmd(
    server: &Server,
    key: &str,
    state: &std::path::Path,
    extra: &[&str],
) -> crate::support::Output {
    let url = server.url("/log");
    let mut args = vec![
        "verify",
        url.as_str(),
        "--key",
        key,
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    candor(&args, &[])
}

#[tokio::test]
async fn candor_verify_checks_signature_consistency_and_every_entry() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    checkpoint_of_size(&server, 2).await;
    let key = get(&server, "/log/key").await.text().await.unwrap();
    let key = key.trim();
    let state = tempfile::tempdir().unwrap();

    let first = verify_cmd(&server, key, state.path(), &["--full"]);
    assert!(first.status.success(), "{}{}", first.stdout, first.stderr);
    assert!(
        first.stdout.contains("at size 2") && first.stdout.contains("all 2 entries"),
        "{}",
        first.stdout
    );

    write(
        site.path(),
        "content/encryption.md",
        &page("Encryption", "security", "How we encrypt.", "Rotated keys."),
    );
    server.signal("HUP");
    checkpoint_of_size(&server, 3).await;
    let second = verify_cmd(&server, key, state.path(), &[]);
    assert!(second.status.success(), "{}", second.stderr);
    assert!(
        second
            .stdout
            .contains("consistent with the checkpoint seen before (size 2)"),
        "{}",
        second.stdout
    );

    // The wrong key is a failure that says so.
    let other = Ed25519NoteSigner::from_seed(
        candor_tlog::NoteVerifier::name(&Ed25519NoteVerifier::from_vkey(key).unwrap()),
        [1; 32],
    )
    .unwrap();
    let wrong = verify_cmd(&server, &other.vkey(), state.path(), &[]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        wrong.stderr.contains("VERIFICATION FAILED")
            && wrong.stderr.contains("no signature from log key"),
        "{}",
        wrong.stderr
    );

    // A tampered entry is caught by --full.
    let db = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        server.data_dir.join("candor.db").display()
    ))
    .await
    .unwrap();
    sqlx::query("UPDATE log_entries SET entry = CAST(REPLACE(CAST(entry AS TEXT), '/security', '/securitY') AS BLOB) WHERE seq = 1")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let tampered = verify_cmd(&server, key, state.path(), &["--full"]);
    assert_eq!(tampered.status.code(), Some(1), "{}", tampered.stdout);
    assert!(
        tampered.stderr.contains("an entry was changed"),
        "{}",
        tampered.stderr
    );
}

#[tokio::test]
async fn candor_verify_reports_a_fork_with_evidence() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    let served = checkpoint_of_size(&server, 2).await;
    let key = get(&server, "/log/key").await.text().await.unwrap();
    // A second history with the same size, signed by the same key (as a compromised or
    // misbehaving operator could): the verifier saw it first.
    let signer = Ed25519NoteSigner::from_skey(
        std::fs::read_to_string(site.path().join("data/log-signing.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let forked = candor_tlog::Checkpoint::new(
        served.checkpoint().origin.clone(),
        2,
        candor_tlog::leaf_hash(b"another history"),
    )
    .unwrap()
    .sign(&signer)
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let name = format!(
        "{}.checkpoint",
        served.checkpoint().origin.replace(['/', ':', '\\'], "_")
    );
    std::fs::write(state.path().join(name), forked.to_bytes()).unwrap();
    let out = verify_cmd(&server, key.trim(), state.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("FORK DETECTED"), "{}", out.stderr);
    assert!(
        out.stderr.contains(&served.checkpoint().root.to_base64()),
        "both checkpoints are shown: {}",
        out.stderr
    );
    let evidence = std::fs::read_dir(state.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("fork-")
        })
        .count();
    assert_eq!(evidence, 2, "both checkpoints are saved as evidence");
}

#[tokio::test]
async fn candor_verify_checks_a_proof_file_offline() {
    let site = tiny_site();
    let server = Server::start(site.path(), &[]).await;
    let cp = checkpoint_of_size(&server, 2).await;
    let key = get(&server, "/log/key").await.text().await.unwrap();
    let bundle = get(&server, "/log/tile/entries/000.p/2")
        .await
        .bytes()
        .await
        .unwrap();
    let entries: Vec<Vec<u8>> = parse_bundle(&bundle)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect();
    let tile = get(&server, "/log/tile/0/000.p/2")
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let tiles = BTreeMap::from([(TileId::new(0, 0, 2).unwrap(), tile)]);
    let inclusion = candor_tlog::inclusion_proof(1, 2, &TileHashReader::new(2, &tiles)).unwrap();
    let proof = candor_tlog::TlogProof {
        extra: None,
        index: 1,
        inclusion_proof: inclusion,
        checkpoint: cp,
    };
    drop(server); // offline from here on

    let dir = tempfile::tempdir().unwrap();
    let (proof_path, entry_path, bad_path) = (
        dir.path().join("e.tlog-proof"),
        dir.path().join("entry.json"),
        dir.path().join("bad.json"),
    );
    std::fs::write(&proof_path, proof.to_bytes()).unwrap();
    std::fs::write(&entry_path, &entries[1]).unwrap();
    std::fs::write(&bad_path, &entries[0]).unwrap();
    let p = proof_path.to_str().unwrap();
    let ok = candor(
        &[
            "verify",
            "--proof",
            p,
            "--entry",
            entry_path.to_str().unwrap(),
            "--key",
            key.trim(),
        ],
        &[],
    );
    assert!(ok.status.success(), "{}", ok.stderr);
    assert!(ok.stdout.contains("is entry 1 of log"), "{}", ok.stdout);
    let bad = candor(
        &[
            "verify",
            "--proof",
            p,
            "--entry",
            bad_path.to_str().unwrap(),
            "--key",
            key.trim(),
        ],
        &[],
    );
    assert_eq!(bad.status.code(), Some(1), "{}", bad.stdout);
}

// ---- witnesses ----

use candor_tlog::{Checkpoint, CosignerKey, MemoryTree, NoteSignature};
use candor_web::witness::Witness;

fn request(old: u64, proof: &[candor_tlog::Hash], note: &[u8]) -> Vec<u8> {
    let mut body = format!("old {old}\n").into_bytes();
    for h in proof {
        body.extend_from_slice(format!("{}\n", h.to_base64()).as_bytes());
    }
    body.push(b'\n');
    body.extend_from_slice(note);
    body
}

async fn call(witness: &Witness, body: &[u8]) -> (u16, Option<String>, String) {
    let r = witness.add(body).await;
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, ct, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn the_witness_follows_the_protocol_and_refuses_rollbacks() {
    let state = tempfile::tempdir().unwrap();
    let log = Ed25519NoteSigner::from_seed("a.example/log", [3; 32]).unwrap();
    let clock = Arc::new(FixedClock(datetime!(2026-11-30 12:00 UTC)));
    let witness =
        Witness::open(state.path(), "w.example/w1", &[log.vkey()], clock.clone()).unwrap();
    let cosigner = candor_tlog::CosignatureVerifier::from_vkey(&witness.vkey()).unwrap();

    let mut tree = MemoryTree::new();
    let checkpoint_at = |tree: &mut MemoryTree, size: u64| {
        while tree.size() < size {
            let n = tree.size();
            tree.push(leaf_hash(&n.to_be_bytes()));
        }
        Checkpoint::new("a.example/log", size, tree.root())
            .unwrap()
            .sign(&log)
            .unwrap()
    };
    let cp2 = checkpoint_at(&mut tree, 2);
    let (status, _, body) = call(&witness, &request(0, &[], &cp2.to_bytes())).await;
    assert_eq!(status, 200, "{body}");
    let sigs = NoteSignature::parse_lines(&body).unwrap();
    let mut cosigned = cp2.clone();
    cosigned.add_signature(sigs[0].clone()).unwrap();
    assert_eq!(
        cosigned.note().verify_known(&[&cosigner]).unwrap().len(),
        1,
        "a valid cosignature/v1"
    );

    // A client that does not know the witness's state learns it from a 409.
    let cp5 = checkpoint_at(&mut tree, 5);
    let (status, ct, body) = call(&witness, &request(0, &[], &cp5.to_bytes())).await;
    assert_eq!(
        (status, ct.as_deref(), body.as_str()),
        (409, Some("text/x.tlog.size"), "2\n")
    );

    // A wrong consistency proof is 422; the right one is cosigned.
    let (status, _, _) = call(
        &witness,
        &request(2, &[candor_tlog::Hash([9; 32])], &cp5.to_bytes()),
    )
    .await;
    assert_eq!(status, 422);
    let proof = candor_tlog::consistency_proof(2, 5, &tree).unwrap();
    assert_eq!(
        call(&witness, &request(2, &proof, &cp5.to_bytes())).await.0,
        200
    );

    // Rollback: an older size, or another root for the same size, is never cosigned.
    let (status, _, body) = call(&witness, &request(5, &[], &cp2.to_bytes())).await;
    assert_eq!(status, 400, "{body}");
    let other_root = Checkpoint::new("a.example/log", 5, leaf_hash(b"fork"))
        .unwrap()
        .sign(&log)
        .unwrap();
    assert_eq!(
        call(&witness, &request(5, &[], &other_root.to_bytes()))
            .await
            .0,
        422
    );
    // It survives a restart: the state was persisted before the reply.
    let reopened =
        Witness::open(state.path(), "w.example/w1", &[log.vkey()], clock.clone()).unwrap();
    let (status, _, body) = call(&reopened, &request(2, &proof, &cp5.to_bytes())).await;
    assert_eq!((status, body.as_str()), (409, "5\n"));

    // Unknown logs, bad signatures and garbage.
    let stranger = Ed25519NoteSigner::from_seed("b.example/log", [4; 32]).unwrap();
    let foreign = Checkpoint::new("b.example/log", 1, leaf_hash(b"x"))
        .unwrap()
        .sign(&stranger)
        .unwrap();
    assert_eq!(
        call(&witness, &request(0, &[], &foreign.to_bytes()))
            .await
            .0,
        404
    );
    let impostor = Ed25519NoteSigner::from_seed("a.example/log", [5; 32]).unwrap();
    let forged = Checkpoint::new("a.example/log", 6, leaf_hash(b"x"))
        .unwrap()
        .sign(&impostor)
        .unwrap();
    assert_eq!(
        call(&witness, &request(5, &[], &forged.to_bytes())).await.0,
        403
    );
    for garbage in [
        &b""[..],
        b"old x\n\n",
        b"old 1\n",
        b"\xff\xfe",
        b"old 0\n\nnot a checkpoint",
    ] {
        assert_eq!(call(&witness, garbage).await.0, 400, "{garbage:?}");
    }
}

#[tokio::test]
async fn two_candor_instances_witness_each_other() {
    let (a, b) = (tiny_site(), tiny_site());
    let (pa, pb) = (crate::support::free_port(), crate::support::free_port());
    // Keys made up front so each config can name the other's keys.
    let key = |dir: &std::path::Path, origin: &str, seed: u8| {
        let signer = Ed25519NoteSigner::from_seed(origin, [seed; 32]).unwrap();
        candor_web::log::write_private(
            &dir.join("data/log-signing.key"),
            signer.to_skey().as_bytes(),
        )
        .unwrap();
        signer.vkey()
    };
    let wkey = |dir: &std::path::Path, name: &str, seed: u8| {
        let w = CosignerKey::from_seed(name, [seed; 32]).unwrap();
        candor_web::log::write_private(
            &dir.join("data/witness/witness.key"),
            w.to_skey().as_bytes(),
        )
        .unwrap();
        w.vkey()
    };
    let (log_a, log_b) = (
        key(a.path(), "a.example/log", 1),
        key(b.path(), "b.example/log", 2),
    );
    let (wit_a, wit_b) = (
        wkey(a.path(), "a.example/witness", 3),
        wkey(b.path(), "b.example/witness", 4),
    );
    let config = |name: &str,
                  origin: &str,
                  port_other: u16,
                  wit_other: &str,
                  follow: &str,
                  wname: &str| {
        format!(
            "version = 1\n[site]\nname = \"{name}\"\n[log]\norigin = \"{origin}\"\n[[log.witnesses]]\nurl = \"http://127.0.0.1:{port_other}/witness\"\nvkey = \"{wit_other}\"\n[witness]\nname = \"{wname}\"\nfollow = [\"{follow}\"]\n"
        )
    };
    write(
        a.path(),
        "candor.toml",
        &config(
            "A",
            "a.example/log",
            pb,
            &wit_b,
            &log_b,
            "a.example/witness",
        ),
    );
    write(
        b.path(),
        "candor.toml",
        &config(
            "B",
            "b.example/log",
            pa,
            &wit_a,
            &log_a,
            "b.example/witness",
        ),
    );
    let (sa, sb) = tokio::join!(
        Server::start_on(a.path(), pa, &[]),
        Server::start_on(b.path(), pb, &[])
    );

    for (server, wit) in [(&sa, &wit_b), (&sb, &wit_a)] {
        let cosigner = candor_tlog::CosignatureVerifier::from_vkey(wit).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let note = get(server, "/log/checkpoint").await.bytes().await.unwrap();
            let cp = SignedCheckpoint::parse(&note).unwrap();
            if cp.checkpoint().size == 2
                && cp
                    .note()
                    .verify_known(&[&cosigner])
                    .is_ok_and(|v| v.len() == 1)
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no cosignature from the other instance: {}",
                server.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // A policy that requires the other's witness is satisfied by `candor verify`.
    let policy = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        policy.path(),
        format!("log {log_a}\nwitness wb {wit_b}\nquorum wb\n"),
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let url = sa.url("/log");
    let out = candor(
        &[
            "verify",
            &url,
            "--policy",
            policy.path().to_str().unwrap(),
            "--state",
            state.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("witness policy satisfied (1 cosignature"),
        "{}",
        out.stdout
    );

    // Cosignatures are stored with their checkpoint: after a restart, with its witness gone, A
    // still serves the cosigned checkpoint.
    let cosigned = get(&sa, "/log/checkpoint").await.bytes().await.unwrap();
    assert_eq!(sb.stop().code(), Some(0));
    assert_eq!(sa.stop().code(), Some(0));
    let sa = Server::start_on(a.path(), pa, &[]).await;
    let served = get(&sa, "/log/checkpoint").await.bytes().await.unwrap();
    assert_eq!(served, cosigned, "the cosignature survived the restart");
    // When the witness is back it cosigns again; the new cosignature replaces its old one.
    let sb = Server::start_on(b.path(), pb, &[]).await;
    let cosigner = candor_tlog::CosignatureVerifier::from_vkey(&wit_b).unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    let fresh = loop {
        let note = get(&sa, "/log/checkpoint").await.bytes().await.unwrap();
        if note != cosigned {
            break note;
        }
        assert!(
            Instant::now() < deadline,
            "no new cosignature: {}",
            sa.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let cp = SignedCheckpoint::parse(&fresh).unwrap();
    assert_eq!(cp.checkpoint().size, 2);
    let lines = String::from_utf8(fresh.to_vec()).unwrap();
    assert_eq!(
        lines.matches("\u{2014} b.example/witness ").count(),
        1,
        "one signature per witness key: {lines}"
    );
    assert!(
        cp.note()
            .verify_known(&[&cosigner])
            .is_ok_and(|v| v.len() == 1)
    );
    drop(sb);
}

#[tokio::test]
async fn a_witness_that_saw_more_stops_a_rolled_back_start() {
    let site = tiny_site();
    write(
        site.path(),
        "candor.toml",
        "version = 1\n[site]\nname = \"Tiny\"\n[[log.witnesses]]\nbuiltin = true\n[witness]\nname = \"w.tiny.example/w\"\nfollow_own_log = true\n",
    );
    let data = site.path().join("data");
    let server = Server::start(site.path(), &[]).await;
    checkpoint_of_size(&server, 2).await;
    assert_eq!(server.stop().code(), Some(0));
    let backup = tempfile::tempdir().unwrap();
    std::fs::copy(data.join("candor.db"), backup.path().join("candor.db")).unwrap();

    write(
        site.path(),
        "content/pentests.md",
        &page(
            "Penetration tests",
            "security",
            "Twice a year.",
            "By an outside firm.",
        ),
    );
    let server = Server::start(site.path(), &[]).await;
    // Wait until the witness has cosigned size 3.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let note = get(&server, "/log/checkpoint").await.text().await.unwrap();
        if note.contains("\n3\n") && note.contains("— w.tiny.example/w") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "size 3 was never cosigned: {note}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.stop().code(), Some(0));

    // Roll the database back and lose the high-water file: the witness still remembers.
    for f in [
        "candor.db-wal",
        "candor.db-shm",
        "log-signing.key.checkpoint",
    ] {
        let _ = std::fs::remove_file(data.join(f));
    }
    std::fs::copy(backup.path().join("candor.db"), data.join("candor.db")).unwrap();
    let out = candor(
        &[
            "serve",
            "--config",
            site.path()
                .join("config.toml")
                .with_file_name("candor.toml")
                .to_str()
                .unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("has cosigned a tree of size 3") && out.stderr.contains("older backup"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn flood_facts_are_committed_as_one_digest_per_interval() {
    use candor_store::LogStore;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Database::Sqlite(dir.path().join("candor.db")))
        .await
        .unwrap();
    let clock = Arc::new(FixedClock(datetime!(2026-11-30 12:00 UTC)));
    let signer = Ed25519NoteSigner::from_seed("t.example/log", [8; 32]).unwrap();
    let log = LogService::open(
        store.clone(),
        clock.clone(),
        "t.example/log".into(),
        signer,
        dir.path().join("hw"),
    )
    .await
    .unwrap();
    let batcher =
        candor_web::digest::DigestBatcher::new("probe.samples", store.clone(), clock, log.clone());
    let items: Vec<Vec<u8>> = (0..1000)
        .map(|i| format!("{{\"probe\":\"api\",\"ms\":{i}}}").into_bytes())
        .collect();
    for item in &items {
        batcher.add(item);
    }
    assert_eq!(batcher.flush().await.unwrap(), Some(0));
    assert_eq!(
        batcher.flush().await.unwrap(),
        None,
        "nothing new, no entry"
    );
    assert_eq!(
        store.sequenced_size().await.unwrap(),
        1,
        "1000 items, one leaf"
    );
    let entry: serde_json::Value =
        serde_json::from_slice(&store.entries(0, 1).await.unwrap()[0].entry).unwrap();
    assert_eq!(entry["type"], "digest.batch");
    assert_eq!(entry["count"], 1000);
    assert_eq!(
        entry["root"],
        root_from_entries(&items).to_hex(),
        "anyone holding the items can recompute the root"
    );
    log.integrate_once().await.unwrap();
    log.sign_if_grown().await.unwrap();
    assert_eq!(log.latest().unwrap().size, 1);
}

#[tokio::test]
async fn a_restart_resumes_the_tree_from_its_tiles_at_every_tile_boundary() {
    use candor_store::LogStore;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Database::Sqlite(dir.path().join("candor.db")))
        .await
        .unwrap();
    let at = datetime!(2026-11-30 12:00 UTC);
    let mut size = 0u64;
    // Each step restarts the log service, which resumes from the tiles stored at the previous
    // size (frontier and partial tiles) and then integrates the new entries.
    for target in [
        1u64,
        255,
        256,
        257,
        511,
        512,
        65_535,
        65_536,
        65_537,
        65_536 + 511,
    ] {
        let pages: Vec<PageDigest> = (size..target)
            .map(|i| PageDigest {
                page_path: format!("/p/{i}"),
                title: "t".into(),
                content_sha256: format!("{i:064x}"),
            })
            .collect();
        for chunk in pages.chunks(4096) {
            store.record_revisions(chunk, at).await.unwrap();
        }
        let log = LogService::open(
            store.clone(),
            Arc::new(FixedClock(at)),
            "trust.example.com/log".into(),
            Ed25519NoteSigner::from_seed("trust.example.com/log", [7; 32]).unwrap(),
            dir.path().join("hw"),
        )
        .await
        .unwrap();
        log.sign_if_grown().await.unwrap();
        let note = log.latest().unwrap().note.clone();
        let cp = SignedCheckpoint::parse(&note).unwrap();
        let leaves: Vec<candor_tlog::Hash> = store
            .leaf_hashes(0, target)
            .await
            .unwrap()
            .into_iter()
            .map(candor_tlog::Hash)
            .collect();
        assert_eq!(cp.checkpoint().size, target);
        assert_eq!(
            cp.checkpoint().root,
            candor_tlog::merkle::root_from_leaf_hashes(&leaves),
            "root after resuming at {size}"
        );
        // Every full tile, including those completed after a resume, holds the right hashes.
        let level0 = target / 256;
        for i in 0..level0 {
            let tile = store.full_tile(0, i).await.unwrap().unwrap();
            let want: Vec<u8> = leaves[(i * 256) as usize..((i + 1) * 256) as usize]
                .iter()
                .flat_map(|h| h.0)
                .collect();
            assert_eq!(tile, want, "tile/0/{i} at size {target}");
        }
        for i in 0..level0 / 256 {
            let tile = store.full_tile(1, i).await.unwrap().unwrap();
            let mut want = Vec::new();
            for j in i * 256..(i + 1) * 256 {
                let below = store.full_tile(0, j).await.unwrap().unwrap();
                let hashes = parse_tile_hashes(&below).unwrap();
                want.extend_from_slice(&candor_tlog::merkle::root_from_leaf_hashes(&hashes).0);
            }
            assert_eq!(tile, want, "tile/1/{i} at size {target}");
        }
        size = target;
    }
}
