//! One simulated call: a tokio task that rings, answers, plays the AI's
//! lines at speaking pace and lets the callee answer what it heard.
//!
//! All waits are `tokio::time` deadlines divided by the configured speed,
//! so under a paused test clock a whole call runs instantly and always the
//! same way. When several things fall due at the same instant they are
//! handled in a fixed order (the AI's line ends, the callee cuts in, the
//! callee's utterance ends, it reacts, it hangs up), and a command that
//! arrives at that instant is handled first.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};
use waihu_core::lifecycle::LegEnd;

use super::cues::sounds_finished;
use super::persona::{Pickup, Talker, Turn};
use crate::lines::{LineOut, LinePlayout};
use crate::{Signal, TextCommand, TextEvent, TextLeg};

/// From the dial to `180 Ringing`: the INVITE's round trip to the phone.
const RINGING_AFTER_SECS: f64 = 0.3;
/// More patience when the AI's turn stops mid-sentence (on a comma): it is
/// probably still composing the rest.
const UNFINISHED_TURN_EXTRA_SECS: f64 = 1.5;
/// From the callee deciding to hang up to its BYE.
pub(crate) const HANG_UP_PAUSE_SECS: f64 = 0.4;

/// Simulated-time pacing, shared by every leg of a carrier.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) speed: f64,
    pub(crate) chars_per_second: f64,
    pub(crate) reaction_secs: f64,
}

impl Timing {
    /// Real (tokio) time for `sim_secs` of simulated time.
    pub(crate) fn real(&self, sim_secs: f64) -> Duration {
        Duration::from_secs_f64(sim_secs.max(0.0) / self.speed)
    }

    /// Simulated seconds it takes to say `chars` characters.
    fn speaking_secs(&self, chars: usize) -> f64 {
        chars as f64 / self.chars_per_second
    }

    /// Simulated seconds the callee waits, once all is quiet, before it
    /// answers `heard`: its reaction time, longer when the AI's turn sounds
    /// unfinished (it ended on a comma and was not cut off).
    pub(crate) fn reaction_secs_after(&self, heard: &str, cut_off: bool) -> f64 {
        let mut pause = self.reaction_secs;
        if !cut_off && !sounds_finished(heard) {
            pause += UNFINISHED_TURN_EXTRA_SECS;
        }
        pause
    }

    /// When a dial made at `now` rings and when its outcome (answer or
    /// refusal) comes; `None` for what never happens.
    pub(crate) fn calling_deadlines(&self, pickup: Pickup, ring_secs: f64, now: Instant) -> (Option<Instant>, Option<Instant>) {
        match pickup {
            Pickup::Unreachable => (None, Some(now + self.real(ring_secs))),
            Pickup::Never => (Some(now + self.real(RINGING_AFTER_SECS)), None),
            _ => (Some(now + self.real(RINGING_AFTER_SECS)), Some(now + self.real(RINGING_AFTER_SECS + ring_secs))),
        }
    }
}

/// How a phone that does not answer ends the call: `None` for one that
/// answers.
pub(crate) fn refusal(pickup: Pickup) -> Option<(LegEnd, &'static str)> {
    Some(match pickup {
        Pickup::Answer => return None,
        Pickup::Busy => (LegEnd::Busy, "486 Busy Here (simulated)"),
        Pickup::Declined => (LegEnd::Declined, "603 Decline (simulated)"),
        Pickup::NetworkNoAnswer => (LegEnd::NoAnswer, "480 Temporarily Unavailable (simulated)"),
        Pickup::Unreachable => (LegEnd::Failed, "404 Not Found (simulated)"),
        Pickup::Never => unreachable!("a phone that never answers has no outcome timer"),
    })
}

/// Everything a leg needs to know about its callee.
pub(crate) struct Callee {
    pub(crate) pickup: Pickup,
    pub(crate) ring_secs: f64,
    pub(crate) talker: Box<dyn Talker>,
}

/// Starts the leg's task and hands back its ends.
pub(crate) fn spawn(call_id: String, timing: Timing, callee: Callee) -> TextLeg {
    let (events_tx, events) = mpsc::channel(64);
    let (commands, commands_rx) = mpsc::channel(32);
    let (ringing_at, outcome_at) = timing.calling_deadlines(callee.pickup, callee.ring_secs, Instant::now());
    let state = LegState {
        call_id,
        timing,
        pickup: callee.pickup,
        talker: callee.talker,
        events: events_tx,
        phase: Phase::Calling { ringing_at, outcome_at },
        lines: LinePlayout::default(),
        playing: None,
        cut_in_at: None,
        speech: None,
        heard: String::new(),
        heard_cut_off: false,
        reaction_at: None,
        hang_up_at: None,
    };
    tokio::spawn(state.run(commands_rx));
    TextLeg { events, commands }
}

/// Why the leg's loop stops (the audio leg's too).
pub(crate) enum Stop {
    /// `Ended` was sent.
    Ended,
    /// The session dropped its end of a channel: nobody is listening.
    Abandoned,
}

pub(crate) type Step = Result<(), Stop>;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    Calling { ringing_at: Option<Instant>, outcome_at: Option<Instant> },
    Connected,
}

/// When the line playing (in [`LinePlayout`]) started and ends.
struct Playing {
    started: Instant,
    ends: Instant,
    /// The callee already answered this line by talking over it.
    answered_by_cut_in: bool,
}

struct Speech {
    text: String,
    ends: Instant,
    then_hang_up: bool,
}

struct LegState {
    call_id: String,
    timing: Timing,
    pickup: Pickup,
    talker: Box<dyn Talker>,
    events: mpsc::Sender<TextEvent>,
    phase: Phase,
    /// The AI's lines: the one playing, those queued.
    lines: LinePlayout,
    playing: Option<Playing>,
    cut_in_at: Option<Instant>,
    /// The callee's utterance in progress.
    speech: Option<Speech>,
    /// What the callee heard since it last reacted.
    heard: String,
    heard_cut_off: bool,
    reaction_at: Option<Instant>,
    hang_up_at: Option<Instant>,
}

pub(crate) async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(d) => sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl LegState {
    async fn run(mut self, mut commands: mpsc::Receiver<TextCommand>) {
        let stop = loop {
            let deadline = self.next_deadline();
            let command = tokio::select! {
                biased;
                command = commands.recv() => Some(command),
                () = sleep_until_some(deadline) => None,
            };
            let step = match command {
                Some(Some(command)) => self.on_command(command).await,
                Some(None) => Err(Stop::Abandoned),
                None => self.on_timers().await,
            };
            if let Err(stop) = step {
                break stop;
            }
        };
        match stop {
            Stop::Ended => tracing::debug!(call_id = %self.call_id, "simulated leg ended"),
            Stop::Abandoned => tracing::debug!(call_id = %self.call_id, "simulated leg abandoned by its session"),
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let candidates = match self.phase {
            Phase::Calling { ringing_at, outcome_at } => [ringing_at, outcome_at, None, None, None, None],
            Phase::Connected => [
                self.playing.as_ref().map(|p| p.ends),
                self.cut_in_at,
                self.speech.as_ref().map(|s| s.ends),
                self.reaction_at,
                self.hang_up_at,
                None,
            ],
        };
        candidates.into_iter().flatten().min()
    }

    async fn emit(&mut self, event: TextEvent) -> Step {
        self.events.send(event).await.map_err(|_| Stop::Abandoned)
    }

    async fn on_command(&mut self, command: TextCommand) -> Step {
        let now = Instant::now();
        let connected = matches!(self.phase, Phase::Connected);
        match command {
            TextCommand::Cancel | TextCommand::HangUp if connected => self.end(LegEnd::Released, "BYE (simulated)").await,
            TextCommand::Cancel | TextCommand::HangUp => self.end(LegEnd::Released, "487 Request Terminated (simulated)").await,
            command => {
                let whole_line = matches!(command, TextCommand::Say { .. } | TextCommand::SayPart { last: true, .. });
                if connected && whole_line {
                    // The AI speaks again: the callee waits for it to finish.
                    self.reaction_at = None;
                }
                self.lines.command(command);
                self.carry_out(now).await?;
                self.schedule_reaction(now);
                Ok(())
            }
        }
    }

    /// Does what the line playout asks, in order.
    async fn carry_out(&mut self, now: Instant) -> Step {
        while let Some(out) = self.lines.poll() {
            match out {
                LineOut::Play(line) => {
                    let secs = self.timing.speaking_secs(line.chars);
                    self.cut_in_at = if self.speech.is_none() {
                        let at = self.talker.cut_in_at(&line.text, secs).filter(|at| (0.0..secs).contains(at));
                        at.map(|at| now + self.timing.real(at))
                    } else {
                        None
                    };
                    let ends = now + self.timing.real(secs);
                    self.playing = Some(Playing { started: now, ends, answered_by_cut_in: false });
                }
                LineOut::Stop => self.stop_line(now),
                LineOut::Event(event) => self.emit(event).await?,
            }
        }
        Ok(())
    }

    async fn on_timers(&mut self) -> Step {
        let now = Instant::now();
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        loop {
            match self.phase {
                Phase::Calling { ringing_at, outcome_at } => {
                    if due(ringing_at) {
                        self.phase = Phase::Calling { ringing_at: None, outcome_at };
                        self.emit(TextEvent::Signal(Signal::Ringing)).await?;
                    } else if due(outcome_at) {
                        self.pick_up().await?;
                    } else {
                        return Ok(());
                    }
                }
                Phase::Connected => {
                    if self.playing.as_ref().is_some_and(|p| p.ends <= now) {
                        self.finish_line(now).await?;
                    } else if due(self.cut_in_at) {
                        self.cut_in(now).await?;
                    } else if self.speech.as_ref().is_some_and(|s| s.ends <= now) {
                        self.finish_speech(now).await?;
                    } else if due(self.reaction_at) {
                        self.react(now).await?;
                    } else if due(self.hang_up_at) {
                        return self.end(LegEnd::RemoteHangup, "BYE from callee (simulated)").await;
                    } else {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn pick_up(&mut self) -> Step {
        match refusal(self.pickup) {
            Some((end, response)) => self.end(end, response).await,
            None => {
                self.phase = Phase::Connected;
                self.lines.answered();
                self.emit(TextEvent::Signal(Signal::Answered)).await
            }
        }
    }

    /// Answers every line still owed a `SayDone`, then sends `Ended`.
    async fn end(&mut self, end: LegEnd, provider_response: &str) -> Step {
        let now = Instant::now();
        let played = self.played_chars(now);
        self.playing = None;
        self.lines.end(played);
        self.carry_out(now).await?;
        self.emit(TextEvent::Signal(Signal::Ended { end, provider_response: provider_response.to_owned() })).await?;
        Err(Stop::Ended)
    }

    async fn finish_line(&mut self, now: Instant) -> Step {
        let Some(p) = self.playing.take() else { return Ok(()) };
        self.cut_in_at = None;
        let whole = self.lines.playing().map(|l| (l.text.clone(), l.chars));
        if let Some((text, chars)) = whole {
            self.lines.finished(chars);
            if !p.answered_by_cut_in {
                self.hear(&text, false);
            }
        }
        self.carry_out(now).await?;
        self.schedule_reaction(now);
        Ok(())
    }

    /// Barge-in silences the line playing; the playout then drops the
    /// queued ones.
    fn stop_line(&mut self, now: Instant) {
        let played = self.played_chars(now);
        let Some(p) = self.playing.take() else { return };
        self.cut_in_at = None;
        if let Some(line) = self.lines.playing() {
            if !p.answered_by_cut_in {
                let heard: String = line.text.chars().take(played).collect();
                let stopped = played < line.chars;
                self.hear(&heard, stopped);
            }
        }
        self.lines.finished(played);
    }

    fn hear(&mut self, text: &str, cut_off: bool) {
        self.heard.push_str(text);
        self.heard_cut_off = cut_off;
    }

    async fn cut_in(&mut self, now: Instant) -> Step {
        self.cut_in_at = None;
        if self.speech.is_some() {
            return Ok(());
        }
        let (Some(p), Some(line)) = (self.playing.as_mut(), self.lines.playing()) else { return Ok(()) };
        let Some(cut) = self.talker.cut_in(&line.text) else { return Ok(()) };
        if cut.takes_turn {
            p.answered_by_cut_in = true;
            self.heard.clear();
            self.heard_cut_off = false;
        }
        self.start_speech(cut.text, false, now).await
    }

    async fn start_speech(&mut self, text: String, then_hang_up: bool, now: Instant) -> Step {
        let ends = now + self.timing.real(self.timing.speaking_secs(text.chars().count()));
        self.speech = Some(Speech { text, ends, then_hang_up });
        self.emit(TextEvent::SpeechStarted).await
    }

    async fn finish_speech(&mut self, now: Instant) -> Step {
        let Some(speech) = self.speech.take() else { return Ok(()) };
        self.emit(TextEvent::Heard(speech.text)).await?;
        if speech.then_hang_up {
            self.hang_up_at = Some(now + self.timing.real(HANG_UP_PAUSE_SECS));
        } else {
            self.schedule_reaction(now);
        }
        Ok(())
    }

    /// Once both sides are quiet and the callee heard something, it answers
    /// after its reaction time.
    fn schedule_reaction(&mut self, now: Instant) {
        let quiet = self.lines.is_quiet() && self.speech.is_none();
        if !quiet || self.heard.is_empty() || self.hang_up_at.is_some() || self.reaction_at.is_some() {
            return;
        }
        let pause = self.timing.reaction_secs_after(&self.heard, self.heard_cut_off);
        self.reaction_at = Some(now + self.timing.real(pause));
    }

    async fn react(&mut self, now: Instant) -> Step {
        self.reaction_at = None;
        let heard = std::mem::take(&mut self.heard);
        let cut_off = std::mem::take(&mut self.heard_cut_off);
        let reaction = self.talker.on_turn(&Turn { text: &heard, cut_off });
        match reaction.say {
            Some(text) => self.start_speech(text, reaction.hang_up, now).await,
            None => {
                if reaction.hang_up {
                    self.hang_up_at = Some(now + self.timing.real(HANG_UP_PAUSE_SECS));
                }
                Ok(())
            }
        }
    }

    /// Characters of the line playing played by `now`, in proportion to
    /// the time it has been playing.
    fn played_chars(&self, now: Instant) -> usize {
        let (Some(p), Some(line)) = (self.playing.as_ref(), self.lines.playing()) else { return 0 };
        let total = p.ends.saturating_duration_since(p.started);
        let elapsed = now.saturating_duration_since(p.started);
        if elapsed >= total || total.is_zero() {
            return line.chars;
        }
        let share = elapsed.as_secs_f64() / total.as_secs_f64();
        ((line.chars as f64 * share).floor() as usize).min(line.chars)
    }
}
