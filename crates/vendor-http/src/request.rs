//! Requests bounded in time, and answers bounded in size.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::HttpError;
use crate::message::{error_chain, error_message};

/// Most of an error body, or of a whole JSON answer, read.
pub const MAX_BODY: usize = 256 * 1024;

/// How long the body of an HTTP error answer is waited for when the engine
/// has no limit of its own: the body is only decoration, and a slow one
/// must not hold the error up.
pub const ERROR_BODY_WAIT: Duration = Duration::from_secs(2);

/// A duration in whole milliseconds, for messages.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Sends `request`, waiting for the answer's headers until `deadline`,
/// which is `limit` after the start (the limit is what a timeout reports).
/// An HTTP error status is read into a typed error, its body waited for at
/// most `error_body_wait`.
pub async fn send(request: reqwest::RequestBuilder, deadline: Instant, limit: Duration, error_body_wait: Duration) -> Result<reqwest::Response, HttpError> {
    let response = match tokio::time::timeout_at(deadline, request.send()).await {
        Err(_) => return Err(HttpError::Timeout(millis(limit))),
        Ok(Err(e)) if e.is_builder() => return Err(HttpError::NotConfigured(error_chain(&e))),
        // Connection refused, DNS, TLS, connect timeout, a reset before any
        // answer: the server could not be reached.
        Ok(Err(e)) => return Err(HttpError::Unreachable(error_chain(&e))),
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = read_capped(response, Instant::now() + error_body_wait, error_body_wait).await.unwrap_or_default();
    Err(HttpError::Http { status: status.as_u16(), message: error_message(status, &body) })
}

/// Reads at most [`MAX_BODY`] bytes of a body before `deadline`, which is
/// `limit` after the request was sent.
pub async fn read_capped(mut response: reqwest::Response, deadline: Instant, limit: Duration) -> Result<Vec<u8>, HttpError> {
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
