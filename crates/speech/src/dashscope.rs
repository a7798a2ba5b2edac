//! What the Alibaba Cloud DashScope engines share: the WebSocket inference
//! API (`wss://dashscope.aliyuncs.com/api-ws/v1/inference`), its key (only
//! ever in the `Authorization` header of the upgrade request) and its task
//! protocol.
//!
//! A task runs on one connection at a time. The client sends `run-task` (a
//! header with the action, a 32-hex `task_id` and `streaming: "duplex"`; a
//! payload naming the task, the model and its parameters) and waits for the
//! server's `task-started`. Then audio (recognition, as binary frames) or
//! text (synthesis, `continue-task`) flows; the server answers with
//! `result-generated` events and, for synthesis, binary audio frames. The
//! client sends `finish-task` when it has given everything, and the server
//! ends with `task-finished` (the connection may then carry another task),
//! or with `task-failed` (`error_code`, `error_message`; the connection is
//! done) at any point. The key is checked during the upgrade: a bad one is
//! an HTTP 401 there, before any task.
//!
//! The engines: [`crate::asr::dashscope`] (Paraformer realtime) and
//! [`crate::tts::dashscope`] (CosyVoice).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use thiserror::Error;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::{AUTHORIZATION, USER_AGENT};
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use waihu_vendor_http::{error_chain, error_message, millis, HttpError, Scrubber};

use crate::asr::AsrError;
use crate::tts::TtsError;

/// DashScope's WebSocket inference endpoint (China (Beijing) region, where
/// Paraformer and CosyVoice are served).
pub const DEFAULT_URL: &str = "wss://dashscope.aliyuncs.com/api-ws/v1/inference";

/// The environment variable the DashScope SDKs read the key from.
pub const KEY_ENV: &str = "DASHSCOPE_API_KEY";

/// Why no key could be had for [`DashScopeEndpoint::from_env`] or
/// [`DashScopeEndpoint::from_key_file`]. Never contains the key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The variable is not set, or blank.
    #[error("{var} is not set: set it to a DashScope API key")]
    Unset {
        /// The variable looked at.
        var: String,
    },
    /// The key file could not be read.
    #[error("cannot read the DashScope API key file {}: {reason}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the system said.
        reason: String,
    },
    /// The key file's first line is blank.
    #[error("the DashScope API key file {} is empty", path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// How to reach DashScope, and the key.
#[derive(Clone)]
pub struct DashScopeEndpoint {
    /// `wss://…/api-ws/v1/inference` (a local `ws://` server in tests).
    pub url: String,
    /// Sent as `Authorization: bearer <key>`; required.
    pub api_key: Option<String>,
    /// Sent as `X-DashScope-WorkSpace` when set (a key of a sub-workspace).
    pub workspace: Option<String>,
    /// Longest wait for the connection (TCP, TLS, upgrade), for
    /// `task-started` after `run-task`, and for one frame to be written.
    pub connect_timeout: Duration,
}

impl DashScopeEndpoint {
    /// The public endpoint with `key` and a 5 s connect timeout.
    pub fn new(key: impl Into<String>) -> Self {
        DashScopeEndpoint { url: DEFAULT_URL.into(), api_key: Some(key.into()), workspace: None, connect_timeout: Duration::from_secs(5) }
    }

    /// The public endpoint with the key from `$DASHSCOPE_API_KEY`.
    pub fn from_env() -> Result<Self, KeyError> {
        match std::env::var(KEY_ENV) {
            Ok(k) if !k.trim().is_empty() => Ok(Self::new(k.trim())),
            _ => Err(KeyError::Unset { var: KEY_ENV.into() }),
        }
    }

    /// The public endpoint with the key on the first line of `path` (a
    /// secrets file, so the key stays out of the environment).
    pub fn from_key_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| KeyError::Unreadable { path: path.to_owned(), reason: e.to_string() })?;
        match text.lines().next().map(str::trim) {
            Some(key) if !key.is_empty() => Ok(Self::new(key)),
            _ => Err(KeyError::Empty { path: path.to_owned() }),
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

    fn scrubber(&self) -> Scrubber {
        Scrubber::new(self.key().map(str::to_owned))
    }

    /// What an engine checks before it is built: a key, a WebSocket URL.
    pub(crate) fn check(&self) -> Result<(), HttpError> {
        if self.key().is_none() {
            return Err(HttpError::NotConfigured(format!("no DashScope API key: set {KEY_ENV} (or a key file)")));
        }
        let url = self.url.trim();
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(HttpError::NotConfigured(format!("the DashScope url must start with wss:// (or ws://), not {url:?}")));
        }
        if self.connect_timeout.is_zero() {
            return Err(HttpError::NotConfigured("the DashScope connect timeout must not be zero".into()));
        }
        Ok(())
    }

    /// Opens a connection: the upgrade carries the key, which the server
    /// checks there. Errors are scrubbed of the key.
    pub(crate) async fn connect(&self) -> Result<Socket, Failure> {
        self.check()?;
        let scrub = self.scrubber();
        let key = self.key().unwrap_or_default();
        let mut req = self.url.trim().into_client_request().map_err(|e| HttpError::NotConfigured(format!("the DashScope url: {e}")))?;
        let mut bearer = HeaderValue::from_str(&format!("bearer {key}"))
            .map_err(|_| HttpError::NotConfigured("the DashScope key has characters an HTTP header cannot carry".into()))?;
        bearer.set_sensitive(true);
        let headers = req.headers_mut();
        headers.insert(AUTHORIZATION, bearer);
        headers.insert(USER_AGENT, HeaderValue::from_static(concat!("waihu/", env!("CARGO_PKG_VERSION"))));
        if let Some(ws) = self.workspace.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
            let v = HeaderValue::from_str(ws).map_err(|_| HttpError::NotConfigured("the DashScope workspace is not a valid header value".into()))?;
            headers.insert("X-DashScope-WorkSpace", v);
        }
        let limit = self.connect_timeout;
        let (ws, _) = match tokio::time::timeout(limit, tokio_tungstenite::connect_async(req)).await {
            Err(_) => return Err(HttpError::Timeout(millis(limit)).into()),
            Ok(Err(WsError::Http(resp))) => {
                let body = resp.body().as_deref().unwrap_or_default();
                let message = scrub.scrub(&error_message(resp.status(), body));
                return Err(HttpError::Http { status: resp.status().as_u16(), message }.into());
            }
            Ok(Err(e @ (WsError::Io(_) | WsError::Tls(_)))) => return Err(HttpError::Unreachable(scrub.scrub(&error_chain(&e))).into()),
            Ok(Err(e @ WsError::Url(_))) => return Err(HttpError::NotConfigured(scrub.scrub(&format!("the DashScope url: {e}"))).into()),
            Ok(Err(e)) => return Err(HttpError::Protocol(scrub.scrub(&format!("the WebSocket upgrade failed: {}", error_chain(&e)))).into()),
            Ok(Ok(ok)) => ok,
        };
        Ok(Socket { ws, scrub, write_timeout: limit })
    }
}

impl fmt::Debug for DashScopeEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Presence only: even a prefix of a key is more than logs need.
        f.debug_struct("DashScopeEndpoint")
            .field("url", &self.url)
            .field("api_key", &self.key().map(|_| "[set]"))
            .field("workspace", &self.workspace)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// Why a DashScope exchange failed, before it becomes an engine's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The connection: unreachable, refused upgrade, timeout, unreadable.
    Transport(HttpError),
    /// `task-failed`: DashScope's code and message (scrubbed).
    Task { code: String, message: String },
}

impl From<HttpError> for Failure {
    fn from(e: HttpError) -> Self {
        Failure::Transport(e)
    }
}

impl From<Failure> for AsrError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Transport(e) => e.into(),
            Failure::Task { code, message } => AsrError::Task { code, message },
        }
    }
}

impl From<Failure> for TtsError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Transport(e) => e.into(),
            Failure::Task { code, message } => TtsError::Task { code, message },
        }
    }
}

/// The protocol error for a connection that ended inside a task.
pub(crate) fn closed_mid_task() -> Failure {
    HttpError::Protocol("DashScope closed the connection before task-finished".into()).into()
}

/// Whether `e` says the other end went away (closed, reset, or closing).
fn peer_closed(e: &WsError) -> bool {
    use std::io::ErrorKind;
    match e {
        WsError::ConnectionClosed | WsError::AlreadyClosed | WsError::Protocol(_) => true,
        WsError::Io(io) => matches!(io.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::UnexpectedEof),
        _ => false,
    }
}

/// A fresh task id: 32 hex digits (a UUID without dashes, as the SDKs send).
pub(crate) fn task_id() -> String {
    let n: u128 = rand::random();
    format!("{n:032x}")
}

/// What the server said.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ServerEvent {
    /// `task-started` for this task id.
    Started(String),
    /// `result-generated`: the task id and the event's `payload.output`.
    Result(String, Value),
    /// A binary frame (synthesised audio).
    Audio(Vec<u8>),
    /// `task-finished` for this task id.
    Finished(String),
    /// `task-failed`, with the code and the (scrubbed) message.
    Failed { code: String, message: String },
    /// The server closed the connection, or it broke.
    Closed,
}

/// One connection to DashScope.
pub(crate) struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    scrub: Scrubber,
    write_timeout: Duration,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket").finish_non_exhaustive()
    }
}

/// The header of a client action.
fn header(action: &str, task_id: &str) -> Value {
    json!({"action": action, "task_id": task_id, "streaming": "duplex"})
}

impl Socket {
    async fn send(&mut self, message: Message) -> Result<(), Failure> {
        match tokio::time::timeout(self.write_timeout, self.ws.send(message)).await {
            Err(_) => Err(HttpError::Timeout(millis(self.write_timeout)).into()),
            Ok(Err(e)) if peer_closed(&e) => Err(closed_mid_task()),
            Ok(Err(e)) => Err(HttpError::Unreachable(self.scrub.scrub(&format!("sending to DashScope failed: {}", error_chain(&e)))).into()),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Sends `run-task` and waits for its `task-started`: up to the
    /// connect timeout, or `limit` when shorter.
    pub(crate) async fn run_task(&mut self, task_id: &str, payload: &Value, limit: Option<Duration>) -> Result<(), Failure> {
        let run = json!({"header": header("run-task", task_id), "payload": payload});
        self.send(Message::text(run.to_string())).await?;
        let limit = limit.map_or(self.write_timeout, |l| l.min(self.write_timeout));
        let wait = async {
            loop {
                match self.next_event().await? {
                    ServerEvent::Started(id) if id == task_id || id.is_empty() => return Ok(()),
                    ServerEvent::Failed { code, message } => return Err(Failure::Task { code, message }),
                    ServerEvent::Closed => {
                        return Err(HttpError::Protocol("DashScope closed the connection before task-started".into()).into());
                    }
                    // Leftovers of an earlier task on this connection.
                    _ => {}
                }
            }
        };
        match tokio::time::timeout(limit, wait).await {
            Err(_) => Err(HttpError::Timeout(millis(limit)).into()),
            Ok(r) => r,
        }
    }

    /// `continue-task` with `text` (synthesis).
    pub(crate) async fn continue_task(&mut self, task_id: &str, text: &str) -> Result<(), Failure> {
        let v = json!({"header": header("continue-task", task_id), "payload": {"input": {"text": text}}});
        self.send(Message::text(v.to_string())).await
    }

    /// `finish-task`: everything has been sent.
    pub(crate) async fn finish_task(&mut self, task_id: &str) -> Result<(), Failure> {
        let v = json!({"header": header("finish-task", task_id), "payload": {"input": {}}});
        self.send(Message::text(v.to_string())).await
    }

    /// One binary frame of audio (recognition).
    pub(crate) async fn send_audio(&mut self, bytes: Vec<u8>) -> Result<(), Failure> {
        self.send(Message::binary(bytes)).await
    }

    /// The next event. Pings are answered by the library and skipped, as
    /// are events this code does not know.
    pub(crate) async fn next_event(&mut self) -> Result<ServerEvent, Failure> {
        loop {
            let message = match self.ws.next().await {
                None => return Ok(ServerEvent::Closed),
                Some(Err(e)) if peer_closed(&e) || matches!(e, WsError::Io(_)) => return Ok(ServerEvent::Closed),
                Some(Err(e)) => return Err(HttpError::Protocol(self.scrub.scrub(&error_chain(&e))).into()),
                Some(Ok(m)) => m,
            };
            match message {
                Message::Binary(b) => return Ok(ServerEvent::Audio(b.to_vec())),
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(t.as_str())
                        .map_err(|e| HttpError::Protocol(format!("DashScope sent an event that is not JSON: {e}")))?;
                    let header = &v["header"];
                    let id = header["task_id"].as_str().unwrap_or_default().to_owned();
                    return Ok(match header["event"].as_str().unwrap_or_default() {
                        "task-started" => ServerEvent::Started(id),
                        "result-generated" => ServerEvent::Result(id, v["payload"]["output"].clone()),
                        "task-finished" => ServerEvent::Finished(id),
                        "task-failed" => ServerEvent::Failed {
                            code: header["error_code"].as_str().filter(|c| !c.is_empty()).unwrap_or("UnknownError").to_owned(),
                            message: self.scrub.scrub(header["error_message"].as_str().unwrap_or_default().trim()),
                        },
                        _ => continue,
                    });
                }
                Message::Close(_) => return Ok(ServerEvent::Closed),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
            }
        }
    }

    /// Says goodbye (a close frame), briefly; the server may be gone.
    pub(crate) async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(500), self.ws.close(None)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_are_32_hex_digits_and_fresh() {
        let (a, b) = (task_id(), task_id());
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn debug_and_errors_show_no_key() {
        let e = DashScopeEndpoint::new("sk-dashscope-secret-0123456789");
        let shown = format!("{e:?}");
        assert!(shown.contains("[set]") && !shown.contains("secret"), "{shown}");
        assert!(matches!(DashScopeEndpoint { api_key: Some("  ".into()), ..e.clone() }.check(), Err(HttpError::NotConfigured(m)) if m.contains(KEY_ENV)));
        assert!(matches!(e.clone().at("https://dashscope.aliyuncs.com").check(), Err(HttpError::NotConfigured(_))));
        assert_eq!(e.check(), Ok(()));
    }

    #[test]
    fn a_key_file_gives_its_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dashscope.key");
        std::fs::write(&path, "  sk-from-file-0123456789 \nsecond line\n").unwrap();
        assert_eq!(DashScopeEndpoint::from_key_file(&path).unwrap().api_key.as_deref(), Some("sk-from-file-0123456789"));
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(DashScopeEndpoint::from_key_file(&path), Err(KeyError::Empty { .. })));
        let missing = DashScopeEndpoint::from_key_file(dir.path().join("nope")).unwrap_err();
        assert!(matches!(missing, KeyError::Unreadable { .. }), "{missing}");
    }
}
