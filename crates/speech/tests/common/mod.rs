//! Helpers shared by the tests that use real audio: the espeak-ng engine
//! (skipped with a note where it is not installed, required in CI), test
//! signals, and where the speech really is in a synthesised clip.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use waihu_speech::tts::{EspeakConfig, EspeakTts};
use waihu_speech::{synthesize_all, TtsRequest};

/// The sentence of the product's own example task.
pub const TASK_SENTENCE: &str = "通知张总明天上午9点开会";

/// The espeak-ng engine, or `None` (with a note) when espeak-ng is missing.
/// In CI a missing espeak-ng is a broken install step, so it fails there.
pub async fn espeak() -> Option<EspeakTts> {
    let tts = EspeakTts::new(EspeakConfig::default()).unwrap();
    match tts.check().await {
        Ok(_) => Some(tts),
        Err(e) if std::env::var_os("CI").is_some() => panic!("{e} (scripts/install-test-deps.sh installs it)"),
        Err(e) => {
            eprintln!("skipped: {e} (scripts/install-test-deps.sh installs it)");
            None
        }
    }
}

/// `text` said by espeak-ng at default speed and volume, 8 kHz.
pub async fn say(tts: &EspeakTts, text: &str) -> Vec<i16> {
    synthesize_all(tts, TtsRequest::new(text)).await.unwrap()
}

/// Deterministic white noise at `rms` (in sample units).
pub fn noise(samples: usize, rms: f64, seed: u64) -> Vec<i16> {
    let mut state = seed | 1;
    (0..samples)
        .map(|_| {
            // xorshift64*, then a uniform value in [-1, 1), whose RMS is 1/sqrt(3).
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let u = (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            ((2.0 * u - 1.0) * rms * 3f64.sqrt()) as i16
        })
        .collect()
}

/// Sample positions of the first and last 10 ms window of `pcm` whose level
/// is within 35 dB of its loudest window: where the speech really is.
pub fn active_span(pcm: &[i16]) -> (usize, usize) {
    let win = 80;
    let levels: Vec<f64> = pcm
        .chunks(win)
        .map(|w| (w.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / w.len() as f64).sqrt())
        .collect();
    let loudest = levels.iter().cloned().fold(0.0, f64::max);
    let floor = loudest * 10f64.powf(-35.0 / 20.0);
    let first = levels.iter().position(|&l| l > floor).expect("some audio");
    let last = levels.iter().rposition(|&l| l > floor).expect("some audio");
    (first * win, ((last + 1) * win).min(pcm.len()))
}

/// Samples at 8 kHz as a duration.
pub fn dur(samples: usize) -> Duration {
    Duration::from_micros(samples as u64 * 125)
}

/// A duration as samples at 8 kHz.
pub fn samples(d: Duration) -> usize {
    (d.as_micros() / 125) as usize
}
