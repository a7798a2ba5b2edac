//! Any rate down (or up) to another, for synthesisers whose output is not
//! 8 kHz: espeak-ng speaks at 22 050 Hz, OpenAI's `pcm` format is 24 kHz.
//!
//! This is not the same job as `waihu_media::resample`, which converts the
//! fixed factor of two between 8 and 16 kHz on the media clock, frame by
//! frame, with a half-band filter and no allocation. 22 050 -> 8 000 is the
//! ratio 160/441 and needs a general filter, run once per synthesised line.
//! Both build their taps from the same windowed sinc
//! ([`waihu_media::resample::windowed_sinc`]) and round back to 16 bits the
//! same way ([`waihu_media::resample::to_i16`]); only the polyphase
//! bookkeeping below is this module's own.
//!
//! This is a rational polyphase resampler: with the ratio reduced to
//! `up / down`, output sample `n` sits at input position `n * down / up`,
//! whose fractional part is one of `up` phases. Each phase has its own
//! precomputed set of taps of one low-pass filter, so every output costs one
//! short dot product and no trigonometry.
//!
//! The filter cuts at [`CUTOFF_FRACTION`] of the lower Nyquist frequency (3.5
//! kHz for 8 kHz output: all of the telephone band passes) and spans
//! [`ZERO_CROSSINGS`] sinc lobes a side under a Blackman window, which
//! leaves about 1.2 kHz of transition and about 58 dB of stop-band
//! rejection, so what lands above 4 kHz does not fold back audibly. Each
//! phase is normalised to unit gain at DC.
//!
//! Equal rates pass samples through untouched. It streams: history is
//! carried between calls, and the output lags the input by half the filter
//! (about 2.3 ms at 22 050 Hz). [`Resampler::finish`] flushes that tail at
//! the end of a stream.
//!
//! Why by hand: `rubato` would do this job, but it works on `f32`/`f64`
//! samples through its own adapter types and brings the `audioadapter`
//! crates (and, by default, `realfft`) into every engine build, for what is
//! here one table of taps and a loop, tested below against the telephone
//! band.

use waihu_media::resample::{to_i16, windowed_sinc};

/// Where the low-pass filter cuts, as a fraction of the lower Nyquist rate.
pub const CUTOFF_FRACTION: f64 = 0.875;
/// Sinc lobes on each side of the filter's centre.
pub const ZERO_CROSSINGS: usize = 16;

/// Converts a stream of samples from one rate to another.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    up: u64,
    down: u64,
    /// Taps per phase, `2 * half` each: `taps[p * 2 * half + k]`.
    taps: Vec<f32>,
    /// Input samples on each side of an output's position that it uses.
    half: usize,
    /// Input samples not yet consumed, starting at absolute index `offset`.
    input: Vec<f32>,
    offset: u64,
    /// Absolute index of the next output sample.
    next: u64,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz, with silence as its history.
    ///
    /// # Panics
    /// If either rate is zero.
    pub fn new(from: u32, to: u32) -> Self {
        assert!(from > 0 && to > 0, "sample rates must be positive");
        let g = gcd(u64::from(from), u64::from(to));
        let (up, down) = (u64::from(to) / g, u64::from(from) / g);
        // Cut-off in cycles per input sample, below the lower of the two Nyquist rates.
        let cutoff = CUTOFF_FRACTION * 0.5 * f64::from(from.min(to)) / f64::from(from);
        // The sinc's lobes are 1 / (2 * cutoff) input samples wide.
        let half = (ZERO_CROSSINGS as f64 / (2.0 * cutoff)).ceil() as usize;
        let width = 2 * half;
        let mut taps = vec![0f32; up as usize * width];
        for (p, phase) in taps.chunks_exact_mut(width).enumerate() {
            let frac = p as f64 / up as f64;
            let mut sum = 0.0;
            let mut exact = vec![0f64; width];
            for (k, tap) in exact.iter_mut().enumerate() {
                // Input sample `base - half + 1 + k` is this far from the output's position.
                let t = (k as f64 - (half as f64 - 1.0)) - frac;
                *tap = windowed_sinc(t, cutoff, half as f64);
                sum += *tap;
            }
            for (dst, v) in phase.iter_mut().zip(exact) {
                *dst = (v / sum) as f32;
            }
        }
        Resampler { from, to, up, down, taps, half, input: Vec::new(), offset: 0, next: 0 }
    }

    /// The input rate in Hz.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// The output rate in Hz.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Converts `input`, appending what it completes to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.from == self.to {
            out.extend_from_slice(input);
            return;
        }
        self.input.extend(input.iter().map(|&s| f32::from(s)));
        self.drain(out);
    }

    /// Flushes the filter's tail (as if silence followed) and starts over.
    pub fn finish(&mut self, out: &mut Vec<i16>) {
        if self.from == self.to {
            return;
        }
        // Every output whose position lies within the real input, no more.
        let end = self.offset + self.input.len() as u64;
        self.input.extend(std::iter::repeat_n(0.0, self.half));
        self.drain_until(out, end);
        self.input.clear();
        self.offset = 0;
        self.next = 0;
    }

    fn drain(&mut self, out: &mut Vec<i16>) {
        self.drain_until(out, u64::MAX);
    }

    /// Emits outputs whose taps are all available and whose position is before `end`.
    fn drain_until(&mut self, out: &mut Vec<i16>, end: u64) {
        let width = 2 * self.half;
        let available = self.offset + self.input.len() as u64;
        loop {
            let pos = self.next * self.down;
            let (base, phase) = (pos / self.up, (pos % self.up) as usize);
            if base >= end || base + self.half as u64 >= available {
                break;
            }
            let taps = &self.taps[phase * width..(phase + 1) * width];
            // First input used: base - half + 1, possibly before the stream began (silence).
            let first = base as i64 - self.half as i64 + 1;
            let mut acc = 0f32;
            for (k, &w) in taps.iter().enumerate() {
                let i = first + k as i64 - self.offset as i64;
                if i >= 0 {
                    acc += w * self.input[i as usize];
                }
            }
            out.push(to_i16(acc));
            self.next += 1;
        }
        // Keep only what the next output can still use.
        let base = self.next * self.down / self.up;
        let keep_from = (base + 1).saturating_sub(self.half as u64).max(self.offset);
        let drop = (keep_from - self.offset) as usize;
        if drop > 0 {
            self.input.drain(..drop.min(self.input.len()));
            self.offset += drop as u64;
        }
    }
}

/// Converts a whole signal at once.
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    let mut r = Resampler::new(from, to);
    let mut out = Vec::with_capacity(input.len() * to as usize / from as usize + 1);
    r.process(input, &mut out);
    r.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, samples: usize, amp: f64) -> Vec<i16> {
        (0..samples).map(|n| (amp * (2.0 * std::f64::consts::PI * freq * n as f64 / f64::from(rate)).sin()) as i16).collect()
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn output_length_follows_the_ratio() {
        assert_eq!(resample(&vec![0; 22_050], 22_050, 8_000).len(), 8_000);
        assert_eq!(resample(&vec![0; 24_000], 24_000, 8_000).len(), 8_000);
        assert_eq!(resample(&vec![0; 441], 22_050, 8_000).len(), 160);
    }

    #[test]
    fn chunking_does_not_change_the_result() {
        let x = tone(440.0, 22_050, 5_000, 8_000.0);
        let whole = resample(&x, 22_050, 8_000);
        let mut r = Resampler::new(22_050, 8_000);
        let mut pieces = Vec::new();
        for c in x.chunks(333) {
            r.process(c, &mut pieces);
        }
        r.finish(&mut pieces);
        assert_eq!(whole, pieces);
    }

    #[test]
    fn telephone_band_passes_and_what_would_alias_is_cut() {
        for from in [22_050, 24_000, 16_000, 44_100] {
            // 1 kHz passes at its level.
            let pass = resample(&tone(1_000.0, from, from as usize, 10_000.0), from, 8_000);
            let level = rms(&pass[800..7_200]) / (10_000.0 / 2f64.sqrt());
            assert!((level - 1.0).abs() < 0.02, "{from} Hz: 1 kHz came out at {level}");
            // 6 kHz would fold to 2 kHz: it must be at least 50 dB down.
            let stop = resample(&tone(6_000.0, from, from as usize, 10_000.0), from, 8_000);
            let db = 20.0 * (rms(&stop[800..7_200]) / (10_000.0 / 2f64.sqrt())).log10();
            assert!(db < -50.0, "{from} Hz: 6 kHz leaked at {db:.1} dB");
        }
    }

    #[test]
    fn tone_keeps_its_frequency() {
        // 22 050 -> 8 000 is not an integer ratio: a 1 kHz tone must still
        // cross zero 2 000 times a second.
        let out = resample(&tone(1_000.0, 22_050, 22_050, 10_000.0), 22_050, 8_000);
        let crossings = out[100..7_900].windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        assert!((1_945..=1_955).contains(&crossings), "{crossings}");
    }
}
