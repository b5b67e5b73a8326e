//! PostgreSQL backend, for several stateless replicas behind a load balancer.

use std::time::Duration;

use candor_core::config::redact_url;
use sqlx::postgres::{PgPool, PgPoolOptions};
use time::OffsetDateTime;

use candor_core::entries::Entry;
use sqlx::{Postgres, Transaction};

use crate::log::{
    ArchivedLog, EntryRow, NewTile, SequencedEntry, StoredCheckpoint, TreeState, entry_from_row,
    hash32, to_i64,
};
use crate::sqlite::{RevisionPlan, distinct_paths};
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
    pub(crate) pool: PgPool,
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

/// Pages per statement, as on SQLite. Each column travels as one array, so the 65,535-bind limit
/// is never near; the chunks keep each message bounded.
const ROWS_PER_STATEMENT: usize = 1_000;

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
        // A constant number of statements per 1,000 pages rather than three per page.
        let mut stored: Vec<RevisionRow> = Vec::new();
        for paths in distinct_paths(pages).chunks(ROWS_PER_STATEMENT) {
            let rows: Vec<RevisionRow> = sqlx::query_as(
                "SELECT DISTINCT ON (page_path) id, page_path, title, content_sha256, published_at_ms
                 FROM content_revisions WHERE page_path = ANY($1) ORDER BY page_path, id DESC",
            )
            .bind(paths)
            .fetch_all(&mut *tx)
            .await?;
            stored.extend(rows);
        }
        let plan = RevisionPlan::new(pages, stored);
        let ms = to_ms(at);
        let mut ids = Vec::with_capacity(plan.changed().len());
        for chunk in plan.changed().chunks(ROWS_PER_STATEMENT) {
            let column = |field: fn(&PageDigest) -> &str| -> Vec<&str> {
                chunk.iter().map(|page| field(page)).collect()
            };
            // Rows are inserted, and take their ids, in ORDER BY order.
            let inserted: Vec<i64> = sqlx::query_scalar(
                "INSERT INTO content_revisions (page_path, title, content_sha256, published_at_ms)
                 SELECT p.page_path, p.title, p.content_sha256, $4
                 FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
                      AS p(page_path, title, content_sha256, ord)
                 ORDER BY p.ord
                 RETURNING id",
            )
            .bind(column(|page| &page.page_path))
            .bind(column(|page| &page.title))
            .bind(column(|page| &page.content_sha256))
            .bind(ms)
            .fetch_all(&mut *tx)
            .await?;
            ids.extend(inserted);
        }
        if !plan.changed().is_empty() {
            // As in `append`: replicas sharing the database never hand out one index twice.
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(LOG_LOCK_KEY)
                .execute(&mut *tx)
                .await?;
            let mut seq: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(seq) + 1, 0) FROM log_entries")
                    .fetch_one(&mut *tx)
                    .await?;
            for chunk in plan.changed().chunks(ROWS_PER_STATEMENT) {
                let entries = chunk
                    .iter()
                    .map(|page| revision_entry(page, at))
                    .collect::<Result<Vec<_>, _>>()?;
                let types: Vec<&str> = entries.iter().map(|e| e.entry_type).collect();
                let bytes: Vec<&[u8]> = entries.iter().map(|e| e.bytes.as_slice()).collect();
                let leaf_hashes: Vec<[u8; 32]> = entries.iter().map(Entry::leaf_hash).collect();
                sqlx::query(
                    "INSERT INTO log_entries (seq, entry_type, entry, leaf_hash, recorded_at_ms)
                     SELECT $1 + e.ord - 1, e.entry_type, e.entry, e.leaf_hash, $5
                     FROM unnest($2::text[], $3::bytea[], $4::bytea[]) WITH ORDINALITY
                          AS e(entry_type, entry, leaf_hash, ord)",
                )
                .bind(seq)
                .bind(types)
                .bind(bytes)
                .bind(leaf_hashes)
                .bind(ms)
                .execute(&mut *tx)
                .await?;
                seq += entries.len() as i64; // at most ROWS_PER_STATEMENT
            }
        }
        let latest = plan.resolve(ids, at)?;
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

/// Takes the log's advisory lock for the rest of the transaction.
async fn lock_log(tx: &mut Transaction<'_, Postgres>) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOG_LOCK_KEY)
        .execute(&mut **tx)
        .await?;
    Ok(())
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

    async fn update_checkpoint_note(
        &self,
        size: u64,
        root: [u8; 32],
        note: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE log_checkpoints SET note = $1 WHERE size = $2 AND root = $3")
            .bind(note)
            .bind(to_i64(size)?)
            .bind(&root[..])
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn full_tiles(&self, level: u8, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT idx, data FROM log_tiles WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
        )
        .bind(i64::from(level))
        .bind(to_i64(from)?)
        .bind(to_i64(to)?)
        .fetch_all(&self.pool)
        .await?;
        Ok(crate::log::contiguous_tiles(from, rows))
    }

    async fn begin_archive(&self, archive: &ArchivedLog) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_log(&mut tx).await?;
        let existing: Option<(i64, i64, Vec<u8>, bool)> =
            sqlx::query_as("SELECT id, size, root, complete FROM log_archives WHERE origin = $1")
                .bind(&archive.origin)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((id, size, root, complete)) = existing {
            if complete {
                return Err(StoreError::Conflict(format!(
                    "the log \"{}\" was already archived; an origin is never reused",
                    archive.origin
                )));
            }
            if size == to_i64(archive.size)? && root == archive.root {
                return u64::try_from(id)
                    .map_err(|_| StoreError::Corrupt(format!("archive id {id}")));
            }
            // An interrupted rotation of an older checkpoint: start it again.
            sqlx::query("DELETE FROM log_archive_files WHERE archive_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM log_archives WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO log_archives (id, origin, vkey, size, root, checkpoint, complete, archived_at_ms)
             VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM log_archives), $1, $2, $3, $4, $5, FALSE, $6) RETURNING id",
        )
        .bind(&archive.origin)
        .bind(&archive.vkey)
        .bind(to_i64(archive.size)?)
        .bind(&archive.root[..])
        .bind(&archive.checkpoint)
        .bind(to_ms(archive.archived_at))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        u64::try_from(id).map_err(|_| StoreError::Corrupt(format!("archive id {id}")))
    }

    async fn add_archive_files(
        &self,
        archive_id: u64,
        files: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_log(&mut tx).await?;
        for (path, data) in files {
            sqlx::query(
                "INSERT INTO log_archive_files (archive_id, path, data) VALUES ($1, $2, $3)
                 ON CONFLICT (archive_id, path) DO NOTHING",
            )
            .bind(to_i64(archive_id)?)
            .bind(path)
            .bind(data)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn finish_archive(
        &self,
        archive_id: u64,
        first_entry: &Entry,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_log(&mut tx).await?;
        let id = to_i64(archive_id)?;
        let row: Option<(i64, Vec<u8>, bool)> =
            sqlx::query_as("SELECT size, root, complete FROM log_archives WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((size, root, complete)) = row else {
            return Err(StoreError::Invalid(format!(
                "there is no log archive {archive_id}"
            )));
        };
        if complete {
            return Ok(());
        }
        let latest: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT size, root FROM log_checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        if latest.as_ref() != Some(&(size, root.clone())) {
            return Err(StoreError::Conflict(format!(
                "the newest signed checkpoint is no longer the archived one (size {size}); the log moved on during the rotation"
            )));
        }
        sqlx::query("UPDATE log_archives SET complete = TRUE WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM log_entries WHERE seq < $1")
            .bind(size)
            .execute(&mut *tx)
            .await?;
        // Renumber in two steps, so that no intermediate number collides with a row not yet moved.
        sqlx::query("UPDATE log_entries SET seq = -1 - seq")
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE log_entries SET seq = (-1 - seq) - $1 + 1")
            .bind(size)
            .execute(&mut *tx)
            .await?;
        for statement in [
            "DELETE FROM log_tiles",
            "DELETE FROM log_tree",
            "DELETE FROM log_checkpoints",
        ] {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        sqlx::query(
            "INSERT INTO log_entries (seq, entry_type, entry, leaf_hash, recorded_at_ms, idempotency_key)
             VALUES (0, $1, $2, $3, $4, NULL)",
        )
        .bind(first_entry.entry_type)
        .bind(&first_entry.bytes)
        .bind(&first_entry.leaf_hash()[..])
        .bind(to_ms(at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn archives(&self) -> Result<Vec<ArchivedLog>, StoreError> {
        let rows: Vec<crate::log::ArchiveRow> = sqlx::query_as(
            "SELECT id, origin, vkey, size, root, checkpoint, complete, archived_at_ms FROM log_archives ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(crate::log::archive_from_row).collect()
    }

    async fn archive_file(
        &self,
        archive_id: u64,
        path: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT f.data FROM log_archive_files f JOIN log_archives a ON a.id = f.archive_id
             WHERE f.archive_id = $1 AND f.path = $2 AND a.complete",
        )
        .bind(to_i64(archive_id)?)
        .bind(path)
        .fetch_optional(&self.pool)
        .await?)
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
