//! The lines the platform itself says, whatever the dialogue engine.

use waihu_core::EndReason;

/// Said when the dialogue engine fails: the callee hears something sane.
pub(super) const ENGINE_FAILED: &str = "不好意思，我这边系统出了点问题，稍后再联系您，再见。";

/// The goodbye when the call must end for `reason` (maximum length, the
/// balance, a shutdown).
pub(super) fn wind_down(reason: EndReason) -> &'static str {
    match reason {
        EndReason::BalanceExhausted => "不好意思，本次通话时长已用完，我先挂了，有需要会再联系您，再见。",
        EndReason::ServerRestart => "不好意思，系统需要维护，我先挂了，稍后再联系您，再见。",
        _ => "不好意思，通话时间有限，我先挂了，有需要会再联系您，再见。",
    }
}
