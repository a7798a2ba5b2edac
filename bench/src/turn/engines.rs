//! Engines of fixed latency behind the real traits, each logging when it
//! was asked and when it answered, so the engines' own time can be taken
//! out of a turn from their side too.
//!
//! - [`FixedAsr`] (`StreamingAsr`): reads the audio it is pushed and answers
//!   every `finalise` with a `Final` exactly `delay` later, whose text is
//!   what the callee last began to say (the script knows it), given once:
//!   a later final of the same utterance (asked for at a pause inside it)
//!   is empty, as a streaming recogniser has no new words for it.
//! - [`FixedTts`] (`Tts`): first audio `first_audio` after the request, then
//!   the rest at twice real time; a chunk of N characters is N x
//!   `ms_per_char` of a soft 220 Hz tone.

use std::f32::consts::TAU;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::stream;
use tokio::time::sleep_until;
use waihu_speech::asr::{session_channel, Feed, DEFAULT_QUEUE_PUSHES};
use waihu_speech::{AsrError, AsrEvent, AsrSession, StreamingAsr, Transcript, Tts, TtsError, TtsRequest, TtsStream, VoiceInfo};

/// When an engine was asked and when it answered (its first result).
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// The request reached the engine.
    pub asked: Instant,
    /// Its answer (the final, the first audio) left the engine.
    pub answered: Instant,
}

impl Served {
    /// The engine's own time.
    pub fn took(&self) -> Duration {
        self.answered.saturating_duration_since(self.asked)
    }
}

/// A shared log of requests served.
pub type ServedLog = Arc<Mutex<Vec<Served>>>;

fn to_tokio(at: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(at)
}

/// A recogniser whose final comes a fixed time after the end of speech.
pub struct FixedAsr {
    delay: Duration,
    said: Arc<Mutex<String>>,
    /// Every finalise served.
    pub log: ServedLog,
}

impl FixedAsr {
    /// Finals `delay` after each finalise, with the text in `said`.
    pub fn new(delay: Duration, said: Arc<Mutex<String>>) -> Self {
        FixedAsr { delay, said, log: ServedLog::default() }
    }
}

#[async_trait]
impl StreamingAsr for FixedAsr {
    fn name(&self) -> &str {
        "fixed-latency"
    }

    async fn start(&self) -> Result<AsrSession, AsrError> {
        let (session, mut feed) = session_channel(DEFAULT_QUEUE_PUSHES);
        let (delay, said, log) = (self.delay, self.said.clone(), self.log.clone());
        tokio::spawn(async move {
            while let Some(item) = feed.next().await {
                let Feed::Finalise = item else { continue };
                let asked = Instant::now();
                let text = std::mem::take(&mut *said.lock().expect("lock"));
                let (events, log) = (feed.events(), log.clone());
                tokio::spawn(async move {
                    sleep_until(to_tokio(asked + delay)).await;
                    log.lock().expect("lock").push(Served { asked, answered: Instant::now() });
                    let _ = events.send(AsrEvent::Final(Transcript { text, confidence: None })).await;
                });
            }
        });
        Ok(session)
    }
}

/// A synthesiser whose first audio comes a fixed time after the request.
pub struct FixedTts {
    first_audio: Duration,
    ms_per_char: u64,
    /// Every request, to its first audio.
    pub log: ServedLog,
}

/// Audio per piece after the first, and how often pieces come (twice real time).
const PIECE: Duration = Duration::from_millis(200);
const PIECE_EVERY: Duration = Duration::from_millis(100);

impl FixedTts {
    /// First audio `first_audio` after each request; `ms_per_char` of audio per character.
    pub fn new(first_audio: Duration, ms_per_char: u64) -> Self {
        FixedTts { first_audio, ms_per_char, log: ServedLog::default() }
    }
}

struct Synth {
    next: Instant,
    pos: usize,
    total: usize,
    asked: Instant,
    first: bool,
    log: ServedLog,
}

#[async_trait]
impl Tts for FixedTts {
    fn voices(&self) -> Vec<VoiceInfo> {
        vec![VoiceInfo { id: "tone".into(), name: "220 Hz tone".into(), language: "zh-CN".into(), default: true }]
    }

    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, TtsError> {
        let asked = Instant::now();
        let chars = req.text.trim().chars().count() as u64;
        let total = (chars * self.ms_per_char * 8) as usize;
        let state = Synth { next: asked + self.first_audio, pos: 0, total, asked, first: true, log: self.log.clone() };
        let s = stream::unfold(state, |mut s| async move {
            if s.pos >= s.total {
                return None;
            }
            sleep_until(to_tokio(s.next)).await;
            if s.first {
                s.first = false;
                s.log.lock().expect("lock").push(Served { asked: s.asked, answered: Instant::now() });
            }
            let n = (PIECE.as_millis() as usize * 8).min(s.total - s.pos);
            let pcm = tone(s.pos, n);
            s.pos += n;
            s.next += PIECE_EVERY;
            Some((Ok(pcm), s))
        });
        Ok(Box::pin(s))
    }
}

/// `n` samples of a 220 Hz tone at -20 dBFS from sample `from` on.
fn tone(from: usize, n: usize) -> Vec<i16> {
    (from..from + n).map(|i| (3300.0 * (TAU * 220.0 * i as f32 / 8000.0).sin()) as i16).collect()
}
