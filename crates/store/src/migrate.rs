//! The schema, as numbered SQL files under `crates/store/migrations/`, run by
//! sqlx's [`Migrator`]. `shared/` holds what runs unchanged on SQLite and
//! PostgreSQL (portable types, times as unix milliseconds, booleans as 0/1,
//! so one SQL implementation serves both); `sqlite/` and `postgres/` hold
//! what only one of them runs. A migration, once released, is never edited
//! (sqlx refuses a database whose applied migration changed): add the next.
//!
//! The files are embedded with `include_str!` rather than `sqlx::migrate!`:
//! that macro needs sqlx's `macros` feature, which builds sqlx's SQLite and
//! PostgreSQL drivers a second time for the compiler.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migrate, Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyConnection, Connection, Row};

use crate::Result;

/// A migration file built into the binary: its name and its text.
struct Embedded {
    file: &'static str,
    sql: &'static str,
}

macro_rules! embed {
    ($dir:literal, $file:literal) => {
        Embedded { file: $file, sql: include_str!(concat!("../migrations/", $dir, "/", $file)) }
    };
}

/// Migrations both databases run, in `migrations/shared/`.
const SHARED: &[Embedded] = &[
    embed!("shared", "0001_accounts_keys_calls_ledger.sql"),
    embed!("shared", "0002_call_media_stats.sql"),
    embed!("shared", "0003_call_turn_stats_and_record.sql"),
];

/// Migrations only SQLite runs, in `migrations/sqlite/`.
const SQLITE_ONLY: &[Embedded] = &[];

/// Migrations only PostgreSQL runs, in `migrations/postgres/`.
const POSTGRES_ONLY: &[Embedded] = &[];

/// The database a store runs on, for the migrations it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn own(self) -> &'static [Embedded] {
        match self {
            Backend::Sqlite => SQLITE_ONLY,
            Backend::Postgres => POSTGRES_ONLY,
        }
    }
}

/// The embedded migrations of one database, for sqlx's migrator.
#[derive(Debug)]
struct EmbeddedSource(Backend);

impl MigrationSource<'static> for EmbeddedSource {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send>> {
        let all = SHARED.iter().chain(self.0.own());
        let migrations: Result<Vec<Migration>, BoxDynError> = all.map(to_migration).collect();
        Box::pin(async move {
            let mut migrations = migrations?;
            migrations.sort_by_key(|m| m.version);
            Ok(migrations)
        })
    }
}

/// Reads a file the way sqlx reads a migrations folder, so the checksums
/// (and `sqlx migrate info` on the folder) agree: `<VERSION>_<DESCRIPTION>.sql`,
/// and `-- no-transaction` first for a statement that cannot run in one.
fn to_migration(e: &Embedded) -> Result<Migration, BoxDynError> {
    let (version, rest) = e.file.split_once('_').ok_or_else(|| format!("migration file {:?} is not <VERSION>_<DESCRIPTION>.sql", e.file))?;
    let version: i64 = version.parse().map_err(|_| format!("migration file {:?} does not start with a version number", e.file))?;
    let description = rest.trim_end_matches(".sql").replace('_', " ");
    let no_tx = e.sql.starts_with("-- no-transaction");
    Ok(Migration::new(version, Cow::Owned(description), MigrationType::Simple, Cow::Borrowed(e.sql), no_tx))
}

/// Brings the schema up to date on one connection: adopts the version table
/// of a database made before sqlx's migrator, then applies what is missing,
/// each migration in its own transaction with its version.
pub(crate) async fn run(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    let migrator = Migrator::new(EmbeddedSource(backend)).await?;
    // Several nodes may start at once on one PostgreSQL: the adoption runs
    // under the migrator's lock too (an advisory lock there, which the same
    // session may take twice; nothing on SQLite).
    conn.lock().await?;
    conn.ensure_migrations_table().await?;
    adopt_old_versions(conn, backend, &migrator).await?;
    let applied: Vec<i64> = conn.list_applied_migrations().await?.iter().map(|m| m.version).collect();
    migrator.run(&mut *conn).await?;
    conn.unlock().await?;
    for m in migrator.iter().filter(|m| !applied.contains(&m.version)) {
        tracing::info!(version = m.version, description = %m.description, "database migrated");
    }
    Ok(())
}

/// Before sqlx's migrator, the store kept the versions it had applied in
/// `schema_migrations` (version, applied_at) and ran the same SQL as the
/// files 1 to 3. Those versions are recorded as applied in sqlx's table, with
/// the files' checksums, so the migrator carries on from there. The old table
/// is left as it was: the previous release can still open the database.
async fn adopt_old_versions(conn: &mut AnyConnection, backend: Backend, migrator: &Migrator) -> Result<()> {
    let has_old_table = match backend {
        Backend::Sqlite => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        Backend::Postgres => "SELECT COUNT(*) AS n FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'",
    };
    let n: i64 = sqlx::query(has_old_table).fetch_one(&mut *conn).await?.try_get("n")?;
    if n == 0 {
        return Ok(());
    }
    let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").fetch_one(&mut *conn).await?;
    let old_version: i64 = row.try_get("v")?;
    let mut tx = conn.begin().await?;
    for m in migrator.iter().filter(|m| m.version <= old_version) {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ($1, $2, TRUE, $3, 0) \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(m.version)
        .bind(m.description.as_ref())
        .bind(m.checksum.as_ref())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in the migrations folders is embedded, and nothing else.
    #[test]
    fn the_embedded_list_is_the_migrations_folder() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        for (dir, embedded) in [("shared", SHARED), ("sqlite", SQLITE_ONLY), ("postgres", POSTGRES_ONLY)] {
            let mut on_disk: Vec<String> = match std::fs::read_dir(root.join(dir)) {
                Ok(entries) => entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(".sql")).collect(),
                Err(_) => Vec::new(),
            };
            on_disk.sort();
            let listed: Vec<&str> = embedded.iter().map(|e| e.file).collect();
            assert_eq!(on_disk, listed, "migrations/{dir}/ and its list in migrate.rs differ");
        }
    }

    /// Each database gets the shared migrations and its own, in version
    /// order with no version twice, named the way sqlx names a folder's.
    #[tokio::test]
    async fn each_database_gets_its_migrations_in_version_order() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let list = EmbeddedSource(backend).resolve().await.unwrap();
            assert_eq!(list.len(), SHARED.len() + backend.own().len());
            assert!(list.windows(2).all(|w| w[0].version < w[1].version), "{backend:?}: versions out of order or repeated");
            assert_eq!((list[1].version, list[1].description.as_ref()), (2, "call media stats"));
        }
    }
}
