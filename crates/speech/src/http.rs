//! What the HTTP engines share: where the server is, its key (which never
//! leaves the `Authorization` header), and errors cut to one line and
//! scrubbed of that key.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use serde_json::Value;
use tokio::time::Instant;

/// How to reach one OpenAI-compatible server.
#[derive(Clone)]
pub struct Endpoint {
    /// The API root, e.g. `https://api.openai.com/v1`; each engine appends
    /// its path (`/audio/speech`, `/audio/transcriptions`).
    pub base_url: String,
    /// Sent as `Authorization: Bearer <key>` when set and not blank.
    pub api_key: Option<String>,
    /// Whether the server needs a key (hosted APIs do, local servers not).
    pub key_required: bool,
    /// More headers some gateways want; their values are secrets too.
    pub extra_headers: Vec<(String, String)>,
    /// Longest wait for the TCP/TLS connection.
    pub connect_timeout: Duration,
}

impl Endpoint {
    /// `base_url` with no key and a 5 s connect timeout.
    pub fn new(base_url: impl Into<String>) -> Self {
        Endpoint {
            base_url: base_url.into(),
            api_key: None,
            key_required: false,
            extra_headers: Vec::new(),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// The same endpoint with `key`.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    fn key(&self) -> Option<&str> {
        self.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty())
    }

    /// `{base_url}{path}`, unless the base already ends with `path`.
    pub(crate) fn url(&self, path: &str) -> Result<String, HttpError> {
        let base = self.base_url.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(HttpError::NotConfigured("base_url must start with http:// or https://".into()));
        }
        Ok(if base.ends_with(path) { base.to_owned() } else { format!("{base}{path}") })
    }

    /// The HTTP client carrying the key and headers, and the scrubber that
    /// knows them.
    pub(crate) fn client(&self) -> Result<(reqwest::Client, Scrubber), HttpError> {
        let mut scrubber = Scrubber::default();
        let mut headers = HeaderMap::new();
        match self.key() {
            Some(key) => {
                scrubber.secrets.push(key.to_owned());
                let mut v = HeaderValue::from_str(&format!("Bearer {key}"))
                    .map_err(|_| HttpError::NotConfigured("the API key has characters an HTTP header cannot carry".into()))?;
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
            None if self.key_required => return Err(HttpError::NotConfigured("no API key set".into())),
            None => {}
        }
        for (name, value) in &self.extra_headers {
            let bad = || HttpError::NotConfigured(format!("extra header {name:?} is not a valid HTTP header"));
            let n = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
            let mut v = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
            v.set_sensitive(true);
            if value.trim().len() >= 8 {
                scrubber.secrets.push(value.trim().to_owned());
            }
            headers.insert(n, v);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(self.connect_timeout)
            .user_agent(concat!("waihu/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::NotConfigured(format!("cannot set up the HTTP client: {e}")))?;
        Ok((client, scrubber))
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Presence only: even a prefix of a key is more than logs need.
        let key = self.key().map(|_| "[set]");
        let headers: Vec<String> = self.extra_headers.iter().map(|(n, _)| format!("{n}: …")).collect();
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &key)
            .field("key_required", &self.key_required)
            .field("extra_headers", &headers)
            .field("connect_timeout", &self.connect_timeout)
            .finish()
    }
}

/// An HTTP failure, before it becomes an engine's own error type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HttpError {
    Unreachable(String),
    Timeout(u64),
    Http { status: u16, message: String },
    Protocol(String),
    NotConfigured(String),
}

/// Takes secrets out of text before it leaves an engine.
#[derive(Default, Clone)]
pub(crate) struct Scrubber {
    secrets: Vec<String>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber").field("secrets", &self.secrets.len()).finish()
    }
}

const REDACTED: &str = "[redacted]";

impl Scrubber {
    /// Knows `secrets` (blank ones are ignored).
    pub(crate) fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Scrubber { secrets: secrets.into_iter().filter(|s| !s.trim().is_empty()).collect() }
    }

    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), REDACTED);
            // Servers echo the start of a bad key ("sk-abc...xyz"): a word
            // that begins like the key goes as well. Keys are ASCII.
            if secret.len() >= 16 && secret.is_ascii() {
                let head = &secret[..12];
                let mut from = 0;
                while let Some(found) = text[from..].find(head) {
                    let at = from + found;
                    let end = text[at..]
                        .find(|c: char| c.is_whitespace() || "\"',;)}".contains(c))
                        .map_or(text.len(), |n| at + n);
                    text.replace_range(at..end, REDACTED);
                    from = at + REDACTED.len();
                }
            }
        }
        text
    }

    pub(crate) fn error(&self, e: HttpError) -> HttpError {
        match e {
            HttpError::Unreachable(m) => HttpError::Unreachable(self.scrub(&m)),
            HttpError::Http { status, message } => HttpError::Http { status, message: self.scrub(&message) },
            HttpError::Protocol(m) => HttpError::Protocol(self.scrub(&m)),
            HttpError::NotConfigured(m) => HttpError::NotConfigured(self.scrub(&m)),
            t @ HttpError::Timeout(_) => t,
        }
    }
}

/// Longest error message passed on, in characters.
const MAX_MESSAGE: usize = 200;
/// Most of an error body, or of a whole JSON answer, read.
pub(crate) const MAX_BODY: usize = 256 * 1024;

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Sends `request`, waiting for the answer's headers until `deadline`.
/// An HTTP error status is read (briefly) into a typed error.
pub(crate) async fn send(request: reqwest::RequestBuilder, deadline: Instant, limit: Duration) -> Result<reqwest::Response, HttpError> {
    let response = match tokio::time::timeout_at(deadline, request.send()).await {
        Err(_) => return Err(HttpError::Timeout(millis(limit))),
        Ok(Err(e)) if e.is_builder() => return Err(HttpError::NotConfigured(error_chain(&e))),
        Ok(Err(e)) => return Err(HttpError::Unreachable(error_chain(&e))),
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    // The body is only decoration: a slow one must not hold the error up.
    let wait = Duration::from_secs(2);
    let body = read_capped(response, Instant::now() + wait, wait).await.unwrap_or_default();
    Err(HttpError::Http { status: status.as_u16(), message: error_message(status, &body) })
}

/// Reads at most [`MAX_BODY`] bytes of a body before `deadline`, which is
/// `limit` after the request was sent.
pub(crate) async fn read_capped(mut response: reqwest::Response, deadline: Instant, limit: Duration) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => return Err(HttpError::Timeout(millis(limit))),
            Ok(Err(e)) => return Err(HttpError::Unreachable(error_chain(&e))),
            Ok(Ok(None)) => return Ok(body),
            Ok(Ok(Some(chunk))) => {
                body.extend_from_slice(&chunk[..chunk.len().min(MAX_BODY - body.len())]);
                if body.len() >= MAX_BODY {
                    return Ok(body);
                }
            }
        }
    }
}

/// The message of an error answer: OpenAI's `error.message`, a bare `error`
/// or `message` string (Ollama, FastAPI's `detail`), else the body's text,
/// else the status reason. One line, at most [`MAX_MESSAGE`] characters.
pub(crate) fn error_message(status: reqwest::StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<Value>(&text).ok().and_then(|v| {
        let field = ["error", "message", "detail"].iter().find_map(|k| v.get(*k).filter(|x| !x.is_null()))?;
        Some(match field {
            Value::String(s) => s.clone(),
            Value::Object(o) => o.get("message").and_then(Value::as_str).map_or_else(|| field.to_string(), str::to_owned),
            other => other.to_string(),
        })
    });
    let message = from_json.unwrap_or_else(|| text.into_owned());
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if message.is_empty() {
        status.canonical_reason().unwrap_or("no message").to_owned()
    } else {
        truncate(&message, MAX_MESSAGE)
    }
}

/// An error and its causes on one line: reqwest's own message alone does
/// not say what went wrong ("error sending request").
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let m = cause.to_string();
        if !text.contains(&m) {
            text.push_str(": ");
            text.push_str(&m);
        }
        source = cause.source();
    }
    truncate(&text, 2 * MAX_MESSAGE)
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubber_removes_keys_and_their_echoes() {
        let s = Scrubber { secrets: vec!["sk-0123456789abcdef0123".into()] };
        assert_eq!(s.scrub("bad key sk-0123456789abcdef0123 here"), "bad key [redacted] here");
        assert_eq!(s.scrub("key: \"sk-0123456789ab***\"."), "key: \"[redacted]\".");
    }

    #[test]
    fn error_messages_are_one_short_line() {
        let s = reqwest::StatusCode::BAD_REQUEST;
        let openai = br#"{"error":{"message":"Invalid voice.","type":"invalid_request_error","param":"voice"}}"#;
        assert_eq!(error_message(s, openai), "Invalid voice.");
        assert_eq!(error_message(s, br#"{"detail":"Model not found"}"#), "Model not found");
        assert_eq!(error_message(s, b"<html>\n Bad  gateway</html>"), "<html> Bad gateway</html>");
        assert_eq!(error_message(s, b""), "Bad Request");
        assert_eq!(error_message(s, "长".repeat(300).as_bytes()).chars().count(), MAX_MESSAGE + 1);
    }

    #[test]
    fn debug_shows_no_key() {
        let e = Endpoint::new("http://x/v1").with_key("sk-secret-0123456789");
        let shown = format!("{e:?}");
        assert!(!shown.contains("secret") && shown.contains("[set]"), "{shown}");
        let (_, scrubber) = e.client().unwrap();
        assert!(!format!("{scrubber:?}").contains("sk-secret"));
        assert_eq!(e.url("/audio/speech").unwrap(), "http://x/v1/audio/speech");
        assert!(Endpoint::new("x/v1").url("/a").is_err());
    }
}
