//! What the SIP trunk carrier reads from the configuration file
//! (`[carrier.sip]` in the server's TOML).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::SipConfigError;

/// The SIP trunk's settings. Every field has a default, so only `host` (and
/// credentials, if the trunk wants them) usually needs writing.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// The trunk (SBC, proxy, FreeSWITCH, Asterisk): an IP address or a host
    /// name. INVITEs and REGISTERs go there.
    pub host: String,
    /// The trunk's SIP port.
    pub port: u16,
    /// `udp` (the default) or `tcp`.
    pub transport: SipTransport,
    /// Digest user name, when the trunk challenges (401/407) or for REGISTER.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Digest password. Prefer `password_env` or `password_file`: a secret
    /// in a config file leaks with it. Never written back out or logged.
    #[serde(skip_serializing)]
    pub password: Option<String>,
    /// Environment variable that holds the digest password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// File whose first line is the digest password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Digest realm to answer; absent: whatever realm the trunk's challenge names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    /// Send REGISTER to the trunk at start, and refresh it.
    pub register: bool,
    /// Seconds a registration is asked to last (`Expires`). It is refreshed
    /// at 80 % of what the trunk grants, which may be less.
    pub register_expires_seconds: u32,
    /// The user part of From (the caller ID the trunk sees).
    pub from_user: String,
    /// Put in front of the 11-digit number in the Request-URI: `""` sends
    /// `13800138000`, `"0"` sends `013800138000`, `"+86"` sends `+8613800138000`.
    pub number_prefix: String,
    /// Local address and port the SIP socket binds (port 0: any free port).
    pub bind: SocketAddr,
    /// Lowest local RTP port (even); one port per call.
    pub rtp_port_min: u16,
    /// Highest local RTP port.
    pub rtp_port_max: u16,
    /// The address the trunk must send SIP and RTP to, when waihu is behind
    /// NAT: advertised in Contact, Via and the SDP. Absent: the bind address,
    /// or the local address that routes to the trunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_ip: Option<IpAddr>,
    /// Audio codecs offered, in order of preference (`PCMA`, `PCMU`).
    pub codecs: Vec<Codec>,
    /// Calls live at once on the trunk; a dial beyond it is refused as out of
    /// capacity (the call ends `failed`).
    pub max_concurrent_calls: usize,
    /// New calls per second toward the trunk, spaced evenly (one INVITE
    /// every `1/N` s, no burst). Calls beyond the rate wait their turn (at
    /// most `max_dial_wait_seconds`).
    pub max_calls_per_second: f64,
    /// Longest wait for a dial slot under `max_calls_per_second` before the
    /// call is refused as out of capacity.
    pub max_dial_wait_seconds: u64,
    /// An answered call whose far end sends no RTP for this long is ended
    /// `failed` ("no RTP received for N s").
    pub no_media_timeout_seconds: u64,
    /// A trunk that answers an INVITE with nothing at all (not even `100
    /// Trying`) for this long ends the call `failed`.
    pub invite_timeout_seconds: u64,
    /// Until speech recognition lands, RFC 4733 digits from the far end
    /// stand for what the callee says (see `docs/sip-trunk.md`). Off: the
    /// callee is never heard.
    pub dtmf_test_mode: bool,
    /// Speaking pace of the AI's placeholder audio, characters per second:
    /// a line plays for as long as it would take to speak.
    pub chars_per_second: f64,
}

impl fmt::Debug for SipConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand so the password never reaches a log line.
        f.debug_struct("SipConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("transport", &self.transport)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .field("realm", &self.realm)
            .field("register", &self.register)
            .field("from_user", &self.from_user)
            .field("number_prefix", &self.number_prefix)
            .field("bind", &self.bind)
            .field("rtp_ports", &(self.rtp_port_min..=self.rtp_port_max))
            .field("external_ip", &self.external_ip)
            .field("codecs", &self.codecs)
            .finish_non_exhaustive()
    }
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            host: "127.0.0.1".into(),
            port: 5060,
            transport: SipTransport::Udp,
            username: None,
            password: None,
            password_env: None,
            password_file: None,
            realm: None,
            register: false,
            register_expires_seconds: 3600,
            from_user: "waihu".into(),
            number_prefix: String::new(),
            bind: SocketAddr::from(([0, 0, 0, 0], 5060)),
            rtp_port_min: 20000,
            rtp_port_max: 30000,
            external_ip: None,
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            max_concurrent_calls: 100,
            max_calls_per_second: 10.0,
            max_dial_wait_seconds: 30,
            no_media_timeout_seconds: 10,
            invite_timeout_seconds: 10,
            dtmf_test_mode: true,
            chars_per_second: 4.5,
        }
    }
}

/// How SIP messages travel to the trunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SipTransport {
    /// Datagrams (what most trunks expect).
    #[default]
    Udp,
    /// One TCP connection to the trunk.
    Tcp,
}

/// A G.711 audio codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum Codec {
    /// G.711 A-law, payload type 8 (what China's trunks mostly use).
    #[serde(rename = "PCMA")]
    Pcma,
    /// G.711 mu-law, payload type 0.
    #[serde(rename = "PCMU")]
    Pcmu,
}

impl Codec {
    /// The static RTP payload type.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcma => 8,
            Codec::Pcmu => 0,
        }
    }

    /// The SDP encoding name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcma => "PCMA",
            Codec::Pcmu => "PCMU",
        }
    }
}

impl SipConfig {
    /// Checks what serde cannot. The message names the field and what is allowed.
    pub fn validate(&self) -> Result<(), SipConfigError> {
        let host = self.host.trim();
        let bad_char = host.contains(|c: char| c.is_whitespace() || matches!(c, ';' | '@' | '/' | '<' | '>'));
        // A colon is only allowed inside an IPv6 address: `host:port` belongs in two fields.
        let stray_port = host.contains(':') && host.parse::<IpAddr>().is_err();
        if host.is_empty() || bad_char || stray_port {
            return Err(SipConfigError::Host { got: self.host.clone() });
        }
        if self.port == 0 {
            return Err(SipConfigError::Port);
        }
        if self.password.is_some() as u8 + self.password_env.is_some() as u8 + self.password_file.is_some() as u8 > 1 {
            return Err(SipConfigError::PasswordGivenTwice);
        }
        let has_password = self.password.is_some() || self.password_env.is_some() || self.password_file.is_some();
        if has_password && self.username.as_deref().is_none_or(|u| u.trim().is_empty()) {
            return Err(SipConfigError::PasswordWithoutUsername);
        }
        if self.register && self.username.as_deref().is_none_or(|u| u.trim().is_empty()) {
            return Err(SipConfigError::RegisterWithoutUsername);
        }
        if self.register && !(60..=86_400).contains(&self.register_expires_seconds) {
            return Err(SipConfigError::RegisterExpires { got: self.register_expires_seconds });
        }
        if !is_sip_user(&self.from_user) {
            return Err(SipConfigError::FromUser { got: self.from_user.clone() });
        }
        if !(self.number_prefix.is_empty() || is_number_prefix(&self.number_prefix)) {
            return Err(SipConfigError::NumberPrefix { got: self.number_prefix.clone() });
        }
        if self.rtp_port_min < 1024 || self.rtp_port_min >= self.rtp_port_max {
            return Err(SipConfigError::RtpPortRange { min: self.rtp_port_min, max: self.rtp_port_max });
        }
        if self.codecs.is_empty() {
            return Err(SipConfigError::NoCodecs);
        }
        if self.codecs.iter().enumerate().any(|(i, c)| self.codecs[..i].contains(c)) {
            return Err(SipConfigError::CodecTwice);
        }
        if self.max_concurrent_calls == 0 {
            return Err(SipConfigError::MaxConcurrentCalls);
        }
        if !(self.max_calls_per_second.is_finite() && self.max_calls_per_second >= 0.1 && self.max_calls_per_second <= 10_000.0) {
            return Err(SipConfigError::MaxCallsPerSecond { got: self.max_calls_per_second });
        }
        if !(1..=3600).contains(&self.no_media_timeout_seconds) {
            return Err(SipConfigError::NoMediaTimeout { got: self.no_media_timeout_seconds });
        }
        if !(1..=300).contains(&self.invite_timeout_seconds) {
            return Err(SipConfigError::InviteTimeout { got: self.invite_timeout_seconds });
        }
        if self.max_dial_wait_seconds > 3600 {
            return Err(SipConfigError::MaxDialWait { got: self.max_dial_wait_seconds });
        }
        if !(self.chars_per_second.is_finite() && self.chars_per_second >= 0.5 && self.chars_per_second <= 50.0) {
            return Err(SipConfigError::CharsPerSecond { got: self.chars_per_second });
        }
        if let Some(ip) = self.external_ip {
            if ip.is_unspecified() {
                return Err(SipConfigError::ExternalIp { got: ip });
            }
        }
        Ok(())
    }

    /// The digest password, from wherever the configuration says; `None`
    /// when no credentials are configured. The error never contains it.
    pub fn resolve_password(&self) -> Result<Option<String>, SipConfigError> {
        if let Some(p) = &self.password {
            return Ok(Some(p.clone()));
        }
        if let Some(var) = &self.password_env {
            return match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_owned())),
                _ => Err(SipConfigError::PasswordEnvUnset { var: var.clone() }),
            };
        }
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|source| SipConfigError::PasswordFileUnreadable { path: path.clone(), source })?;
            let first = text.lines().next().unwrap_or("").trim().to_owned();
            if first.is_empty() {
                return Err(SipConfigError::PasswordFileEmpty { path: path.clone() });
            }
            return Ok(Some(first));
        }
        Ok(None)
    }
}

fn is_sip_user(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-_.".contains(c))
}

fn is_number_prefix(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    !digits.is_empty() && digits.len() <= 8 && digits.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_udp_with_pcma_first() {
        let cfg = SipConfig::default();
        cfg.validate().unwrap();
        assert_eq!(cfg.transport, SipTransport::Udp);
        assert_eq!(cfg.codecs, vec![Codec::Pcma, Codec::Pcmu]);
    }

    #[test]
    fn a_worked_toml_table_loads() {
        let cfg: SipConfig = toml::from_str(
            r#"
            host = "sbc.example.net"
            transport = "tcp"
            username = "1001"
            password_env = "TRUNK_PASSWORD"
            number_prefix = "+86"
            codecs = ["PCMU"]
            external_ip = "203.0.113.7"
            "#,
        )
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.transport, SipTransport::Tcp);
        assert_eq!(cfg.codecs, vec![Codec::Pcmu]);
        let err = toml::from_str::<SipConfig>("hots = \"x\"").unwrap_err().to_string();
        assert!(err.contains("hots"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let bad = |f: fn(&mut SipConfig), word: &str| {
            let mut cfg = SipConfig::default();
            f(&mut cfg);
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(word) && err.contains("[carrier.sip]"), "{err}");
        };
        bad(|c| c.host = "".into(), "host");
        bad(|c| c.host = "trunk:5060".into(), "host");
        bad(|c| c.port = 0, "port");
        bad(|c| c.number_prefix = "0x".into(), "number_prefix");
        bad(|c| c.codecs.clear(), "codecs");
        bad(|c| c.codecs = vec![Codec::Pcma, Codec::Pcma], "codecs");
        bad(|c| (c.rtp_port_min, c.rtp_port_max) = (30000, 20000), "rtp_port_min");
        bad(|c| c.max_calls_per_second = 0.0, "max_calls_per_second");
        bad(|c| c.password = Some("x".into()), "username");
        bad(|c| c.register = true, "register");
        bad(|c| c.no_media_timeout_seconds = 0, "no_media_timeout_seconds");
        bad(|c| c.invite_timeout_seconds = 0, "invite_timeout_seconds");
        bad(|c| c.from_user = "a b".into(), "from_user");
        let ok = SipConfig { host: "::1".into(), ..SipConfig::default() };
        ok.validate().unwrap();
    }

    #[test]
    fn the_password_is_never_printed_or_serialized() {
        let cfg = SipConfig { username: Some("u".into()), password: Some("hunter2".into()), ..SipConfig::default() };
        assert!(!format!("{cfg:?}").contains("hunter2"));
        assert!(!toml::to_string(&cfg).unwrap().contains("hunter2"));
        assert_eq!(cfg.resolve_password().unwrap(), Some("hunter2".into()));
        let env = SipConfig { username: Some("u".into()), password_env: Some("WAIHU_TEST_SURELY_UNSET_VAR".into()), ..SipConfig::default() };
        assert!(env.resolve_password().unwrap_err().to_string().contains("WAIHU_TEST_SURELY_UNSET_VAR"));
    }
}
