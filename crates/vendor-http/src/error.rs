//! A vendor call's failure, and how engines take it into their own error
//! types.

use thiserror::Error;

/// Why a call to a vendor failed, before it becomes an engine's own error
/// ([`vendor_error!`](crate::vendor_error) maps it). Messages are one line;
/// they are free of secrets once [`Scrubber::error`](crate::Scrubber::error)
/// has seen them.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The server could not be reached (connection refused, DNS, TLS), or
    /// the connection broke.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// No answer in time; the limit in milliseconds.
    #[error("timed out after {0} ms")]
    Timeout(u64),
    /// The server answered with an HTTP error.
    #[error("HTTP {status}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The server's message, one line.
        message: String,
    },
    /// The server answered something that could not be read.
    #[error("unreadable answer: {0}")]
    Protocol(String),
    /// The engine is not set up (no key, a bad URL).
    #[error("not configured: {0}")]
    NotConfigured(String),
}

/// An error whose text may quote a vendor, so may carry a secret: the
/// engines' own error types, through [`vendor_error!`](crate::vendor_error).
pub trait VendorError {
    /// The message to scrub, if this kind of error has one.
    fn message_mut(&mut self) -> Option<&mut String>;
}

impl VendorError for HttpError {
    fn message_mut(&mut self) -> Option<&mut String> {
        match self {
            HttpError::Unreachable(m) | HttpError::Protocol(m) | HttpError::NotConfigured(m) | HttpError::Http { message: m, .. } => Some(m),
            HttpError::Timeout(_) => None,
        }
    }
}

/// Makes an engine's error type take [`HttpError`]s (`From`) and be
/// scrubbed ([`VendorError`]). The type must have the variants
/// `Unreachable(String)`, `Timeout(u64)`, `Http { status: u16, message:
/// String }`, `Protocol(String)` and `NotConfigured(String)`, which keep
/// their meaning; its other variants are left to the engine.
#[macro_export]
macro_rules! vendor_error {
    ($engine_error:ident) => {
        impl ::core::convert::From<$crate::HttpError> for $engine_error {
            fn from(e: $crate::HttpError) -> Self {
                match e {
                    $crate::HttpError::Unreachable(m) => $engine_error::Unreachable(m),
                    $crate::HttpError::Timeout(ms) => $engine_error::Timeout(ms),
                    $crate::HttpError::Http { status, message } => $engine_error::Http { status, message },
                    $crate::HttpError::Protocol(m) => $engine_error::Protocol(m),
                    $crate::HttpError::NotConfigured(m) => $engine_error::NotConfigured(m),
                    other => $engine_error::Protocol(other.to_string()),
                }
            }
        }

        impl $crate::VendorError for $engine_error {
            fn message_mut(&mut self) -> ::core::option::Option<&mut ::std::string::String> {
                match self {
                    $engine_error::Unreachable(m)
                    | $engine_error::Protocol(m)
                    | $engine_error::NotConfigured(m)
                    | $engine_error::Http { message: m, .. } => ::core::option::Option::Some(m),
                    _ => ::core::option::Option::None,
                }
            }
        }
    };
}
