//! The outbox storage on SQLite and PostgreSQL: the same contract on both, and exclusive
//! claims for workers sharing one database.

use std::collections::HashSet;
use std::time::Duration;

use candor_store::outbox::{MailOutbox, QueuedMail};
use candor_store::{Store, StoreError};

use crate::support::{PgDatabase, T0, sqlite_store};

const LEASE: Duration = Duration::from_secs(60);

fn secs(n: i64) -> time::Duration {
    time::Duration::seconds(n)
}

fn mail(n: u32, queued_at: time::OffsetDateTime) -> QueuedMail {
    QueuedMail {
        message_id: format!("<{n}@acme.example>"),
        sender: "trust@acme.example".into(),
        recipient: format!("person{n}@customer.example"),
        message: format!("Message-ID: <{n}@acme.example>\r\nSubject: {n}\r\n\r\nbody {n}\r\n")
            .into_bytes(),
        queued_at,
    }
}

async fn contract(store: &Store) {
    let backend = store.backend();
    let (m1, m2) = (mail(1, T0), mail(2, T0 + secs(1)));
    assert!(store.enqueue(&m1).await.unwrap());
    assert!(
        !store.enqueue(&m1).await.unwrap(),
        "same Message-ID twice is one mail ({backend})"
    );
    assert!(store.enqueue(&m2).await.unwrap());
    assert_eq!(store.next_due().await.unwrap(), Some(T0));

    assert!(
        store
            .claim_due(T0 - secs(1), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let c = store.claim_due(T0, LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 1, "only what is due ({backend})");
    assert_eq!(
        (c[0].message_id.as_str(), c[0].attempts),
        ("<1@acme.example>", 1)
    );
    assert_eq!(
        (&c[0].message, &c[0].recipient, c[0].queued_at),
        (&m1.message, &m1.recipient, T0)
    );
    let id1 = c[0].id;

    let c = store.claim_due(T0 + secs(2), LEASE, 10).await.unwrap();
    assert_eq!(
        c.len(),
        1,
        "a claimed mail is not claimed again during its lease ({backend})"
    );
    assert_eq!(c[0].message_id, "<2@acme.example>");
    let id2 = c[0].id;

    let c = store.claim_due(T0 + secs(61), LEASE, 10).await.unwrap();
    assert_eq!(c.len(), 1, "an expired lease frees the mail ({backend})");
    assert_eq!((c[0].id, c[0].attempts), (id1, 2));

    store
        .mark_failed(id1, "451 4.3.0 try later", T0 + secs(120))
        .await
        .unwrap();
    store.mark_sent(id2, T0 + secs(3)).await.unwrap();
    let e1 = store
        .outbox_entry("<1@acme.example>")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e1.attempts, 2);
    assert_eq!(e1.last_error.as_deref(), Some("451 4.3.0 try later"));
    assert_eq!(
        (e1.next_attempt_at, e1.claimed_until, e1.sent_at),
        (T0 + secs(120), None, None)
    );
    let e2 = store
        .outbox_entry("<2@acme.example>")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (e2.sent_at, e2.claimed_until, e2.queued_at),
        (Some(T0 + secs(3)), None, T0 + secs(1))
    );

    assert!(
        store
            .claim_due(T0 + secs(100), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.next_due().await.unwrap(), Some(T0 + secs(120)));
    let c = store.claim_due(T0 + secs(120), LEASE, 10).await.unwrap();
    assert_eq!((c.len(), c[0].attempts), (1, 3));
    assert_eq!(
        store.next_due().await.unwrap(),
        Some(T0 + secs(180)),
        "held until its lease ends"
    );
    store.mark_sent(id1, T0 + secs(121)).await.unwrap();
    store.mark_sent(id1, T0 + secs(500)).await.unwrap();
    store
        .mark_failed(id1, "late failure of a duplicate", T0 + secs(999))
        .await
        .unwrap();
    let e1 = store
        .outbox_entry("<1@acme.example>")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (e1.sent_at, e1.last_error),
        (Some(T0 + secs(121)), None),
        "the first success counts ({backend})"
    );
    assert_eq!(store.next_due().await.unwrap(), None);
    assert!(
        store
            .claim_due(T0 + secs(100_000), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(
        store
            .outbox_entry("<nope@acme.example>")
            .await
            .unwrap()
            .is_none()
    );
    let mut bad = mail(3, T0);
    bad.recipient.clear();
    assert!(matches!(
        store.enqueue(&bad).await,
        Err(StoreError::Invalid(_))
    ));

    // Oldest due first, and the limit holds.
    for n in 10..15 {
        store
            .enqueue(&mail(n, T0 + secs(i64::from(20 - n))))
            .await
            .unwrap();
    }
    let c = store.claim_due(T0 + secs(100), LEASE, 2).await.unwrap();
    let got: HashSet<String> = c.into_iter().map(|m| m.message_id).collect();
    assert_eq!(
        got,
        HashSet::from(["<14@acme.example>".into(), "<13@acme.example>".into()])
    );
}

#[tokio::test]
async fn the_outbox_contract_holds_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().unwrap();
    contract(&sqlite_store(dir.path()).await).await;
    if let Some(pg) = PgDatabase::create().await {
        let store = pg.store().await;
        contract(&store).await;
        store.close().await;
    }
}

/// Two workers with their own connections claim concurrently until the outbox is empty.
async fn two_claimers(a: Store, b: Store) {
    const MAILS: u32 = 300;
    for n in 0..MAILS {
        a.enqueue(&mail(n, T0)).await.unwrap();
    }
    let claim_all = |store: Store| async move {
        let mut ids = Vec::new();
        loop {
            let claimed = store.claim_due(T0 + secs(1), LEASE, 2).await.unwrap();
            if claimed.is_empty() {
                return ids;
            }
            ids.extend(claimed.into_iter().map(|m| m.message_id));
            tokio::task::yield_now().await;
        }
    };
    let (got_a, got_b) = tokio::join!(tokio::spawn(claim_all(a)), tokio::spawn(claim_all(b)));
    let (got_a, got_b) = (got_a.unwrap(), got_b.unwrap());
    let set_a: HashSet<&String> = got_a.iter().collect();
    let set_b: HashSet<&String> = got_b.iter().collect();
    assert_eq!(set_a.len(), got_a.len(), "no mail twice to one worker");
    assert!(set_a.is_disjoint(&set_b), "a mail went to both workers");
    assert_eq!(
        set_a.len() + set_b.len(),
        MAILS as usize,
        "every mail claimed once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_postgres_never_claim_the_same_mail() {
    let Some(pg) = PgDatabase::create().await else {
        return;
    };
    two_claimers(pg.store().await, pg.store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_sqlite_file_never_claim_the_same_mail() {
    let dir = tempfile::tempdir().unwrap();
    two_claimers(
        sqlite_store(dir.path()).await,
        sqlite_store(dir.path()).await,
    )
    .await;
}

#[tokio::test]
async fn the_outbox_migration_applies_on_both_backends() {
    // Opening runs the migrations; readiness checks the newest one is recorded, also on reopen.
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    candor_store::Health::readiness(&store).await.unwrap();
    store.close().await;
    let reopened = sqlite_store(dir.path()).await;
    candor_store::Health::readiness(&reopened).await.unwrap();
    if let Some(pg) = PgDatabase::create().await {
        let store = pg.store().await;
        candor_store::Health::readiness(&store).await.unwrap();
        store.close().await;
    }
}
