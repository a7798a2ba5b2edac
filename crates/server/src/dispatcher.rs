//! The dispatcher: takes queued calls from the store when a line is free,
//! within the global and per-account limits, and runs a session for each.
//!
//! The queue is the `calls` table itself (status `queued`, oldest first), so
//! a restart loses no waiting call. Cancelling a queued call goes through
//! here too, under the same lock that starts calls, so a call is never both
//! cancelled and dialled.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::{mpsc, Mutex, Notify};
use tracing::Instrument;
use waihu_core::{CallEvent, CallStatus, EndReason, HangupSide, Outcome};
use waihu_store::{CallRow, FinishCall, StoreError};

use crate::session::{end_after_panic, panic_message, run_call, Control, Exit, SessionDeps};

struct Running {
    account_id: String,
    control: mpsc::Sender<Control>,
}

/// A call the carrier had no room for: when it may be tried again.
struct Retry {
    first_refusal: tokio::time::Instant,
    not_before: tokio::time::Instant,
    attempts: u32,
}

#[derive(Default)]
struct State {
    running: HashMap<String, Running>,
    per_account: HashMap<String, usize>,
    retries: HashMap<String, Retry>,
}

/// See the module docs.
pub struct Dispatcher {
    deps: Arc<SessionDeps>,
    state: Mutex<State>,
    wake: Notify,
    /// Signalled whenever a call finishes (tests and `demo` wait on it).
    pub(crate) finished: Notify,
    max_total: usize,
    max_per_account: usize,
    /// How long a call may wait for carrier capacity before it fails.
    capacity_wait: Duration,
    stopping: AtomicBool,
}

impl Dispatcher {
    pub(crate) fn new(deps: Arc<SessionDeps>, max_total: usize, max_per_account: usize, capacity_wait: Duration) -> Arc<Self> {
        Arc::new(Dispatcher {
            deps,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            finished: Notify::new(),
            max_total,
            max_per_account,
            capacity_wait,
            stopping: AtomicBool::new(false),
        })
    }

    /// New calls are waiting.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    /// Calls running now.
    pub async fn active(&self) -> usize {
        self.state.lock().await.running.len()
    }

    /// Runs until [`shutdown`](Self::shutdown): dispatches on every wake-up
    /// and once a second (a call may have been queued by another process).
    pub(crate) async fn run(self: Arc<Self>) {
        while !self.stopping.load(Ordering::SeqCst) {
            if let Err(e) = self.dispatch_once().await {
                tracing::error!(error = %e, "dispatch failed; retrying");
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
        }
    }

    async fn dispatch_once(self: &Arc<Self>) -> Result<(), StoreError> {
        let saturated: Vec<String> = {
            let state = self.state.lock().await;
            if state.running.len() >= self.max_total {
                return Ok(());
            }
            state.per_account.iter().filter(|(_, n)| **n >= self.max_per_account).map(|(a, _)| a.clone()).collect()
        };
        let queued = self.deps.store.queued_calls((self.max_total * 2 + 64) as u32, &saturated).await?;
        let mut state = self.state.lock().await;
        let mut waiting = 0i64;
        let now = tokio::time::Instant::now();
        for call in queued {
            if state.running.contains_key(&call.id) {
                continue;
            }
            if state.retries.get(&call.id).is_some_and(|r| r.not_before > now) {
                waiting += 1;
                continue;
            }
            // After waiting long enough for carrier capacity, the next refusal is final.
            let may_requeue = state.retries.get(&call.id).is_none_or(|r| now.duration_since(r.first_refusal) < self.capacity_wait);
            let per_account = state.per_account.get(&call.account_id).copied().unwrap_or(0);
            if state.running.len() >= self.max_total || per_account >= self.max_per_account || self.stopping.load(Ordering::SeqCst) {
                waiting += 1;
                continue;
            }
            let (tx, rx) = mpsc::channel(4);
            *state.per_account.entry(call.account_id.clone()).or_default() += 1;
            state.running.insert(call.id.clone(), Running { account_id: call.account_id.clone(), control: tx });
            let me = self.clone();
            // Every log line of the call carries its id (never the number).
            let span = tracing::info_span!("call", call_id = %call.id);
            tokio::spawn(
                async move {
                    let id = call.id.clone();
                    // A session that panics must not take its line, its
                    // reservation and a live record with it.
                    let exit = match AssertUnwindSafe(run_call(me.deps.clone(), call, rx, may_requeue)).catch_unwind().await {
                        Ok(exit) => exit,
                        Err(panic) => {
                            end_after_panic(&me.deps, &id, &panic_message(panic.as_ref())).await;
                            Exit::Done
                        }
                    };
                    me.release(&id, exit).await;
                }
                .instrument(span),
            );
        }
        self.deps.metrics.calls_queued.set(waiting);
        Ok(())
    }

    async fn release(&self, call_id: &str, exit: Exit) {
        let mut state = self.state.lock().await;
        match exit {
            Exit::Done => {
                state.retries.remove(call_id);
            }
            Exit::Requeued(_) => {
                let now = tokio::time::Instant::now();
                let r = state.retries.entry(call_id.to_owned()).or_insert(Retry { first_refusal: now, not_before: now, attempts: 0 });
                r.attempts += 1;
                // Back off 0.5 s, 1 s, ... up to 5 s between attempts.
                r.not_before = now + Duration::from_millis(500 * u64::from(r.attempts.min(10)));
            }
        }
        if let Some(r) = state.running.remove(call_id) {
            if let Some(n) = state.per_account.get_mut(&r.account_id) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    state.per_account.remove(&r.account_id);
                }
            }
        }
        drop(state);
        self.finished.notify_waiters();
        self.wake.notify_one();
    }

    /// Hangs up (or cancels) a call of the API's caller. False if it had
    /// already ended.
    pub async fn hang_up(&self, call: &CallRow) -> Result<bool, StoreError> {
        let state = self.state.lock().await;
        if let Some(r) = state.running.get(&call.id) {
            return Ok(r.control.send(Control::HangUp).await.is_ok());
        }
        if call.status != CallStatus::Queued {
            return Ok(false);
        }
        // Still queued: end it here, under the lock that starts calls.
        let fin = FinishCall {
            call_id: call.id.clone(),
            status: CallStatus::Cancelled,
            reason: EndReason::ApiCancel,
            side: HangupSide::Api,
            outcome: Some(Outcome::NotConnected),
            connected_ms: 0,
            provider_response: Some("cancelled before dialling".into()),
            media_stats: None,
            turn_stats: None,
            now_ms: chrono::Utc::now().timestamp_millis(),
        };
        self.deps.store.finish_call(&fin).await?;
        drop(state);
        self.deps.bus.publish(&call.id, CallEvent::Status { status: CallStatus::Cancelled });
        self.deps.bus.publish(&call.id, CallEvent::Ended { status: CallStatus::Cancelled, lines: 0 });
        self.deps.metrics.calls_finished.get_or_create(&crate::metrics::StatusLabel { status: "cancelled".into() }).inc();
        Ok(true)
    }

    /// Stops taking calls, asks live calls to end, and waits up to `grace`
    /// for their records to be written. Queued calls stay queued.
    pub async fn shutdown(&self, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.notify_one();
        {
            let state = self.state.lock().await;
            for r in state.running.values() {
                let _ = r.control.try_send(Control::Shutdown);
            }
        }
        let deadline = tokio::time::Instant::now() + grace;
        while self.active().await > 0 && tokio::time::Instant::now() < deadline {
            let _ = tokio::time::timeout(Duration::from_millis(100), self.finished.notified()).await;
        }
    }
}
