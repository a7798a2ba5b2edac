//! The per-call task: one loop that owns the listener, the turn-taker, the
//! lines being said and the latency marks, and reacts to whichever comes
//! first: the leg's events, the session's commands, synthesised audio, the
//! recogniser's results, or the turn-taker's next timer. What it says is in
//! `speaking`, what it hears in `hearing`.

mod hearing;
mod speaking;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::time::sleep_until;
use waihu_carrier::{AudioCommand, AudioEvent, AudioLeg, Signal, TextCommand, TextEvent, TextLeg};
use waihu_speech::{AsrError, AsrEvent, AsrSession};
use waihu_turn::{Input, LatencyRecorder, TurnLatencyMs, TurnTaker};

use crate::listen::Listener;
use crate::record::StereoRecorder;
use crate::speak::{Line, SpeechOut, VoiceParams};
use crate::{CallVoice, VoiceEngines, VoiceLeg};

pub(crate) fn spawn(audio_leg: AudioLeg, engines: Arc<VoiceEngines>, call: CallVoice) -> VoiceLeg {
    let (up, events) = mpsc::channel(64);
    let (turns_tx, turns) = mpsc::unbounded_channel();
    let (commands, commands_rx) = mpsc::channel(32);
    let (speech_tx, speech_rx) = mpsc::unbounded_channel();
    let pipeline = Pipeline {
        listener: Listener::new((engines.vad)()),
        turn: TurnTaker::new(engines.turn),
        voice: VoiceParams { voice_id: call.voice_id.clone(), speed: call.speed, volume: call.volume },
        recorder: call.record_to.is_some().then(StereoRecorder::new),
        engines,
        call,
        up,
        up_outbox: VecDeque::new(),
        down: audio_leg.commands,
        outbox: VecDeque::new(),
        asr_events: None,
        asr_starting: None,
        lines: VecDeque::new(),
        newest_line: 0,
        clips: HashMap::new(),
        next_clip: 1,
        answered: false,
        speech_tx,
        latency: None,
        latency_line: None,
        turns: turns_tx,
        session_gone: false,
    };
    tokio::spawn(pipeline.run(audio_leg.events, commands_rx, speech_rx));
    VoiceLeg { leg: TextLeg { events, commands }, turns }
}

/// A clip on its way through the leg.
struct Clip {
    line: u64,
    chunk: usize,
    /// Kept for the recording only.
    pcm: Option<Vec<i16>>,
    started: Option<Instant>,
}

struct Pipeline {
    engines: Arc<VoiceEngines>,
    call: CallVoice,
    voice: VoiceParams,
    /// Toward the session.
    up: mpsc::Sender<TextEvent>,
    /// Events the session has had no room for yet.
    up_outbox: VecDeque<TextEvent>,
    /// Toward the audio leg.
    down: mpsc::Sender<AudioCommand>,
    /// Commands the leg has had no room for yet. The pipeline never waits
    /// on the leg: the leg waits on the pipeline to take its events, and
    /// two tasks each waiting for the other's channel would stall both.
    outbox: VecDeque<AudioCommand>,
    listener: Listener,
    turn: TurnTaker,
    asr_events: Option<mpsc::Receiver<AsrEvent>>,
    asr_starting: Option<oneshot::Receiver<Result<AsrSession, AsrError>>>,
    /// The line playing first, then the ones queued behind it.
    lines: VecDeque<Line>,
    /// The highest line id seen: parts of older lines (already answered) are
    /// dropped.
    newest_line: u64,
    clips: HashMap<u64, Clip>,
    next_clip: u64,
    answered: bool,
    speech_tx: mpsc::UnboundedSender<SpeechOut>,
    /// The callee's turn waiting for the first audio of its answer.
    latency: Option<LatencyRecorder>,
    /// The line answering it.
    latency_line: Option<u64>,
    /// Each answered turn's latency, toward the session.
    turns: mpsc::UnboundedSender<TurnLatencyMs>,
    recorder: Option<StereoRecorder>,
    session_gone: bool,
}

enum Wake {
    Leg(Option<AudioEvent>),
    Command(Option<TextCommand>),
    Speech(SpeechOut),
    Asr(Option<AsrEvent>),
    AsrStarted(Result<AsrSession, AsrError>),
    Timer,
}

impl Pipeline {
    async fn run(
        mut self,
        mut leg_events: mpsc::Receiver<AudioEvent>,
        mut commands: mpsc::Receiver<TextCommand>,
        mut speech: mpsc::UnboundedReceiver<SpeechOut>,
    ) {
        loop {
            let timer = self.turn.poll_timeout().map(tokio::time::Instant::from_std);
            let wake = tokio::select! {
                biased;
                ev = leg_events.recv() => Wake::Leg(ev),
                cmd = commands.recv(), if !self.session_gone => Wake::Command(cmd),
                Some(out) = speech.recv() => Wake::Speech(out),
                ev = async { match self.asr_events.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => Wake::Asr(ev),
                started = async { match self.asr_starting.as_mut() { Some(rx) => rx.await, None => std::future::pending().await } } => {
                    self.asr_starting = None;
                    Wake::AsrStarted(started.unwrap_or(Err(AsrError::Protocol("the recogniser's start task ended".into()))))
                }
                () = async { match timer { Some(t) => sleep_until(t).await, None => std::future::pending().await } } => Wake::Timer,
                permit = self.up.reserve(), if !self.up_outbox.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(ev) = self.up_outbox.pop_front() {
                            permit.send(ev);
                        }
                        continue;
                    }
                    Err(_) => Wake::Command(None),
                },
                permit = self.down.reserve(), if !self.outbox.is_empty() => {
                    if let (Ok(permit), Some(cmd)) = (permit, self.outbox.pop_front()) {
                        permit.send(cmd);
                    }
                    continue;
                }
            };
            let go_on = match wake {
                Wake::Leg(Some(ev)) => self.on_leg(ev).await,
                Wake::Leg(None) => false,
                Wake::Command(Some(cmd)) => {
                    self.on_command(cmd).await;
                    true
                }
                Wake::Command(None) => {
                    // The session is gone: do not leave the callee on the line.
                    self.session_left();
                    true
                }
                Wake::Speech(out) => {
                    self.on_speech(out).await;
                    true
                }
                Wake::Asr(Some(ev)) => {
                    self.on_asr(ev);
                    true
                }
                Wake::Asr(None) => {
                    self.asr_events = None;
                    true
                }
                Wake::AsrStarted(Ok(session)) => {
                    self.listener.set_asr(session.input);
                    self.asr_events = Some(session.events);
                    true
                }
                Wake::AsrStarted(Err(e)) => {
                    tracing::error!(error = %e, "speech recognition did not start: the callee cannot be heard on this call");
                    true
                }
                Wake::Timer => {
                    self.turn.handle(Input::Timeout, crate::clock::now());
                    true
                }
            };
            if !go_on {
                break;
            }
            self.drain_turn().await;
        }
        let dropped = self.listener.dropped_samples();
        if dropped > 0 {
            tracing::warn!(dropped_ms = dropped / 8, "the recogniser fell behind and lost callee audio");
        }
    }

    /// Queues a command for the leg, in order, without waiting.
    fn send_down(&mut self, cmd: AudioCommand) {
        if self.outbox.is_empty() {
            match self.down.try_send(cmd) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(cmd)) => self.outbox.push_back(cmd),
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        } else {
            self.outbox.push_back(cmd);
        }
    }

    /// Queues an event for the session, in order. The session may be busy
    /// (writing a line to the store) while the callee's audio keeps coming:
    /// it is read on meanwhile, not left to pile up at the leg.
    async fn emit(&mut self, ev: TextEvent) {
        if self.up_outbox.is_empty() {
            match self.up.try_send(ev) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(ev)) => self.up_outbox.push_back(ev),
                Err(mpsc::error::TrySendError::Closed(_)) => self.session_left(),
            }
        } else {
            self.up_outbox.push_back(ev);
        }
    }

    fn session_left(&mut self) {
        if !self.session_gone {
            self.session_gone = true;
            self.up_outbox.clear();
            self.send_down(AudioCommand::HangUp);
        }
    }

    /// Delivers what is still queued for the session (at the leg's end).
    async fn drain_up(&mut self) {
        while let Some(ev) = self.up_outbox.pop_front() {
            if self.up.send(ev).await.is_err() {
                return;
            }
        }
    }

    /// Returns false once the leg has ended.
    async fn on_leg(&mut self, ev: AudioEvent) -> bool {
        match ev {
            AudioEvent::Signal(Signal::Answered) => {
                self.answered = true;
                let asr = (self.engines.asr)(&self.call.asr_hint);
                let (tx, rx) = oneshot::channel();
                // Connecting a cloud recogniser takes a round trip: not here.
                tokio::spawn(async move {
                    let _ = tx.send(asr.start().await);
                });
                self.asr_starting = Some(rx);
                self.emit(TextEvent::Signal(Signal::Answered)).await;
            }
            AudioEvent::Audio { pcm, at } => {
                if let Some(r) = self.recorder.as_mut() {
                    r.callee(&pcm, at);
                }
                self.listener.hear(&pcm, at, &mut self.turn);
            }
            AudioEvent::PlayStarted { id, at } => self.on_play_started(id, at).await,
            AudioEvent::PlayDone { id, samples_played, stopped: _ } => self.on_play_done(id, samples_played).await,
            AudioEvent::Signal(Signal::Ended { end, provider_response }) => {
                let lines: Vec<Line> = self.lines.drain(..).collect();
                for mut line in lines {
                    line.cancel();
                    let played = line.played_chars();
                    let whole = line.finished() && !line.failed;
                    let played_chars = if whole { line.text_chars() } else { played };
                    self.emit(TextEvent::SayDone { id: line.id, played_chars, stopped: !whole }).await;
                }
                self.write_recording().await;
                self.emit(TextEvent::Signal(Signal::Ended { end, provider_response })).await;
                self.drain_up().await;
                return false;
            }
            AudioEvent::Signal(signal) => self.emit(TextEvent::Signal(signal)).await,
        }
        true
    }

    async fn on_command(&mut self, cmd: TextCommand) {
        match cmd {
            TextCommand::Say { id, text } => self.on_text(id, &text, true).await,
            TextCommand::SayPart { id, text, last } => self.on_text(id, &text, last).await,
            TextCommand::StopSaying => self.stop_all().await,
            TextCommand::Cancel => self.send_down(AudioCommand::Cancel),
            TextCommand::HangUp => self.send_down(AudioCommand::HangUp),
        }
    }

    async fn write_recording(&mut self) {
        let (Some(rec), Some(path)) = (self.recorder.take(), self.call.record_to.clone()) else { return };
        let seconds = rec.seconds();
        match tokio::task::spawn_blocking(move || rec.write(&path).map(|()| path)).await {
            Ok(Ok(path)) => tracing::info!(path = %path.display(), seconds, "call recorded"),
            Ok(Err(e)) => tracing::error!(error = %e, "the call's recording could not be written"),
            Err(e) => tracing::error!(error = %e, "the recording task failed"),
        }
    }
}
