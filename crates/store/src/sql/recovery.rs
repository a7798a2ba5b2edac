//! Restart recovery: calls a previous process left live.

use sqlx::Row;
use waihu_core::{CallStatus, EndReason, HangupSide, Outcome};

use super::billing::finish_call;
use super::connection::SqlStore;
use crate::model::FinishCall;
use crate::Result;

/// Ends each call left dialing, ringing or in progress as `failed`
/// (`server_restart`), charging the time from the answer to the last moment
/// it was known alive.
pub(super) async fn recover_interrupted(s: &SqlStore, now_ms: i64) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT id, answered_at, last_activity_at FROM calls WHERE ended_at IS NULL AND status IN ('dialing', 'ringing', 'in_progress')")
        .fetch_all(&s.pool)
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
        let fin = FinishCall {
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
        };
        finish_call(s, &fin).await?;
        ids.push(id);
    }
    Ok(ids)
}
