//! The call's brain: the lifecycle and the floor, routed into each other.
//!
//! The lifecycle decides when the call starts, is answered, must wind down
//! and is over; the floor decides what is said. They talk through this
//! module only: the lifecycle's `NudgeSilence`, `WindDown` and the answer
//! reach the floor; the floor's activity (which resets the silence timers)
//! and its hang-ups reach the lifecycle.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use waihu_agent::ChatRequest;
use waihu_core::lifecycle::{self, CallLifecycle, Finish, LegEnd, LifecycleConfig};
use waihu_core::leg::TextCommand;
use waihu_core::{CallStatus, EndReason, HangupSide, Outcome, Role};

use crate::floor::{Floor, FloorOut, ReplyEvent, ReplyId};

/// The rules of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrainConfig {
    /// The lifecycle's timers.
    pub lifecycle: LifecycleConfig,
    /// Longest a whole reply of the dialogue engine may take.
    pub reply_timeout: Duration,
    /// Say replies clause by clause as the engine writes them
    /// ([`TextCommand::SayPart`]): a voice leg starts speaking at the first
    /// comma. Otherwise each reply is said whole once written.
    pub stream_replies: bool,
}

impl Default for BrainConfig {
    fn default() -> Self {
        BrainConfig { lifecycle: LifecycleConfig::default(), reply_timeout: Duration::from_secs(20), stream_replies: false }
    }
}

/// What the driver tells the brain. Each comes with `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The dispatcher has a line for the call: dial.
    Start,
    /// The dial could not be placed (no leg exists): the carrier's words.
    DialFailed {
        /// Why, for the record's `provider_response`.
        provider_response: String,
    },
    /// The far end is alerting.
    Ringing,
    /// The far end answered.
    Answered,
    /// The callee said a line (recognised text).
    Heard(String),
    /// A line sent with `Say`/`SayPart` finished playing, or was stopped.
    SayDone {
        /// The line's id.
        id: u64,
        /// Characters of it played.
        played_chars: usize,
        /// Whether it stopped before its end.
        stopped: bool,
    },
    /// The leg is gone.
    LegEnded {
        /// How.
        end: LegEnd,
        /// The carrier's words, if it said any (none when there was no leg
        /// left to release).
        provider_response: Option<String>,
    },
    /// The leg's events stopped without its `Ended`.
    LegLost,
    /// An event of reply `id`.
    Reply {
        /// Which reply.
        id: ReplyId,
        /// What happened.
        event: ReplyEvent,
    },
    /// The answer to [`Action::ReserveMinute`].
    MinuteReserved {
        /// Whether the balance could pay it.
        ok: bool,
    },
    /// Someone outside the call wants it over (the API, a shutdown).
    HangUp {
        /// Who asks.
        side: HangupSide,
        /// Why.
        reason: EndReason,
    },
    /// `poll_timeout` has come (or any time: due timers fire).
    Timeout,
}

/// How the call ended, for its final record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEnd {
    /// Status, reason, side, connected time, minutes reserved.
    pub finish: Finish,
    /// What the call achieved.
    pub outcome: Outcome,
    /// The carrier's last words.
    pub provider_response: Option<String>,
}

/// What the brain asks the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Persist and announce a new (not final) status.
    Status(CallStatus),
    /// Ask the carrier to place the call.
    Dial,
    /// Send this to the leg.
    Leg(TextCommand),
    /// Start reply `id` of the dialogue engine on this snapshot.
    Think {
        /// Tag its events with this.
        id: ReplyId,
        /// The task and the history so far.
        request: ChatRequest,
    },
    /// Abandon reply `id` (its events are no longer wanted).
    StopThinking {
        /// Which reply.
        id: ReplyId,
    },
    /// A transcript line: store it, then publish it.
    Line {
        /// Who said it.
        role: Role,
        /// What was said (for the AI: what was played).
        text: String,
    },
    /// Reserve the given paid minute (1-based) from the balance.
    ReserveMinute(u32),
    /// The AI started answering the callee this long after they finished.
    TurnAnswered {
        /// From the callee's line to the AI's first words.
        after: Duration,
    },
    /// The call is over: write the final record. Nothing follows.
    Finish(CallEnd),
}

/// One call's brain. See the crate docs for how to drive it.
pub struct CallBrain {
    lc: CallLifecycle,
    floor: Floor,
    actions: VecDeque<Action>,
    provider_response: Option<String>,
    finished: bool,
}

impl CallBrain {
    /// The brain of a call on `task` (the `user_requirement`).
    pub fn new(cfg: BrainConfig, task: impl Into<String>) -> Self {
        CallBrain {
            lc: CallLifecycle::new(cfg.lifecycle),
            floor: Floor::new(task.into(), cfg.stream_replies, cfg.reply_timeout),
            actions: VecDeque::new(),
            provider_response: None,
            finished: false,
        }
    }

    /// Feeds one input at `now`. After `Finish` nothing is taken.
    pub fn handle(&mut self, input: Input, now: Instant) {
        if self.finished {
            return;
        }
        match input {
            Input::Start => self.lc.handle(lifecycle::Input::Start, now),
            Input::DialFailed { provider_response } => {
                self.provider_response = Some(provider_response);
                self.lc.handle(lifecycle::Input::LegEnded(LegEnd::Failed), now);
            }
            Input::Ringing => self.lc.handle(lifecycle::Input::Ringing, now),
            Input::Answered => self.lc.handle(lifecycle::Input::Answered, now),
            Input::Heard(text) => self.floor.heard(&text, now),
            Input::SayDone { id, played_chars, stopped } => self.floor.say_done(id, played_chars, stopped, now),
            Input::LegEnded { end, provider_response } => {
                if provider_response.is_some() {
                    self.provider_response = provider_response;
                }
                self.floor.leg_gone();
                self.lc.handle(lifecycle::Input::LegEnded(end), now);
            }
            Input::LegLost => {
                self.provider_response.get_or_insert_with(|| "carrier leg closed without a final response".into());
                self.floor.leg_gone();
                self.lc.handle(lifecycle::Input::LegEnded(LegEnd::Failed), now);
            }
            Input::Reply { id, event } => self.floor.reply(id, event, now),
            Input::MinuteReserved { ok } => self.lc.handle(lifecycle::Input::MinuteReserved { ok }, now),
            Input::HangUp { side, reason } => self.lc.handle(lifecycle::Input::Hangup { side, reason }, now),
            Input::Timeout => {
                self.lc.handle_timeout(now);
                self.floor.handle_timeout(now);
            }
        }
        self.route(now);
    }

    /// The next action, if any. Drain after every [`handle`](Self::handle).
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When to feed `Input::Timeout` next, if anything waits on time.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        [self.lc.poll_timeout(), self.floor.poll_timeout()].into_iter().flatten().min()
    }

    /// Whether the call has been answered.
    pub fn answered(&self) -> bool {
        self.lc.answered_at().is_some()
    }

    /// Whether `Finish` has been given.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Passes what each side asks of the other until both are quiet.
    fn route(&mut self, now: Instant) {
        loop {
            let mut moved = false;
            while let Some(action) = self.lc.poll_action() {
                moved = true;
                match action {
                    lifecycle::Action::Status(status) if !status.is_final() => {
                        self.actions.push_back(Action::Status(status));
                        if status == CallStatus::InProgress {
                            self.floor.open(now);
                        }
                    }
                    lifecycle::Action::Status(_) => {}
                    lifecycle::Action::Dial => self.actions.push_back(Action::Dial),
                    lifecycle::Action::Cancel => self.actions.push_back(Action::Leg(TextCommand::Cancel)),
                    lifecycle::Action::HangUp => self.actions.push_back(Action::Leg(TextCommand::HangUp)),
                    lifecycle::Action::NudgeSilence => self.floor.nudge(now),
                    lifecycle::Action::ReserveMinute(n) => self.actions.push_back(Action::ReserveMinute(n)),
                    lifecycle::Action::WindDown(reason) => self.floor.wind_down(reason, now),
                    lifecycle::Action::Finish(finish) => return self.finish(finish),
                }
            }
            while let Some(out) = self.floor.poll() {
                moved = true;
                match out {
                    FloorOut::Activity => self.lc.handle(lifecycle::Input::Activity, now),
                    FloorOut::HangUp { side, reason } => self.lc.handle(lifecycle::Input::Hangup { side, reason }, now),
                    FloorOut::Leg(cmd) => self.actions.push_back(Action::Leg(cmd)),
                    FloorOut::Think { id, request } => self.actions.push_back(Action::Think { id, request }),
                    FloorOut::StopThinking { id } => self.actions.push_back(Action::StopThinking { id }),
                    FloorOut::Line { role, text } => self.actions.push_back(Action::Line { role, text }),
                    FloorOut::TurnAnswered { after } => self.actions.push_back(Action::TurnAnswered { after }),
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn finish(&mut self, finish: Finish) {
        // Words the callee said over the AI's last line are still theirs.
        self.floor.close();
        while let Some(out) = self.floor.poll() {
            match out {
                FloorOut::Line { role, text } => self.actions.push_back(Action::Line { role, text }),
                FloorOut::StopThinking { id } => self.actions.push_back(Action::StopThinking { id }),
                _ => {}
            }
        }
        let outcome = self.floor.outcome().unwrap_or(if self.answered() { Outcome::CutOff } else { Outcome::NotConnected });
        self.actions.push_back(Action::Finish(CallEnd { finish, outcome, provider_response: self.provider_response.clone() }));
        self.finished = true;
    }
}

impl std::fmt::Debug for CallBrain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallBrain").field("finished", &self.finished).field("answered", &self.answered()).finish_non_exhaustive()
    }
}
