//! Why the SIP trunk carrier refuses its configuration or cannot start.
//! Every message names the `[carrier.sip]` setting or the address at fault,
//! so the server's start-up error tells a person what to change.
//!
//! rsipstack's own errors are kept as text (`reason`): its types stay out
//! of our public API, since the crate is pinned and its API moves.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use thiserror::Error;
use waihu_media::PortError;

/// What is wrong with a `[carrier.sip]` table (from `SipConfig::validate`
/// and `SipConfig::resolve_password`).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SipConfigError {
    /// `host` is empty, has a port or user in it, or characters a host cannot have.
    #[error("[carrier.sip] host must be an IP address or a host name (no port, no user), got {got:?}")]
    Host {
        /// The configured value.
        got: String,
    },
    /// `port` is 0.
    #[error("[carrier.sip] port must be between 1 and 65535 (5060 is usual)")]
    Port,
    /// More than one of `password`, `password_env`, `password_file`.
    #[error("[carrier.sip] give the password one way only: password, password_env or password_file")]
    PasswordGivenTwice,
    /// A password without a `username`.
    #[error("[carrier.sip] a password needs a username")]
    PasswordWithoutUsername,
    /// `register = true` without a `username`.
    #[error("[carrier.sip] register = true needs a username (the account registered)")]
    RegisterWithoutUsername,
    /// `register_expires_seconds` outside 60..=86400.
    #[error("[carrier.sip] register_expires_seconds must be between 60 and 86400, got {got}")]
    RegisterExpires {
        /// The configured value.
        got: u32,
    },
    /// `from_user` is not a SIP user part.
    #[error("[carrier.sip] from_user must be a non-empty SIP user part (letters, digits, +-_.), got {got:?}")]
    FromUser {
        /// The configured value.
        got: String,
    },
    /// `number_prefix` is not empty, digits, or `+` and digits.
    #[error("[carrier.sip] number_prefix must be empty, digits, or + and digits (e.g. \"0\", \"+86\"), got {got:?}")]
    NumberPrefix {
        /// The configured value.
        got: String,
    },
    /// The RTP port range is below 1024 or empty.
    #[error("[carrier.sip] RTP ports must satisfy 1024 <= rtp_port_min < rtp_port_max, got {min}..{max}")]
    RtpPortRange {
        /// `rtp_port_min`.
        min: u16,
        /// `rtp_port_max`.
        max: u16,
    },
    /// `codecs` is empty.
    #[error("[carrier.sip] codecs must name at least one of PCMA, PCMU")]
    NoCodecs,
    /// `codecs` names a codec twice.
    #[error("[carrier.sip] codecs lists a codec twice")]
    CodecTwice,
    /// `max_concurrent_calls` is 0.
    #[error("[carrier.sip] max_concurrent_calls must be at least 1")]
    MaxConcurrentCalls,
    /// `max_calls_per_second` outside 0.1..=10000.
    #[error("[carrier.sip] max_calls_per_second must be between 0.1 and 10000, got {got}")]
    MaxCallsPerSecond {
        /// The configured value.
        got: f64,
    },
    /// `no_media_timeout_seconds` outside 1..=3600.
    #[error("[carrier.sip] no_media_timeout_seconds must be between 1 and 3600, got {got}")]
    NoMediaTimeout {
        /// The configured value.
        got: u64,
    },
    /// `invite_timeout_seconds` outside 1..=300.
    #[error("[carrier.sip] invite_timeout_seconds must be between 1 and 300, got {got}")]
    InviteTimeout {
        /// The configured value.
        got: u64,
    },
    /// `max_dial_wait_seconds` above 3600.
    #[error("[carrier.sip] max_dial_wait_seconds must be at most 3600, got {got}")]
    MaxDialWait {
        /// The configured value.
        got: u64,
    },
    /// `chars_per_second` outside 0.5..=50.
    #[error("[carrier.sip] chars_per_second must be between 0.5 and 50, got {got}")]
    CharsPerSecond {
        /// The configured value.
        got: f64,
    },
    /// `external_ip` is `0.0.0.0` or `::`.
    #[error("[carrier.sip] external_ip must be a real address, not {got}")]
    ExternalIp {
        /// The configured value.
        got: IpAddr,
    },
    /// The variable `password_env` names is unset or blank.
    #[error("[carrier.sip] password_env: the variable {var} is not set")]
    PasswordEnvUnset {
        /// The variable's name.
        var: String,
    },
    /// `password_file` cannot be read.
    #[error("[carrier.sip] password_file: cannot read {}: {source}", path.display())]
    PasswordFileUnreadable {
        /// The configured file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `password_file`'s first line is blank.
    #[error("[carrier.sip] password_file {} is empty", path.display())]
    PasswordFileEmpty {
        /// The configured file.
        path: PathBuf,
    },
}

/// Why `SipCarrier::start` failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SipStartError {
    /// The configuration is invalid, or its password cannot be read.
    #[error(transparent)]
    Config(#[from] SipConfigError),
    /// The trunk's host name does not resolve.
    #[error("[carrier.sip] host {host:?} cannot be resolved: {source}")]
    HostUnresolved {
        /// The configured host.
        host: String,
        /// Why.
        source: std::io::Error,
    },
    /// The trunk's host name resolves to no address.
    #[error("[carrier.sip] host {host:?} has no address")]
    HostWithoutAddress {
        /// The configured host.
        host: String,
    },
    /// No local address to advertise could be found (set `external_ip` or `bind`).
    #[error("[carrier.sip] cannot find the local address toward the trunk: {source}")]
    LocalAddress {
        /// Why.
        source: std::io::Error,
    },
    /// The kernel has no route to the trunk.
    #[error("[carrier.sip] no route to the trunk {trunk}: {source}")]
    NoRoute {
        /// The trunk's resolved address.
        trunk: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The SIP/UDP socket cannot be bound (`bind` in use or not local).
    #[error("[carrier.sip] cannot bind SIP/UDP on {addr}: {reason}")]
    BindUdp {
        /// The configured `bind`.
        addr: SocketAddr,
        /// rsipstack's error.
        reason: String,
    },
    /// The bound SIP/UDP socket has no address.
    #[error("[carrier.sip] SIP socket address: {reason}")]
    SocketAddress {
        /// rsipstack's error.
        reason: String,
    },
    /// The SIP/TCP port cannot be bound (`bind` in use or not local).
    #[error("[carrier.sip] cannot bind SIP/TCP on {addr}: {source}")]
    BindTcp {
        /// The configured `bind`.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The SIP/TCP listener cannot be set up.
    #[error("[carrier.sip] SIP/TCP listener: {reason}")]
    TcpListener {
        /// rsipstack's error.
        reason: String,
    },
    /// rsipstack's endpoint cannot take incoming requests.
    #[error("[carrier.sip] SIP endpoint: {reason}")]
    Endpoint {
        /// rsipstack's error.
        reason: String,
    },
    /// `rtp_port_min`..`rtp_port_max` holds no usable RTP port pair.
    #[error("[carrier.sip] RTP ports: {source}")]
    RtpPorts {
        /// Why.
        source: PortError,
    },
}
