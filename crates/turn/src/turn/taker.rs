//! The turn-taking state machine. The rules are in the parent module's docs.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{is_backchannel, Input, Output, TurnConfig, UtteranceId};

/// The AI utterance whose audio is going out.
#[derive(Debug, Clone, Copy)]
struct Playing {
    id: UtteranceId,
    played_chars: usize,
}

/// The callee's turn, from its first voiced frame until it is decided.
#[derive(Debug, Clone)]
struct Turn {
    started_at: Instant,
    last_voiced_at: Instant,
    /// First voiced frame of the current speech run.
    run_started_at: Instant,
    /// Set once `hangover` of silence has passed; cleared by a voiced frame.
    silence_confirmed_at: Option<Instant>,
    /// An ASR final was fed after the last voiced frame.
    final_after_voice: bool,
    /// A final was asked for (`FinaliseAsr` or `CalleeSpeechStopped`) since
    /// the last voiced frame.
    finalise_asked: bool,
    /// Finals asked for and not yet fed.
    finals_owed: u32,
    /// Of those, how many were asked for before the last voiced frame: they
    /// cover speech before it, so they do not end the turn.
    finals_before_voice: u32,
    final_at: Option<Instant>,
    /// Voiced audio over the AI in the current speech run.
    run_overlap: Duration,
    /// Some voiced frame of this turn played over the utterance now playing.
    overlapped: bool,
    /// Finals so far, in order.
    finals: String,
    /// The latest partial, for speech not yet finalised.
    partial: String,
}

impl Turn {
    fn text(&self) -> String {
        let mut text = self.finals.clone();
        append_words(&mut text, &self.partial);
        text.trim().to_owned()
    }
}

/// Decides end of turn, barge-in and backchannels. See the module docs for
/// the rules and the crate docs for how to drive it.
#[derive(Debug, Clone)]
pub struct TurnTaker {
    cfg: TurnConfig,
    /// The latest `now` seen: time never goes backwards in here.
    now: Option<Instant>,
    playing: Option<Playing>,
    turn: Option<Turn>,
    /// Finals the last turn still owed when `final_wait` closed it, while no
    /// voice came since: a final arriving now is its late final, not a new
    /// turn.
    late_finals: u32,
    outputs: VecDeque<Output>,
}

impl TurnTaker {
    /// A turn-taker for one call; nobody is speaking yet.
    pub fn new(cfg: TurnConfig) -> Self {
        TurnTaker { cfg, now: None, playing: None, turn: None, late_finals: 0, outputs: VecDeque::new() }
    }

    /// The rules in use.
    pub fn config(&self) -> &TurnConfig {
        &self.cfg
    }

    /// Feeds one input at `now`. Timers due at `now` fire first.
    pub fn handle(&mut self, input: Input, now: Instant) {
        let now = self.now.map_or(now, |seen| seen.max(now));
        self.now = Some(now);
        self.fire_timers(now);
        match input {
            Input::VadFrame { speech: true, duration } => self.on_voiced(duration, now),
            Input::VadFrame { speech: false, .. } | Input::Timeout => {}
            Input::AsrPartial(text) => self.on_partial(text, now),
            Input::AsrFinal(text) => self.on_final(text, now),
            Input::Utterance(text) => self.on_utterance(&text, now),
            Input::AgentAudioStarted { utterance_id } if self.playing.is_some_and(|p| p.id == utterance_id) => {}
            Input::AgentAudioStarted { utterance_id } => {
                self.playing = Some(Playing { id: utterance_id, played_chars: 0 });
                if let Some(turn) = self.turn.as_mut() {
                    // Talking over an earlier utterance says nothing about this one.
                    turn.overlapped = false;
                    turn.run_overlap = Duration::ZERO;
                }
            }
            Input::AgentAudioPlayed { utterance_id, chars_played } => {
                if let Some(p) = self.playing.as_mut().filter(|p| p.id == utterance_id) {
                    p.played_chars = p.played_chars.max(chars_played);
                }
            }
            Input::AgentAudioFinished { utterance_id } => {
                if self.playing.is_some_and(|p| p.id == utterance_id) {
                    self.playing = None;
                }
            }
        }
    }

    /// The next output, if any. Drain after every [`handle`](Self::handle).
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to feed `Input::Timeout` next, if a decision waits on time.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let turn = self.turn.as_ref()?;
        let silence_ends = turn.last_voiced_at + self.cfg.hangover;
        match turn.silence_confirmed_at {
            None => Some(self.early_final_at(turn).unwrap_or(silence_ends)),
            Some(_) => Some(silence_ends + self.cfg.final_wait),
        }
    }

    /// Whether the AI's audio is playing (as far as we were told).
    pub fn ai_speaking(&self) -> bool {
        self.playing.is_some()
    }

    /// Whether the callee's turn is open (speech heard, not yet decided).
    pub fn callee_has_turn(&self) -> bool {
        self.turn.is_some()
    }

    /// When to send `FinaliseAsr`, if it is still to be sent.
    fn early_final_at(&self, turn: &Turn) -> Option<Instant> {
        if turn.finalise_asked || turn.silence_confirmed_at.is_some() {
            return None;
        }
        self.cfg.early_final.filter(|e| *e < self.cfg.hangover).map(|e| turn.last_voiced_at + e)
    }

    fn fire_timers(&mut self, now: Instant) {
        let early_final_at = match self.turn.as_ref() {
            Some(turn) => self.early_final_at(turn),
            None => return,
        };
        let Some(turn) = self.turn.as_mut() else { return };
        let silence_ends = turn.last_voiced_at + self.cfg.hangover;
        // Overdue past the hangover (a driver that fires timers late), the
        // request goes with `CalleeSpeechStopped` instead.
        if early_final_at.is_some_and(|at| now >= at) && now < silence_ends {
            turn.finalise_asked = true;
            turn.finals_owed += 1;
            self.outputs.push_back(Output::FinaliseAsr { last_voiced_at: turn.last_voiced_at, at: now });
        }
        if turn.silence_confirmed_at.is_none() && now >= silence_ends {
            turn.silence_confirmed_at = Some(now);
            // A barge-in needs continuous speech: a pause this long starts over.
            turn.run_overlap = Duration::ZERO;
            if !turn.finalise_asked {
                turn.finalise_asked = true;
                turn.finals_owed += 1;
            }
            self.outputs.push_back(Output::CalleeSpeechStopped { last_voiced_at: turn.last_voiced_at, at: now });
            if turn.final_after_voice {
                self.decide(now);
                return;
            }
        }
        if now >= silence_ends + self.cfg.final_wait {
            self.decide(now);
        }
    }

    fn on_voiced(&mut self, duration: Duration, now: Instant) {
        self.late_finals = 0;
        // A new turn starts as if after confirmed silence, so the start of
        // its first run is announced by the same code as later ones.
        let turn = self.turn.get_or_insert_with(|| Turn {
            started_at: now,
            last_voiced_at: now,
            run_started_at: now,
            silence_confirmed_at: Some(now),
            final_after_voice: false,
            finalise_asked: false,
            finals_owed: 0,
            finals_before_voice: 0,
            final_at: None,
            run_overlap: Duration::ZERO,
            overlapped: false,
            finals: String::new(),
            partial: String::new(),
        });
        if turn.silence_confirmed_at.take().is_some() {
            turn.run_started_at = now;
            self.outputs.push_back(Output::CalleeSpeechStarted { at: now });
        } else if turn.finalise_asked {
            self.outputs.push_back(Output::CalleeSpeechResumed { at: now });
        }
        turn.finalise_asked = false;
        turn.finals_before_voice = turn.finals_owed;
        turn.last_voiced_at = now;
        turn.final_after_voice = false;
        // After a barge-in nothing plays, so a turn stops the AI at most once
        // per utterance.
        if self.playing.is_some() {
            turn.overlapped = true;
            turn.run_overlap += duration;
            self.check_barge_in(now);
        }
    }

    fn on_partial(&mut self, text: String, now: Instant) {
        // Without speech heard there is no turn for it to belong to.
        let Some(turn) = self.turn.as_mut() else { return };
        turn.partial = text;
        self.check_barge_in(now);
    }

    fn on_final(&mut self, text: String, now: Instant) {
        let Some(turn) = self.turn.as_mut() else {
            let text = text.trim();
            if self.late_finals > 0 {
                self.late_finals -= 1;
                return;
            }
            if text.is_empty() || self.playing.is_some() {
                return;
            }
            self.outputs.push_back(instant_turn(text, now));
            return;
        };
        append_words(&mut turn.finals, &text);
        turn.partial.clear();
        turn.finals_owed = turn.finals_owed.saturating_sub(1);
        // Finals come in the order they were asked for: while one asked for
        // before the last voiced frame is owed, this is that one.
        let covers_the_last_voice = if turn.finals_before_voice > 0 {
            turn.finals_before_voice -= 1;
            false
        } else {
            turn.final_after_voice = true;
            turn.final_at = Some(now);
            true
        };
        let words = turn.text();
        if self.playing.is_some() && turn.overlapped && !words.is_empty() && !is_backchannel(&words) {
            self.barge_in(now);
        }
        if covers_the_last_voice && self.turn.as_ref().is_some_and(|t| t.silence_confirmed_at.is_some()) {
            self.decide(now);
        }
    }

    /// A line a text leg heard whole: a turn of its own, decided at once.
    fn on_utterance(&mut self, text: &str, now: Instant) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if let Some(playing) = self.playing {
            if is_backchannel(text) {
                self.outputs.push_back(Output::Backchannel { text: text.to_owned(), at: now });
                return;
            }
            self.playing = None;
            self.outputs.push_back(Output::BargeIn { at: now, speech_started_at: now });
            self.outputs.push_back(Output::Interrupted { utterance_id: playing.id, played_chars: playing.played_chars });
        }
        self.outputs.push_back(instant_turn(text, now));
    }

    /// Barges in if the current run has talked over the AI long enough and
    /// its words, if any yet, are not a lone acknowledgement.
    fn check_barge_in(&mut self, now: Instant) {
        let Some(turn) = self.turn.as_ref() else { return };
        if self.playing.is_none() || turn.run_overlap < self.cfg.barge_in_min_speech {
            return;
        }
        let words = turn.text();
        let holding_off = !words.is_empty() && is_backchannel(&words) && turn.run_overlap < self.cfg.backchannel_max_speech;
        if !holding_off {
            self.barge_in(now);
        }
    }

    fn barge_in(&mut self, now: Instant) {
        let Some(turn) = self.turn.as_ref() else { return };
        let Some(playing) = self.playing.take() else { return };
        self.outputs.push_back(Output::BargeIn { at: now, speech_started_at: turn.run_started_at });
        self.outputs.push_back(Output::Interrupted { utterance_id: playing.id, played_chars: playing.played_chars });
    }

    /// Closes the open turn at `now`.
    fn decide(&mut self, now: Instant) {
        let Some(turn) = self.turn.as_ref() else { return };
        let words = turn.text();
        let over_the_ai = self.playing.is_some() && turn.overlapped;
        if over_the_ai && !words.is_empty() && !is_backchannel(&words) {
            // Real words the deadline found in a partial: the AI stops too.
            self.barge_in(now);
        }
        let Some(turn) = self.turn.take() else { return };
        self.late_finals = if turn.final_after_voice { 0 } else { turn.finals_owed };
        let output = if words.is_empty() {
            Output::NoWords { speech_started_at: turn.started_at, last_voiced_at: turn.last_voiced_at }
        } else if over_the_ai && is_backchannel(&words) {
            Output::Backchannel { text: words, at: now }
        } else {
            Output::EndOfTurn {
                text: words,
                speech_started_at: turn.started_at,
                last_voiced_at: turn.last_voiced_at,
                speech_stopped_at: turn.silence_confirmed_at.unwrap_or(now),
                final_at: turn.final_at,
                decided_at: now,
            }
        };
        self.outputs.push_back(output);
    }
}

/// A turn with no speech run behind it: its words came whole at `now`.
fn instant_turn(text: &str, now: Instant) -> Output {
    Output::EndOfTurn {
        text: text.to_owned(),
        speech_started_at: now,
        last_voiced_at: now,
        speech_stopped_at: now,
        final_at: Some(now),
        decided_at: now,
    }
}

/// Appends recognised words, with a space only between two Latin words
/// (Chinese is written without spaces).
fn append_words(text: &mut String, more: &str) {
    let more = more.trim();
    let needs_space = text.chars().last().is_some_and(|c| c.is_ascii_alphanumeric()) && more.starts_with(|c: char| c.is_ascii_alphanumeric());
    if needs_space {
        text.push(' ');
    }
    text.push_str(more);
}
