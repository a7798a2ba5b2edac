//! The OpenAI-compatible dialogue engine: streaming chat completions with a
//! `hang_up` tool, for any server that speaks `POST {base}/chat/completions`
//! (OpenAI, DeepSeek, Qwen, Doubao, Moonshot, Ollama, vLLM, llama.cpp).
//!
//! The reply is streamed: each piece of text is handed on the moment it
//! arrives, because the phone line waits on the first sentence, not on the
//! whole answer. Dropping the stream (the callee talked over the AI) drops
//! the connection, which stops the generation on the server.
//!
//! The API key is only ever written into the `Authorization` header: it is
//! masked in `Debug`, and scrubbed from every error this engine returns.

mod config;
mod reply;
mod sse;

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{FutureExt, Stream, StreamExt};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{json, Value};
use tokio::time::Instant;
use waihu_vendor_http::{error_chain, millis, read_capped, send, HttpError, Scrubber, VendorClient};

pub use config::OpenAiConfig;

use crate::llm::{ChatRequest, EngineInfo, Llm, LlmError, LlmEvent, LlmStream};
use crate::prompt::{chat_messages, HANG_UP_OUTCOMES, HANG_UP_TOOL};
use reply::ReplyAssembler;
use sse::LineDecoder;

/// Where chat completions are, below the API root.
const CHAT_PATH: &str = "/chat/completions";

/// A dialogue engine on an OpenAI-compatible chat completions endpoint.
pub struct OpenAiEngine {
    config: OpenAiConfig,
    api: VendorClient,
}

impl fmt::Debug for OpenAiEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiEngine").field("config", &self.config).field("url", &self.api.url()).finish_non_exhaustive()
    }
}

impl OpenAiEngine {
    /// Checks `config` and prepares the HTTP client. Fails with
    /// [`LlmError::NotConfigured`] when the URL or the model is missing, or
    /// when a key is required and none is set.
    pub fn new(config: OpenAiConfig) -> Result<Self, LlmError> {
        let id = &config.id;
        if config.model.trim().is_empty() {
            return Err(LlmError::NotConfigured(format!("{id}: no model set")));
        }
        let api = config.endpoint().connect(CHAT_PATH).map_err(|e| match LlmError::from(e) {
            LlmError::NotConfigured(m) => LlmError::NotConfigured(format!("{id}: {m}")),
            other => other,
        })?;
        Ok(OpenAiEngine { config, api })
    }

    /// The configuration this engine was made from.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// The JSON body of the request for `req`.
    pub fn request_body(&self, req: &ChatRequest) -> Value {
        json!({
            "model": self.config.model,
            "messages": chat_messages(&req.task, &req.history),
            "stream": true,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            // `tool_choice` is left at its default ("auto"): some servers
            // refuse the field even when they support tools.
            "tools": [hang_up_tool()],
        })
    }

    fn describe(&self) -> String {
        if !self.config.description.trim().is_empty() {
            return self.config.description.clone();
        }
        // The host only: a base URL may carry credentials or a path with a key.
        let url = self.api.url();
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let authority = after_scheme.split('/').next().unwrap_or("");
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        format!("OpenAI-compatible chat: {} at {host}", self.config.model)
    }

    async fn start(&self, req: ChatRequest) -> Result<LlmStream, LlmError> {
        let first_token = self.config.first_token_timeout;
        let deadline = Instant::now() + first_token;
        let request = self.api.post().header(ACCEPT, "text/event-stream").json(&self.request_body(&req));
        tracing::debug!(engine = %self.config.id, model = %self.config.model, turns = req.history.len(), "asking the dialogue engine");

        let response = match send(request, deadline, first_token, self.config.idle_timeout).await {
            Ok(r) => r,
            Err(e @ HttpError::Http { .. }) => {
                let err = LlmError::from(self.api.scrubber().error(e));
                tracing::warn!(engine = %self.config.id, error = %err, "the dialogue engine refused the request");
                return Err(err);
            }
            Err(e) => return Err(e.into()),
        };

        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
        if is_json {
            // A server that ignored `"stream": true` sends the whole answer.
            let body = read_capped(response, deadline, first_token).await?;
            let text = String::from_utf8(body).map_err(|_| LlmError::Protocol("the answer is not UTF-8".into()))?;
            let mut events = Vec::new();
            ReplyAssembler::default().on_whole(&text, &mut events)?;
            let items: Vec<Result<LlmEvent, LlmError>> = events.into_iter().map(Ok).collect();
            return Ok(Box::pin(futures_util::stream::iter(items)));
        }

        let reading = Reading {
            body: Box::pin(response.bytes_stream()),
            lines: LineDecoder::default(),
            reply: ReplyAssembler::default(),
            ready: VecDeque::new(),
            failed: None,
            finished: false,
            deadline,
            first_token,
            idle: self.config.idle_timeout,
            scrubber: self.api.scrubber().clone(),
        };
        Ok(Box::pin(reading.into_stream()))
    }
}

#[async_trait]
impl Llm for OpenAiEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo { id: self.config.id.clone(), name: self.config.name.clone(), description: self.describe() }
    }

    async fn chat(&self, req: ChatRequest) -> Result<LlmStream, LlmError> {
        self.start(req).await.map_err(|e| self.api.scrubber().error(e))
    }
}

/// The `hang_up` function tool.
fn hang_up_tool() -> Value {
    let outcomes: Vec<&str> = HANG_UP_OUTCOMES.iter().map(|o| o.as_str()).collect();
    json!({
        "type": "function",
        "function": {
            "name": HANG_UP_TOOL,
            "description": "结束通话。先在回复正文里说完一句道别的话，再在同一次回复里调用它。",
            "parameters": {
                "type": "object",
                "properties": {
                    "outcome": {
                        "type": "string",
                        "enum": outcomes,
                        "description": "这通电话的结果，各个值的含义见系统提示。"
                    }
                },
                "required": ["outcome"]
            }
        }
    })
}

/// One streamed reply being read.
struct Reading<S> {
    body: S,
    lines: LineDecoder,
    reply: ReplyAssembler,
    /// Events read but not yet handed on.
    ready: VecDeque<LlmEvent>,
    /// An error to hand on once `ready` is empty: text that arrived before a
    /// bad chunk was real, and is passed on first.
    failed: Option<LlmError>,
    finished: bool,
    deadline: Instant,
    first_token: Duration,
    idle: Duration,
    scrubber: Scrubber,
}

impl<S, B> Reading<S>
where
    S: Stream<Item = Result<B, reqwest::Error>> + Unpin + Send + 'static,
    B: AsRef<[u8]>,
{
    fn into_stream(self) -> impl Stream<Item = Result<LlmEvent, LlmError>> + Send + 'static {
        futures_util::stream::unfold(self, |mut st| async move {
            let item = st.next_event().await?;
            Some((item, st))
        })
    }

    async fn next_event(&mut self) -> Option<Result<LlmEvent, LlmError>> {
        loop {
            if let Some(ev) = self.ready.pop_front() {
                return Some(Ok(ev));
            }
            if let Some(err) = self.failed.take() {
                self.finished = true;
                return Some(Err(self.scrubber.error(err)));
            }
            if self.finished {
                return None;
            }
            if let Err(err) = self.read_more().await {
                self.failed = Some(err);
            }
        }
    }

    /// Reads one network chunk and turns what it completes into events.
    async fn read_more(&mut self) -> Result<(), LlmError> {
        // Before the first piece of the reply, the whole wait since the
        // request is bounded (keep-alive comments do not extend it); after,
        // each gap between chunks is.
        let was_started = self.reply.started();
        let next = if was_started {
            tokio::time::timeout(self.idle, self.body.next()).await.map_err(|_| LlmError::Timeout(millis(self.idle)))?
        } else {
            tokio::time::timeout_at(self.deadline, self.body.next()).await.map_err(|_| LlmError::Timeout(millis(self.first_token)))?
        };
        let mut out = Vec::new();
        let result = match next {
            Some(Ok(bytes)) => self.take_bytes(bytes.as_ref(), &mut out),
            Some(Err(e)) => Err(LlmError::Unreachable(format!("the connection broke mid-reply: {}", error_chain(&e)))),
            None => {
                self.finished = true;
                let last = self.lines.finish().map_err(|e| LlmError::Protocol(e.to_string()));
                last.and_then(|line| match line {
                    Some(line) => self.reply.on_line(line, &mut out),
                    None => Ok(()),
                })
                .and_then(|()| self.reply.on_end(&mut out))
            }
        };
        if !was_started && self.reply.started() {
            let waited = self.first_token.saturating_sub(self.deadline.saturating_duration_since(Instant::now()));
            tracing::debug!(ms = millis(waited), "first piece of the reply");
        }
        self.ready.extend(out);
        result
    }

    fn take_bytes(&mut self, bytes: &[u8], out: &mut Vec<LlmEvent>) -> Result<(), LlmError> {
        let lines = self.lines.feed(bytes).map_err(|e| LlmError::Protocol(e.to_string()))?;
        for line in lines {
            self.reply.on_line(line, out)?;
            if self.reply.done() {
                self.finished = true;
                self.drain_after_done();
                break;
            }
        }
        Ok(())
    }

    /// After `[DONE]`, reads the end of the body if it is already here, so
    /// the connection goes back to the pool and the next turn skips the TLS
    /// handshake; never waits for it.
    fn drain_after_done(&mut self) {
        for _ in 0..4 {
            match self.body.next().now_or_never() {
                Some(Some(Ok(_))) => continue,
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = "sk-0123456789abcdef0123456789abcdef";
        let mut c = OpenAiConfig::deepseek(Some(key.into()));
        c.extra_headers.push(("api-key".into(), "hunter2-hunter2".into()));
        let shown = format!("{c:?}");
        assert!(shown.contains("\"sk-0123…\""), "{shown}");
        assert!(!shown.contains("sk-01234"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let engine = OpenAiEngine::new(c).unwrap();
        assert!(!format!("{engine:?}").contains("sk-01234"));
        let short = format!("{:?}", OpenAiConfig { api_key: Some("abc123".into()), ..OpenAiConfig::new("x", "http://h", "m") });
        assert!(!short.contains("abc"), "{short}");
    }

    #[test]
    fn config_errors_are_not_configured() {
        let err = |c: OpenAiConfig| OpenAiEngine::new(c).unwrap_err();
        assert!(matches!(err(OpenAiConfig::deepseek(None)), LlmError::NotConfigured(m) if m.contains("no API key")));
        assert!(matches!(err(OpenAiConfig::deepseek(Some("  ".into()))), LlmError::NotConfigured(_)));
        assert!(matches!(err(OpenAiConfig::new("x", "api.deepseek.com", "m")), LlmError::NotConfigured(_)));
        assert!(matches!(err(OpenAiConfig::new("x", "http://h", " ")), LlmError::NotConfigured(_)));
        assert!(matches!(err(OpenAiConfig::deepseek(Some("sk-bad\nkey".into()))), LlmError::NotConfigured(m) if !m.contains("sk-bad")));
        assert!(OpenAiEngine::new(OpenAiConfig::new("ollama", "http://127.0.0.1:11434/v1", "qwen2.5")).is_ok());
    }

    #[test]
    fn url_and_info() {
        let e = OpenAiEngine::new(OpenAiConfig::new("local", "http://user:pw@127.0.0.1:8080/v1/", "qwen")).unwrap();
        assert_eq!(e.api.url(), "http://user:pw@127.0.0.1:8080/v1/chat/completions");
        let info = e.info();
        assert_eq!((info.id.as_str(), info.name.as_str()), ("local", "local"));
        assert_eq!(info.description, "OpenAI-compatible chat: qwen at 127.0.0.1:8080");
        let e = OpenAiEngine::new(OpenAiConfig::new("x", "https://h/api/chat/completions", "m")).unwrap();
        assert_eq!(e.api.url(), "https://h/api/chat/completions");
    }

    #[test]
    fn the_tool_lists_the_outcomes() {
        let t = hang_up_tool();
        assert_eq!(t["function"]["name"], "hang_up");
        let outcomes = t["function"]["parameters"]["properties"]["outcome"]["enum"].as_array().unwrap();
        assert_eq!(outcomes.len(), 7);
        assert!(!outcomes.iter().any(|o| o == "not_connected"));
    }
}
