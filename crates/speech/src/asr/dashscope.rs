//! Alibaba Cloud DashScope Paraformer realtime recognition over the
//! WebSocket inference API (see [`crate::dashscope`] for the task protocol).
//!
//! A task is `run-task` with `task: "asr"`, `function: "recognition"`, the
//! model and `format: "pcm", sample_rate: 8000`, then the audio as binary
//! frames of 16-bit little-endian samples (about 100 ms each), then
//! `finish-task`. The server answers with `result-generated` events whose
//! `output.sentence` holds `text` and `sentence_end`: a sentence not yet
//! ended is a guess that the next event replaces, an ended one is settled.
//! After `finish-task` it settles what is left and sends `task-finished`.
//!
//! # One task per speech run
//!
//! The pipeline pushes audio only while the callee speaks (the VAD's runs,
//! with a pre-roll) and asks for a final at the end of each run. So each run
//! is one task: its first audio starts the task, the run's
//! [`finalise`](super::AsrInput::finalise) sends `finish-task`, and
//! `task-finished` gives the run's [`AsrEvent::Final`]: every sentence the
//! server settled in the task, as one text. Each finalise is answered by
//! exactly one final, empty when nothing was pushed or heard; while the run
//! goes on, [`AsrEvent::Partial`]s give the run's text so far (the settled
//! sentences and the current guess). Letting the pipeline's VAD decide when
//! speech ended, rather than the server's own sentence breaks, keeps one
//! idea of a turn in the call, and `finish-task` gets the last words settled
//! at once instead of after the server's silence threshold.
//!
//! A task ends and the connection stays, so the next run's `run-task` goes
//! over a connection already open (DashScope allows reuse after
//! `task-finished`); [`StreamingAsr::start`] opens it and starts the first
//! task, so a bad key, model or parameter is refused there. A connection the
//! server dropped between runs, or one idle for over 20 s, is replaced at
//! the next run. While a task starts, the run's audio waits in the session's
//! queue (a second of it; more is dropped and counted, as always); audio
//! that comes while a task is finishing waits (up to 10 s) and goes to the
//! next task.
//!
//! # Failures
//!
//! A run whose task fails (`task-failed`, a dropped connection, a write that
//! does not go through) is reported as one [`AsrEvent::Error`]; its further
//! audio is dropped and its finalise answered with an empty final, and the
//! next run starts over on a new connection. A `task-finished` that does not
//! come within `final_timeout` of `finish-task` gives the final with what was
//! heard so far.
//!
//! `paraformer-realtime-8k-v2` is made for telephone audio;
//! `paraformer-realtime-v2` takes any sample rate, so it gets the 8 kHz audio
//! as it is too (upsampling adds nothing to hear), and also takes
//! `language_hints`, which the 8 kHz model does not.
mod driver;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::session::AsrSession;
use super::{AsrError, StreamingAsr};
use crate::dashscope::{DashScopeEndpoint, KeyError};
use crate::pcm::SAMPLE_RATE;

/// The model for telephone audio.
pub const DEFAULT_MODEL: &str = "paraformer-realtime-8k-v2";

/// Settings of the Paraformer realtime engine.
#[derive(Debug, Clone)]
pub struct DashScopeAsrConfig {
    /// Where, and the key.
    pub endpoint: DashScopeEndpoint,
    /// `paraformer-realtime-8k-v2` (telephone audio, Chinese) or
    /// `paraformer-realtime-v2` (any rate; more languages).
    pub model: String,
    /// Languages to expect (`zh`, `en`, `yue`, …), sent as `language_hints`
    /// to the models that take them (not the 8 kHz ones).
    pub language_hints: Vec<String>,
    /// A hot-word list made in the DashScope console (names, products).
    pub vocabulary_id: Option<String>,
    /// The server's own sentence break, in ms of silence (200-6000); `None`
    /// leaves the server's default. Runs are still cut by the pipeline's VAD.
    pub max_sentence_silence_ms: Option<u32>,
    /// Longest wait for `task-finished` after a finalise.
    pub final_timeout: Duration,
}

impl DashScopeAsrConfig {
    /// The 8 kHz model at `endpoint`, expecting Mandarin, with a 3 s final
    /// timeout.
    pub fn new(endpoint: DashScopeEndpoint) -> Self {
        DashScopeAsrConfig {
            endpoint,
            model: DEFAULT_MODEL.into(),
            language_hints: vec!["zh".into()],
            vocabulary_id: None,
            max_sentence_silence_ms: None,
            final_timeout: Duration::from_secs(3),
        }
    }

    /// The public endpoint with the key from `$DASHSCOPE_API_KEY`.
    pub fn from_env() -> Result<Self, KeyError> {
        Ok(Self::new(DashScopeEndpoint::from_env()?))
    }
}

/// Paraformer realtime as a [`StreamingAsr`].
#[derive(Debug, Clone)]
pub struct DashScopeAsr {
    config: DashScopeAsrConfig,
}

impl DashScopeAsr {
    /// Checks the settings; connecting happens per session.
    pub fn new(config: DashScopeAsrConfig) -> Result<Self, AsrError> {
        config.endpoint.check()?;
        if config.model.trim().is_empty() {
            return Err(AsrError::NotConfigured("DashScope recognition needs a model".into()));
        }
        if config.max_sentence_silence_ms.is_some_and(|ms| !(200..=6000).contains(&ms)) {
            return Err(AsrError::NotConfigured("max_sentence_silence_ms must be between 200 and 6000".into()));
        }
        if config.final_timeout.is_zero() {
            return Err(AsrError::NotConfigured("final_timeout must not be zero".into()));
        }
        Ok(DashScopeAsr { config })
    }

    /// The `payload` of each `run-task`.
    pub fn run_task_payload(&self) -> Value {
        let c = &self.config;
        let mut parameters = json!({"format": "pcm", "sample_rate": SAMPLE_RATE});
        let hints: Vec<&str> = c.language_hints.iter().map(|h| h.trim()).filter(|h| !h.is_empty()).collect();
        if !hints.is_empty() && !c.model.contains("8k") {
            parameters["language_hints"] = json!(hints);
        }
        if let Some(id) = c.vocabulary_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
            parameters["vocabulary_id"] = json!(id);
        }
        if let Some(ms) = c.max_sentence_silence_ms {
            parameters["max_sentence_silence"] = json!(ms);
        }
        json!({
            "task_group": "audio", "task": "asr", "function": "recognition",
            "model": c.model.trim(), "parameters": parameters, "input": {}
        })
    }
}

#[async_trait]
impl StreamingAsr for DashScopeAsr {
    fn name(&self) -> &str {
        "dashscope"
    }

    async fn start(&self) -> Result<AsrSession, AsrError> {
        match driver::start(self.config.endpoint.clone(), self.run_task_payload(), self.config.final_timeout).await {
            Ok(session) => {
                tracing::debug!(model = %self.config.model, "DashScope recognition session started");
                Ok(session)
            }
            Err(f) => {
                let e = AsrError::from(f);
                tracing::warn!(model = %self.config.model, error = %e, "DashScope recognition could not start");
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asr(model: &str) -> DashScopeAsr {
        let mut c = DashScopeAsrConfig::new(DashScopeEndpoint::new("sk-test-0123456789abcdef"));
        c.model = model.into();
        c.language_hints = vec!["zh".into(), "en".into()];
        DashScopeAsr::new(c).unwrap()
    }

    #[test]
    fn the_8k_model_gets_no_language_hints() {
        let p = asr("paraformer-realtime-8k-v2").run_task_payload();
        assert_eq!(p["parameters"], json!({"format": "pcm", "sample_rate": 8000}));
        assert_eq!((p["task_group"].as_str(), p["task"].as_str(), p["function"].as_str()), (Some("audio"), Some("asr"), Some("recognition")));
        let p = asr("paraformer-realtime-v2").run_task_payload();
        assert_eq!(p["parameters"]["language_hints"], json!(["zh", "en"]));
        assert_eq!(p["parameters"]["sample_rate"], 8000, "any rate is fine for v2: telephone audio as it is");
    }

    #[test]
    fn settings_are_checked() {
        let mut c = DashScopeAsrConfig::new(DashScopeEndpoint::new("sk-test-0123456789abcdef"));
        c.max_sentence_silence_ms = Some(100);
        assert!(matches!(DashScopeAsr::new(c.clone()), Err(AsrError::NotConfigured(_))));
        c.max_sentence_silence_ms = Some(800);
        assert!(DashScopeAsr::new(c.clone()).is_ok());
        c.endpoint.api_key = None;
        assert!(matches!(DashScopeAsr::new(c), Err(AsrError::NotConfigured(m)) if m.contains("DASHSCOPE_API_KEY")));
    }
}
