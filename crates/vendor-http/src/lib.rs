//! What every engine that calls a vendor's API shares, so that it is
//! written (and its secrets handled) once: the dialogue engine in
//! `waihu-agent`, the OpenAI-compatible and DashScope speech engines in
//! `waihu-speech`.
//!
//! - [`Endpoint`]: where an OpenAI-compatible server is and its key, which
//!   only ever goes into the `Authorization` header (`Debug` shows whether
//!   one is set); [`Endpoint::connect`] gives the [`VendorClient`] for one
//!   API path.
//! - [`Scrubber`]: takes the keys, and the echoes servers make of them, out
//!   of any text before it leaves an engine.
//! - [`HttpError`]: a failure before it becomes an engine's own error type
//!   ([`vendor_error!`] maps it onto one).
//! - [`send`], [`read_capped`], [`error_message`], [`error_chain`]: requests
//!   bounded in time and size, and errors cut to one readable line.
#![warn(missing_docs)]

mod endpoint;
mod error;
mod message;
mod request;
mod scrub;

pub use endpoint::{Endpoint, VendorClient, OPENAI_BASE_URL};
pub use error::{HttpError, VendorError};
pub use message::{error_chain, error_message, error_text, truncate, MAX_MESSAGE};
pub use request::{millis, read_capped, send, ERROR_BODY_WAIT, MAX_BODY};
pub use scrub::Scrubber;
