//! Rows and requests of the store.

use waihu_core::{CallStatus, EndReason, Fen, HangupSide, Outcome, PhoneNumber, Role};

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Opaque id.
    pub id: String,
    /// Unique name chosen by the operator.
    pub name: String,
    /// Balance in fen.
    pub balance: Fen,
    /// Part of the balance reserved by live or queued calls.
    pub reserved: Fen,
    /// Per-account concurrent call limit (None = the server's default).
    pub max_concurrent: Option<u32>,
}

/// An account in `account list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// The account.
    pub account: Account,
    /// Keys not revoked.
    pub active_keys: i64,
    /// Calls ever made.
    pub calls: i64,
}

/// Balance and reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    /// Balance.
    pub balance: Fen,
    /// Reserved by calls.
    pub reserved: Fen,
}

impl Balance {
    /// What new calls may spend.
    pub fn available(&self) -> Fen {
        Fen(self.balance.0 - self.reserved.0)
    }
}

/// What a call is to do and how, as the request asked: the same for every
/// number of one request, stored with each call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOrder {
    /// The task.
    pub requirement: String,
    /// Dialogue engine id.
    pub model_engine: String,
    /// Voice id.
    pub voice_id: String,
    /// 0-100.
    pub volume: Option<i64>,
    /// 0-100.
    pub speed: Option<i64>,
    /// Style hint.
    pub emotion: Option<String>,
    /// Record the call (`None`: the server's default).
    pub record: Option<bool>,
    /// `X-Campaign`, for attribution.
    pub campaign: Option<String>,
}

/// One call to create.
#[derive(Debug, Clone)]
pub struct NewCall {
    /// The id to give it.
    pub id: String,
    /// The number.
    pub phone: PhoneNumber,
}

/// A request to accept calls.
#[derive(Debug, Clone)]
pub struct CreateCalls {
    /// Whose.
    pub account_id: String,
    /// One per number, in order.
    pub calls: Vec<NewCall>,
    /// What the calls are to do, and how.
    pub order: CallOrder,
    /// `X-Client-Platform`.
    pub client_platform: Option<String>,
    /// `X-Client-Version`.
    pub client_version: Option<String>,
    /// Price per started minute, fixed for the call's life.
    pub rate: Fen,
    /// `Idempotency-Key` and a hash of the request it came with.
    pub idempotency: Option<(String, String)>,
    /// The answer to remember for the idempotency key.
    pub response: String,
    /// Now.
    pub now_ms: i64,
}

/// What `create_calls` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The calls were created.
    Created,
    /// The idempotency key was seen before: here is the first answer.
    Replayed(String),
}

/// A stored call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    /// Id.
    pub id: String,
    /// Owner.
    pub account_id: String,
    /// The number (11 digits).
    pub phone: String,
    /// What the call is to do, and how.
    pub order: CallOrder,
    /// Status.
    pub status: CallStatus,
    /// Reserved for this call.
    pub reserved: Fen,
    /// Price per started minute.
    pub rate: Fen,
    /// Times in unix ms.
    pub created_at: i64,
    /// When dialled.
    pub dialed_at: Option<i64>,
    /// When answered.
    pub answered_at: Option<i64>,
    /// When ended.
    pub ended_at: Option<i64>,
    /// Connected seconds (rounded up), once ended.
    pub duration_seconds: Option<i64>,
    /// Charge.
    pub cost: Fen,
    /// Whether the charge was taken.
    pub billed: bool,
    /// Who hung up.
    pub hangup_by: Option<HangupSide>,
    /// Why it ended.
    pub end_reason: Option<EndReason>,
    /// What it achieved.
    pub outcome: Option<Outcome>,
    /// The carrier's words.
    pub provider_response: Option<String>,
    /// The carrier's media counters, as JSON.
    pub media_stats: Option<String>,
    /// Each answered turn's latency split (JSON array), voice calls only.
    pub turn_stats: Option<String>,
}

/// A transcript line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Position from 1.
    pub seq: u32,
    /// Who.
    pub role: Role,
    /// What.
    pub content: String,
    /// When (unix ms).
    pub at_ms: i64,
}

/// Filter for listing calls.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    /// Only this status.
    pub status: Option<CallStatus>,
    /// Created at or after (unix ms).
    pub since_ms: Option<i64>,
    /// Created before (unix ms).
    pub until_ms: Option<i64>,
    /// Page size.
    pub limit: u32,
    /// Continue after this (created_at, id), newest first.
    pub before: Option<(i64, String)>,
}

/// How a call ended, to be written in one transaction.
#[derive(Debug, Clone)]
pub struct FinishCall {
    /// Which call.
    pub call_id: String,
    /// Final status.
    pub status: CallStatus,
    /// Why.
    pub reason: EndReason,
    /// Who.
    pub side: HangupSide,
    /// What it achieved.
    pub outcome: Option<Outcome>,
    /// Connected time in ms (0 if never answered).
    pub connected_ms: i64,
    /// The carrier's words.
    pub provider_response: Option<String>,
    /// The carrier's media counters, as JSON.
    pub media_stats: Option<String>,
    /// Each answered turn's latency split (JSON array), voice calls only.
    pub turn_stats: Option<String>,
    /// Now.
    pub now_ms: i64,
}

/// A ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// `credit` (opening), `top_up`, `call`.
    pub kind: String,
    /// Signed amount.
    pub amount: Fen,
    /// Balance after it.
    pub balance_after: Fen,
    /// The call, for charges.
    pub call_id: Option<String>,
    /// Free text.
    pub note: Option<String>,
    /// When (unix ms).
    pub at_ms: i64,
}
