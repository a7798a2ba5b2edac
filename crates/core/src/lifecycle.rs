//! The life of one call as a state machine with no IO and no clock.
//!
//! A thin async driver (the call session) feeds it [`Input`]s with the
//! current time, performs the [`Action`]s it returns, and wakes it at
//! [`CallLifecycle::poll_timeout`]. Everything time-dependent — the
//! no-answer timer, the maximum length, silence, the balance running out —
//! lives here, so tests run whole calls in virtual time.
//!
//! ```text
//!  Idle --Start--> Dialing --Ringing--> Ringing --Answered--> InProgress
//!    |                |  \________________|___________________/   |
//!    |                |   timers / API: Cancel or Hangup           |
//!    v                v                 v                          v
//!  (cancelled)     Releasing --leg ended or release timer--> Done(Finish)
//! ```

use std::time::{Duration, Instant};

use crate::status::{CallStatus, EndReason, HangupSide};

/// The timers that bound a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleConfig {
    /// Ringing longer than this ends the call `no_answer` (the seed: 30 s).
    pub no_answer: Duration,
    /// Longest connected time.
    pub max_duration: Duration,
    /// Silence after which the agent is asked to check the line.
    pub silence_prompt: Duration,
    /// Silence after which the call is ended.
    pub silence_timeout: Duration,
    /// After asking the agent for a goodbye, hang up anyway after this.
    pub wind_down_grace: Duration,
    /// Ask for the next paid minute this long before the current one ends.
    pub hold_lead: Duration,
    /// After a CANCEL/BYE, stop waiting for the network's confirmation.
    pub release_timeout: Duration,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            no_answer: Duration::from_secs(30),
            max_duration: Duration::from_secs(600),
            silence_prompt: Duration::from_secs(8),
            silence_timeout: Duration::from_secs(30),
            wind_down_grace: Duration::from_secs(12),
            hold_lead: Duration::from_secs(20),
            release_timeout: Duration::from_secs(5),
        }
    }
}

/// How the network says a leg ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegEnd {
    /// The far end hung up (BYE) after answering.
    RemoteHangup,
    /// Busy (486/600).
    Busy,
    /// Rejected (603).
    Declined,
    /// The network gave up ringing (480/408).
    NoAnswer,
    /// Refused or lost by the network (4xx/5xx, unreachable, no media).
    Failed,
    /// Our CANCEL or BYE completed.
    Released,
}

/// What the driver tells the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The dispatcher has a line for the call: dial.
    Start,
    /// The far end is alerting.
    Ringing,
    /// The far end answered.
    Answered,
    /// The leg is gone.
    LegEnded(LegEnd),
    /// The callee spoke, or the agent finished a line: resets the silence timers.
    Activity,
    /// Someone wants the call over. `polite` asks the agent for a goodbye first.
    Hangup {
        /// Who asks.
        side: HangupSide,
        /// Why.
        reason: EndReason,
    },
    /// The answer to [`Action::ReserveMinute`].
    MinuteReserved {
        /// Whether the balance could pay it.
        ok: bool,
    },
}

/// What the state machine asks the driver to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Persist and announce the new status.
    Status(CallStatus),
    /// Ask the carrier to place the call.
    Dial,
    /// Abandon the unanswered leg (SIP CANCEL).
    Cancel,
    /// Hang up the answered leg (SIP BYE).
    HangUp,
    /// The line has been silent: let the agent check it ("能听到吗？").
    NudgeSilence,
    /// Reserve the given paid minute (1-based) from the balance.
    ReserveMinute(u32),
    /// Have the agent say goodbye for this reason, then send `Hangup`.
    WindDown(EndReason),
    /// The call is over.
    Finish(Finish),
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finish {
    /// Final status.
    pub status: CallStatus,
    /// Why.
    pub reason: EndReason,
    /// Who ended it.
    pub side: HangupSide,
    /// Time between answer and the end (zero if never answered).
    pub connected: Duration,
    /// Paid minutes reserved for this call.
    pub minutes_reserved: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Dialing,
    Ringing,
    InProgress,
    Releasing,
    Done,
}

/// The lifecycle of one call. See the module docs.
#[derive(Debug)]
pub struct CallLifecycle {
    cfg: LifecycleConfig,
    phase: Phase,
    dialed_at: Option<Instant>,
    answered_at: Option<Instant>,
    last_activity: Option<Instant>,
    nudged_at: Option<Instant>,
    minutes_reserved: u32,
    reserve_pending: bool,
    /// Set once the balance refused a minute: the call must be over by then.
    paid_until: Option<Instant>,
    wind_down_deadline: Option<Instant>,
    release_deadline: Option<Instant>,
    /// The ending decided before the leg confirmed it.
    pending: Option<(CallStatus, EndReason, HangupSide)>,
    ended_at: Option<Instant>,
    actions: std::collections::VecDeque<Action>,
}

impl CallLifecycle {
    /// A queued call whose first minute is already reserved (the dispatcher
    /// reserves it before it hands the call a line).
    pub fn new(cfg: LifecycleConfig) -> Self {
        CallLifecycle {
            cfg,
            phase: Phase::Idle,
            dialed_at: None,
            answered_at: None,
            last_activity: None,
            nudged_at: None,
            minutes_reserved: 1,
            reserve_pending: false,
            paid_until: None,
            wind_down_deadline: None,
            release_deadline: None,
            pending: None,
            ended_at: None,
            actions: Default::default(),
        }
    }

    /// Whether the call has finished.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// When the callee answered.
    pub fn answered_at(&self) -> Option<Instant> {
        self.answered_at
    }

    /// The next action to perform, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Feeds one input.
    pub fn handle(&mut self, input: Input, now: Instant) {
        match (self.phase, input) {
            (Phase::Done, _) => {}
            (Phase::Idle, Input::Start) => {
                self.phase = Phase::Dialing;
                self.dialed_at = Some(now);
                self.actions.push_back(Action::Status(CallStatus::Dialing));
                self.actions.push_back(Action::Dial);
            }
            (Phase::Idle, Input::Hangup { side, reason }) => {
                let status = if side == HangupSide::Api { CallStatus::Cancelled } else { CallStatus::Failed };
                self.finish(status, reason, side, now);
            }
            (Phase::Idle, _) => {}
            (Phase::Dialing, Input::Ringing) => {
                self.phase = Phase::Ringing;
                self.actions.push_back(Action::Status(CallStatus::Ringing));
            }
            (Phase::Dialing | Phase::Ringing, Input::Answered) => {
                self.phase = Phase::InProgress;
                self.answered_at = Some(now);
                self.last_activity = Some(now);
                self.actions.push_back(Action::Status(CallStatus::InProgress));
            }
            (Phase::Dialing | Phase::Ringing, Input::LegEnded(end)) => {
                let (status, reason, side) = match end {
                    LegEnd::Busy => (CallStatus::Busy, EndReason::Busy, HangupSide::Callee),
                    LegEnd::Declined => (CallStatus::Declined, EndReason::Declined, HangupSide::Callee),
                    LegEnd::NoAnswer => (CallStatus::NoAnswer, EndReason::NetworkNoAnswer, HangupSide::Callee),
                    LegEnd::Failed | LegEnd::RemoteHangup | LegEnd::Released => {
                        (CallStatus::Failed, EndReason::CarrierFailure, HangupSide::Platform)
                    }
                };
                self.finish(status, reason, side, now);
            }
            (Phase::Dialing | Phase::Ringing, Input::Hangup { side, reason }) => {
                let status = if side == HangupSide::Api { CallStatus::Cancelled } else { CallStatus::Failed };
                self.release(Action::Cancel, status, reason, side, now);
            }
            (Phase::InProgress, Input::LegEnded(end)) => {
                let (status, reason, side) = match end {
                    LegEnd::Failed => (CallStatus::Failed, EndReason::CarrierFailure, HangupSide::Platform),
                    _ => (CallStatus::Completed, EndReason::CalleeHangup, HangupSide::Callee),
                };
                self.finish(status, reason, side, now);
            }
            (Phase::InProgress, Input::Activity) => {
                self.last_activity = Some(now);
                self.nudged_at = None;
            }
            (Phase::InProgress, Input::Hangup { side, reason }) => {
                self.release(Action::HangUp, CallStatus::Completed, reason, side, now);
            }
            (Phase::InProgress, Input::MinuteReserved { ok }) => {
                self.reserve_pending = false;
                let answered = self.answered_at.expect("in progress has an answer time");
                if ok {
                    self.minutes_reserved += 1;
                } else if self.paid_until.is_none() {
                    let paid_until = answered + minutes(self.minutes_reserved);
                    self.paid_until = Some(paid_until);
                    self.start_wind_down(EndReason::BalanceExhausted, now);
                    // The goodbye must finish inside the paid minute.
                    let margin = Duration::from_secs(2);
                    let hard = paid_until.checked_sub(margin).unwrap_or(paid_until).max(now);
                    self.wind_down_deadline = Some(self.wind_down_deadline.map_or(hard, |d| d.min(hard)));
                }
            }
            (Phase::Releasing, Input::LegEnded(_)) => {
                let (status, reason, side) = self.pending.expect("releasing has a pending end");
                self.finish(status, reason, side, now);
            }
            (Phase::Releasing, Input::Answered) => {
                // The far end answered while our CANCEL was in flight: hang it up.
                self.actions.push_back(Action::HangUp);
            }
            (Phase::Releasing, Input::MinuteReserved { ok: true }) => self.minutes_reserved += 1,
            (Phase::Releasing, _) => {}
            (Phase::Dialing | Phase::Ringing, _) | (Phase::InProgress, _) => {}
        }
    }

    /// Fires whatever timers are due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Dialing | Phase::Ringing => {
                if self.dialed_at.is_some_and(|d| now >= d + self.cfg.no_answer) {
                    self.release(Action::Cancel, CallStatus::NoAnswer, EndReason::NoAnswerTimeout, HangupSide::Platform, now);
                }
            }
            Phase::InProgress => {
                let answered = self.answered_at.expect("in progress has an answer time");
                if let Some(deadline) = self.wind_down_deadline {
                    if now >= deadline {
                        let reason = if self.paid_until.is_some() { EndReason::BalanceExhausted } else { EndReason::MaxDuration };
                        self.release(Action::HangUp, CallStatus::Completed, reason, HangupSide::Platform, now);
                        return;
                    }
                }
                if self.wind_down_deadline.is_none() && now >= answered + self.cfg.max_duration {
                    self.start_wind_down(EndReason::MaxDuration, now);
                }
                let last = self.last_activity.unwrap_or(answered);
                if now >= last + self.cfg.silence_timeout {
                    self.release(Action::HangUp, CallStatus::Completed, EndReason::SilenceTimeout, HangupSide::Platform, now);
                    return;
                }
                let nudge_from = self.nudged_at.unwrap_or(last);
                if now >= nudge_from + self.cfg.silence_prompt {
                    self.nudged_at = Some(now);
                    self.actions.push_back(Action::NudgeSilence);
                }
                if self.paid_until.is_none() && !self.reserve_pending && now >= self.next_reserve_at(answered) {
                    self.reserve_pending = true;
                    self.actions.push_back(Action::ReserveMinute(self.minutes_reserved + 1));
                }
            }
            Phase::Releasing => {
                if self.release_deadline.is_some_and(|d| now >= d) {
                    let (status, reason, side) = self.pending.expect("releasing has a pending end");
                    self.finish(status, reason, side, now);
                }
            }
            Phase::Idle | Phase::Done => {}
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Dialing | Phase::Ringing => self.dialed_at.map(|d| d + self.cfg.no_answer),
            Phase::InProgress => {
                let answered = self.answered_at?;
                let last = self.last_activity.unwrap_or(answered);
                let mut t = last + self.cfg.silence_timeout;
                t = t.min(self.nudged_at.unwrap_or(last) + self.cfg.silence_prompt);
                if self.wind_down_deadline.is_none() {
                    t = t.min(answered + self.cfg.max_duration);
                }
                if let Some(d) = self.wind_down_deadline {
                    t = t.min(d);
                }
                if self.paid_until.is_none() && !self.reserve_pending {
                    t = t.min(self.next_reserve_at(answered));
                }
                Some(t)
            }
            Phase::Releasing => self.release_deadline,
            Phase::Idle | Phase::Done => None,
        }
    }

    fn next_reserve_at(&self, answered: Instant) -> Instant {
        let end_of_paid = answered + minutes(self.minutes_reserved);
        end_of_paid.checked_sub(self.cfg.hold_lead).unwrap_or(answered).max(answered)
    }

    fn start_wind_down(&mut self, reason: EndReason, now: Instant) {
        if self.wind_down_deadline.is_none() {
            self.wind_down_deadline = Some(now + self.cfg.wind_down_grace);
            self.actions.push_back(Action::WindDown(reason));
        }
    }

    fn release(&mut self, action: Action, status: CallStatus, reason: EndReason, side: HangupSide, now: Instant) {
        self.pending = Some((status, reason, side));
        if self.phase == Phase::InProgress {
            // Stop the connected clock at the moment we decide, not when the
            // network confirms: the callee is not charged for our signalling.
            self.ended_at = Some(now);
        }
        self.phase = Phase::Releasing;
        self.release_deadline = Some(now + self.cfg.release_timeout);
        self.actions.push_back(action);
    }

    fn finish(&mut self, status: CallStatus, reason: EndReason, side: HangupSide, now: Instant) {
        let end = self.ended_at.unwrap_or(now);
        let connected = match (status, self.answered_at) {
            // A call cancelled or timed out before answer was never connected,
            // even if a late 200 OK slipped in while cancelling.
            (CallStatus::NoAnswer | CallStatus::Cancelled, _) => Duration::ZERO,
            (_, Some(a)) => end.saturating_duration_since(a),
            (_, None) => Duration::ZERO,
        };
        let mut connected = connected;
        if let Some(paid_until) = self.paid_until {
            // Never bill past what the balance paid for.
            if let Some(a) = self.answered_at {
                connected = connected.min(paid_until.saturating_duration_since(a));
            }
        }
        self.phase = Phase::Done;
        self.actions.push_back(Action::Status(status));
        self.actions.push_back(Action::Finish(Finish { status, reason, side, connected, minutes_reserved: self.minutes_reserved }));
    }
}

fn minutes(n: u32) -> Duration {
    Duration::from_secs(60 * u64::from(n))
}

#[cfg(test)]
mod tests;
