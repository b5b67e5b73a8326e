//! Shared test helpers: a clock the test moves, SQLite and PostgreSQL stores, config parsing.

use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use candor_core::Clock;
use candor_core::config::{Database, Overrides, Settings, resolve};
use candor_store::Store;
use time::OffsetDateTime;
use time::macros::datetime;

pub const T0: OffsetDateTime = datetime!(2026-11-02 09:00:00 UTC);

/// A clock that only moves when the test says so.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn at(t: OffsetDateTime) -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(t)))
    }
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// `candor.toml` with a `[site]` and the given extra text, resolved against `dir`.
pub fn settings(dir: &Path, extra: &str) -> Settings {
    let text = format!("version = 1\n[site]\nname = \"Acme Trust\"\n{extra}");
    resolve(&dir.join("candor.toml"), &text, &Overrides::default())
        .unwrap_or_else(|e| panic!("config does not resolve: {e}"))
}

pub async fn sqlite_store(dir: &Path) -> Store {
    Store::open(&Database::Sqlite(dir.join("candor.db")))
        .await
        .unwrap()
}

/// The PostgreSQL admin URL if the server answers. Unreachable: a loud NOTE and `None`, or a
/// failure when `CANDOR_REQUIRE_POSTGRES` is set.
pub async fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("CANDOR_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let required = std::env::var_os("CANDOR_REQUIRE_POSTGRES").is_some_and(|v| !v.is_empty());
    let reachable = tokio::time::timeout(Duration::from_secs(5), sqlx::PgPool::connect(&url)).await;
    match reachable {
        Ok(Ok(pool)) => {
            pool.close().await;
            Some(url)
        }
        other => {
            let why = match other {
                Ok(Err(e)) => e.to_string(),
                _ => "timed out".into(),
            };
            assert!(
                !required,
                "CANDOR_REQUIRE_POSTGRES is set but PostgreSQL at {url} is unreachable: {why}"
            );
            let _ = writeln!(
                std::io::stderr(),
                "NOTE: the PostgreSQL part of the mail outbox tests did NOT run: {url} is unreachable ({why}). Set CANDOR_TEST_POSTGRES_URL, or CANDOR_REQUIRE_POSTGRES=1 to fail instead."
            );
            None
        }
    }
}

/// A fresh PostgreSQL database for one test, dropped with the guard.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> Option<PgDatabase> {
        let admin_url = postgres_admin_url().await?;
        let name = format!("candor_mail_test_{}_{}", std::process::id(), unique());
        let pool = sqlx::PgPool::connect(&admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let base = admin_url.rsplit_once('/').unwrap().0.to_owned();
        Some(PgDatabase {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }

    pub async fn store(&self) -> Store {
        Store::open(&Database::Postgres(candor_core::config::SecretString::new(
            self.url.clone(),
        )))
        .await
        .unwrap()
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        // Drop is synchronous: a runtime of its own, on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(pool) = sqlx::PgPool::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&pool)
                    .await;
                    pool.close().await;
                }
            });
        })
        .join();
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    u64::from(nanos) * 1000 + NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Captures `tracing` output of the current thread, for tests that check what is logged.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
    /// Installs the capture for this thread until the guard drops.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An outbox for `settings` whose worker is not running: the test drives it with
/// `deliver_due` and moves the clock itself.
pub fn outbox(
    store: Store,
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> candor_mail::Outbox<Store> {
    candor_mail::Outbox::new(
        store,
        candor_mail::Transport::from_settings(&settings.mail).unwrap(),
        candor_mail::Composer::new(&settings.mail.from).unwrap(),
        clock,
        candor_mail::OutboxOptions::default(),
    )
}

/// `[mail]` for a relay on loopback, trusting the test CA written into `dir`.
pub fn smtp_settings(dir: &Path, url: &str, extra: &str) -> Settings {
    settings(
        dir,
        &format!(
            "[mail]\nfrom = \"Acme Trust <trust@acme.example>\"\nsmtp_url = \"{url}\"\nsmtp_ca_file = \"test-ca.pem\"\nsmtp_timeout_secs = 10\n{extra}"
        ),
    )
}
