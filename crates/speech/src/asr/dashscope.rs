//! Alibaba Cloud DashScope Paraformer realtime recognition over the
//! WebSocket inference API (see [`crate::dashscope`] for the task protocol).
//!
//! One task per call: `run-task` with `task: "asr"`, `function:
//! "recognition"`, the model (`paraformer-realtime-8k-v2` hears telephone
//! audio as it is) and `format: "pcm", sample_rate: 8000`; then the audio as
//! binary frames of 16-bit little-endian samples. The server answers with
//! `result-generated` events whose `output.sentence` holds `text` and
//! `sentence_end`: those not ended are partials (sent on as
//! [`AsrEvent::Partial`]), an ended sentence is final.
//!
//! The pipeline's VAD decides turns, not the server's: each
//! [`AsrInput::finalise`](super::AsrInput::finalise) is answered by one
//! [`AsrEvent::Final`] with what the server finalised since the last one.
//! To have the sentence ended promptly, `finalise` sends the server enough
//! silence to pass its `max_sentence_silence`; if no sentence end comes
//! within `final_wait`, the final is the latest partial.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use tokio::time::{sleep_until, Instant};

use super::session::{session_channel, AsrEvent, AsrFeed, AsrSession, Feed, DEFAULT_QUEUE_PUSHES};
use super::{AsrError, StreamingAsr, Transcript};
use crate::dashscope::{failed, task_id, DashScopeEndpoint, ServerEvent, Socket};

/// Settings of the Paraformer realtime engine.
#[derive(Debug, Clone)]
pub struct DashScopeAsrConfig {
    /// Where, and the key.
    pub endpoint: DashScopeEndpoint,
    /// `paraformer-realtime-8k-v2` (telephone audio) or another realtime model.
    pub model: String,
    /// The server's own sentence end, in milliseconds of silence (200-6000).
    pub max_sentence_silence_ms: u32,
    /// How long a `finalise` waits for the server's sentence end.
    pub final_wait: Duration,
}

impl DashScopeAsrConfig {
    /// The 8 kHz model at `endpoint`.
    pub fn new(endpoint: DashScopeEndpoint) -> Self {
        DashScopeAsrConfig { endpoint, model: "paraformer-realtime-8k-v2".into(), max_sentence_silence_ms: 400, final_wait: Duration::from_millis(1200) }
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
        if config.model.trim().is_empty() {
            return Err(AsrError::NotConfigured("DashScope recognition needs a model".into()));
        }
        if !(200..=6000).contains(&config.max_sentence_silence_ms) {
            return Err(AsrError::NotConfigured("max_sentence_silence_ms must be between 200 and 6000".into()));
        }
        Ok(DashScopeAsr { config })
    }
}

#[async_trait]
impl StreamingAsr for DashScopeAsr {
    fn name(&self) -> &str {
        "dashscope"
    }

    async fn start(&self) -> Result<AsrSession, AsrError> {
        let task = task_id();
        let c = &self.config;
        let payload = json!({
            "task_group": "audio", "task": "asr", "function": "recognition", "model": c.model,
            "parameters": {"format": "pcm", "sample_rate": 8000, "max_sentence_silence": c.max_sentence_silence_ms, "language_hints": ["zh"]},
            "input": {}
        });
        let socket = c.endpoint.start_task(&task, payload).await?;
        let (session, feed) = session_channel(DEFAULT_QUEUE_PUSHES);
        tokio::spawn(run(socket, feed, task, c.clone()));
        Ok(session)
    }
}

/// What has been heard and not yet given as a final.
#[derive(Default)]
struct Heard {
    /// Sentences the server ended.
    ended: String,
    /// The sentence in progress.
    partial: String,
    /// Finals asked for and not yet given.
    owed: usize,
    /// When the oldest owed final is given with what there is.
    due: Option<Instant>,
}

impl Heard {
    fn take_final(&mut self, final_wait: Duration) -> AsrEvent {
        let text = std::mem::take(&mut self.ended) + &std::mem::take(&mut self.partial);
        self.owed = self.owed.saturating_sub(1);
        self.due = (self.owed > 0).then(|| Instant::now() + final_wait);
        AsrEvent::Final(Transcript { text: text.trim().to_owned(), confidence: None })
    }
}

async fn run(mut socket: Socket, mut feed: AsrFeed, task: String, c: DashScopeAsrConfig) {
    let mut heard = Heard::default();
    let silence = vec![0u8; (c.max_sentence_silence_ms as usize + 100) * 16];
    loop {
        let due = heard.due;
        tokio::select! {
            item = feed.next() => match item {
                Some(Feed::Audio(pcm)) => {
                    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
                    if let Err(e) = socket.send_binary(bytes).await {
                        let _ = feed.emit(AsrEvent::Error(e.into())).await;
                        return;
                    }
                }
                Some(Feed::Finalise) => {
                    heard.owed += 1;
                    if heard.partial.is_empty() && !heard.ended.is_empty() {
                        // The server already ended the sentence.
                        let ev = heard.take_final(c.final_wait);
                        if !feed.emit(ev).await { return; }
                        continue;
                    }
                    heard.due.get_or_insert_with(|| Instant::now() + c.final_wait);
                    if let Err(e) = socket.send_binary(silence.clone()).await {
                        let _ = feed.emit(AsrEvent::Error(e.into())).await;
                        return;
                    }
                }
                None => {
                    // The call is over: finish the task politely, briefly.
                    let _ = socket.finish(&task).await;
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while !matches!(socket.next_event().await, Ok(ServerEvent::Finished | ServerEvent::Closed | ServerEvent::Failed { .. }) | Err(_)) {}
                    }).await;
                    return;
                }
            },
            ev = socket.next_event() => {
                let ev = match ev {
                    Ok(ServerEvent::Result(out)) => {
                        let s = &out["sentence"];
                        let text = s["text"].as_str().unwrap_or_default().to_owned();
                        if s["sentence_end"].as_bool().unwrap_or(false) {
                            heard.ended.push_str(&text);
                            heard.partial.clear();
                            if heard.owed == 0 { continue; }
                            heard.take_final(c.final_wait)
                        } else {
                            heard.partial = text;
                            AsrEvent::Partial(format!("{}{}", heard.ended, heard.partial))
                        }
                    }
                    Ok(ServerEvent::Failed { code, message }) => {
                        let _ = feed.emit(AsrEvent::Error(failed(&code, &message).into())).await;
                        return;
                    }
                    Ok(ServerEvent::Finished | ServerEvent::Closed) => {
                        while heard.owed > 0 {
                            let ev = heard.take_final(c.final_wait);
                            let _ = feed.emit(ev).await;
                        }
                        let _ = feed.emit(AsrEvent::Error(AsrError::Protocol("DashScope closed the recognition before the call ended".into()))).await;
                        return;
                    }
                    Ok(_) => continue,
                    Err(e) => {
                        let _ = feed.emit(AsrEvent::Error(e.into())).await;
                        return;
                    }
                };
                if !feed.emit(ev).await { return; }
            }
            () = async { match due { Some(d) => sleep_until(d).await, None => std::future::pending().await } } => {
                // No sentence end in time: the final is the best guess so far.
                let ev = heard.take_final(c.final_wait);
                if !feed.emit(ev).await { return; }
            }
        }
    }
}
