//! The callee's voice: real speech from the project's espeak-ng engine, cut
//! into the 20 ms frames the leg sends, and the energy rule that says which
//! frames are voiced.
//!
//! Leading and trailing silence is cut, so an utterance's first and last
//! frames are voiced. A silence inside an utterance longer than
//! [`MAX_PAUSE`] would be shortened to it: a pause longer than the 200 ms
//! hangover would split `对，是我，请说。` into turns, which a caller saying
//! three words does not mean. espeak-ng pauses about 100 ms at these
//! commas, so the guard changes nothing in practice (the benchmark prints
//! each utterance's longest pause as espeak-ng said it).

use std::path::Path;
use std::time::Duration;

use waihu_speech::pcm::rms_dbfs;
use waihu_speech::tts::{EspeakConfig, EspeakTts};
use waihu_speech::{synthesize_all, TtsRequest};

/// Samples in a 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;
/// A frame at or above this RMS level is voiced. The line's noise floor is
/// about -80 dBFS, espeak-ng's speech -30 to -10 dBFS.
pub const VOICED_DBFS: f32 = -45.0;
/// Longest silence kept inside an utterance.
pub const MAX_PAUSE: Duration = Duration::from_millis(120);

/// Whether a 20 ms frame holds voice, by energy alone.
pub fn voiced(frame: &[i16]) -> bool {
    rms_dbfs(frame) >= VOICED_DBFS
}

/// One thing the callee says, ready to send.
#[derive(Debug, Clone)]
pub struct Utterance {
    /// What is said (the fake recogniser's answer for it).
    pub text: String,
    /// 8 kHz mono, a whole number of frames, first and last frame voiced.
    pub pcm: Vec<i16>,
    /// The longest silence inside it as espeak-ng said it (before it was
    /// shortened to [`MAX_PAUSE`]).
    pub longest_pause: Duration,
}

impl Utterance {
    /// Its length.
    pub fn duration(&self) -> Duration {
        Duration::from_millis((self.pcm.len() / 8) as u64)
    }

    /// From the start of its first voiced frame to the end of its last.
    pub fn voiced_span(&self) -> Duration {
        let frames: Vec<bool> = self.pcm.chunks(FRAME).map(voiced).collect();
        match (frames.iter().position(|v| *v), frames.iter().rposition(|v| *v)) {
            (Some(a), Some(b)) => Duration::from_millis(20 * (b - a + 1) as u64),
            _ => Duration::ZERO,
        }
    }

    /// Frames that are voiced.
    pub fn voiced_frames(&self) -> usize {
        self.pcm.chunks(FRAME).filter(|f| voiced(f)).count()
    }

    /// Writes it as a WAV file (8 kHz mono), for the other harness and for ears.
    pub fn write_wav(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, waihu_speech::wav::encode(8000, &self.pcm))
    }
}

/// What the earshot VAD makes of `u` said after a second of hiss and
/// followed by another: one character per 16 ms decision (`#` speech),
/// from 100 ms before the utterance to 300 ms after it, and the voiced
/// time it counts (what the barge-in rule adds up).
pub fn vad_profile(u: &Utterance) -> (String, Duration) {
    use waihu_speech::vad::{EarshotConfig, EarshotVad};
    use waihu_speech::Vad;
    let mut hiss = Hiss::default();
    let lead = 8000;
    let mut pcm: Vec<i16> = (0..lead).map(|_| hiss.sample()).collect();
    pcm.extend_from_slice(&u.pcm);
    pcm.extend((0..8000).map(|_| hiss.sample()));
    let mut vad = EarshotVad::new(EarshotConfig::default());
    let mut frames = Vec::new();
    for f in pcm.chunks(FRAME) {
        vad.push(f, &mut frames);
    }
    let from = Duration::from_millis(900);
    let to = Duration::from_millis(1000) + u.duration() + Duration::from_millis(300);
    let map: String = frames.iter().filter(|f| f.start >= from && f.start < to).map(|f| if f.speech { '#' } else { '.' }).collect();
    let voiced = frames.iter().filter(|f| f.speech).map(|f| f.duration).sum();
    (map, voiced)
}

/// The callee's voice: espeak-ng's female Mandarin voice (the AI of the
/// offline run speaks in the male one, as in the simulator).
pub struct CalleeVoice {
    tts: EspeakTts,
}

/// The voice the callee speaks in.
pub const CALLEE_VOICE: &str = "cmn-latn-pinyin+f3";

impl CalleeVoice {
    /// espeak-ng, checked to be installed.
    pub async fn new() -> Result<Self, String> {
        let tts = EspeakTts::new(EspeakConfig::default()).map_err(|e| e.to_string())?;
        tts.check().await.map_err(|e| format!("{e} (bash scripts/install-test-deps.sh installs it)"))?;
        Ok(CalleeVoice { tts })
    }

    /// Says `text` at `speed` (0-100, 50 normal) and cuts it to frames.
    pub async fn say(&self, text: &str, speed: u8) -> Result<Utterance, String> {
        let req = TtsRequest::new(text).voice(CALLEE_VOICE).speed(speed);
        let pcm = synthesize_all(&self.tts, req).await.map_err(|e| format!("espeak-ng saying {text:?}: {e}"))?;
        let longest_pause = longest_pause(&pcm);
        let pcm = tidy(&pcm);
        if pcm.is_empty() {
            return Err(format!("espeak-ng said nothing audible for {text:?}"));
        }
        Ok(Utterance { text: text.to_owned(), pcm, longest_pause })
    }

    /// Says `text`, faster until its voiced span is under `max` (a lone
    /// acknowledgement must be shorter than the barge-in threshold).
    pub async fn say_within(&self, text: &str, max: Duration) -> Result<Utterance, String> {
        let mut last = None;
        for speed in [50u8, 60, 70, 80, 90, 100] {
            let u = self.say(text, speed).await?;
            if u.voiced_span() < max {
                return Ok(u);
            }
            last = Some(u);
        }
        let u = last.expect("tried at least once");
        Err(format!("{text:?} lasts {:?} even at espeak's fastest; it must be under {max:?}", u.voiced_span()))
    }
}

/// The longest run of silent frames between two voiced ones.
fn longest_pause(pcm: &[i16]) -> Duration {
    let (mut longest, mut run, mut seen_voice) = (0, 0, false);
    for f in pcm.chunks(FRAME) {
        if voiced(f) {
            if seen_voice {
                longest = longest.max(run);
            }
            seen_voice = true;
            run = 0;
        } else {
            run += 1;
        }
    }
    Duration::from_millis(20 * longest as u64)
}

/// Whole frames, silence cut at both ends and shortened inside.
fn tidy(pcm: &[i16]) -> Vec<i16> {
    let frames: Vec<&[i16]> = pcm.chunks(FRAME).collect();
    let Some(first) = frames.iter().position(|f| voiced(f)) else { return Vec::new() };
    let last = frames.iter().rposition(|f| voiced(f)).expect("a voiced frame exists");
    let max_pause = (MAX_PAUSE.as_millis() / 20) as usize;
    let mut out = Vec::with_capacity(pcm.len());
    let mut silent_run = 0;
    for f in &frames[first..=last] {
        if voiced(f) {
            silent_run = 0;
        } else {
            silent_run += 1;
            if silent_run > max_pause {
                continue;
            }
        }
        out.extend_from_slice(f);
        // The last frame of the input may be short.
        out.resize(out.len().div_ceil(FRAME) * FRAME, 0);
    }
    out
}

/// The line's own faint hiss between utterances (a few LSB, as the
/// simulated network's quiet line has): xorshift, so runs are repeatable.
#[derive(Debug, Clone)]
pub struct Hiss(u32);

impl Default for Hiss {
    fn default() -> Self {
        Hiss(0x2545_f491)
    }
}

impl Hiss {
    /// The next sample.
    pub fn sample(&mut self) -> i16 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 % 7) as i16 - 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_cuts_the_ends_and_shortens_pauses() {
        let loud = vec![8000i16; FRAME];
        let quiet = vec![1i16; FRAME];
        let mut pcm = Vec::new();
        for f in [&quiet, &quiet, &loud, &quiet, &quiet, &quiet, &quiet, &quiet, &quiet, &quiet, &quiet, &loud, &quiet] {
            pcm.extend_from_slice(f);
        }
        let out = tidy(&pcm);
        // loud, 6 of the 8 quiet frames (120 ms), loud.
        assert_eq!(out.len(), FRAME * 8);
        assert!(voiced(&out[..FRAME]) && voiced(&out[out.len() - FRAME..]));
        assert_eq!(longest_pause(&pcm), Duration::from_millis(160));
        let u = Utterance { text: String::new(), pcm: out, longest_pause: Duration::ZERO };
        assert_eq!(u.voiced_span(), Duration::from_millis(160));
        assert_eq!(u.voiced_frames(), 2);
    }
}
