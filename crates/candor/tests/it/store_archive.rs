//! Retiring a log (key rotation) at the storage level, on SQLite and PostgreSQL.

use std::sync::Arc;

use candor_core::clock::FixedClock;
use candor_core::config::{Database, SecretString};
use candor_core::entries::digest_batch;
use candor_store::{ArchivedLog, ContentRevisions, LogStore, PageDigest, Store, StoreError};
use candor_tlog::merkle::root_from_entries;
use candor_tlog::tiles::parse_tile_hashes;
use candor_tlog::{Ed25519NoteSigner, parse_bundle};
use candor_web::log::{LogService, rotate};
use time::macros::datetime;

use crate::support::PgDatabase;

fn pages(prefix: &str, n: usize) -> Vec<PageDigest> {
    (0..n)
        .map(|i| PageDigest {
            page_path: format!("/{prefix}/{i}"),
            title: format!("{prefix} {i}"),
            content_sha256: format!("{:064x}", i + 1),
        })
        .collect()
}

pub(crate) async fn stores() -> Vec<(Store, Option<PgDatabase>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&Database::Sqlite(dir.path().join("candor.db")))
        .await
        .unwrap();
    let mut all = vec![(sqlite, None, dir)];
    if let Some(pg) = PgDatabase::create().await {
        let store = Store::open(&Database::Postgres(SecretString::new(pg.url.clone())))
            .await
            .unwrap();
        all.push((store, Some(pg), tempfile::tempdir().unwrap()));
    }
    all
}

async fn signed_log(store: &Store, signer: Ed25519NoteSigner, hw: std::path::PathBuf) -> u64 {
    let origin = candor_tlog::NoteSigner::name(&signer).to_owned();
    let clock = Arc::new(FixedClock(datetime!(2026-11-30 12:00 UTC)));
    let log = LogService::open(store.clone(), clock, origin, signer, hw)
        .await
        .unwrap();
    log.sign_if_grown().await.unwrap();
    log.latest().unwrap().size
}

#[tokio::test]
async fn retiring_a_log_freezes_it_and_carries_unsigned_entries_over() {
    let at = datetime!(2026-11-30 12:00 UTC);
    for (store, _pg, dir) in stores().await {
        let backend = store.backend();
        let old = || Ed25519NoteSigner::from_seed("trust.example.com/log", [7; 32]).unwrap();
        store.record_revisions(&pages("a", 300), at).await.unwrap();
        assert_eq!(signed_log(&store, old(), dir.path().join("hw")).await, 300);
        let signed_root = store.latest_checkpoint().await.unwrap().unwrap().root;
        // Sequenced after the last checkpoint: one fact, and one flush with an idempotency key.
        store.record_revisions(&pages("late", 1), at).await.unwrap();
        let flush = digest_batch("probe.samples", at, at, 3, &"ab".repeat(32)).unwrap();
        assert_eq!(
            store
                .append_entry(&flush, at, Some("flush-1"))
                .await
                .unwrap(),
            (301, true)
        );

        let clock = FixedClock(datetime!(2026-12-01 08:00 UTC));
        let done = rotate(&store, &old(), "trust.example.com/log/2", &clock)
            .await
            .unwrap();
        assert_eq!(
            (done.archive_id, done.archived_size, done.carried_over),
            (1, 300, 2),
            "{backend}"
        );

        // The live log restarts: the rotation entry, then the two carried-over entries.
        assert_eq!(store.sequenced_size().await.unwrap(), 3, "{backend}");
        assert!(store.latest_checkpoint().await.unwrap().is_none());
        assert!(store.tree_state().await.unwrap().is_none());
        let live = store.entries(0, 3).await.unwrap();
        assert_eq!(live[0].entry_type, "log.rotation", "{backend}");
        assert_eq!(live[1].entry_type, "content.revision");
        assert_eq!(live[2].entry, flush.bytes);
        assert_eq!(
            store
                .append_entry(&flush, at, Some("flush-1"))
                .await
                .unwrap(),
            (2, false),
            "a retried flush finds its renumbered entry on {backend}"
        );

        // The archive holds the old tree exactly: bundles and tiles give the signed root.
        let archives = store.archives().await.unwrap();
        assert_eq!(archives.len(), 1);
        assert!(archives[0].complete);
        assert_eq!(archives[0].size, 300);
        assert_eq!(archives[0].vkey, old().vkey());
        let mut entries = Vec::new();
        for path in ["tile/entries/000", "tile/entries/001.p/44"] {
            let bundle = store.archive_file(1, path).await.unwrap().unwrap();
            entries.extend(
                parse_bundle(&bundle)
                    .unwrap()
                    .into_iter()
                    .map(<[u8]>::to_vec),
            );
        }
        assert_eq!(entries.len(), 300);
        assert_eq!(root_from_entries(&entries).0, signed_root, "{backend}");
        let top = store
            .archive_file(1, "tile/1/000.p/1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(parse_tile_hashes(&top).unwrap().len(), 1);
        assert!(store.archive_file(1, "tile/0/001").await.unwrap().is_none());
        assert!(store.archive_file(2, "tile/0/000").await.unwrap().is_none());

        // An origin is never reused.
        let new = Ed25519NoteSigner::from_seed("trust.example.com/log/2", [8; 32]).unwrap();
        let err = rotate(&store, &new, "trust.example.com/log", &clock)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("never reused"), "{err}");
    }
}

#[tokio::test]
async fn a_log_that_moved_on_during_a_rotation_is_not_switched() {
    let at = datetime!(2026-11-30 12:00 UTC);
    for (store, _pg, dir) in stores().await {
        let backend = store.backend();
        let signer = || Ed25519NoteSigner::from_seed("trust.example.com/log", [7; 32]).unwrap();
        store.record_revisions(&pages("a", 3), at).await.unwrap();
        let running = LogService::open(
            store.clone(),
            Arc::new(FixedClock(at)),
            "trust.example.com/log".into(),
            signer(),
            dir.path().join("hw"),
        )
        .await
        .unwrap();
        running.sign_if_grown().await.unwrap();
        let first = store.latest_checkpoint().await.unwrap().unwrap();
        let id = store
            .begin_archive(&ArchivedLog {
                id: 0,
                origin: "trust.example.com/log".into(),
                vkey: signer().vkey(),
                size: first.size,
                root: first.root,
                checkpoint: first.note.clone(),
                complete: false,
                archived_at: at,
            })
            .await
            .unwrap();
        // A server that was not stopped signs a larger checkpoint meanwhile.
        store.record_revisions(&pages("b", 1), at).await.unwrap();
        running.integrate_once().await.unwrap();
        running.sign_if_grown().await.unwrap();
        assert_eq!(running.latest().unwrap().size, 4);
        let entry = candor_core::entries::log_rotation("x", "y", 3, "z", at).unwrap();
        let err = store.finish_archive(id, &entry, at).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{backend}: {err}");
        assert_eq!(store.sequenced_size().await.unwrap(), 4, "nothing moved");
        assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().size, 4);
        assert!(!store.archives().await.unwrap()[0].complete);
        // The unfinished rotation keeps the server from starting until it is finished.
        let clock = Arc::new(FixedClock(at));
        let refused = LogService::open(
            store.clone(),
            clock,
            "trust.example.com/log".into(),
            signer(),
            dir.path().join("hw"),
        )
        .await;
        assert!(
            refused.is_err_and(|e| e.to_string().contains("not finished")),
            "{backend}"
        );
        // Running the rotation again starts over from the newest checkpoint.
        let clock = FixedClock(at);
        let done = rotate(&store, &signer(), "trust.example.com/log/2", &clock)
            .await
            .unwrap();
        assert_eq!((done.archive_id, done.archived_size), (id, 4), "{backend}");
    }
}
