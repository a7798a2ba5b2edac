//! Voice activity detection: is the callee speaking in this bit of audio?
//!
//! A [`Vad`] is one stream's detector (one per call leg: it keeps state
//! between frames). It takes 8 kHz audio in any chunking, typically the
//! 20 ms frames the media clock delivers, and answers with one [`VadFrame`]
//! per analysis frame of its own, as soon as that frame is complete.
//!
//! Feeding the turn-taker: pass every `VadFrame` on as
//! `waihu_turn::Input::VadFrame { speech, duration }`, with **the frame's
//! own `duration`** (16 ms for earshot, not the 20 ms of the media frame
//! that completed it), in order, at the instant `push` returned it. A 20 ms
//! media frame completes one or two earshot frames (five media frames make
//! six and a quarter), so the sum of durations fed tracks the audio heard.
//!
//! The trait is synchronous: detection costs microseconds per frame and runs
//! inline on the media path; nothing here does IO.
//!
//! Engines: [`earshot`] (pure Rust, weights inside the crate, no download).
//! An 8 kHz-native Silero engine (ONNX Runtime loaded at run time) would be
//! a sibling module here.

pub mod earshot;

use std::time::Duration;

pub use self::earshot::{EarshotConfig, EarshotVad};

/// One decision of a detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadFrame {
    /// Where the frame starts in the audio pushed since the detector was
    /// made or reset, in input time (the detector's own resampling lag
    /// taken out), so that a pipeline can cut the utterance from its buffer.
    pub start: Duration,
    /// How much audio the frame covers: report this to the turn-taker.
    pub duration: Duration,
    /// The detector's speech probability, 0 to 1.
    pub probability: f32,
    /// `probability` against the configured threshold.
    pub speech: bool,
}

impl VadFrame {
    /// Where the frame ends, in the same time as [`VadFrame::start`].
    pub fn end(&self) -> Duration {
        self.start + self.duration
    }
}

/// A voice activity detector for one audio stream.
pub trait Vad: Send {
    /// The engine's name, for logs and `waihu info`.
    fn name(&self) -> &'static str;

    /// The audio each [`VadFrame`] covers.
    fn frame_duration(&self) -> Duration;

    /// Takes the next 8 kHz samples; appends a decision for every analysis
    /// frame they complete. Whole 20 ms frames add no buffering delay of
    /// their own beyond the engine's frame.
    fn push(&mut self, pcm8k: &[i16], out: &mut Vec<VadFrame>);

    /// Forgets the stream so far (a new call, or a new audio source): the
    /// next push starts again at time zero.
    fn reset(&mut self);
}

/// One stretch of speech found in a sequence of decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeechSpan {
    /// Start of the first voiced frame.
    pub start: Duration,
    /// End of the last voiced frame.
    pub end: Duration,
}

/// Groups decisions into speech spans, closing a span after `hangover` of
/// frames that are not speech (the rule the turn-taker applies live).
/// Offline use: tests, and trimming recorded prompts.
pub fn speech_spans(frames: &[VadFrame], hangover: Duration) -> Vec<SpeechSpan> {
    let mut spans: Vec<SpeechSpan> = Vec::new();
    let mut open: Option<SpeechSpan> = None;
    for f in frames {
        match (&mut open, f.speech) {
            (Some(span), true) => span.end = f.end(),
            (None, true) => open = Some(SpeechSpan { start: f.start, end: f.end() }),
            (Some(span), false) if f.end().saturating_sub(span.end) >= hangover => {
                spans.push(*span);
                open = None;
            }
            _ => {}
        }
    }
    spans.extend(open);
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(pattern: &str) -> Vec<VadFrame> {
        let d = Duration::from_millis(16);
        pattern
            .chars()
            .enumerate()
            .map(|(i, c)| VadFrame { start: d * i as u32, duration: d, probability: 0.0, speech: c == '#' })
            .collect()
    }

    #[test]
    fn spans_bridge_gaps_shorter_than_the_hangover() {
        let ms = Duration::from_millis;
        // A 2-frame gap (32 ms) is bridged by a 48 ms hangover, a 4-frame one is not.
        let spans = speech_spans(&frames("..###..##....#"), ms(48));
        assert_eq!(
            spans,
            [SpeechSpan { start: ms(32), end: ms(144) }, SpeechSpan { start: ms(208), end: ms(224) }]
        );
        assert!(speech_spans(&frames("...."), ms(48)).is_empty());
    }
}
