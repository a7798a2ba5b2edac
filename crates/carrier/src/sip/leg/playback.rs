//! The AI's lines on the call: queued, played one at a time as placeholder
//! audio, each answered by one `SayDone`; `StopSaying` (barge-in) cuts the
//! line playing at the next frame and drops the queue.

use super::{LegTask, Step};
use crate::sip::tone;
use crate::LegEvent;

pub(super) struct Line {
    pub(super) id: u64,
    pub(super) chars: usize,
}

pub(super) struct Playing {
    pub(super) line: Line,
    pub(super) samples: usize,
}

impl LegTask {
    pub(super) async fn on_say(&mut self, id: u64, text: String) -> Step {
        if !self.answered {
            return self.emit(LegEvent::SayDone { id, played_chars: 0, stopped: true }).await;
        }
        self.queue.push_back(Line { id, chars: text.chars().count() });
        if self.playing.is_none() {
            self.start_next_line().await?;
        }
        Ok(())
    }

    /// Audio mode: a clip of the voice pipeline's speech.
    pub(super) async fn on_play(&mut self, id: u64, pcm: std::sync::Arc<[i16]>) -> Step {
        if self.answered && self.audio && self.media.play_clip(id, pcm) {
            self.clips_owed.push(id);
            return Ok(());
        }
        // Not answered (nothing can be heard), or a text-mode leg.
        self.emit(LegEvent::PlayDone { id, samples_played: 0, stopped: true }).await
    }

    pub(super) async fn on_stop_saying(&mut self) -> Step {
        // The line stops at the next frame; its SayDone comes with the
        // media's count of samples sent.
        if self.playing.is_some() && !self.stopping {
            self.stopping = true;
            self.media.stop_playback();
        }
        self.drop_queue().await
    }

    pub(super) async fn on_playback_done(&mut self, samples_played: usize) -> Step {
        self.stopping = false;
        if let Some(p) = self.playing.take() {
            let played_chars = tone::played_chars(p.line.chars, samples_played, p.samples);
            self.emit(LegEvent::SayDone { id: p.line.id, played_chars, stopped: played_chars < p.line.chars }).await?;
        }
        self.start_next_line().await
    }

    async fn start_next_line(&mut self) -> Step {
        while let Some(line) = self.queue.pop_front() {
            let audio = tone::line_audio(line.chars, self.trunk.cfg.chars_per_second);
            if audio.is_empty() {
                self.emit(LegEvent::SayDone { id: line.id, played_chars: 0, stopped: false }).await?;
                continue;
            }
            let samples = audio.len();
            self.media.play(audio);
            self.playing = Some(Playing { line, samples });
            return Ok(());
        }
        Ok(())
    }

    /// Answers the line playing (by the clock) and every queued one, as the
    /// leg ends.
    pub(super) async fn answer_owed_lines(&mut self) -> Step {
        if let Some(p) = self.playing.take() {
            let played = self.media.played_estimate();
            let played_chars = tone::played_chars(p.line.chars, played, p.samples);
            self.emit(LegEvent::SayDone { id: p.line.id, played_chars, stopped: played_chars < p.line.chars }).await?;
        }
        self.drop_queue().await
    }

    async fn drop_queue(&mut self) -> Step {
        while let Some(line) = self.queue.pop_front() {
            self.emit(LegEvent::SayDone { id: line.id, played_chars: 0, stopped: true }).await?;
        }
        Ok(())
    }
}
