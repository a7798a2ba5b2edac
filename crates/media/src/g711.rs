//! G.711 A-law and mu-law companding for 16-bit linear PCM.
//!
//! Written by hand rather than taken from a crate: the whole codec is a few
//! dozen lines, every one of them can be checked against the ITU-T G.711
//! reference algorithm over all 65,536 inputs (see `tests/g711.rs`), and at
//! least one published crate was seen to differ from the reference at segment
//! edges. The encoders here find the segment from the position of the highest
//! set bit; the tests check them against the reference's table search.
//!
//! Both laws take the top 13 (A-law) or 14 (mu-law) bits of the 16-bit
//! sample, exactly like the reference implementation, and decode to the
//! middle of the quantisation interval scaled back to 16 bits.

/// The A-law code for digital silence (linear 0); its odd bits are inverted.
pub const ALAW_SILENCE: u8 = 0xD5;
/// The mu-law code for digital silence (linear 0); all bits are inverted.
pub const ULAW_SILENCE: u8 = 0xFF;

/// Encodes one linear sample to A-law.
pub fn linear_to_alaw(sample: i16) -> u8 {
    // A-law works on 13-bit magnitudes; one's complement for negatives keeps
    // the two halves symmetric (-1 and 0 land in mirror intervals).
    let x = i32::from(sample) >> 3;
    let (sign_mask, magnitude) = if x >= 0 { (0xD5, x) } else { (0x55, -x - 1) };
    // magnitude is 0..=4095 here, so the segment never exceeds 7.
    let code = if magnitude < 32 {
        magnitude >> 1
    } else {
        // Segment s >= 1 covers [2^(s+4), 2^(s+5)): 4 mantissa bits below the top bit.
        let segment = (31 - magnitude.leading_zeros() as i32) - 4;
        (segment << 4) | ((magnitude >> segment) & 0x0F)
    };
    (code as u8) ^ sign_mask
}

/// Decodes one A-law code to a linear sample (the middle of its interval).
pub fn alaw_to_linear(code: u8) -> i16 {
    let code = code ^ 0x55;
    let mantissa = i32::from(code & 0x0F);
    let segment = i32::from((code >> 4) & 0x07);
    let magnitude = match segment {
        0 => (mantissa << 4) + 8,
        _ => ((mantissa << 4) + 0x108) << (segment - 1),
    };
    // The sign bit set means positive in A-law's transmitted form.
    (if code & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    }) as i16
}

/// Encodes one linear sample to mu-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84 >> 2;
    // 8159 is the reference's clip level in 14-bit units; clipping one lower
    // than the bias overflow keeps the mantissa arithmetic in segment 7.
    const CLIP: i32 = 0x1FFF - BIAS;
    let x = i32::from(sample) >> 2;
    let (sign_mask, magnitude) = if x < 0 { (0x7F, -x) } else { (0xFF, x) };
    // The bias shifts every magnitude into [33, 8191], so segment s covers
    // [2^(s+5), 2^(s+6)) and the top set bit gives it directly.
    let biased = magnitude.min(CLIP) + BIAS;
    let segment = (31 - biased.leading_zeros() as i32) - 5;
    let code = (segment << 4) | ((biased >> (segment + 1)) & 0x0F);
    (code as u8) ^ sign_mask
}

/// Decodes one mu-law code to a linear sample (the middle of its interval).
pub fn ulaw_to_linear(code: u8) -> i16 {
    const BIAS: i32 = 0x84;
    let code = !code;
    let mantissa = i32::from(code & 0x0F);
    let segment = i32::from((code >> 4) & 0x07);
    let biased = ((mantissa << 3) + BIAS) << segment;
    (if code & 0x80 != 0 {
        BIAS - biased
    } else {
        biased - BIAS
    }) as i16
}

/// Encodes a block of samples to A-law; `out` must be at least as long as `pcm`.
pub fn encode_alaw(pcm: &[i16], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(pcm) {
        *o = linear_to_alaw(s);
    }
}

/// Encodes a block of samples to mu-law; `out` must be at least as long as `pcm`.
pub fn encode_ulaw(pcm: &[i16], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(pcm) {
        *o = linear_to_ulaw(s);
    }
}

/// Decodes a block of A-law codes; `out` must be at least as long as `codes`.
pub fn decode_alaw(codes: &[u8], out: &mut [i16]) {
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = alaw_to_linear(c);
    }
}

/// Decodes a block of mu-law codes; `out` must be at least as long as `codes`.
pub fn decode_ulaw(codes: &[u8], out: &mut [i16]) {
    for (o, &c) in out.iter_mut().zip(codes) {
        *o = ulaw_to_linear(c);
    }
}
