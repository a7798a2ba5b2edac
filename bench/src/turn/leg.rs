//! A fake audio leg in the process: the audio level of the leg contract
//! (`waihu_carrier`) on a real tokio 20 ms clock, with a scripted callee.
//!
//! Every tick, on one clock, as the SIP leg's media engine does:
//! - the AI's side: the next 160 samples of the queued `Play` clips go out
//!   (gaplessly from one clip to the next); a clip's first frame is
//!   reported with `PlayStarted { at: tick }`, its end with `PlayDone`;
//!   `StopSaying` drops every queued clip at once (each answered with
//!   `PlayDone { stopped: true }`), so no AI audio goes out from the next
//!   tick on;
//! - the callee's side: the next frame of what the callee is saying, or the
//!   line's hiss, sent as `Audio { at: tick }` with `try_send` (never
//!   waited for; a frame the pipeline cannot take is dropped and counted).
//!
//! What the benchmark measures is taken here, at the wire: the instant of
//! each utterance's first and last voiced frame (by energy, from the audio
//! itself), and of the first and last AI frame of each stretch of AI audio.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval, MissedTickBehavior};
use waihu_carrier::{AudioCommand, AudioEvent, AudioLeg, Signal};
use waihu_core::lifecycle::LegEnd;

use super::audio::{voiced, Hiss, Utterance, FRAME};

/// What the script asks of the leg.
#[derive(Debug)]
pub enum Control {
    /// Say this from the next tick on (after anything already being said).
    Speak(Arc<Utterance>, oneshot::Sender<Spoken>),
    /// Hang up: the leg ends.
    End,
}

/// When an utterance went out, frame by frame.
#[derive(Debug, Clone, Copy)]
pub struct Spoken {
    /// Its first frame.
    pub started: Instant,
    /// Its first voiced frame.
    pub first_voiced: Instant,
    /// Its last voiced frame.
    pub last_voiced: Instant,
}

/// What the leg saw of the AI's audio.
#[derive(Debug, Clone, Copy)]
pub enum Obs {
    /// AI audio started after a tick without any: its first frame went out
    /// at `at`; the clip had been waiting `waited` for the 20 ms clock.
    AiStarted { at: Instant, waited: Duration },
    /// The AI audio stopped: `last` is the instant of its last frame;
    /// `stop` the instant a `StopSaying` cut it, if one did.
    AiEnded { last: Instant, stop: Option<Instant> },
}

/// The script's end of the leg.
pub struct LegControl {
    /// Commands to the leg.
    pub control: mpsc::UnboundedSender<Control>,
    /// What it saw of the AI, in order.
    pub obs: mpsc::UnboundedReceiver<Obs>,
    /// The text of the utterance the callee began last (the fake
    /// recogniser's answer).
    pub said: Arc<Mutex<String>>,
    /// Callee frames the pipeline could not take.
    pub dropped: Arc<Mutex<u64>>,
}

/// Starts a leg that answers at once. Returns the audio-level leg for the
/// pipeline and the script's control of the callee.
pub fn spawn() -> (AudioLeg, LegControl) {
    let (up, events) = mpsc::channel(64);
    let (commands, commands_rx) = mpsc::channel(32);
    let (control, control_rx) = mpsc::unbounded_channel();
    let (obs_tx, obs) = mpsc::unbounded_channel();
    let said = Arc::new(Mutex::new(String::new()));
    let dropped = Arc::new(Mutex::new(0));
    let leg = FakeLeg {
        up,
        obs: obs_tx,
        said: said.clone(),
        dropped: dropped.clone(),
        clips: VecDeque::new(),
        speaking: VecDeque::new(),
        hiss: Hiss::default(),
        ai_last: None,
        stop: None,
    };
    tokio::spawn(leg.run(commands_rx, control_rx));
    (AudioLeg { events, commands }, LegControl { control, obs, said, dropped })
}

struct Clip {
    id: u64,
    pcm: Arc<[i16]>,
    pos: usize,
    received: Instant,
}

struct Speaking {
    utt: Arc<Utterance>,
    pos: usize,
    started: Option<Instant>,
    first_voiced: Option<Instant>,
    last_voiced: Option<Instant>,
    done: Option<oneshot::Sender<Spoken>>,
}

struct FakeLeg {
    up: mpsc::Sender<AudioEvent>,
    obs: mpsc::UnboundedSender<Obs>,
    said: Arc<Mutex<String>>,
    dropped: Arc<Mutex<u64>>,
    clips: VecDeque<Clip>,
    speaking: VecDeque<Speaking>,
    hiss: Hiss,
    /// The last AI frame sent, while AI audio is going out.
    ai_last: Option<Instant>,
    /// A `StopSaying` cut the AI audio playing.
    stop: Option<Instant>,
}

impl FakeLeg {
    async fn run(mut self, mut commands: mpsc::Receiver<AudioCommand>, mut control: mpsc::UnboundedReceiver<Control>) {
        let _ = self.up.send(AudioEvent::Signal(Signal::Answered)).await;
        let mut clock = interval(Duration::from_millis(20));
        clock.set_missed_tick_behavior(MissedTickBehavior::Burst);
        loop {
            tokio::select! {
                biased;
                cmd = commands.recv() => match cmd {
                    Some(AudioCommand::HangUp | AudioCommand::Cancel) | None => break,
                    Some(cmd) => self.on_command(cmd).await,
                },
                c = control.recv() => match c {
                    Some(Control::Speak(utt, done)) => {
                        self.speaking.push_back(Speaking { utt, pos: 0, started: None, first_voiced: None, last_voiced: None, done: Some(done) });
                    }
                    Some(Control::End) | None => break,
                },
                _ = clock.tick() => self.tick().await,
            }
        }
        for clip in std::mem::take(&mut self.clips) {
            let _ = self.up.send(AudioEvent::PlayDone { id: clip.id, samples_played: clip.pos, stopped: true }).await;
        }
        let _ = self.up.send(AudioEvent::Signal(Signal::Ended { end: LegEnd::Released, provider_response: String::new() })).await;
    }

    async fn on_command(&mut self, cmd: AudioCommand) {
        match cmd {
            AudioCommand::Play { id, pcm } => self.clips.push_back(Clip { id, pcm, pos: 0, received: Instant::now() }),
            AudioCommand::StopPlaying => {
                if self.ai_last.is_some() {
                    self.stop = Some(Instant::now());
                }
                for clip in std::mem::take(&mut self.clips) {
                    let _ = self.up.send(AudioEvent::PlayDone { id: clip.id, samples_played: clip.pos, stopped: true }).await;
                }
            }
            AudioCommand::HangUp | AudioCommand::Cancel => {}
        }
    }

    async fn tick(&mut self) {
        let now = Instant::now();
        self.ai_out(now).await;
        let frame = self.callee_frame(now);
        if self.up.try_send(AudioEvent::Audio { pcm: Arc::from(&frame[..]), at: now }).is_err() {
            *self.dropped.lock().expect("lock") += 1;
        }
    }

    async fn ai_out(&mut self, now: Instant) {
        let mut filled = 0;
        let mut first_waited = None;
        while filled < FRAME {
            let Some(clip) = self.clips.front_mut() else { break };
            if clip.pos == 0 {
                first_waited.get_or_insert(now.saturating_duration_since(clip.received));
                let _ = self.up.send(AudioEvent::PlayStarted { id: clip.id, at: now }).await;
            }
            let take = (FRAME - filled).min(clip.pcm.len() - clip.pos);
            clip.pos += take;
            filled += take;
            if clip.pos == clip.pcm.len() {
                let clip = self.clips.pop_front().expect("front clip");
                let _ = self.up.send(AudioEvent::PlayDone { id: clip.id, samples_played: clip.pos, stopped: false }).await;
            }
        }
        if filled > 0 {
            if self.ai_last.is_none() {
                let _ = self.obs.send(Obs::AiStarted { at: now, waited: first_waited.unwrap_or_default() });
            }
            self.ai_last = Some(now);
        } else if let Some(last) = self.ai_last.take() {
            let _ = self.obs.send(Obs::AiEnded { last, stop: self.stop.take() });
        }
    }

    fn callee_frame(&mut self, now: Instant) -> [i16; FRAME] {
        let mut frame = [0i16; FRAME];
        let Some(s) = self.speaking.front_mut() else {
            frame.iter_mut().for_each(|x| *x = self.hiss.sample());
            return frame;
        };
        if s.started.is_none() {
            s.started = Some(now);
            s.utt.text.clone_into(&mut self.said.lock().expect("lock"));
        }
        let end = (s.pos + FRAME).min(s.utt.pcm.len());
        frame[..end - s.pos].copy_from_slice(&s.utt.pcm[s.pos..end]);
        s.pos = end;
        if voiced(&frame) {
            s.first_voiced.get_or_insert(now);
            s.last_voiced = Some(now);
        }
        if s.pos == s.utt.pcm.len() {
            let s = self.speaking.pop_front().expect("front utterance");
            if let (Some(done), Some(started)) = (s.done, s.started) {
                // Utterances start and end voiced (see audio::tidy).
                let first_voiced = s.first_voiced.unwrap_or(started);
                let _ = done.send(Spoken { started, first_voiced, last_voiced: s.last_voiced.unwrap_or(first_voiced) });
            }
        }
        frame
    }
}
