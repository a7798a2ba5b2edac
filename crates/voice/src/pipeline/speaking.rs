//! The AI's side of the pipeline: lines from the session are cut into
//! chunks, synthesised, gathered into clips and played on the leg one line
//! at a time; the leg's reports tell how much of each line was played, and
//! each line is answered with one `SayDone` once it is done.

use std::sync::Arc;
use std::time::Instant;

use waihu_carrier::{AudioCommand, TextEvent};
use waihu_turn::{Input, Mark};

use super::{Clip, Pipeline};
use crate::speak::{Line, SpeechOut};

/// Smallest clip sent after a line's first: 200 ms.
const MIN_CLIP: usize = 1_600;

impl Pipeline {
    pub(super) async fn on_text(&mut self, id: u64, text: &str, last: bool) {
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
            self.emit(TextEvent::SayDone { id, played_chars: 0, stopped: true }).await;
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

    pub(super) async fn on_speech(&mut self, out: SpeechOut) {
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
    pub(super) async fn flush_gathered(&mut self, line: u64) {
        let gathered = self.lines.iter_mut().find(|l| l.id == line).and_then(|l| l.gathering.take());
        if let Some((chunk, pcm)) = gathered {
            self.play(line, chunk, pcm).await;
        }
    }

    pub(super) async fn play(&mut self, line: u64, chunk: usize, pcm: Vec<i16>) {
        let Some(l) = self.lines.iter_mut().find(|l| l.id == line) else { return };
        let id = self.next_clip;
        self.next_clip += 1;
        l.sent(chunk, pcm.len());
        let pcm: Arc<[i16]> = Arc::from(pcm);
        let keep = self.recorder.is_some().then(|| pcm.to_vec());
        self.clips.insert(id, Clip { line, chunk, pcm: keep, started: None });
        self.send_down(AudioCommand::Play { id, pcm });
    }

    pub(super) async fn on_play_started(&mut self, clip: u64, at: Instant) {
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
                    Ok(split) => {
                        let _ = self.turns.send(split.into());
                    }
                    Err(e) => tracing::debug!(error = %e, "turn latency not split"),
                }
            }
        }
    }

    pub(super) async fn on_play_done(&mut self, clip: u64, samples_played: usize) {
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
    pub(super) async fn settle(&mut self) {
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
            self.emit(TextEvent::SayDone { id: line.id, played_chars, stopped: !whole }).await;
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
    pub(super) async fn stop_all(&mut self) {
        let mut any_out = false;
        for line in self.lines.iter_mut() {
            line.cancel();
            line.stopping = true;
            line.held.clear();
            line.gathering = None;
            any_out |= line.clips_out > 0;
        }
        if any_out {
            self.send_down(AudioCommand::StopPlaying);
        }
        self.settle().await;
    }
}
