//! 8 <-> 16 kHz: tones survive, out-of-band tones do not alias, no allocation.

use std::f64::consts::PI;

use waihu_media::resample::{Downsampler, Upsampler, HALF_TAPS, WIDE_FRAME_SAMPLES};
use waihu_media::FRAME_SAMPLES;

const AMPLITUDE: f64 = 10_000.0;

fn tone(freq: f64, rate: f64, n: usize, delay: f64) -> Vec<i16> {
    (0..n)
        .map(|i| (AMPLITUDE * (2.0 * PI * freq * (i as f64 - delay) / rate).sin()).round() as i16)
        .collect()
}

fn upsample_all(input: &[i16]) -> Vec<i16> {
    let mut up = Upsampler::new();
    let mut out = Vec::new();
    for chunk in input.chunks_exact(FRAME_SAMPLES) {
        let mut wide = [0i16; WIDE_FRAME_SAMPLES];
        up.process(chunk.try_into().unwrap(), &mut wide);
        out.extend_from_slice(&wide);
    }
    out
}

fn downsample_all(input: &[i16]) -> Vec<i16> {
    let mut down = Downsampler::new();
    let mut out = Vec::new();
    for chunk in input.chunks_exact(WIDE_FRAME_SAMPLES) {
        let mut narrow = [0i16; FRAME_SAMPLES];
        down.process(chunk.try_into().unwrap(), &mut narrow);
        out.extend_from_slice(&narrow);
    }
    out
}

/// Largest difference after the filter has settled (skipping the first frame).
fn max_error(got: &[i16], want: &[i16], skip: usize) -> i32 {
    got.iter()
        .zip(want)
        .skip(skip)
        .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
        .max()
        .unwrap()
}

fn rms(samples: &[i16]) -> f64 {
    (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
}

#[test]
fn a_1khz_tone_survives_upsampling() {
    let input = tone(1000.0, 8000.0, 10 * FRAME_SAMPLES, 0.0);
    let out = upsample_all(&input);
    // The output lags by HALF_TAPS input samples = 2 * HALF_TAPS output samples.
    let want = tone(1000.0, 16000.0, out.len(), 2.0 * HALF_TAPS as f64);
    let err = max_error(&out, &want, WIDE_FRAME_SAMPLES);
    assert!(err < 60, "max error {err} of {AMPLITUDE}");
}

#[test]
fn a_1khz_tone_survives_downsampling() {
    let input = tone(1000.0, 16000.0, 10 * WIDE_FRAME_SAMPLES, 0.0);
    let out = downsample_all(&input);
    let want = tone(1000.0, 8000.0, out.len(), (HALF_TAPS - 1) as f64);
    let err = max_error(&out, &want, FRAME_SAMPLES);
    assert!(err < 60, "max error {err} of {AMPLITUDE}");
}

#[test]
fn a_1khz_tone_survives_the_round_trip() {
    let input = tone(1000.0, 8000.0, 10 * FRAME_SAMPLES, 0.0);
    let out = downsample_all(&upsample_all(&input));
    let want = tone(1000.0, 8000.0, out.len(), (2 * HALF_TAPS - 1) as f64);
    let err = max_error(&out, &want, FRAME_SAMPLES);
    assert!(err < 100, "max error {err} of {AMPLITUDE}");
}

#[test]
fn a_tone_above_4khz_does_not_alias_into_the_telephone_band() {
    let input = tone(6000.0, 16000.0, 10 * WIDE_FRAME_SAMPLES, 0.0);
    let out = downsample_all(&input);
    let ratio_db = 20.0 * (rms(&out[FRAME_SAMPLES..]) / (AMPLITUDE / 2f64.sqrt())).log10();
    assert!(ratio_db < -50.0, "6 kHz leaks at {ratio_db:.1} dB");
}

#[test]
fn constant_signals_keep_their_level() {
    let out = upsample_all(&[1000; 3 * FRAME_SAMPLES]);
    assert!(out[WIDE_FRAME_SAMPLES..]
        .iter()
        .all(|&s| (s - 1000).abs() <= 1));
    let out = downsample_all(&[-2000; 3 * WIDE_FRAME_SAMPLES]);
    assert!(out[FRAME_SAMPLES..].iter().all(|&s| (s + 2000).abs() <= 1));
}

/// The workspace forbids `unsafe`, so no counting allocator: instead, the
/// converters own no heap memory at all (nothing to drop), and `process`
/// writes into fixed-size arrays the caller owns.
#[test]
fn converters_own_no_heap_memory() {
    assert!(!std::mem::needs_drop::<Upsampler>());
    assert!(!std::mem::needs_drop::<Downsampler>());
    assert!(
        std::mem::size_of::<Downsampler>() < 2048,
        "a small, fixed work buffer"
    );
}

#[test]
fn the_shared_kernel_is_a_windowed_sinc_and_rounding_saturates() {
    use waihu_media::resample::{to_i16, windowed_sinc};
    assert!((windowed_sinc(0.0, 0.5, 8.0) - 1.0).abs() < 1e-12);
    // The sinc's zeros fall every 1 / (2 * cutoff) samples.
    assert!(windowed_sinc(2.0, 0.5, 8.0).abs() < 1e-12);
    assert!(windowed_sinc(-4.0, 0.25, 16.0).abs() < 1e-12);
    // The window closes at its edges and stays closed beyond them.
    assert!(windowed_sinc(8.0, 0.45, 8.0).abs() < 1e-12);
    assert!(windowed_sinc(9.5, 0.45, 8.0).abs() < 1e-12);
    assert_eq!([to_i16(40_000.0), to_i16(-40_000.0), to_i16(1.5), to_i16(-1.4)], [i16::MAX, i16::MIN, 2, -1]);
}
