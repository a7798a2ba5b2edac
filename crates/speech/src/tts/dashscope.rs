//! Alibaba Cloud DashScope CosyVoice streaming synthesis over the WebSocket
//! inference API (see [`crate::dashscope`] for the task protocol).
//!
//! One task per synthesis: `run-task` with `task: "tts"`, `function:
//! "SpeechSynthesizer"`, the model, the voice and `format: "pcm",
//! sample_rate: 8000` (so no resampling here); then `continue-task` with the
//! text and `finish-task`. The audio arrives as binary frames of 16-bit
//! little-endian samples while the server synthesises, and is handed on as
//! it comes; `task-finished` ends it. Dropping the stream closes the socket,
//! which cancels the task (barge-in).
//!
//! `speed` 0-50-100 maps to CosyVoice's `rate` 0.5-1.0-2.0 (geometric) and
//! `volume` 0-100 is CosyVoice's own `volume` scale.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream;
use serde_json::json;
use waihu_core::wire::VoiceInfo;

use super::{pick_voice, Tts, TtsError, TtsRequest, TtsStream};
use crate::dashscope::{failed, task_id, DashScopeEndpoint, ServerEvent};
use crate::http::millis;

/// Settings of the CosyVoice engine.
#[derive(Debug, Clone)]
pub struct DashScopeTtsConfig {
    /// Where, and the key.
    pub endpoint: DashScopeEndpoint,
    /// `cosyvoice-v2` (its voices end in `_v2`) or `cosyvoice-v1`.
    pub model: String,
    /// The voices offered; their ids are sent as `voice`.
    pub voices: Vec<VoiceInfo>,
    /// Longest wait for the next audio frame once the text is sent.
    pub idle_timeout: Duration,
}

impl DashScopeTtsConfig {
    /// `cosyvoice-v2` with four of its Mandarin voices.
    pub fn new(endpoint: DashScopeEndpoint) -> Self {
        let voice = |id: &str, name: &str, default: bool| VoiceInfo { id: id.into(), name: name.into(), language: "zh-CN".into(), default };
        DashScopeTtsConfig {
            endpoint,
            model: "cosyvoice-v2".into(),
            voices: vec![
                voice("longxiaochun_v2", "龙小淳 (知性女声)", true),
                voice("longwan_v2", "龙婉 (温柔女声)", false),
                voice("longcheng_v2", "龙诚 (睿智男声)", false),
                voice("longhua_v2", "龙华 (活泼女童)", false),
            ],
            idle_timeout: Duration::from_secs(5),
        }
    }
}

/// CosyVoice as a [`Tts`].
#[derive(Debug, Clone)]
pub struct DashScopeTts {
    config: DashScopeTtsConfig,
}

impl DashScopeTts {
    /// Checks the settings; connecting happens per synthesis.
    pub fn new(config: DashScopeTtsConfig) -> Result<Self, TtsError> {
        if config.voices.is_empty() || config.model.trim().is_empty() {
            return Err(TtsError::NotConfigured("DashScope synthesis needs a model and at least one voice".into()));
        }
        Ok(DashScopeTts { config })
    }
}

/// 0-50-100 as CosyVoice's 0.5-1.0-2.0.
pub fn rate(speed: u8) -> f64 {
    2f64.powf((f64::from(speed.min(100)) - 50.0) / 50.0)
}

#[async_trait]
impl Tts for DashScopeTts {
    fn voices(&self) -> Vec<VoiceInfo> {
        self.config.voices.clone()
    }

    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, TtsError> {
        let voice = pick_voice(&self.config.voices, req.voice_id.as_deref())?.id.clone();
        let task = task_id();
        let payload = json!({
            "task_group": "audio", "task": "tts", "function": "SpeechSynthesizer", "model": self.config.model,
            "parameters": {"text_type": "PlainText", "voice": voice, "format": "pcm", "sample_rate": 8000,
                           "volume": req.volume.min(100), "rate": rate(req.speed), "pitch": 1.0},
            "input": {}
        });
        let mut socket = self.config.endpoint.start_task(&task, payload).await?;
        socket.send_json(json!({"header": {"action": "continue-task", "task_id": task, "streaming": "duplex"}, "payload": {"input": {"text": req.text}}})).await?;
        socket.finish(&task).await?;
        let idle = self.config.idle_timeout;
        // An odd byte can end a frame: it is carried to the next one.
        let state = (socket, Vec::<u8>::new(), false);
        Ok(Box::pin(stream::unfold(state, move |(mut socket, mut carry, done)| async move {
            if done {
                return None;
            }
            loop {
                let ev = match tokio::time::timeout(idle, socket.next_event()).await {
                    Err(_) => return Some((Err(TtsError::Timeout(millis(idle))), (socket, carry, true))),
                    Ok(Err(e)) => return Some((Err(e.into()), (socket, carry, true))),
                    Ok(Ok(ev)) => ev,
                };
                match ev {
                    ServerEvent::Audio(bytes) => {
                        carry.extend_from_slice(&bytes);
                        let whole = carry.len() / 2 * 2;
                        let pcm: Vec<i16> = carry[..whole].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
                        carry.drain(..whole);
                        if !pcm.is_empty() {
                            return Some((Ok(pcm), (socket, carry, false)));
                        }
                    }
                    ServerEvent::Finished => return None,
                    ServerEvent::Failed { code, message } => return Some((Err(failed(&code, &message).into()), (socket, carry, true))),
                    ServerEvent::Closed => {
                        let e = TtsError::Protocol("DashScope closed the connection before task-finished".into());
                        return Some((Err(e), (socket, carry, true)));
                    }
                    ServerEvent::Started | ServerEvent::Result(_) => {}
                }
            }
        })))
    }
}
