//! The storage contract: the same tests against SQLite and PostgreSQL.

use candor_core::config::{Database, SecretString};
use candor_store::{ContentRevisions, Health, PageDigest, Store};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::PgDatabase;

fn digest(path: &str, hash: &str) -> PageDigest {
    PageDigest {
        page_path: path.into(),
        title: format!("Title of {path}"),
        content_sha256: hash.into(),
    }
}

const T0: OffsetDateTime = datetime!(2026-11-01 09:00:00.123 UTC);
const T1: OffsetDateTime = datetime!(2026-11-02 10:00:00 UTC);
const T2: OffsetDateTime = datetime!(2026-11-03 11:00:00 UTC);

/// Backend factories: each call opens a store on the same database (to test reopening).
enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(PgDatabase),
}

impl Backend {
    async fn open(&self) -> Store {
        let db = match self {
            Backend::Sqlite(dir) => Database::Sqlite(dir.path().join("nested/candor.db")),
            Backend::Postgres(pg) => Database::Postgres(SecretString::new(pg.url.clone())),
        };
        Store::open(&db).await.unwrap()
    }
}

async fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite(tempfile::tempdir().unwrap())];
    if let Some(pg) = PgDatabase::create().await {
        all.push(Backend::Postgres(pg));
    }
    all
}

#[tokio::test]
async fn first_publication_records_every_page() {
    for backend in backends().await {
        let store = backend.open().await;
        store.readiness().await.unwrap();
        let latest = store
            .record_revisions(&[digest("/", "aa"), digest("/security", "bb")], T0)
            .await
            .unwrap();
        assert_eq!(latest.len(), 2, "{}", store.backend());
        assert_eq!(latest[0].page_path, "/");
        assert_eq!(latest[1].content_sha256, "bb");
        assert_eq!(
            latest[0].published_at,
            T0,
            "millisecond precision is kept on {}",
            store.backend()
        );
        assert!(latest[1].id > latest[0].id);
    }
}

#[tokio::test]
async fn unchanged_content_keeps_its_revision_and_date() {
    for backend in backends().await {
        let store = backend.open().await;
        let first = store
            .record_revisions(&[digest("/privacy", "p1")], T0)
            .await
            .unwrap();
        let again = store
            .record_revisions(&[digest("/privacy", "p1")], T1)
            .await
            .unwrap();
        assert_eq!(first, again, "{}", store.backend());
        assert_eq!(store.revisions("/privacy").await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn each_change_is_a_new_revision_even_back_to_an_old_text() {
    for backend in backends().await {
        let store = backend.open().await;
        store
            .record_revisions(&[digest("/compliance", "a")], T0)
            .await
            .unwrap();
        store
            .record_revisions(&[digest("/compliance", "b")], T1)
            .await
            .unwrap();
        let latest = store
            .record_revisions(&[digest("/compliance", "a")], T2)
            .await
            .unwrap();
        assert_eq!(latest[0].published_at, T2);
        let history = store.revisions("/compliance").await.unwrap();
        let hashes: Vec<_> = history.iter().map(|r| r.content_sha256.as_str()).collect();
        assert_eq!(hashes, ["a", "b", "a"], "{}", store.backend());
        assert_eq!(
            history.iter().map(|r| r.published_at).collect::<Vec<_>>(),
            [T0, T1, T2]
        );
        assert!(store.revisions("/never").await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn history_survives_reopening() {
    for backend in backends().await {
        let store = backend.open().await;
        store
            .record_revisions(&[digest("/operations", "o1")], T0)
            .await
            .unwrap();
        store.close().await;
        let reopened = backend.open().await;
        reopened.readiness().await.unwrap();
        let latest = reopened
            .record_revisions(&[digest("/operations", "o1")], T2)
            .await
            .unwrap();
        assert_eq!(latest[0].published_at, T0, "{}", reopened.backend());
    }
}

#[tokio::test]
async fn concurrent_publishers_record_one_revision() {
    for backend in backends().await {
        // Two stores stand for two replicas sharing one database.
        let (a, b) = (backend.open().await, backend.open().await);
        let pages: Vec<_> = (0..20)
            .map(|i| digest(&format!("/security/p{i}"), "same"))
            .collect();
        let (ra, rb) = tokio::join!(
            a.record_revisions(&pages, T0),
            b.record_revisions(&pages, T1)
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(
            ra,
            rb,
            "both see the same latest revisions on {}",
            a.backend()
        );
        for i in 0..20 {
            assert_eq!(
                a.revisions(&format!("/security/p{i}")).await.unwrap().len(),
                1,
                "{}",
                a.backend()
            );
        }
    }
}

#[tokio::test]
async fn schemas_match_across_backends() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    let sqlite_dir = tempfile::tempdir().unwrap();
    let sqlite = Backend::Sqlite(sqlite_dir);
    let postgres = Backend::Postgres(pg);
    let (Store::Sqlite(_), Store::Postgres(_)) = (sqlite.open().await, postgres.open().await)
    else {
        panic!("wrong backends")
    };
    let Backend::Sqlite(dir) = &sqlite else {
        unreachable!()
    };
    let Backend::Postgres(pg) = &postgres else {
        unreachable!()
    };
    let lite = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("nested/candor.db").display()
    ))
    .await
    .unwrap();
    let mut lite_cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&lite)
    .await
    .unwrap();
    let pgpool = sqlx::PgPool::connect(&pg.url).await.unwrap();
    let mut pg_cols: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&pgpool)
    .await
    .unwrap();
    lite_cols.sort();
    pg_cols.sort();
    assert_eq!(lite_cols, pg_cols);
    pgpool.close().await;
}

// ---- the verifiable log ----

use candor_store::{LogStore, StoredCheckpoint, TreeState};

fn sha256_leaf(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update([0u8]);
    h.update(bytes);
    h.finalize().into()
}

#[tokio::test]
async fn each_new_revision_is_sequenced_with_its_fact() {
    for backend in backends().await {
        let store = backend.open().await;
        assert_eq!(store.sequenced_size().await.unwrap(), 0);
        store
            .record_revisions(&[digest("/", "a1"), digest("/security", "s1")], T0)
            .await
            .unwrap();
        store
            .record_revisions(&[digest("/", "a1"), digest("/security", "s2")], T1)
            .await
            .unwrap();
        assert_eq!(
            store.sequenced_size().await.unwrap(),
            3,
            "unchanged pages add no entry on {}",
            store.backend()
        );
        let entries = store.entries(0, 10).await.unwrap();
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(
            String::from_utf8(entries[2].entry.clone()).unwrap(),
            r#"{"content_sha256":"s2","page":"/security","published_at":"2026-11-02T10:00:00Z","type":"content.revision","v":1}"#
        );
        assert!(entries.iter().all(|e| e.entry_type == "content.revision" && e.leaf_hash == sha256_leaf(&e.entry)));
        assert_eq!(
            store.leaf_hashes(1, 3).await.unwrap(),
            [entries[1].leaf_hash, entries[2].leaf_hash]
        );
    }
}

#[tokio::test]
async fn concurrent_appends_get_distinct_gapless_indexes() {
    for backend in backends().await {
        let (a, b) = (backend.open().await, backend.open().await);
        let pa: Vec<_> = (0..30)
            .map(|i| digest(&format!("/privacy/a{i}"), "x"))
            .collect();
        let pb: Vec<_> = (0..30)
            .map(|i| digest(&format!("/privacy/b{i}"), "y"))
            .collect();
        let (ra, rb) = tokio::join!(a.record_revisions(&pa, T0), b.record_revisions(&pb, T0));
        ra.unwrap();
        rb.unwrap();
        let seqs: Vec<u64> = a
            .entries(0, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, (0..60).collect::<Vec<u64>>(), "{}", a.backend());
    }
}

#[tokio::test]
async fn integration_is_compare_and_swap_and_checkpoints_never_fork() {
    for backend in backends().await {
        let store = backend.open().await;
        assert_eq!(store.tree_state().await.unwrap(), None);
        let s1 = TreeState {
            size: 256,
            root: [7; 32],
        };
        let tile = vec![9u8; 256 * 32];
        assert!(
            store
                .integrate(0, s1, &[(0, 0, tile.clone())], T0)
                .await
                .unwrap()
        );
        assert!(
            !store
                .integrate(
                    0,
                    TreeState {
                        size: 300,
                        root: [8; 32]
                    },
                    &[],
                    T1
                )
                .await
                .unwrap(),
            "stale integrator must lose"
        );
        assert_eq!(store.tree_state().await.unwrap(), Some(s1));
        assert_eq!(store.full_tile(0, 0).await.unwrap(), Some(tile));
        assert_eq!(store.full_tile(0, 1).await.unwrap(), None);

        let cp = |size, root, note: &str| StoredCheckpoint {
            size,
            root,
            note: note.into(),
            signed_at: T1,
        };
        store
            .add_checkpoint(&cp(256, [7; 32], "first"))
            .await
            .unwrap();
        store
            .add_checkpoint(&cp(256, [7; 32], "first again"))
            .await
            .unwrap();
        let fork = store.add_checkpoint(&cp(256, [6; 32], "fork")).await;
        assert!(
            matches!(fork, Err(candor_store::StoreError::Conflict(_))),
            "{}",
            store.backend()
        );
        store
            .add_checkpoint(&cp(300, [8; 32], "second"))
            .await
            .unwrap();
        assert_eq!(
            store.latest_checkpoint().await.unwrap().unwrap().note,
            "second"
        );
    }
}

#[tokio::test]
async fn forgetting_a_person_makes_their_commitments_unlinkable() {
    use candor_store::PersonKeys;
    for backend in backends().await {
        let store = backend.open().await;
        let alice = store.person_commitment("operator:alice", T0).await.unwrap();
        assert_eq!(
            store.person_commitment("operator:alice", T1).await.unwrap(),
            alice,
            "stable for one person on {}",
            store.backend()
        );
        let bob = store.person_commitment("operator:bob", T0).await.unwrap();
        assert_ne!(alice, bob);
        assert!(!alice.contains("alice") && alice.len() == 64);

        assert!(store.forget_person("operator:alice").await.unwrap());
        assert!(
            !store.forget_person("operator:alice").await.unwrap(),
            "already forgotten"
        );
        let after = store.person_commitment("operator:alice", T2).await.unwrap();
        assert_ne!(
            after,
            alice,
            "old entries can no longer be matched to alice on {}",
            store.backend()
        );
        assert_eq!(
            store.person_commitment("operator:bob", T2).await.unwrap(),
            bob,
            "others are untouched"
        );
    }
}

#[tokio::test]
async fn an_idempotency_key_never_leaves_a_duplicate() {
    for backend in backends().await {
        let store = backend.open().await;
        let entry = candor_core::entries::digest_batch("probe.samples", T0, T1, 3, "ab").unwrap();
        let (first, appended) = store.append_entry(&entry, T1, Some("req-1")).await.unwrap();
        assert!(appended);
        let (again, appended) = store.append_entry(&entry, T2, Some("req-1")).await.unwrap();
        assert_eq!(
            (again, appended),
            (first, false),
            "a retry is not a new leaf on {}",
            store.backend()
        );
        let (other, appended) = store.append_entry(&entry, T2, None).await.unwrap();
        assert!(appended && other == first + 1);
        assert_eq!(store.sequenced_size().await.unwrap(), first + 2);
    }
}

// ---- batched revisions: one batch behaves like its pages recorded one at a time ----

/// The log entries `record_revisions` must have written for `pages` at `at`, in order.
fn expected_entry_bytes(pages: &[&PageDigest], at: OffsetDateTime) -> Vec<Vec<u8>> {
    pages
        .iter()
        .map(|p| {
            candor_core::entries::content_revision(&p.page_path, &p.content_sha256, at)
                .unwrap()
                .bytes
        })
        .collect()
}

#[tokio::test]
async fn one_batch_can_change_a_page_several_times() {
    for backend in backends().await {
        let store = backend.open().await;
        let batch = [
            digest("/faq", "A"),
            digest("/faq", "B"),
            digest("/faq", "A"),
        ];
        let latest = store.record_revisions(&batch, T0).await.unwrap();
        let history = store.revisions("/faq").await.unwrap();
        assert_eq!(
            history
                .iter()
                .map(|r| r.content_sha256.as_str())
                .collect::<Vec<_>>(),
            ["A", "B", "A"],
            "every change is a revision on {}",
            store.backend()
        );
        // Each occurrence gets the page's latest revision once it is recorded, as if the three
        // were recorded one after the other.
        assert_eq!(latest, history, "{}", store.backend());
        assert!(latest[0].id < latest[1].id && latest[1].id < latest[2].id);
        let entries = store.entries(0, 10).await.unwrap();
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(
            entries.iter().map(|e| e.entry.clone()).collect::<Vec<_>>(),
            expected_entry_bytes(&batch.iter().collect::<Vec<_>>(), T0),
            "{}",
            store.backend()
        );

        // Unchanged, unchanged again, another page, a change, and that change repeated.
        let batch = [
            digest("/faq", "A"),
            digest("/faq", "A"),
            digest("/other", "x"),
            digest("/faq", "C"),
            digest("/faq", "C"),
        ];
        let latest = store.record_revisions(&batch, T1).await.unwrap();
        assert_eq!(latest[0], history[2], "{}", store.backend());
        assert_eq!(latest[1], history[2]);
        assert_eq!(
            (latest[2].page_path.as_str(), latest[2].published_at),
            ("/other", T1)
        );
        assert_eq!(
            (latest[3].content_sha256.as_str(), latest[3].published_at),
            ("C", T1)
        );
        assert!(latest[2].id > history[2].id && latest[3].id > latest[2].id);
        assert_eq!(latest[4], latest[3], "a repeat of a change is not a change");
        assert_eq!(store.revisions("/faq").await.unwrap().len(), 4);
        let entries = store.entries(3, 10).await.unwrap();
        assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(
            entries.iter().map(|e| e.entry.clone()).collect::<Vec<_>>(),
            expected_entry_bytes(&[&batch[2], &batch[3]], T1),
            "{}",
            store.backend()
        );
    }
}

#[tokio::test]
async fn a_large_batch_records_exactly_the_changed_pages_in_order() {
    let page = |i: usize, hash: &str| digest(&format!("/bulk/p{i}"), hash);
    for backend in backends().await {
        let store = backend.open().await;
        // Another kind of entry first, so the revisions' sequence does not start at 0.
        let other = candor_core::entries::digest_batch("probe.samples", T0, T0, 1, "ab").unwrap();
        store.append_entry(&other, T0, None).await.unwrap();

        let first: Vec<_> = (0..1200).map(|i| page(i, "v1")).collect();
        let before = store.record_revisions(&first, T0).await.unwrap();
        assert!(
            before.windows(2).all(|w| w[0].id < w[1].id),
            "ids increase in input order on {}",
            store.backend()
        );
        assert!(before.iter().all(|r| r.published_at == T0));
        assert_eq!(store.sequenced_size().await.unwrap(), 1 + 1200);

        // 2,102 items over 2,100 pages: every third old page changes, 900 pages are new, and
        // two items repeat pages from earlier in the batch (one changing, one not).
        let mut second: Vec<_> = (0..2100)
            .map(|i| page(i, if i < 1200 && i % 3 != 0 { "v1" } else { "v2" }))
            .collect();
        second.push(page(5, "v3"));
        second.push(page(3, "v2"));
        let changed: Vec<usize> = (0..second.len())
            .filter(|&i| (i < 1200 && i % 3 == 0) || (1200..=2100).contains(&i))
            .collect();
        assert_eq!(changed.len(), 400 + 900 + 1);

        let latest = store.record_revisions(&second, T1).await.unwrap();
        assert_eq!(latest.len(), second.len());
        for (i, (revision, page)) in latest.iter().zip(&second).enumerate() {
            assert_eq!(revision.page_path, page.page_path);
            assert_eq!(revision.title, page.title);
            assert_eq!(revision.content_sha256, page.content_sha256, "item {i}");
            if changed.contains(&i) {
                assert_eq!(revision.published_at, T1, "item {i}");
            } else if i < 1200 {
                assert_eq!(
                    revision,
                    &before[i],
                    "unchanged item {i} on {}",
                    store.backend()
                );
            }
        }
        assert_eq!(
            latest[2101], latest[3],
            "the repeat returns the batch's revision"
        );
        let new_ids: Vec<i64> = changed.iter().map(|&i| latest[i].id).collect();
        assert!(
            new_ids.windows(2).all(|w| w[0] < w[1]) && new_ids[0] > before[1199].id,
            "new ids increase in input order on {}",
            store.backend()
        );
        assert_eq!(
            store.revisions("/bulk/p5").await.unwrap(),
            [before[5].clone(), latest[2100].clone()]
        );

        assert_eq!(
            store.sequenced_size().await.unwrap(),
            1 + 1200 + changed.len() as u64,
            "no entry for an unchanged page on {}",
            store.backend()
        );
        let entries = store.entries(1 + 1200, 10_000).await.unwrap();
        assert_eq!(
            entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1201..1201 + changed.len() as u64).collect::<Vec<_>>(),
            "consecutive sequence numbers on {}",
            store.backend()
        );
        let expected =
            expected_entry_bytes(&changed.iter().map(|&i| &second[i]).collect::<Vec<_>>(), T1);
        assert!(
            entries.iter().map(|e| &e.entry).eq(expected.iter()),
            "entries are the changed pages' content.revision bytes, in page order, on {}",
            store.backend()
        );
        assert!(entries
            .iter()
            .all(|e| e.entry_type == "content.revision" && e.leaf_hash == sha256_leaf(&e.entry)));
    }
}
