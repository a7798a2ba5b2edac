//! The espeak-ng engine for real: the subprocess, its streamed WAV, the
//! resampling to 8 kHz, and what speed, volume and voice do to the audio.

mod common;

use std::time::{Duration, Instant};

use common::{active_span, dur, espeak, say, TASK_SENTENCE};
use futures_util::StreamExt;
use waihu_speech::pcm::rms_dbfs;
use waihu_speech::tts::{EspeakConfig, EspeakTts};
use waihu_speech::{synthesize_all, Tts, TtsError, TtsRequest};

#[tokio::test]
async fn the_task_sentence_is_audible_8khz_speech_of_plausible_length() {
    let Some(tts) = espeak().await else { return };
    let started = Instant::now();
    let mut stream = tts.synthesize(TtsRequest::new(TASK_SENTENCE)).await.unwrap();
    let mut first_audio = None;
    let mut chunks = 0;
    let mut pcm = Vec::new();
    while let Some(chunk) = stream.next().await {
        first_audio.get_or_insert_with(|| started.elapsed());
        chunks += 1;
        pcm.extend_from_slice(&chunk.unwrap());
    }
    let took = started.elapsed();
    let audio = dur(pcm.len());
    println!(
        "espeak-ng: {} syllables -> {:.2} s of audio in {} chunks; first audio after {:.1} ms, all after {:.1} ms; RTF {:.3}",
        12,
        audio.as_secs_f64(),
        chunks,
        first_audio.unwrap().as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() / audio.as_secs_f64()
    );
    // Twelve syllables at espeak's default pace: about 3-4 s, sentence-final pause included.
    assert!(audio > Duration::from_millis(1_500) && audio < Duration::from_secs(7), "{audio:?}");
    let (from, to) = active_span(&pcm);
    assert!(dur(to - from) > Duration::from_millis(1_500), "speech spans only {:?}", dur(to - from));
    let level = rms_dbfs(&pcm[from..to]);
    assert!(level > -30.0, "speech at {level:.1} dBFS is too quiet");
    // 8 kHz, not 22 kHz: a 12-syllable sentence cannot last 10 s.
    assert!(pcm.len() < 8_000 * 7);
}

#[tokio::test]
async fn long_text_streams_its_first_audio_before_the_end() {
    let Some(tts) = espeak().await else { return };
    let text = "您好，我是王经理的助理。通知张总明天上午9点开会，会议在三楼会议室。请您准时参加，如果有问题请回电话。谢谢，再见！";
    let started = Instant::now();
    let mut stream = tts.synthesize(TtsRequest::new(text)).await.unwrap();
    let mut first = None;
    let mut samples = 0;
    while let Some(chunk) = stream.next().await {
        first.get_or_insert_with(|| started.elapsed());
        samples += chunk.unwrap().len();
    }
    let all = started.elapsed();
    let first = first.unwrap();
    println!(
        "espeak-ng long text: {:.2} s of audio; first audio after {:.1} ms, all after {:.1} ms (RTF {:.3})",
        dur(samples).as_secs_f64(),
        first.as_secs_f64() * 1e3,
        all.as_secs_f64() * 1e3,
        all.as_secs_f64() / dur(samples).as_secs_f64()
    );
    assert!(dur(samples) > Duration::from_secs(8));
}

#[tokio::test]
async fn speed_volume_and_voice_change_the_audio() {
    let Some(tts) = espeak().await else { return };
    let normal = say(&tts, TASK_SENTENCE).await;
    let slow = synthesize_all(&tts, TtsRequest::new(TASK_SENTENCE).speed(0)).await.unwrap();
    let fast = synthesize_all(&tts, TtsRequest::new(TASK_SENTENCE).speed(100)).await.unwrap();
    assert!(slow.len() > normal.len() * 5 / 4, "slow {} vs normal {}", slow.len(), normal.len());
    assert!(fast.len() < normal.len() * 3 / 4, "fast {} vs normal {}", fast.len(), normal.len());

    let quiet = synthesize_all(&tts, TtsRequest::new(TASK_SENTENCE).volume(25)).await.unwrap();
    let drop_db = rms_dbfs(&normal) - rms_dbfs(&quiet);
    assert!((4.0..8.0).contains(&drop_db), "volume 25 is {drop_db:.1} dB below 50");
    let silent = synthesize_all(&tts, TtsRequest::new(TASK_SENTENCE).volume(0)).await.unwrap();
    assert!(silent.iter().all(|&s| s.abs() < 50), "volume 0 is silent");

    let voices = tts.voices();
    assert_eq!(voices.iter().filter(|v| v.default).count(), 1);
    let female = synthesize_all(&tts, TtsRequest::new(TASK_SENTENCE).voice(voices[1].id.clone())).await.unwrap();
    assert_ne!(female, normal, "another voice sounds different");
    let err = tts.synthesize(TtsRequest::new("你好").voice("zh-robot-9")).await.err().unwrap();
    assert!(matches!(&err, TtsError::UnknownVoice { voice, available } if voice == "zh-robot-9" && available.contains("cmn-latn-pinyin")), "{err}");
}

#[tokio::test]
async fn latin_words_and_numbers_are_spoken_too() {
    let Some(tts) = espeak().await else { return };
    let pcm = say(&tts, "请查看API文档，电话13800138000").await;
    let (from, to) = active_span(&pcm);
    assert!(dur(to - from) > Duration::from_secs(3), "{:?}", dur(to - from));
}

#[tokio::test]
async fn nothing_to_say_is_an_empty_stream_without_a_process() {
    // The program does not exist: had it been started, this would fail.
    let tts = EspeakTts::new(EspeakConfig { program: "/nonexistent/espeak-ng".into(), ..EspeakConfig::default() }).unwrap();
    let pcm = synthesize_all(&tts, TtsRequest::new("。。， 😀")).await.unwrap();
    assert!(pcm.is_empty());
}

#[tokio::test]
async fn a_missing_espeak_names_the_debian_package() {
    let tts = EspeakTts::new(EspeakConfig { program: "/nonexistent/espeak-ng".into(), ..EspeakConfig::default() }).unwrap();
    let err = tts.synthesize(TtsRequest::new(TASK_SENTENCE)).await.err().unwrap();
    assert!(matches!(&err, TtsError::NotInstalled { package, .. } if package == "espeak-ng"), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("apt-get install espeak-ng"), "{text}");
    assert!(matches!(tts.check().await, Err(TtsError::NotInstalled { .. })));
}

#[tokio::test]
async fn a_failing_program_is_a_process_error_with_its_message() {
    // `false` runs, prints nothing and exits 1: as espeak-ng does on a bad voice file.
    let tts = EspeakTts::new(EspeakConfig { program: "false".into(), ..EspeakConfig::default() }).unwrap();
    let err = synthesize_all(&tts, TtsRequest::new(TASK_SENTENCE)).await.err().unwrap();
    assert!(matches!(&err, TtsError::Process(m) if m.contains("exit")), "{err:?}");
}

#[tokio::test]
async fn dropping_the_stream_stops_the_synthesis_at_once() {
    let Some(tts) = espeak().await else { return };
    let long = "通知张总明天上午9点开会。".repeat(40);
    let mut stream = tts.synthesize(TtsRequest::new(long)).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    // A barge-in: the stream is dropped; the process is killed, not waited for.
    let started = Instant::now();
    drop(stream);
    assert!(started.elapsed() < Duration::from_millis(100));
}
