//! The worker that empties the outbox: claim due mail, send it, mark it sent or schedule a retry.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use candor_core::Clock;
use candor_core::config::MailSettings;
use candor_store::StoreError;
use candor_store::outbox::{ClaimedMail, MailOutbox, QueuedMail};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::{Composer, Mail, MailError, Transport, domain_of};

/// How long to wait before retrying a failed mail: `first`, doubling per attempt up to `max`,
/// each delay shortened by up to a quarter at random so that mail queued together spreads out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure.
    pub first: Duration,
    /// The longest delay; retries go on at this interval for as long as it takes.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The full delay after `attempts` failed attempts (before jitter).
    pub fn ceiling(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.first
            .saturating_mul(1u32 << doublings)
            .min(self.max)
            .max(Duration::from_secs(1))
    }

    /// The delay after `attempts` failed attempts, with `jitter` in `[0, 1)` taking off up to a
    /// quarter of it.
    pub fn delay(&self, attempts: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(attempts);
        ceiling.mul_f64(1.0 - jitter.clamp(0.0, 1.0) / 4.0)
    }

    /// True once retries run at the longest interval: a person should look.
    pub fn at_max(&self, attempts: u32) -> bool {
        self.ceiling(attempts) >= self.max
    }
}

/// Tuning for the outbox worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxOptions {
    /// How long a claim holds a mail. A worker that dies mid-send leaves the mail to be sent
    /// again after this; it must exceed the longest send (every SMTP step has its own timeout).
    pub lease: Duration,
    /// How often the worker looks for mail it was not woken for (queued by another replica, or
    /// whose claim expired).
    pub poll_interval: Duration,
    /// Retry delays.
    pub backoff: Backoff,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        OutboxOptions {
            lease: Duration::from_secs(600),
            poll_interval: Duration::from_secs(30),
            backoff: Backoff::default(),
        }
    }
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Mails the transport accepted.
    pub sent: u32,
    /// Attempts that failed (each rescheduled).
    pub failed: u32,
}

struct Inner<S> {
    store: S,
    transport: Transport,
    composer: Composer,
    clock: Arc<dyn Clock>,
    options: OutboxOptions,
    wake: Notify,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// The mail outbox of one server: queue mail with [`Outbox::send`], and a background worker
/// (started by [`Outbox::spawn`]) delivers it. Clones share the same worker.
pub struct Outbox<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for Outbox<S> {
    fn clone(&self) -> Self {
        Outbox {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S> std::fmt::Debug for Outbox<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("transport", &self.inner.transport.describe())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl<S: MailOutbox + 'static> Outbox<S> {
    /// An outbox whose worker is not running yet (call [`Outbox::start`], or drive it with
    /// [`Outbox::deliver_due`] in tests).
    pub fn new(
        store: S,
        transport: Transport,
        composer: Composer,
        clock: Arc<dyn Clock>,
        options: OutboxOptions,
    ) -> Outbox<S> {
        Outbox {
            inner: Arc::new(Inner {
                store,
                transport,
                composer,
                clock,
                options,
                wake: Notify::new(),
                stop: watch::channel(false).0,
                task: Mutex::new(None),
            }),
        }
    }

    /// An outbox with its worker running (default options). Needs a Tokio runtime.
    pub fn spawn(
        store: S,
        transport: Transport,
        composer: Composer,
        clock: Arc<dyn Clock>,
    ) -> Outbox<S> {
        let outbox = Outbox::new(store, transport, composer, clock, OutboxOptions::default());
        outbox.start();
        outbox
    }

    /// The outbox for the resolved `[mail]` settings, its worker running. Fails when the
    /// transport cannot be built (unreadable CA or password file, bad sender).
    pub fn from_settings(
        store: S,
        settings: &MailSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Outbox<S>, MailError> {
        let transport = Transport::from_settings(settings)?;
        let composer = Composer::new(&settings.from)?;
        tracing::info!(transport = %transport.describe(), from = %settings.from, "outgoing mail");
        Ok(Outbox::spawn(store, transport, composer, clock))
    }

    /// Starts the background worker, unless it runs already.
    pub fn start(&self) {
        let mut task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if task.is_none() {
            let inner = Arc::clone(&self.inner);
            *task = Some(tokio::spawn(run(inner)));
        }
    }

    /// Composes `mail` (Message-ID assigned now), queues it and wakes the worker, which sends
    /// it at once. Returns the Message-ID.
    pub async fn send(&self, mail: &Mail) -> Result<String, MailError> {
        let queued = self.compose(mail)?;
        self.queue(&queued).await?;
        Ok(queued.message_id)
    }

    /// Composes `mail` without queuing it, for a caller that queues it in its own transaction
    /// (then calls [`Outbox::wake`]).
    pub fn compose(&self, mail: &Mail) -> Result<QueuedMail, MailError> {
        self.inner.composer.compose(mail, self.inner.clock.now())
    }

    /// Queues a composed mail and wakes the worker; `false` if that Message-ID was queued before.
    pub async fn queue(&self, mail: &QueuedMail) -> Result<bool, MailError> {
        let new = self.inner.store.enqueue(mail).await?;
        self.wake();
        Ok(new)
    }

    /// Makes the worker look at the outbox now rather than at its next poll.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Sends every mail due now, one at a time, until none is left (or shutdown began).
    pub async fn deliver_due(&self) -> Result<DeliveryReport, StoreError> {
        deliver_due(&self.inner).await
    }

    /// The outbox's store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// Stops the worker: the mail being sent is finished and recorded, nothing new is claimed.
    /// Mail still queued stays in the database for the next start.
    pub async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The longest the worker sleeps after a storage error before trying again.
const ERROR_PAUSE: Duration = Duration::from_secs(5);

async fn run<S: MailOutbox>(inner: Arc<Inner<S>>) {
    let mut stop = inner.stop.subscribe();
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = match deliver_due(&inner).await {
            Ok(_) => match inner.store.next_due().await {
                Ok(Some(due)) => until(due, inner.clock.now()).min(inner.options.poll_interval),
                Ok(None) => inner.options.poll_interval,
                Err(e) => {
                    tracing::warn!(error = %e, "mail outbox: cannot read the next due time");
                    ERROR_PAUSE.min(inner.options.poll_interval)
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "mail outbox: storage failed; queued mail stays queued");
                ERROR_PAUSE.min(inner.options.poll_interval)
            }
        };
        // A floor keeps a mail that is due but cannot be claimed from spinning the loop.
        let wait = wait.max(Duration::from_millis(50));
        tokio::select! {
            () = inner.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

fn until(at: OffsetDateTime, now: OffsetDateTime) -> Duration {
    Duration::try_from(at - now).unwrap_or(Duration::ZERO)
}

async fn deliver_due<S: MailOutbox>(inner: &Inner<S>) -> Result<DeliveryReport, StoreError> {
    let mut report = DeliveryReport::default();
    let stop = inner.stop.subscribe();
    // One at a time, so a lease only ever covers the one send in flight.
    while !*stop.borrow() {
        let claimed = inner
            .store
            .claim_due(inner.clock.now(), inner.options.lease, 1)
            .await?;
        let Some(mail) = claimed.into_iter().next() else {
            break;
        };
        if deliver_one(inner, &mail).await? {
            report.sent += 1;
        } else {
            report.failed += 1;
        }
    }
    Ok(report)
}

/// Sends one claimed mail and records the outcome; `true` when it was sent.
async fn deliver_one<S: MailOutbox>(
    inner: &Inner<S>,
    mail: &ClaimedMail,
) -> Result<bool, StoreError> {
    let recipient_domain = domain_of(&mail.recipient);
    match inner.transport.send(mail.into()).await {
        Ok(()) => {
            inner.store.mark_sent(mail.id, inner.clock.now()).await?;
            tracing::info!(
                message_id = %mail.message_id,
                recipient_domain,
                attempts = mail.attempts,
                "mail sent"
            );
            Ok(true)
        }
        Err(e) => {
            let backoff = inner.options.backoff;
            let delay = backoff.delay(mail.attempts, jitter());
            let next = inner.clock.now() + delay;
            inner
                .store
                .mark_failed(mail.id, &e.to_string(), next)
                .await?;
            let retry_in_secs = delay.as_secs();
            if e.is_permanent() || backoff.at_max(mail.attempts) {
                tracing::error!(
                    message_id = %mail.message_id,
                    recipient_domain,
                    attempts = mail.attempts,
                    retry_in_secs,
                    error = %e,
                    "mail still not delivered; it stays queued and is retried, check the relay and the recipient"
                );
            } else {
                tracing::warn!(
                    message_id = %mail.message_id,
                    recipient_domain,
                    attempts = mail.attempts,
                    retry_in_secs,
                    error = %e,
                    "mail not delivered; will retry"
                );
            }
            Ok(false)
        }
    }
}

/// A random number in `[0, 1)`; no randomness means no jitter, not no retry.
fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_30_s_to_an_hour_and_stays_there() {
        let b = Backoff::default();
        let secs: Vec<u64> = (1..=10).map(|n| b.ceiling(n).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(b.ceiling(u32::MAX).as_secs(), 3600);
        assert!(!b.at_max(7));
        assert!(b.at_max(8));
        assert_eq!(b.delay(1, 0.0), Duration::from_secs(30));
        assert_eq!(
            b.delay(1, 0.999_999),
            Duration::from_secs(30).mul_f64(1.0 - 0.999_999 / 4.0)
        );
        assert!(b.delay(1, 0.5) >= Duration::from_millis(22_500));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }
}
