//! Waiting for a call's record: `callinfo.sh`'s retries while the record is
//! not there yet, and polling until the call is over.

use std::time::Duration;

use waihu_wire::CallRecord;

use crate::client::Client;
use crate::error::ClientError;
use crate::text::one_line;

/// `callinfo.sh`'s default number of tries.
pub const DEFAULT_CALLINFO_TRIES: u32 = 5;
/// `callinfo.sh`'s fixed pause between tries.
pub const DEFAULT_CALLINFO_INTERVAL: Duration = Duration::from_secs(10);
/// The skill's `--wait` bound: ten minutes.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(600);
/// Pause between polls in `wait_final`.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The statuses clients treat as final (the spec's list). Anything else
/// means the call is still running.
pub const FINAL_STATUSES: &[&str] = &[
    "completed",
    "ended",
    "hung_up",
    "failed",
    "cancelled",
    "no_answer",
    "busy",
    "declined",
    "rejected",
    "timeout",
    "voicemail",
];

/// Whether a status string is final.
pub fn is_final_status(status: &str) -> bool {
    FINAL_STATUSES.contains(&status.trim().to_ascii_lowercase().as_str())
}

/// Whether a record describes a call that is over: a final status, or a
/// `duration_seconds` (the shell client's test).
pub fn is_record_final(record: &CallRecord) -> bool {
    record.duration_seconds.is_some() || is_final_status(&record.status)
}

/// Passed to the `on_retry` callback of [`Client::callinfo_with_retry`]
/// before each pause.
#[derive(Debug)]
pub struct RetryNotice<'a> {
    /// The call asked about.
    pub call_id: &'a str,
    /// The try that just failed (1-based).
    pub attempt: u32,
    /// How many tries in all.
    pub max_tries: u32,
    /// The pause before the next try.
    pub wait: Duration,
    /// Why the try failed (always a not-found).
    pub error: &'a ClientError,
}

impl Client {
    /// `search_callinfo` as `callinfo.sh` does it: while the record is not
    /// found, call `on_retry` and try again after `interval`, up to
    /// `max_tries` tries in all (at least one). Any other error ends at
    /// once: waiting would not fix a bad key or a down server.
    pub async fn callinfo_with_retry(
        &self,
        call_id: &str,
        max_tries: u32,
        interval: Duration,
        mut on_retry: impl FnMut(&RetryNotice<'_>),
    ) -> Result<CallRecord, ClientError> {
        let max_tries = max_tries.max(1);
        let mut attempt = 1;
        loop {
            match self.search_callinfo(call_id).await {
                Err(error) if error.is_not_found() && attempt < max_tries => {
                    on_retry(&RetryNotice {
                        call_id,
                        attempt,
                        max_tries,
                        wait: interval,
                        error: &error,
                    });
                    tokio::time::sleep(interval).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Polls the record until the call is over (a final status or a
    /// `duration_seconds`), for at most `timeout`. Not-found answers are
    /// waited out (the record may appear late); other errors end at once.
    pub async fn wait_final(
        &self,
        call_id: &str,
        timeout: Duration,
        poll_interval: Duration,
    ) -> Result<CallRecord, ClientError> {
        self.wait_final_with(call_id, timeout, poll_interval, |_| {})
            .await
    }

    /// [`wait_final`](Self::wait_final), calling `on_change` each time the
    /// status seen changes (for progress lines).
    pub async fn wait_final_with(
        &self,
        call_id: &str,
        timeout: Duration,
        poll_interval: Duration,
        mut on_change: impl FnMut(&CallRecord),
    ) -> Result<CallRecord, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last_status: Option<String> = None;
        loop {
            match self.search_callinfo(call_id).await {
                Ok(record) if is_record_final(&record) => return Ok(record),
                Ok(record) => {
                    if last_status.as_deref() != Some(record.status.as_str()) {
                        on_change(&record);
                        last_status = Some(record.status.clone());
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                let last = last_status
                    .map(|s| one_line(&s, 40))
                    .unwrap_or_else(|| "no record yet".into());
                return Err(ClientError::Timeout {
                    what: format!("call {call_id} to end (last status: {last})"),
                    after: timeout,
                });
            }
            tokio::time::sleep(poll_interval.min(deadline - now)).await;
        }
    }
}
