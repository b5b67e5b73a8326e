//! The outbox worker: retries with backoff through a relay outage, loses nothing across a
//! restart, sends fresh mail at once, stops cleanly.

use std::sync::Arc;
use std::time::Duration;

use candor_core::SystemClock;
use candor_mail::{Composer, DeliveryReport, Mail, Outbox, OutboxOptions, Transport};
use candor_store::outbox::MailOutbox;
use time::OffsetDateTime;

use crate::smtp_server::{Fault, Pki, Security, SmtpServer};
use crate::support::{ManualClock, T0, outbox, smtp_settings, sqlite_store};

const NOTHING: DeliveryReport = DeliveryReport { sent: 0, failed: 0 };
const ONE_FAILED: DeliveryReport = DeliveryReport { sent: 0, failed: 1 };

/// The retry is scheduled `ceiling` after `now`, less at most a quarter of jitter.
fn assert_retry_within(next: OffsetDateTime, now: OffsetDateTime, ceiling_secs: u64) {
    let wait = Duration::try_from(next - now).unwrap();
    let ceiling = Duration::from_secs(ceiling_secs);
    assert!(
        wait <= ceiling && wait >= ceiling.mul_f64(0.75),
        "retry in {wait:?}, expected {ceiling:?} less up to a quarter"
    );
}

#[tokio::test]
async fn a_relay_outage_is_retried_with_backoff_until_the_mail_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    pki.write_ca(dir.path());
    // A port nobody listens on yet: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = smtp_settings(
        dir.path(),
        &format!("smtp://candor:pw@127.0.0.1:{port}"),
        "",
    );
    let clock = ManualClock::at(T0);
    let store = sqlite_store(dir.path()).await;
    let outbox = outbox(store.clone(), &settings, clock.clone());

    let queued = outbox
        .compose(&Mail::new(
            "alice@customer.example",
            "Your sign-in link",
            "https://trust.acme.example/x",
        ))
        .unwrap();
    outbox.queue(&queued).await.unwrap();
    let entry = || async {
        store
            .outbox_entry(&queued.message_id)
            .await
            .unwrap()
            .unwrap()
    };

    // 1. Connection refused.
    assert_eq!(outbox.deliver_due().await.unwrap(), ONE_FAILED);
    let e = entry().await;
    assert_eq!(e.attempts, 1);
    assert!(e.last_error.is_some());
    assert_retry_within(e.next_attempt_at, T0, 30);
    // Nothing is retried before its time.
    clock.advance(Duration::from_secs(20));
    assert_eq!(outbox.deliver_due().await.unwrap(), NOTHING);
    assert_eq!(entry().await.attempts, 1);

    // 2. The relay is back, with the same CA, but answers 451 for a while.
    let server = SmtpServer::builder(Security::StartTls)
        .credentials("candor", "pw")
        .pki(&pki)
        .start_on(port)
        .await;
    server.set_fault(Fault::TempFail);
    clock.advance(Duration::from_secs(10));
    assert_eq!(outbox.deliver_due().await.unwrap(), ONE_FAILED);
    let e = entry().await;
    assert_eq!(e.attempts, 2);
    assert!(
        e.last_error.as_deref().unwrap().contains("451"),
        "{:?}",
        e.last_error
    );
    assert_retry_within(e.next_attempt_at, clock_now(&clock), 60);

    // 3. It drops the connection in the middle of DATA.
    server.set_fault(Fault::DropMidData);
    clock.advance(Duration::from_secs(60));
    assert_eq!(outbox.deliver_due().await.unwrap(), ONE_FAILED);
    let e = entry().await;
    assert_eq!(e.attempts, 3);
    assert_retry_within(e.next_attempt_at, clock_now(&clock), 120);
    assert!(server.received().is_empty());

    // 4. It works again: delivered once, exactly as queued.
    server.set_fault(Fault::None);
    clock.advance(Duration::from_secs(120));
    assert_eq!(
        outbox.deliver_due().await.unwrap(),
        DeliveryReport { sent: 1, failed: 0 }
    );
    let e = entry().await;
    assert_eq!(e.attempts, 4);
    assert_eq!(e.sent_at, Some(clock_now(&clock)));
    assert_eq!(e.last_error, None);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].data, queued.message);

    // Sent means done.
    clock.advance(Duration::from_secs(7200));
    assert_eq!(outbox.deliver_due().await.unwrap(), NOTHING);
    assert_eq!(store.next_due().await.unwrap(), None);
}

fn clock_now(clock: &ManualClock) -> OffsetDateTime {
    candor_core::Clock::now(clock)
}

#[tokio::test]
async fn nothing_is_lost_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::builder(Security::StartTls)
        .credentials("candor", "pw")
        .start()
        .await;
    server.write_ca(dir.path());
    let settings = smtp_settings(
        dir.path(),
        &format!("smtp://candor:pw@127.0.0.1:{}", server.port()),
        "",
    );
    let clock = ManualClock::at(T0);
    let lease = OutboxOptions::default().lease;

    // First life: two mails queued; a worker claims the first and dies mid-send.
    let (in_flight, waiting) = {
        let store = sqlite_store(dir.path()).await;
        let outbox = outbox(store.clone(), &settings, clock.clone());
        let a = outbox
            .compose(&Mail::new(
                "alice@customer.example",
                "A",
                "being sent when the process died",
            ))
            .unwrap();
        let b = outbox
            .compose(&Mail::new(
                "bob@customer.example",
                "B",
                "queued, never tried",
            ))
            .unwrap();
        outbox.queue(&a).await.unwrap();
        outbox.queue(&b).await.unwrap();
        let claimed = store.claim_due(T0, lease, 1).await.unwrap();
        assert_eq!(claimed[0].message_id, a.message_id);
        store.close().await;
        (a, b)
    };

    // Second life: the untried mail goes at once; the one in flight waits out its lease (it
    // may have reached the relay), then is sent again with the same Message-ID.
    let store = sqlite_store(dir.path()).await;
    let outbox = outbox(store.clone(), &settings, clock.clone());
    assert_eq!(
        outbox.deliver_due().await.unwrap(),
        DeliveryReport { sent: 1, failed: 0 }
    );
    assert_eq!(server.received()[0].data, waiting.message);
    clock.advance(lease);
    assert_eq!(
        outbox.deliver_due().await.unwrap(),
        DeliveryReport { sent: 1, failed: 0 }
    );
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[1].data, in_flight.message,
        "same bytes, same Message-ID"
    );
    let e = store
        .outbox_entry(&in_flight.message_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.attempts, 2, "the interrupted attempt counts");
    assert_eq!(store.next_due().await.unwrap(), None);
}

#[tokio::test]
async fn the_running_worker_sends_fresh_mail_at_once_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::builder(Security::StartTls)
        .credentials("candor", "pw")
        .start()
        .await;
    server.write_ca(dir.path());
    let settings = smtp_settings(
        dir.path(),
        &format!("smtp://candor:pw@127.0.0.1:{}", server.port()),
        "",
    );
    let store = sqlite_store(dir.path()).await;
    // Polling once an hour: only a wake-up can make delivery prompt.
    let options = OutboxOptions {
        poll_interval: Duration::from_secs(3600),
        ..OutboxOptions::default()
    };
    let outbox = Outbox::new(
        store.clone(),
        Transport::from_settings(&settings.mail).unwrap(),
        Composer::new(&settings.mail.from).unwrap(),
        Arc::new(SystemClock),
        options,
    );
    outbox.start();
    let first = outbox
        .send(&Mail::new("alice@customer.example", "First", "1"))
        .await
        .unwrap();
    server.wait_for(1).await;
    let second = outbox
        .send(&Mail::new("bob@customer.example", "Second", "2"))
        .await
        .unwrap();
    let received = server.wait_for(2).await;
    let ids: Vec<String> = received
        .iter()
        .map(|r| {
            use mailparse::MailHeaderMap as _;
            mailparse::parse_mail(&r.data)
                .unwrap()
                .headers
                .get_first_value("Message-ID")
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [first, second.clone()]);

    tokio::time::timeout(Duration::from_secs(10), outbox.shutdown())
        .await
        .expect("shutdown returns promptly");
    // After shutdown mail is still accepted into the outbox, for the next start.
    let third = outbox
        .send(&Mail::new("carol@customer.example", "Third", "3"))
        .await
        .unwrap();
    let e = store.outbox_entry(&third).await.unwrap().unwrap();
    assert_eq!((e.attempts, e.sent_at), (0, None));
    assert!(
        store
            .outbox_entry(&second)
            .await
            .unwrap()
            .unwrap()
            .sent_at
            .is_some()
    );
}

#[tokio::test]
async fn retries_go_on_at_the_longest_interval_and_never_give_up() {
    let dir = tempfile::tempdir().unwrap();
    let server = SmtpServer::builder(Security::StartTls).start().await;
    server.write_ca(dir.path());
    server.set_fault(Fault::TempFail);
    let settings = smtp_settings(
        dir.path(),
        &format!("smtp://127.0.0.1:{}", server.port()),
        "",
    );
    let clock = ManualClock::at(T0);
    let store = sqlite_store(dir.path()).await;
    let outbox = outbox(store.clone(), &settings, clock.clone());
    let id = outbox
        .send(&Mail::new("alice@customer.example", "Hi", "x"))
        .await
        .unwrap();
    for attempt in 1..=12u32 {
        assert_eq!(
            outbox.deliver_due().await.unwrap(),
            ONE_FAILED,
            "attempt {attempt}"
        );
        let e = store.outbox_entry(&id).await.unwrap().unwrap();
        assert_eq!(e.attempts, attempt);
        let ceiling = (30u64 << (attempt - 1).min(20)).min(3600);
        assert_retry_within(e.next_attempt_at, clock_now(&clock), ceiling);
        clock.advance(Duration::from_secs(3600));
    }
    server.set_fault(Fault::None);
    assert_eq!(outbox.deliver_due().await.unwrap().sent, 1);
}
