//! Why a model could not be installed, read or found.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::spec::INSTALL_COMMAND;

/// A model file that does not follow its format.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct FormatError(String);

impl FormatError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        FormatError(msg.into())
    }
}

/// Why installing failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: io::Error,
    },
    /// Downloading failed.
    #[error("could not download the model: {0}")]
    Fetch(String),
    /// `--from DIR` lacks a file.
    #[error("{0}")]
    NotFound(String),
    /// A file is not the one pinned.
    #[error("{what} has SHA-256 {actual}, expected {expected} (damaged download, or another version)")]
    HashMismatch {
        /// Which file.
        what: String,
        /// The pinned hash.
        expected: String,
        /// The file's.
        actual: String,
    },
    /// The weights could not be read or converted.
    #[error("converting the model: {0}")]
    Format(#[from] FormatError),
}

/// Why a model's file is not there to be used (for engines at start-up);
/// the message names the command that installs it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ModelUnavailable {
    /// No file.
    #[error("{name}: not installed (no {}) — run '{INSTALL_COMMAND}'", path.display())]
    NotInstalled {
        /// The model.
        name: &'static str,
        /// Where its file would be.
        path: PathBuf,
    },
    /// A file of the wrong size: an install that stopped, or another file.
    #[error("{name}: {} is incomplete ({bytes} bytes, expected {expected}) — run '{INSTALL_COMMAND}'", path.display())]
    Incomplete {
        /// The model.
        name: &'static str,
        /// Its file.
        path: PathBuf,
        /// The file's size.
        bytes: u64,
        /// The installed model's size.
        expected: u64,
    },
}

/// Maps an IO error to [`ModelError::Io`], saying what was being done.
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ModelError {
    let context = context.into();
    move |source| ModelError::Io { context, source }
}
