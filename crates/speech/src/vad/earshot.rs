//! The earshot VAD: a small neural network in pure Rust, weights inside the
//! crate, so it needs no model download and no native library.
//!
//! Earshot listens at 16 kHz in frames of 256 samples (16 ms). Telephone
//! audio is 8 kHz, so each push goes:
//!
//! ```text
//! 8 kHz, any chunking -> 160-sample frames -> waihu_media Upsampler (x2)
//!     -> 320 samples at 16 kHz -> 256-sample frames -> earshot -> VadFrame
//! ```
//!
//! Every decision covers **16 ms**: that is the `duration` to report to the
//! turn-taker. A 20 ms media frame completes one earshot frame, or two every
//! fourth frame. The added delay is the upsampler's 1 ms plus whatever part of
//! a 16 ms frame is still waiting for samples; the network itself looks at a
//! 48 ms window ending at the current frame.
//!
//! Upsampling does not add information above 4 kHz, but earshot was trained
//! on wide-band audio and still separates speech from noise well on the
//! telephone band (measured in this crate's tests on synthesised Mandarin).
//!
//! # The steady-noise guard
//!
//! Measured here: once earshot has heard speech, loud steady broadband
//! noise that follows (white noise at -35 dBFS, 8 or 16 kHz alike) is
//! called speech for as long as it lasts (20 s and more), while the same
//! noise from the start of a stream is not. A VAD that never says silence
//! would hold a turn open forever. So a frame is only speech if the level
//! has not been steady for the last [`EarshotConfig::steady_window`]:
//! frame levels within [`EarshotConfig::steady_range_db`] of each other
//! over a second is noise (white noise spans under 2 dB; speech, even at
//! 0 dB SNR, over 7 dB, since syllables come and go). The guard costs at
//! most that window of delay, and only in such noise.

use std::time::Duration;

use earshot::Detector;
use waihu_media::resample::{Upsampler, WIDE_FRAME_SAMPLES};

use super::{Vad, VadFrame};
use crate::pcm::{Reframer, FRAME_SAMPLES};

/// Samples per earshot frame at 16 kHz.
pub const EARSHOT_FRAME_SAMPLES: usize = 256;
/// Audio covered by one earshot frame.
pub const EARSHOT_FRAME: Duration = Duration::from_millis(16);
/// The upsampler's lag, taken off the frames' start times.
const UPSAMPLER_LAG: Duration = Duration::from_millis(1);

/// Settings of the earshot detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarshotConfig {
    /// Probability at or above which a frame counts as speech. Earshot's
    /// authors suggest 0.5; higher misses quiet speech, lower lets noise in.
    pub threshold: f32,
    /// How long the level must have been steady for speech to be overruled
    /// as noise; zero turns the guard off.
    pub steady_window: Duration,
    /// The largest spread of frame levels (max - min, in dB) over
    /// `steady_window` that still counts as steady.
    pub steady_range_db: f32,
}

impl Default for EarshotConfig {
    fn default() -> Self {
        EarshotConfig { threshold: 0.5, steady_window: Duration::from_secs(1), steady_range_db: 4.0 }
    }
}

/// Earshot on 8 kHz telephone audio.
pub struct EarshotVad {
    config: EarshotConfig,
    // Boxed: the detector keeps about 8 KiB of state, too much to move around on the stack.
    detector: Box<Detector>,
    narrow: Reframer<FRAME_SAMPLES>,
    upsampler: Upsampler,
    wide: Reframer<EARSHOT_FRAME_SAMPLES>,
    /// Earshot frames decided since the start or the last reset.
    frames: u64,
    levels: LevelHistory,
}

impl std::fmt::Debug for EarshotVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EarshotVad").field("config", &self.config).field("frames", &self.frames).finish_non_exhaustive()
    }
}

impl Default for EarshotVad {
    fn default() -> Self {
        EarshotVad::new(EarshotConfig::default())
    }
}

impl EarshotVad {
    /// A detector for one stream.
    pub fn new(config: EarshotConfig) -> Self {
        EarshotVad {
            config,
            detector: Detector::default_boxed(),
            narrow: Reframer::new(),
            upsampler: Upsampler::new(),
            wide: Reframer::new(),
            frames: 0,
            levels: LevelHistory::new(config.steady_window),
        }
    }

    /// The settings it was made with.
    pub fn config(&self) -> EarshotConfig {
        self.config
    }
}

impl Vad for EarshotVad {
    fn name(&self) -> &'static str {
        "earshot"
    }

    fn frame_duration(&self) -> Duration {
        EARSHOT_FRAME
    }

    fn push(&mut self, pcm8k: &[i16], out: &mut Vec<VadFrame>) {
        let EarshotVad { config, detector, narrow, upsampler, wide, frames, levels } = self;
        let mut wide_frame = [0i16; WIDE_FRAME_SAMPLES];
        narrow.push(pcm8k, |frame| {
            upsampler.process(frame, &mut wide_frame);
            wide.push(&wide_frame, |f| {
                let probability = detector.predict_i16(f).clamp(0.0, 1.0);
                let steady = levels.push(f) <= config.steady_range_db;
                let start = (EARSHOT_FRAME * *frames as u32).saturating_sub(UPSAMPLER_LAG);
                *frames += 1;
                let speech = probability >= config.threshold && !steady;
                out.push(VadFrame { start, duration: EARSHOT_FRAME, probability, speech });
            });
        });
    }

    fn reset(&mut self) {
        self.detector.reset();
        self.narrow = Reframer::new();
        self.upsampler = Upsampler::new();
        self.wide = Reframer::new();
        self.frames = 0;
        self.levels = LevelHistory::new(self.config.steady_window);
    }
}

/// The levels of the last frames, for the steady-noise guard.
#[derive(Debug, Clone)]
struct LevelHistory {
    db: Vec<f32>,
    next: usize,
    filled: bool,
}

impl LevelHistory {
    fn new(window: Duration) -> Self {
        let n = (window.as_micros() / EARSHOT_FRAME.as_micros()) as usize;
        LevelHistory { db: vec![0.0; n], next: 0, filled: false }
    }

    /// Records `frame`'s level; returns the spread of levels over the
    /// window, or infinity until the window is full (or with no window).
    fn push(&mut self, frame: &[i16]) -> f32 {
        if self.db.is_empty() {
            return f32::INFINITY;
        }
        let energy = frame.iter().map(|&s| f32::from(s) * f32::from(s)).sum::<f32>() / frame.len() as f32;
        // +1 keeps digital silence finite.
        self.db[self.next] = 10.0 * (energy + 1.0).log10();
        self.next = (self.next + 1) % self.db.len();
        self.filled |= self.next == 0;
        if !self.filled {
            return f32::INFINITY;
        }
        let (lo, hi) = self.db.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &d| (lo.min(d), hi.max(d)));
        hi - lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_decision_per_sixteen_ms_whatever_the_chunking() {
        let mut vad = EarshotVad::default();
        let mut out = Vec::new();
        // One second in odd pieces: 8000 samples -> 16000 at 16 kHz -> 62 whole frames.
        for chunk in vec![0i16; 8_000].chunks(123) {
            vad.push(chunk, &mut out);
        }
        assert_eq!(out.len(), 62);
        assert!(out.iter().all(|f| f.duration == EARSHOT_FRAME && !f.speech));
        assert_eq!(out[0].start, Duration::ZERO);
        assert_eq!(out[10].start, Duration::from_millis(159));

        // 20 ms frames: the first completes one decision, the fourth two.
        vad.reset();
        let counts: Vec<usize> = (0..5)
            .map(|_| {
                let mut o = Vec::new();
                vad.push(&[0; FRAME_SAMPLES], &mut o);
                o.len()
            })
            .collect();
        assert_eq!(counts, [1, 1, 1, 2, 1]);
    }

    #[test]
    fn the_guard_measures_level_spread_over_a_full_window() {
        let mut h = LevelHistory::new(EARSHOT_FRAME * 4);
        let steady = [1_000i16; EARSHOT_FRAME_SAMPLES];
        let quiet = [100i16; EARSHOT_FRAME_SAMPLES];
        assert_eq!(h.push(&steady), f32::INFINITY, "not judged before the window is full");
        h.push(&steady);
        h.push(&steady);
        assert!(h.push(&steady) < 0.01);
        // A frame 20 dB down, as between syllables: not steady any more.
        assert!((h.push(&quiet) - 20.0).abs() < 0.1);
        assert_eq!(LevelHistory::new(Duration::ZERO).push(&steady), f32::INFINITY, "no window, no guard");
    }
}
