//! The parts of `sip_calls`, the SIP concurrency benchmark of issue 3: the
//! SIP carrier (`waihu_carrier::sip::SipCarrier`) driven through
//! `Carrier::dial` and its legs, against one sipp UAS with RTP echo on the
//! same machine. No HTTP, no dialogue, no store.
//!
//! - [`hold`]: ramp to N answered calls, hold them for a measured window,
//!   hang up; CPU per call, send pacing, loss, set-up time.
//! - [`leak`]: 1,000 short calls in batches; sockets, memory and open
//!   dialogs before and after.
//! - [`whisper_load`]: Whisper decoding beside the calls during the window.

pub mod capture;
pub mod drive;
pub mod hold;
pub mod host;
pub mod leak;
pub mod sipp;
pub mod voice;
pub mod whisper_load;

use waihu_carrier::sip::{Codec, SipConfig};

/// The carrier's RTP ports in the benchmark (sipp's media port is above them).
pub const RTP_PORTS: (u16, u16) = (20000, 29999);

/// The carrier's configuration toward `sipp`, with limits out of the way:
/// `max_calls` live at once, 10,000 dials per second (the benchmark paces
/// its own dials), and 5,000 RTP ports.
pub fn carrier_config(sipp: &sipp::Sipp, max_calls: usize) -> SipConfig {
    SipConfig {
        host: "127.0.0.1".into(),
        port: sipp.sip_port,
        bind: "127.0.0.1:0".parse().expect("an address"),
        rtp_port_min: RTP_PORTS.0,
        rtp_port_max: RTP_PORTS.1,
        // sipp's built-in UAS answers PCMU only; offer it first.
        codecs: vec![Codec::Pcmu, Codec::Pcma],
        max_concurrent_calls: max_calls + 100,
        max_calls_per_second: 10_000.0,
        no_media_timeout_seconds: 10,
        ..SipConfig::default()
    }
}

/// A duration in milliseconds with two decimals.
pub fn ms(d: std::time::Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// `part` of `whole` as a percentage with one decimal.
pub fn pct(part: f64, whole: f64) -> String {
    if whole == 0.0 {
        return "n/a".into();
    }
    format!("{:.1}%", 100.0 * part / whole)
}
