//! [`Store`] on SQLite or PostgreSQL through `sqlx::Any`, one module per
//! responsibility; this one only routes the trait's methods to them.
//!
//! Placeholders are `$1..$n` in order of first use, which both databases
//! read the same way.

mod accounts;
mod billing;
mod calls;
mod connection;
mod recovery;
mod transcript;

use async_trait::async_trait;
use waihu_core::{CallStatus, Fen, Utterance};

use crate::model::*;
use crate::{Result, Store};
use accounts::AccountKey;
pub use connection::SqlStore;

#[async_trait]
impl Store for SqlStore {
    async fn create_account(&self, name: &str, credit: Fen, now_ms: i64) -> Result<Account> {
        accounts::create_account(self, name, credit, now_ms).await
    }
    async fn account_by_name(&self, name: &str) -> Result<Option<Account>> {
        accounts::account_where(self, AccountKey::Name, name).await
    }
    async fn account(&self, id: &str) -> Result<Option<Account>> {
        accounts::account_where(self, AccountKey::Id, id).await
    }
    async fn list_accounts(&self) -> Result<Vec<AccountSummary>> {
        accounts::list_accounts(self).await
    }
    async fn top_up(&self, account_id: &str, amount: Fen, note: &str, now_ms: i64) -> Result<Fen> {
        billing::top_up(self, account_id, amount, note, now_ms).await
    }
    async fn create_key(&self, account_id: &str, now_ms: i64) -> Result<String> {
        accounts::create_key(self, account_id, now_ms).await
    }
    async fn revoke_keys(&self, prefix: &str, now_ms: i64) -> Result<u64> {
        accounts::revoke_keys(self, prefix, now_ms).await
    }
    async fn authenticate(&self, api_key: &str) -> Result<Option<Account>> {
        accounts::authenticate(self, api_key).await
    }

    async fn create_calls(&self, req: CreateCalls) -> Result<CreateOutcome> {
        calls::create_calls(self, req).await
    }
    async fn call(&self, call_id: &str, account_id: Option<&str>) -> Result<Option<CallRow>> {
        calls::call(self, call_id, account_id).await
    }
    async fn list_calls(&self, account_id: &str, filter: &CallFilter) -> Result<Vec<CallRow>> {
        calls::list_calls(self, account_id, filter).await
    }
    async fn transcript(&self, call_id: &str) -> Result<Vec<Line>> {
        transcript::transcript(self, call_id).await
    }
    async fn append_line(&self, call_id: &str, seq: u32, line: &Utterance, now_ms: i64) -> Result<()> {
        transcript::append_line(self, call_id, seq, line, now_ms).await
    }
    async fn set_status(&self, call_id: &str, status: CallStatus, now_ms: i64) -> Result<bool> {
        calls::set_status(self, call_id, status, now_ms).await
    }
    async fn reserve_minute(&self, call_id: &str, now_ms: i64) -> Result<bool> {
        billing::reserve_minute(self, call_id, now_ms).await
    }
    async fn finish_call(&self, fin: &FinishCall) -> Result<()> {
        billing::finish_call(self, fin).await
    }
    async fn queued_calls(&self, limit: u32, skip_accounts: &[String]) -> Result<Vec<CallRow>> {
        calls::queued_calls(self, limit, skip_accounts).await
    }
    async fn recover_interrupted(&self, now_ms: i64) -> Result<Vec<String>> {
        recovery::recover_interrupted(self, now_ms).await
    }
    async fn balance(&self, account_id: &str) -> Result<Balance> {
        billing::balance(self, account_id).await
    }
    async fn ledger(&self, account_id: &str) -> Result<Vec<LedgerEntry>> {
        billing::ledger(self, account_id).await
    }
    async fn count_by_status(&self) -> Result<Vec<(CallStatus, i64)>> {
        calls::count_by_status(self).await
    }
}
