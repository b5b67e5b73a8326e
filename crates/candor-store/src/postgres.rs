//! PostgreSQL backend, for several stateless replicas behind a load balancer.

use std::time::Duration;

use candor_core::config::redact_url;
use sqlx::postgres::{PgPool, PgPoolOptions};
use time::OffsetDateTime;

use candor_core::entries::Entry;
use sqlx::{Postgres, Transaction};

use crate::log::{
    EntryRow, NewTile, SequencedEntry, StoredCheckpoint, TreeState, entry_from_row, hash32, to_i64,
};
use crate::{
    ContentRevisions, Health, LogStore, PageDigest, Revision, RevisionRow, StoreError,
    check_migrated, revision_entry, revision_from_row, to_ms,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Serialises log appends, integration and checkpoints across processes sharing one database.
const LOG_LOCK_KEY: i64 = 0x0063_616e_646f_7202; // "candor" + 2
/// Serialises content-revision writers across processes sharing one database.
const CONTENT_LOCK_KEY: i64 = 0x0063_616e_646f_7201; // "candor" + 1

/// PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects (failing within a few seconds if the server is unreachable) and applies
    /// migrations; sqlx's migrator holds an advisory lock so replicas starting together are safe.
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| StoreError::Unavailable {
                target: format!("PostgreSQL at {}", redact_url(url)),
                detail: format!("{e}; check that the server is running and database_url is right"),
            })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(PgStore { pool })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl ContentRevisions for PgStore {
    async fn record_revisions(
        &self,
        pages: &[PageDigest],
        at: OffsetDateTime,
    ) -> Result<Vec<Revision>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CONTENT_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        let mut latest = Vec::with_capacity(pages.len());
        for page in pages {
            let current: Option<RevisionRow> = sqlx::query_as(
                "SELECT id, page_path, title, content_sha256, published_at_ms FROM content_revisions
                 WHERE page_path = $1 ORDER BY id DESC LIMIT 1",
            )
            .bind(&page.page_path)
            .fetch_optional(&mut *tx)
            .await?;
            let row = match current {
                Some(row) if row.3 == page.content_sha256 => row,
                _ => {
                    let row: RevisionRow = sqlx::query_as(
                        "INSERT INTO content_revisions (page_path, title, content_sha256, published_at_ms) VALUES ($1, $2, $3, $4)
                         RETURNING id, page_path, title, content_sha256, published_at_ms",
                    )
                    .bind(&page.page_path)
                    .bind(&page.title)
                    .bind(&page.content_sha256)
                    .bind(to_ms(at))
                    .fetch_one(&mut *tx)
                    .await?;
                    append(&mut tx, &revision_entry(page, at)?, at, None).await?;
                    row
                }
            };
            latest.push(revision_from_row(row));
        }
        tx.commit().await?;
        Ok(latest)
    }

    async fn revisions(&self, page_path: &str) -> Result<Vec<Revision>, StoreError> {
        let rows: Vec<RevisionRow> = sqlx::query_as(
            "SELECT id, page_path, title, content_sha256, published_at_ms FROM content_revisions WHERE page_path = $1 ORDER BY id",
        )
        .bind(page_path)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(revision_from_row).collect())
    }
}

impl Health for PgStore {
    async fn readiness(&self) -> Result<(), StoreError> {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        check_migrated(&MIGRATOR, applied)
    }
}

/// Sequences `entry` inside the caller's transaction, under the log's advisory lock so that
/// replicas sharing the database never hand out one index twice.
pub(crate) async fn append(
    tx: &mut Transaction<'_, Postgres>,
    entry: &Entry,
    at: OffsetDateTime,
    idempotency_key: Option<&str>,
) -> Result<u64, StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOG_LOCK_KEY)
        .execute(&mut **tx)
        .await?;
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO log_entries (seq, entry_type, entry, leaf_hash, recorded_at_ms, idempotency_key)
         VALUES ((SELECT COALESCE(MAX(seq) + 1, 0) FROM log_entries), $1, $2, $3, $4, $5) RETURNING seq",
    )
    .bind(entry.entry_type)
    .bind(&entry.bytes)
    .bind(&entry.leaf_hash()[..])
    .bind(to_ms(at))
    .bind(idempotency_key)
    .fetch_one(&mut **tx)
    .await?;
    u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("negative sequence number {seq}")))
}

impl LogStore for PgStore {
    async fn sequenced_size(&self) -> Result<u64, StoreError> {
        let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq) + 1, 0) FROM log_entries")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(next).unwrap_or(0))
    }

    async fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>, StoreError> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT leaf_hash FROM log_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        )
        .bind(to_i64(from)?)
        .bind(to_i64(to)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|h| hash32(h)).collect()
    }

    async fn entries(&self, from: u64, to: u64) -> Result<Vec<SequencedEntry>, StoreError> {
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT seq, entry_type, entry, leaf_hash, recorded_at_ms FROM log_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq",
        )
        .bind(to_i64(from)?)
        .bind(to_i64(to)?)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(entry_from_row).collect()
    }

    async fn tree_state(&self) -> Result<Option<TreeState>, StoreError> {
        let row: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT size, root FROM log_tree WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(size, root)| {
            Ok(TreeState {
                size: u64::try_from(size).unwrap_or(0),
                root: hash32(&root)?,
            })
        })
        .transpose()
    }

    async fn full_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT data FROM log_tiles WHERE level = $1 AND idx = $2")
                .bind(i32::from(level))
                .bind(to_i64(index)?)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn integrate(
        &self,
        from_size: u64,
        new: TreeState,
        tiles: &[NewTile],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        let current: Option<i64> = sqlx::query_scalar("SELECT size FROM log_tree WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        if current.unwrap_or(0) != to_i64(from_size)? {
            return Ok(false);
        }
        for (level, index, data) in tiles {
            sqlx::query("INSERT INTO log_tiles (level, idx, data) VALUES ($1, $2, $3) ON CONFLICT (level, idx) DO NOTHING")
                .bind(i32::from(*level))
                .bind(to_i64(*index)?)
                .bind(data)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO log_tree (id, size, root, updated_at_ms) VALUES (1, $1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET size = excluded.size, root = excluded.root, updated_at_ms = excluded.updated_at_ms",
        )
        .bind(to_i64(new.size)?)
        .bind(&new.root[..])
        .bind(to_ms(at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        let existing: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT root FROM log_checkpoints WHERE size = $1")
                .bind(to_i64(checkpoint.size)?)
                .fetch_optional(&mut *tx)
                .await?;
        match existing {
            Some(root) if root != checkpoint.root => {
                return Err(StoreError::Conflict(format!(
                    "a checkpoint of size {} with another root is already stored",
                    checkpoint.size
                )));
            }
            Some(_) => {}
            None => {
                sqlx::query("INSERT INTO log_checkpoints (size, root, note, signed_at_ms) VALUES ($1, $2, $3, $4)")
                    .bind(to_i64(checkpoint.size)?)
                    .bind(&checkpoint.root[..])
                    .bind(&checkpoint.note)
                    .bind(to_ms(checkpoint.signed_at))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn append_entry(
        &self,
        entry: &Entry,
        at: OffsetDateTime,
        idempotency_key: Option<&str>,
    ) -> Result<(u64, bool), StoreError> {
        self.append_entry_now(entry, at, idempotency_key).await
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row: Option<(i64, Vec<u8>, String, i64)> = sqlx::query_as(
            "SELECT size, root, note, signed_at_ms FROM log_checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(size, root, note, ms)| {
            Ok(StoredCheckpoint {
                size: u64::try_from(size).unwrap_or(0),
                root: hash32(&root)?,
                note,
                signed_at: crate::from_ms(ms),
            })
        })
        .transpose()
    }
}

impl crate::PersonKeys for PgStore {
    async fn person_commitment(
        &self,
        person_ref: &str,
        at: OffsetDateTime,
    ) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await?;
        let key = person_key(&mut tx, person_ref, at).await?;
        tx.commit().await?;
        Ok(candor_core::entries::person_commitment(&key, person_ref))
    }

    async fn forget_person(&self, person_ref: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM person_keys WHERE person_ref = $1")
            .bind(person_ref)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// The person's key inside the caller's transaction, created on first use.
pub(crate) async fn person_key(
    tx: &mut Transaction<'_, Postgres>,
    person_ref: &str,
    at: OffsetDateTime,
) -> Result<[u8; 32], StoreError> {
    sqlx::query("INSERT INTO person_keys (person_ref, hmac_key, created_at_ms) VALUES ($1, $2, $3) ON CONFLICT (person_ref) DO NOTHING")
        .bind(person_ref)
        .bind(&crate::new_person_key()?[..])
        .bind(to_ms(at))
        .execute(&mut **tx)
        .await?;
    let key: Vec<u8> = sqlx::query_scalar("SELECT hmac_key FROM person_keys WHERE person_ref = $1")
        .bind(person_ref)
        .fetch_one(&mut **tx)
        .await?;
    crate::person_key_from(&key)
}

impl PgStore {
    /// See [`LogStore::append_entry`].
    async fn append_entry_now(
        &self,
        entry: &Entry,
        at: OffsetDateTime,
        idempotency_key: Option<&str>,
    ) -> Result<(u64, bool), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        if let Some(key) = idempotency_key {
            let existing: Option<i64> =
                sqlx::query_scalar("SELECT seq FROM log_entries WHERE idempotency_key = $1")
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(seq) = existing {
                return Ok((u64::try_from(seq).unwrap_or(0), false));
            }
        }
        let seq = append(&mut tx, entry, at, idempotency_key).await?;
        tx.commit().await?;
        Ok((seq, true))
    }
}
