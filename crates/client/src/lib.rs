//! The client library under the `waihu` CLI (and anything else that calls a
//! waihu server, or the hosted Stepone API it is compatible with).
//!
//! - [`credentials`]: where the API key and the server URL come from; the
//!   key never prints whole.
//! - [`Client`]: the Stepone-compatible endpoints (`/api/v1/callinfo/...`)
//!   and the native ones (`/v1/calls`, `/healthz`), with the headers every
//!   request carries and errors that read as one clear line.
//! - [`sse`]: the live stream's decoder, free of IO.
//! - [`format`]: the human output of the skill's scripts, and JSON for
//!   agents without instruction-like fields.
#![warn(missing_docs)]

mod client;
pub mod credentials;
mod error;
pub mod format;
pub mod sse;

pub use client::{
    is_final_status, is_record_final, new_idempotency_key, validate_call_id,
    validate_idempotency_key, CallCreated, Client, ClientBuilder, RetryNotice, CLIENT_VERSION,
    DEFAULT_CALLINFO_INTERVAL, DEFAULT_CALLINFO_TRIES, DEFAULT_CONNECT_TIMEOUT, DEFAULT_PLATFORM,
    DEFAULT_POLL_INTERVAL, DEFAULT_REQUEST_TIMEOUT, DEFAULT_STREAM_IDLE_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT, FINAL_STATUSES,
};
pub use credentials::{
    require_api_key, resolve_api_key, ApiKey, ApiKeySource, KeyOrigin, DEFAULT_BASE_URL,
};
pub use error::ClientError;
pub use format::strip_instruction_fields;
pub use sse::{StreamEvent, StreamItem};
pub use waihu_wire::StreamLine;
