//! What the Alibaba Cloud DashScope engines share: the WebSocket inference
//! API (`wss://dashscope.aliyuncs.com/api-ws/v1/inference`), its key (only
//! ever in the `Authorization` header) and its task protocol.
//!
//! One connection runs one task. The client sends `run-task` (a header with
//! the action, a 32-hex `task_id` and `streaming: "duplex"`; a payload naming
//! the model and its parameters) and waits for the server's `task-started`.
//! Then audio (recognition) or text (`continue-task`, synthesis) flows, the
//! server answers with `result-generated` events (and, for synthesis, binary
//! audio frames), the client sends `finish-task`, and the server ends with
//! `task-finished`, or `task-failed` with an `error_code` and message at any
//! point.

use std::fmt;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::http::{millis, HttpError, Scrubber};

/// DashScope's WebSocket inference endpoint (mainland China region).
pub const DEFAULT_URL: &str = "wss://dashscope.aliyuncs.com/api-ws/v1/inference";

/// The environment variable the DashScope SDKs read the key from.
pub const KEY_ENV: &str = "DASHSCOPE_API_KEY";

/// How to reach DashScope.
#[derive(Clone)]
pub struct DashScopeEndpoint {
    /// `wss://…/api-ws/v1/inference` (a local `ws://` server in tests).
    pub url: String,
    /// Sent as `Authorization: bearer <key>`.
    pub api_key: Option<String>,
    /// Sent as `X-DashScope-WorkSpace` when set (a RAM sub-workspace).
    pub workspace: Option<String>,
    /// Longest wait for the connection and for `task-started`.
    pub connect_timeout: Duration,
}

impl DashScopeEndpoint {
    /// The public endpoint with `key`.
    pub fn new(key: impl Into<String>) -> Self {
        DashScopeEndpoint { url: DEFAULT_URL.into(), api_key: Some(key.into()), workspace: None, connect_timeout: Duration::from_secs(5) }
    }

    /// The key from `$DASHSCOPE_API_KEY`, or a message saying to set it.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(KEY_ENV) {
            Ok(k) if !k.trim().is_empty() => Ok(Self::new(k.trim())),
            _ => Err(format!("set {KEY_ENV} to a DashScope API key")),
        }
    }

    /// The same endpoint at another URL.
    pub fn at(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    fn key(&self) -> Option<&str> {
        self.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty())
    }

    pub(crate) fn scrubber(&self) -> Scrubber {
        Scrubber::new(self.key().map(str::to_owned))
    }

    /// Connects and runs the task: sends `run_task` and waits for
    /// `task-started`. Errors are scrubbed of the key.
    pub(crate) async fn start_task(&self, task_id: &str, payload: Value) -> Result<Socket, HttpError> {
        let scrub = self.scrubber();
        let key = self.key().ok_or_else(|| HttpError::NotConfigured(format!("no DashScope API key: set {KEY_ENV}")))?;
        if !(self.url.starts_with("ws://") || self.url.starts_with("wss://")) {
            return Err(HttpError::NotConfigured(format!("DashScope url must start with ws:// or wss://, not {:?}", self.url)));
        }
        let mut req = self.url.as_str().into_client_request().map_err(|e| HttpError::NotConfigured(format!("DashScope url: {e}")))?;
        let bearer = HeaderValue::from_str(&format!("bearer {key}")).map_err(|_| HttpError::NotConfigured("the DashScope key is not a valid header value".into()))?;
        req.headers_mut().insert("Authorization", bearer);
        if let Some(ws) = self.workspace.as_deref().filter(|w| !w.is_empty()) {
            let v = HeaderValue::from_str(ws).map_err(|_| HttpError::NotConfigured("the DashScope workspace is not a valid header value".into()))?;
            req.headers_mut().insert("X-DashScope-WorkSpace", v);
        }
        let connect = tokio_tungstenite::connect_async(req);
        let (mut ws, _) = match tokio::time::timeout(self.connect_timeout, connect).await {
            Err(_) => return Err(HttpError::Timeout(millis(self.connect_timeout))),
            Ok(Err(WsError::Http(resp))) => {
                let body = resp.body().as_ref().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
                let message = scrub.scrub(body.trim());
                let message = if message.is_empty() { resp.status().canonical_reason().unwrap_or("refused").to_owned() } else { message };
                return Err(HttpError::Http { status: resp.status().as_u16(), message: message.chars().take(200).collect() });
            }
            Ok(Err(e)) => return Err(HttpError::Unreachable(scrub.scrub(&e.to_string()))),
            Ok(Ok(ok)) => ok,
        };
        let run = json!({"header": {"action": "run-task", "task_id": task_id, "streaming": "duplex"}, "payload": payload});
        ws.send(Message::text(run.to_string())).await.map_err(|e| HttpError::Unreachable(scrub.scrub(&e.to_string())))?;
        let mut socket = Socket { ws, scrub };
        let wait = async {
            loop {
                match socket.next_event().await? {
                    ServerEvent::Started => return Ok(()),
                    ServerEvent::Failed { code, message } => return Err(failed(&code, &message)),
                    ServerEvent::Finished => return Err(HttpError::Protocol("DashScope finished the task before starting it".into())),
                    _ => {}
                }
            }
        };
        match tokio::time::timeout(self.connect_timeout, wait).await {
            Err(_) => Err(HttpError::Timeout(millis(self.connect_timeout))),
            Ok(r) => r.map(|()| socket),
        }
    }
}

impl fmt::Debug for DashScopeEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DashScopeEndpoint")
            .field("url", &self.url)
            .field("api_key", &self.key().map(|_| "[set]"))
            .field("workspace", &self.workspace)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// A `task-failed` as an error: DashScope's code says what to fix.
pub(crate) fn failed(code: &str, message: &str) -> HttpError {
    let status = match code {
        "InvalidApiKey" | "Unauthorized" => 401,
        "AccessDenied" | "Arrearage" | "DataInspectionFailed" => 403,
        "Throttling" | "Throttling.RateQuota" | "Throttling.AllocationQuota" => 429,
        "InvalidParameter" | "BadRequest.EmptyInput" => 400,
        _ => 502,
    };
    HttpError::Http { status, message: format!("DashScope task failed ({code}): {message}").chars().take(240).collect() }
}

/// A fresh 32-hex-digit task id.
pub(crate) fn task_id() -> String {
    let n: u128 = rand::random();
    format!("{n:032x}")
}

/// What the server said.
#[derive(Debug)]
pub(crate) enum ServerEvent {
    Started,
    /// `result-generated`: its `payload.output`.
    Result(Value),
    /// A binary frame (synthesised audio).
    Audio(Vec<u8>),
    Finished,
    Failed { code: String, message: String },
    /// The server closed the connection (or it dropped) without finishing.
    Closed,
}

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One task's connection.
pub(crate) struct Socket {
    pub(crate) ws: Ws,
    scrub: Scrubber,
}

impl Socket {
    pub(crate) async fn send_json(&mut self, v: Value) -> Result<(), HttpError> {
        self.ws.send(Message::text(v.to_string())).await.map_err(|e| HttpError::Unreachable(self.scrub.scrub(&e.to_string())))
    }

    pub(crate) async fn send_binary(&mut self, bytes: Vec<u8>) -> Result<(), HttpError> {
        self.ws.send(Message::binary(bytes)).await.map_err(|e| HttpError::Unreachable(self.scrub.scrub(&e.to_string())))
    }

    /// The next event; pings are answered by the library, unknown events
    /// skipped.
    pub(crate) async fn next_event(&mut self) -> Result<ServerEvent, HttpError> {
        loop {
            let msg = match self.ws.next().await {
                None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => return Ok(ServerEvent::Closed),
                Some(Err(WsError::Protocol(_) | WsError::Io(_))) => return Ok(ServerEvent::Closed),
                Some(Err(e)) => return Err(HttpError::Protocol(self.scrub.scrub(&e.to_string()))),
                Some(Ok(m)) => m,
            };
            match msg {
                Message::Binary(b) => return Ok(ServerEvent::Audio(b.to_vec())),
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(t.as_str()).map_err(|e| HttpError::Protocol(format!("DashScope sent an unreadable event: {e}")))?;
                    let header = &v["header"];
                    return Ok(match header["event"].as_str().unwrap_or_default() {
                        "task-started" => ServerEvent::Started,
                        "result-generated" => ServerEvent::Result(v["payload"]["output"].clone()),
                        "task-finished" => ServerEvent::Finished,
                        "task-failed" => ServerEvent::Failed {
                            code: header["error_code"].as_str().unwrap_or("unknown").to_owned(),
                            message: self.scrub.scrub(header["error_message"].as_str().unwrap_or_default()),
                        },
                        _ => continue,
                    });
                }
                Message::Close(_) => return Ok(ServerEvent::Closed),
                _ => {}
            }
        }
    }

    /// `finish-task` for `task_id`.
    pub(crate) async fn finish(&mut self, task_id: &str) -> Result<(), HttpError> {
        self.send_json(json!({"header": {"action": "finish-task", "task_id": task_id, "streaming": "duplex"}, "payload": {"input": {}}})).await
    }
}
