//! The earshot VAD on real speech: Mandarin synthesised by espeak-ng, set
//! between stretches of line noise and silence, fed as the media clock
//! would (20 ms frames at 8 kHz).

mod common;

use std::time::{Duration, Instant};

use common::{active_span, dur, espeak, noise, samples, say, TASK_SENTENCE};
use waihu_speech::pcm::FRAME_SAMPLES;
use waihu_speech::vad::{speech_spans, EarshotConfig, EarshotVad, SpeechSpan};
use waihu_speech::{Vad, VadFrame};

/// Runs a fresh detector over `pcm` in 20 ms frames.
fn detect(pcm: &[i16]) -> Vec<VadFrame> {
    let mut vad = EarshotVad::default();
    let mut frames = Vec::new();
    for frame in pcm.chunks(FRAME_SAMPLES) {
        vad.push(frame, &mut frames);
    }
    frames
}

fn share_voiced(frames: &[&VadFrame]) -> f64 {
    frames.iter().filter(|f| f.speech).count() as f64 / frames.len().max(1) as f64
}

/// Where the speech is once `speech` is placed after `lead` samples.
fn spoken(speech: &[i16], lead: usize) -> (Duration, Duration) {
    let (from, to) = active_span(speech);
    (dur(lead + from), dur(lead + to))
}

fn between(frames: &[VadFrame], from: Duration, to: Duration) -> Vec<&VadFrame> {
    frames.iter().filter(|f| f.start >= from && f.end() <= to).collect()
}

#[tokio::test]
async fn speech_is_found_inside_the_spoken_span_and_line_noise_is_not() {
    let Some(tts) = espeak().await else { return };
    let speech = say(&tts, TASK_SENTENCE).await;

    // 1 s of faint line hiss (-61 dBFS), the sentence on the same hiss,
    // 1.5 s of louder noise (-44 dBFS), 0.5 s of digital silence.
    let lead = samples(Duration::from_secs(1));
    let mut pcm = noise(lead, 30.0, 1);
    let hiss = noise(speech.len(), 30.0, 2);
    pcm.extend(speech.iter().zip(&hiss).map(|(&s, &n)| s.saturating_add(n)));
    let noise_at = dur(pcm.len());
    pcm.extend(noise(samples(Duration::from_millis(1_500)), 200.0, 3));
    let silence_at = dur(pcm.len());
    pcm.extend(std::iter::repeat_n(0i16, samples(Duration::from_millis(500))));

    let frames = detect(&pcm);
    let spoken = spoken(&speech, lead);
    let margin = Duration::from_millis(300);
    let inside = between(&frames, spoken.0, spoken.1);
    let before = between(&frames, Duration::ZERO, spoken.0.saturating_sub(margin));
    let noisy = between(&frames, noise_at + margin, silence_at);
    let silent = between(&frames, silence_at, Duration::MAX);
    println!(
        "earshot: voiced share inside speech {:.2}, hiss before {:.2}, noise after {:.2}, silence {:.2}",
        share_voiced(&inside),
        share_voiced(&before),
        share_voiced(&noisy),
        share_voiced(&silent)
    );
    // Speech has gaps between syllables; most of the span is still voiced.
    assert!(share_voiced(&inside) > 0.6, "inside {:.2}", share_voiced(&inside));
    assert!(share_voiced(&before) < 0.05, "hiss {:.2}", share_voiced(&before));
    assert!(share_voiced(&noisy) < 0.1, "noise {:.2}", share_voiced(&noisy));
    assert_eq!(share_voiced(&silent), 0.0);

    // With a 250 ms hangover, as the turn-taker uses, the sentence is one
    // utterance that starts and ends with the speech. The step up from hiss
    // to louder noise may add a blip of a frame or two (a turn with no
    // words for the pipeline), nothing longer.
    let spans = speech_spans(&frames, Duration::from_millis(250));
    let (long, blips): (Vec<&SpeechSpan>, Vec<&SpeechSpan>) = spans.iter().partition(|s| s.end - s.start >= Duration::from_millis(100));
    assert_eq!(long.len(), 1, "{spans:?}");
    assert!(blips.iter().all(|b| b.end - b.start <= Duration::from_millis(48)), "{blips:?}");
    let utterance = long[0];
    println!(
        "earshot: speech {:?}..{:?}, utterance {:?}..{:?}: onset {:+} ms, end {:+} ms; {} blip(s) at the noise step",
        spoken.0,
        spoken.1,
        utterance.start,
        utterance.end,
        utterance.start.as_millis() as i64 - spoken.0.as_millis() as i64,
        utterance.end.as_millis() as i64 - spoken.1.as_millis() as i64,
        blips.len()
    );
    let near = Duration::from_millis(150);
    assert!(utterance.start + near >= spoken.0 && utterance.start <= spoken.0 + near, "{utterance:?}");
    assert!(utterance.end + near >= spoken.1 && utterance.end <= spoken.1 + margin, "{utterance:?}");
}

#[tokio::test]
async fn loud_steady_noise_after_speech_is_released_by_the_guard() {
    let Some(tts) = espeak().await else { return };
    let speech = say(&tts, TASK_SENTENCE).await;
    let lead = samples(Duration::from_secs(1));
    let mut pcm = noise(lead, 30.0, 1);
    pcm.extend_from_slice(&speech);
    let noise_at = dur(pcm.len());
    // White noise at -35 dBFS for 4 s: earshot alone calls all of it speech.
    pcm.extend(noise(samples(Duration::from_secs(4)), 600.0, 3));

    let unguarded = {
        let mut vad = EarshotVad::new(EarshotConfig { steady_window: Duration::ZERO, ..EarshotConfig::default() });
        let mut frames = Vec::new();
        for frame in pcm.chunks(FRAME_SAMPLES) {
            vad.push(frame, &mut frames);
        }
        frames
    };
    let guarded = detect(&pcm);
    let window = EarshotConfig::default().steady_window;
    let late = Duration::from_millis(200);
    let after_guard = |frames: &[VadFrame]| share_voiced(&between(frames, noise_at + window + late, Duration::MAX));
    println!(
        "earshot: voiced share of steady -35 dBFS noise after speech, from {:?} on: {:.2} unguarded, {:.2} with the guard",
        window + late,
        after_guard(&unguarded),
        after_guard(&guarded)
    );
    assert_eq!(after_guard(&guarded), 0.0);
    // The speech itself is untouched.
    let spoken = spoken(&speech, lead);
    assert!(share_voiced(&between(&guarded, spoken.0, spoken.1)) > 0.6);
}

#[tokio::test]
async fn speech_in_steady_noise_is_still_speech() {
    let Some(tts) = espeak().await else { return };
    let speech = say(&tts, TASK_SENTENCE).await;
    let (from, to) = active_span(&speech);
    let level = (speech[from..to].iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / (to - from) as f64).sqrt();
    // White noise 6 dB below the speech, from 2 s before it to 2 s after.
    let lead = samples(Duration::from_secs(2));
    let total = lead + speech.len() + samples(Duration::from_secs(2));
    let mut pcm = noise(total, level / 2.0, 9);
    for (p, &s) in pcm[lead..].iter_mut().zip(&speech) {
        *p = p.saturating_add(s);
    }
    let frames = detect(&pcm);
    let spoken = spoken(&speech, lead);
    let inside = share_voiced(&between(&frames, spoken.0, spoken.1));
    // Noise this loud (-20 dBFS) is speech to earshot until the guard's
    // window has filled; after that it is not.
    let settled = EarshotConfig::default().steady_window + Duration::from_millis(200);
    let first_second = share_voiced(&between(&frames, Duration::ZERO, settled));
    let before = share_voiced(&between(&frames, settled, spoken.0 - Duration::from_millis(150)));
    println!("earshot at 6 dB SNR: voiced share inside speech {inside:.2}, noise before {before:.2} (in the first {settled:?}: {first_second:.2})");
    assert!(inside > 0.5, "inside {inside:.2}");
    assert!(before < 0.1, "noise before {before:.2}");
}

#[tokio::test]
async fn real_time_factor() {
    let Some(tts) = espeak().await else { return };
    let speech = say(&tts, TASK_SENTENCE).await;
    // A minute of audio: speech and silence in turns.
    let mut pcm = Vec::new();
    while pcm.len() < samples(Duration::from_secs(60)) {
        pcm.extend_from_slice(&speech);
        pcm.extend(noise(samples(Duration::from_secs(2)), 30.0, pcm.len() as u64));
    }
    let mut vad = EarshotVad::default();
    let mut frames = Vec::new();
    let started = Instant::now();
    for frame in pcm.chunks(FRAME_SAMPLES) {
        vad.push(frame, &mut frames);
    }
    let took = started.elapsed();
    let per_frame = took / (pcm.len() / FRAME_SAMPLES) as u32;
    println!(
        "earshot VAD (8 kHz -> 16 kHz, this build's profile): {:.1} s of audio in {:.1} ms, RTF {:.5}, {:?} per 20 ms frame",
        dur(pcm.len()).as_secs_f64(),
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() / dur(pcm.len()).as_secs_f64(),
        per_frame
    );
    assert_eq!(frames.len(), pcm.len() * 2 / 256);
}
