//! The per-call task: one loop that owns the listener, the turn-taker, the
//! lines being said and the latency marks, and reacts to whichever comes
//! first: the leg's events, the session's commands, synthesised audio, the
//! recogniser's results, or the turn-taker's next timer.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::time::sleep_until;
use waihu_carrier::{Leg, LegCommand, LegEvent};
use waihu_speech::{AsrError, AsrEvent, AsrSession};
use waihu_turn::{Input, LatencyRecorder, Mark, Output, TurnTaker};

use crate::listen::Listener;
use crate::record::StereoRecorder;
use crate::speak::{Line, SpeechOut, VoiceParams};
use crate::{CallVoice, VoiceEngines};

/// Smallest clip sent after a line's first: 200 ms.
const MIN_CLIP: usize = 1_600;

pub(crate) fn spawn(audio_leg: Leg, engines: Arc<VoiceEngines>, call: CallVoice) -> Leg {
    let (up, events) = mpsc::channel(64);
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
        session_gone: false,
    };
    tokio::spawn(pipeline.run(audio_leg.events, commands_rx, speech_rx));
    Leg { events, commands }
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
    up: mpsc::Sender<LegEvent>,
    /// Events the session has had no room for yet.
    up_outbox: VecDeque<LegEvent>,
    /// Toward the audio leg.
    down: mpsc::Sender<LegCommand>,
    /// Commands the leg has had no room for yet. The pipeline never waits
    /// on the leg: the leg waits on the pipeline to take its events, and
    /// two tasks each waiting for the other's channel would stall both.
    outbox: VecDeque<LegCommand>,
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
    recorder: Option<StereoRecorder>,
    session_gone: bool,
}

enum Wake {
    Leg(Option<LegEvent>),
    Command(Option<LegCommand>),
    Speech(SpeechOut),
    Asr(Option<AsrEvent>),
    AsrStarted(Result<AsrSession, AsrError>),
    Timer,
}

impl Pipeline {
    async fn run(
        mut self,
        mut leg_events: mpsc::Receiver<LegEvent>,
        mut commands: mpsc::Receiver<LegCommand>,
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
    fn send_down(&mut self, cmd: LegCommand) {
        if self.outbox.is_empty() {
            match self.down.try_send(cmd) {
                Ok(()) => return,
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
    async fn emit(&mut self, ev: LegEvent) {
        if self.up_outbox.is_empty() {
            match self.up.try_send(ev) {
                Ok(()) => return,
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
            self.send_down(LegCommand::HangUp);
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
    async fn on_leg(&mut self, ev: LegEvent) -> bool {
        match ev {
            LegEvent::Answered => {
                self.answered = true;
                let asr = (self.engines.asr)(&self.call.asr_hint);
                let (tx, rx) = oneshot::channel();
                // Connecting a cloud recogniser takes a round trip: not here.
                tokio::spawn(async move {
                    let _ = tx.send(asr.start().await);
                });
                self.asr_starting = Some(rx);
                self.emit(LegEvent::Answered).await;
            }
            LegEvent::Audio { pcm, at } => {
                if let Some(r) = self.recorder.as_mut() {
                    r.callee(&pcm, at);
                }
                self.listener.hear(&pcm, at, &mut self.turn);
            }
            LegEvent::PlayStarted { id, at } => self.on_play_started(id, at).await,
            LegEvent::PlayDone { id, samples_played, stopped: _ } => self.on_play_done(id, samples_played).await,
            LegEvent::Ended { end, provider_response } => {
                let lines: Vec<Line> = self.lines.drain(..).collect();
                for mut line in lines {
                    line.cancel();
                    let played = line.played_chars();
                    let whole = line.finished() && !line.failed;
                    let played_chars = if whole { line.text_chars() } else { played };
                    self.emit(LegEvent::SayDone { id: line.id, played_chars, stopped: !whole }).await;
                }
                self.write_recording().await;
                self.emit(LegEvent::Ended { end, provider_response }).await;
                self.drain_up().await;
                return false;
            }
            other => self.emit(other).await,
        }
        true
    }

    async fn on_command(&mut self, cmd: LegCommand) {
        match cmd {
            LegCommand::Say { id, text } => self.on_text(id, &text, true).await,
            LegCommand::SayPart { id, text, last } => self.on_text(id, &text, last).await,
            LegCommand::StopSaying => self.stop_all().await,
            other => {
                self.send_down(other);
            }
        }
    }

    async fn on_text(&mut self, id: u64, text: &str, last: bool) {
        let now = crate::clock::now();
        if let Some(line) = self.lines.iter_mut().find(|l| l.id == id) {
            let chunked = line.push_text(text, last);
            if chunked && self.latency_line == Some(id) {
                if let Some(l) = self.latency.as_mut() {
                    l.mark(Mark::FirstChunk, now);
                }
            }
            self.settle().await;
            return;
        }
        if id <= self.newest_line {
            return; // A part of a line already answered (stopped): dropped.
        }
        self.newest_line = id;
        if !self.answered {
            self.emit(LegEvent::SayDone { id, played_chars: 0, stopped: true }).await;
            return;
        }
        let mut line = Line::open(id, self.engines.splitter, self.engines.tts.clone(), self.voice.clone(), self.speech_tx.clone());
        if self.latency.is_some() && self.latency_line.is_none() {
            self.latency_line = Some(id);
            if let Some(l) = self.latency.as_mut() {
                l.mark(Mark::DialogueFirstToken, now);
            }
        }
        if line.push_text(text, last) && self.latency_line == Some(id) {
            if let Some(l) = self.latency.as_mut() {
                l.mark(Mark::FirstChunk, now);
            }
        }
        self.lines.push_back(line);
        self.settle().await;
    }

    async fn on_speech(&mut self, out: SpeechOut) {
        let is_latency_line = |line: u64| self.latency_line == Some(line);
        match out {
            SpeechOut::Requested { line, at } => {
                if is_latency_line(line) {
                    if let Some(l) = self.latency.as_mut() {
                        l.mark(Mark::TtsRequest, at);
                    }
                }
            }
            SpeechOut::Audio { line, chunk, pcm, at } => {
                if is_latency_line(line) {
                    if let Some(l) = self.latency.as_mut() {
                        l.mark(Mark::TtsFirstAudio, at);
                    }
                }
                let is_front = self.lines.front().is_some_and(|l| l.id == line);
                let Some(l) = self.lines.iter_mut().find(|l| l.id == line) else { return };
                if l.stopping {
                    return;
                }
                if !is_front {
                    match l.held.last_mut() {
                        Some((c, held)) if *c == chunk && held.len() < MIN_CLIP => held.extend_from_slice(&pcm),
                        _ => l.held.push((chunk, pcm)),
                    }
                } else if !l.first_sent {
                    // The line's first audio goes out at once: it is the turn's latency.
                    l.first_sent = true;
                    self.play(line, chunk, pcm).await;
                } else {
                    let ready = match l.gathering.as_mut() {
                        Some((c, gathered)) if *c == chunk => {
                            gathered.extend_from_slice(&pcm);
                            if gathered.len() >= MIN_CLIP {
                                l.gathering.take()
                            } else {
                                None
                            }
                        }
                        // Another chunk's audio: what was gathered goes first.
                        _ => l.gathering.replace((chunk, pcm)),
                    };
                    if let Some((c, gathered)) = ready {
                        self.play(line, c, gathered).await;
                    }
                }
            }
            SpeechOut::ChunkDone { line, chunk } => {
                self.flush_gathered(line).await;
                if let Some(l) = self.lines.iter_mut().find(|l| l.id == line) {
                    l.chunk_complete(chunk);
                }
            }
            SpeechOut::Failed { line, error } => {
                tracing::warn!(line, %error, "speech synthesis failed for part of a line");
                if let Some(l) = self.lines.iter_mut().find(|l| l.id == line) {
                    l.failed = true;
                }
            }
            SpeechOut::Done { line } => {
                if let Some(l) = self.lines.iter_mut().find(|l| l.id == line) {
                    l.synthesised();
                }
                self.settle().await;
            }
        }
    }

    /// Sends what the line gathered, if anything.
    async fn flush_gathered(&mut self, line: u64) {
        let gathered = self.lines.iter_mut().find(|l| l.id == line).and_then(|l| l.gathering.take());
        if let Some((chunk, pcm)) = gathered {
            self.play(line, chunk, pcm).await;
        }
    }

    async fn play(&mut self, line: u64, chunk: usize, pcm: Vec<i16>) {
        let Some(l) = self.lines.iter_mut().find(|l| l.id == line) else { return };
        let id = self.next_clip;
        self.next_clip += 1;
        l.sent(chunk, pcm.len());
        let pcm: Arc<[i16]> = Arc::from(pcm);
        let keep = self.recorder.is_some().then(|| pcm.to_vec());
        self.clips.insert(id, Clip { line, chunk, pcm: keep, started: None });
        self.send_down(LegCommand::Play { id, pcm });
    }

    async fn on_play_started(&mut self, clip: u64, at: Instant) {
        let Some(c) = self.clips.get_mut(&clip) else { return };
        c.started = Some(at);
        let line_id = c.line;
        let Some(line) = self.lines.iter_mut().find(|l| l.id == line_id) else { return };
        if !line.started {
            line.started = true;
            self.turn.handle(Input::AgentAudioStarted { utterance_id: line_id }, at);
        }
        if self.latency_line == Some(line_id) {
            if let Some(mut l) = self.latency.take() {
                l.mark(Mark::FirstAudioOut, at);
                self.latency_line = None;
                match l.finish() {
                    Ok(split) => self.emit(LegEvent::TurnLatency(split.into())).await,
                    Err(e) => tracing::debug!(error = %e, "turn latency not split"),
                }
            }
        }
    }

    async fn on_play_done(&mut self, clip: u64, samples_played: usize) {
        let Some(c) = self.clips.remove(&clip) else { return };
        if let (Some(r), Some(pcm), Some(at)) = (self.recorder.as_mut(), c.pcm.as_ref(), c.started) {
            r.ai(&pcm[..samples_played.min(pcm.len())], at);
        }
        if let Some(line) = self.lines.iter_mut().find(|l| l.id == c.line) {
            line.played(c.chunk, samples_played);
            let chars_played = line.played_chars();
            self.turn.handle(Input::AgentAudioPlayed { utterance_id: c.line, chars_played }, crate::clock::now());
        }
        self.settle().await;
    }

    /// Answers the front line when it is done (said whole, or stopped and
    /// its cut clip reported) and starts the next one's held audio.
    async fn settle(&mut self) {
        loop {
            let Some(front) = self.lines.front() else { return };
            let done = if front.stopping {
                front.clips_out == 0
            } else {
                front.finished()
            };
            if !done {
                return;
            }
            let line = self.lines.pop_front().expect("front exists");
            let whole = !line.stopping && !line.failed;
            let played_chars = if whole { line.text_chars() } else { line.played_chars() };
            if line.started {
                self.turn.handle(Input::AgentAudioFinished { utterance_id: line.id }, crate::clock::now());
            }
            if self.latency_line == Some(line.id) {
                // Answered without audio (stopped, or the engine failed).
                self.latency = None;
                self.latency_line = None;
            }
            self.emit(LegEvent::SayDone { id: line.id, played_chars, stopped: !whole }).await;
            if let Some(next) = self.lines.front_mut() {
                let held = std::mem::take(&mut next.held);
                next.first_sent |= !held.is_empty();
                let id = next.id;
                for (chunk, pcm) in held {
                    self.play(id, chunk, pcm).await;
                }
            }
        }
    }

    /// Barge-in, or the session's `StopSaying`: the line playing stops at
    /// the next frame, the queued ones are dropped, synthesis is cancelled.
    async fn stop_all(&mut self) {
        let mut any_out = false;
        for line in self.lines.iter_mut() {
            line.cancel();
            line.stopping = true;
            line.held.clear();
            line.gathering = None;
            any_out |= line.clips_out > 0;
        }
        if any_out {
            self.send_down(LegCommand::StopSaying);
        }
        self.settle().await;
    }

    fn on_asr(&mut self, ev: AsrEvent) {
        let now = crate::clock::now();
        match ev {
            AsrEvent::Partial(text) => self.turn.handle(Input::AsrPartial(text), now),
            AsrEvent::Final(t) => self.turn.handle(Input::AsrFinal(t.text), now),
            AsrEvent::Error(e) => {
                tracing::warn!(error = %e, "speech recognition failed for an utterance");
                // The turn must not wait for a final that will not come.
                self.turn.handle(Input::AsrFinal(String::new()), now);
            }
        }
    }

    async fn drain_turn(&mut self) {
        while let Some(out) = self.turn.poll_output() {
            match out {
                Output::CalleeSpeechStarted { .. } => {
                    self.listener.speech_started();
                    self.emit(LegEvent::SpeechStarted).await;
                }
                Output::CalleeSpeechResumed { .. } => self.listener.speech_started(),
                Output::FinaliseAsr { .. } | Output::CalleeSpeechStopped { .. } => {
                    if !self.listener.finalise() {
                        self.turn.handle(Input::AsrFinal(String::new()), crate::clock::now());
                    }
                }
                Output::EndOfTurn { text, last_voiced_at, speech_stopped_at, final_at, decided_at, .. } => {
                    let mut l = LatencyRecorder::new();
                    l.mark(Mark::LastVoiced, last_voiced_at);
                    l.mark(Mark::SpeechStopped, speech_stopped_at);
                    if let Some(f) = final_at {
                        l.mark(Mark::AsrFinal, f);
                    }
                    l.mark(Mark::EndOfTurn, decided_at);
                    l.mark(Mark::DialogueRequest, crate::clock::now());
                    self.latency = Some(l);
                    self.latency_line = None;
                    self.emit(LegEvent::Heard(text)).await;
                }
                Output::BargeIn { .. } => {
                    tracing::debug!("barge-in: the AI stops");
                    self.stop_all().await;
                }
                Output::Backchannel { text, .. } => tracing::debug!(%text, "acknowledgement over the AI; it goes on"),
                Output::Interrupted { .. } | Output::NoWords { .. } => {}
            }
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
