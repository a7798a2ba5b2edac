//! The client library under the `waihu` CLI (and anything else that calls a
//! waihu server, or the hosted Stepone API it is compatible with). It speaks
//! HTTP only: how answers are shown to people is the CLI's business.
//!
//! - [`credentials`]: where the API key and the server URL come from; the
//!   key never prints whole.
//! - [`Client`]: the Stepone-compatible endpoints (`/api/v1/callinfo/...`)
//!   and the native ones (`/v1/calls`, `/healthz`), with the headers every
//!   request carries and errors that read as one clear line; the waits for
//!   a record (`callinfo_with_retry`, `wait_final`) and the live stream.
//! - [`sse`]: the live stream's decoder, free of IO.
//! - [`text`]: untrusted server text made safe for one line.
#![warn(missing_docs)]

mod answer;
mod calls;
mod client;
pub mod credentials;
mod error;
mod ids;
mod polling;
pub mod sse;
mod stream;
pub mod text;

pub use calls::CallCreated;
pub use client::{
    Client, ClientBuilder, CLIENT_VERSION, DEFAULT_CONNECT_TIMEOUT, DEFAULT_PLATFORM,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_STREAM_IDLE_TIMEOUT,
};
pub use credentials::{
    require_api_key, resolve_api_key, ApiKey, ApiKeySource, KeyOrigin, DEFAULT_BASE_URL,
};
pub use error::ClientError;
pub use ids::{new_idempotency_key, validate_call_id, validate_idempotency_key};
pub use polling::{
    is_final_status, is_record_final, RetryNotice, DEFAULT_CALLINFO_INTERVAL,
    DEFAULT_CALLINFO_TRIES, DEFAULT_POLL_INTERVAL, DEFAULT_WAIT_TIMEOUT, FINAL_STATUSES,
};
pub use sse::{StreamEvent, StreamItem};
pub use waihu_wire::StreamLine;
