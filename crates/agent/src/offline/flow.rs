//! The dialogue as a state machine, re-derived from the history on every
//! turn so that the engine keeps no state between calls to `chat`.
//!
//! The callee's turns drive the transitions (what they said, read by
//! [`Heard`]); the AI's turns are only looked at for what reached the callee:
//! whether the disclosure and the content were played in full.

use waihu_core::Outcome;

use super::heard::{Heard, Identity};
use super::lines::{self, message};
use super::Line;
use crate::llm::Turn;
use crate::task::{Purpose, TaskBrief};

/// Longest history the engine keeps talking on; past it, it says goodbye.
pub(super) const MAX_TURNS: usize = 24;

/// How many times the identity question is asked again after an answer that
/// is neither yes nor no, before giving up.
const MAX_UNCLEAR: u8 = 1;
/// How many times a line is repeated on request before giving up.
const MAX_REPEATS: u8 = 3;
/// How many questions it cannot answer before it says goodbye.
const MAX_QUESTIONS: u8 = 3;
/// Consecutive silences before it hangs up.
const MAX_SILENCES: u8 = 2;

/// How far the call has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The callee has not said they are the one asked for.
    Unconfirmed,
    /// Confirmed, but the content has not been played in full yet.
    Confirmed,
    /// The content has been played in full at least once.
    Delivered,
}

/// The last question the AI asked, which the callee's answer refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Identity,
    CanYouHear,
    Content,
    AnythingElse,
}

pub(super) struct Dialogue<'a> {
    brief: &'a TaskBrief,
    phase: Phase,
    asked: Asked,
    unclear: u8,
    repeats: u8,
    questions: u8,
    silences: u8,
    /// Whether a line saying it is an AI reached the callee.
    disclosed: bool,
    /// Set once the engine has said goodbye.
    ended: Option<Outcome>,
}

impl<'a> Dialogue<'a> {
    fn new(brief: &'a TaskBrief) -> Self {
        Dialogue {
            brief,
            phase: Phase::Unconfirmed,
            asked: Asked::Identity,
            unclear: 0,
            repeats: 0,
            questions: 0,
            silences: 0,
            disclosed: false,
            ended: None,
        }
    }

    /// The next line after `history`.
    pub(super) fn next_line(brief: &TaskBrief, history: &[Turn]) -> Line {
        let mut d = Dialogue::new(brief);
        let Some(last) = history.last() else {
            return Line::say(lines::opening(brief));
        };
        let mut line = None;
        for turn in history {
            match turn {
                Turn::Assistant(said) => d.observe(said),
                Turn::Interrupted { played } => d.observe(played),
                Turn::User(text) => line = Some(d.on_user(text)),
                Turn::Silence => line = Some(d.on_silence()),
            }
        }
        let line = match (last, line) {
            (Turn::User(_) | Turn::Silence, Some(line)) => line,
            _ => d.resume(),
        };
        if line.hang_up.is_none() && history.len() > MAX_TURNS {
            return Line::end(lines::BYE_TOO_LONG, d.outcome_if_cut());
        }
        line
    }

    /// Notes what of the AI's line reached the callee.
    fn observe(&mut self, said: &str) {
        if said.contains("AI") || said.contains("智能助理") {
            self.disclosed = true;
        }
        if said.contains(message(self.brief)) {
            self.phase = Phase::Delivered;
        }
    }

    fn ask(&mut self, text: String, asked: Asked) -> Line {
        self.asked = asked;
        Line::say(text)
    }

    fn end(&mut self, text: impl Into<String>, outcome: Outcome) -> Line {
        self.ended = Some(outcome);
        Line::end(text, outcome)
    }

    /// What the call achieved if it ends now without a proper goodbye.
    fn outcome_if_cut(&self) -> Outcome {
        match self.phase {
            Phase::Unconfirmed => Outcome::NoConfirmation,
            Phase::Confirmed => Outcome::CutOff,
            Phase::Delivered => Outcome::DeliveredUnacknowledged,
        }
    }

    /// Asked to speak with nothing new from the callee: carry on where it was.
    fn resume(&self) -> Line {
        if let Some(outcome) = self.ended {
            return Line::end("", outcome);
        }
        let b = self.brief;
        let text = match self.phase {
            Phase::Unconfirmed if self.disclosed => lines::identity_question(b),
            Phase::Unconfirmed => lines::opening(b),
            Phase::Confirmed => lines::delivery(b),
            Phase::Delivered => lines::check_again(b),
        };
        Line::say(text)
    }

    fn on_silence(&mut self) -> Line {
        if let Some(outcome) = self.ended {
            return Line::end(lines::BYE_AGAIN, outcome);
        }
        self.silences += 1;
        if self.silences >= MAX_SILENCES {
            let outcome = self.outcome_if_cut();
            return self.end(lines::BYE_SILENCE, outcome);
        }
        self.ask(lines::CAN_YOU_HEAR.to_owned(), Asked::CanYouHear)
    }

    fn on_user(&mut self, text: &str) -> Line {
        if let Some(outcome) = self.ended {
            return Line::end(lines::BYE_AGAIN, outcome);
        }
        self.silences = 0;
        let heard = Heard::new(text);
        if heard.opts_out() {
            return self.end(lines::BYE_OPTED_OUT, Outcome::OptedOut);
        }
        match self.phase {
            Phase::Unconfirmed => self.unconfirmed(&heard),
            Phase::Confirmed => self.confirmed(&heard),
            Phase::Delivered => self.delivered(&heard),
        }
    }

    /// Before the yes: nothing said here may carry the content.
    fn unconfirmed(&mut self, heard: &Heard) -> Line {
        let b = self.brief;
        if heard.is_busy(true) {
            return self.end(lines::bye_callback(heard.callback_time().as_deref()), Outcome::CallbackRequested);
        }
        let identity = heard.identity(b);
        if heard.asks_who() {
            if identity == Identity::ItIsMe {
                return self.deliver(lines::disclosure(b));
            }
            return self.ask(format!("{}{}", lines::disclosure(b), lines::identity_question(b)), Asked::Identity);
        }
        match identity {
            Identity::NotMe => return self.end(lines::BYE_WRONG_PERSON, Outcome::WrongPerson),
            Identity::SomeoneElse => return self.end(lines::bye_someone_else(b), Outcome::WrongPerson),
            _ => {}
        }
        if heard.is_injection() {
            return self.unclear_identity();
        }
        if self.asked == Asked::CanYouHear && heard.can_hear() && identity != Identity::ItIsMe {
            let text =
                if self.disclosed { format!("好的，{}", lines::identity_question(b)) } else { lines::opening(b) };
            return self.ask(text, Asked::Identity);
        }
        let asks_whom = heard.asks_whom();
        if (heard.asks_repeat() || asks_whom) && identity != Identity::ItIsMe {
            self.repeats += 1;
            if self.repeats > MAX_REPEATS {
                return self.end(lines::BYE_UNHEARD, Outcome::NoConfirmation);
            }
            let text = if asks_whom { lines::looking_for(b) } else { lines::opening(b) };
            return self.ask(text, Asked::Identity);
        }
        if matches!(identity, Identity::ItIsMe | Identity::GoOn) {
            return self.deliver(String::new());
        }
        self.unclear_identity()
    }

    fn unclear_identity(&mut self) -> Line {
        let b = self.brief;
        // Before the opening reached them (they spoke first, or cut it off
        // before "AI"), an unclear answer answers nothing: open again.
        if !self.disclosed {
            return self.ask(lines::opening(b), Asked::Identity);
        }
        self.unclear += 1;
        if self.unclear > MAX_UNCLEAR {
            return self.end(lines::bye_unconfirmed(b), Outcome::NoConfirmation);
        }
        self.ask(lines::ask_identity_again(b), Asked::Identity)
    }

    /// Confirmed, but the content was cut off or not said yet: say it.
    fn confirmed(&mut self, heard: &Heard) -> Line {
        let b = self.brief;
        if heard.is_busy(true) {
            return self.end(lines::bye_callback(heard.callback_time().as_deref()), Outcome::CallbackRequested);
        }
        if heard.identity(b) == Identity::NotMe {
            return self.end(lines::BYE_WRONG_PERSON, Outcome::WrongPerson);
        }
        let before = if heard.asks_who() { lines::disclosure(b) } else { String::new() };
        self.deliver(before)
    }

    /// Says the content (after `before`), the callee being confirmed.
    fn deliver(&mut self, before: String) -> Line {
        let b = self.brief;
        self.phase = Phase::Confirmed;
        let text = format!("{before}{}", lines::delivery(b));
        if b.content.is_empty() {
            // Nothing to check: the contact line says goodbye itself.
            return self.end(text, Outcome::Delivered);
        }
        self.ask(text, Asked::Content)
    }

    /// After the content: take the answer, answer what can be answered, end.
    fn delivered(&mut self, heard: &Heard) -> Line {
        let b = self.brief;
        if heard.is_busy(false) {
            if heard.acknowledges() {
                return self.end(lines::BYE_DELIVERED, Outcome::Delivered);
            }
            return self.end(lines::bye_callback(heard.callback_time().as_deref()), Outcome::CallbackRequested);
        }
        if heard.asks_who() {
            return self.ask(format!("{}{}", lines::disclosure(b), lines::check_again(b)), Asked::Content);
        }
        if heard.is_injection() {
            return self.cannot_answer(lines::CANNOT_HELP, Some(lines::check_again(b)));
        }
        if self.asked == Asked::AnythingElse && heard.nothing_more() {
            return self.end(lines::BYE_DELIVERED, Outcome::Delivered);
        }
        let wants_repeat = heard.asks_repeat()
            || (self.asked == Asked::CanYouHear && heard.can_hear())
            || (self.asked == Asked::Content && heard.starts_with_no() && !heard.declines())
            || (heard.asks_when() && b.mentions_time())
            || (heard.is_empty() && !heard.is_oh());
        if wants_repeat {
            return self.repeat();
        }
        if heard.is_question() && heard.echoes(&b.content) {
            self.repeats += 1;
            return self.ask(lines::confirm_echo(b), Asked::Content);
        }
        if b.purpose == Purpose::Ask {
            if heard.has_question_word() {
                return self.cannot_answer(lines::UNKNOWN, None);
            }
            return self.end(lines::BYE_ANSWERED, Outcome::Delivered);
        }
        if heard.declines() {
            return self.end(lines::BYE_DECLINED, Outcome::Delivered);
        }
        if heard.closes() || heard.is_oh() {
            return self.end(lines::BYE_DELIVERED, Outcome::Delivered);
        }
        let plain_ack = !heard.is_question() || heard.starts_with_ack();
        if heard.acknowledges() && plain_ack && !heard.has_question_word() {
            let bye = if heard.adds_info() { lines::BYE_PASS_ON } else { lines::BYE_DELIVERED };
            return self.end(bye, Outcome::Delivered);
        }
        if heard.is_question() {
            return self.cannot_answer(lines::UNKNOWN, None);
        }
        self.end(lines::BYE_PASS_ON, Outcome::Delivered)
    }

    fn repeat(&mut self) -> Line {
        self.repeats += 1;
        if self.repeats > MAX_REPEATS {
            return self.end(lines::BYE_UNHEARD, Outcome::DeliveredUnacknowledged);
        }
        self.ask(lines::repeat(self.brief), Asked::Content)
    }

    /// A question it has no answer to: pass it on, then ask for more or,
    /// after a few, say goodbye. `then` replaces "anything else?".
    fn cannot_answer(&mut self, answer: &str, then: Option<String>) -> Line {
        self.questions += 1;
        if self.questions >= MAX_QUESTIONS {
            return self.end(format!("{answer}{}", lines::BYE), Outcome::Delivered);
        }
        match then {
            Some(then) => self.ask(format!("{answer}{then}"), Asked::Content),
            None => self.ask(format!("{answer}{}", lines::ANYTHING_ELSE), Asked::AnythingElse),
        }
    }
}
