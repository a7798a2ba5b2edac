//! Calls: accepting them (idempotency key, the first minute reserved), the
//! queue the dispatcher reads, status changes, lookups and listings.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use waihu_core::{CallStatus, EndReason, Fen, HangupSide, Outcome};

use super::connection::SqlStore;
use crate::model::{CallFilter, CallOrder, CallRow, CreateCalls, CreateOutcome};
use crate::{Result, StoreError};

const CALL_COLUMNS: &str = "id, account_id, phone, requirement, status, model_engine, voice_id, volume, speed, emotion, \
    campaign, reserved_fen, rate_fen, created_at, dialed_at, answered_at, ended_at, duration_seconds, cost_fen, billed, \
    hangup_by, end_reason, outcome, provider_response, media_stats, turn_stats, record";

fn parse<T>(v: Option<String>, f: impl Fn(&str) -> Option<T>, what: &str) -> Result<Option<T>> {
    match v {
        None => Ok(None),
        Some(s) => f(&s).map(Some).ok_or_else(|| StoreError::Corrupt(format!("{what} {s:?}"))),
    }
}

fn call_from(row: &AnyRow) -> Result<CallRow> {
    let status: String = row.try_get("status")?;
    Ok(CallRow {
        id: row.try_get("id")?,
        account_id: row.try_get("account_id")?,
        phone: row.try_get("phone")?,
        order: CallOrder {
            requirement: row.try_get("requirement")?,
            model_engine: row.try_get("model_engine")?,
            voice_id: row.try_get("voice_id")?,
            volume: row.try_get("volume")?,
            speed: row.try_get("speed")?,
            emotion: row.try_get("emotion")?,
            record: row.try_get::<Option<i64>, _>("record")?.map(|r| r != 0),
            campaign: row.try_get("campaign")?,
        },
        status: CallStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("status {status:?}")))?,
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

pub(super) async fn create_calls(s: &SqlStore, req: CreateCalls) -> Result<CreateOutcome> {
    let _g = s.lock().await;
    let mut tx = s.pool.begin().await?;
    if let Some((key, hash)) = &req.idempotency {
        let answer = match claim_idempotency_key(&mut tx, &req, key, hash).await? {
            KeyClaim::Claimed => None,
            KeyClaim::SeenWithSameRequest(first) => Some(Ok(CreateOutcome::Replayed(first))),
            KeyClaim::SeenWithOtherRequest => Some(Err(StoreError::IdempotencyMismatch(key.clone()))),
        };
        if let Some(answer) = answer {
            // Roll back before the write lock goes: a transaction only
            // dropped is rolled back later, and SQLite's next writer
            // would find the database locked.
            tx.rollback().await?;
            return answer;
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
    let order = &req.order;
    for call in &req.calls {
        sqlx::query(
            "INSERT INTO calls (id, account_id, phone, requirement, status, model_engine, voice_id, volume, speed, emotion, \
             campaign, client_platform, client_version, reserved_fen, rate_fen, created_at, record) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&call.id)
        .bind(&req.account_id)
        .bind(call.phone.as_str())
        .bind(&order.requirement)
        .bind(&order.model_engine)
        .bind(&order.voice_id)
        .bind(order.volume)
        .bind(order.speed)
        .bind(&order.emotion)
        .bind(&order.campaign)
        .bind(&req.client_platform)
        .bind(&req.client_version)
        .bind(req.rate.0)
        .bind(req.rate.0)
        .bind(req.now_ms)
        .bind(order.record.map(i64::from))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(CreateOutcome::Created)
}

/// What became of an idempotency key.
enum KeyClaim {
    /// It was free and now belongs to this request, with its answer.
    Claimed,
    /// The same request came with it before: its first answer.
    SeenWithSameRequest(String),
    /// A different request came with it before.
    SeenWithOtherRequest,
}

/// Claims the idempotency key for this request, remembering its answer.
async fn claim_idempotency_key(tx: &mut Transaction<'_, Any>, req: &CreateCalls, key: &str, hash: &str) -> Result<KeyClaim> {
    let claimed = sqlx::query(
        "INSERT INTO idempotency_keys (account_id, idem_key, request_hash, response, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (account_id, idem_key) DO NOTHING",
    )
    .bind(&req.account_id)
    .bind(key)
    .bind(hash)
    .bind(&req.response)
    .bind(req.now_ms)
    .execute(&mut **tx)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(KeyClaim::Claimed);
    }
    let row = sqlx::query("SELECT request_hash, response FROM idempotency_keys WHERE account_id = $1 AND idem_key = $2")
        .bind(&req.account_id)
        .bind(key)
        .fetch_one(&mut **tx)
        .await?;
    let stored_hash: String = row.try_get("request_hash")?;
    if stored_hash != hash {
        return Ok(KeyClaim::SeenWithOtherRequest);
    }
    Ok(KeyClaim::SeenWithSameRequest(row.try_get("response")?))
}

pub(super) async fn call(s: &SqlStore, call_id: &str, account_id: Option<&str>) -> Result<Option<CallRow>> {
    let row = match account_id {
        Some(a) => {
            let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1 AND account_id = $2");
            sqlx::query(&sql).bind(call_id).bind(a).fetch_optional(&s.pool).await?
        }
        None => sqlx::query(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1")).bind(call_id).fetch_optional(&s.pool).await?,
    };
    row.as_ref().map(call_from).transpose()
}

pub(super) async fn list_calls(s: &SqlStore, account_id: &str, f: &CallFilter) -> Result<Vec<CallRow>> {
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
    let rows = q.bind(i64::from(f.limit)).fetch_all(&s.pool).await?;
    rows.iter().map(call_from).collect()
}

pub(super) async fn set_status(s: &SqlStore, call_id: &str, status: CallStatus, now_ms: i64) -> Result<bool> {
    let column = match status {
        CallStatus::Dialing => Some("dialed_at"),
        CallStatus::InProgress => Some("answered_at"),
        _ => None,
    };
    let sql = match column {
        Some(c) => format!("UPDATE calls SET status = $1, {c} = $2, last_activity_at = $2 WHERE id = $3 AND ended_at IS NULL"),
        None => "UPDATE calls SET status = $1, last_activity_at = $2 WHERE id = $3 AND ended_at IS NULL".to_owned(),
    };
    let _g = s.lock().await;
    let done = sqlx::query(&sql).bind(status.as_str()).bind(now_ms).bind(call_id).execute(&s.pool).await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn queued_calls(s: &SqlStore, limit: u32, skip_accounts: &[String]) -> Result<Vec<CallRow>> {
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
    let rows = q.fetch_all(&s.pool).await?;
    rows.iter().map(call_from).collect()
}

pub(super) async fn count_by_status(s: &SqlStore) -> Result<Vec<(CallStatus, i64)>> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM calls GROUP BY status").fetch_all(&s.pool).await?;
    let mut out = Vec::new();
    for r in rows {
        let st: String = r.try_get("status")?;
        if let Some(st) = CallStatus::parse(&st) {
            out.push((st, r.try_get("n")?));
        }
    }
    Ok(out)
}
