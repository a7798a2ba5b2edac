//! A whole spoken call in paused virtual time: the API, the dispatcher, the
//! session and its brain, the voice pipeline and the simulated network with
//! sound all read one clock (tokio's), so the call runs end to end without
//! a second of real waiting, and the turn latencies on its record are the
//! engines' fixed latencies to the millisecond.
//!
//! The engines speak a tone code (`speech/tests/support/tone.rs`): each
//! character is two 20 ms symbols, so the "recogniser" reads back exactly
//! what the "synthesiser" said, after a fixed delay.

#[path = "../../speech/tests/support/tone.rs"]
mod tone;

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use tone::{EnergyVad, ToneAsr, ToneTts};
use tower::ServiceExt;
use waihu_carrier::sim::SimVoice;
use waihu_core::{CallStatus, Fen, Outcome, Role};
use waihu_server::voice::VoiceSetup;
use waihu_server::{open_store, Config, Server, ServerParts};
use waihu_speech::asr::Buffered;
use waihu_speech::{StreamingAsr, Tts, Vad};
use waihu_turn::{SplitterConfig, TurnConfig, TurnLatencyMs};
use waihu_voice::VoiceEngines;

/// The synthesiser's time to first audio.
const TTS_MS: u64 = 70;
/// The recogniser's time for an utterance.
const ASR_MS: u64 = 40;

fn voice() -> VoiceSetup {
    let tts = || ToneTts { delay: Duration::from_millis(TTS_MS), per_character: false };
    let asr: Arc<dyn StreamingAsr> = Arc::new(Buffered::new(Arc::new(ToneAsr::new(Duration::from_millis(ASR_MS)))));
    let engines = VoiceEngines {
        vad: Arc::new(|| -> Box<dyn Vad> { Box::new(EnergyVad::default()) }),
        asr: Arc::new(move |_hint: &str| asr.clone()),
        tts: Arc::new(tts()),
        turn: TurnConfig { early_final: None, ..TurnConfig::default() },
        splitter: SplitterConfig::default(),
    };
    VoiceSetup {
        engines: Arc::new(engines),
        sim: Some(SimVoice { tts: Arc::new(tts()), asr: Arc::new(ToneAsr::new(Duration::from_millis(ASR_MS))), voice_id: None }),
        voices: tts().voices(),
        summary: "calls are spoken: tone engines".into(),
    }
}

#[tokio::test]
async fn a_whole_spoken_call_runs_in_paused_virtual_time_on_one_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    cfg.speech.mode = "off".into();
    cfg.carrier.sim.speed = 1.0;
    let store: Arc<dyn waihu_store::Store> = Arc::new(open_store(&cfg).await.unwrap());
    let account = store.create_account("tester", Fen(1000), 0).await.unwrap();
    let key = store.create_key(&account.id, 0).await.unwrap();
    let server = Server::start_with(&cfg, store.clone(), ServerParts { voice: Some(voice()), carrier: None }).await.unwrap();
    let app = waihu_server::api::router(server.state.clone());
    // From here on nothing waits on real time but the database, which works
    // on a thread of its own: while the runtime waits for it, the paused
    // clock would jump straight to the next timer due (the pool's 10 s
    // acquire timeout among them). A 5 ms heartbeat keeps each such jump as
    // short as the wait would be in real time.
    tokio::time::pause();
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let real_start = std::time::Instant::now();

    let request = axum::http::Request::post("/api/v1/callinfo/initiate_call")
        .header("X-API-Key", &key)
        .header("Content-Type", "application/json")
        .body(axum::body::Body::from(r#"{"phones":"13800138000","user_requirement":"通知张总明天上午9点开会"}"#))
        .unwrap();
    let answer = app.oneshot(request).await.unwrap();
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(&answer.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let id = body["call_ids"][0].as_str().unwrap().to_owned();

    let virtual_start = tokio::time::Instant::now();
    let call = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let call = store.call(&id, None).await.unwrap().unwrap();
        if call.status.is_final() {
            break call;
        }
        assert!(virtual_start.elapsed() < Duration::from_secs(120), "the call ended in (virtual) time: {call:?}");
    };
    let lines = store.transcript(&id).await.unwrap();
    let said: Vec<(Role, &str)> = lines.iter().map(|l| (l.role, l.content.as_str())).collect();
    assert_eq!(call.status, CallStatus::Completed, "{said:?}");
    assert_eq!(call.outcome, Some(Outcome::Delivered), "{said:?}");
    assert!(said.iter().any(|(r, t)| *r == Role::User && t.contains("是我")), "the callee was heard through the pipeline: {said:?}");
    assert!(said.iter().any(|(r, t)| *r == Role::Assistant && t.contains("9点")), "the content was said: {said:?}");

    // Every answered turn on the record, measured on the one clock.
    let turns: Vec<TurnLatencyMs> = serde_json::from_str(call.turn_stats.as_deref().expect("turn latencies on the record")).unwrap();
    assert!(!turns.is_empty());
    // Virtual time is exact but for tokio's timer wheel, which wakes a
    // sleeper at the next whole millisecond.
    let about = |got: f64, want: u64| (want as f64..=want as f64 + 1.0).contains(&got);
    for t in &turns {
        assert!(about(t.tts_first_audio_ms, TTS_MS), "the synthesiser's fixed latency: {t:?}");
        assert!(about(t.asr_ms, ASR_MS), "the recogniser's, asked at the hangover: {t:?}");
        assert!(about(t.endpointing_ms, 250), "the hangover: {t:?}");
    }
    let called_for = virtual_start.elapsed();
    assert!(called_for >= Duration::from_secs(5), "a spoken call takes (virtual) seconds: {called_for:?}");
    assert!(real_start.elapsed() < called_for / 4, "and a fraction of that in real time: {:?}", real_start.elapsed());
    drop(server);
}
