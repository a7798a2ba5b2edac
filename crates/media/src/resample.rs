//! 8 kHz <-> 16 kHz conversion, one 20 ms frame at a time.
//!
//! Telephone audio is 8 kHz; speech recognisers and synthesisers commonly
//! want or produce 16 kHz. A factor of two needs no general resampler: one
//! half-band low-pass filter does both directions. Its even taps are zero
//! except the centre, so
//!
//! - upsampling copies each input sample and computes only the sample
//!   half-way between neighbours, from [`HALF_TAPS`] inputs on each side;
//! - downsampling keeps every second sample of the filtered signal, and
//!   only odd taps plus the centre need multiplying.
//!
//! The taps are a windowed sinc (Blackman window, [`windowed_sinc`]),
//! normalised to unit gain at DC. With 8 taps a side the pass band is flat
//! to within about 0.1 dB up to ~3 kHz (all of the telephone band) and
//! images/aliases above 5 kHz are attenuated by roughly 60 dB or more.
//!
//! Filter history is carried across frames, so a stream is filtered as if
//! it were one long signal. Delay: [`HALF_TAPS`] input samples when
//! upsampling (1 ms), `HALF_TAPS - 1` output samples when downsampling.
//! Nothing is allocated per frame: each converter owns a fixed work buffer.
//!
//! # Why by hand
//!
//! Rust's resampling library, `rubato`, converts any ratio: sinc
//! interpolation or FFTs over chunks of `f32`/`f64` samples in its own
//! buffer types, with `realfft` and the `audioadapter` crates behind it.
//! This module does one fixed ratio, on `i16` frames, on the media clock of
//! every call (the VAD upsamples every received frame): the half-band
//! filter costs one short dot product (8 symmetric tap pairs) per output
//! sample and no allocation, where a whole call's media path costs about
//! 0.1 % of a core (`bench/RESULTS.md`).
//!
//! There is a second resampler, `waihu_speech::resample`, and it does a
//! different job: any rate to any other (a TTS engine's 22 050 or 24 000 Hz
//! down to 8 kHz), once per synthesised line rather than on the clock. The
//! two share the filter kernel ([`windowed_sinc`]) and the rounding back to
//! 16 bits ([`to_i16`]) from here.

use crate::jitter::FRAME_SAMPLES;

/// Samples in a 20 ms frame at 16 kHz.
pub const WIDE_FRAME_SAMPLES: usize = 2 * FRAME_SAMPLES;
/// Non-zero odd taps on each side of the half-band filter's centre.
pub const HALF_TAPS: usize = 8;

/// One tap of a windowed-sinc low-pass filter, before normalisation: the
/// weight of an input sample `t` samples from the output's position, for a
/// cut-off of `cutoff` cycles per input sample, under a Blackman window
/// that spans `half_width` samples on each side (and is zero beyond).
///
/// Both of waihu's resamplers build their taps from it: the half-band
/// filter here (`cutoff` 0.5) and `waihu_speech::resample`'s polyphase one.
pub fn windowed_sinc(t: f64, cutoff: f64, half_width: f64) -> f64 {
    use std::f64::consts::PI;
    let x = 2.0 * cutoff * t;
    let sinc = if x.abs() < 1e-12 { 1.0 } else { (PI * x).sin() / (PI * x) };
    let u = (t / half_width).clamp(-1.0, 1.0);
    let blackman = 0.42 + 0.5 * (PI * u).cos() + 0.08 * (2.0 * PI * u).cos();
    sinc * blackman
}

/// Rounds a filtered (or scaled) sample back to 16 bits, saturating at the
/// ends rather than wrapping.
pub fn to_i16(v: f32) -> i16 {
    v.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

/// Interpolation weights for the half-way sample, nearest neighbour first:
/// `w[i]` multiplies the inputs at distance `i + 0.5` on either side.
fn half_band_weights() -> [f32; HALF_TAPS] {
    let mut w = [0f64; HALF_TAPS];
    for (i, wi) in w.iter_mut().enumerate() {
        // The cut-off is 4 kHz, half of the 16 kHz stream's band (hence
        // half-band): 0.5 cycles per 8 kHz input sample.
        *wi = windowed_sinc(i as f64 + 0.5, 0.5, HALF_TAPS as f64);
    }
    // Both sides together must sum to 1 so a constant stays constant.
    let sum: f64 = w.iter().sum::<f64>() * 2.0;
    w.map(|v| (v / sum) as f32)
}

/// 8 kHz to 16 kHz.
#[derive(Debug, Clone)]
pub struct Upsampler {
    weights: [f32; HALF_TAPS],
    /// `2 * HALF_TAPS` samples of history followed by the current frame.
    work: [f32; 2 * HALF_TAPS + FRAME_SAMPLES],
}

impl Default for Upsampler {
    fn default() -> Self {
        Upsampler::new()
    }
}

impl Upsampler {
    /// A converter whose history is silence.
    pub fn new() -> Self {
        Upsampler {
            weights: half_band_weights(),
            work: [0.0; 2 * HALF_TAPS + FRAME_SAMPLES],
        }
    }

    /// Converts one frame. The output lags the input by [`HALF_TAPS`] input samples.
    pub fn process(&mut self, input: &[i16; FRAME_SAMPLES], out: &mut [i16; WIDE_FRAME_SAMPLES]) {
        const H: usize = 2 * HALF_TAPS;
        for (w, &s) in self.work[H..].iter_mut().zip(input) {
            *w = f32::from(s);
        }
        for n in 0..FRAME_SAMPLES {
            // Output pair n is centred between work[n + HALF_TAPS] and the sample after it.
            let left = n + HALF_TAPS;
            let mut mid = 0.0;
            for (i, &w) in self.weights.iter().enumerate() {
                mid += w * (self.work[left - i] + self.work[left + 1 + i]);
            }
            out[2 * n] = to_i16(self.work[left]);
            out[2 * n + 1] = to_i16(mid);
        }
        self.work.copy_within(FRAME_SAMPLES.., 0);
    }
}

/// 16 kHz to 8 kHz.
#[derive(Debug, Clone)]
pub struct Downsampler {
    weights: [f32; HALF_TAPS],
    /// `4 * HALF_TAPS - 2` samples of history followed by the current frame.
    work: [f32; 4 * HALF_TAPS - 2 + WIDE_FRAME_SAMPLES],
}

impl Default for Downsampler {
    fn default() -> Self {
        Downsampler::new()
    }
}

impl Downsampler {
    /// A converter whose history is silence.
    pub fn new() -> Self {
        Downsampler {
            weights: half_band_weights(),
            work: [0.0; 4 * HALF_TAPS - 2 + WIDE_FRAME_SAMPLES],
        }
    }

    /// Converts one frame. The output lags the input by `HALF_TAPS - 1`
    /// output samples (the filter centre falls on an even input sample,
    /// so no half-sample shift is introduced).
    pub fn process(&mut self, input: &[i16; WIDE_FRAME_SAMPLES], out: &mut [i16; FRAME_SAMPLES]) {
        const H: usize = 4 * HALF_TAPS - 2;
        for (w, &s) in self.work[H..].iter_mut().zip(input) {
            *w = f32::from(s);
        }
        for (n, o) in out.iter_mut().enumerate() {
            // The newest sample used is the odd input 2n+1, at work[H + 2n + 1];
            // the centre sits 2*HALF_TAPS - 1 before it, on an even input.
            let centre = H + 2 * n + 1 - (2 * HALF_TAPS - 1);
            let mut acc = 0.5 * self.work[centre];
            for (i, &w) in self.weights.iter().enumerate() {
                let d = 2 * i + 1;
                // Half-band taps are the interpolation weights halved (unit DC gain).
                acc += 0.5 * w * (self.work[centre - d] + self.work[centre + d]);
            }
            *o = to_i16(acc);
        }
        self.work.copy_within(WIDE_FRAME_SAMPLES.., 0);
    }
}
