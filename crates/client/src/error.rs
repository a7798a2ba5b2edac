//! Everything that can go wrong between the CLI and a server.
//!
//! Each variant displays as one line that names the problem and, where there
//! is one, the fix: the CLI prints it after `error: ` and an agent reading the
//! output must be able to act on it without a stack of causes.

use std::path::PathBuf;
use std::time::Duration;

use waihu_wire::SKILL_VERSION;

/// An error from the client library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// No key in the environment nor in the secrets file.
    #[error(
        "no API key: set WAIHU_API_KEY (or STEPONEAI_API_KEY), or write {{\"steponeai_api_key\": \"sk_...\"}} to ~/.clawd/secrets.json"
    )]
    NoApiKey,

    /// The secrets file exists but cannot be used. `reason` never quotes the
    /// file's content: it may hold other secrets.
    #[error("cannot use the secrets file {}: {reason}", .path.display())]
    SecretsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The server URL given is not an http(s) URL.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidBaseUrl {
        /// What was given.
        url: String,
        /// Why it is refused.
        reason: String,
    },

    /// An argument was refused before anything was sent.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Why.
        reason: String,
    },

    /// Nothing answered at the server URL.
    #[error(
        "cannot connect to the waihu server at {base_url} ({reason}); is it running? Start it with `waihu serve`, or point the client at the right URL"
    )]
    Connect {
        /// The base URL tried.
        base_url: String,
        /// The system's word on it (e.g. connection refused).
        reason: String,
    },

    /// HTTP 401.
    #[error("API key rejected by the server (HTTP 401): {message}; check WAIHU_API_KEY / STEPONEAI_API_KEY or ~/.clawd/secrets.json")]
    Unauthorized {
        /// The server's message.
        message: String,
    },

    /// HTTP 404, or an answer that carries no record: the thing asked for
    /// does not exist (yet), or belongs to another account.
    #[error("not found (HTTP 404): {message}")]
    NotFound {
        /// The server's message.
        message: String,
    },

    /// HTTP 426: the server speaks another protocol version.
    #[error("the server wants a different client version (HTTP 426): {message}; update waihu (this client speaks skill version {SKILL_VERSION})")]
    UpgradeRequired {
        /// The server's message.
        message: String,
    },

    /// Any other non-2xx answer.
    #[error("the server answered HTTP {status}: {message}")]
    Http {
        /// The status code.
        status: u16,
        /// The server's message, or the status's reason phrase.
        message: String,
        /// The server's machine-readable code, if it sent one.
        code: Option<String>,
    },

    /// A 2xx answer with `"success": false`.
    #[error("the server refused the request: {message}")]
    Refused {
        /// The server's message.
        message: String,
        /// The server's machine-readable code, if it sent one.
        code: Option<String>,
    },

    /// The answer is not JSON, or not the JSON this client expects.
    #[error("invalid answer from the server to {endpoint}: {reason}")]
    InvalidJson {
        /// Which endpoint answered.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A request or a wait took too long.
    #[error("timed out after {} waiting for {what}", crate::text::duration_short(*.after))]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        after: Duration,
    },

    /// The request failed in some other way (TLS, a broken connection ...).
    #[error("request to {endpoint} failed: {reason}")]
    Request {
        /// Which endpoint.
        endpoint: String,
        /// The innermost cause.
        reason: String,
    },
}

impl ClientError {
    /// Whether the error says the thing asked for is not there (yet): the
    /// only error `callinfo_with_retry` and `wait_final` wait out, because
    /// records appear with a delay. A 2xx `success:false` counts when its
    /// code says so (servers that never answer 404).
    pub fn is_not_found(&self) -> bool {
        match self {
            ClientError::NotFound { .. } => true,
            ClientError::Refused {
                code: Some(code), ..
            }
            | ClientError::Http {
                code: Some(code), ..
            } => code.to_ascii_lowercase().contains("not_found"),
            _ => false,
        }
    }

    /// The HTTP status behind the error, if the server answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ClientError::Unauthorized { .. } => Some(401),
            ClientError::NotFound { .. } => Some(404),
            ClientError::UpgradeRequired { .. } => Some(426),
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The innermost cause of an error, in one line: reqwest wraps the useful
/// part ("Connection refused (os error 111)") several layers down.
pub(crate) fn innermost_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    crate::text::one_line(&cur.to_string(), 200)
}
