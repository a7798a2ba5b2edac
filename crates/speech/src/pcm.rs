//! Telephone PCM: the one audio format every engine here takes and gives.
//!
//! Mono, signed 16-bit, 8 kHz. An engine that works at another rate converts
//! at its edge ([`crate::resample`] for a synthesiser's own rate, or
//! `waihu_media::resample` for 8 <-> 16 kHz on the media clock), so the
//! pipeline never has to know.

use std::time::Duration;

use waihu_media::resample::to_i16;

/// Samples per second of telephone audio.
pub const SAMPLE_RATE: u32 = 8_000;

/// Samples in one 20 ms media frame at [`SAMPLE_RATE`] (the RTP packet size).
pub const FRAME_SAMPLES: usize = waihu_media::FRAME_SAMPLES;

/// How long `samples` samples at [`SAMPLE_RATE`] last.
pub fn duration_of(samples: usize) -> Duration {
    Duration::from_micros(samples as u64 * 1_000_000 / u64::from(SAMPLE_RATE))
}

/// Collects audio of any chunking into frames of exactly `N` samples.
///
/// Engines hand audio over in whatever pieces they read; the media clock and
/// the VAD want fixed frames. Samples are kept in order; what does not fill a
/// frame waits for the next push.
#[derive(Debug, Clone)]
pub struct Reframer<const N: usize> {
    pending: [i16; N],
    filled: usize,
}

impl<const N: usize> Default for Reframer<N> {
    fn default() -> Self {
        Reframer { pending: [0; N], filled: 0 }
    }
}

impl<const N: usize> Reframer<N> {
    /// A reframer holding nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `pcm`, calling `frame` with each frame it completes.
    pub fn push(&mut self, mut pcm: &[i16], mut frame: impl FnMut(&[i16; N])) {
        while !pcm.is_empty() {
            if self.filled == 0 && pcm.len() >= N {
                // Whole frames straight from the input: no copy into `pending`.
                let (head, rest) = pcm.split_at(N);
                frame(head.try_into().expect("split_at(N) gives N samples"));
                pcm = rest;
                continue;
            }
            let take = (N - self.filled).min(pcm.len());
            self.pending[self.filled..self.filled + take].copy_from_slice(&pcm[..take]);
            self.filled += take;
            pcm = &pcm[take..];
            if self.filled == N {
                frame(&self.pending);
                self.filled = 0;
            }
        }
    }

    /// Samples waiting for the rest of their frame.
    pub fn pending(&self) -> usize {
        self.filled
    }

    /// The last, partial frame padded with silence, if there is one.
    pub fn flush(&mut self, frame: impl FnOnce(&[i16; N])) {
        if self.filled > 0 {
            self.pending[self.filled..].fill(0);
            self.filled = 0;
            frame(&self.pending);
        }
    }
}

/// The linear gain for a 0-100 volume where 50 is the engine's own level:
/// 0 is silence, 100 twice the amplitude (+6 dB).
pub fn volume_gain(volume: u8) -> f32 {
    f32::from(volume.min(100)) / 50.0
}

/// Multiplies `pcm` by `gain`, saturating rather than wrapping.
pub fn apply_gain(pcm: &mut [i16], gain: f32) {
    if (gain - 1.0).abs() < f32::EPSILON {
        return;
    }
    for s in pcm {
        *s = to_i16(f32::from(*s) * gain);
    }
}


/// Root-mean-square level of `pcm` in dBFS (a full-scale square wave is 0);
/// `-inf` for digital silence.
pub fn rms_dbfs(pcm: &[i16]) -> f32 {
    if pcm.is_empty() {
        return f32::NEG_INFINITY;
    }
    let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / pcm.len() as f64;
    (10.0 * (energy / (32768.0 * 32768.0)).log10()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reframer_keeps_order_across_odd_chunks() {
        let input: Vec<i16> = (0..1000).collect();
        let mut r = Reframer::<256>::new();
        let mut out = Vec::new();
        for chunk in input.chunks(77) {
            r.push(chunk, |f| out.extend_from_slice(f));
        }
        assert_eq!(out.len(), 768);
        assert_eq!(r.pending(), 1000 - 768);
        r.flush(|f| out.extend_from_slice(f));
        assert_eq!(out.len(), 1024);
        assert_eq!(&out[..1000], &input[..]);
        assert!(out[1000..].iter().all(|&s| s == 0));
    }

    #[test]
    fn gain_saturates_and_fifty_is_unity() {
        assert_eq!(volume_gain(50), 1.0);
        assert_eq!(volume_gain(0), 0.0);
        assert_eq!(volume_gain(255), 2.0);
        let mut pcm = [20_000, -20_000, 100];
        apply_gain(&mut pcm, volume_gain(100));
        assert_eq!(pcm, [i16::MAX, i16::MIN, 200]);
    }

    #[test]
    fn durations_and_levels() {
        assert_eq!(duration_of(FRAME_SAMPLES), Duration::from_millis(20));
        assert_eq!(rms_dbfs(&[0; 10]), f32::NEG_INFINITY);
        assert!(rms_dbfs(&[i16::MAX, i16::MIN]).abs() < 0.01);
    }
}
