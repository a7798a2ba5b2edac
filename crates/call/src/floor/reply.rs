//! Replies: asking the dialogue engine, and saying what it writes.
//!
//! One reply is written at a time. Its text passes the reply gate clause by
//! clause; on a voice leg each cleared clause is said at once (the line
//! opens with the first and closes when the reply is complete), otherwise
//! the reply is said whole once written.

use std::time::Instant;

use waihu_agent::gate::{ContentGuard, ReplyGate};
use waihu_agent::{ChatRequest, Reply, Turn};
use waihu_core::leg::TextCommand;
use waihu_core::{EndReason, HangupSide};

use super::{lines, replace_last_assistant, Floor, FloorOut, LineKind, ReplyEvent, ReplyId, Thinking};

impl Floor {
    /// Asks the dialogue for the next line, after `turn` (none: the opening).
    pub(super) fn think(&mut self, turn: Option<Turn>, kind: LineKind, now: Instant) {
        if self.thinking.is_some() || self.closed {
            return;
        }
        if let Some(t) = turn {
            self.history.push(t);
        }
        let id = self.next_reply;
        self.next_reply += 1;
        let gate = ReplyGate::new(ContentGuard::new(&self.task, &self.history));
        self.thinking =
            Some(Thinking { id, kind, deadline: now + self.reply_timeout, gate, hang_up: false, outcome: None, line: None, cut: None });
        let request = ChatRequest { task: self.task.clone(), history: self.history.clone() };
        self.out.push_back(FloorOut::Think { id, request });
    }

    /// Abandons the reply being written, if any.
    pub(super) fn stop_thinking(&mut self) {
        if let Some(t) = self.thinking.take() {
            self.out.push_back(FloorOut::StopThinking { id: t.id });
        }
    }

    /// The reply took too long: it is abandoned, as if the engine failed.
    pub(super) fn stop_thinking_and_fail(&mut self, now: Instant) {
        if let Some(t) = self.thinking.take() {
            self.out.push_back(FloorOut::StopThinking { id: t.id });
            self.settle(t, None, now);
        }
    }

    pub(crate) fn reply(&mut self, id: ReplyId, event: ReplyEvent, now: Instant) {
        let Some(mut t) = self.thinking.take_if(|t| t.id == id) else { return };
        match event {
            ReplyEvent::Text(text) => {
                if let Some(clause) = t.gate.push(&text) {
                    if self.stream {
                        self.say_clause(&mut t, clause, now);
                    }
                }
                if t.gate.blocked().is_some() {
                    // Nothing more of it will be said: stop reading it.
                    self.out.push_back(FloorOut::StopThinking { id });
                    return self.complete(t, now);
                }
            }
            ReplyEvent::HangUp { outcome } => {
                t.hang_up = true;
                t.outcome = outcome.or(t.outcome);
            }
            ReplyEvent::Done => return self.complete(t, now),
            ReplyEvent::Failed => return self.settle(t, None, now),
        }
        self.thinking = Some(t);
    }

    /// A clause of the reply cleared by the gate (voice legs): said now.
    fn say_clause(&mut self, t: &mut Thinking, text: String, now: Instant) {
        if self.closed || self.winding_down || self.stale {
            // A stale reply is taken back whole when it is complete.
            return;
        }
        match t.line {
            Some(id) => {
                if let Some(u) = self.speaking.as_mut().filter(|u| u.id == id) {
                    u.text.push_str(&text);
                    self.out.push_back(FloorOut::Leg(TextCommand::SayPart { id, text, last: false }));
                }
            }
            // Another line plays (a nudge): this reply is said whole when
            // it is complete.
            None if self.speaking.is_some() => {}
            None => {
                let utter = self.new_utter(text.clone(), t.kind, None);
                t.line = Some(utter.id);
                self.answered_turn(now);
                self.out.push_back(FloorOut::Leg(TextCommand::SayPart { id: utter.id, text, last: false }));
                self.now_playing(utter, now);
            }
        }
    }

    /// The engine is done: the gate's last word, then the reply is said.
    fn complete(&mut self, mut t: Thinking, now: Instant) {
        let asked = Reply { text: String::new(), hang_up: t.hang_up, outcome: t.outcome };
        let (rest, reply) = t.gate.close(self.stream, asked);
        if self.stream && !rest.is_empty() {
            self.say_clause(&mut t, rest, now);
        }
        if !reply.text.is_empty() {
            self.history.push(Turn::Assistant(reply.text.clone()));
        }
        self.settle(t, Some(reply), now);
    }

    /// What to do with a finished reply (`None`: the engine failed).
    fn settle(&mut self, t: Thinking, reply: Option<Reply>, now: Instant) {
        if self.closed || self.winding_down {
            return;
        }
        if let Some(line) = t.line {
            return self.settle_streamed(line, t.cut, reply, now);
        }
        if self.stale {
            // The callee spoke while this was written: answer what they said now.
            self.stale = false;
            if matches!(self.history.last(), Some(Turn::Assistant(_))) {
                self.history.pop();
            }
            return self.answer_unheard(now);
        }
        let utter = match reply {
            Some(r) => {
                if r.outcome.is_some() {
                    self.outcome = r.outcome;
                }
                if r.text.is_empty() {
                    if r.hang_up {
                        self.out.push_back(FloorOut::HangUp { side: HangupSide::Agent, reason: EndReason::AgentHangup });
                    }
                    return;
                }
                let kind = if r.hang_up { LineKind::Reply } else { t.kind };
                self.new_utter(r.text, kind, r.hang_up.then_some((HangupSide::Agent, EndReason::AgentHangup)))
            }
            None => self.engine_failed(),
        };
        self.answered_turn(now);
        self.say_or_queue(utter, now);
    }

    /// The reply that was streamed into `line` is finished.
    fn settle_streamed(&mut self, line: u64, cut: Option<String>, reply: Option<Reply>, now: Instant) {
        let still_playing = self.speaking.as_ref().is_some_and(|u| u.id == line);
        if let Some(played) = cut {
            match reply {
                Some(_) => replace_last_assistant(&mut self.history, played),
                None => self.history.push(Turn::Interrupted { played }),
            }
        }
        let close = FloorOut::Leg(TextCommand::SayPart { id: line, text: String::new(), last: true });
        match reply {
            Some(r) => {
                if r.outcome.is_some() {
                    self.outcome = r.outcome;
                }
                if still_playing {
                    if let Some(u) = self.speaking.as_mut() {
                        u.text = r.text;
                        if r.hang_up {
                            u.kind = LineKind::Reply;
                            u.then_hang_up = Some((HangupSide::Agent, EndReason::AgentHangup));
                        }
                    }
                    self.out.push_back(close);
                    return;
                }
            }
            None => {
                if still_playing {
                    self.out.push_back(close);
                }
                let utter = self.engine_failed();
                return self.say_or_queue(utter, now);
            }
        }
        // The line was cut before its reply was complete: answer what the
        // callee said meanwhile.
        self.stale = false;
        if self.speaking.is_none() && !self.unheard.is_empty() {
            self.answer_unheard(now);
        }
    }

    /// The line said when the engine fails: the call ends politely.
    fn engine_failed(&mut self) -> super::Utter {
        self.new_utter(lines::ENGINE_FAILED.into(), LineKind::Reply, Some((HangupSide::Platform, EndReason::InternalError)))
    }
}
