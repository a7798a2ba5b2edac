//! Persistence for waihu: accounts and their API keys, calls and their
//! transcripts, the ledger and idempotency keys.
//!
//! One [`Store`] implementation, [`SqlStore`], runs the same SQL on SQLite
//! (the embedded default) and PostgreSQL (for several nodes) through
//! `sqlx::Any`. Money moves only inside transactions that also write the
//! ledger, and reservations ("holds") keep the balance from ever going
//! negative while calls are live: each call reserves its first minute when
//! it is accepted and each further minute before it starts.

mod keys;
mod migrate;
mod model;
mod sql;

pub use keys::{generate_api_key, hash_api_key};
pub use model::*;
pub use sql::SqlStore;

use async_trait::async_trait;
use thiserror::Error;
use waihu_core::{CallStatus, Fen, Utterance};

/// What can go wrong in the store.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date: a migration failed, or
    /// one this database ran differs from this build's. The message quotes
    /// sqlx's, so the error is not chained as `source` too (the CLI prints
    /// the chain and would say it twice).
    #[error("cannot bring the database schema up to date: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// The database ran a migration this build does not have: a newer
    /// waihu migrated it.
    #[error("the database has schema migration {0}, which this waihu does not know: a newer waihu has used it; run that one (or newer)")]
    SchemaTooNew(i64),
    /// The database URL is not one we support.
    #[error("unsupported database URL {0:?}: use sqlite://path or postgres://...")]
    UnsupportedUrl(String),
    /// No account by that name or id.
    #[error("no account named {0:?}")]
    NoSuchAccount(String),
    /// An account by that name exists.
    #[error("an account named {0:?} already exists")]
    AccountExists(String),
    /// The balance cannot pay what is asked.
    #[error("insufficient balance: available {available} CNY, needed {needed} CNY")]
    InsufficientBalance {
        /// What new calls may spend.
        available: Fen,
        /// What the request needs.
        needed: Fen,
    },
    /// An idempotency key was reused for a different request.
    #[error("Idempotency-Key {0:?} was already used for a different request; use a new key for a new call")]
    IdempotencyMismatch(String),
    /// A stored value could not be read back (a bug or a hand-edited database).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::VersionMissing(version) => StoreError::SchemaTooNew(version),
            e => StoreError::Migrate(e),
        }
    }
}

/// Result alias.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The persistence seam. See the crate docs.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account with an opening credit (written to the ledger).
    async fn create_account(&self, name: &str, credit: Fen, now_ms: i64) -> Result<Account>;
    /// Finds an account by name.
    async fn account_by_name(&self, name: &str) -> Result<Option<Account>>;
    /// Finds an account by id.
    async fn account(&self, id: &str) -> Result<Option<Account>>;
    /// All accounts with their key counts.
    async fn list_accounts(&self) -> Result<Vec<AccountSummary>>;
    /// Adds money to an account; returns the new balance.
    async fn top_up(&self, account_id: &str, amount: Fen, note: &str, now_ms: i64) -> Result<Fen>;
    /// Creates an API key and returns it; only its hash is kept.
    async fn create_key(&self, account_id: &str, now_ms: i64) -> Result<String>;
    /// Revokes keys starting with `prefix`; returns how many. Refuses
    /// prefixes shorter than 8 characters as ambiguous.
    async fn revoke_keys(&self, prefix: &str, now_ms: i64) -> Result<u64>;
    /// The account a (not revoked) key belongs to.
    async fn authenticate(&self, api_key: &str) -> Result<Option<Account>>;

    /// Accepts calls: checks the idempotency key, reserves one minute per
    /// call, inserts the calls as `queued` and remembers the answer, all in
    /// one transaction.
    async fn create_calls(&self, req: CreateCalls) -> Result<CreateOutcome>;
    /// A call, if it belongs to `account_id` (`None` = any account).
    async fn call(&self, call_id: &str, account_id: Option<&str>) -> Result<Option<CallRow>>;
    /// Calls of an account, newest first.
    async fn list_calls(&self, account_id: &str, filter: &CallFilter) -> Result<Vec<CallRow>>;
    /// A call's transcript in order.
    async fn transcript(&self, call_id: &str) -> Result<Vec<Line>>;
    /// Appends a transcript line (`seq` from 1, unique per call).
    async fn append_line(&self, call_id: &str, seq: u32, line: &Utterance, now_ms: i64) -> Result<()>;
    /// Records a non-final status change (dialing, ringing, in_progress).
    /// False when the call has already ended (e.g. cancelled while queued).
    async fn set_status(&self, call_id: &str, status: CallStatus, now_ms: i64) -> Result<bool>;
    /// Reserves one more minute for a live call; false when the balance cannot pay it.
    async fn reserve_minute(&self, call_id: &str, now_ms: i64) -> Result<bool>;
    /// Ends a call: final fields, charge, release of the reservation and the
    /// ledger entry in one transaction. Idempotent: a second call is ignored.
    async fn finish_call(&self, fin: &FinishCall) -> Result<()>;
    /// Queued calls, oldest first, for the dispatcher, skipping the accounts
    /// in `skip_accounts` (those already at their concurrency limit), so one
    /// account's backlog never hides another account's calls.
    async fn queued_calls(&self, limit: u32, skip_accounts: &[String]) -> Result<Vec<CallRow>>;
    /// At start: ends calls left live by a previous process as `failed`
    /// (`server_restart`), charging only connected time, and returns them.
    async fn recover_interrupted(&self, now_ms: i64) -> Result<Vec<String>>;
    /// The account's balance and reservations.
    async fn balance(&self, account_id: &str) -> Result<Balance>;
    /// The account's ledger, oldest first.
    async fn ledger(&self, account_id: &str) -> Result<Vec<LedgerEntry>>;
    /// Counts calls by status (for `/metrics`).
    async fn count_by_status(&self) -> Result<Vec<(CallStatus, i64)>>;
}
