//! RTP packets (RFC 3550 section 5.1) and the audio codecs we carry in them.
//!
//! [`RtpPacket::parse`] borrows from the datagram and never panics: every
//! length is checked before it is used, and malformed input is a typed
//! [`RtpError`]. [`RtpPacket::write_to`] serialises into a caller's buffer so
//! a session can reuse one allocation for every packet it sends.
//!
//! Why by hand: webrtc-rs's `rtp` crate unmarshals into owned packets
//! (`bytes::Bytes`) and depends on `webrtc-util`, which brings tokio, nix,
//! ipnet and more with it; `rtp-rs` is a zero-copy reader and builder like
//! this one, but has had no release since 2021. The packet is a fixed
//! 12-byte header, CSRCs, an optional extension and padding: a hundred-odd
//! lines here, fed random and RTP-like bytes by the property tests in
//! `tests/rtp.rs`.

use serde::Serialize;
use thiserror::Error;

use crate::g711;

/// Length of the fixed RTP header, before CSRCs and extension.
pub const RTP_HEADER_LEN: usize = 12;
/// The most CSRC identifiers a header can carry (a 4-bit count).
pub const MAX_CSRCS: usize = 15;

/// Why a datagram is not a valid RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RtpError {
    /// Shorter than the fixed 12-byte header.
    #[error("datagram of {len} bytes is shorter than an RTP header")]
    TooShort {
        /// The datagram's length.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {0} is not 2")]
    BadVersion(u8),
    /// The CSRC count runs past the end of the datagram.
    #[error("CSRC list runs past the end of the datagram")]
    CsrcOverrun,
    /// The header extension runs past the end of the datagram.
    #[error("header extension runs past the end of the datagram")]
    ExtensionOverrun,
    /// The padding count is zero or larger than what follows the header.
    #[error("invalid padding count {0}")]
    BadPadding(u8),
}

/// An RTP header extension (RFC 3550 5.3.1): a profile word and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpExtension<'a> {
    /// The profile-defined 16-bit identifier.
    pub profile: u16,
    /// The extension body; its length is a multiple of 4 bytes.
    pub data: &'a [u8],
}

/// One RTP packet, borrowing its payload from the datagram it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The marker bit (for audio: the first packet of a talkspurt).
    pub marker: bool,
    /// The 7-bit payload type.
    pub payload_type: u8,
    /// The 16-bit sequence number.
    pub sequence: u16,
    /// The sampling-clock timestamp of the first sample in the payload.
    pub timestamp: u32,
    /// The synchronisation source.
    pub ssrc: u32,
    csrc_count: u8,
    csrcs: [u32; MAX_CSRCS],
    /// The header extension, if the X bit is set.
    pub extension: Option<RtpExtension<'a>>,
    /// The payload, without padding.
    pub payload: &'a [u8],
    /// How many padding bytes follow the payload, counting the count byte
    /// itself; 0 means the P bit is clear.
    pub padding: u8,
}

impl<'a> RtpPacket<'a> {
    /// A packet with no CSRCs, extension or padding.
    pub fn new(
        payload_type: u8,
        sequence: u16,
        timestamp: u32,
        ssrc: u32,
        payload: &'a [u8],
    ) -> Self {
        RtpPacket {
            marker: false,
            payload_type: payload_type & 0x7F,
            sequence,
            timestamp,
            ssrc,
            csrc_count: 0,
            csrcs: [0; MAX_CSRCS],
            extension: None,
            payload,
            padding: 0,
        }
    }

    /// The contributing sources.
    pub fn csrcs(&self) -> &[u32] {
        &self.csrcs[..usize::from(self.csrc_count)]
    }

    /// Sets the contributing sources; extra entries past 15 are ignored.
    pub fn set_csrcs(&mut self, csrcs: &[u32]) {
        let n = csrcs.len().min(MAX_CSRCS);
        self.csrcs = [0; MAX_CSRCS];
        self.csrcs[..n].copy_from_slice(&csrcs[..n]);
        self.csrc_count = n as u8;
    }

    /// Parses a datagram. Never panics; malformed input is an error.
    pub fn parse(data: &'a [u8]) -> Result<Self, RtpError> {
        if data.len() < RTP_HEADER_LEN {
            return Err(RtpError::TooShort { len: data.len() });
        }
        let version = data[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = data[0] & 0x20 != 0;
        let has_extension = data[0] & 0x10 != 0;
        let csrc_count = data[0] & 0x0F;
        let mut pos = RTP_HEADER_LEN;

        let mut csrcs = [0u32; MAX_CSRCS];
        for slot in csrcs.iter_mut().take(usize::from(csrc_count)) {
            *slot = read_u32(data, pos).ok_or(RtpError::CsrcOverrun)?;
            pos += 4;
        }

        let extension = if has_extension {
            let profile = read_u16(data, pos).ok_or(RtpError::ExtensionOverrun)?;
            let words = read_u16(data, pos + 2).ok_or(RtpError::ExtensionOverrun)?;
            let start = pos + 4;
            let end = start + usize::from(words) * 4;
            let body = data.get(start..end).ok_or(RtpError::ExtensionOverrun)?;
            pos = end;
            Some(RtpExtension {
                profile,
                data: body,
            })
        } else {
            None
        };

        let rest = &data[pos..];
        let padding = if has_padding {
            // The last byte counts the padding, itself included.
            let count = rest.last().copied().unwrap_or(0);
            if count == 0 || usize::from(count) > rest.len() {
                return Err(RtpError::BadPadding(count));
            }
            count
        } else {
            0
        };
        let payload = &rest[..rest.len() - usize::from(padding)];

        Ok(RtpPacket {
            marker: data[1] & 0x80 != 0,
            payload_type: data[1] & 0x7F,
            sequence: u16::from_be_bytes([data[2], data[3]]),
            timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
            csrc_count,
            csrcs,
            extension,
            payload,
            padding,
        })
    }

    /// The serialised length of this packet.
    pub fn serialized_len(&self) -> usize {
        RTP_HEADER_LEN
            + 4 * usize::from(self.csrc_count)
            + self.extension.map_or(0, |e| 4 + padded4(e.data.len()))
            + self.payload.len()
            + usize::from(self.padding)
    }

    /// Serialises into `out`, replacing its contents. Reusing `out` across
    /// packets avoids an allocation per packet. An extension body whose
    /// length is not a multiple of 4 is zero-padded; padding bytes are zero
    /// except the final count byte.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.serialized_len());
        let first = 0x80
            | if self.padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | self.csrc_count;
        out.push(first);
        out.push(if self.marker { 0x80 } else { 0 } | (self.payload_type & 0x7F));
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for csrc in self.csrcs() {
            out.extend_from_slice(&csrc.to_be_bytes());
        }
        if let Some(ext) = self.extension {
            let body = padded4(ext.data.len());
            // A body too long for the 16-bit word count is cut to what fits.
            let words = (body / 4).min(usize::from(u16::MAX));
            out.extend_from_slice(&ext.profile.to_be_bytes());
            out.extend_from_slice(&(words as u16).to_be_bytes());
            let kept = ext.data.len().min(words * 4);
            out.extend_from_slice(&ext.data[..kept]);
            out.resize(out.len() + (words * 4 - kept), 0);
        }
        out.extend_from_slice(self.payload);
        if self.padding > 0 {
            out.resize(out.len() + usize::from(self.padding) - 1, 0);
            out.push(self.padding);
        }
    }

    /// Serialises into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        out
    }
}

fn padded4(len: usize) -> usize {
    len.div_ceil(4) * 4
}

fn read_u16(data: &[u8], pos: usize) -> Option<u16> {
    let b = data.get(pos..pos.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn read_u32(data: &[u8], pos: usize) -> Option<u32> {
    let b = data.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// An audio codec we can send and receive: the two G.711 laws, 8 kHz mono.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Codec {
    /// G.711 mu-law, static payload type 0 (North America, Japan).
    Pcmu,
    /// G.711 A-law, static payload type 8 (Europe, China: what most trunks pick).
    Pcma,
}

impl Codec {
    /// The sampling clock rate, in Hz (also the RTP timestamp rate).
    pub const CLOCK_RATE: u32 = 8000;

    /// The static RTP payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec of a static payload type, if it is one of ours.
    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The SDP encoding name (`a=rtpmap:<pt> <name>/8000`).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The code for linear silence, used for comfort-silence frames.
    pub fn silence_byte(self) -> u8 {
        match self {
            Codec::Pcmu => g711::ULAW_SILENCE,
            Codec::Pcma => g711::ALAW_SILENCE,
        }
    }

    /// Encodes samples, one byte each; `out` must be at least `pcm.len()` long.
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) {
        match self {
            Codec::Pcmu => g711::encode_ulaw(pcm, out),
            Codec::Pcma => g711::encode_alaw(pcm, out),
        }
    }

    /// Decodes bytes, one sample each; `out` must be at least `codes.len()` long.
    pub fn decode(self, codes: &[u8], out: &mut [i16]) {
        match self {
            Codec::Pcmu => g711::decode_ulaw(codes, out),
            Codec::Pcma => g711::decode_alaw(codes, out),
        }
    }
}
