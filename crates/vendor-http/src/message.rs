//! Errors as people read them: one line, short, saying what went wrong.

use serde_json::Value;

/// Longest error message passed on, in characters.
pub const MAX_MESSAGE: usize = 200;

/// The message of an error answer: OpenAI's `error.message`, a bare `error`
/// or `message` string (Ollama, FastAPI's `detail`), else the body's text,
/// else the status reason. One line, at most [`MAX_MESSAGE`] characters.
pub fn error_message(status: reqwest::StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| ["error", "message", "detail"].iter().find_map(|k| v.get(*k).filter(|x| !x.is_null())).map(error_text));
    let message = from_json.unwrap_or_else(|| text.into_owned());
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if message.is_empty() {
        status.canonical_reason().unwrap_or("no message").to_owned()
    } else {
        truncate(&message, MAX_MESSAGE)
    }
}

/// The text of an error a server put in JSON: the string itself, an
/// object's `message`, or else the JSON.
pub fn error_text(err: &Value) -> String {
    match err {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("message") {
            Some(Value::String(s)) => s.clone(),
            _ => err.to_string(),
        },
        other => other.to_string(),
    }
}

/// An error and its causes on one line ("error sending request ...: tcp
/// connect error: Connection refused"): reqwest's own message alone does
/// not say what went wrong.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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

/// At most `max` characters of `s`, with an ellipsis when cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn http_error_messages() {
        let s = reqwest::StatusCode::UNAUTHORIZED;
        let openai = br#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
        assert_eq!(error_message(s, openai), "Incorrect API key provided.");
        assert_eq!(error_message(s, br#"{"error":"model 'x' not found"}"#), "model 'x' not found");
        assert_eq!(error_message(s, br#"{"error":null,"message":"no such model"}"#), "no such model");
        assert_eq!(error_message(s, b"<html>\n  Bad   gateway\n</html>"), "<html> Bad gateway </html>");
        assert_eq!(error_message(s, b""), "Unauthorized");
        assert_eq!(error_message(s, br#"{"error":{"code":7}}"#), r#"{"code":7}"#);
    }

    #[test]
    fn truncate_counts_characters() {
        assert_eq!(truncate("喂您好", 2), "喂您…");
        assert_eq!(truncate("喂", 2), "喂");
    }

    #[test]
    fn error_chains_name_every_cause_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "tcp connect error"));
        assert_eq!(error_chain(&e), "error sending request: tcp connect error");
    }
}
