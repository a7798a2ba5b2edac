//! Spoken calls end to end over SIP on loopback, with real audio both ways:
//! sipp plays the callee's lines (espeak-ng, written by the test into RTP
//! captures), the offline pipeline hears them (earshot VAD, Whisper), the
//! offline dialogue answers, espeak-ng speaks, and the call's recording is
//! run back through Whisper to check the AI said the task's key words.


mod common;
#[path = "common/sip.rs"]
mod sipp;
#[macro_use]
#[path = "common/sip_api.rs"]
mod sip_api;
#[path = "common/voice.rs"]
mod voice;

use std::time::Duration;

use common::transcript;
use sip_api::{server, sipp_passed, stream_end, PHONE, TASK};
use sipp::Sipp;
use waihu_agent::offline::OfflineEngine;
use waihu_agent::{Conversation, Turn};
use waihu_speech::asr::{WhisperAsr, WhisperConfig};
use waihu_models::{ModelStore, WHISPER_BASE};
use waihu_speech::{synthesize_all, Asr, TtsRequest};

const CONFIRM: &str = "对，是我。";
const GOT_IT: &str = "好的，知道了，谢谢。";

/// The scenario with the captures' paths and the times to speak filled in;
/// without a second line the far end says one and waits for our BYE (sipp
/// stops a capture that is playing when it starts the next).
fn scenario(dir: &std::path::Path, first_at_ms: u64, second_after_ms: Option<u64>) -> String {
    let mut template = std::fs::read_to_string(sipp::scenario("voice_template.xml")).unwrap();
    if second_after_ms.is_none() {
        template = template.lines().filter(|l| !l.contains("SECOND_")).collect::<Vec<_>>().join("\n");
    }
    let second_after_ms = second_after_ms.unwrap_or(0);
    let xml = template
        .replace("FIRST_AT_MS", &first_at_ms.to_string())
        .replace("SECOND_AFTER_MS", &second_after_ms.to_string())
        .replace("FIRST_PCAP", &dir.join("confirm.pcap").display().to_string())
        .replace("SECOND_PCAP", &dir.join("got_it.pcap").display().to_string());
    let path = dir.join("voice.xml");
    std::fs::write(&path, xml).unwrap();
    path.display().to_string()
}

fn secs(pcm: &[i16]) -> f64 {
    pcm.len() as f64 / 8000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoken_call_over_sip_confirms_identity_and_delivers_the_task() {
    need_sipp!();
    let Some(tts) = voice::espeak().await else { return };
    let Some(models) = voice::whisper_models().await else { return };
    let dir = tempfile::tempdir().unwrap();

    // The callee's lines, as captures sipp plays.
    let confirm = voice::say(&tts, CONFIRM).await;
    let got_it = voice::say(&tts, GOT_IT).await;
    voice::write_pcma_pcap(&dir.path().join("confirm.pcap"), &confirm);
    voice::write_pcma_pcap(&dir.path().join("got_it.pcap"), &got_it);

    // When to speak: after the AI's opening line, and after its answer,
    // timed from the same engines' lines so the callee never talks over it.
    let mut convo = Conversation::new(std::sync::Arc::new(OfflineEngine::new()), TASK);
    let opening = convo.respond(None).await.unwrap().text;
    let content = convo.respond(Some(Turn::User(CONFIRM.into()))).await.unwrap().text;
    let opening_s = secs(&synthesize_all(&tts, TtsRequest::new(&opening)).await.unwrap());
    let content_s = secs(&synthesize_all(&tts, TtsRequest::new(&content)).await.unwrap());
    eprintln!("AI lines: {opening:?} ({opening_s:.1} s), {content:?} ({content_s:.1} s)");
    // Generous: on a loaded machine the AI may start late and hear slowly.
    let first_at = ((opening_s + 4.0) * 1000.0) as u64;
    let second_after = ((secs(&confirm) + 4.0 + content_s + 4.0) * 1000.0) as u64;
    let xml = scenario(dir.path(), first_at, Some(second_after));

    let sipp = Sipp::start(&xml, &[]).await;
    let s = server(&sipp, |c| {
        c.speech.mode = "on".into();
        c.speech.record = true;
        c.speech.models_dir = Some(models.clone());
        c.carrier.sip.no_media_timeout_seconds = 60;
        c.calls.silence_prompt_seconds = 30;
        c.calls.silence_timeout_seconds = 60;
    })
    .await;
    let id = s.call(PHONE, TASK).await;
    let end = stream_end(&s, &id).await;
    let r = s.wait_ended(&id, Duration::from_secs(180)).await;
    eprintln!("record: {r:#}");

    let lines = transcript(&r);
    let users: Vec<&str> = lines.iter().filter(|(role, _)| role == "user").map(|(_, c)| c.as_str()).collect();
    assert!(users.len() >= 2, "both callee lines were heard: {lines:?}");
    assert!(users[0].contains("是我") || users[0].contains("是的"), "the confirmation was recognised: {users:?}");
    assert_eq!(r["outcome"], "delivered", "identity confirmed, then the task delivered: {lines:?}");
    assert!(lines.iter().any(|(role, c)| role == "assistant" && c.contains("面试")), "the AI said the task: {lines:?}");
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(end, "[DONE]");

    // Each answered turn's latency, split into parts that add up.
    let turns = r["turns"].as_array().expect("a spoken call has turn latencies");
    assert!(!turns.is_empty(), "{r}");
    for t in turns {
        let total = t["total_ms"].as_f64().unwrap();
        let parts: f64 = ["endpointing_ms", "asr_ms", "dialogue_first_token_ms", "first_clause_ms", "tts_first_audio_ms", "overhead_ms"]
            .iter()
            .map(|k| t[*k].as_f64().unwrap())
            .sum();
        assert!((total - parts).abs() < 1.0, "parts add up to the total: {t}");
        assert!(total > 100.0 && total < 5000.0, "a turn answered in {total} ms: {t}");
    }
    let metrics = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("voice_turn_ms_count{part=\"total\"}"), "turn histograms exported");

    // The recording: callee left, AI right. What the AI sent is speech that
    // Whisper recognises: run it back through and look for the task's words.
    let wav = s.http.get(format!("{}/v1/calls/{id}/recording", s.base)).header("X-API-Key", &s.key).send().await.unwrap();
    assert_eq!(wav.status(), 200);
    assert_eq!(wav.headers()["content-type"], "audio/wav");
    let wav = wav.bytes().await.unwrap();
    let callee = voice::wav_channel(&wav, 0);
    let ai = voice::wav_channel(&wav, 1);
    assert!(voice::utterances(&callee, 400).len() >= 2, "the callee's two lines are on the left");
    let store = ModelStore::new(models);
    let asr = WhisperAsr::new(WhisperConfig::new(store.path(&WHISPER_BASE))).unwrap().with_prompt(format!("以下是普通话的句子。{TASK}"));
    let mut heard = String::new();
    for u in voice::utterances(&ai, 600) {
        let text = asr.transcribe(u).await.unwrap().text;
        eprintln!("AI said ({:.1} s): {text}", secs(u));
        heard.push_str(&text);
    }
    let found: Vec<&str> = ["张先生", "面试", "十点", "三楼", "明天"].into_iter().filter(|w| heard.contains(w)).collect();
    assert!(found.len() >= 2, "the AI's audio is recognisable speech with the task's words: heard {heard:?}");

    sipp_passed(sipp).await;
    s.stop().await;
}

#[tokio::test]
async fn a_call_that_was_not_recorded_says_so() {
    let s = common::start(|_| {}).await;
    let id = s.call(PHONE, TASK).await;
    let (status, body) = s.get(&format!("/v1/calls/{id}/recording")).await;
    assert_eq!(status, 404);
    assert_eq!(body["success"], false);
    let msg = body["message"].as_str().unwrap();
    assert!(msg.contains("not recorded") || msg.contains("not over yet"), "{msg}");
    let (status, _) = s.get("/v1/calls/no-such-call/recording").await;
    assert_eq!(status, 404);
    s.stop().await;
}

/// Where the first second of unbroken quiet after `from` starts.
fn quiet_second_after(pcm: &[i16], from: usize) -> Option<usize> {
    let quiet: Vec<bool> = pcm[from..].chunks(160).map(|f| f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 160.0 < 300.0f64.powi(2)).collect();
    (0..quiet.len().saturating_sub(50)).find(|&i| quiet[i..i + 50].iter().all(|q| *q)).map(|i| from + i * 160)
}

/// Samples from `from` to the first 20 ms frame louder than speech's floor.
fn first_loud(pcm: &[i16], from: usize) -> Option<usize> {
    pcm[from..].chunks(160).position(|f| f.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 160.0 > 300.0f64.powi(2)).map(|i| from + i * 160)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talking_over_the_ai_stops_it_and_the_transcript_shows_the_cut() {
    need_sipp!();
    let Some(tts) = voice::espeak().await else { return };
    let Some(models) = voice::whisper_models().await else { return };
    let dir = tempfile::tempdir().unwrap();
    // 1.5 s into the AI's opening line (several seconds long), the callee
    // talks over it for well over the 250 ms barge-in threshold.
    let interrupt = voice::say(&tts, "等一下，等一下，你是哪位？").await;
    voice::write_pcma_pcap(&dir.path().join("confirm.pcap"), &interrupt);
    let xml = scenario(dir.path(), 1500, None);
    let sipp = Sipp::start(&xml, &[]).await;
    let s = server(&sipp, |c| {
        c.speech.mode = "on".into();
        c.speech.models_dir = Some(models);
        c.carrier.sip.no_media_timeout_seconds = 60;
        c.calls.silence_prompt_seconds = 30;
        c.calls.silence_timeout_seconds = 60;
    })
    .await;
    // Recorded because the call asks (the server does not record by default).
    let (status, body) = s.post("/api/v1/callinfo/initiate_call", serde_json::json!({"phones": PHONE, "user_requirement": TASK, "record": true})).await;
    assert_eq!(status, 200, "{body}");
    let id = body["call_id"].as_str().unwrap().to_owned();
    // Wait for the callee's words and the AI's answer to them, then end it.
    let r = sip_api::wait_record(&s, &id, "the callee's line and the AI's answer", |r| {
        let roles: Vec<String> = transcript(r).into_iter().map(|(role, _)| role).collect();
        roles.windows(2).any(|w| w[0] == "user" && w[1] == "assistant")
    })
    .await;
    let (status, _) = s.post(&format!("/v1/calls/{id}/hangup"), serde_json::json!({})).await;
    assert_eq!(status, 202);
    let r2 = s.wait_ended(&id, Duration::from_secs(60)).await;
    eprintln!("record: {r2:#}");
    let lines = transcript(&r);
    let mut convo = Conversation::new(std::sync::Arc::new(OfflineEngine::new()), TASK);
    let opening = convo.respond(None).await.unwrap().text;
    let (role, cut) = &lines[0];
    assert_eq!(role, "assistant");
    assert!(cut.chars().count() < opening.chars().count() && opening.starts_with(cut.as_str()), "the opening was cut where it stopped: {cut:?} of {opening:?}");
    assert_eq!(lines[1].0, "user", "{lines:?}");

    // From the recording: the callee's first voiced frame (left) to the
    // AI's audio stopping (right), within the promise (250 ms of speech,
    // then the next frame) plus a frame of the far end's jitter buffer.
    let wav = s.http.get(format!("{}/v1/calls/{id}/recording", s.base)).header("X-API-Key", &s.key).send().await.unwrap().bytes().await.unwrap();
    let callee = voice::wav_channel(&wav, 0);
    let ai = voice::wav_channel(&wav, 1);
    let talk_at = first_loud(&callee, 0).expect("the callee spoke");
    let stopped_at = quiet_second_after(&ai, talk_at).expect("the AI stopped");
    let stop_ms = (stopped_at as f64 - talk_at as f64) / 8.0;
    eprintln!("barge-in: callee spoke at {:.2} s, AI stopped {stop_ms:.0} ms later", talk_at as f64 / 8000.0);
    assert!(stop_ms > 200.0 && stop_ms < 400.0, "AI audio stopped {stop_ms:.0} ms after the callee started talking");
    sipp_passed(sipp).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_callee_speaks_and_hears_through_the_whole_pipeline() {
    let _ = tracing_subscriber::fmt().with_env_filter("warn,waihu_speech=debug,waihu_voice=debug,waihu_carrier=debug").with_test_writer().try_init();
    let Some(_tts) = voice::espeak().await else { return };
    let Some(models) = voice::whisper_models().await else { return };
    let s = common::start(|c| {
        c.speech.mode = "on".into();
        c.speech.models_dir = Some(models);
        c.carrier.sim.speed = 1.0;
        c.calls.silence_prompt_seconds = 20;
        c.calls.silence_timeout_seconds = 40;
    })
    .await;
    let (status, voices) = s.get("/api/v1/callinfo/tts_list").await;
    assert_eq!(status, 200);
    assert!(voices["voices"].as_array().unwrap().iter().any(|v| v["id"] == "cmn-latn-pinyin"), "the synthesiser's voices: {voices}");
    let id = s.call("13800138000", "通知张总明天上午9点开会").await;
    let r = s.wait_ended(&id, Duration::from_secs(150)).await;
    eprintln!("record: {r:#}");
    let lines = transcript(&r);
    assert!(lines.iter().filter(|(role, _)| role == "user").count() >= 1, "the callee was heard through ASR: {lines:?}");
    assert_eq!(r["outcome"], "delivered", "{lines:?}");
    assert!(r["turns"].as_array().is_some_and(|t| !t.is_empty()), "turn latencies on the record: {r}");
    s.stop().await;
}

#[tokio::test]
async fn speech_on_without_its_engines_refuses_to_start_and_auto_falls_back_to_text() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::test_config(dir.path());
    cfg.speech.mode = "on".into();
    cfg.speech.asr = "dashscope".into();
    cfg.speech.tts = "dashscope".into();
    cfg.speech.dashscope.api_key_env = Some("WAIHU_TEST_UNSET_DASHSCOPE_KEY".into());
    let store: std::sync::Arc<dyn waihu_store::Store> = std::sync::Arc::new(waihu_server::open_store(&cfg).await.unwrap());
    let err = waihu_server::Server::start(&cfg, store.clone()).await.err().expect("no key, no speech");
    assert!(err.to_string().contains("WAIHU_TEST_UNSET_DASHSCOPE_KEY"), "says what is missing: {err}");

    // auto: the server starts, calls are text-level, tts_list is the configured voices.
    cfg.speech.mode = "auto".into();
    let server = waihu_server::Server::start(&cfg, store).await.expect("auto starts without its engines");
    assert_eq!(server.spoken(), None);
    cfg.speech.models_dir = Some(dir.path().join("no-models-here"));
    cfg.speech.asr = "whisper".into();
    cfg.speech.tts = "espeak".into();
    let s = common::start(|c| {
        c.speech.mode = "auto".into();
        c.speech.models_dir = cfg.speech.models_dir.clone();
    })
    .await;
    let (_, voices) = s.get("/api/v1/callinfo/tts_list").await;
    assert_eq!(voices["voices"][0]["id"], "zh-female-1", "text-level calls offer the configured voices: {voices}");
    s.stop().await;
}
