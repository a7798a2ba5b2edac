//! G.711 against the ITU-T reference algorithm, over every 16-bit input.

use waihu_media::g711::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};

/// The reference's segment search: the first segment whose end is >= value.
fn search(value: i32, ends: &[i32; 8]) -> usize {
    ends.iter().position(|&end| value <= end).unwrap_or(8)
}

/// The reference A-law encoder (G.711 / Sun g711.c `linear2alaw`), written
/// as a table search: the oracle for the bit-twiddling encoder.
fn reference_alaw(pcm: i16) -> u8 {
    const SEG_AEND: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let mut v = i32::from(pcm) >> 3;
    let mask = if v >= 0 {
        0xD5
    } else {
        v = -v - 1;
        0x55
    };
    let seg = search(v, &SEG_AEND);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let mut aval = (seg as i32) << 4;
    aval |= if seg < 2 {
        (v >> 1) & 0xF
    } else {
        (v >> seg) & 0xF
    };
    (aval as u8) ^ mask
}

/// The reference mu-law encoder (`linear2ulaw`), table search.
fn reference_ulaw(pcm: i16) -> u8 {
    const SEG_UEND: [i32; 8] = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF];
    let mut v = i32::from(pcm) >> 2;
    let mask = if v < 0 {
        v = -v;
        0x7F
    } else {
        0xFF
    };
    v = v.min(8159) + (0x84 >> 2);
    let seg = search(v, &SEG_UEND);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let uval = ((seg as i32) << 4) | ((v >> (seg + 1)) & 0xF);
    (uval as u8) ^ mask
}

/// A-law decode from the standard's description: the middle of the
/// quantisation interval (13-bit), scaled to 16 bits.
fn reference_alaw_decode(code: u8) -> i16 {
    let c = code ^ 0x55;
    let positive = c & 0x80 != 0;
    let seg = i32::from((c >> 4) & 7);
    let q = i32::from(c & 0xF);
    let mid13 = if seg == 0 {
        2 * q + 1
    } else {
        (1 << (seg + 4)) + (q << seg) + (1 << (seg - 1))
    };
    let v = mid13 * 8;
    (if positive { v } else { -v }) as i16
}

/// mu-law decode from the standard's description: biased segment base plus
/// half a step, minus the bias (14-bit), scaled to 16 bits.
fn reference_ulaw_decode(code: u8) -> i16 {
    let c = !code;
    let negative = c & 0x80 != 0;
    let seg = i32::from((c >> 4) & 7);
    let q = i32::from(c & 0xF);
    // The encoder's biased value v has (v >> (seg + 1)) == 16 + q, so the
    // interval is [(16 + q) << (seg + 1), (17 + q) << (seg + 1)); take its
    // middle, remove the bias of 33 and scale 14 to 16 bits.
    let middle = (33 + 2 * q) << seg;
    let v = (middle - 33) * 4;
    (if negative { -v } else { v }) as i16
}

#[test]
fn alaw_encoder_matches_reference_for_every_input() {
    for x in i16::MIN..=i16::MAX {
        assert_eq!(linear_to_alaw(x), reference_alaw(x), "input {x}");
    }
}

#[test]
fn ulaw_encoder_matches_reference_for_every_input() {
    for x in i16::MIN..=i16::MAX {
        assert_eq!(linear_to_ulaw(x), reference_ulaw(x), "input {x}");
    }
}

#[test]
fn decoders_match_reference_for_every_code() {
    for code in 0..=255u8 {
        assert_eq!(
            alaw_to_linear(code),
            reference_alaw_decode(code),
            "A-law code {code:#04x}"
        );
        assert_eq!(
            ulaw_to_linear(code),
            reference_ulaw_decode(code),
            "mu-law code {code:#04x}"
        );
    }
}

#[test]
fn known_table_values_and_segment_edges() {
    // Entries of the published decode tables.
    assert_eq!(alaw_to_linear(0x00), -5504);
    assert_eq!(alaw_to_linear(0x80), 5504);
    assert_eq!(alaw_to_linear(0xD5), 8);
    assert_eq!(alaw_to_linear(0x55), -8);
    assert_eq!(alaw_to_linear(0xAA), 32256);
    assert_eq!(alaw_to_linear(0x2A), -32256);
    assert_eq!(ulaw_to_linear(0x00), -32124);
    assert_eq!(ulaw_to_linear(0x80), 32124);
    assert_eq!(ulaw_to_linear(0xFF), 0);
    assert_eq!(ulaw_to_linear(0x7F), 0);
    assert_eq!(ulaw_to_linear(0xFE), 8);
    assert_eq!(ulaw_to_linear(0x7E), -8);
    // Silence and the extremes.
    assert_eq!(linear_to_alaw(0), 0xD5);
    assert_eq!(linear_to_alaw(-1), 0x55);
    assert_eq!(linear_to_ulaw(0), 0xFF);
    assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
    assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
    assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
    // A-law segment edges (13-bit 32, 64, ... are segment starts: 16-bit x8).
    for seg in 1..8 {
        let start = (1i32 << (seg + 4)) * 8;
        let below = linear_to_alaw((start - 1) as i16) ^ 0x55;
        let at = linear_to_alaw(start as i16) ^ 0x55;
        assert_eq!(i32::from((at >> 4) & 7), seg, "segment start {start}");
        assert_eq!(
            i32::from((below >> 4) & 7),
            seg - 1,
            "below segment start {start}"
        );
        assert_eq!(at & 0xF, 0);
        assert_eq!(below & 0xF, 0xF);
    }
}

/// The width of a code's quantisation interval, in 16-bit units.
fn alaw_step(code: u8) -> i32 {
    let seg = i32::from(((code ^ 0x55) >> 4) & 7);
    if seg == 0 {
        16
    } else {
        16 << (seg - 1)
    }
}

fn ulaw_step(code: u8) -> i32 {
    let seg = i32::from(((!code) >> 4) & 7);
    8 << seg
}

#[test]
fn decode_of_encode_is_within_one_quantisation_step() {
    for x in i16::MIN..=i16::MAX {
        let a = linear_to_alaw(x);
        let err = (i32::from(alaw_to_linear(a)) - i32::from(x)).abs();
        // A-law decodes to the interval's middle: within half a step.
        assert!(err <= alaw_step(a) / 2, "A-law {x}: error {err}");
        let u = linear_to_ulaw(x);
        let err = (i32::from(ulaw_to_linear(u)) - i32::from(x)).abs();
        // mu-law clips at 32124 + half a top step; elsewhere within a step.
        assert!(err <= ulaw_step(u), "mu-law {x}: error {err}");
    }
}

#[test]
fn decode_is_monotonic_per_sign() {
    // A-law: with the even-bit inversion undone, the low 7 bits order the
    // magnitudes; bit 7 set is positive.
    let alaw = |sign: u8, idx: u8| alaw_to_linear((sign | idx) ^ 0x55);
    let ulaw = |sign: u8, idx: u8| ulaw_to_linear(!(sign | idx));
    for idx in 1..128u8 {
        assert!(alaw(0x80, idx) > alaw(0x80, idx - 1));
        assert!(alaw(0x00, idx) < alaw(0x00, idx - 1));
        assert!(ulaw(0x00, idx) > ulaw(0x00, idx - 1));
        assert!(ulaw(0x80, idx) < ulaw(0x80, idx - 1));
    }
    for idx in 0..128u8 {
        assert!(alaw(0x80, idx) > 0 && alaw(0x00, idx) < 0);
        assert_eq!(alaw(0x80, idx), -alaw(0x00, idx), "A-law is symmetric");
        assert_eq!(ulaw(0x00, idx), -ulaw(0x80, idx), "mu-law is symmetric");
    }
}
