//! The simulated callee's mouth and ears, off the media clock: synthesis
//! and recognition run in tasks of their own and report back, so a slow
//! engine delays the callee's answer, never a frame.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use waihu_speech::{synthesize_all, Asr, Tts, TtsRequest};

use super::playout::FRAME;

/// Shorter audio holds no word: it is not given to the recogniser (some
/// make words up from a click).
const MIN_LINE_SAMPLES: usize = FRAME * 5;

/// Work handed back to the leg.
#[derive(Debug)]
pub(super) enum Done {
    /// What the callee made of a line of the AI's audio.
    Line { epoch: u64, text: String, cut_off: bool, ended_at: Instant },
    /// What the callee made of a clip that started playing (to decide
    /// whether to talk over it).
    Preview { clip: u64, text: String, started_at: Instant, secs: f64 },
    /// The audio of the callee's utterance `seq`; `None` if it could not
    /// be synthesised.
    Spoken { seq: u64, pcm: Option<Vec<i16>> },
}

/// Audio for the ears.
pub(super) enum Job {
    Line { epoch: u64, pcm: Vec<i16>, cut_off: bool, ended_at: Instant },
    Preview { clip: u64, pcm: Arc<[i16]>, started_at: Instant },
}

/// Starts the callee's ears: one task that makes out the jobs it is given
/// one after another, so their results come back in order. It ends when
/// the returned sender is dropped (after the job in hand).
pub(super) fn ears(asr: Arc<dyn Asr>, done: mpsc::UnboundedSender<Done>) -> mpsc::UnboundedSender<Job> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let result = match job {
                Job::Line { epoch, pcm, cut_off, ended_at } => {
                    Done::Line { epoch, text: make_out(asr.as_ref(), &pcm).await, cut_off, ended_at }
                }
                Job::Preview { clip, pcm, started_at } => {
                    let secs = pcm.len() as f64 / 8000.0;
                    Done::Preview { clip, text: make_out(asr.as_ref(), &pcm).await, started_at, secs }
                }
            };
            if done.send(result).is_err() {
                break;
            }
        }
    });
    tx
}

async fn make_out(asr: &dyn Asr, pcm: &[i16]) -> String {
    if pcm.len() < MIN_LINE_SAMPLES {
        return String::new();
    }
    match asr.transcribe(pcm).await {
        Ok(t) => t.text.trim().to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "the simulated callee could not make out the AI's audio");
            String::new()
        }
    }
}

/// Synthesises the callee's utterance `seq` in a task of its own.
pub(super) fn speak(tts: Arc<dyn Tts>, voice_id: Option<String>, seq: u64, text: String, done: mpsc::UnboundedSender<Done>) {
    tokio::spawn(async move {
        let mut req = TtsRequest::new(text);
        req.voice_id = voice_id;
        let pcm = match synthesize_all(tts.as_ref(), req).await {
            Ok(pcm) => Some(pcm),
            Err(e) => {
                tracing::warn!(error = %e, "the simulated callee could not speak its line");
                None
            }
        };
        let _ = done.send(Done::Spoken { seq, pcm });
    });
}

/// A quiet line's hiss: a few LSB of pseudo-random noise (±2), so silence
/// is never digital zero, as on a real line.
pub(super) struct NoiseFloor(u32);

impl Default for NoiseFloor {
    fn default() -> Self {
        NoiseFloor(0x2545_f491)
    }
}

impl NoiseFloor {
    pub(super) fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            // xorshift32
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 17;
            self.0 ^= self.0 << 5;
            *s = (self.0 % 5) as i16 - 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::NoiseFloor;

    #[test]
    fn the_noise_floor_is_faint_but_never_digital_silence() {
        let mut frame = [0i16; 160];
        NoiseFloor::default().fill(&mut frame);
        assert!(frame.iter().all(|s| (-2..=2).contains(s)));
        assert!(frame.iter().filter(|s| **s != 0).count() > 80);
    }
}
