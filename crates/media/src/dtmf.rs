//! DTMF as RFC 4733 telephone-events: the 4-byte payload, a sender that
//! paces one digit into packets, and a receiver that reports each digit once.
//!
//! Digits travel as events rather than tones because G.711 tones survive
//! badly through transcoding trunks and cannot be recognised reliably from
//! lossy audio; every trunk we target negotiates `telephone-event/8000`.
//!
//! Why by hand: the RFC 4733 code published for Rust comes with a codec or
//! SIP stack. `audio-codec` (from rsipstack's authors) has the payload and
//! the packets of one press, but no receiver that reports each press once,
//! and it always builds G.729 in; `rtci-rtp` has sender and receiver state
//! machines but needs Rust 1.89 (this workspace supports 1.87) and brings
//! its own RTP packet types. The payload is four bytes; what takes care is
//! [`DtmfReceiver`]'s rule (a press is known by its RTP timestamp, so a lost
//! start, the continuations and the three end packets count once), tested
//! in `tests/dtmf.rs`.

use thiserror::Error;

/// Samples in one 20 ms packet interval at 8 kHz.
const SAMPLES_PER_PACKET: u16 = 160;
/// How often the final (end) packet is sent; RFC 4733 2.5.1.4 asks for three.
pub const END_PACKET_REPEATS: u8 = 3;
/// The usual tone length: 100 ms at 8 kHz.
pub const DEFAULT_DURATION_SAMPLES: u16 = 800;
/// The usual power level: -10 dBm0.
pub const DEFAULT_VOLUME: u8 = 10;

/// Why a telephone-event payload or digit was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DtmfError {
    /// The payload is shorter than the 4-byte event.
    #[error("telephone-event payload of {len} bytes is shorter than 4")]
    TooShort {
        /// The payload's length.
        len: usize,
    },
    /// The character is not one of `0-9 * # A-D`.
    #[error("{0:?} is not a DTMF digit")]
    InvalidDigit(char),
}

/// The RFC 4733 section 2.3 payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The event code: 0-9 digits, 10 `*`, 11 `#`, 12-15 `A`-`D`.
    pub event: u8,
    /// Set on the final packet(s) of the event.
    pub end: bool,
    /// The power level in -dBm0 (0-63; larger is quieter).
    pub volume: u8,
    /// Samples since the event's timestamp, through the end of this packet.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 bytes of a payload. Extra bytes are ignored (they
    /// would be further events stacked by RFC 2198 redundancy, which we do
    /// not negotiate).
    pub fn parse(payload: &[u8]) -> Result<Self, DtmfError> {
        let [event, flags, d0, d1] = match payload {
            [a, b, c, d, ..] => [*a, *b, *c, *d],
            _ => return Err(DtmfError::TooShort { len: payload.len() }),
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            // Bit 6 is reserved: ignored on receipt.
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// Serialises to the 4-byte payload (the reserved bit sent as 0).
    pub fn to_bytes(&self) -> [u8; 4] {
        let [d0, d1] = self.duration.to_be_bytes();
        [
            self.event,
            if self.end { 0x80 } else { 0 } | (self.volume & 0x3F),
            d0,
            d1,
        ]
    }

    /// The digit of this event, if it is a DTMF event.
    pub fn digit(&self) -> Option<char> {
        event_to_digit(self.event)
    }
}

/// The RFC 4733 event code of a DTMF digit (`0-9 * # A-D`, lower case too).
pub fn digit_to_event(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        'a'..='d' => Some(digit as u8 - b'a' + 12),
        _ => None,
    }
}

/// The digit of an RFC 4733 event code, for codes 0-15.
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// One packet of a digit: the payload and whether to set the RTP marker.
/// Every packet of one digit carries the same RTP timestamp (the event's
/// start) and its own, incrementing, sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// The payload to send.
    pub event: TelephoneEvent,
    /// RFC 4733 sets the marker on the first packet of an event only.
    pub marker: bool,
}

/// Paces one digit into packets, one per 20 ms tick: a start packet with
/// the marker, continuations with growing duration, then the end packet
/// [`END_PACKET_REPEATS`] times so that a lost one does not lose the end.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    event: u8,
    volume: u8,
    total: u16,
    sent_duration: u16,
    ends_sent: u8,
}

impl DtmfSender {
    /// A sender for `digit` lasting `duration_samples` (at least one packet,
    /// rounded up to whole 20 ms packets).
    pub fn new(digit: char, duration_samples: u16, volume: u8) -> Result<Self, DtmfError> {
        let event = digit_to_event(digit).ok_or(DtmfError::InvalidDigit(digit))?;
        let packets = duration_samples.div_ceil(SAMPLES_PER_PACKET).max(1);
        let total = packets.saturating_mul(SAMPLES_PER_PACKET);
        Ok(DtmfSender {
            event,
            volume: volume & 0x3F,
            total,
            sent_duration: 0,
            ends_sent: 0,
        })
    }

    /// The packet for the next tick, or `None` once the digit is complete.
    pub fn next_packet(&mut self) -> Option<DtmfPacket> {
        if self.ends_sent >= END_PACKET_REPEATS {
            return None;
        }
        let marker = self.sent_duration == 0;
        self.sent_duration = self
            .sent_duration
            .saturating_add(SAMPLES_PER_PACKET)
            .min(self.total);
        let end = self.sent_duration >= self.total;
        if end {
            self.ends_sent += 1;
        }
        Some(DtmfPacket {
            event: TelephoneEvent {
                event: self.event,
                end,
                volume: self.volume,
                duration: self.sent_duration,
            },
            marker,
        })
    }

    /// Whether every packet has been handed out.
    pub fn is_done(&self) -> bool {
        self.ends_sent >= END_PACKET_REPEATS
    }
}

/// Turns received telephone-event packets into digits, each reported once.
///
/// An event is identified by its RTP timestamp: all its packets (start,
/// continuations, repeated ends) share it. A digit is reported on the first
/// packet seen with a timestamp newer (modulo 2^32) than the last reported
/// one, so a lost start packet still yields the digit, and repeated,
/// redundant or reordered packets of an already reported event, or stragglers
/// of an older one, are ignored.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    last_timestamp: Option<u32>,
}

impl DtmfReceiver {
    /// A receiver that has seen nothing.
    pub fn new() -> Self {
        DtmfReceiver::default()
    }

    /// Feeds one packet's RTP timestamp and payload; returns a digit the
    /// first time an event is seen. Malformed payloads and non-DTMF events
    /// (flash, tones) yield nothing.
    pub fn on_packet(&mut self, timestamp: u32, payload: &[u8]) -> Option<char> {
        let event = TelephoneEvent::parse(payload).ok()?;
        let digit = event.digit()?;
        if let Some(last) = self.last_timestamp {
            // Serial-number comparison: newer if ahead by less than 2^31.
            if (timestamp.wrapping_sub(last) as i32) <= 0 {
                return None;
            }
        }
        self.last_timestamp = Some(timestamp);
        Some(digit)
    }

    /// Whether the packet at `timestamp` belongs to an event already
    /// reported (its repeats carry no new information).
    pub fn is_known(&self, timestamp: u32) -> bool {
        self.last_timestamp
            .is_some_and(|last| (timestamp.wrapping_sub(last) as i32) <= 0)
    }
}
