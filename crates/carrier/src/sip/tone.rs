//! Placeholder audio for the AI's lines until text-to-speech lands: a
//! speech-like signal (a voiced buzz whose loudness rises and falls at
//! syllable rate) lasting as long as the line would take to speak, so the
//! far end hears that something is said and for how long.

/// Samples per second of the generated audio.
pub(crate) const RATE: usize = 8000;

/// Samples for a line of `chars` characters spoken at `chars_per_second`.
pub(crate) fn line_samples(chars: usize, chars_per_second: f64) -> usize {
    if chars == 0 || chars_per_second.is_nan() || chars_per_second <= 0.0 {
        return 0;
    }
    let secs = chars as f64 / chars_per_second;
    // Whole 20 ms frames, so the line ends on a frame boundary.
    let frames = (secs * 50.0).ceil() as usize;
    frames * (RATE / 50)
}

/// The signal for a line: 8 kHz linear PCM, peaks around -9 dBFS.
pub(crate) fn line_audio(chars: usize, chars_per_second: f64) -> Vec<i16> {
    let n = line_samples(chars, chars_per_second);
    let syllable_hz = chars_per_second;
    (0..n)
        .map(|i| {
            let t = i as f64 / RATE as f64;
            // A 180 Hz voice with two overtones.
            let voice = (std::f64::consts::TAU * 180.0 * t).sin()
                + 0.5 * (std::f64::consts::TAU * 360.0 * t).sin()
                + 0.25 * (std::f64::consts::TAU * 540.0 * t).sin();
            // Syllables: loudness from 0.2 to 1.0 and back, once per character.
            let envelope = 0.6 - 0.4 * (std::f64::consts::TAU * syllable_hz * t).cos();
            (voice / 1.75 * envelope * 11_600.0) as i16
        })
        .collect()
}

/// Characters of a `chars`-long line played after `played` of its `total` samples.
pub(crate) fn played_chars(chars: usize, played: usize, total: usize) -> usize {
    if total == 0 || played >= total {
        return chars;
    }
    ((chars as u128 * played as u128) / total as u128) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_lasts_as_long_as_speaking_it() {
        // 9 characters at 4.5/s: 2 s, 100 frames of 160 samples.
        assert_eq!(line_samples(9, 4.5), 16_000);
        assert_eq!(line_audio(9, 4.5).len(), 16_000);
        assert_eq!(line_samples(0, 4.5), 0);
        assert_eq!(line_samples(1, 4.5) % 160, 0);
    }

    #[test]
    fn the_signal_is_audible_and_never_clips() {
        let audio = line_audio(9, 4.5);
        let peak = audio.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!((6_000..=i16::MAX as u16 - 1000).contains(&peak), "{peak}");
    }

    #[test]
    fn played_characters_follow_the_samples_played() {
        assert_eq!(played_chars(10, 0, 1000), 0);
        assert_eq!(played_chars(10, 500, 1000), 5);
        assert_eq!(played_chars(10, 999, 1000), 9);
        assert_eq!(played_chars(10, 1000, 1000), 10);
        assert_eq!(played_chars(10, 5, 0), 10);
    }
}
