//! The simulated network with sound: the same callees, speaking through a
//! TTS engine and hearing through an ASR engine, so a simulated call
//! exercises the whole voice pipeline, recognition errors included.
//!
//! An audio leg rings and picks up like the text leg ([`super::leg`]), then
//! runs one real 20 ms clock for the call. Every tick it
//! - sends 160 samples of the AI's clips ([`AudioCommand::Play`]), back to
//!   back, reporting `PlayStarted`/`PlayDone`;
//! - hands over an [`AudioEvent::Audio`] frame of the callee: its utterance
//!   playing, else a faint noise floor. Frames are never waited for: a full
//!   events channel drops them (and counts).
//!
//! What the callee says (its persona's lines) is synthesised off the clock;
//! the utterance starts at the first tick after its audio is ready and ends
//! with its last frame. What the AI plays back to back is one line; once
//! the AI has been quiet for [`LINE_GAP`] (or stopped a clip), the callee
//! makes the line out with the ASR and takes it in exactly as the text leg
//! takes in a line that ended. Its reaction pause counts from the end of
//! the AI's audio, so recognition time is part of it. A persona that talks
//! over the AI makes out each clip as it starts playing and starts its
//! utterance while the clip still plays, at the moment it would on a text
//! leg.
//!
//! Audio runs in real time: `speed` scales the ringing, the callee's
//! reaction and hang-up pauses only.

mod engines;
mod playout;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{interval, Instant, Interval, MissedTickBehavior};
use waihu_core::lifecycle::LegEnd;
use waihu_speech::{Asr, Tts};

use super::leg::{refusal, sleep_until_some, Callee, Phase, Step, Stop, Timing, HANG_UP_PAUSE_SECS};
use super::persona::{Pickup, Talker, Turn};
use crate::{AudioCommand, AudioEvent, AudioLeg, Signal};
use engines::{Done, Job, NoiseFloor};
use playout::{duration_of, Played, Playout, FRAME};

/// The media clock's period.
const TICK: Duration = Duration::from_millis(20);
/// A pause in the AI's audio this long ends the line the callee heard.
const LINE_GAP: Duration = Duration::from_millis(300);
/// The events channel's size.
const EVENTS_CAPACITY: usize = 64;
/// Room in the events channel that frames leave to the other events, so a
/// reader that falls behind costs frames, and `PlayStarted`/`PlayDone` never
/// wait on the clock (nor the clock on them).
const CONTROL_RESERVE: usize = 8;

/// The simulated callees' voice and ears.
#[derive(Clone)]
pub struct SimVoice {
    /// Says the callees' lines.
    pub tts: Arc<dyn Tts>,
    /// Hears the AI's audio.
    pub asr: Arc<dyn Asr>,
    /// The callees' voice (one of `tts`'s); `None` for its default.
    pub voice_id: Option<String>,
}

impl std::fmt::Debug for SimVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimVoice").field("asr", &self.asr.name()).field("voice_id", &self.voice_id).finish_non_exhaustive()
    }
}

/// Starts an audio leg's task and hands back its ends.
pub(crate) fn spawn(call_id: String, timing: Timing, callee: Callee, voice: SimVoice) -> AudioLeg {
    let (events_tx, events) = mpsc::channel(EVENTS_CAPACITY);
    let (commands, commands_rx) = mpsc::channel(32);
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let (ringing_at, outcome_at) = timing.calling_deadlines(callee.pickup, callee.ring_secs, Instant::now());
    let leg = AudioLegState {
        call_id,
        timing,
        pickup: callee.pickup,
        talker: callee.talker,
        ears: engines::ears(voice.asr.clone(), done_tx.clone()),
        voice,
        done_tx,
        events: events_tx,
        phase: Phase::Calling { ringing_at, outcome_at },
        clock: None,
        playout: Playout::default(),
        lines_in_flight: 0,
        epoch: 0,
        cut_in: None,
        speech: None,
        speech_seq: 0,
        spoke_until: None,
        heard: String::new(),
        heard_cut_off: false,
        reaction_at: None,
        hang_up_at: None,
        noise: NoiseFloor::default(),
        frames_sent: 0,
        frames_dropped: 0,
    };
    tokio::spawn(leg.run(commands_rx, done_rx));
    AudioLeg { events, commands }
}

/// The callee's utterance in progress.
enum Speech {
    /// Being synthesised.
    Preparing { seq: u64, then_hang_up: bool },
    /// Its audio going out, 160 samples a tick.
    Playing { pcm: Vec<i16>, pos: usize, then_hang_up: bool },
}

/// A moment, chosen by the talker, to talk over the clip playing.
struct CutInPlan {
    clip: u64,
    /// What the callee made of the clip.
    text: String,
    at: Instant,
}

struct AudioLegState {
    call_id: String,
    timing: Timing,
    pickup: Pickup,
    talker: Box<dyn Talker>,
    voice: SimVoice,
    /// Audio for the callee's ears.
    ears: mpsc::UnboundedSender<Job>,
    done_tx: mpsc::UnboundedSender<Done>,
    events: mpsc::Sender<AudioEvent>,
    phase: Phase,
    /// The 20 ms media clock, from the answer.
    clock: Option<Interval>,
    playout: Playout,
    /// Lines given to the ears and not yet made out.
    lines_in_flight: usize,
    /// Bumped when the callee's cut-in settles what it heard: lines made
    /// out before are forgotten.
    epoch: u64,
    cut_in: Option<CutInPlan>,
    speech: Option<Speech>,
    speech_seq: u64,
    /// When the callee's last utterance ended.
    spoke_until: Option<Instant>,
    /// What the callee heard since it last reacted.
    heard: String,
    heard_cut_off: bool,
    reaction_at: Option<Instant>,
    hang_up_at: Option<Instant>,
    noise: NoiseFloor,
    frames_sent: u64,
    frames_dropped: u64,
}

async fn tick(clock: &mut Option<Interval>) {
    match clock {
        Some(c) => {
            c.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl AudioLegState {
    async fn run(mut self, mut commands: mpsc::Receiver<AudioCommand>, mut done: mpsc::UnboundedReceiver<Done>) {
        let stop = loop {
            let deadline = self.next_deadline();
            let step = tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(command) => self.on_command(command).await,
                    None => Err(Stop::Abandoned),
                },
                Some(d) = done.recv() => self.on_done(d).await,
                () = sleep_until_some(deadline) => self.on_timers().await,
                () = tick(&mut self.clock) => self.on_tick().await,
            };
            if let Err(stop) = step {
                break stop;
            }
        };
        let (sent, dropped) = (self.frames_sent, self.frames_dropped);
        match stop {
            Stop::Ended => tracing::debug!(call_id = %self.call_id, sent, dropped, "simulated audio leg ended"),
            Stop::Abandoned => tracing::debug!(call_id = %self.call_id, sent, dropped, "simulated audio leg abandoned by its session"),
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let candidates = match self.phase {
            Phase::Calling { ringing_at, outcome_at } => [ringing_at, outcome_at, None],
            Phase::Connected => [self.cut_in.as_ref().map(|c| c.at), self.reaction_at, self.hang_up_at],
        };
        candidates.into_iter().flatten().min()
    }

    async fn emit(&mut self, event: AudioEvent) -> Step {
        self.events.send(event).await.map_err(|_| Stop::Abandoned)
    }

    async fn on_command(&mut self, command: AudioCommand) -> Step {
        match (self.phase, command) {
            (Phase::Calling { .. }, AudioCommand::Cancel | AudioCommand::HangUp) => {
                self.end(LegEnd::Released, "487 Request Terminated (simulated)").await
            }
            (Phase::Connected, AudioCommand::HangUp | AudioCommand::Cancel) => self.end(LegEnd::Released, "BYE (simulated)").await,
            // No media before answer: nothing of the clip can be heard.
            (Phase::Calling { .. }, AudioCommand::Play { id, .. }) => {
                self.emit(AudioEvent::PlayDone { id, samples_played: 0, stopped: true }).await
            }
            (Phase::Connected, AudioCommand::Play { id, pcm }) => {
                self.playout.push(id, pcm);
                // The AI speaks again: the callee waits for it to finish.
                self.reaction_at = None;
                Ok(())
            }
            (Phase::Calling { .. }, AudioCommand::StopPlaying) => Ok(()),
            (Phase::Connected, AudioCommand::StopPlaying) => {
                let mut played = Vec::new();
                let cut_off = self.playout.stop(&mut played);
                if played.is_empty() {
                    return Ok(());
                }
                self.cut_in = None;
                self.report(played).await?;
                // What went out of the line is what the callee heard.
                let line = self.playout.take_line(cut_off);
                self.take_in_line(line);
                Ok(())
            }
        }
    }

    async fn on_done(&mut self, done: Done) -> Step {
        let now = Instant::now();
        match done {
            Done::Line { epoch, text, cut_off, ended_at } => {
                self.lines_in_flight -= 1;
                if epoch == self.epoch {
                    self.heard.push_str(&text);
                    self.heard_cut_off = cut_off;
                }
                self.schedule_reaction(ended_at, now);
            }
            Done::Preview { clip, text, started_at, secs } => {
                let still_playing = self.playout.playing() == Some(clip);
                // Nothing made out (a click): nothing to talk over.
                if still_playing && !text.is_empty() && self.speech.is_none() && self.cut_in.is_none() {
                    if let Some(at) = self.talker.cut_in_at(&text, secs).filter(|at| (0.0..secs).contains(at)) {
                        // Recognition may have taken longer than the moment chosen.
                        let at = (started_at + Duration::from_secs_f64(at)).max(now);
                        self.cut_in = Some(CutInPlan { clip, text, at });
                    }
                }
            }
            Done::Spoken { seq, pcm } => {
                if let Some(Speech::Preparing { seq: s, then_hang_up }) = self.speech {
                    if s == seq {
                        match pcm.filter(|p| !p.is_empty()) {
                            Some(pcm) => self.speech = Some(Speech::Playing { pcm, pos: 0, then_hang_up }),
                            None => self.finish_speech(now),
                        }
                    }
                }
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
                        self.emit(AudioEvent::Signal(Signal::Ringing)).await?;
                    } else if due(outcome_at) {
                        return self.pick_up().await;
                    } else {
                        return Ok(());
                    }
                }
                Phase::Connected => {
                    if due(self.cut_in.as_ref().map(|c| c.at)) {
                        self.talk_over(now);
                    } else if due(self.reaction_at) {
                        self.react(now);
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
        if let Some((end, response)) = refusal(self.pickup) {
            return self.end(end, response).await;
        }
        self.phase = Phase::Connected;
        // The clock starts with the media: one made at the dial would make
        // up the ringing time in a burst of frames.
        let mut clock = interval(TICK);
        clock.set_missed_tick_behavior(MissedTickBehavior::Burst);
        self.clock = Some(clock);
        self.emit(AudioEvent::Signal(Signal::Answered)).await
    }

    /// One 20 ms tick: the AI's audio out, the callee's audio in.
    async fn on_tick(&mut self) -> Step {
        let now = Instant::now();
        let mut played = Vec::new();
        if self.playout.tick(now, &mut played) == 0 {
            let line = self.playout.line_after_gap(now, LINE_GAP);
            self.take_in_line(line);
        }
        self.report(played).await?;

        let mut frame = [0i16; FRAME];
        let mut finished = false;
        let mut voiced = 0;
        if let Some(Speech::Playing { pcm, pos, .. }) = &mut self.speech {
            voiced = (pcm.len() - *pos).min(FRAME);
            frame[..voiced].copy_from_slice(&pcm[*pos..*pos + voiced]);
            *pos += voiced;
            finished = *pos == pcm.len();
        }
        self.noise.fill(&mut frame[voiced..]);
        let room = self.events.capacity() > CONTROL_RESERVE;
        let sent = if room { self.events.try_send(AudioEvent::Audio { pcm: Arc::from(&frame[..]), at: now.into_std() }) } else { Ok(()) };
        match sent {
            Ok(()) if room => self.frames_sent += 1,
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => {
                if self.frames_dropped == 0 {
                    tracing::debug!(call_id = %self.call_id, "simulated audio frames dropped: the consumer is behind");
                }
                self.frames_dropped += 1;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(Stop::Abandoned),
        }
        if finished {
            self.finish_speech(now + duration_of(voiced));
        }
        Ok(())
    }

    /// Reports what happened to the clips, and has the callee listen to a
    /// clip that starts if it might talk over it.
    async fn report(&mut self, played: Vec<Played>) -> Step {
        for p in played {
            match p {
                Played::Started { id, pcm } => {
                    let now = Instant::now();
                    if self.speech.is_none() && self.talker.may_cut_in() {
                        let _ = self.ears.send(Job::Preview { clip: id, pcm, started_at: now });
                    }
                    self.emit(AudioEvent::PlayStarted { id, at: now.into_std() }).await?;
                }
                Played::Done { id, samples_played, stopped } => {
                    if self.cut_in.as_ref().is_some_and(|c| c.clip == id) {
                        self.cut_in = None;
                    }
                    self.emit(AudioEvent::PlayDone { id, samples_played, stopped }).await?;
                }
            }
        }
        Ok(())
    }

    /// Gives a finished line of the AI's audio to the callee's ears.
    fn take_in_line(&mut self, line: Option<playout::Line>) {
        let Some(line) = line else { return };
        self.lines_in_flight += 1;
        let job = Job::Line { epoch: self.epoch, pcm: line.pcm, cut_off: line.cut_off, ended_at: line.ended_at };
        if self.ears.send(job).is_err() {
            self.lines_in_flight -= 1;
        }
    }

    /// The moment to talk over the clip playing has come.
    fn talk_over(&mut self, now: Instant) {
        let Some(plan) = self.cut_in.take() else { return };
        if self.speech.is_some() || self.playout.playing() != Some(plan.clip) {
            return;
        }
        let Some(cut) = self.talker.cut_in(&plan.text) else { return };
        if cut.takes_turn {
            // It answers this clip: what it heard until now is settled.
            self.playout.answered_by_cut_in(plan.clip);
            self.heard.clear();
            self.heard_cut_off = false;
            self.epoch += 1;
        }
        self.start_speech(cut.text, false, now);
    }

    fn start_speech(&mut self, text: String, then_hang_up: bool, now: Instant) {
        if text.trim().is_empty() {
            return self.after_speech(then_hang_up, now);
        }
        self.speech_seq += 1;
        self.speech = Some(Speech::Preparing { seq: self.speech_seq, then_hang_up });
        engines::speak(self.voice.tts.clone(), self.voice.voice_id.clone(), self.speech_seq, text, self.done_tx.clone());
    }

    /// The callee's utterance is over (its last sample plays until `at`).
    fn finish_speech(&mut self, at: Instant) {
        match self.speech.take() {
            Some(Speech::Preparing { then_hang_up, .. } | Speech::Playing { then_hang_up, .. }) => self.after_speech(then_hang_up, at),
            None => {}
        }
    }

    fn after_speech(&mut self, then_hang_up: bool, at: Instant) {
        self.spoke_until = self.spoke_until.max(Some(at));
        if then_hang_up {
            self.hang_up_at = Some(at + self.timing.real(HANG_UP_PAUSE_SECS));
        } else {
            self.schedule_reaction(at, Instant::now());
        }
    }

    /// Once both sides are quiet, every line made out and the callee heard
    /// something, it answers its reaction time after `quiet_since`.
    fn schedule_reaction(&mut self, quiet_since: Instant, now: Instant) {
        let quiet = self.playout.is_idle() && !self.playout.line_open() && self.lines_in_flight == 0 && self.speech.is_none();
        if !quiet || self.heard.is_empty() || self.hang_up_at.is_some() || self.reaction_at.is_some() {
            return;
        }
        let quiet_since = quiet_since.max(self.spoke_until.unwrap_or(quiet_since));
        let pause = self.timing.reaction_secs_after(&self.heard, self.heard_cut_off);
        self.reaction_at = Some((quiet_since + self.timing.real(pause)).max(now));
    }

    fn react(&mut self, now: Instant) {
        self.reaction_at = None;
        let heard = std::mem::take(&mut self.heard);
        let cut_off = std::mem::take(&mut self.heard_cut_off);
        let reaction = self.talker.on_turn(&Turn { text: &heard, cut_off });
        match reaction.say {
            Some(text) => self.start_speech(text, reaction.hang_up, now),
            None if reaction.hang_up => self.hang_up_at = Some(now + self.timing.real(HANG_UP_PAUSE_SECS)),
            None => {}
        }
    }

    /// Answers every clip still owed an answer, then sends `Ended`.
    async fn end(&mut self, end: LegEnd, provider_response: &str) -> Step {
        let mut played = Vec::new();
        self.playout.stop(&mut played);
        for p in played {
            if let Played::Done { id, samples_played, stopped } = p {
                self.emit(AudioEvent::PlayDone { id, samples_played, stopped }).await?;
            }
        }
        self.emit(AudioEvent::Signal(Signal::Ended { end, provider_response: provider_response.to_owned() })).await?;
        Err(Stop::Ended)
    }
}
