//! SQLite backend: one file in the data directory, WAL, a busy timeout, and a single writer.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;

use crate::{
    ContentRevisions, Health, PageDigest, Revision, RevisionRow, StoreError, check_migrated,
    revision_from_row, to_ms,
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
            .synchronous(SqliteSynchronous::Normal)
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
                    sqlx::query_as(
                        "INSERT INTO content_revisions (page_path, title, content_sha256, published_at_ms) VALUES (?1, ?2, ?3, ?4)
                         RETURNING id, page_path, title, content_sha256, published_at_ms",
                    )
                    .bind(&page.page_path)
                    .bind(&page.title)
                    .bind(&page.content_sha256)
                    .bind(to_ms(at))
                    .fetch_one(&mut *tx)
                    .await?
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
