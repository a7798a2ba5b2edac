//! Accounts and their API keys.

use sqlx::any::AnyRow;
use sqlx::Row;
use subtle::ConstantTimeEq;
use waihu_core::Fen;

use super::billing::insert_ledger;
use super::connection::{new_id, SqlStore};
use crate::keys::{generate_api_key, hash_api_key};
use crate::model::{Account, AccountSummary};
use crate::{Result, StoreError};

fn account_from(row: &AnyRow) -> Result<Account> {
    Ok(Account {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        balance: Fen(row.try_get("balance_fen")?),
        reserved: Fen(row.try_get("reserved_fen")?),
        max_concurrent: row.try_get::<Option<i64>, _>("max_concurrent")?.map(|v| v as u32),
    })
}

pub(super) async fn create_account(s: &SqlStore, name: &str, credit: Fen, now_ms: i64) -> Result<Account> {
    let _g = s.lock().await;
    let mut tx = s.pool.begin().await?;
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

/// How an account is looked up.
pub(super) enum AccountKey {
    Id,
    Name,
}

/// The account whose id or name (`key`) is `value`.
pub(super) async fn account_where(s: &SqlStore, key: AccountKey, value: &str) -> Result<Option<Account>> {
    let sql = match key {
        AccountKey::Id => "SELECT * FROM accounts WHERE id = $1",
        AccountKey::Name => "SELECT * FROM accounts WHERE name = $1",
    };
    let row = sqlx::query(sql).bind(value).fetch_optional(&s.pool).await?;
    row.as_ref().map(account_from).transpose()
}

pub(super) async fn list_accounts(s: &SqlStore) -> Result<Vec<AccountSummary>> {
    let rows = sqlx::query(
        "SELECT a.*, \
         (SELECT COUNT(*) FROM api_keys k WHERE k.account_id = a.id AND k.revoked_at IS NULL) AS active_keys, \
         (SELECT COUNT(*) FROM calls c WHERE c.account_id = a.id) AS call_count \
         FROM accounts a ORDER BY a.created_at, a.name",
    )
    .fetch_all(&s.pool)
    .await?;
    rows.iter()
        .map(|r| Ok(AccountSummary { account: account_from(r)?, active_keys: r.try_get("active_keys")?, calls: r.try_get("call_count")? }))
        .collect()
}

pub(super) async fn create_key(s: &SqlStore, account_id: &str, now_ms: i64) -> Result<String> {
    let key = generate_api_key();
    sqlx::query("INSERT INTO api_keys (id, account_id, prefix, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(new_id())
        .bind(account_id)
        .bind(&key[..12])
        .bind(hash_api_key(&key))
        .bind(now_ms)
        .execute(&s.pool)
        .await?;
    Ok(key)
}

pub(super) async fn revoke_keys(s: &SqlStore, prefix: &str, now_ms: i64) -> Result<u64> {
    if prefix.len() < 8 {
        return Ok(0);
    }
    // The stored prefix is the key's first 12 characters. Matching is done
    // here rather than in SQL: LIKE would read `_` in `sk_` as a wildcard.
    let n = prefix.len().min(12);
    let rows = sqlx::query("SELECT id, prefix FROM api_keys WHERE revoked_at IS NULL").fetch_all(&s.pool).await?;
    let mut revoked = 0;
    for r in rows {
        let stored: String = r.try_get("prefix")?;
        if stored.get(..n) == prefix.get(..n) {
            let id: String = r.try_get("id")?;
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2").bind(now_ms).bind(&id).execute(&s.pool).await?;
            revoked += 1;
        }
    }
    Ok(revoked)
}

pub(super) async fn authenticate(s: &SqlStore, api_key: &str) -> Result<Option<Account>> {
    let hash = hash_api_key(api_key);
    let row = sqlx::query(
        "SELECT a.*, k.key_hash FROM api_keys k JOIN accounts a ON a.id = k.account_id \
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(&hash)
    .fetch_optional(&s.pool)
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
