//! The mail outbox: outgoing messages kept in the database until a relay accepted them.
//!
//! Delivery is at-least-once. A worker claims due mail for a lease (`claimed_until_ms`), sends
//! it, and marks it sent or failed (with the next attempt time). Two workers sharing PostgreSQL
//! never hold the same mail (`FOR UPDATE SKIP LOCKED`); SQLite has a single writer. A worker
//! that dies mid-send leaves its lease to expire, and the mail is claimed and sent again: the
//! stable Message-ID inside the stored bytes makes the duplicate recognisable.
//!
//! [`enqueue_sqlite`] and [`enqueue_pg`] queue a mail inside a caller's transaction, so a fact
//! and the mail announcing it (an operator invite and its link) commit together.

use std::future::Future;
use std::time::Duration;

use sqlx::{Postgres, Sqlite, Transaction};
use time::OffsetDateTime;

use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::{Store, StoreError, from_ms, to_ms};

/// A composed message, ready to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// The `Message-ID` header value, `<random@domain>`; unique, and the same on every attempt.
    pub message_id: String,
    /// The envelope sender (`MAIL FROM`), a bare address.
    pub sender: String,
    /// The envelope recipient (`RCPT TO`), a bare address.
    pub recipient: String,
    /// The complete RFC 5322 message (headers and body, CRLF line ends), sent byte for byte.
    pub message: Vec<u8>,
    /// When it was queued; it is due at once.
    pub queued_at: OffsetDateTime,
}

/// A mail claimed for sending, under a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMail {
    /// The outbox row.
    pub id: i64,
    /// The `Message-ID` header value.
    pub message_id: String,
    /// The envelope sender.
    pub sender: String,
    /// The envelope recipient.
    pub recipient: String,
    /// The message, as queued.
    pub message: Vec<u8>,
    /// Attempts so far, this one included (1 on the first).
    pub attempts: u32,
    /// When it was queued.
    pub queued_at: OffsetDateTime,
}

/// Where one mail stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The outbox row.
    pub id: i64,
    /// The `Message-ID` header value.
    pub message_id: String,
    /// The envelope recipient.
    pub recipient: String,
    /// Attempts so far.
    pub attempts: u32,
    /// The last failure, if the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued.
    pub queued_at: OffsetDateTime,
    /// When it may be tried next.
    pub next_attempt_at: OffsetDateTime,
    /// Until when a worker holds it, if one does (or did and died).
    pub claimed_until: Option<OffsetDateTime>,
    /// When the relay accepted it.
    pub sent_at: Option<OffsetDateTime>,
}

/// Outgoing mail, persisted until sent.
pub trait MailOutbox: Send + Sync {
    /// Queues a mail, due at once. Queuing the same Message-ID again changes nothing and answers
    /// `false`; a new mail answers `true`.
    fn enqueue(&self, mail: &QueuedMail) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Claims up to `limit` unsent mails that are due at `now` and not held by another worker,
    /// oldest due first, until `now + lease`; each claim counts as an attempt.
    fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<ClaimedMail>, StoreError>> + Send;

    /// Records that the relay accepted the mail (the first time counts) and drops the claim.
    fn mark_sent(
        &self,
        id: i64,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records a failed attempt: the error (which must hold no secret), when to try again, and
    /// drops the claim. Does nothing to a mail already sent.
    fn mark_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The earliest time an unsent mail becomes claimable (it may be in the past), or `None`
    /// when everything was sent.
    fn next_due(&self) -> impl Future<Output = Result<Option<OffsetDateTime>, StoreError>> + Send;

    /// Where the mail with this Message-ID stands.
    fn outbox_entry(
        &self,
        message_id: &str,
    ) -> impl Future<Output = Result<Option<OutboxEntry>, StoreError>> + Send;
}

fn check(mail: &QueuedMail) -> Result<(), StoreError> {
    if mail.message_id.is_empty() || mail.recipient.is_empty() || mail.message.is_empty() {
        return Err(StoreError::Invalid(
            "a queued mail needs a Message-ID, a recipient and a message".into(),
        ));
    }
    Ok(())
}

fn lease_end(now: OffsetDateTime, lease: Duration) -> i64 {
    to_ms(now).saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
}

fn attempts_from(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

type ClaimRow = (i64, String, String, String, Vec<u8>, i32, i64);

fn claimed_from_row(
    (id, message_id, sender, recipient, message, attempts, queued_ms): ClaimRow,
) -> ClaimedMail {
    ClaimedMail {
        id,
        message_id,
        sender,
        recipient,
        message,
        attempts: attempts_from(attempts),
        queued_at: from_ms(queued_ms),
    }
}

type EntryRow = (
    i64,
    String,
    String,
    i32,
    Option<String>,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
);

fn entry_from_row(
    (id, message_id, recipient, attempts, last_error, queued, next, claimed, sent): EntryRow,
) -> OutboxEntry {
    OutboxEntry {
        id,
        message_id,
        recipient,
        attempts: attempts_from(attempts),
        last_error,
        queued_at: from_ms(queued),
        next_attempt_at: from_ms(next),
        claimed_until: claimed.map(from_ms),
        sent_at: sent.map(from_ms),
    }
}

// ---- SQLite ----

/// Queues `mail` inside the caller's SQLite transaction (see [`MailOutbox::enqueue`]).
pub(crate) async fn enqueue_sqlite(
    tx: &mut Transaction<'_, Sqlite>,
    mail: &QueuedMail,
) -> Result<bool, StoreError> {
    check(mail)?;
    let ms = to_ms(mail.queued_at);
    let done = sqlx::query(
        "INSERT INTO mail_outbox (message_id, sender, recipient, message, created_at_ms, next_attempt_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(&mail.message_id)
    .bind(&mail.sender)
    .bind(&mail.recipient)
    .bind(&mail.message)
    .bind(ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl MailOutbox for SqliteStore {
    async fn enqueue(&self, mail: &QueuedMail) -> Result<bool, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let new = enqueue_sqlite(&mut tx, mail).await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedMail>, StoreError> {
        // One statement on the single writer: nobody else can claim in between.
        let rows: Vec<ClaimRow> = sqlx::query_as(
            "UPDATE mail_outbox SET claimed_until_ms = ?1, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM mail_outbox
                 WHERE sent_at_ms IS NULL AND next_attempt_at_ms <= ?2
                   AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?2)
                 ORDER BY next_attempt_at_ms, id LIMIT ?3)
             RETURNING id, message_id, sender, recipient, message, attempts, created_at_ms",
        )
        .bind(lease_end(now, lease))
        .bind(to_ms(now))
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await?;
        let mut claimed: Vec<ClaimedMail> = rows.into_iter().map(claimed_from_row).collect();
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    async fn mark_sent(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET sent_at_ms = COALESCE(sent_at_ms, ?2), claimed_until_ms = NULL,
                 last_error = NULL
             WHERE id = ?1",
        )
        .bind(id)
        .bind(to_ms(at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET last_error = ?2, next_attempt_at_ms = ?3, claimed_until_ms = NULL
             WHERE id = ?1 AND sent_at_ms IS NULL",
        )
        .bind(id)
        .bind(error)
        .bind(to_ms(next_attempt_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let ms: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(MAX(next_attempt_at_ms, COALESCE(claimed_until_ms, 0)))
             FROM mail_outbox WHERE sent_at_ms IS NULL",
        )
        .fetch_one(&self.readers)
        .await?;
        Ok(ms.map(from_ms))
    }

    async fn outbox_entry(&self, message_id: &str) -> Result<Option<OutboxEntry>, StoreError> {
        let row: Option<EntryRow> = sqlx::query_as(
            "SELECT id, message_id, recipient, attempts, last_error, created_at_ms, next_attempt_at_ms,
                    claimed_until_ms, sent_at_ms
             FROM mail_outbox WHERE message_id = ?1",
        )
        .bind(message_id)
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.map(entry_from_row))
    }
}

// ---- PostgreSQL ----

/// Queues `mail` inside the caller's PostgreSQL transaction (see [`MailOutbox::enqueue`]).
pub(crate) async fn enqueue_pg(
    tx: &mut Transaction<'_, Postgres>,
    mail: &QueuedMail,
) -> Result<bool, StoreError> {
    check(mail)?;
    let ms = to_ms(mail.queued_at);
    let done = sqlx::query(
        "INSERT INTO mail_outbox (message_id, sender, recipient, message, created_at_ms, next_attempt_at_ms)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(&mail.message_id)
    .bind(&mail.sender)
    .bind(&mail.recipient)
    .bind(&mail.message)
    .bind(ms)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl MailOutbox for PgStore {
    async fn enqueue(&self, mail: &QueuedMail) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let new = enqueue_pg(&mut tx, mail).await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedMail>, StoreError> {
        // SKIP LOCKED: replicas claiming at the same moment take different rows instead of
        // waiting for each other; a row another claimer just committed is re-checked against
        // the WHERE clause and skipped because its claim is now in the future.
        let rows: Vec<ClaimRow> = sqlx::query_as(
            "UPDATE mail_outbox SET claimed_until_ms = $1, attempts = attempts + 1
             WHERE id IN (
                 SELECT id FROM mail_outbox
                 WHERE sent_at_ms IS NULL AND next_attempt_at_ms <= $2
                   AND (claimed_until_ms IS NULL OR claimed_until_ms <= $2)
                 ORDER BY next_attempt_at_ms, id LIMIT $3
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, message_id, sender, recipient, message, attempts, created_at_ms",
        )
        .bind(lease_end(now, lease))
        .bind(to_ms(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut claimed: Vec<ClaimedMail> = rows.into_iter().map(claimed_from_row).collect();
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    async fn mark_sent(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET sent_at_ms = COALESCE(sent_at_ms, $2), claimed_until_ms = NULL,
                 last_error = NULL
             WHERE id = $1",
        )
        .bind(id)
        .bind(to_ms(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET last_error = $2, next_attempt_at_ms = $3, claimed_until_ms = NULL
             WHERE id = $1 AND sent_at_ms IS NULL",
        )
        .bind(id)
        .bind(error)
        .bind(to_ms(next_attempt_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let ms: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(GREATEST(next_attempt_at_ms, COALESCE(claimed_until_ms, 0)))
             FROM mail_outbox WHERE sent_at_ms IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(ms.map(from_ms))
    }

    async fn outbox_entry(&self, message_id: &str) -> Result<Option<OutboxEntry>, StoreError> {
        let row: Option<EntryRow> = sqlx::query_as(
            "SELECT id, message_id, recipient, attempts, last_error, created_at_ms, next_attempt_at_ms,
                    claimed_until_ms, sent_at_ms
             FROM mail_outbox WHERE message_id = $1",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(entry_from_row))
    }
}

// ---- the configured backend ----

impl MailOutbox for Store {
    async fn enqueue(&self, mail: &QueuedMail) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.enqueue(mail).await,
            Store::Postgres(s) => s.enqueue(mail).await,
        }
    }
    async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedMail>, StoreError> {
        match self {
            Store::Sqlite(s) => s.claim_due(now, lease, limit).await,
            Store::Postgres(s) => s.claim_due(now, lease, limit).await,
        }
    }
    async fn mark_sent(&self, id: i64, at: OffsetDateTime) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.mark_sent(id, at).await,
            Store::Postgres(s) => s.mark_sent(id, at).await,
        }
    }
    async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.mark_failed(id, error, next_attempt_at).await,
            Store::Postgres(s) => s.mark_failed(id, error, next_attempt_at).await,
        }
    }
    async fn next_due(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        match self {
            Store::Sqlite(s) => s.next_due().await,
            Store::Postgres(s) => s.next_due().await,
        }
    }
    async fn outbox_entry(&self, message_id: &str) -> Result<Option<OutboxEntry>, StoreError> {
        match self {
            Store::Sqlite(s) => s.outbox_entry(message_id).await,
            Store::Postgres(s) => s.outbox_entry(message_id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqlitePoolOptions;
    use time::macros::datetime;

    use super::*;

    fn mail(message_id: &str) -> QueuedMail {
        QueuedMail {
            message_id: message_id.into(),
            sender: "trust@acme.example".into(),
            recipient: "alice@customer.example".into(),
            message: b"Subject: hi\r\n\r\nhello\r\n".to_vec(),
            queued_at: datetime!(2026-11-02 09:00 UTC),
        }
    }

    #[tokio::test]
    async fn enqueue_commits_or_rolls_back_with_the_callers_transaction() {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .unwrap();
        let store = SqliteStore {
            writer: pool.clone(),
            readers: pool,
        };

        let mut tx = store.writer.begin().await.unwrap();
        assert!(
            enqueue_sqlite(&mut tx, &mail("<a@acme.example>"))
                .await
                .unwrap()
        );
        tx.rollback().await.unwrap();
        assert_eq!(store.outbox_entry("<a@acme.example>").await.unwrap(), None);

        let mut tx = store.writer.begin().await.unwrap();
        assert!(
            enqueue_sqlite(&mut tx, &mail("<a@acme.example>"))
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        let entry = store
            .outbox_entry("<a@acme.example>")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((entry.attempts, entry.sent_at), (0, None));
        assert!(!store.enqueue(&mail("<a@acme.example>")).await.unwrap());
    }
}
