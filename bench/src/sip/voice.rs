//! The voice pipeline on every benchmark call (`--voice 1`): the real
//! earshot VAD on every received frame, the turn-taker, the splitter and
//! paced clips, with engines that cost nothing of their own, so the figure
//! is the pipeline's: a recogniser that hears no words and a synthesiser
//! that makes a voice-band tone as long as the line would take to say.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream;
use waihu_speech::asr::Buffered;
use waihu_speech::vad::{EarshotConfig, EarshotVad};
use waihu_speech::{Asr, AsrError, StreamingAsr, Transcript, Tts, TtsError, TtsRequest, TtsStream, Vad, VoiceInfo};
use waihu_turn::{SplitterConfig, TurnConfig};
use waihu_voice::VoiceEngines;

/// Characters said per second (the SIP carrier's placeholder pace).
const CHARS_PER_SECOND: f64 = 4.5;

struct HearsNothing;

#[async_trait]
impl Asr for HearsNothing {
    fn name(&self) -> &str {
        "none"
    }
    async fn transcribe(&self, _pcm: &[i16]) -> Result<Transcript, AsrError> {
        Ok(Transcript::default())
    }
}

struct ToneVoice;

#[async_trait]
impl Tts for ToneVoice {
    fn voices(&self) -> Vec<VoiceInfo> {
        vec![VoiceInfo { id: "tone".into(), name: "tone".into(), language: "zh-CN".into(), default: true }]
    }
    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, TtsError> {
        let samples = (req.text.chars().count() as f64 / CHARS_PER_SECOND * 8000.0) as usize;
        // 400 Hz with a syllable-rate swell, at speech level.
        let pcm: Vec<i16> = (0..samples)
            .map(|i| {
                let t = i as f64 / 8000.0;
                let swell = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 4.5 * t).sin().abs();
                (6000.0 * swell * (2.0 * std::f64::consts::PI * 400.0 * t).sin()) as i16
            })
            .collect();
        Ok(Box::pin(stream::iter([Ok(pcm)])))
    }
}

/// The engines. sipp loops our own audio back, and barge-in on one's own
/// echo would cut every line: it is set out of reach for this load test
/// (the VAD and the turn-taker still see every frame).
pub fn engines() -> Arc<VoiceEngines> {
    let asr: Arc<dyn StreamingAsr> = Arc::new(Buffered::new(Arc::new(HearsNothing)));
    Arc::new(VoiceEngines {
        vad: Arc::new(|| -> Box<dyn Vad> { Box::new(EarshotVad::new(EarshotConfig::default())) }),
        asr: Arc::new(move |_hint: &str| asr.clone()),
        tts: Arc::new(ToneVoice),
        turn: TurnConfig { barge_in_min_speech: Duration::from_secs(3600), backchannel_max_speech: Duration::from_secs(3600), ..TurnConfig::default() },
        splitter: SplitterConfig::default(),
    })
}
