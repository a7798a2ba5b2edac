//! The floor: who speaks when, and what was said.
//!
//! The floor holds the conversation's history and the AI's lines: the one
//! playing on the leg (at most one at a time) and those queued behind it.
//! Its rules:
//!
//! - **Replies are answers to what was said.** A reply generated while the
//!   callee spoke again is *stale*: it is dropped unsaid (taken back from
//!   the history) and generated again with the new words. A streamed reply
//!   already being said is not stale: its line was cut instead (below).
//! - **A callee line over the AI** is judged by the turn-taker of
//!   `waihu-turn` (the same rule and backchannel list as on a voice leg): a
//!   lone 嗯/对/好 is let pass (the AI goes on, nothing is written); real
//!   words stop the AI and everything queued behind it (but a goodbye
//!   that hangs up), and are written after the AI's cut line.
//! - **What was played is what was said.** A line stopped early goes to the
//!   transcript and the history with only its played characters (the
//!   history marks it `Interrupted`), even when the reply it streams is
//!   still being written.
//! - **Silence** after the AI's line gets one nudge from the lifecycle; a
//!   nudge is not activity (it does not reset the silence timers).
//! - **Wind-down** (maximum length, balance, shutdown): the reply being
//!   written is abandoned, the AI is stopped, and a goodbye that hangs up
//!   is said; the callee's words are still written but no longer answered.
//! - **The reply gate** (`waihu_agent::gate`) checks every clause before
//!   it is said: no secrets asked for, no task content before the callee
//!   confirmed who they are.

mod lines;
mod reply;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use waihu_agent::{ChatRequest, Turn};
use waihu_core::{EndReason, HangupSide, Outcome, Role};
use waihu_turn::{Input as TurnInput, Output as TurnOutput, TurnConfig, TurnTaker};

use waihu_agent::gate::ReplyGate;
use waihu_core::leg::TextCommand;

/// What the floor asks for: of the driver, or (`Activity`, `HangUp`) of
/// the lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FloorOut {
    Leg(TextCommand),
    Think { id: ReplyId, request: ChatRequest },
    StopThinking { id: ReplyId },
    Line { role: Role, text: String },
    TurnAnswered { after: Duration },
    /// Someone spoke: the silence timers start again.
    Activity,
    HangUp { side: HangupSide, reason: EndReason },
}

/// Identifies one reply of the dialogue engine.
pub type ReplyId = u64;

/// A piece of a streamed reply, as the engine gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyEvent {
    /// More text.
    Text(String),
    /// End the call once the reply has been said.
    HangUp {
        /// What the call achieved, when the engine can tell.
        outcome: Option<Outcome>,
    },
    /// The engine is done.
    Done,
    /// The engine failed (the driver logs why).
    Failed,
}

/// The reply being written (`reply` has what is done with it).
struct Thinking {
    id: ReplyId,
    kind: LineKind,
    /// When it must be complete.
    deadline: Instant,
    gate: ReplyGate,
    hang_up: bool,
    outcome: Option<Outcome>,
    /// The line it is streamed into, once its first clause was said.
    line: Option<u64>,
    /// That line was stopped before the reply was complete: what was played.
    cut: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineKind {
    /// A reply of the dialogue.
    Reply,
    /// "Can you hear me?" after silence: does not count as activity.
    Nudge,
}

/// A line of the AI's, playing or queued.
#[derive(Debug)]
struct Utter {
    id: u64,
    text: String,
    kind: LineKind,
    /// Hang up once said, for this reason and side.
    then_hang_up: Option<(HangupSide, EndReason)>,
}

pub(crate) struct Floor {
    task: String,
    history: Vec<Turn>,
    stream: bool,
    reply_timeout: Duration,
    /// Judges a callee line heard while the AI plays.
    turn: TurnTaker,
    /// The reply being written, if any (one at a time).
    thinking: Option<Thinking>,
    speaking: Option<Utter>,
    queue: VecDeque<Utter>,
    next_line: u64,
    next_reply: ReplyId,
    /// The callee spoke while the reply being written was not yet said.
    stale: bool,
    /// The callee's words not yet given to the dialogue.
    unheard: Vec<String>,
    /// The callee's words said over the AI, written after the AI's cut line.
    deferred: Vec<String>,
    winding_down: bool,
    /// The call is over: nothing more is said.
    closed: bool,
    outcome: Option<Outcome>,
    /// When the callee's last line came, for the turn's response time.
    heard_at: Option<Instant>,
    out: VecDeque<FloorOut>,
}

impl Floor {
    pub(crate) fn new(task: String, stream: bool, reply_timeout: Duration) -> Self {
        Floor {
            task,
            history: Vec::new(),
            stream,
            reply_timeout,
            turn: TurnTaker::new(TurnConfig::default()),
            thinking: None,
            speaking: None,
            queue: VecDeque::new(),
            next_line: 1,
            next_reply: 1,
            stale: false,
            unheard: Vec::new(),
            deferred: Vec::new(),
            winding_down: false,
            closed: false,
            outcome: None,
            heard_at: None,
            out: VecDeque::new(),
        }
    }

    pub(crate) fn poll(&mut self) -> Option<FloorOut> {
        self.out.pop_front()
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.thinking.as_ref().map(|t| t.deadline)
    }

    pub(crate) fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// The callee answered: the AI opens.
    pub(crate) fn open(&mut self, now: Instant) {
        self.think(None, LineKind::Reply, now);
    }

    /// The lifecycle heard silence for a while.
    pub(crate) fn nudge(&mut self, now: Instant) {
        if self.speaking.is_none() && self.thinking.is_none() && !self.winding_down {
            self.think(Some(Turn::Silence), LineKind::Nudge, now);
        }
    }

    pub(crate) fn wind_down(&mut self, reason: EndReason, now: Instant) {
        self.winding_down = true;
        self.stop_thinking();
        self.queue.clear();
        let goodbye = self.new_utter(lines::wind_down(reason).into(), LineKind::Reply, Some((HangupSide::Platform, reason)));
        if self.speaking.is_some() {
            self.queue.push_back(goodbye);
            self.out.push_back(FloorOut::Leg(TextCommand::StopSaying));
        } else {
            self.start_saying(goodbye, now);
        }
    }

    /// The leg is gone: nothing more will be said or heard.
    pub(crate) fn leg_gone(&mut self) {
        self.stop_thinking();
    }

    /// The call is over: the callee's words still owed to the transcript are
    /// written, and nothing more is said.
    pub(crate) fn close(&mut self) {
        self.stop_thinking();
        for text in std::mem::take(&mut self.deferred) {
            self.out.push_back(FloorOut::Line { role: Role::User, text });
        }
        self.closed = true;
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.thinking.as_ref().is_some_and(|t| t.deadline <= now) {
            tracing::error!(timeout_ms = self.reply_timeout.as_millis() as u64, "the dialogue engine did not finish its reply in time");
            self.stop_thinking_and_fail(now);
        }
    }

    /// The callee said `text`.
    pub(crate) fn heard(&mut self, text: &str, now: Instant) {
        if self.closed {
            return;
        }
        self.turn.handle(TurnInput::Utterance(text.to_owned()), now);
        let mut barged_in = false;
        while let Some(out) = self.turn.poll_output() {
            match out {
                TurnOutput::BargeIn { .. } => barged_in = true,
                TurnOutput::EndOfTurn { text, .. } if barged_in => self.talked_over(text, now),
                TurnOutput::EndOfTurn { text, .. } => self.user_line(text, now),
                // 嗯/对 over the AI: listening, not taking the turn.
                _ => {}
            }
        }
    }

    /// Real words over the AI: it stops, and the words are written after
    /// its cut line.
    fn talked_over(&mut self, text: String, now: Instant) {
        self.out.push_back(FloorOut::Leg(TextCommand::StopSaying));
        self.queue.retain(|u| u.then_hang_up.is_some());
        self.deferred.push(text);
        // The line plays until the leg says it stopped: words in between
        // are judged as words over it too.
        if let Some(u) = &self.speaking {
            self.turn.handle(TurnInput::AgentAudioStarted { utterance_id: u.id }, now);
        }
    }

    fn user_line(&mut self, text: String, now: Instant) {
        self.out.push_back(FloorOut::Activity);
        self.out.push_back(FloorOut::Line { role: Role::User, text: text.clone() });
        self.heard_at = Some(now);
        self.take_user_turn(text, now);
    }

    fn take_user_turn(&mut self, text: String, now: Instant) {
        if self.winding_down {
            return;
        }
        self.unheard.push(text);
        if self.thinking.is_some() {
            self.stale = true;
        } else if self.speaking.is_none() {
            self.answer_unheard(now);
        }
    }

    /// Asks the dialogue to answer everything the callee said since it
    /// last answered.
    fn answer_unheard(&mut self, now: Instant) {
        let joined = self.unheard.drain(..).collect::<Vec<_>>().join(" ");
        self.think(Some(Turn::User(joined)), LineKind::Reply, now);
    }

    /// The leg finished line `id`, whole or stopped after `played_chars`.
    pub(crate) fn say_done(&mut self, id: u64, played_chars: usize, stopped: bool, now: Instant) {
        let Some(utter) = self.speaking.take_if(|u| u.id == id) else { return };
        self.turn.handle(TurnInput::AgentAudioFinished { utterance_id: id }, now);
        let played: String = if stopped { utter.text.chars().take(played_chars).collect() } else { utter.text.clone() };
        if !played.is_empty() {
            self.out.push_back(FloorOut::Line { role: Role::Assistant, text: played.clone() });
        }
        if stopped {
            self.cut(id, played);
        }
        if utter.kind != LineKind::Nudge {
            self.out.push_back(FloorOut::Activity);
        }
        if let Some((side, reason)) = utter.then_hang_up.filter(|_| !stopped || self.winding_down) {
            self.out.push_back(FloorOut::HangUp { side, reason });
            return;
        }
        for text in std::mem::take(&mut self.deferred) {
            self.out.push_back(FloorOut::Activity);
            self.out.push_back(FloorOut::Line { role: Role::User, text: text.clone() });
            self.heard_at = Some(now);
            self.unheard.push(text);
        }
        if let Some(next) = self.queue.pop_front() {
            self.start_saying(next, now);
        } else if !self.unheard.is_empty() && self.thinking.is_none() {
            self.answer_unheard(now);
        }
    }

    /// Line `id` was stopped after `played`: the history keeps only that.
    fn cut(&mut self, id: u64, played: String) {
        match self.thinking.as_mut() {
            // Its reply is still being written: fixed once it is complete.
            Some(t) if t.line == Some(id) => t.cut = Some(played),
            _ => replace_last_assistant(&mut self.history, played),
        }
    }

    fn new_utter(&mut self, text: String, kind: LineKind, then_hang_up: Option<(HangupSide, EndReason)>) -> Utter {
        let id = self.next_line;
        self.next_line += 1;
        Utter { id, text, kind, then_hang_up }
    }

    fn start_saying(&mut self, utter: Utter, now: Instant) {
        self.out.push_back(FloorOut::Leg(TextCommand::Say { id: utter.id, text: utter.text.clone() }));
        self.now_playing(utter, now);
    }

    fn now_playing(&mut self, utter: Utter, now: Instant) {
        self.turn.handle(TurnInput::AgentAudioStarted { utterance_id: utter.id }, now);
        self.speaking = Some(utter);
    }

    /// Says `utter` now, or after the line playing.
    fn say_or_queue(&mut self, utter: Utter, now: Instant) {
        if self.speaking.is_some() {
            self.queue.push_back(utter);
        } else {
            self.start_saying(utter, now);
        }
    }

    fn answered_turn(&mut self, now: Instant) {
        if let Some(t) = self.heard_at.take() {
            self.out.push_back(FloorOut::TurnAnswered { after: now.saturating_duration_since(t) });
        }
    }
}

/// Records what the AI actually said when it differs from its reply (cut
/// off by the callee).
fn replace_last_assistant(history: &mut [Turn], played: String) {
    if let Some(pos) = history.iter().rposition(|t| matches!(t, Turn::Assistant(_))) {
        history[pos] = Turn::Interrupted { played };
    }
}
