//! The simulated network with sound: the same callees, heard and spoken
//! through real speech engines.
//!
//! An audio leg runs the callee's text leg (its persona, timing and
//! reactions) inside, and puts sound at both ends of it:
//! - what the callee says (the text leg's `Heard`) is synthesised with the
//!   configured TTS and sent as 20 ms frames on the leg's own clock, with a
//!   faint noise floor between utterances as a real line has;
//! - what the AI sends ([`LegCommand::Play`] clips) is played on the same
//!   clock and, once the AI pauses, transcribed with the configured ASR and
//!   given to the callee as the line it heard.
//!
//! So a simulated call exercises the whole voice pipeline, recognition
//! errors included. The clock runs in real time (`speed` still scales the
//! ringing and the callee's reaction pauses); lines are "played" to the
//! inner text leg instantly, since their audio already took its time here.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{interval, Instant, MissedTickBehavior};
use waihu_speech::{synthesize_all, Asr, Tts, TtsRequest};

use super::leg::{self, Callee, Timing};
use crate::{Leg, LegCommand, LegEvent};

/// Samples in a 20 ms frame at 8 kHz.
const FRAME: usize = 160;
/// A pause in the AI's audio this long ends the line the callee heard.
/// Longer than the gap between two chunks of one line on a loaded machine
/// (each is synthesised while the one before plays), shorter than a
/// listener's patience.
const LINE_GAP: Duration = Duration::from_millis(600);

/// The simulated callees' voice and ears.
#[derive(Clone)]
pub struct SimVoice {
    /// Says the callees' lines.
    pub tts: Arc<dyn Tts>,
    /// Hears the AI's lines.
    pub asr: Arc<dyn Asr>,
    /// The callees' voice (one of `tts`'s); `None` for its default.
    pub voice_id: Option<String>,
}

impl std::fmt::Debug for SimVoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimVoice").field("asr", &self.asr.name()).field("voice_id", &self.voice_id).finish_non_exhaustive()
    }
}

pub(crate) fn spawn(call_id: String, timing: Timing, callee: Callee, voice: SimVoice) -> Leg {
    // Lines reach the callee when their audio has played: no second delay.
    let inner_timing = Timing { chars_per_second: 10_000.0, ..timing };
    let inner = leg::spawn(call_id, inner_timing, callee);
    let (events_tx, events) = mpsc::channel(64);
    let (commands, commands_rx) = mpsc::channel(32);
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let task = AudioLeg {
        voice,
        up: events_tx,
        inner: inner.commands,
        done_tx,
        answered: false,
        clock: None,
        clips: VecDeque::new(),
        callee_audio: VecDeque::new(),
        heard: Vec::new(),
        last_ai_audio: None,
        next_line: 1,
        noise: 0x2545_f491,
        dropped: 0,
    };
    tokio::spawn(task.run(inner.events, commands_rx, done_rx));
    Leg { events, commands }
}

struct Clip {
    id: u64,
    pcm: Arc<[i16]>,
    pos: usize,
}

/// Work finished off the clock.
enum Done {
    /// A callee line's audio is ready.
    Spoken(Vec<i16>),
    /// What the callee made of the AI's line.
    Heard(String),
}

struct AudioLeg {
    voice: SimVoice,
    up: mpsc::Sender<LegEvent>,
    inner: mpsc::Sender<LegCommand>,
    done_tx: mpsc::UnboundedSender<Done>,
    answered: bool,
    /// The 20 ms media clock, from the answer.
    clock: Option<tokio::time::Interval>,
    clips: VecDeque<Clip>,
    callee_audio: VecDeque<i16>,
    /// The AI's audio since the callee last heard a line.
    heard: Vec<i16>,
    last_ai_audio: Option<Instant>,
    next_line: u64,
    noise: u32,
    dropped: u64,
}

impl AudioLeg {
    async fn run(mut self, mut inner: mpsc::Receiver<LegEvent>, mut commands: mpsc::Receiver<LegCommand>, mut done: mpsc::UnboundedReceiver<Done>) {
        loop {
            tokio::select! {
                biased;
                ev = inner.recv() => match ev {
                    Some(ev) => if !self.on_inner(ev).await { break },
                    None => break,
                },
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.on_command(cmd).await,
                    None => {
                        let _ = self.inner.send(LegCommand::HangUp).await;
                    }
                },
                Some(d) = done.recv() => match d {
                    Done::Spoken(pcm) => self.callee_audio.extend(pcm),
                    Done::Heard(text) => {
                        let id = self.next_line;
                        self.next_line += 1;
                        let _ = self.inner.send(LegCommand::Say { id, text }).await;
                    }
                },
                _ = async { match self.clock.as_mut() { Some(c) => c.tick().await, None => std::future::pending().await } } => self.tick().await,
            }
        }
        if self.dropped > 0 {
            tracing::debug!(frames = self.dropped, "simulated audio frames dropped: the pipeline was behind");
        }
    }

    /// Returns false once the leg has ended.
    async fn on_inner(&mut self, ev: LegEvent) -> bool {
        match ev {
            LegEvent::Answered => {
                self.answered = true;
                // The clock starts with the media: one made at the dial would
                // make up the ringing time in a burst of frames.
                let mut clock = interval(Duration::from_millis(20));
                clock.set_missed_tick_behavior(MissedTickBehavior::Burst);
                self.clock = Some(clock);
                let _ = self.up.send(LegEvent::Answered).await;
            }
            LegEvent::Heard(text) => {
                let tts = self.voice.tts.clone();
                let mut req = TtsRequest::new(text);
                req.voice_id = self.voice.voice_id.clone();
                let done = self.done_tx.clone();
                tokio::spawn(async move {
                    match synthesize_all(tts.as_ref(), req).await {
                        Ok(pcm) => {
                            let _ = done.send(Done::Spoken(pcm));
                        }
                        Err(e) => tracing::warn!(error = %e, "the simulated callee could not speak its line"),
                    }
                });
            }
            // The callee's own lines to itself: nothing for the session.
            LegEvent::SayDone { .. } | LegEvent::SpeechStarted => {}
            LegEvent::Ended { end, provider_response } => {
                for clip in std::mem::take(&mut self.clips) {
                    let _ = self.up.send(LegEvent::PlayDone { id: clip.id, samples_played: clip.pos, stopped: true }).await;
                }
                let _ = self.up.send(LegEvent::Ended { end, provider_response }).await;
                return false;
            }
            other => {
                let _ = self.up.send(other).await;
            }
        }
        true
    }

    async fn on_command(&mut self, cmd: LegCommand) {
        match cmd {
            LegCommand::Play { id, pcm } if self.answered => self.clips.push_back(Clip { id, pcm, pos: 0 }),
            LegCommand::Play { id, .. } => {
                let _ = self.up.send(LegEvent::PlayDone { id, samples_played: 0, stopped: true }).await;
            }
            LegCommand::StopSaying => {
                for clip in std::mem::take(&mut self.clips) {
                    let _ = self.up.send(LegEvent::PlayDone { id: clip.id, samples_played: clip.pos, stopped: true }).await;
                }
                // What was played of it is what the callee heard.
                self.hear_line();
            }
            LegCommand::Say { id, .. } | LegCommand::SayPart { id, last: true, .. } => {
                // An audio leg takes sound, not text.
                let _ = self.up.send(LegEvent::SayDone { id, played_chars: 0, stopped: true }).await;
            }
            LegCommand::SayPart { .. } => {}
            cmd @ (LegCommand::Cancel | LegCommand::HangUp) => {
                let _ = self.inner.send(cmd).await;
            }
        }
    }

    async fn tick(&mut self) {
        let now = Instant::now();
        // The AI's audio out.
        let mut filled = 0;
        while filled < FRAME {
            let Some(clip) = self.clips.front_mut() else { break };
            if clip.pos == 0 {
                let _ = self.up.send(LegEvent::PlayStarted { id: clip.id, at: now.into_std() }).await;
            }
            let take = (FRAME - filled).min(clip.pcm.len() - clip.pos);
            self.heard.extend_from_slice(&clip.pcm[clip.pos..clip.pos + take]);
            clip.pos += take;
            filled += take;
            if clip.pos == clip.pcm.len() {
                let clip = self.clips.pop_front().expect("front clip");
                let _ = self.up.send(LegEvent::PlayDone { id: clip.id, samples_played: clip.pos, stopped: false }).await;
            }
        }
        if filled > 0 {
            self.last_ai_audio = Some(now);
        } else if self.last_ai_audio.is_some_and(|t| now.duration_since(t) >= LINE_GAP) {
            self.hear_line();
        }
        // The callee's audio in: its line, or the line's faint hiss.
        let mut frame = [0i16; FRAME];
        for s in frame.iter_mut() {
            *s = self.callee_audio.pop_front().unwrap_or_else(|| {
                // xorshift: a few LSB of noise, as a quiet line has.
                self.noise ^= self.noise << 13;
                self.noise ^= self.noise >> 17;
                self.noise ^= self.noise << 5;
                (self.noise % 7) as i16 - 3
            });
        }
        if let Err(mpsc::error::TrySendError::Full(_)) = self.up.try_send(LegEvent::Audio { pcm: Arc::from(&frame[..]), at: now.into_std() }) {
            if self.dropped == 0 {
                tracing::debug!(clips = self.clips.len(), answered = self.answered, "first simulated audio frame dropped");
            }
            self.dropped += 1;
        }
    }

    /// The AI paused: the callee makes out what it said.
    fn hear_line(&mut self) {
        self.last_ai_audio = None;
        let pcm = std::mem::take(&mut self.heard);
        if pcm.len() < FRAME * 5 {
            return;
        }
        let asr = self.voice.asr.clone();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            match asr.transcribe(&pcm).await {
                Ok(t) if !t.text.trim().is_empty() => {
                    let _ = done.send(Done::Heard(t.text));
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the simulated callee could not make out the AI's line"),
            }
        });
    }
}
