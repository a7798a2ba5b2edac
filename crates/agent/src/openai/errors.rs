//! Errors as the engine hands them on: mapped from HTTP and reqwest, cut to
//! one readable line, and scrubbed of secrets.

use serde_json::Value;
use tokio::time::Instant;

use super::reply::{error_text, truncate};
use crate::llm::LlmError;

/// Longest error message passed on, in characters.
const MAX_ERROR_CHARS: usize = 200;

/// Most of an error body (or of a whole non-streamed answer) read, in bytes.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Takes the secrets out of text before it leaves the engine.
#[derive(Default)]
pub(super) struct Scrubber {
    pub(super) secrets: Vec<String>,
}

impl Scrubber {
    pub(super) fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), "[redacted]");
            // A server may echo part of the key; a word that starts like the
            // key goes too. Keys are ASCII (they fit in a header), so the
            // byte slice is on a character boundary.
            if secret.len() >= 16 {
                let head = &secret[..12];
                let mut from = 0;
                while let Some(found) = text[from..].find(head) {
                    let at = from + found;
                    let end = text[at..]
                        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ',' | ';' | ')' | '}'))
                        .map_or(text.len(), |n| at + n);
                    text.replace_range(at..end, "[redacted]");
                    from = at + "[redacted]".len();
                }
            }
        }
        text
    }

    pub(super) fn error(&self, err: LlmError) -> LlmError {
        match err {
            LlmError::Unreachable(m) => LlmError::Unreachable(self.scrub(&m)),
            LlmError::Http { status, message } => LlmError::Http { status, message: self.scrub(&message) },
            LlmError::Protocol(m) => LlmError::Protocol(self.scrub(&m)),
            LlmError::NotConfigured(m) => LlmError::NotConfigured(self.scrub(&m)),
            other => other,
        }
    }
}

/// Why an error body could not be read.
pub(super) enum ReadError {
    TimedOut,
    Broken(String),
}

/// Reads at most [`MAX_BODY_BYTES`] of a body before `deadline`.
pub(super) async fn read_capped(mut response: reqwest::Response, deadline: Instant) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Err(_) => return Err(ReadError::TimedOut),
            Ok(Err(e)) => return Err(ReadError::Broken(error_chain(&e))),
            Ok(Ok(None)) => return Ok(body),
            Ok(Ok(Some(chunk))) => {
                let room = MAX_BODY_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_BODY_BYTES {
                    return Ok(body);
                }
            }
        }
    }
}

/// The message of an HTTP error answer: `error.message` of an OpenAI-style
/// body, a bare `error` or `message` string, or the body's text; the status
/// reason when there is nothing else. One line, trimmed.
pub(super) fn http_error_message(status: reqwest::StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<Value>(&text).ok().and_then(|v| match (v.get("error"), v.get("message")) {
        (Some(err), _) if !err.is_null() => Some(error_text(err)),
        (_, Some(Value::String(m))) => Some(m.clone()),
        _ => None,
    });
    let message = from_json.unwrap_or_else(|| text.into_owned());
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if message.is_empty() {
        status.canonical_reason().unwrap_or("no message").to_owned()
    } else {
        truncate(&message, MAX_ERROR_CHARS)
    }
}

/// Maps a failure to send the request.
pub(super) fn send_error(e: &reqwest::Error) -> LlmError {
    let detail = error_chain(e);
    if e.is_builder() {
        LlmError::NotConfigured(detail)
    } else {
        // Connection refused, DNS, TLS, connect timeout, a reset before any
        // answer: the engine could not be reached.
        LlmError::Unreachable(detail)
    }
}

/// An error and its causes on one line ("error sending request ...: tcp
/// connect error: Connection refused"): reqwest's own message alone does not
/// say what went wrong.
pub(super) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let msg = cause.to_string();
        if !text.contains(&msg) {
            text.push_str(": ");
            text.push_str(&msg);
        }
        source = cause.source();
    }
    truncate(&text, MAX_ERROR_CHARS * 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubber_removes_the_key_and_echoes_of_it() {
        let s = Scrubber { secrets: vec!["sk-0123456789abcdef0123".into()] };
        assert_eq!(s.scrub("bad key sk-0123456789abcdef0123 here"), "bad key [redacted] here");
        assert_eq!(s.scrub("key: \"sk-0123456789ab***\"."), "key: \"[redacted]\".");
        // A key that looks like the redaction mark must not loop forever.
        let odd = Scrubber { secrets: vec!["[redacted][redacted]xx".into()] };
        assert_eq!(odd.scrub("a [redacted][redacted]x b"), "a [redacted] b");
    }

    #[test]
    fn http_error_messages() {
        let s = reqwest::StatusCode::UNAUTHORIZED;
        let openai = br#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(http_error_message(s, openai), "Incorrect API key provided.");
        assert_eq!(http_error_message(s, br#"{"error":"model 'x' not found"}"#), "model 'x' not found");
        assert_eq!(http_error_message(s, b"<html>\n  Bad   gateway\n</html>"), "<html> Bad gateway </html>");
        assert_eq!(http_error_message(s, b""), "Unauthorized");
        assert_eq!(http_error_message(s, "长".repeat(500).as_bytes()).chars().count(), MAX_ERROR_CHARS + 1);
    }
}
