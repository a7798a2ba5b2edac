//! What the leg carries: lines of text (placeholder audio out, the DTMF
//! test mode's words in) or sound (the voice pipeline's clips out, the
//! callee's frames in). The signalling is the same for both; the level
//! decides which events go to the session and which commands it takes.

use std::sync::Arc;


use super::{Level, LegTask, Step, Stop};
use crate::{AudioEvent, Signal, TextEvent};

impl LegTask {
    pub(super) async fn signal(&self, signal: Signal) -> Step {
        let sent = match &self.level {
            Level::Text { events, .. } => events.send(TextEvent::Signal(signal)).await.is_ok(),
            Level::Audio { events, .. } => events.send(AudioEvent::Signal(signal)).await.is_ok(),
        };
        if sent {
            Ok(())
        } else {
            Err(Stop)
        }
    }

    pub(super) async fn emit_text(&self, event: TextEvent) -> Step {
        match &self.level {
            Level::Text { events, .. } => events.send(event).await.map_err(|_| Stop),
            Level::Audio { .. } => Ok(()),
        }
    }

    pub(super) async fn emit_audio(&self, event: AudioEvent) -> Step {
        match &self.level {
            Level::Audio { events, .. } => events.send(event).await.map_err(|_| Stop),
            Level::Text { .. } => Ok(()),
        }
    }

    /// A frame of the callee's audio for the voice pipeline, never waited
    /// for: a frame it has no room for is dropped and counted, and
    /// signalling goes on.
    pub(super) fn offer_audio(&mut self, pcm: Arc<[i16]>, at: std::time::Instant) {
        if let Level::Audio { events, frames_dropped, .. } = &mut self.level {
            if events.try_send(AudioEvent::Audio { pcm, at }).is_err() {
                *frames_dropped += 1;
            }
        }
    }

    /// Audio level: a clip of the voice pipeline's speech.
    pub(super) async fn on_play(&mut self, id: u64, pcm: Arc<[i16]>) -> Step {
        if self.answered && self.media.play_clip(id, pcm) {
            if let Level::Audio { clips_owed, .. } = &mut self.level {
                clips_owed.push(id);
            }
            return Ok(());
        }
        // Not answered: nothing can be heard.
        self.emit_audio(AudioEvent::PlayDone { id, samples_played: 0, stopped: true }).await
    }

    pub(super) fn on_stop_playing(&mut self) {
        if matches!(&self.level, Level::Audio { clips_owed, .. } if !clips_owed.is_empty()) {
            self.media.stop_playback();
        }
    }

    pub(super) async fn on_clip_done(&mut self, id: u64, samples_played: usize, stopped: bool) -> Step {
        if let Level::Audio { clips_owed, .. } = &mut self.level {
            clips_owed.retain(|c| *c != id);
        }
        self.emit_audio(AudioEvent::PlayDone { id, samples_played, stopped }).await
    }

    /// The leg ends: every line or clip still owed is answered.
    pub(super) async fn answer_owed(&mut self) -> Step {
        match &mut self.level {
            Level::Text { .. } => self.answer_owed_lines().await,
            Level::Audio { clips_owed, frames_dropped, .. } => {
                let owed = std::mem::take(clips_owed);
                if *frames_dropped > 0 {
                    tracing::warn!(call_id = %self.call_id, frames = *frames_dropped, "the voice pipeline fell behind: callee audio frames dropped");
                }
                for id in owed {
                    self.emit_audio(AudioEvent::PlayDone { id, samples_played: 0, stopped: true }).await?;
                }
                Ok(())
            }
        }
    }
}
