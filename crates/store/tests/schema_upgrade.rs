//! Databases made before sqlx's migrator open with this store and keep
//! their data; fresh databases get the same schema from the migrator.
//!
//! The old way is written out here as the store ran it (its statements, its
//! `schema_migrations` table and version rows), frozen: it is what released
//! builds left on disk.

mod common;

use sqlx::{AnyConnection, Connection, Executor, Row};
use waihu_core::{CallStatus, EndReason, Fen, HangupSide, Outcome, Role};
use waihu_store::*;

/// The old runner's migrations; version N is `OLD_MIGRATIONS[N - 1]`.
const OLD_MIGRATIONS: &[&[&str]] = &[OLD_V1, OLD_V2, OLD_V3];

/// Version 3: the voice pipeline's per-turn latency split (JSON array), and
/// whether the call asked to be recorded (NULL: the server's default).
const OLD_V3: &[&str] = &["ALTER TABLE calls ADD COLUMN turn_stats TEXT", "ALTER TABLE calls ADD COLUMN record INTEGER"];

/// Version 2: the carrier's media counters (JSON) on the call record.
const OLD_V2: &[&str] = &["ALTER TABLE calls ADD COLUMN media_stats TEXT"];

/// Version 1: accounts, keys, calls, transcript, ledger, idempotency.
const OLD_V1: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS accounts (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        balance_fen BIGINT NOT NULL,
        reserved_fen BIGINT NOT NULL DEFAULT 0,
        max_concurrent BIGINT,
        created_at BIGINT NOT NULL,
        CHECK (reserved_fen >= 0),
        CHECK (balance_fen >= 0)
    )",
    "CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        prefix TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT
    )",
    "CREATE TABLE IF NOT EXISTS calls (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        phone TEXT NOT NULL,
        requirement TEXT NOT NULL,
        status TEXT NOT NULL,
        model_engine TEXT NOT NULL,
        voice_id TEXT NOT NULL,
        volume BIGINT,
        speed BIGINT,
        emotion TEXT,
        campaign TEXT,
        client_platform TEXT,
        client_version TEXT,
        reserved_fen BIGINT NOT NULL,
        rate_fen BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        dialed_at BIGINT,
        answered_at BIGINT,
        ended_at BIGINT,
        last_activity_at BIGINT,
        duration_seconds BIGINT,
        cost_fen BIGINT NOT NULL DEFAULT 0,
        billed BIGINT NOT NULL DEFAULT 0,
        hangup_by TEXT,
        end_reason TEXT,
        outcome TEXT,
        provider_response TEXT
    )",
    "CREATE INDEX IF NOT EXISTS calls_by_account ON calls (account_id, created_at)",
    "CREATE INDEX IF NOT EXISTS calls_by_status ON calls (status, created_at)",
    "CREATE TABLE IF NOT EXISTS transcript_lines (
        call_id TEXT NOT NULL REFERENCES calls(id),
        seq BIGINT NOT NULL,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        at BIGINT NOT NULL,
        PRIMARY KEY (call_id, seq)
    )",
    "CREATE TABLE IF NOT EXISTS ledger (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL REFERENCES accounts(id),
        call_id TEXT,
        kind TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        balance_after_fen BIGINT NOT NULL,
        note TEXT,
        created_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS ledger_by_account ON ledger (account_id, created_at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ledger_one_charge_per_call ON ledger (call_id) WHERE kind = 'call'",
    "CREATE TABLE IF NOT EXISTS idempotency_keys (
        account_id TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (account_id, idem_key)
    )",
];

const KEY: &str = "sk_0123456789abcdefghijABCDEFGHIJ0123456789";

/// Where a test's database lives, raw.
enum Db {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Db {
    async fn new(postgres: bool) -> Db {
        if postgres {
            Db::Postgres(common::fresh_postgres_url().await)
        } else {
            Db::Sqlite(tempfile::tempdir().unwrap())
        }
    }

    fn url(&self) -> String {
        match self {
            Db::Sqlite(dir) => format!("sqlite://{}", dir.path().join("waihu.db").display()),
            Db::Postgres(url) => url.clone(),
        }
    }

    async fn raw(&self) -> AnyConnection {
        sqlx::any::install_default_drivers();
        let url = match self {
            Db::Sqlite(_) => format!("{}?mode=rwc", self.url()),
            Db::Postgres(url) => url.clone(),
        };
        AnyConnection::connect(&url).await.unwrap()
    }

    /// Table columns and index definitions, apart from the version tables.
    async fn schema(&self) -> Vec<String> {
        let (columns, indexes) = match self {
            Db::Sqlite(_) => (
                "SELECT m.name || '.' || p.name || ' ' || p.type || ' notnull=' || p.\"notnull\" || ' default=' || COALESCE(p.dflt_value, '') || ' pk=' || p.pk AS d \
                 FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT IN ('schema_migrations', '_sqlx_migrations') \
                 ORDER BY m.name, p.cid",
                "SELECT name || ': ' || COALESCE(sql, '(implicit)') AS d FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name NOT IN ('schema_migrations', '_sqlx_migrations') ORDER BY name",
            ),
            Db::Postgres(_) => (
                "SELECT table_name || '.' || column_name || ' ' || data_type || ' nullable=' || is_nullable || ' default=' || COALESCE(column_default, '') AS d \
                 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT IN ('schema_migrations', '_sqlx_migrations') \
                 ORDER BY table_name, ordinal_position",
                "SELECT indexname || ': ' || indexdef AS d FROM pg_indexes WHERE schemaname = current_schema() \
                 AND tablename NOT IN ('schema_migrations', '_sqlx_migrations') ORDER BY indexname",
            ),
        };
        let mut conn = self.raw().await;
        let mut out = Vec::new();
        for sql in [columns, indexes] {
            for row in sqlx::query(sql).fetch_all(&mut conn).await.unwrap() {
                out.push(row.get::<String, _>("d"));
            }
        }
        out
    }

    /// The versions sqlx's migrator has recorded as applied.
    async fn sqlx_versions(&self) -> Vec<i64> {
        let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version").fetch_all(&mut self.raw().await).await.unwrap();
        rows.iter().map(|r| r.get("version")).collect()
    }
}

/// What the store before sqlx's migrator did to a database, up to `version`.
async fn migrate_the_old_way(conn: &mut AnyConnection, version: usize) {
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)").await.unwrap();
    for (i, statements) in OLD_MIGRATIONS[..version].iter().enumerate() {
        let mut tx = conn.begin().await.unwrap();
        for stmt in *statements {
            tx.execute(*stmt).await.unwrap();
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)").bind(i as i64 + 1).bind(1_700_000_000_000_i64).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
}

/// An account with a key, a finished call with its transcript and charge, a
/// queued call, and the ledger, written as the old store wrote them (the
/// columns of version 1, which every old version has).
async fn fill_the_old_way(conn: &mut AnyConnection) {
    let statements = [
        "INSERT INTO accounts (id, name, balance_fen, reserved_fen, created_at) VALUES ('a1', 'acme', 940, 30, 1000)".to_owned(),
        format!("INSERT INTO api_keys (id, account_id, prefix, key_hash, created_at) VALUES ('k1', 'a1', '{}', '{}', 1001)", &KEY[..12], hash_api_key(KEY)),
        "INSERT INTO calls (id, account_id, phone, requirement, status, model_engine, voice_id, campaign, reserved_fen, rate_fen, created_at, \
         dialed_at, answered_at, ended_at, last_activity_at, duration_seconds, cost_fen, billed, hangup_by, end_reason, outcome, provider_response) \
         VALUES ('c1', 'a1', '13800138000', '通知张总明天上午9点开会', 'completed', 'offline', 'zh-female-1', 'spring', 0, 30, 2000, \
         2100, 5000, 66000, 65000, 61, 60, 1, 'callee', 'callee_hangup', 'delivered', 'BYE')"
            .to_owned(),
        "INSERT INTO calls (id, account_id, phone, requirement, status, model_engine, voice_id, reserved_fen, rate_fen, created_at) \
         VALUES ('c2', 'a1', '13900139000', '通知李总', 'queued', 'offline', 'zh-female-1', 30, 30, 3000)"
            .to_owned(),
        "INSERT INTO transcript_lines (call_id, seq, role, content, at) VALUES ('c1', 1, 'assistant', '喂，您好，请问是张总吗？', 5100)".to_owned(),
        "INSERT INTO transcript_lines (call_id, seq, role, content, at) VALUES ('c1', 2, 'user', '对，是我。', 6000)".to_owned(),
        "INSERT INTO ledger (id, account_id, call_id, kind, amount_fen, balance_after_fen, note, created_at) VALUES ('l1', 'a1', NULL, 'credit', 1000, 1000, 'opening credit', 1000)".to_owned(),
        "INSERT INTO ledger (id, account_id, call_id, kind, amount_fen, balance_after_fen, note, created_at) VALUES ('l2', 'a1', 'c1', 'call', -60, 940, '2 min at 0.30/min', 66000)".to_owned(),
        "INSERT INTO idempotency_keys (account_id, idem_key, request_hash, response, created_at) VALUES ('a1', 'key-12345', 'h1', '{\"success\":true}', 2000)".to_owned(),
    ];
    for sql in statements {
        conn.execute(sql.as_str()).await.unwrap();
    }
}

/// Everything `fill_the_old_way` wrote, read through the store.
async fn the_old_data_is_intact(s: &SqlStore) {
    let a = s.account_by_name("acme").await.unwrap().expect("the account");
    assert_eq!((a.id.as_str(), a.balance, a.reserved), ("a1", Fen(940), Fen(30)));
    assert_eq!(s.authenticate(KEY).await.unwrap().map(|a| a.id), Some("a1".to_owned()), "the old key still works");
    let c1 = s.call("c1", Some("a1")).await.unwrap().expect("the finished call");
    assert_eq!((c1.status, c1.cost, c1.billed, c1.duration_seconds), (CallStatus::Completed, Fen(60), true, Some(61)));
    assert_eq!((c1.hangup_by, c1.end_reason, c1.outcome), (Some(HangupSide::Callee), Some(EndReason::CalleeHangup), Some(Outcome::Delivered)));
    assert_eq!((c1.order.requirement.as_str(), c1.order.campaign.as_deref(), c1.provider_response.as_deref()), ("通知张总明天上午9点开会", Some("spring"), Some("BYE")));
    let lines = s.transcript("c1").await.unwrap();
    assert_eq!(lines.iter().map(|l| (l.seq, l.role, l.content.as_str())).collect::<Vec<_>>(), [(1, Role::Assistant, "喂，您好，请问是张总吗？"), (2, Role::User, "对，是我。")]);
    let ledger = s.ledger("a1").await.unwrap();
    assert_eq!(ledger.iter().map(|e| (e.kind.as_str(), e.amount, e.balance_after)).collect::<Vec<_>>(), [("credit", Fen(1000), Fen(1000)), ("call", Fen(-60), Fen(940))]);
    assert_eq!(s.queued_calls(10, &[]).await.unwrap().iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c2"]);
    assert_eq!(s.balance("a1").await.unwrap(), Balance { balance: Fen(940), reserved: Fen(30) });
}

/// The columns later versions added are there and work: the queued call
/// ends with media and turn stats.
async fn the_new_columns_work(s: &SqlStore) {
    s.set_status("c2", CallStatus::InProgress, 70_000).await.unwrap();
    let fin = FinishCall {
        call_id: "c2".into(),
        status: CallStatus::Completed,
        reason: EndReason::CalleeHangup,
        side: HangupSide::Callee,
        outcome: Some(Outcome::Delivered),
        connected_ms: 10_000,
        provider_response: None,
        media_stats: Some(r#"{"packets_received":10}"#.into()),
        turn_stats: Some(r#"[{"total_ms":612.5}]"#.into()),
        now_ms: 80_000,
    };
    s.finish_call(&fin).await.unwrap();
    let c2 = s.call("c2", None).await.unwrap().unwrap();
    assert_eq!((c2.cost, c2.media_stats.as_deref(), c2.turn_stats.as_deref(), c2.order.record), (Fen(30), fin.media_stats.as_deref(), fin.turn_stats.as_deref(), None));
    assert_eq!(s.balance("a1").await.unwrap(), Balance { balance: Fen(910), reserved: Fen(0) });
}

async fn an_old_database_opens_and_keeps_its_data(postgres: bool, old_version: usize) {
    let db = Db::new(postgres).await;
    let mut raw = db.raw().await;
    migrate_the_old_way(&mut raw, old_version).await;
    fill_the_old_way(&mut raw).await;
    raw.close().await.unwrap();

    let s = SqlStore::connect(&db.url()).await.unwrap();
    the_old_data_is_intact(&s).await;
    the_new_columns_work(&s).await;
    drop(s);
    assert_eq!(db.sqlx_versions().await, [1, 2, 3]);
    let old_rows = sqlx::query("SELECT COUNT(*) AS n FROM schema_migrations").fetch_one(&mut db.raw().await).await.unwrap();
    assert_eq!(old_rows.get::<i64, _>("n"), old_version as i64, "the old version table is left as it was");

    // Opening again applies nothing and finds the same data.
    let s = SqlStore::connect(&db.url()).await.unwrap();
    assert_eq!(s.transcript("c1").await.unwrap().len(), 2);
    assert_eq!(db.sqlx_versions().await, [1, 2, 3]);

    // The schema is the one a fresh database gets.
    let fresh = Db::new(postgres).await;
    SqlStore::connect(&fresh.url()).await.unwrap();
    assert_eq!(db.schema().await, fresh.schema().await);
}

async fn a_fresh_database_gets_the_old_schema_from_the_migrator(postgres: bool) {
    let fresh = Db::new(postgres).await;
    let s = SqlStore::connect(&fresh.url()).await.unwrap();
    assert_eq!(fresh.sqlx_versions().await, [1, 2, 3]);
    let a = s.create_account("acme", Fen(100), 1).await.unwrap();
    drop(s);
    let s = SqlStore::connect(&fresh.url()).await.unwrap();
    assert_eq!(s.account_by_name("acme").await.unwrap().map(|x| x.id), Some(a.id), "reopened, nothing re-applied");

    let old = Db::new(postgres).await;
    migrate_the_old_way(&mut old.raw().await, OLD_MIGRATIONS.len()).await;
    assert_eq!(fresh.schema().await, old.schema().await);
    assert!(fresh.schema().await.iter().any(|d| d.contains("ledger_one_charge_per_call")), "the schema query sees indexes");
}

async fn a_changed_migration_is_refused(postgres: bool) {
    let db = Db::new(postgres).await;
    SqlStore::connect(&db.url()).await.unwrap();
    sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = 2").bind(vec![0_u8; 48]).execute(&mut db.raw().await).await.unwrap();
    match SqlStore::connect(&db.url()).await {
        Err(e @ StoreError::Migrate(_)) => assert!(e.to_string().contains("migration 2"), "{e}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a database whose migration 2 differs from this build's opened"),
    }
}

async fn a_database_from_a_newer_build_is_refused_with_a_hint(postgres: bool) {
    let db = Db::new(postgres).await;
    SqlStore::connect(&db.url()).await.unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99, 'from the future', TRUE, $1, 0)")
        .bind(vec![0_u8; 48])
        .execute(&mut db.raw().await)
        .await
        .unwrap();
    match SqlStore::connect(&db.url()).await {
        Err(e @ StoreError::SchemaTooNew(99)) => assert!(e.to_string().contains("a newer waihu"), "{e}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a database with an unknown migration opened"),
    }
}

macro_rules! both {
    ($($name:ident ( $($arg:expr),* )),* $(,)?) => {
        mod on_sqlite { $( #[tokio::test] async fn $name() { super::$name(false $(, $arg)*).await; } )* }
        mod on_postgres { $( #[tokio::test] async fn $name() { super::$name(true $(, $arg)*).await; } )* }
    };
}

both!(
    an_old_database_opens_and_keeps_its_data(3),
    a_fresh_database_gets_the_old_schema_from_the_migrator(),
    a_changed_migration_is_refused(),
    a_database_from_a_newer_build_is_refused_with_a_hint(),
);

mod from_an_older_version {
    #[tokio::test]
    async fn version_1_on_sqlite_gets_2_and_3_from_the_migrator() {
        super::an_old_database_opens_and_keeps_its_data(false, 1).await;
    }

    #[tokio::test]
    async fn version_2_on_postgres_gets_3_from_the_migrator() {
        super::an_old_database_opens_and_keeps_its_data(true, 2).await;
    }
}
