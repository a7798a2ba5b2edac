//! Opening the database: the pool, SQLite's settings, the schema's
//! migrations, and the write lock SQLite needs.
//!
//! SQLite allows one writer at a time and fails a deferred transaction that
//! later wants to write while another wrote (`SQLITE_BUSY`), so on SQLite
//! every write transaction takes `write_lock` first; PostgreSQL relies on
//! row locks and conditional updates instead.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};
use tokio::sync::{Mutex, MutexGuard};

use crate::migrate::{self, Backend};
use crate::{Result, StoreError};

/// The SQL store. Cheap to clone.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) pool: AnyPool,
    backend: Backend,
    write_lock: Arc<Mutex<()>>,
}

impl SqlStore {
    /// Opens (and creates) the database at `url`: `sqlite://path/to/file.db`
    /// or `postgres://user@host/db`, and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if !sqlite && !url.starts_with("postgres:") && !url.starts_with("postgresql:") {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        }
        let url = if sqlite && !url.contains('?') { format!("{url}?mode=rwc") } else { url.to_owned() };
        let opts = AnyPoolOptions::new()
            .max_connections(if sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        // WAL lets readers (SSE replays, lookups) run beside the writer;
                        // NORMAL sync in WAL mode survives a process crash.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            });
        let pool = opts.connect(&url).await?;
        // Nothing else holds the pool yet, so the migrations need no write lock.
        let backend = if sqlite { Backend::Sqlite } else { Backend::Postgres };
        migrate::run(&mut *pool.acquire().await?, backend).await?;
        Ok(SqlStore { pool, backend, write_lock: Default::default() })
    }

    /// Opens the SQLite database in a data directory.
    pub async fn open_data_dir(dir: &std::path::Path) -> Result<Self> {
        Self::connect(&format!("sqlite://{}", dir.join("waihu.db").display())).await
    }

    /// The connection pool, for raw SQL (tests, maintenance).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Taken by every write transaction on SQLite (see the module docs).
    pub(super) async fn lock(&self) -> Option<MutexGuard<'_, ()>> {
        if self.backend == Backend::Sqlite {
            Some(self.write_lock.lock().await)
        } else {
            None
        }
    }
}

/// A fresh row id.
pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
