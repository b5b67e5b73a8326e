//! SQLite backend: one file in the data directory, WAL, a busy timeout, and a single writer.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;

use candor_core::entries::Entry;
use sqlx::{QueryBuilder, Sqlite, Transaction};

use crate::log::{
    ArchivedLog, EntryRow, NewTile, SequencedEntry, StoredCheckpoint, TreeState, entry_from_row,
    hash32, to_i64,
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
    pub(crate) writer: SqlitePool,
    pub(crate) readers: SqlitePool,
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

/// Rows per multi-row statement: 1,000 rows of at most 5 bound values each stay far below
/// SQLite's limit of 32,766 variables.
const ROWS_PER_STATEMENT: usize = 1_000;

impl ContentRevisions for SqliteStore {
    async fn record_revisions(
        &self,
        pages: &[PageDigest],
        at: OffsetDateTime,
    ) -> Result<Vec<Revision>, StoreError> {
        // IMMEDIATE takes the write lock up front: a read-then-write transaction that starts
        // deferred can fail with SQLITE_BUSY_SNAPSHOT without the busy handler retrying.
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // A constant number of statements per 1,000 pages rather than three per page: sqlx runs
        // each SQLite statement on a worker thread, and those hand-offs cost more than SQLite.
        let mut stored: Vec<RevisionRow> = Vec::new();
        for paths in distinct_paths(pages).chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT id, page_path, title, content_sha256, published_at_ms FROM content_revisions
                 WHERE id IN (SELECT MAX(id) FROM content_revisions WHERE page_path IN (",
            );
            let mut list = q.separated(", ");
            for path in paths {
                list.push_bind(*path);
            }
            q.push(") GROUP BY page_path)");
            stored.extend(
                q.build_query_as::<RevisionRow>()
                    .fetch_all(&mut *tx)
                    .await?,
            );
        }
        let plan = RevisionPlan::new(pages, stored);
        let ms = to_ms(at);
        let mut ids = Vec::with_capacity(plan.changed().len());
        for chunk in plan.changed().chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO content_revisions (page_path, title, content_sha256, published_at_ms) ",
            );
            q.push_values(chunk, |mut row, page| {
                row.push_bind(&page.page_path)
                    .push_bind(&page.title)
                    .push_bind(&page.content_sha256)
                    .push_bind(ms);
            });
            q.push(" RETURNING id");
            ids.extend(q.build_query_scalar::<i64>().fetch_all(&mut *tx).await?);
        }
        if !plan.changed().is_empty() {
            // The write lock is held, so nobody else can take these sequence numbers.
            let mut seq: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(seq) + 1, 0) FROM log_entries")
                    .fetch_one(&mut *tx)
                    .await?;
            for chunk in plan.changed().chunks(ROWS_PER_STATEMENT) {
                let entries = chunk
                    .iter()
                    .map(|page| revision_entry(page, at))
                    .collect::<Result<Vec<_>, _>>()?;
                let mut q = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO log_entries (seq, entry_type, entry, leaf_hash, recorded_at_ms) ",
                );
                q.push_values(entries, |mut row, entry| {
                    let leaf_hash = entry.leaf_hash();
                    row.push_bind(seq)
                        .push_bind(entry.entry_type)
                        .push_bind(entry.bytes)
                        .push_bind(leaf_hash.to_vec())
                        .push_bind(ms);
                    seq += 1;
                });
                q.build().execute(&mut *tx).await?;
            }
        }
        let latest = plan.resolve(ids, at)?;
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

/// Each distinct page path of `pages` once, in first-seen order.
pub(crate) fn distinct_paths(pages: &[PageDigest]) -> Vec<&str> {
    let mut seen = HashSet::with_capacity(pages.len());
    pages
        .iter()
        .map(|page| page.page_path.as_str())
        .filter(|path| seen.insert(*path))
        .collect()
}

/// What one `record_revisions` call writes and returns, worked out in memory from the latest
/// stored revision of each page, so that a backend needs a fixed number of statements per batch.
/// Both backends use it.
pub(crate) struct RevisionPlan<'a> {
    /// The latest stored revision of the batch's pages (at most one per page).
    stored: Vec<RevisionRow>,
    /// The pages that get a new revision and a log entry, in input order.
    changed: Vec<&'a PageDigest>,
    /// For each input page, its latest revision once that item has been recorded.
    latest: Vec<Slot>,
}

/// A revision in a [`RevisionPlan`]: an index into `stored` or into `changed`.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Stored(usize),
    New(usize),
}

impl<'a> RevisionPlan<'a> {
    /// Compares every page with its latest revision, which may be one that an earlier item of the
    /// same batch records, exactly as recording the pages one at a time would.
    pub(crate) fn new(pages: &'a [PageDigest], stored: Vec<RevisionRow>) -> RevisionPlan<'a> {
        let mut current: HashMap<&str, Slot> = stored
            .iter()
            .enumerate()
            .map(|(i, row)| (row.1.as_str(), Slot::Stored(i)))
            .collect();
        let mut changed: Vec<&'a PageDigest> = Vec::new();
        let mut latest = Vec::with_capacity(pages.len());
        for page in pages {
            let unchanged = current
                .get(page.page_path.as_str())
                .copied()
                .filter(|slot| {
                    let sha = match *slot {
                        Slot::Stored(i) => stored.get(i).map(|row| &row.3),
                        Slot::New(k) => changed.get(k).map(|new| &new.content_sha256),
                    };
                    sha == Some(&page.content_sha256)
                });
            let slot = match unchanged {
                Some(slot) => slot,
                None => {
                    let slot = Slot::New(changed.len());
                    changed.push(page);
                    current.insert(&page.page_path, slot);
                    slot
                }
            };
            latest.push(slot);
        }
        drop(current);
        RevisionPlan {
            stored,
            changed,
            latest,
        }
    }

    /// The pages to insert, in input order.
    pub(crate) fn changed(&self) -> &[&'a PageDigest] {
        &self.changed
    }

    /// The latest revision of every input page, given the ids the inserts of [`Self::changed`]
    /// returned (in any order).
    pub(crate) fn resolve(
        self,
        mut ids: Vec<i64>,
        at: OffsetDateTime,
    ) -> Result<Vec<Revision>, StoreError> {
        if ids.len() != self.changed.len() {
            return Err(StoreError::Corrupt(format!(
                "{} content revisions were inserted but {} ids came back",
                self.changed.len(),
                ids.len()
            )));
        }
        // RETURNING's row order is not guaranteed, but ids are assigned in insertion order (each
        // statement inserts its rows in order, under the write lock).
        ids.sort_unstable();
        let ms = to_ms(at);
        let new: Vec<RevisionRow> = self
            .changed
            .iter()
            .zip(ids)
            .map(|(page, id)| {
                (
                    id,
                    page.page_path.clone(),
                    page.title.clone(),
                    page.content_sha256.clone(),
                    ms,
                )
            })
            .collect();
        Ok(self
            .latest
            .iter()
            .map(|slot| match *slot {
                Slot::Stored(i) => revision_from_row(self.stored[i].clone()),
                Slot::New(k) => revision_from_row(new[k].clone()),
            })
            .collect())
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

    async fn update_checkpoint_note(
        &self,
        size: u64,
        root: [u8; 32],
        note: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE log_checkpoints SET note = ?1 WHERE size = ?2 AND root = ?3")
            .bind(note)
            .bind(to_i64(size)?)
            .bind(&root[..])
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn full_tiles(&self, level: u8, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT idx, data FROM log_tiles WHERE level = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
        )
        .bind(i64::from(level))
        .bind(to_i64(from)?)
        .bind(to_i64(to)?)
        .fetch_all(&self.readers)
        .await?;
        Ok(crate::log::contiguous_tiles(from, rows))
    }

    async fn begin_archive(&self, archive: &ArchivedLog) -> Result<u64, StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let existing: Option<(i64, i64, Vec<u8>, bool)> =
            sqlx::query_as("SELECT id, size, root, complete FROM log_archives WHERE origin = ?1")
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
            sqlx::query("DELETE FROM log_archive_files WHERE archive_id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM log_archives WHERE id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO log_archives (id, origin, vkey, size, root, checkpoint, complete, archived_at_ms)
             VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM log_archives), ?1, ?2, ?3, ?4, ?5, 0, ?6) RETURNING id",
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for (path, data) in files {
            sqlx::query(
                "INSERT INTO log_archive_files (archive_id, path, data) VALUES (?1, ?2, ?3)
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
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let id = to_i64(archive_id)?;
        let row: Option<(i64, Vec<u8>, bool)> =
            sqlx::query_as("SELECT size, root, complete FROM log_archives WHERE id = ?1")
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
        sqlx::query("UPDATE log_archives SET complete = 1 WHERE id = ?1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM log_entries WHERE seq < ?1")
            .bind(size)
            .execute(&mut *tx)
            .await?;
        // Renumber in two steps, so that no intermediate number collides with a row not yet moved.
        sqlx::query("UPDATE log_entries SET seq = -1 - seq")
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE log_entries SET seq = (-1 - seq) - ?1 + 1")
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
             VALUES (0, ?1, ?2, ?3, ?4, NULL)",
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
        .fetch_all(&self.readers)
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
             WHERE f.archive_id = ?1 AND f.path = ?2 AND a.complete",
        )
        .bind(to_i64(archive_id)?)
        .bind(path)
        .fetch_optional(&self.readers)
        .await?)
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
