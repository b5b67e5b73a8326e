//! PostgreSQL backend, for several stateless replicas behind a load balancer.

use std::time::Duration;

use candor_core::config::redact_url;
use sqlx::postgres::{PgPool, PgPoolOptions};
use time::OffsetDateTime;

use crate::{
    ContentRevisions, Health, PageDigest, Revision, RevisionRow, StoreError, check_migrated,
    revision_from_row, to_ms,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

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
                    sqlx::query_as(
                        "INSERT INTO content_revisions (page_path, title, content_sha256, published_at_ms) VALUES ($1, $2, $3, $4)
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
