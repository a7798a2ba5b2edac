//! [`Store`] on SQLite or PostgreSQL through `sqlx::Any`.
//!
//! Placeholders are `$1..$n` in order of first use, which both databases
//! read the same way. SQLite allows one writer at a time and fails a
//! deferred transaction that later wants to write while another wrote
//! (`SQLITE_BUSY`), so on SQLite every write transaction takes
//! `write_lock` first; PostgreSQL relies on row locks and conditional
//! updates instead.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};
use subtle::ConstantTimeEq;
use tokio::sync::{Mutex, MutexGuard};
use waihu_core::{CallStatus, EndReason, Fen, HangupSide, Outcome, Role, Tariff, Utterance};

use crate::keys::{generate_api_key, hash_api_key};
use crate::model::*;
use crate::schema::MIGRATIONS;
use crate::{Result, Store, StoreError};

/// The SQL store. Cheap to clone.
#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    sqlite: bool,
    write_lock: std::sync::Arc<Mutex<()>>,
}

const CALL_COLUMNS: &str = "id, account_id, phone, requirement, status, model_engine, voice_id, volume, speed, emotion, \
    campaign, reserved_fen, rate_fen, created_at, dialed_at, answered_at, ended_at, duration_seconds, cost_fen, billed, \
    hangup_by, end_reason, outcome, provider_response, media_stats, turn_stats, record";

impl SqlStore {
    /// Opens (and creates) the database at `url`: `sqlite://path/to/file.db`
    /// or `postgres://user@host/db`.
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
        let store = SqlStore { pool, sqlite, write_lock: Default::default() };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations this database has not seen, each in its own
    /// transaction with its version number, so a crash mid-way redoes only
    /// the unfinished one.
    async fn migrate(&self) -> Result<()> {
        let _g = self.lock().await;
        self.pool.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)").await?;
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").fetch_one(&self.pool).await?;
        let current: i64 = row.try_get("v")?;
        for (i, statements) in MIGRATIONS.iter().enumerate() {
            let version = i as i64 + 1;
            if version <= current {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            for stmt in *statements {
                tx.execute(*stmt).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            tracing::info!(version, "database migrated");
        }
        Ok(())
    }

    /// Opens the SQLite database in a data directory.
    pub async fn open_data_dir(dir: &std::path::Path) -> Result<Self> {
        Self::connect(&format!("sqlite://{}", dir.join("waihu.db").display())).await
    }

    /// Removes every row (tests on a shared PostgreSQL use their own schema instead).
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    async fn lock(&self) -> Option<MutexGuard<'_, ()>> {
        if self.sqlite {
            Some(self.write_lock.lock().await)
        } else {
            None
        }
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn parse<T>(v: Option<String>, f: impl Fn(&str) -> Option<T>, what: &str) -> Result<Option<T>> {
    match v {
        None => Ok(None),
        Some(s) => f(&s).map(Some).ok_or_else(|| StoreError::Corrupt(format!("{what} {s:?}"))),
    }
}

fn account_from(row: &AnyRow) -> Result<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        balance: Fen(row.try_get("balance_fen")?),
        reserved: Fen(row.try_get("reserved_fen")?),
        max_concurrent: row.try_get::<Option<i64>, _>("max_concurrent")?.map(|v| v as u32),
    })
}

fn call_from(row: &AnyRow) -> Result<CallRow> {
    let status: String = row.try_get("status")?;
    Ok(CallRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        phone: row.try_get("phone")?,
        requirement: row.try_get("requirement")?,
        status: CallStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
        model_engine: row.try_get("model_engine")?,
        voice_id: row.try_get("voice_id")?,
        volume: row.try_get("volume")?,
        speed: row.try_get("speed")?,
        emotion: row.try_get("emotion")?,
        record: row.try_get::<Option<i64>, _>("record")?.map(|r| r != 0),
        campaign: row.try_get("campaign")?,
        reserved: Fen(row.try_get("reserved_fen")?),
        rate: Fen(row.try_get("rate_fen")?),
        created_at: row.try_get("created_at")?,
        dialed_at: row.try_get("dialed_at")?,
        answered_at: row.try_get("answered_at")?,
        ended_at: row.try_get("ended_at")?,
        duration_seconds: row.try_get("duration_seconds")?,
        cost: Fen(row.try_get("cost_fen")?),
        billed: row.try_get::<i64, _>("billed")? != 0,
        hangup_by: parse(row.try_get("hangup_by")?, HangupSide::parse, "hangup_by")?,
        end_reason: parse(row.try_get("end_reason")?, EndReason::parse, "end_reason")?,
        outcome: parse(row.try_get("outcome")?, Outcome::parse, "outcome")?,
        provider_response: row.try_get("provider_response")?,
        media_stats: row.try_get("media_stats")?,
        turn_stats: row.try_get("turn_stats")?,
    })
}

#[async_trait]
impl Store for SqlStore {
    async fn create_account(&self, name: &str, credit: Fen, now_ms: i64) -> Result<Account> {
        let _g = self.lock().await;
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT id FROM accounts WHERE name = $1").bind(name).fetch_optional(&mut *tx).await?;
        if exists.is_some() {
            tx.rollback().await?;
            return Err(StoreError::AccountExists(name.to_owned()));
        }
        let id = new_id();
        sqlx::query("INSERT INTO accounts (id, name, balance_fen, reserved_fen, created_at) VALUES ($1, $2, $3, 0, $4)")
            .bind(&id)
            .bind(name)
            .bind(credit.0)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        if credit.0 > 0 {
            insert_ledger(&mut tx, &id, None, "credit", credit, credit, Some("opening credit"), now_ms).await?;
        }
        tx.commit().await?;
        Ok(Account { id, name: name.to_owned(), balance: credit, reserved: Fen(0), max_concurrent: None })
    }

    async fn account_by_name(&self, name: &str) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn account(&self, id: &str) -> Result<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(account_from).transpose()
    }

    async fn list_accounts(&self) -> Result<Vec<AccountSummary>> {
        let rows = sqlx::query(
            "SELECT a.*, \
             (SELECT COUNT(*) FROM api_keys k WHERE k.account_id = a.id AND k.revoked_at IS NULL) AS active_keys, \
             (SELECT COUNT(*) FROM calls c WHERE c.account_id = a.id) AS call_count \
             FROM accounts a ORDER BY a.created_at, a.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(AccountSummary { account: account_from(r)?, active_keys: r.try_get("active_keys")?, calls: r.try_get("call_count")? }))
            .collect()
    }

    async fn top_up(&self, account_id: &str, amount: Fen, note: &str, now_ms: i64) -> Result<Fen> {
        let _g = self.lock().await;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("UPDATE accounts SET balance_fen = balance_fen + $1 WHERE id = $2 RETURNING balance_fen")
            .bind(amount.0)
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NoSuchAccount(account_id.to_owned()))?;
        let after = Fen(row.try_get("balance_fen")?);
        insert_ledger(&mut tx, account_id, None, "top_up", amount, after, Some(note), now_ms).await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn create_key(&self, account_id: &str, now_ms: i64) -> Result<String> {
        let key = generate_api_key();
        sqlx::query("INSERT INTO api_keys (id, account_id, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(new_id())
            .bind(account_id)
            .bind(&key[..12])
            .bind(hash_api_key(&key))
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(key)
    }

    async fn revoke_keys(&self, prefix: &str, now_ms: i64) -> Result<u64> {
        if prefix.len() < 8 {
            return Ok(0);
        }
        // The stored prefix is the key's first 12 characters. Matching is done
        // here rather than in SQL: LIKE would read `_` in `sk_` as a wildcard.
        let n = prefix.len().min(12);
        let rows = sqlx::query("SELECT id, prefix FROM api_keys WHERE revoked_at IS NULL").fetch_all(&self.pool).await?;
        let mut revoked = 0;
        for r in rows {
            let stored: String = r.try_get("prefix")?;
            if stored.get(..n) == prefix.get(..n) {
                let id: String = r.try_get("id")?;
                sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2").bind(now_ms).bind(&id).execute(&self.pool).await?;
                revoked += 1;
            }
        }
        Ok(revoked)
    }

    async fn authenticate(&self, api_key: &str) -> Result<Option<Account>> {
        let hash = hash_api_key(api_key);
        let row = sqlx::query(
            "SELECT a.*, k.key_hash FROM api_keys k JOIN accounts a ON a.id = k.account_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        // The lookup is by hash; compare again in constant time so that no
        // timing difference depends on how much of the hash matched.
        let stored: String = row.try_get("key_hash")?;
        if !bool::from(stored.as_bytes().ct_eq(hash.as_bytes())) {
            return Ok(None);
        }
        account_from(&row).map(Some)
    }

    async fn create_calls(&self, req: CreateCalls) -> Result<CreateOutcome> {
        let _g = self.lock().await;
        let mut tx = self.pool.begin().await?;
        if let Some((key, hash)) = &req.idempotency {
            let claimed = sqlx::query(
                "INSERT INTO idempotency_keys (account_id, idem_key, request_hash, response, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (account_id, idem_key) DO NOTHING",
            )
            .bind(&req.account_id)
            .bind(key)
            .bind(hash)
            .bind(&req.response)
            .bind(req.now_ms)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() == 0 {
                let row = sqlx::query("SELECT request_hash, response FROM idempotency_keys WHERE account_id = $1 AND idem_key = $2")
                    .bind(&req.account_id)
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?;
                let stored_hash: String = row.try_get("request_hash")?;
                let response: String = row.try_get("response")?;
                // Roll back before the write lock goes: a transaction only
                // dropped is rolled back later, and SQLite's next writer
                // would find the database locked.
                tx.rollback().await?;
                if &stored_hash != hash {
                    return Err(StoreError::IdempotencyMismatch(key.clone()));
                }
                return Ok(CreateOutcome::Replayed(response));
            }
        }
        let needed = Fen(req.rate.0 * req.calls.len() as i64);
        let reserved = sqlx::query(
            "UPDATE accounts SET reserved_fen = reserved_fen + $1 WHERE id = $2 AND balance_fen - reserved_fen >= $1 RETURNING reserved_fen",
        )
        .bind(needed.0)
        .bind(&req.account_id)
        .fetch_optional(&mut *tx)
        .await?;
        if reserved.is_none() {
            let b = sqlx::query("SELECT balance_fen, reserved_fen FROM accounts WHERE id = $1").bind(&req.account_id).fetch_one(&mut *tx).await?;
            let available = Fen(b.try_get::<i64, _>("balance_fen")? - b.try_get::<i64, _>("reserved_fen")?);
            tx.rollback().await?;
            return Err(StoreError::InsufficientBalance { available, needed });
        }
        for call in &req.calls {
            sqlx::query(
                "INSERT INTO calls (id, account_id, phone, requirement, status, model_engine, voice_id, volume, speed, emotion, \
                 campaign, client_platform, client_version, reserved_fen, rate_fen, created_at, record) \
                 VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            )
            .bind(&call.id)
            .bind(&req.account_id)
            .bind(call.phone.as_str())
            .bind(&req.requirement)
            .bind(&req.model_engine)
            .bind(&req.voice_id)
            .bind(req.volume)
            .bind(req.speed)
            .bind(&req.emotion)
            .bind(&req.campaign)
            .bind(&req.client_platform)
            .bind(&req.client_version)
            .bind(req.rate.0)
            .bind(req.rate.0)
            .bind(req.now_ms)
            .bind(req.record.map(i64::from))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(CreateOutcome::Created)
    }

    async fn call(&self, call_id: &str, account_id: Option<&str>) -> Result<Option<CallRow>> {
        let row = match account_id {
            Some(a) => sqlx::query(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1 AND account_id = $2"))
                .bind(call_id)
                .bind(a)
                .fetch_optional(&self.pool)
                .await?,
            None => sqlx::query(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1")).bind(call_id).fetch_optional(&self.pool).await?,
        };
        row.as_ref().map(call_from).transpose()
    }

    async fn list_calls(&self, account_id: &str, f: &CallFilter) -> Result<Vec<CallRow>> {
        let mut sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE account_id = $1");
        let mut n = 1;
        let mut next = || {
            n += 1;
            n
        };
        if f.status.is_some() {
            sql += &format!(" AND status = ${}", next());
        }
        if f.since_ms.is_some() {
            sql += &format!(" AND created_at >= ${}", next());
        }
        if f.until_ms.is_some() {
            sql += &format!(" AND created_at < ${}", next());
        }
        if f.before.is_some() {
            let (a, b) = (next(), next());
            sql += &format!(" AND (created_at < ${a} OR (created_at = ${a} AND id < ${b}))");
        }
        sql += &format!(" ORDER BY created_at DESC, id DESC LIMIT ${}", next());
        let mut q = sqlx::query(&sql).bind(account_id);
        if let Some(s) = f.status {
            q = q.bind(s.as_str());
        }
        if let Some(v) = f.since_ms {
            q = q.bind(v);
        }
        if let Some(v) = f.until_ms {
            q = q.bind(v);
        }
        if let Some((at, id)) = &f.before {
            q = q.bind(*at).bind(id.clone());
        }
        let rows = q.bind(i64::from(f.limit)).fetch_all(&self.pool).await?;
        rows.iter().map(call_from).collect()
    }

    async fn transcript(&self, call_id: &str) -> Result<Vec<Line>> {
        let rows = sqlx::query("SELECT seq, role, content, at FROM transcript_lines WHERE call_id = $1 ORDER BY seq")
            .bind(call_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(Line {
                    seq: r.try_get::<i64, _>("seq")? as u32,
                    role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role:?}")))?,
                    content: r.try_get("content")?,
                    at_ms: r.try_get("at")?,
                })
            })
            .collect()
    }

    async fn append_line(&self, call_id: &str, seq: u32, line: &Utterance, now_ms: i64) -> Result<()> {
        let _g = self.lock().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO transcript_lines (call_id, seq, role, content, at) VALUES ($1, $2, $3, $4, $5)")
            .bind(call_id)
            .bind(i64::from(seq))
            .bind(line.role.as_str())
            .bind(&line.content)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        // The last moment the call was known alive: what a restart bills up to.
        sqlx::query("UPDATE calls SET last_activity_at = $1 WHERE id = $2").bind(now_ms).bind(call_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_status(&self, call_id: &str, status: CallStatus, now_ms: i64) -> Result<bool> {
        let column = match status {
            CallStatus::Dialing => Some("dialed_at"),
            CallStatus::InProgress => Some("answered_at"),
            _ => None,
        };
        let sql = match column {
            Some(c) => format!("UPDATE calls SET status = $1, {c} = $2, last_activity_at = $2 WHERE id = $3 AND ended_at IS NULL"),
            None => "UPDATE calls SET status = $1, last_activity_at = $2 WHERE id = $3 AND ended_at IS NULL".to_owned(),
        };
        let _g = self.lock().await;
        let done = sqlx::query(&sql).bind(status.as_str()).bind(now_ms).bind(call_id).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn reserve_minute(&self, call_id: &str, now_ms: i64) -> Result<bool> {
        let _g = self.lock().await;
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query("SELECT account_id, rate_fen FROM calls WHERE id = $1 AND ended_at IS NULL")
            .bind(call_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(false);
        };
        let account: String = row.try_get("account_id")?;
        let rate: i64 = row.try_get("rate_fen")?;
        let ok = sqlx::query("UPDATE accounts SET reserved_fen = reserved_fen + $1 WHERE id = $2 AND balance_fen - reserved_fen >= $1")
            .bind(rate)
            .bind(&account)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if ok {
            sqlx::query("UPDATE calls SET reserved_fen = reserved_fen + $1, last_activity_at = $2 WHERE id = $3")
                .bind(rate)
                .bind(now_ms)
                .bind(call_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ok)
    }

    async fn finish_call(&self, fin: &FinishCall) -> Result<()> {
        let _g = self.lock().await;
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query("SELECT account_id, reserved_fen, rate_fen FROM calls WHERE id = $1 AND ended_at IS NULL")
            .bind(&fin.call_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(());
        };
        let account: String = row.try_get("account_id")?;
        let reserved: i64 = row.try_get("reserved_fen")?;
        let rate = Fen(row.try_get("rate_fen")?);
        let connected = Duration::from_millis(fin.connected_ms.max(0) as u64);
        // Never more than was reserved: the balance can't go negative even if
        // the network took longer to hang up than the paid time allowed.
        let cost = Tariff { per_minute: rate }.cost(connected).0.min(reserved);
        let duration = (fin.connected_ms.max(0) + 999) / 1000;
        let updated = sqlx::query(
            "UPDATE calls SET status = $1, ended_at = $2, duration_seconds = $3, cost_fen = $4, billed = $5, hangup_by = $6, \
             end_reason = $7, outcome = $8, provider_response = $9, media_stats = $10, turn_stats = $11, reserved_fen = 0 WHERE id = $12 AND ended_at IS NULL",
        )
        .bind(fin.status.as_str())
        .bind(fin.now_ms)
        .bind(duration)
        .bind(cost)
        .bind(i64::from(cost > 0))
        .bind(fin.side.as_str())
        .bind(fin.reason.as_str())
        .bind(fin.outcome.map(|o| o.as_str()))
        .bind(&fin.provider_response)
        .bind(&fin.media_stats)
        .bind(&fin.turn_stats)
        .bind(&fin.call_id)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(());
        }
        let after = sqlx::query(
            "UPDATE accounts SET balance_fen = balance_fen - $1, reserved_fen = reserved_fen - $2 WHERE id = $3 RETURNING balance_fen",
        )
        .bind(cost)
        .bind(reserved)
        .bind(&account)
        .fetch_one(&mut *tx)
        .await?;
        if cost > 0 {
            let after = Fen(after.try_get("balance_fen")?);
            let minutes = Tariff::billable_minutes(connected);
            let note = format!("{minutes} min at {rate}/min");
            insert_ledger(&mut tx, &account, Some(&fin.call_id), "call", Fen(-cost), after, Some(&note), fin.now_ms).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn queued_calls(&self, limit: u32, skip_accounts: &[String]) -> Result<Vec<CallRow>> {
        let skip = if skip_accounts.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..skip_accounts.len()).map(|i| format!("${}", i + 2)).collect();
            format!(" AND account_id NOT IN ({})", marks.join(", "))
        };
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE status = 'queued'{skip} ORDER BY created_at, id LIMIT $1");
        let mut q = sqlx::query(&sql).bind(i64::from(limit));
        for a in skip_accounts {
            q = q.bind(a.clone());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(call_from).collect()
    }

    async fn recover_interrupted(&self, now_ms: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id, answered_at, last_activity_at FROM calls WHERE ended_at IS NULL AND status IN ('dialing', 'ringing', 'in_progress')",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut ids = Vec::new();
        for r in rows {
            let id: String = r.try_get("id")?;
            let answered: Option<i64> = r.try_get("answered_at")?;
            let last: Option<i64> = r.try_get("last_activity_at")?;
            let connected_ms = match (answered, last) {
                (Some(a), Some(l)) => (l - a).max(0),
                _ => 0,
            };
            self.finish_call(&FinishCall {
                call_id: id.clone(),
                status: CallStatus::Failed,
                reason: EndReason::ServerRestart,
                side: HangupSide::Platform,
                outcome: Some(if answered.is_some() { Outcome::CutOff } else { Outcome::NotConnected }),
                connected_ms,
                provider_response: Some("call lost: the server stopped while it was live".into()),
                media_stats: None,
                turn_stats: None,
                now_ms,
            })
            .await?;
            ids.push(id);
        }
        Ok(ids)
    }

    async fn balance(&self, account_id: &str) -> Result<Balance> {
        let row = sqlx::query("SELECT balance_fen, reserved_fen FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NoSuchAccount(account_id.to_owned()))?;
        Ok(Balance { balance: Fen(row.try_get("balance_fen")?), reserved: Fen(row.try_get("reserved_fen")?) })
    }

    async fn ledger(&self, account_id: &str) -> Result<Vec<LedgerEntry>> {
        let rows = sqlx::query(
            "SELECT kind, amount_fen, balance_after_fen, call_id, note, created_at FROM ledger WHERE account_id = $1 ORDER BY created_at, id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LedgerEntry {
                    kind: r.try_get("kind")?,
                    amount: Fen(r.try_get("amount_fen")?),
                    balance_after: Fen(r.try_get("balance_after_fen")?),
                    call_id: r.try_get("call_id")?,
                    note: r.try_get("note")?,
                    at_ms: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn count_by_status(&self) -> Result<Vec<(CallStatus, i64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM calls GROUP BY status").fetch_all(&self.pool).await?;
        let mut out = Vec::new();
        for r in rows {
            let s: String = r.try_get("status")?;
            if let Some(st) = CallStatus::parse(&s) {
                out.push((st, r.try_get("n")?));
            }
        }
        Ok(out)
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_ledger(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account: &str,
    call: Option<&str>,
    kind: &str,
    amount: Fen,
    after: Fen,
    note: Option<&str>,
    now_ms: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO ledger (id, account_id, call_id, kind, amount_fen, balance_after_fen, note, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(new_id())
        .bind(account)
        .bind(call)
        .bind(kind)
        .bind(amount.0)
        .bind(after.0)
        .bind(note)
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

