//! The SIP trunk carrier: waihu as a user agent client placing calls
//! through one trunk (an operator's SBC, FreeSWITCH, Asterisk), with RTP
//! media per call.
//!
//! ```text
//!  dial -> limits (slots, calls/s) -> RTP port + media session
//!       -> INVITE with SDP offer ----------------> trunk
//!          <- 100 / 180 (Ringing) / 183 + SDP (early media, not an answer)
//!          <- 200 + SDP -> ACK -> Answered (media to the answer's address)
//!          <- 4xx/5xx/6xx -> Ended (mapping.rs)
//!       Say -> placeholder audio; RFC 4733 digits -> Heard (dtmf_mode.rs)
//!       Cancel/HangUp -> CANCEL or BYE; far-end BYE -> Ended
//! ```
//!
//! SIP itself (transactions, retransmissions, digest, dialogs) is
//! rsipstack's; this module maps it onto the [`Leg`] contract and bounds
//! every wait with its own timers, so a silent trunk never holds a call.
//! `docs/sip-trunk.md` tells how to configure it.

mod config;
pub mod dtmf_mode;
mod endpoint;
mod error;
mod leg;
mod limits;
pub mod mapping;
mod media;
pub mod numbering;
mod probe;
mod registration;
pub mod sdp;
mod tone;
mod trunk;

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;

pub use config::{Codec, SipConfig, SipTransport};
pub use error::{SipConfigError, SipStartError};
pub use trunk::RegistrationState;

use crate::{AudioLeg, Carrier, CarrierError, DialRequest, TextLeg};
use trunk::Trunk;

/// A carrier that places calls through a SIP trunk.
pub struct SipCarrier {
    trunk: Arc<Trunk>,
}

impl std::fmt::Debug for SipCarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipCarrier").field("sip_addr", &self.trunk.local_sip_addr()).finish_non_exhaustive()
    }
}

impl SipCarrier {
    /// Validates `config`, binds the SIP socket, and registers with the
    /// trunk when configured (a failing REGISTER is logged and retried in
    /// the background: the trunk may come up later).
    pub async fn start(config: SipConfig) -> Result<Self, SipStartError> {
        config.validate()?;
        let trunk = endpoint::start(config).await?;
        Ok(SipCarrier { trunk })
    }

    /// The local address SIP listens on (useful with `bind` port 0).
    pub fn local_sip_addr(&self) -> SocketAddr {
        self.trunk.local_sip_addr()
    }

    /// Calls whose SIP dialog is still registered (for leak checks).
    pub fn dialogs_open(&self) -> usize {
        self.trunk.dialogs_open()
    }

    /// Where the registration with the trunk stands (`Disabled` unless
    /// `register = true`): for health checks, and tests.
    pub fn registration_state(&self) -> RegistrationState {
        self.trunk.registration_state()
    }
}

impl Drop for SipCarrier {
    fn drop(&mut self) {
        self.trunk.shutdown();
    }
}

#[async_trait]
impl Carrier for SipCarrier {
    fn carries_audio(&self) -> bool {
        true
    }

    fn kind(&self) -> &'static str {
        "sip"
    }

    async fn dial(&self, req: DialRequest) -> Result<TextLeg, CarrierError> {
        leg::dial_text(self.trunk.clone(), req).await
    }

    async fn dial_audio(&self, req: DialRequest) -> Result<AudioLeg, CarrierError> {
        leg::dial_audio(self.trunk.clone(), req).await
    }
}
