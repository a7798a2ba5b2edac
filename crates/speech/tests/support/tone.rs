//! Speech engines for tests that are exact and instant to reason about:
//! [`ToneTts`] says each character as two 20 ms symbols whose loudness
//! spells its code point, [`ToneAsr`] reads the symbols back, each after a
//! fixed delay (on tokio's clock, so paused time makes it exact), and
//! [`EnergyVad`] hears any frame louder than a line's hiss.
//!
//! Shared by the tests of several crates (`#[path]`-included), so the code
//! and its decoder are written once.
#![allow(dead_code, unreachable_pub)]

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream;
use waihu_speech::{Asr, AsrError, Transcript, Tts, TtsError, TtsRequest, TtsStream, Vad, VadFrame, VoiceInfo};

/// Samples in one symbol: 20 ms at 8 kHz.
pub const SYMBOL: usize = 160;
/// The loudest a frame of hiss (the simulator's noise floor) may be.
const HISS_PEAK: u16 = 500;

/// Each character as two symbols (its code point's high and low byte): a
/// square wave whose level is `1000 + 100 × byte`.
pub fn encode(text: &str) -> Vec<i16> {
    let mut pcm = Vec::new();
    for c in text.chars() {
        let cp = c as u32;
        assert!(cp <= 0xffff, "the test code takes the basic plane only");
        for byte in [cp >> 8, cp & 0xff] {
            let level = 1000 + 100 * byte as i16;
            pcm.extend((0..SYMBOL).map(|i| if (i / 4) % 2 == 0 { level } else { -level }));
        }
    }
    pcm
}

/// The byte a 20 ms frame carries; `None` for hiss.
pub fn symbol(frame: &[i16]) -> Option<u32> {
    let peak = frame.iter().map(|s| s.unsigned_abs()).max()?;
    (peak >= HISS_PEAK).then(|| (u32::from(peak) - 1000 + 50) / 100)
}

/// The text that symbols spell, whole characters only.
pub fn decode_symbols(bytes: &[u32]) -> String {
    bytes.chunks_exact(2).filter_map(|b| char::from_u32(b[0] << 8 | b[1])).collect()
}

/// The text a stretch of tone code says.
pub fn decode(pcm: &[i16]) -> String {
    decode_symbols(&pcm.chunks_exact(SYMBOL).filter_map(symbol).collect::<Vec<_>>())
}

/// Says text in tones `delay` after it is asked: one chunk per character,
/// or the whole text at once.
pub struct ToneTts {
    pub delay: Duration,
    pub per_character: bool,
}

#[async_trait]
impl Tts for ToneTts {
    fn voices(&self) -> Vec<VoiceInfo> {
        vec![VoiceInfo { id: "tone".into(), name: "tone".into(), language: "zh-CN".into(), default: true }]
    }
    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, TtsError> {
        tokio::time::sleep(self.delay).await;
        let chunks: Vec<_> = if self.per_character {
            req.text.chars().map(|c| Ok(encode(&c.to_string()))).collect()
        } else {
            vec![Ok(encode(&req.text))]
        };
        Ok(Box::pin(stream::iter(chunks)))
    }
}

/// Reads tones back `delay` after it is given them, and keeps what it heard.
pub struct ToneAsr {
    pub delay: Duration,
    pub heard: Mutex<Vec<String>>,
}

impl ToneAsr {
    pub fn new(delay: Duration) -> ToneAsr {
        ToneAsr { delay, heard: Mutex::new(Vec::new()) }
    }
}

#[async_trait]
impl Asr for ToneAsr {
    fn name(&self) -> &str {
        "tone"
    }
    async fn transcribe(&self, pcm: &[i16]) -> Result<Transcript, AsrError> {
        tokio::time::sleep(self.delay).await;
        let text = decode(pcm);
        self.heard.lock().unwrap().push(text.clone());
        Ok(Transcript { text, confidence: None })
    }
}

/// Speech is any 20 ms frame louder than hiss.
#[derive(Default)]
pub struct EnergyVad {
    at: Duration,
}

impl Vad for EnergyVad {
    fn name(&self) -> &'static str {
        "energy"
    }
    fn frame_duration(&self) -> Duration {
        Duration::from_millis(20)
    }
    fn push(&mut self, pcm: &[i16], out: &mut Vec<VadFrame>) {
        let loud = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0) >= HISS_PEAK;
        out.push(VadFrame { start: self.at, duration: Duration::from_millis(20), probability: if loud { 1.0 } else { 0.0 }, speech: loud });
        self.at += Duration::from_millis(20);
    }
    fn reset(&mut self) {
        self.at = Duration::ZERO;
    }
}
