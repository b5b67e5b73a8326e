//! Key rotation: a new key means a new origin, and the old log stays readable and verifiable.

use candor_core::config::Database;
use candor_store::{ContentRevisions, PageDigest, Store};
use candor_tlog::{Ed25519NoteVerifier, NoteVerifier, SignedCheckpoint, parse_bundle};

use crate::log::{checkpoint_of_size, get};
use crate::support::{Server, candor, tiny_site};

#[tokio::test]
async fn a_rotated_key_starts_a_new_log_and_the_old_one_stays_verifiable() {
    let site = tiny_site();
    let config = site.path().join("candor.toml");
    let config = config.to_str().unwrap();
    let data = site.path().join("data");

    // The first log: two pages, signed by the first key.
    let server = Server::start(site.path(), &[]).await;
    let old_cp = checkpoint_of_size(&server, 2).await;
    let old_vkey = get(&server, "/log/key").await.text().await.unwrap();
    let old_vkey = old_vkey.trim().to_owned();
    let old_origin = Ed25519NoteVerifier::from_vkey(&old_vkey)
        .unwrap()
        .name()
        .to_owned();
    let old_note = get(&server, "/log/checkpoint").await.bytes().await.unwrap();
    assert_eq!(server.stop().code(), Some(0));

    // Two facts sequenced after the last checkpoint, never signed by the old key.
    let store = Store::open(&Database::Sqlite(data.join("candor.db")))
        .await
        .unwrap();
    let late: Vec<PageDigest> = ["late-a", "late-b"]
        .iter()
        .map(|p| PageDigest {
            page_path: format!("/security/{p}"),
            title: (*p).into(),
            content_sha256: format!("{:064x}", p.len()),
        })
        .collect();
    store
        .record_revisions(&late, time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    store.close().await;

    // Bad input first: the same origin is refused and nothing changes.
    let same = candor(
        &[
            "rotate-log",
            "--config",
            config,
            "--new-origin",
            &old_origin,
        ],
        &[],
    );
    assert_eq!(same.status.code(), Some(1), "{}", same.stderr);
    assert!(same.stderr.contains("must differ"), "{}", same.stderr);

    let new_origin = "tiny.example/log/2";
    let out = candor(
        &["rotate-log", "--config", config, "--new-origin", new_origin],
        &[],
    );
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    let new_vkey = out.stdout.trim().to_owned();
    assert!(new_vkey.starts_with("tiny.example/log/2+"), "{new_vkey}");
    assert!(
        out.stderr.contains("at size 2") && out.stderr.contains("/log/archive/1/"),
        "{}",
        out.stderr
    );
    assert!(data.join("log-signing.key.retired-1").exists());
    assert!(data.join("log-signing.key.checkpoint.retired-1").exists());
    assert!(!data.join("log-signing.key.next").exists());
    // Running it again changes nothing.
    let again = candor(
        &["rotate-log", "--config", config, "--new-origin", new_origin],
        &[],
    );
    assert!(again.status.success(), "{}", again.stderr);
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);

    // The new log: entry 0 names the old log, then the two carried-over facts.
    let server = Server::start(site.path(), &[]).await;
    assert_eq!(
        get(&server, "/log/key").await.text().await.unwrap().trim(),
        new_vkey
    );
    let new_cp = checkpoint_of_size(&server, 3).await;
    assert_eq!(new_cp.checkpoint().origin, new_origin);
    assert_eq!(new_cp.checkpoint().size, 3);
    let bundle = get(&server, "/log/tile/entries/000.p/3")
        .await
        .bytes()
        .await
        .unwrap();
    let entries = parse_bundle(&bundle).unwrap();
    let first: serde_json::Value = serde_json::from_slice(entries[0]).unwrap();
    assert_eq!(first["type"], "log.rotation");
    assert_eq!(first["previous_origin"], old_origin.as_str());
    assert_eq!(first["previous_vkey"], old_vkey.as_str());
    assert_eq!(first["previous_size"], 2);
    assert_eq!(
        first["previous_root"],
        old_cp.checkpoint().root.to_base64().as_str()
    );
    for (entry, page) in entries[1..].iter().zip(["late-a", "late-b"]) {
        let v: serde_json::Value = serde_json::from_slice(entry).unwrap();
        assert_eq!(v["page"], format!("/security/{page}"));
    }

    // The old log, frozen and byte for byte as it was published.
    let archived = get(&server, "/log/archive/1/checkpoint").await;
    assert_eq!(archived.status(), 200);
    assert_eq!(archived.bytes().await.unwrap(), old_note);
    assert_eq!(
        get(&server, "/log/archive/1/key")
            .await
            .text()
            .await
            .unwrap()
            .trim(),
        old_vkey
    );
    for missing in [
        "/log/archive/2/checkpoint",
        "/log/archive/1/tile/0/000.p/3",
        "/log/archive/x/key",
    ] {
        assert_eq!(get(&server, missing).await.status(), 404, "{missing}");
    }
    let state = tempfile::tempdir().unwrap();
    let state = state.path().to_str().unwrap();
    let archive_url = server.url("/log/archive/1");
    let old = candor(
        &[
            "verify",
            &archive_url,
            "--key",
            &old_vkey,
            "--state",
            state,
            "--full",
        ],
        &[],
    );
    assert!(old.status.success(), "{}{}", old.stdout, old.stderr);
    assert!(old.stdout.contains("all 2 entries"), "{}", old.stdout);
    let log_url = server.url("/log");
    let new = candor(
        &[
            "verify", &log_url, "--key", &new_vkey, "--state", state, "--full",
        ],
        &[],
    );
    assert!(new.status.success(), "{}{}", new.stdout, new.stderr);
    // Pinning the old key to the live log fails loudly: it is another log now.
    let pinned = candor(
        &["verify", &log_url, "--key", &old_vkey, "--state", state],
        &[],
    );
    assert_eq!(pinned.status.code(), Some(1), "{}", pinned.stdout);

    let verify = get(&server, "/verify").await.text().await.unwrap();
    assert!(
        verify.contains("Earlier logs") && verify.contains(&old_vkey),
        "the Verify page lists the earlier log"
    );
    assert_eq!(server.stop().code(), Some(0));

    // The retired key can never sign again, even if someone puts it back.
    std::fs::copy(
        data.join("log-signing.key.retired-1"),
        data.join("log-signing.key"),
    )
    .unwrap();
    let refused = candor(
        &["serve", "--config", config, "--listen", "127.0.0.1:0"],
        &[],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("retired by a key rotation"),
        "{}",
        refused.stderr
    );
    let _ = SignedCheckpoint::parse(&old_note).unwrap();
}
