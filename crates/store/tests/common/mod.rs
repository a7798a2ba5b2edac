//! What the store's test files share.

use sqlx::{Connection, Executor};

/// A new, empty database on the test PostgreSQL (`WAIHU_TEST_POSTGRES`,
/// default `postgres://postgres@127.0.0.1:5432/test`), as a URL.
pub(crate) async fn fresh_postgres_url() -> String {
    let admin_url = std::env::var("WAIHU_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("waihu_t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("PostgreSQL must be running for the store tests");
    admin.execute(format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
