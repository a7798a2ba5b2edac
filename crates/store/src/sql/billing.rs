//! Money: top-ups, the minute-by-minute reservations of live calls, the
//! charge when a call ends, balances and the ledger. Money moves only in
//! transactions that also write the ledger.

use std::time::Duration;

use sqlx::Row;
use waihu_core::{Fen, Tariff};

use super::connection::{new_id, SqlStore};
use crate::model::{Balance, FinishCall, LedgerEntry};
use crate::{Result, StoreError};

pub(super) async fn top_up(s: &SqlStore, account_id: &str, amount: Fen, note: &str, now_ms: i64) -> Result<Fen> {
    let _g = s.lock().await;
    let mut tx = s.pool.begin().await?;
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

pub(super) async fn reserve_minute(s: &SqlStore, call_id: &str, now_ms: i64) -> Result<bool> {
    let _g = s.lock().await;
    let mut tx = s.pool.begin().await?;
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

pub(super) async fn finish_call(s: &SqlStore, fin: &FinishCall) -> Result<()> {
    let _g = s.lock().await;
    let mut tx = s.pool.begin().await?;
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
    let after = sqlx::query("UPDATE accounts SET balance_fen = balance_fen - $1, reserved_fen = reserved_fen - $2 WHERE id = $3 RETURNING balance_fen")
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

pub(super) async fn balance(s: &SqlStore, account_id: &str) -> Result<Balance> {
    let row = sqlx::query("SELECT balance_fen, reserved_fen FROM accounts WHERE id = $1")
        .bind(account_id)
        .fetch_optional(&s.pool)
        .await?
        .ok_or_else(|| StoreError::NoSuchAccount(account_id.to_owned()))?;
    Ok(Balance { balance: Fen(row.try_get("balance_fen")?), reserved: Fen(row.try_get("reserved_fen")?) })
}

pub(super) async fn ledger(s: &SqlStore, account_id: &str) -> Result<Vec<LedgerEntry>> {
    let rows = sqlx::query("SELECT kind, amount_fen, balance_after_fen, call_id, note, created_at FROM ledger WHERE account_id = $1 ORDER BY created_at, id")
        .bind(account_id)
        .fetch_all(&s.pool)
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

#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_ledger(
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
