//! OpenAI-compatible speech: `POST {base}/audio/speech`.
//!
//! The request is `{model, input, voice, response_format, speed}`; the body
//! of the answer is the audio itself, streamed as it is generated. With
//! `response_format: "pcm"` that is raw 24 kHz signed 16-bit little-endian
//! mono (OpenAI's documented format; other servers may differ, hence
//! [`SpeechFormat::Pcm`]'s rate); with `"wav"` a streamed WAV whose header
//! gives the rate. Either way it is resampled to 8 kHz piece by piece.
//!
//! `speed` 0-50-100 maps to OpenAI's 0.5-1.0-2.0 (geometric, so 25 and 75
//! are equally far from normal); `volume` is applied here as a gain, since
//! the API has no such field. The key goes only into the `Authorization`
//! header and is scrubbed from every error.

use std::fmt;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tokio::time::Instant;
use waihu_vendor_http::{error_chain, error_message, millis, read_capped, send, Endpoint, HttpError, Scrubber, VendorClient, ERROR_BODY_WAIT, OPENAI_BASE_URL};

use super::stream::{read_stream, AudioReader, Le16Samples};
use super::{pick_voice, Tts, TtsError, TtsRequest, TtsStream, VoiceInfo};
use crate::pcm::{apply_gain, volume_gain, SAMPLE_RATE};
use crate::resample::Resampler;
use crate::wav::WavReader;

/// The audio format asked of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechFormat {
    /// `pcm`: headerless signed 16-bit little-endian mono at this rate
    /// (24 000 for OpenAI).
    Pcm {
        /// Samples per second the server sends.
        sample_rate: u32,
    },
    /// `wav`: the rate is read from the header.
    Wav,
}

/// How to use one OpenAI-compatible speech endpoint.
#[derive(Clone)]
pub struct OpenAiTtsConfig {
    /// Where the server is, and its key.
    pub endpoint: Endpoint,
    /// The model (`gpt-4o-mini-tts`, `tts-1`).
    pub model: String,
    /// The voices offered; their ids are sent as `voice`.
    pub voices: Vec<VoiceInfo>,
    /// The audio format asked for.
    pub format: SpeechFormat,
    /// Longest wait from sending the request to the first audio.
    pub first_audio_timeout: Duration,
    /// Longest gap between two pieces of audio once it started.
    pub idle_timeout: Duration,
}

impl fmt::Debug for OpenAiTtsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiTtsConfig")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .field("voices", &self.voices.iter().map(|v| v.id.as_str()).collect::<Vec<_>>())
            .field("format", &self.format)
            .field("first_audio_timeout", &self.first_audio_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

/// OpenAI's built-in voices.
pub const OPENAI_VOICES: &[&str] = &["alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer"];

impl OpenAiTtsConfig {
    /// `model` at `base_url`, with OpenAI's voice names (the first the
    /// default), 24 kHz `pcm`, and 10 s / 5 s timeouts.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        let voices = OPENAI_VOICES
            .iter()
            .enumerate()
            .map(|(i, v)| VoiceInfo { id: (*v).into(), name: (*v).into(), language: "zh-CN".into(), default: i == 0 })
            .collect();
        OpenAiTtsConfig {
            endpoint: Endpoint::new(base_url),
            model: model.into(),
            voices,
            format: SpeechFormat::Pcm { sample_rate: 24_000 },
            first_audio_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(5),
        }
    }

    /// OpenAI's hosted API with `gpt-4o-mini-tts`.
    pub fn openai(api_key: Option<String>) -> Self {
        OpenAiTtsConfig { endpoint: Endpoint::openai(api_key), ..OpenAiTtsConfig::new(OPENAI_BASE_URL, "gpt-4o-mini-tts") }
    }
}

/// The OpenAI-compatible speech engine.
#[derive(Debug)]
pub struct OpenAiTts {
    config: OpenAiTtsConfig,
    api: VendorClient,
}

/// OpenAI's `speed` (0.25-4.0) for a 0-100 speed: 0.5 to 2.0, 1.0 at 50.
pub fn openai_speed(speed: u8) -> f64 {
    let x = 2f64.powf((f64::from(speed.min(100)) - 50.0) / 50.0);
    (x * 100.0).round() / 100.0
}

impl OpenAiTts {
    /// Checks the configuration and prepares the HTTP client.
    pub fn new(config: OpenAiTtsConfig) -> Result<Self, TtsError> {
        if config.model.trim().is_empty() {
            return Err(TtsError::NotConfigured("no model set".into()));
        }
        if config.voices.is_empty() {
            return Err(TtsError::NotConfigured("no voices configured".into()));
        }
        let api = config.endpoint.connect("/audio/speech")?;
        Ok(OpenAiTts { config, api })
    }

    /// The JSON body for `req` in `voice`.
    pub fn request_body(&self, req: &TtsRequest, voice: &str) -> serde_json::Value {
        let format = match self.config.format {
            SpeechFormat::Pcm { .. } => "pcm",
            SpeechFormat::Wav => "wav",
        };
        json!({
            "model": self.config.model,
            "input": req.text,
            "voice": voice,
            "response_format": format,
            "speed": openai_speed(req.speed),
        })
    }

    async fn start(&self, req: TtsRequest) -> Result<TtsStream, HttpError> {
        let voice = pick_voice(&self.config.voices, req.voice_id.as_deref()).map_err(|e| HttpError::NotConfigured(e.to_string()))?;
        let limit = self.config.first_audio_timeout;
        let deadline = Instant::now() + limit;
        let request = self.api.post().json(&self.request_body(&req, &voice.id));
        tracing::debug!(model = %self.config.model, voice = %voice.id, chars = req.text.chars().count(), "asking for speech");
        let response = send(request, deadline, limit, ERROR_BODY_WAIT).await?;
        let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        if content_type.starts_with("application/json") || content_type.starts_with("text/") {
            // A 200 that is not audio: some gateways wrap their errors this way.
            let body = read_capped(response, deadline, limit).await?;
            return Err(HttpError::Protocol(format!(
                "expected audio, got {content_type}: {}",
                error_message(reqwest::StatusCode::OK, &body)
            )));
        }
        let decoder = match self.config.format {
            SpeechFormat::Pcm { sample_rate } => Decoder::Pcm { resampler: Resampler::new(sample_rate, SAMPLE_RATE), samples: Le16Samples::default() },
            SpeechFormat::Wav => Decoder::Wav { reader: WavReader::new(), resampler: None },
        };
        let reading = Reading {
            body: Box::pin(response.bytes_stream()),
            decoder,
            gain: volume_gain(req.volume),
            deadline: Some(deadline),
            first: limit,
            idle: self.config.idle_timeout,
            scrubber: self.api.scrubber().clone(),
            done: false,
        };
        Ok(read_stream(reading))
    }
}

#[async_trait]
impl Tts for OpenAiTts {
    fn voices(&self) -> Vec<VoiceInfo> {
        self.config.voices.clone()
    }

    async fn synthesize(&self, req: TtsRequest) -> Result<TtsStream, TtsError> {
        // Refuse an unknown voice as itself, before any request.
        pick_voice(&self.config.voices, req.voice_id.as_deref())?;
        if req.text.trim().is_empty() {
            return Ok(Box::pin(futures_util::stream::empty()));
        }
        let result = self.start(req).await.map_err(|e| TtsError::from(self.api.scrubber().error(e)));
        if let Err(e) = &result {
            tracing::warn!(model = %self.config.model, error = %e, "speech request failed");
        }
        result
    }
}

enum Decoder {
    Pcm { resampler: Resampler, samples: Le16Samples },
    Wav { reader: WavReader, resampler: Option<Resampler> },
}

impl Decoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<i16>) -> Result<(), TtsError> {
        let mut wide = Vec::with_capacity(bytes.len() / 2 + 1);
        match self {
            Decoder::Pcm { resampler, samples } => {
                samples.push(bytes, &mut wide);
                resampler.process(&wide, out);
            }
            Decoder::Wav { reader, resampler } => {
                reader.push(bytes, &mut wide)?;
                if let Some(format) = reader.format() {
                    resampler.get_or_insert_with(|| Resampler::new(format.sample_rate, SAMPLE_RATE)).process(&wide, out);
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<i16>) -> Result<(), TtsError> {
        match self {
            Decoder::Pcm { resampler, .. } => resampler.finish(out),
            Decoder::Wav { reader, resampler } => {
                reader.finish()?;
                if let Some(r) = resampler {
                    r.finish(out);
                }
            }
        }
        Ok(())
    }
}

/// The body of one speech answer being read.
struct Reading {
    body: Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send>>,
    decoder: Decoder,
    gain: f32,
    /// Until the first audio: the deadline for it.
    deadline: Option<Instant>,
    first: Duration,
    idle: Duration,
    scrubber: Scrubber,
    done: bool,
}

impl AudioReader for Reading {
    async fn next_chunk(&mut self) -> Result<Option<Vec<i16>>, TtsError> {
        while !self.done {
            let (deadline, limit) = match self.deadline {
                Some(d) => (d, self.first),
                None => (Instant::now() + self.idle, self.idle),
            };
            let piece = match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => return Err(TtsError::Timeout(millis(limit))),
                Ok(Some(Err(e))) => {
                    let message = self.scrubber.scrub(&error_chain(&e));
                    return Err(TtsError::Unreachable(format!("the audio stream broke off: {message}")));
                }
                Ok(Some(Ok(bytes))) => bytes,
                Ok(None) => {
                    self.done = true;
                    let mut out = Vec::new();
                    self.decoder.finish(&mut out)?;
                    apply_gain(&mut out, self.gain);
                    return Ok((!out.is_empty()).then_some(out));
                }
            };
            let mut out = Vec::new();
            self.decoder.push(&piece, &mut out)?;
            if !out.is_empty() {
                self.deadline = None;
                apply_gain(&mut out, self.gain);
                return Ok(Some(out));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_is_geometric_around_one() {
        assert_eq!([0, 25, 50, 75, 100].map(openai_speed), [0.5, 0.71, 1.0, 1.41, 2.0]);
    }

    #[test]
    fn pcm_samples_split_across_chunks_are_joined() {
        let mut d = Decoder::Pcm { resampler: Resampler::new(8_000, 8_000), samples: Le16Samples::default() };
        let mut out = Vec::new();
        let bytes: Vec<u8> = [1000i16, -2000, 3000].iter().flat_map(|s| s.to_le_bytes()).collect();
        for piece in [&bytes[..1], &bytes[1..4], &bytes[4..]] {
            d.push(piece, &mut out).unwrap();
        }
        d.finish(&mut out).unwrap();
        assert_eq!(out, [1000, -2000, 3000]);
    }
}
