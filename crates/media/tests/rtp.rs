//! RTP parsing: typed errors, never a panic, and lossless round trips.

use proptest::prelude::*;
use waihu_media::rtp::{RtpExtension, RtpPacket};
use waihu_media::{Codec, RtpError};

#[test]
fn parses_a_plain_packet() {
    let bytes = [
        0x80, 0x88, 0x12, 0x34, 0, 0, 0x01, 0x40, 0xDE, 0xAD, 0xBE, 0xEF, 0xD5, 0xD5,
    ];
    let p = RtpPacket::parse(&bytes).unwrap();
    assert!(p.marker);
    assert_eq!(p.payload_type, 8);
    assert_eq!(p.sequence, 0x1234);
    assert_eq!(p.timestamp, 320);
    assert_eq!(p.ssrc, 0xDEAD_BEEF);
    assert_eq!(p.payload, &[0xD5, 0xD5]);
    assert_eq!(p.csrcs(), &[] as &[u32]);
    assert_eq!(p.to_vec(), bytes);
}

#[test]
fn parses_csrcs_extension_and_padding() {
    let mut bytes = vec![0xB2, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
    bytes.extend_from_slice(&[0, 0, 0, 7, 0, 0, 0, 8]); // two CSRCs
    bytes.extend_from_slice(&[0xBE, 0xDE, 0, 1, 1, 2, 3, 4]); // one-word extension
    bytes.extend_from_slice(&[9, 9, 9]); // payload
    bytes.extend_from_slice(&[0, 0, 3]); // padding of 3
    let p = RtpPacket::parse(&bytes).unwrap();
    assert_eq!(p.csrcs(), &[7, 8]);
    assert_eq!(
        p.extension,
        Some(RtpExtension {
            profile: 0xBEDE,
            data: &[1, 2, 3, 4]
        })
    );
    assert_eq!(p.payload, &[9, 9, 9]);
    assert_eq!(p.padding, 3);
    assert_eq!(p.to_vec(), bytes);
}

#[test]
fn malformed_input_is_a_typed_error() {
    assert_eq!(
        RtpPacket::parse(&[0x80; 11]),
        Err(RtpError::TooShort { len: 11 })
    );
    assert_eq!(RtpPacket::parse(&[0x40; 12]), Err(RtpError::BadVersion(1)));
    assert_eq!(
        RtpPacket::parse(&[0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2]),
        Err(RtpError::CsrcOverrun)
    );
    let mut ext = vec![
        0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 2, 1, 2, 3, 4,
    ];
    assert_eq!(RtpPacket::parse(&ext), Err(RtpError::ExtensionOverrun));
    ext.truncate(14);
    assert_eq!(RtpPacket::parse(&ext), Err(RtpError::ExtensionOverrun));
    let mut pad = vec![0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 5];
    assert_eq!(RtpPacket::parse(&pad), Err(RtpError::BadPadding(5)));
    *pad.last_mut().unwrap() = 0;
    assert_eq!(RtpPacket::parse(&pad), Err(RtpError::BadPadding(0)));
    // A padded packet with nothing after the header has no count byte.
    assert_eq!(RtpPacket::parse(&pad[..12]), Err(RtpError::BadPadding(0)));
}

#[test]
fn codec_payload_types_and_names() {
    assert_eq!(Codec::Pcma.payload_type(), 8);
    assert_eq!(Codec::Pcmu.payload_type(), 0);
    assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
    assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
    assert_eq!(Codec::from_payload_type(101), None);
    assert_eq!((Codec::Pcma.name(), Codec::Pcmu.name()), ("PCMA", "PCMU"));
    let mut pcm = [1i16; 4];
    Codec::Pcma.decode(&[Codec::Pcma.silence_byte(); 4], &mut pcm);
    assert!(
        pcm.iter().all(|&s| s.abs() <= 8),
        "A-law silence decodes to near zero"
    );
    Codec::Pcmu.decode(&[Codec::Pcmu.silence_byte(); 4], &mut pcm);
    assert_eq!(pcm, [0; 4]);
}

/// marker, payload type, sequence, timestamp, SSRC, CSRCs, extension, payload, padding.
type PacketParts = (
    bool,
    u8,
    u16,
    u32,
    u32,
    Vec<u32>,
    Option<(u16, Vec<u8>)>,
    Vec<u8>,
    u8,
);

fn arb_packet() -> impl Strategy<Value = PacketParts> {
    (
        any::<bool>(),
        0u8..128,
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        prop::collection::vec(any::<u32>(), 0..=15),
        prop::option::of((
            any::<u16>(),
            prop::collection::vec(any::<u8>(), 0..8).prop_map(|mut v| {
                v.resize(v.len().div_ceil(4) * 4, 0);
                v
            }),
        )),
        prop::collection::vec(any::<u8>(), 0..400),
        any::<u8>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = RtpPacket::parse(&bytes);
    }

    /// Fuzz-style: bytes that look like RTP (version 2, random flags and
    /// counts) reach the deeper checks instead of failing at the version.
    #[test]
    fn parse_never_panics_on_rtp_like_bytes(first in 0x80u8..0xC0, rest in prop::collection::vec(any::<u8>(), 0..120)) {
        let mut bytes = vec![first];
        bytes.extend_from_slice(&rest);
        if let Ok(p) = RtpPacket::parse(&bytes) {
            // Whatever parsed serialises and parses back to the same packet.
            let again = p.to_vec();
            prop_assert_eq!(RtpPacket::parse(&again), Ok(p));
            prop_assert!(p.payload.len() <= bytes.len());
        }
    }

    #[test]
    fn serialise_then_parse_round_trips(
        (marker, pt, seq, ts, ssrc, csrcs, ext, payload, padding) in arb_packet()
    ) {
        let mut p = RtpPacket::new(pt, seq, ts, ssrc, &payload);
        p.marker = marker;
        p.set_csrcs(&csrcs);
        p.extension = ext.as_ref().map(|(profile, data)| RtpExtension { profile: *profile, data });
        p.padding = padding;
        let bytes = p.to_vec();
        prop_assert_eq!(bytes.len(), p.serialized_len());
        prop_assert_eq!(RtpPacket::parse(&bytes), Ok(p));
    }
}
