//! Alibaba Cloud DashScope CosyVoice streaming synthesis over the WebSocket
//! inference API (see [`crate::dashscope`] for the task protocol).
//!
//! One connection and one task per synthesis: `run-task` with `task: "tts"`,
//! `function: "SpeechSynthesizer"`, the model, the voice and `format: "pcm",
//! sample_rate: 8000` (CosyVoice speaks at telephone rate itself, so nothing
//! is resampled here); then the text in `continue-task` (several, for text
//! past DashScope's per-message limit) and `finish-task`. The audio comes as
//! binary frames of 16-bit little-endian samples while the server
//! synthesises, and each is handed on as it arrives; `task-finished` ends the
//! stream. Dropping the stream drops the connection, which ends the task on
//! the server: that is how a barge-in stops it.
//!
//! `speed` 0-50-100 maps to CosyVoice's `rate` 0.5-1.0-2.0 (geometric, so 25
//! and 75 are equally far from normal); `volume` 0-100 is sent as
//! CosyVoice's own `volume`, whose normal level is 50 as here (100 is its
//! loudest, rather than exactly twice the amplitude).
//!
//! Voices belong to a model: `cosyvoice-v1` names them `longxiaochun`,
//! `cosyvoice-v2` `longxiaochun_v2`. With no voices configured, the engine
//! offers [`stock_voices`] of its model.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream;
use serde_json::{json, Value};
use waihu_vendor_http::{millis, HttpError};

use super::stream::{read_stream, AudioReader, Le16Samples};
use super::{pick_voice, Tts, TtsError, TtsRequest, TtsStream, VoiceInfo};
use crate::dashscope::{closed_mid_task, task_id, DashScopeEndpoint, Failure, KeyError, ServerEvent, Socket};
use crate::pcm::SAMPLE_RATE;

/// The default model.
pub const DEFAULT_MODEL: &str = "cosyvoice-v2";

/// Characters per `continue-task`. DashScope takes 20 000 per message,
/// counting a Han character as two; 5 000 keeps well inside that.
const MAX_CHARS_PER_MESSAGE: usize = 5_000;

/// Settings of the CosyVoice engine.
#[derive(Debug, Clone)]
pub struct DashScopeTtsConfig {
    /// Where, and the key.
    pub endpoint: DashScopeEndpoint,
    /// `cosyvoice-v2` or `cosyvoice-v1`.
    pub model: String,
    /// The voices offered, ids as CosyVoice names them; empty for the
    /// model's [`stock_voices`].
    pub voices: Vec<VoiceInfo>,
    /// CosyVoice's `pitch`, 0.5-2.0; 1.0 is the voice's own.
    pub pitch: f32,
    /// Longest wait from `finish-task` to the first audio.
    pub first_audio_timeout: Duration,
    /// Longest gap between two pieces of audio once it started.
    pub idle_timeout: Duration,
}

impl DashScopeTtsConfig {
    /// `cosyvoice-v2` with its stock voices, 10 s / 5 s timeouts.
    pub fn new(endpoint: DashScopeEndpoint) -> Self {
        DashScopeTtsConfig {
            endpoint,
            model: DEFAULT_MODEL.into(),
            voices: Vec::new(),
            pitch: 1.0,
            first_audio_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
        }
    }

    /// The public endpoint with the key from `$DASHSCOPE_API_KEY`.
    pub fn from_env() -> Result<Self, KeyError> {
        Ok(Self::new(DashScopeEndpoint::from_env()?))
    }
}

/// Four Mandarin voices of `cosyvoice-v1` or `cosyvoice-v2` (the first the
/// default); `None` for a model whose voices are not known here.
pub fn stock_voices(model: &str) -> Option<Vec<VoiceInfo>> {
    let suffix = match model.trim() {
        "cosyvoice-v1" => "",
        "cosyvoice-v2" => "_v2",
        _ => return None,
    };
    let voices = [
        ("longxiaochun", "龙小淳（知性积极女声）"),
        ("longwan", "龙婉（温柔知性女声）"),
        ("longcheng", "龙橙（智慧青年男声）"),
        ("longhua", "龙华（元气甜美女声）"),
    ];
    Some(
        voices
            .iter()
            .enumerate()
            .map(|(i, (id, name))| VoiceInfo { id: format!("{id}{suffix}"), name: (*name).into(), language: "zh-CN".into(), default: i == 0 })
            .collect(),
    )
}

/// CosyVoice's `rate` (0.5-2.0) for a 0-100 speed: 1.0 at 50.
pub fn cosyvoice_rate(speed: u8) -> f64 {
    let x = 2f64.powf((f64::from(speed.min(100)) - 50.0) / 50.0);
    (x * 100.0).round() / 100.0
}

/// CosyVoice as a [`Tts`].
#[derive(Debug, Clone)]
pub struct DashScopeTts {
    config: DashScopeTtsConfig,
}

impl DashScopeTts {
    /// Checks the settings and settles the voices; connecting happens per
    /// synthesis.
    pub fn new(mut config: DashScopeTtsConfig) -> Result<Self, TtsError> {
        config.endpoint.check()?;
        if config.model.trim().is_empty() {
            return Err(TtsError::NotConfigured("DashScope synthesis needs a model".into()));
        }
        if config.voices.is_empty() {
            config.voices = stock_voices(&config.model).ok_or_else(|| {
                TtsError::NotConfigured(format!("no stock voices known for {:?}: list the model's voices in the configuration", config.model))
            })?;
        }
        if config.voices.iter().filter(|v| v.default).count() > 1 {
            return Err(TtsError::NotConfigured("more than one voice is marked default".into()));
        }
        if !(0.5..=2.0).contains(&config.pitch) {
            return Err(TtsError::NotConfigured("pitch must be between 0.5 and 2.0".into()));
        }
        if config.first_audio_timeout.is_zero() || config.idle_timeout.is_zero() {
            return Err(TtsError::NotConfigured("the synthesis timeouts must not be zero".into()));
        }
        Ok(DashScopeTts { config })
    }

    /// The `payload` of `run-task` for `req` in `voice`.
    pub fn run_task_payload(&self, req: &TtsRequest, voice: &str) -> Value {
        json!({
            "task_group": "audio", "task": "tts", "function": "SpeechSynthesizer",
            "model": self.config.model.trim(),
            "parameters": {
                "text_type": "PlainText", "voice": voice, "format": "pcm", "sample_rate": SAMPLE_RATE,
                "volume": req.volume.min(100), "rate": cosyvoice_rate(req.speed), "pitch": self.config.pitch,
            },
            "input": {}
        })
    }

    /// Connects, starts the task and sends all of the text.
    async fn begin(&self, req: &TtsRequest, voice: &str) -> Result<Socket, Failure> {
        let mut socket = self.config.endpoint.connect().await?;
        let id = task_id();
        socket.run_task(&id, &self.run_task_payload(req, voice), None).await?;
        let chars: Vec<char> = req.text.chars().collect();
        for piece in chars.chunks(MAX_CHARS_PER_MESSAGE) {
            socket.continue_task(&id, &piece.iter().collect::<String>()).await?;
        }
        socket.finish_task(&id).await?;
        Ok(socket)
    }
}

#[async_trait]
impl Tts for DashScopeTts {
    fn voices(&self) -> Vec<VoiceInfo> {
        self.config.voices.clone()
    }

    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, TtsError> {
        // Refuse an unknown voice as itself, before connecting.
        let voice = pick_voice(&self.config.voices, req.voice_id.as_deref())?.id.clone();
        if req.text.trim().is_empty() {
            return Ok(Box::pin(stream::empty()));
        }
        tracing::debug!(model = %self.config.model, %voice, chars = req.text.chars().count(), "asking DashScope for speech");
        let socket = match self.begin(&req, &voice).await {
            Ok(socket) => socket,
            Err(f) => {
                let e = TtsError::from(f);
                tracing::warn!(model = %self.config.model, %voice, error = %e, "DashScope speech request failed");
                return Err(e);
            }
        };
        let listening = Listening {
            socket: Some(socket),
            samples: Le16Samples::default(),
            wait: self.config.first_audio_timeout,
            idle: self.config.idle_timeout,
        };
        Ok(read_stream(listening))
    }
}

/// One synthesis being received.
struct Listening {
    /// `None` once the task has ended, one way or the other.
    socket: Option<Socket>,
    /// Samples from the frames, which may split one between them.
    samples: Le16Samples,
    /// The wait for the next audio: the first, then the idle gap.
    wait: Duration,
    idle: Duration,
}

impl AudioReader for Listening {
    async fn next_chunk(&mut self) -> Result<Option<Vec<i16>>, TtsError> {
        loop {
            let Some(socket) = self.socket.as_mut() else { return Ok(None) };
            let ev = match tokio::time::timeout(self.wait, socket.next_event()).await {
                Err(_) => Err(HttpError::Timeout(millis(self.wait)).into()),
                Ok(ev) => ev,
            };
            match ev {
                Ok(ServerEvent::Audio(bytes)) => {
                    let mut pcm = Vec::with_capacity(bytes.len() / 2 + 1);
                    self.samples.push(&bytes, &mut pcm);
                    if !pcm.is_empty() {
                        self.wait = self.idle;
                        return Ok(Some(pcm));
                    }
                }
                Ok(ServerEvent::Finished(_)) => {
                    if let Some(socket) = self.socket.take() {
                        socket.close().await;
                    }
                    return Ok(None);
                }
                Ok(ServerEvent::Failed { code, message }) => return Err(self.failed(Failure::Task { code, message })),
                Ok(ServerEvent::Closed) => return Err(self.failed(closed_mid_task())),
                Ok(ServerEvent::Started(_) | ServerEvent::Result(..)) => {}
                Err(f) => return Err(self.failed(f)),
            }
        }
    }
}

impl Listening {
    /// The task broke off: the connection is dropped, and the error logged.
    fn failed(&mut self, f: Failure) -> TtsError {
        self.socket = None;
        let e = TtsError::from(f);
        tracing::warn!(error = %e, "DashScope speech broke off");
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_geometric_around_one() {
        assert_eq!([0, 25, 50, 75, 100].map(cosyvoice_rate), [0.5, 0.71, 1.0, 1.41, 2.0]);
    }

    #[test]
    fn stock_voices_follow_the_model() {
        let v2 = stock_voices("cosyvoice-v2").unwrap();
        assert!(v2.iter().all(|v| v.id.ends_with("_v2")), "{v2:?}");
        assert_eq!(v2.iter().filter(|v| v.default).map(|v| v.id.as_str()).collect::<Vec<_>>(), ["longxiaochun_v2"]);
        let v1 = stock_voices("cosyvoice-v1").unwrap();
        assert_eq!(v1.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(), ["longxiaochun", "longwan", "longcheng", "longhua"]);
        assert!(v1.iter().all(|v| v.name.starts_with('龙')));
        assert!(stock_voices("cosyvoice-v9").is_none());
    }

    #[test]
    fn a_model_without_known_voices_needs_them_configured() {
        let mut c = DashScopeTtsConfig::new(DashScopeEndpoint::new("sk-test-0123456789abcdef"));
        c.model = "cosyvoice-v9".into();
        assert!(matches!(DashScopeTts::new(c.clone()), Err(TtsError::NotConfigured(m)) if m.contains("cosyvoice-v9")));
        c.voices = vec![VoiceInfo { id: "longnew_v9".into(), name: "龙新".into(), language: "zh-CN".into(), default: true }];
        assert_eq!(DashScopeTts::new(c).unwrap().voices().len(), 1);
    }
}
