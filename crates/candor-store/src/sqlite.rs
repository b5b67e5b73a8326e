//! SQLite backend: one file in the data directory, WAL, a busy timeout, and a single writer.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;

use candor_core::entries::Entry;
use sqlx::{Sqlite, Transaction};

use crate::log::{
    EntryRow, NewTile, SequencedEntry, StoredCheckpoint, TreeState, entry_from_row, hash32, to_i64,
};
use crate::{
    ContentRevisions, Health, LogStore, PageDigest, Revision, RevisionRow, StoreError,
    check_migrated, revision_entry, revision_from_row, to_ms,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// SQLite store: a one-connection write pool (so writes queue instead of failing with
/// `SQLITE_BUSY`) and a small read pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
}

impl SqliteStore {
    /// Opens or creates the database file, checks the folder is writable, applies migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let target = format!("SQLite database {}", path.display());
        let unavailable = |detail: String| StoreError::Unavailable {
            target: target.clone(),
            detail,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| {
            unavailable(format!("cannot create the data directory {}: {e}; create it or choose another with --data-dir", dir.display()))
        })?;
        // SQLite reports a read-only folder late and vaguely; probe it so the message is clear.
        let probe = dir.join(".candor-write-check");
        std::fs::write(&probe, b"ok").map_err(|e| {
            unavailable(format!(
                "the data directory {} is not writable: {e}; make it writable by the user running candor or choose another with --data-dir",
                dir.display()
            ))
        })?;
        let _ = std::fs::remove_file(&probe);

        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        Ok(SqliteStore { writer, readers })
    }

    /// Closes both pools.
    pub async fn close(&self) {
        self.writer.close().await;
        self.readers.close().await;
    }
}

impl ContentRevisions for SqliteStore {
    async fn record_revisions(
        &self,
        pages: &[PageDigest],
        at: OffsetDateTime,
    ) -> Result<Vec<Revision>, StoreError> {
        // IMMEDIATE takes the write lock up front: a read-then-write transaction that starts
        // deferred can fail with SQLITE_BUSY_SNAPSHOT without the busy handler retrying.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let mut latest = Vec::with_capacity(pages.len());
        for page in pages {
            let current: Option<RevisionRow> = sqlx::query_as(
                "SELECT id, page_path, title, content_sha256, published_at_ms FROM content_revisions
                 WHERE page_path = ?1 ORDER BY id DESC LIMIT 1",
            )
            .bind(&page.page_path)
            .fetch_optional(&mut *tx)
            .await?;
            let row = match current {
                Some(row) if row.3 == page.content_sha256 => row,
                _ => {
                    let row: RevisionRow = sqlx::query_as(
                        "INSERT INTO content_revisions (page_path, title, content_sha256, published_at_ms) VALUES (?1, ?2, ?3, ?4)
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
            "SELECT id, page_path, title, content_sha256, published_at_ms FROM content_revisions WHERE page_path = ?1 ORDER BY id",
        )
        .bind(page_path)
        .fetch_all(&self.readers)
        .await?;
        Ok(rows.into_iter().map(revision_from_row).collect())
    }
}

impl Health for SqliteStore {
    async fn readiness(&self) -> Result<(), StoreError> {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.readers)
                .await?;
        check_migrated(&MIGRATOR, applied)
    }
}

/// Sequences `entry` inside the caller's transaction (which holds SQLite's single write lock).
pub(crate) async fn append(
    tx: &mut Transaction<'_, Sqlite>,
    entry: &Entry,
    at: OffsetDateTime,
    idempotency_key: Option<&str>,
) -> Result<u64, StoreError> {
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO log_entries (seq, entry_type, entry, leaf_hash, recorded_at_ms, idempotency_key)
         VALUES ((SELECT COALESCE(MAX(seq) + 1, 0) FROM log_entries), ?1, ?2, ?3, ?4, ?5) RETURNING seq",
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

impl LogStore for SqliteStore {
    async fn sequenced_size(&self) -> Result<u64, StoreError> {
        let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq) + 1, 0) FROM log_entries")
            .fetch_one(&self.readers)
            .await?;
        Ok(u64::try_from(next).unwrap_or(0))
    }

    async fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>, StoreError> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT leaf_hash FROM log_entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
        )
        .bind(to_i64(from)?)
        .bind(to_i64(to)?)
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(|h| hash32(h)).collect()
    }

    async fn entries(&self, from: u64, to: u64) -> Result<Vec<SequencedEntry>, StoreError> {
        let rows: Vec<EntryRow> = sqlx::query_as(
            "SELECT seq, entry_type, entry, leaf_hash, recorded_at_ms FROM log_entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
        )
        .bind(to_i64(from)?)
        .bind(to_i64(to)?)
        .fetch_all(&self.readers)
        .await?;
        rows.into_iter().map(entry_from_row).collect()
    }

    async fn tree_state(&self) -> Result<Option<TreeState>, StoreError> {
        let row: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT size, root FROM log_tree WHERE id = 1")
                .fetch_optional(&self.readers)
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
            sqlx::query_scalar("SELECT data FROM log_tiles WHERE level = ?1 AND idx = ?2")
                .bind(i64::from(level))
                .bind(to_i64(index)?)
                .fetch_optional(&self.readers)
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let current: Option<i64> = sqlx::query_scalar("SELECT size FROM log_tree WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?;
        if current.unwrap_or(0) != to_i64(from_size)? {
            return Ok(false);
        }
        for (level, index, data) in tiles {
            sqlx::query("INSERT INTO log_tiles (level, idx, data) VALUES (?1, ?2, ?3) ON CONFLICT (level, idx) DO NOTHING")
                .bind(i64::from(*level))
                .bind(to_i64(*index)?)
                .bind(data)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO log_tree (id, size, root, updated_at_ms) VALUES (1, ?1, ?2, ?3)
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let existing: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT root FROM log_checkpoints WHERE size = ?1")
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
                sqlx::query("INSERT INTO log_checkpoints (size, root, note, signed_at_ms) VALUES (?1, ?2, ?3, ?4)")
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
        .fetch_optional(&self.readers)
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

impl crate::PersonKeys for SqliteStore {
    async fn person_commitment(
        &self,
        person_ref: &str,
        at: OffsetDateTime,
    ) -> Result<String, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let key = person_key(&mut tx, person_ref, at).await?;
        tx.commit().await?;
        Ok(candor_core::entries::person_commitment(&key, person_ref))
    }

    async fn forget_person(&self, person_ref: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM person_keys WHERE person_ref = ?1")
            .bind(person_ref)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// The person's key inside the caller's transaction, created on first use.
pub(crate) async fn person_key(
    tx: &mut Transaction<'_, Sqlite>,
    person_ref: &str,
    at: OffsetDateTime,
) -> Result<[u8; 32], StoreError> {
    sqlx::query("INSERT INTO person_keys (person_ref, hmac_key, created_at_ms) VALUES (?1, ?2, ?3) ON CONFLICT (person_ref) DO NOTHING")
        .bind(person_ref)
        .bind(&crate::new_person_key()?[..])
        .bind(to_ms(at))
        .execute(&mut **tx)
        .await?;
    let key: Vec<u8> = sqlx::query_scalar("SELECT hmac_key FROM person_keys WHERE person_ref = ?1")
        .bind(person_ref)
        .fetch_one(&mut **tx)
        .await?;
    crate::person_key_from(&key)
}

impl SqliteStore {
    /// See [`LogStore::append_entry`].
    async fn append_entry_now(
        &self,
        entry: &Entry,
        at: OffsetDateTime,
        idempotency_key: Option<&str>,
    ) -> Result<(u64, bool), StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        if let Some(key) = idempotency_key {
            let existing: Option<i64> =
                sqlx::query_scalar("SELECT seq FROM log_entries WHERE idempotency_key = ?1")
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
