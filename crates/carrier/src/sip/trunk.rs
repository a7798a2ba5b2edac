//! The trunk as every part of the carrier sees it: one [`Trunk`] value,
//! built by `endpoint.rs` at start and shared by the legs (`leg.rs`), their
//! media (`media.rs`) and the registration (`registration.rs`). It holds
//! the configuration, rsipstack's dialog layer, the addresses we advertise,
//! the limits, the RTP ports and where the registration stands, and it
//! spells the URIs of our requests. It uses none of the modules that use
//! it: endpoint, registration, media and leg depend on it, never the other
//! way.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::platform::CancellationToken;
use rsipstack::rsip::Uri;
use rsipstack::transport::SipAddr;
use waihu_media::PortAllocator;

use super::config::{SipConfig, SipTransport};
use super::limits::{CallSlots, DialRate};

/// What a call needs from the shared endpoint. Built by `endpoint::start`.
pub(crate) struct Trunk {
    pub(crate) cfg: SipConfig,
    pub(crate) dialogs: Arc<DialogLayer>,
    pub(crate) credential: Option<Credential>,
    /// The address advertised in Contact, Via and SDP.
    pub(crate) advertised_ip: IpAddr,
    /// Where requests go.
    pub(crate) destination: SipAddr,
    /// The trunk's resolved address (for the unreachability probe).
    pub(crate) trunk_addr: SocketAddr,
    pub(crate) slots: CallSlots,
    pub(crate) rate: DialRate,
    /// RTP ports for calls, one per leg.
    pub(crate) ports: PortAllocator,
    /// The address the SIP socket is bound to.
    pub(crate) local_sip: SocketAddr,
    /// Cancelled when the carrier drops: stops the endpoint and the registration.
    pub(crate) cancel: CancellationToken,
    pub(crate) registration: Mutex<RegistrationState>,
}

/// Where the carrier's registration with the trunk stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationState {
    /// `register = false`: the carrier does not register.
    Disabled,
    /// The first REGISTER is under way.
    Registering,
    /// The trunk accepted the last REGISTER.
    Registered {
        /// The lifetime the trunk granted, seconds (it may grant less than
        /// `register_expires_seconds`); refreshed at 80 % of it.
        expires_seconds: u32,
        /// REGISTERs the trunk accepted since start: the first, then one
        /// per refresh.
        accepted: u64,
    },
    /// The last REGISTER failed; it is retried after a pause (5 s, growing
    /// to 60 s).
    Failed {
        /// Why (`SIP 403 Forbidden`, `no response within 40 s`).
        reason: String,
        /// Failures in a row.
        failures: u32,
        /// REGISTERs the trunk accepted since start.
        accepted: u64,
    },
}

impl Trunk {
    pub(crate) fn local_sip_addr(&self) -> SocketAddr {
        self.local_sip
    }

    pub(crate) fn dialogs_open(&self) -> usize {
        self.dialogs.len()
    }

    pub(crate) fn shutdown(&self) {
        self.cancel.cancel();
    }

    /// Resolves when the carrier shuts down.
    pub(crate) async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    pub(crate) fn registration_state(&self) -> RegistrationState {
        self.registration.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_registration(&self, state: RegistrationState) {
        *self.registration.lock().unwrap_or_else(|e| e.into_inner()) = state;
    }

    /// `;transport=tcp` over TCP: without it a URI means UDP (RFC 3263), and
    /// nothing of ours listens on UDP then.
    fn transport_param(&self) -> &'static str {
        if self.cfg.transport == SipTransport::Tcp {
            ";transport=tcp"
        } else {
            ""
        }
    }

    /// `sip:user@host:port` toward the trunk (with `;transport=tcp` over TCP).
    pub(crate) fn trunk_uri(&self, user: &str) -> Result<Uri, String> {
        let host = host_literal(&self.cfg.host);
        let text = format!("sip:{user}@{host}:{}{}", self.cfg.port, self.transport_param());
        Uri::try_from(text.as_str()).map_err(|e| format!("bad SIP URI {text:?}: {e}"))
    }

    /// The REGISTER Request-URI: `sip:host:port` (no user, RFC 3261 §10.2).
    pub(crate) fn registrar_uri(&self) -> Result<Uri, String> {
        let text = format!("sip:{}:{}{}", host_literal(&self.cfg.host), self.cfg.port, self.transport_param());
        Uri::try_from(text.as_str()).map_err(|e| format!("bad SIP URI {text:?}: {e}"))
    }

    /// The Contact we register: `sip:username@advertised:port`.
    pub(crate) fn register_contact_uri(&self) -> Result<Uri, String> {
        let user = self.cfg.username.as_deref().unwrap_or(&self.cfg.from_user);
        self.contact_uri_for(user)
    }

    /// Our From: `sip:from_user@trunk-host` (the caller ID the trunk sees).
    pub(crate) fn caller_uri(&self) -> Result<Uri, String> {
        let text = format!("sip:{}@{}", self.cfg.from_user, host_literal(&self.cfg.host));
        Uri::try_from(text.as_str()).map_err(|e| format!("bad SIP URI {text:?}: {e}"))
    }

    /// Our Contact: `sip:from_user@advertised:port` (`;transport=tcp` over TCP).
    pub(crate) fn contact_uri(&self) -> Result<Uri, String> {
        self.contact_uri_for(&self.cfg.from_user)
    }

    fn contact_uri_for(&self, user: &str) -> Result<Uri, String> {
        let host = host_literal(&self.advertised_ip.to_string());
        let text = format!("sip:{user}@{host}:{}{}", self.local_sip.port(), self.transport_param());
        Uri::try_from(text.as_str()).map_err(|e| format!("bad SIP URI {text:?}: {e}"))
    }
}

/// IPv6 literals go in brackets inside a SIP URI.
fn host_literal(host: &str) -> String {
    let host = host.trim();
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}
