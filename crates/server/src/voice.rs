//! Speech settings (`[speech]`) and the engines they name: what turns calls
//! on an audio-carrying carrier into spoken conversations.
//!
//! `mode` decides whether calls are spoken at all:
//! - `off`: text-level calls (the simulator's text mode; SIP plays its
//!   placeholder voice).
//! - `auto` (default): spoken when the engines can run here (for the
//!   offline ones: this build has Whisper, its model is installed with
//!   `waihu models install`, and espeak-ng is on PATH); otherwise text-level,
//!   with a warning at start that says what is missing.
//! - `on`: spoken, and the server refuses to start without its engines.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use waihu_carrier::sim::SimVoice;
use waihu_models::{ModelStore, WHISPER_BASE};
use waihu_speech::VoiceInfo;
use waihu_speech::asr::{Buffered, DashScopeAsr, DashScopeAsrConfig, OpenAiAsr, OpenAiAsrConfig};
use waihu_speech::dashscope::DashScopeEndpoint;
use waihu_speech::offline::OfflineRecogniser;
use waihu_speech::tts::{DashScopeTts, DashScopeTtsConfig, EspeakConfig, EspeakTts, OpenAiTts, OpenAiTtsConfig};
use waihu_speech::vad::{EarshotConfig, EarshotVad};
use waihu_speech::{Asr, Endpoint, StreamingAsr, Tts, Vad};
use waihu_turn::{SplitterConfig, TurnConfig};
use waihu_voice::{AsrFactory, VoiceEngines};

/// `[speech]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeechConfig {
    /// `off`, `auto` or `on` (see the module docs).
    pub mode: String,
    /// Recogniser: `whisper` (offline), `openai` or `dashscope`.
    pub asr: String,
    /// Synthesiser: `espeak` (offline), `openai` or `dashscope`.
    pub tts: String,
    /// Silence after the callee's last voiced frame that ends their turn.
    pub hangover_ms: u64,
    /// Silence after the last voiced frame at which the recogniser is asked
    /// for its final, so it is ready when the hangover ends; 0 asks at the
    /// hangover. Default: 100 with a streaming recogniser (`dashscope`),
    /// 0 with a batch one (`whisper`, `openai`), where every early final
    /// is a whole decode of a fragment: an answer with pauses was cut into
    /// pieces, each recognised worse and at the full price.
    pub early_final_ms: Option<u64>,
    /// Speech over the AI longer than this stops it (shorter 嗯/对/好 do not).
    pub barge_in_ms: u64,
    /// How long a turn waits for a late recogniser final after the hangover.
    pub final_wait_ms: u64,
    /// Where the offline models are (`waihu models install` puts them
    /// there). Default: `$WAIHU_MODELS_DIR`, else `<data_dir>/models`.
    pub models_dir: Option<std::path::PathBuf>,
    /// Record every spoken call as a stereo WAV (callee left, AI right) in
    /// `<data_dir>/recordings`, downloadable at `GET /v1/calls/{id}/recording`.
    pub record: bool,
    /// The OpenAI-compatible speech endpoints (`asr = "openai"`, `tts = "openai"`).
    pub openai: OpenAiSpeechConfig,
    /// Alibaba Cloud DashScope: Paraformer realtime and CosyVoice (`"dashscope"`).
    pub dashscope: DashScopeSpeechConfig,
}

/// `[speech.dashscope]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashScopeSpeechConfig {
    /// The WebSocket inference endpoint.
    pub url: String,
    /// Realtime recognition model (`paraformer-realtime-8k-v2` hears telephone audio).
    pub asr_model: String,
    /// Synthesis model (`cosyvoice-v2`).
    pub tts_model: String,
    /// The environment variable holding the key.
    pub api_key_env: Option<String>,
    /// Or a file whose first line is the key.
    pub api_key_file: Option<std::path::PathBuf>,
    /// `X-DashScope-WorkSpace`, when the key belongs to a sub-workspace.
    pub workspace: Option<String>,
}

impl Default for DashScopeSpeechConfig {
    fn default() -> Self {
        DashScopeSpeechConfig {
            url: waihu_speech::dashscope::DEFAULT_URL.into(),
            asr_model: "paraformer-realtime-8k-v2".into(),
            tts_model: "cosyvoice-v2".into(),
            api_key_env: Some(waihu_speech::dashscope::KEY_ENV.into()),
            api_key_file: None,
            workspace: None,
        }
    }
}

impl Default for SpeechConfig {
    fn default() -> Self {
        // The turn-taking defaults are named once, in `TurnConfig::default`.
        let turn = TurnConfig::default();
        let ms = |d: Duration| d.as_millis() as u64;
        SpeechConfig {
            mode: "auto".into(),
            asr: "whisper".into(),
            tts: "espeak".into(),
            hangover_ms: ms(turn.hangover),
            early_final_ms: None,
            barge_in_ms: ms(turn.barge_in_min_speech),
            final_wait_ms: ms(turn.final_wait),
            record: false,
            models_dir: None,
            openai: OpenAiSpeechConfig::default(),
            dashscope: DashScopeSpeechConfig::default(),
        }
    }
}

/// `[speech.openai]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiSpeechConfig {
    /// `https://api.openai.com/v1` or any compatible server.
    pub base_url: String,
    /// For `/audio/transcriptions`.
    pub asr_model: String,
    /// For `/audio/speech`.
    pub tts_model: String,
    /// The environment variable holding the key.
    pub api_key_env: Option<String>,
    /// Or a file whose first line is the key.
    pub api_key_file: Option<std::path::PathBuf>,
}

impl Default for OpenAiSpeechConfig {
    fn default() -> Self {
        OpenAiSpeechConfig {
            base_url: "https://api.openai.com/v1".into(),
            asr_model: "gpt-4o-mini-transcribe".into(),
            tts_model: "gpt-4o-mini-tts".into(),
            api_key_env: Some("OPENAI_API_KEY".into()),
            api_key_file: None,
        }
    }
}

impl SpeechConfig {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !["off", "auto", "on"].contains(&self.mode.as_str()) {
            return Err(format!("speech.mode must be off, auto or on (got {:?})", self.mode));
        }
        if !["whisper", "openai", "dashscope"].contains(&self.asr.as_str()) {
            return Err(format!("speech.asr must be whisper, openai or dashscope (got {:?})", self.asr));
        }
        if !["espeak", "openai", "dashscope"].contains(&self.tts.as_str()) {
            return Err(format!("speech.tts must be espeak, openai or dashscope (got {:?})", self.tts));
        }
        if !(100..=2000).contains(&self.hangover_ms) {
            return Err("speech.hangover_ms must be between 100 and 2000".into());
        }
        if self.early_final_ms.is_some_and(|e| e > self.hangover_ms) {
            return Err(format!(
                "speech.early_final_ms ({}) must not be longer than speech.hangover_ms ({}); 0 turns it off",
                self.early_final_ms.unwrap_or_default(),
                self.hangover_ms
            ));
        }
        if !(100..=2000).contains(&self.barge_in_ms) {
            return Err("speech.barge_in_ms must be between 100 and 2000".into());
        }
        Ok(())
    }

    /// `early_final_ms`, or its default for the recogniser.
    pub fn early_final_ms(&self) -> u64 {
        self.early_final_ms.unwrap_or(if self.asr == "dashscope" { 100 } else { 0 })
    }
}

/// What the speech settings give the rest of the server: built from
/// `[speech]` at start-up, or given whole to [`crate::Server::start_with`]
/// (tests and benchmarks with engines of their own).
pub struct VoiceSetup {
    /// The voice pipeline's engines and rules.
    pub engines: Arc<VoiceEngines>,
    /// The simulated callees' voice and ears (`None`: no batch recogniser
    /// for them; simulated calls stay text-level).
    pub sim: Option<SimVoice>,
    /// What `tts_list` offers.
    pub voices: Vec<VoiceInfo>,
    /// A line for the start-up log.
    pub summary: String,
}

/// Builds the engines `[speech]` names; `Ok(None)` when calls stay
/// text-level (mode `off`, or `auto` without its engines).
pub(crate) async fn setup(cfg: &SpeechConfig, data_dir: &Path) -> Result<Option<VoiceSetup>, String> {
    match cfg.mode.as_str() {
        "off" => Ok(None),
        "on" => build(cfg, data_dir).await.map(Some),
        _ => match build(cfg, data_dir).await {
            Ok(setup) => Ok(Some(setup)),
            Err(why) => {
                tracing::warn!("calls are text-level (speech.mode = auto): {why}");
                Ok(None)
            }
        },
    }
}

async fn build(cfg: &SpeechConfig, data_dir: &Path) -> Result<VoiceSetup, String> {
    let offline = if cfg.asr == "whisper" {
        let store = match &cfg.models_dir {
            Some(dir) => ModelStore::new(dir.clone()),
            None => ModelStore::for_data_dir(data_dir),
        };
        let started = std::time::Instant::now();
        let store_dir = store.dir().display().to_string();
        let rec = tokio::task::spawn_blocking(move || OfflineRecogniser::load(store.require(&WHISPER_BASE)))
            .await
            .map_err(|e| format!("loading the speech model failed: {e}"))?
            .map_err(|e| format!("{e} (models directory {store_dir})"))?;
        tracing::info!(ms = started.elapsed().as_millis() as u64, "offline speech recognition model loaded");
        Some(rec)
    } else {
        None
    };
    let asr: AsrFactory = match &offline {
        Some(rec) => {
            let rec = rec.clone();
            Arc::new(move |hint: &str| -> Arc<dyn StreamingAsr> { Arc::new(Buffered::new(rec.for_call(hint))) })
        }
        None if cfg.asr == "dashscope" => {
            let mut c = DashScopeAsrConfig::new(dashscope_endpoint(&cfg.dashscope)?);
            c.model = cfg.dashscope.asr_model.clone();
            let asr: Arc<dyn StreamingAsr> = Arc::new(DashScopeAsr::new(c).map_err(|e| e.to_string())?);
            Arc::new(move |_hint: &str| asr.clone())
        }
        None => {
            let base = openai_asr(&cfg.openai, None)?;
            let openai = cfg.openai.clone();
            Arc::new(move |hint: &str| -> Arc<dyn StreamingAsr> {
                let asr: Arc<dyn Asr> = match openai_asr(&openai, Some(hint)) {
                    Ok(a) => a,
                    Err(_) => base.clone(),
                };
                Arc::new(Buffered::new(asr))
            })
        }
    };
    let tts: Arc<dyn Tts> = match cfg.tts.as_str() {
        "dashscope" => {
            let mut c = DashScopeTtsConfig::new(dashscope_endpoint(&cfg.dashscope)?);
            c.model = cfg.dashscope.tts_model.clone();
            Arc::new(DashScopeTts::new(c).map_err(|e| e.to_string())?)
        }
        "openai" => {
            let mut c = OpenAiTtsConfig::new(cfg.openai.base_url.clone(), cfg.openai.tts_model.clone());
            c.endpoint = endpoint(&cfg.openai)?;
            Arc::new(OpenAiTts::new(c).map_err(|e| e.to_string())?)
        }
        _ => {
            let espeak = EspeakTts::new(EspeakConfig::default()).map_err(|e| e.to_string())?;
            espeak.check().await.map_err(|e| e.to_string())?;
            Arc::new(espeak)
        }
    };
    // The simulated callees speak in espeak-ng's other voice, so the two
    // sides of a recording are told apart, and hear through the same
    // recogniser as the AI's pipeline.
    let callee_tts: Arc<dyn Tts> = match EspeakTts::new(EspeakConfig::default()) {
        Ok(e) if e.check().await.is_ok() => Arc::new(e),
        _ => tts.clone(),
    };
    let callee_ears: Option<Arc<dyn Asr>> = match &offline {
        // Only the default prompt: a prompt resembling the AI's lines made
        // Whisper recite it after the line it heard.
        Some(rec) => Some(rec.for_call("")),
        None if cfg.asr == "openai" => Some(openai_asr(&cfg.openai, None)?),
        None => None,
    };
    let voices = tts.voices();
    let callee_voice = voices.iter().find(|v| !v.default).map(|v| v.id.clone());
    let vad_factory = Arc::new(|| -> Box<dyn Vad> { Box::new(EarshotVad::new(EarshotConfig::default())) });
    let turn = TurnConfig {
        hangover: Duration::from_millis(cfg.hangover_ms),
        barge_in_min_speech: Duration::from_millis(cfg.barge_in_ms),
        final_wait: Duration::from_millis(cfg.final_wait_ms),
        early_final: Some(cfg.early_final_ms()).filter(|ms| *ms > 0).map(Duration::from_millis),
        ..TurnConfig::default()
    };
    Ok(VoiceSetup {
        summary: format!("calls are spoken: VAD earshot, ASR {}, TTS {}", cfg.asr, cfg.tts),
        engines: Arc::new(VoiceEngines { vad: vad_factory, asr, tts, turn, splitter: SplitterConfig::default() }),
        sim: callee_ears.map(|asr| SimVoice { tts: callee_tts, asr, voice_id: callee_voice }),
        voices,
    })
}

fn dashscope_endpoint(c: &DashScopeSpeechConfig) -> Result<DashScopeEndpoint, String> {
    let key = crate::read_secret(c.api_key_env.as_deref(), c.api_key_file.as_deref())?;
    let mut e = DashScopeEndpoint::new(key.unwrap_or_default()).at(c.url.clone());
    e.workspace = c.workspace.clone();
    Ok(e)
}

fn endpoint(c: &OpenAiSpeechConfig) -> Result<Endpoint, String> {
    let mut e = Endpoint::new(c.base_url.clone());
    if let Some(key) = crate::read_secret(c.api_key_env.as_deref(), c.api_key_file.as_deref())? {
        e = e.with_key(key);
    }
    Ok(e)
}

fn openai_asr(c: &OpenAiSpeechConfig, hint: Option<&str>) -> Result<Arc<dyn Asr>, String> {
    let mut ac = OpenAiAsrConfig::new(c.base_url.clone(), c.asr_model.clone());
    ac.endpoint = endpoint(c)?;
    ac.language = Some("zh".into());
    ac.prompt = hint.filter(|h| !h.is_empty()).map(|h| h.chars().take(200).collect());
    Ok(Arc::new(OpenAiAsr::new(ac).map_err(|e| e.to_string())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_final_is_asked_for_early_only_from_a_streaming_recogniser_unless_set() {
        let mut cfg = SpeechConfig::default();
        assert_eq!(cfg.early_final_ms(), 0, "Whisper decodes each early final whole");
        cfg.asr = "dashscope".into();
        assert_eq!(cfg.early_final_ms(), 100);
        cfg.early_final_ms = Some(0);
        assert_eq!(cfg.early_final_ms(), 0);
        cfg.asr = "whisper".into();
        cfg.early_final_ms = Some(120);
        assert_eq!(cfg.early_final_ms(), 120);
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn an_early_final_after_the_hangover_is_refused_with_both_values() {
        let cfg = SpeechConfig { early_final_ms: Some(400), ..SpeechConfig::default() };
        let err = cfg.validate().unwrap_err();
        assert!(err.contains("early_final_ms (400)") && err.contains("hangover_ms (250)"), "{err}");
    }
}
