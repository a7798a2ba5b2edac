//! Why a configuration was refused.
//!
//! Each message names the setting, and quotes its cause instead of chaining
//! it as `source`: the CLI prints the chain after the message, and would
//! print the cause twice.

use std::path::PathBuf;

use waihu_core::AmountError;

/// A configuration that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {problem}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        problem: std::io::Error,
    },
    /// The file is not TOML.
    #[error("invalid configuration: {path}: {problem}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where and why, in TOML's words.
        problem: toml::de::Error,
    },
    /// A `WAIHU_*` variable goes below a setting that is a value, not a
    /// section (`WAIHU_LISTEN__PORT`).
    #[error("invalid configuration: {variable}: {section} is not a section")]
    NotASection {
        /// The environment variable.
        variable: String,
        /// The setting it goes below.
        section: String,
    },
    /// A key the configuration does not have (a typo), or a value of the
    /// wrong type.
    #[error("invalid configuration: {}", one_line(.0))]
    Structure(toml::de::Error),
    /// Settings that parse but cannot work.
    #[error("invalid configuration: {0}")]
    Invalid(InvalidConfig),
}

/// TOML's message on one line, with the setting it is about (`in
/// \`billing.rate_per_minute\``) when it names one.
fn one_line(e: &toml::de::Error) -> String {
    e.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

impl From<InvalidConfig> for ConfigError {
    fn from(e: InvalidConfig) -> Self {
        ConfigError::Invalid(e)
    }
}

/// Settings that parse but cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidConfig {
    /// A price or credit that is not an amount in CNY.
    #[error("{field}: {problem}")]
    Amount {
        /// The setting, e.g. `billing.rate_per_minute`.
        field: &'static str,
        /// What is wrong with it.
        problem: AmountError,
    },
    /// A timer of 0 seconds.
    #[error("calls.{field} must be at least 1 second")]
    ZeroTimer {
        /// The setting in `[calls]`.
        field: &'static str,
    },
    /// The silence prompt would come at or after the silence timeout.
    #[error("calls.silence_prompt_seconds must be shorter than calls.silence_timeout_seconds")]
    SilencePromptNotShorter,
    /// `calls.reserve_ahead_seconds` outside 1-55.
    #[error("calls.reserve_ahead_seconds must be between 1 and 55 (got {0})")]
    ReserveAhead(u64),
    /// A limit of 0.
    #[error("calls.{field} must be at least 1")]
    ZeroLimit {
        /// The setting in `[calls]`.
        field: &'static str,
    },
    /// A `carrier.kind` that is not built in.
    #[error("carrier.kind {0:?} is not available (available: sim, sip)")]
    UnknownCarrier(String),
    /// The simulated network's section, in its own words.
    #[error("carrier.sim: {0}")]
    Sim(String),
    /// The SIP trunk's section, in its own words (which name `[carrier.sip]`).
    #[error("{0}")]
    Sip(String),
    /// Two OpenAI-compatible engines with one id.
    #[error("dialogue.openai: engine id {0:?} is used twice")]
    EngineIdTwice(String),
    /// A default engine that is not configured.
    #[error("dialogue.default_engine {engine:?} is not configured (configured: {configured})")]
    UnknownDefaultEngine {
        /// The id asked for.
        engine: String,
        /// The ids there are, comma-separated.
        configured: String,
    },
    /// An empty `voices` list.
    #[error("voices: at least one voice is needed")]
    NoVoices,
    /// The `[speech]` section, in its own words (which name the setting).
    #[error("{0}")]
    Speech(String),
}
