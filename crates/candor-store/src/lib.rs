//! Candor's storage layer.
//!
//! Each capability has a trait (here: [`ContentRevisions`]) with one implementation per
//! database: [`sqlite::SqliteStore`] (the default, a file in the data directory) and
//! [`postgres::PgStore`]. Each backend has its own embedded migrations, applied when it opens.
//! [`Store`] picks the backend from the configured database and delegates to it, so the rest of
//! Candor never writes SQL. The contract suite in `crates/candor/tests/it/store_contract.rs` runs
//! the same tests against both.
#![forbid(unsafe_code)]

use std::future::Future;

use candor_core::config::Database;
use candor_core::entries::Entry;
pub use log::{ArchivedLog, LogStore, NewTile, SequencedEntry, StoredCheckpoint, TreeState};
use time::OffsetDateTime;

pub mod identity;
pub mod log;
pub mod outbox;
pub mod postgres;
pub mod sqlite;
pub mod status;
pub mod tenants;

/// What went wrong in storage, phrased for an operator.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or opened.
    #[error("cannot open {target}: {detail}")]
    Unavailable {
        /// Which database (password redacted).
        target: String,
        /// Why, and what to do.
        detail: String,
    },
    /// Migrations failed or are not all applied.
    #[error("database schema is not up to date: {0}")]
    Migration(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// The write would contradict what is stored (e.g. two roots for one tree size).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data is not what Candor wrote.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The fact cannot be recorded as given.
    #[error("invalid fact: {0}")]
    Invalid(String),
    /// The record named does not exist.
    #[error("not found: {0}")]
    NotFound(String),
}

/// One published version of a content page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// Increasing id: later revisions have larger ids.
    pub id: i64,
    /// The URL path of the page (`/security/encryption`).
    pub page_path: String,
    /// The page title at that revision.
    pub title: String,
    /// SHA-256 of the page source, hex.
    pub content_sha256: String,
    /// When this version was first published.
    pub published_at: OffsetDateTime,
}

/// The current state of a page, as loaded from trust-as-code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageDigest {
    /// The URL path of the page.
    pub page_path: String,
    /// Its title.
    pub title: String,
    /// SHA-256 of its source, hex.
    pub content_sha256: String,
}

/// The history of published content.
pub trait ContentRevisions: Send + Sync {
    /// Records a new revision for every page whose hash differs from its latest one, atomically,
    /// and returns the latest revision of every page in `pages` (in the same order).
    fn record_revisions(
        &self,
        pages: &[PageDigest],
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Revision>, StoreError>> + Send;

    /// Every revision of one page, oldest first.
    fn revisions(
        &self,
        page_path: &str,
    ) -> impl Future<Output = Result<Vec<Revision>, StoreError>> + Send;
}

/// Keys behind the person commitments in log entries (crypto-shredding).
pub trait PersonKeys: Send + Sync {
    /// The person's commitment (hex HMAC under their key), creating the key on first use. Fact
    /// transactions that name people use the same key inside their own transaction.
    fn person_commitment(
        &self,
        person_ref: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<String, StoreError>> + Send;
    /// Deletes the person's key: entries already logged about them can no longer be linked to
    /// them. Returns whether a key existed.
    fn forget_person(
        &self,
        person_ref: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

impl PersonKeys for Store {
    async fn person_commitment(
        &self,
        person_ref: &str,
        at: OffsetDateTime,
    ) -> Result<String, StoreError> {
        match self {
            Store::Sqlite(s) => s.person_commitment(person_ref, at).await,
            Store::Postgres(s) => s.person_commitment(person_ref, at).await,
        }
    }
    async fn forget_person(&self, person_ref: &str) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.forget_person(person_ref).await,
            Store::Postgres(s) => s.forget_person(person_ref).await,
        }
    }
}

/// A new random person key.
pub(crate) fn new_person_key() -> Result<[u8; 32], StoreError> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| StoreError::Invalid(format!("no randomness for a person key: {e}")))?;
    Ok(key)
}

pub(crate) fn person_key_from(bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt("a person key is not 32 bytes".into()))
}

/// Operational checks every backend answers.
pub trait Health: Send + Sync {
    /// Ok when the database answers and every embedded migration is applied.
    fn readiness(&self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The configured backend.
#[derive(Debug, Clone)]
pub enum Store {
    /// SQLite in the data directory.
    Sqlite(sqlite::SqliteStore),
    /// PostgreSQL.
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens (creating if needed) the configured database and applies migrations.
    pub async fn open(database: &Database) -> Result<Store, StoreError> {
        match database {
            Database::Sqlite(path) => Ok(Store::Sqlite(sqlite::SqliteStore::open(path).await?)),
            Database::Postgres(url) => Ok(Store::Postgres(
                postgres::PgStore::connect(url.expose()).await?,
            )),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(s) => s.close().await,
            Store::Postgres(s) => s.close().await,
        }
    }
}

impl ContentRevisions for Store {
    async fn record_revisions(
        &self,
        pages: &[PageDigest],
        at: OffsetDateTime,
    ) -> Result<Vec<Revision>, StoreError> {
        match self {
            Store::Sqlite(s) => s.record_revisions(pages, at).await,
            Store::Postgres(s) => s.record_revisions(pages, at).await,
        }
    }

    async fn revisions(&self, page_path: &str) -> Result<Vec<Revision>, StoreError> {
        match self {
            Store::Sqlite(s) => s.revisions(page_path).await,
            Store::Postgres(s) => s.revisions(page_path).await,
        }
    }
}

impl Health for Store {
    async fn readiness(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.readiness().await,
            Store::Postgres(s) => s.readiness().await,
        }
    }
}

pub(crate) fn to_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Checks that the newest embedded migration is recorded as applied.
pub(crate) fn check_migrated(
    migrator: &sqlx::migrate::Migrator,
    applied: Option<i64>,
) -> Result<(), StoreError> {
    let expected = migrator.iter().map(|m| m.version).max();
    match (expected, applied) {
        (Some(e), Some(a)) if a >= e => Ok(()),
        (None, _) => Ok(()),
        (Some(e), a) => Err(StoreError::Migration(format!(
            "latest applied migration is {a:?}, this build needs {e}"
        ))),
    }
}

type RevisionRow = (i64, String, String, String, i64);

pub(crate) fn revision_from_row(
    (id, page_path, title, content_sha256, ms): RevisionRow,
) -> Revision {
    Revision {
        id,
        page_path,
        title,
        content_sha256,
        published_at: from_ms(ms),
    }
}

impl LogStore for Store {
    async fn sequenced_size(&self) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.sequenced_size().await,
            Store::Postgres(s) => s.sequenced_size().await,
        }
    }
    async fn leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>, StoreError> {
        match self {
            Store::Sqlite(s) => s.leaf_hashes(from, to).await,
            Store::Postgres(s) => s.leaf_hashes(from, to).await,
        }
    }
    async fn entries(&self, from: u64, to: u64) -> Result<Vec<SequencedEntry>, StoreError> {
        match self {
            Store::Sqlite(s) => s.entries(from, to).await,
            Store::Postgres(s) => s.entries(from, to).await,
        }
    }
    async fn tree_state(&self) -> Result<Option<TreeState>, StoreError> {
        match self {
            Store::Sqlite(s) => s.tree_state().await,
            Store::Postgres(s) => s.tree_state().await,
        }
    }
    async fn full_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Store::Sqlite(s) => s.full_tile(level, index).await,
            Store::Postgres(s) => s.full_tile(level, index).await,
        }
    }
    async fn integrate(
        &self,
        from_size: u64,
        new: TreeState,
        tiles: &[NewTile],
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(s) => s.integrate(from_size, new, tiles, at).await,
            Store::Postgres(s) => s.integrate(from_size, new, tiles, at).await,
        }
    }
    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.add_checkpoint(checkpoint).await,
            Store::Postgres(s) => s.add_checkpoint(checkpoint).await,
        }
    }
    async fn update_checkpoint_note(
        &self,
        size: u64,
        root: [u8; 32],
        note: &str,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.update_checkpoint_note(size, root, note).await,
            Store::Postgres(s) => s.update_checkpoint_note(size, root, note).await,
        }
    }
    async fn full_tiles(&self, level: u8, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        match self {
            Store::Sqlite(s) => s.full_tiles(level, from, to).await,
            Store::Postgres(s) => s.full_tiles(level, from, to).await,
        }
    }
    async fn begin_archive(&self, archive: &ArchivedLog) -> Result<u64, StoreError> {
        match self {
            Store::Sqlite(s) => s.begin_archive(archive).await,
            Store::Postgres(s) => s.begin_archive(archive).await,
        }
    }
    async fn add_archive_files(
        &self,
        archive_id: u64,
        files: &[(String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.add_archive_files(archive_id, files).await,
            Store::Postgres(s) => s.add_archive_files(archive_id, files).await,
        }
    }
    async fn finish_archive(
        &self,
        archive_id: u64,
        first_entry: &Entry,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(s) => s.finish_archive(archive_id, first_entry, at).await,
            Store::Postgres(s) => s.finish_archive(archive_id, first_entry, at).await,
        }
    }
    async fn archives(&self) -> Result<Vec<ArchivedLog>, StoreError> {
        match self {
            Store::Sqlite(s) => s.archives().await,
            Store::Postgres(s) => s.archives().await,
        }
    }
    async fn archive_file(
        &self,
        archive_id: u64,
        path: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        match self {
            Store::Sqlite(s) => s.archive_file(archive_id, path).await,
            Store::Postgres(s) => s.archive_file(archive_id, path).await,
        }
    }
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        match self {
            Store::Sqlite(s) => s.latest_checkpoint().await,
            Store::Postgres(s) => s.latest_checkpoint().await,
        }
    }
    async fn append_entry(
        &self,
        entry: &Entry,
        at: OffsetDateTime,
        idempotency_key: Option<&str>,
    ) -> Result<(u64, bool), StoreError> {
        match self {
            Store::Sqlite(s) => s.append_entry(entry, at, idempotency_key).await,
            Store::Postgres(s) => s.append_entry(entry, at, idempotency_key).await,
        }
    }
}

/// The log entry for a new content revision.
pub(crate) fn revision_entry(page: &PageDigest, at: OffsetDateTime) -> Result<Entry, StoreError> {
    candor_core::entries::content_revision(&page.page_path, &page.content_sha256, at)
        .map_err(|e| StoreError::Invalid(e.to_string()))
}
