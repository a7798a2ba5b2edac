//! When a call's session panics: the call must not stay live, keep its
//! reservation or hold its line. Its record is ended here from what the
//! store knows, as `failed` (`internal_error`), billed only for the time it
//! was connected.

use waihu_core::{CallEvent, CallStatus, EndReason, HangupSide, Outcome};
use waihu_store::FinishCall;

use super::{wall_ms, SessionDeps};
use crate::metrics::StatusLabel;

/// Ends call `call_id` after its session panicked with `why`. Does nothing
/// to a call that already has its final record.
pub(crate) async fn end_after_panic(deps: &SessionDeps, call_id: &str, why: &str) {
    tracing::error!(panic = why, "the call's session panicked; ending the call as failed (internal_error)");
    let call = match deps.store.call(call_id, None).await {
        Ok(Some(call)) => call,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the call after its session panicked");
            return;
        }
    };
    if call.status.is_final() {
        return;
    }
    let now = wall_ms();
    // The session claimed the call (and counted it active) unless it was
    // still queued.
    if call.status != CallStatus::Queued {
        deps.metrics.calls_active.dec();
    }
    let connected_ms = call.answered_at.map_or(0, |at| (now - at).max(0));
    let fin = FinishCall {
        call_id: call.id.clone(),
        status: CallStatus::Failed,
        reason: EndReason::InternalError,
        side: HangupSide::Platform,
        outcome: Some(if call.answered_at.is_some() { Outcome::CutOff } else { Outcome::NotConnected }),
        connected_ms,
        provider_response: Some("the call's session failed (internal error); the call was ended".into()),
        media_stats: None,
        turn_stats: None,
        now_ms: now,
    };
    if let Err(e) = deps.store.finish_call(&fin).await {
        tracing::error!(error = %e, "the final record of a panicked call was not stored");
        return;
    }
    deps.metrics.calls_finished.get_or_create(&StatusLabel { status: CallStatus::Failed.as_str().into() }).inc();
    deps.bus.publish(&call.id, CallEvent::Status { status: CallStatus::Failed });
    let lines = deps.store.transcript(&call.id).await.map(|l| l.len() as u32).unwrap_or(0);
    deps.bus.publish(&call.id, CallEvent::Ended { status: CallStatus::Failed, lines });
}

/// What a panic carried, for the log.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
