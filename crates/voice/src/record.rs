//! Call recording: a stereo WAV, callee on the left, AI on the right, both
//! on one timeline that starts with the callee's first audio frame.
//!
//! The callee's channel is the frames as they arrived, one after another
//! (the carrier hands over exactly one per 20 ms). The AI's channel places
//! each clip where its first frame went out and keeps only the samples the
//! leg reports played, so a line cut by a barge-in is cut in the recording
//! too.

use std::path::Path;
use std::time::Instant;

/// Samples per second.
const RATE: u32 = 8_000;
/// Longest recording kept (two hours): past it, audio is not recorded.
const MAX_SAMPLES: usize = RATE as usize * 7_200;

/// Collects one call's audio in memory; written once, when the call ends.
#[derive(Debug, Default)]
pub struct StereoRecorder {
    origin: Option<Instant>,
    callee: Vec<i16>,
    ai: Vec<i16>,
}

impl StereoRecorder {
    /// An empty recording.
    pub fn new() -> Self {
        Self::default()
    }

    /// The callee's next frame, handed over at `at`.
    pub fn callee(&mut self, pcm: &[i16], at: Instant) {
        let origin = *self.origin.get_or_insert(at);
        // Frames come back to back; a gap (no packets before the far end's
        // first, a stall) is kept as silence so both channels stay in time.
        let due = (at.saturating_duration_since(origin).as_secs_f64() * f64::from(RATE)) as usize;
        if due > self.callee.len() + 2 * 160 {
            self.callee.resize(due.min(MAX_SAMPLES), 0);
        }
        let room = MAX_SAMPLES.saturating_sub(self.callee.len());
        self.callee.extend_from_slice(&pcm[..pcm.len().min(room)]);
    }

    /// AI audio whose first sample went out at `started`.
    pub fn ai(&mut self, pcm: &[i16], started: Instant) {
        let origin = *self.origin.get_or_insert(started);
        let at = (started.saturating_duration_since(origin).as_secs_f64() * f64::from(RATE)) as usize;
        // Clips play back to back: one that starts within a frame of the
        // previous one's end continues it exactly.
        let at = if at.abs_diff(self.ai.len()) <= 160 { self.ai.len() } else { at };
        let end = (at + pcm.len()).min(MAX_SAMPLES);
        if end <= at {
            return;
        }
        if self.ai.len() < end {
            self.ai.resize(end, 0);
        }
        self.ai[at..end].copy_from_slice(&pcm[..end - at]);
    }

    /// Seconds recorded so far.
    pub fn seconds(&self) -> f64 {
        self.callee.len().max(self.ai.len()) as f64 / f64::from(RATE)
    }

    /// The recording as a 16-bit stereo WAV file.
    pub fn to_wav(&self) -> Vec<u8> {
        let frames = self.callee.len().max(self.ai.len());
        let data_len = (frames * 4) as u32;
        let mut out = Vec::with_capacity(44 + frames * 4);
        out.extend_from_slice(b"RIFF");
        out.extend_from_slice(&(36 + data_len).to_le_bytes());
        out.extend_from_slice(b"WAVEfmt ");
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes()); // PCM
        out.extend_from_slice(&2u16.to_le_bytes()); // channels
        out.extend_from_slice(&RATE.to_le_bytes());
        out.extend_from_slice(&(RATE * 4).to_le_bytes()); // bytes per second
        out.extend_from_slice(&4u16.to_le_bytes()); // block align
        out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
        out.extend_from_slice(b"data");
        out.extend_from_slice(&data_len.to_le_bytes());
        for i in 0..frames {
            out.extend_from_slice(&self.callee.get(i).copied().unwrap_or(0).to_le_bytes());
            out.extend_from_slice(&self.ai.get(i).copied().unwrap_or(0).to_le_bytes());
        }
        out
    }

    /// Writes the WAV to `path` (through a temporary file, so a reader never
    /// sees half a recording).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("wav.part");
        std::fs::write(&tmp, self.to_wav())?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn channel(wav: &[u8], ch: usize) -> Vec<i16> {
        wav[44..].chunks_exact(4).map(|f| i16::from_le_bytes([f[ch * 2], f[ch * 2 + 1]])).collect()
    }

    #[test]
    fn callee_left_ai_right_on_one_timeline() {
        let t0 = Instant::now();
        let mut r = StereoRecorder::new();
        for n in 0..10u64 {
            r.callee(&[100; 160], t0 + Duration::from_millis(20 * n));
        }
        // An AI clip 100 ms in, then one right after it (gapless).
        r.ai(&[7; 320], t0 + Duration::from_millis(100));
        r.ai(&[9; 160], t0 + Duration::from_millis(141));
        let wav = r.to_wav();
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 2);
        let left = channel(&wav, 0);
        let right = channel(&wav, 1);
        assert_eq!(left.len(), 1600);
        assert!(left.iter().all(|&s| s == 100));
        assert!(right[..800].iter().all(|&s| s == 0));
        assert!(right[800..1120].iter().all(|&s| s == 7));
        assert!(right[1120..1280].iter().all(|&s| s == 9));
        assert!((r.seconds() - 0.2).abs() < 1e-9);
    }
}
