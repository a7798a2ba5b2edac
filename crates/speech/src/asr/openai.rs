//! OpenAI-compatible transcription: `POST {base}/audio/transcriptions`.
//!
//! The utterance is uploaded as a WAV file (8 kHz mono 16-bit, as heard on
//! the line: Whisper resamples whatever it gets) in a `multipart/form-data`
//! body with the parts `file`, `model`, `language` (`zh` by default),
//! `response_format=json` and, when set, `prompt` (names and terms the
//! call is about, which helps the recogniser spell them). The answer is
//! `{"text": "..."}`. Servers that also give a confidence (a top-level
//! `confidence`, token `logprobs`, or `segments[].avg_logprob` as
//! `verbose_json` has) have it passed on; others give `None`.
//!
//! Works with OpenAI (`gpt-4o-mini-transcribe`, `whisper-1`) and the
//! self-hosted servers that copy its API (faster-whisper-server / speaches,
//! LocalAI, vLLM). The key goes only into the `Authorization` header and is
//! scrubbed from every error.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::time::Instant;
use waihu_vendor_http::{read_capped, send, Endpoint, HttpError, VendorClient, ERROR_BODY_WAIT, OPENAI_BASE_URL};

use super::{Asr, AsrError, Transcript};
use crate::pcm::SAMPLE_RATE;
use crate::wav;

/// How to use one OpenAI-compatible transcription endpoint.
#[derive(Clone)]
pub struct OpenAiAsrConfig {
    /// Where the server is, and its key.
    pub endpoint: Endpoint,
    /// The model (`gpt-4o-mini-transcribe`, `whisper-1`).
    pub model: String,
    /// ISO 639-1 language of the speech; `None` lets the server guess.
    pub language: Option<String>,
    /// Context for the recogniser: names and terms likely to be said.
    pub prompt: Option<String>,
    /// Longest wait for the whole answer, from sending the request.
    pub timeout: Duration,
}

impl fmt::Debug for OpenAiAsrConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiAsrConfig")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("language", &self.language)
            .field("prompt", &self.prompt.as_ref().map(|p| p.chars().count()))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl OpenAiAsrConfig {
    /// `model` at `base_url`, Mandarin, no key, 15 s timeout.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        OpenAiAsrConfig {
            endpoint: Endpoint::new(base_url),
            model: model.into(),
            language: Some("zh".into()),
            prompt: None,
            timeout: Duration::from_secs(15),
        }
    }

    /// OpenAI's hosted API with `gpt-4o-mini-transcribe`.
    pub fn openai(api_key: Option<String>) -> Self {
        OpenAiAsrConfig { endpoint: Endpoint::openai(api_key), ..OpenAiAsrConfig::new(OPENAI_BASE_URL, "gpt-4o-mini-transcribe") }
    }
}

/// The OpenAI-compatible transcription engine.
#[derive(Debug)]
pub struct OpenAiAsr {
    config: OpenAiAsrConfig,
    api: VendorClient,
}

impl OpenAiAsr {
    /// Checks the configuration and prepares the HTTP client.
    pub fn new(config: OpenAiAsrConfig) -> Result<Self, AsrError> {
        if config.model.trim().is_empty() {
            return Err(AsrError::NotConfigured("no model set".into()));
        }
        let api = config.endpoint.connect("/audio/transcriptions")?;
        Ok(OpenAiAsr { config, api })
    }

    /// The multipart body for `pcm8k`, and its boundary.
    pub fn form(&self, pcm8k: &[i16]) -> (Vec<u8>, String) {
        let file = wav::encode(SAMPLE_RATE, pcm8k);
        let mut form = Multipart::new(&file);
        form.file("file", "utterance.wav", "audio/wav", &file);
        form.text("model", &self.config.model);
        if let Some(lang) = self.config.language.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
            form.text("language", lang);
        }
        form.text("response_format", "json");
        if let Some(prompt) = self.config.prompt.as_deref().filter(|p| !p.trim().is_empty()) {
            form.text("prompt", prompt);
        }
        form.finish()
    }

    async fn request(&self, pcm8k: &[i16]) -> Result<Transcript, HttpError> {
        let limit = self.config.timeout;
        let deadline = Instant::now() + limit;
        let (body, boundary) = self.form(pcm8k);
        let request = self
            .api
            .post()
            .header(reqwest::header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        tracing::debug!(model = %self.config.model, audio_ms = pcm8k.len() / 8, "asking for a transcription");
        let response = send(request, deadline, limit, ERROR_BODY_WAIT).await?;
        let body = read_capped(response, deadline, limit).await?;
        parse_answer(&body)
    }
}

#[async_trait]
impl Asr for OpenAiAsr {
    fn name(&self) -> &str {
        &self.config.model
    }

    async fn transcribe(&self, pcm8k: &[i16]) -> Result<Transcript, AsrError> {
        if pcm8k.is_empty() {
            return Ok(Transcript::default());
        }
        let result = self.request(pcm8k).await.map_err(|e| AsrError::from(self.api.scrubber().error(e)));
        if let Err(e) = &result {
            tracing::warn!(model = %self.config.model, error = %e, "transcription failed");
        }
        result
    }
}

/// Reads `{"text": ...}` and whatever confidence the server adds.
pub(crate) fn parse_answer(body: &[u8]) -> Result<Transcript, HttpError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        let start: String = String::from_utf8_lossy(body).chars().take(80).collect();
        HttpError::Protocol(format!("not JSON: {start:?}"))
    })?;
    let text = v
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| HttpError::Protocol("no \"text\" in the answer".into()))?
        .trim()
        .to_owned();
    let mean = |xs: Vec<f64>| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
    let from_logprobs = |key: &str, field: &str| {
        v.get(key).and_then(Value::as_array).and_then(|items| mean(items.iter().filter_map(|i| i.get(field)?.as_f64()).collect())).map(f64::exp)
    };
    let confidence = v
        .get("confidence")
        .and_then(Value::as_f64)
        .or_else(|| from_logprobs("logprobs", "logprob"))
        .or_else(|| from_logprobs("segments", "avg_logprob"))
        .map(|c| c.clamp(0.0, 1.0) as f32);
    Ok(Transcript { text, confidence })
}

/// A `multipart/form-data` body (RFC 7578), built by hand: the parts are
/// few and fixed, and it keeps reqwest's `multipart` feature out of the
/// workspace build.
struct Multipart {
    boundary: String,
    body: Vec<u8>,
}

impl Multipart {
    /// A form whose boundary does not occur in `payload`.
    fn new(payload: &[u8]) -> Self {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        loop {
            let boundary = format!("waihu-{:032x}", rng.gen::<u128>());
            if !payload.windows(boundary.len()).any(|w| w == boundary.as_bytes()) {
                return Multipart { boundary, body: Vec::new() };
            }
        }
    }

    fn part(&mut self, headers: &str, content: &[u8]) {
        self.body.extend_from_slice(format!("--{}\r\n{headers}\r\n\r\n", self.boundary).as_bytes());
        self.body.extend_from_slice(content);
        self.body.extend_from_slice(b"\r\n");
    }

    fn text(&mut self, name: &str, value: &str) {
        self.part(&format!("Content-Disposition: form-data; name=\"{name}\""), value.as_bytes());
    }

    fn file(&mut self, name: &str, filename: &str, content_type: &str, content: &[u8]) {
        let headers = format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}");
        self.part(&headers, content);
    }

    fn finish(mut self) -> (Vec<u8>, String) {
        self.body.extend_from_slice(format!("--{}--\r\n", self.boundary).as_bytes());
        (self.body, self.boundary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_with_and_without_confidence() {
        assert_eq!(parse_answer(r#"{"text":" 对，是我。 "}"#.as_bytes()).unwrap(), Transcript { text: "对，是我。".into(), confidence: None });
        let t = parse_answer(r#"{"text":"好","segments":[{"avg_logprob":-0.1},{"avg_logprob":-0.3}]}"#.as_bytes()).unwrap();
        assert!((t.confidence.unwrap() - (-0.2f32).exp()).abs() < 1e-4);
        assert_eq!(parse_answer(r#"{"text":"嗯","confidence":0.9}"#.as_bytes()).unwrap().confidence, Some(0.9));
        assert!(matches!(parse_answer(b"Internal error"), Err(HttpError::Protocol(_))));
        assert!(matches!(parse_answer(br#"{"transcript":"x"}"#), Err(HttpError::Protocol(_))));
    }

    #[test]
    fn form_parts_are_framed_by_the_boundary() {
        let asr = OpenAiAsr::new(OpenAiAsrConfig::new("http://127.0.0.1:9/v1", "whisper-1")).unwrap();
        let (body, boundary) = asr.form(&[0; 80]);
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"utterance.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF")));
        assert!(text.contains(&format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\nzh\r\n")));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
        assert_eq!(text.matches(&format!("--{boundary}\r\n")).count(), 4);
    }
}
