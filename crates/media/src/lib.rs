//! waihu's real-time RTP media engine for SIP calls, with no SIP in it.
//!
//! Signalling (SIP, SDP offer/answer) lives in the carrier leg; it hands
//! this crate a UDP port, a codec and the far end's address, and gets back
//! decoded 20 ms audio frames, DTMF digits and media health events.
//!
//! # Data flow
//!
//! ```text
//!            play(pcm) / stop / dtmf                 MediaEvent::{Audio, Dtmf, ...}
//! MediaHandle ───────────────▶ session task ──────────────────────────────▶ the leg
//!                                │  one 20 ms clock
//!                                ▼
//!                       Engine (sans-IO)
//!     outbound: clip queue ▶ G.711 encode ▶ RTP (seq+1, ts+160) ▶ socket
//!     inbound:  socket ▶ RTP parse ▶ latch ▶ G.711 decode ▶ reorder buffer ▶ frame per tick
//!                                  └▶ RFC 4733 ▶ digit once
//! ```
//!
//! The modules below the session are pure and separately usable:
//! [`g711`] (companding), [`rtp`] (packets, [`Codec`]), [`dtmf`] (RFC 4733),
//! [`jitter`] (reorder buffer and concealment), [`stats`] (RFC 3550 loss and
//! jitter, send pacing), [`resample`] (8 <-> 16 kHz) and [`ports`] (RTP
//! port allocation). [`engine`] is the per-call state machine with time as
//! an input; [`session`] runs it on tokio. Each of these is written here
//! rather than taken from a crate, and each module's comment says why (in
//! short: the Rust crates that do these things come inside a WebRTC or SIP
//! stack, run their own timers, or work on other sample types than the
//! 8 kHz `i16` frames of the media clock).
//!
//! # Using it from a SIP leg
//!
//! 1. At startup, make one [`PortAllocator`] over the configured range.
//! 2. Per call, [`PortAllocator::allocate`] a port and put
//!    [`RtpPort::port`] in the SDP offer; on [`PortError::PortsExhausted`]
//!    reject or fail the call (SIP 503).
//! 3. When the answer arrives, build a [`MediaConfig`] from it and
//!    [`MediaSession::start`] the session with the port; early media (183)
//!    can start it too.
//! 4. On [`MediaEvent::NoMedia`] end the call as failed; on BYE call
//!    [`MediaHandle::close`] and record the final [`MediaEvent::Closed`] stats.
#![warn(missing_docs)]

pub mod clips;
pub mod dtmf;
pub mod engine;
pub mod g711;
pub mod jitter;
pub mod ports;
pub mod resample;
pub mod rtp;
pub mod session;
pub mod stats;

pub use engine::{CloseReason, Engine, MediaConfig, MediaError, MediaEvent, Transmit};
pub use jitter::{FrameKind, FRAME_SAMPLES};
pub use ports::{PortAllocator, PortError, PortLease, PortRange, RtpPort};
pub use rtp::{Codec, RtpError, RtpPacket};
pub use session::{MediaHandle, MediaSession, PTIME};
pub use stats::{RtpStats, SendIntervalHistogram, SendIntervalSummary};
