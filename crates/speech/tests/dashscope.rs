//! The DashScope engines against local servers that speak DashScope's
//! WebSocket task protocol: the `bearer` key in the upgrade, `run-task` and
//! `task-started`, audio as binary frames, `result-generated` partials and
//! sentence ends, `continue-task` and `finish-task`, `task-failed` with an
//! error code, a refused upgrade and a server that drops the connection.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use waihu_speech::asr::{AsrEvent, DashScopeAsr, DashScopeAsrConfig};
use waihu_speech::dashscope::DashScopeEndpoint;
use waihu_speech::tts::{DashScopeTts, DashScopeTtsConfig};
use waihu_speech::{synthesize_all, AsrError, StreamingAsr, Tts, TtsError, TtsRequest};

const KEY: &str = "sk-test-dashscope-0123456789abcdef";

/// How the local server behaves after the handshake.
#[derive(Clone, Copy, PartialEq)]
enum Script {
    Asr,
    Tts,
    /// `task-failed` right after `run-task`.
    FailTask,
    /// Starts the task, then drops the connection.
    Drop,
    /// Accepts and never answers `run-task`.
    Silent,
}

/// A one-connection server; reports the `run-task` payload it got.
async fn server(script: Script) -> (String, mpsc::UnboundedReceiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/api-ws/v1/inference", listener.local_addr().unwrap());
    let (seen_tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        serve(tcp, script, seen_tx).await;
    });
    (url, seen)
}

async fn serve(tcp: TcpStream, script: Script, seen: mpsc::UnboundedSender<Value>) {
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let auth = req.headers().get("Authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if auth != format!("bearer {KEY}") {
            // DashScope echoes the start of a bad key: the engine must scrub it.
            let mut e = ErrorResponse::new(Some(format!("Invalid API-key provided: {auth}")));
            *e.status_mut() = StatusCode::UNAUTHORIZED;
            return Err(e);
        }
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, check).await else { return };
    let Some(Ok(Message::Text(run))) = ws.next().await else { return };
    let run: Value = serde_json::from_str(run.as_str()).unwrap();
    let task = run["header"]["task_id"].as_str().unwrap().to_owned();
    assert_eq!(run["header"]["action"], "run-task");
    assert_eq!(run["header"]["streaming"], "duplex");
    assert_eq!(task.len(), 32);
    let _ = seen.send(run["payload"].clone());
    let event = |name: &str, extra: Value| {
        let mut v = json!({"header": {"task_id": task, "event": name, "attributes": {}}, "payload": extra});
        if name == "task-failed" {
            v["header"]["error_code"] = json!("InvalidParameter");
            v["header"]["error_message"] = json!("voice is not supported");
        }
        Message::text(v.to_string())
    };
    match script {
        Script::Silent => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        Script::FailTask => {
            let _ = ws.send(event("task-failed", json!({}))).await;
            return;
        }
        _ => {}
    }
    ws.send(event("task-started", json!({}))).await.unwrap();
    match script {
        Script::Drop => drop(ws),
        Script::Asr => asr(&mut ws, &event).await,
        Script::Tts => tts(&mut ws, &event, &seen).await,
        _ => {}
    }
}

type Ws = WebSocketStream<TcpStream>;

/// Partial after a second of audio; the sentence ends once the engine sends
/// the silence that follows a finalise.
async fn asr(ws: &mut Ws, event: &impl Fn(&str, Value) -> Message) {
    let sentence = |text: &str, end: bool| json!({"output": {"sentence": {"begin_time": 0, "end_time": null, "text": text, "sentence_end": end}}});
    let mut audio_bytes = 0usize;
    let mut partial_sent = false;
    let mut ended = false;
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Binary(b) => {
                audio_bytes += b.len();
                if audio_bytes >= 16_000 && !partial_sent {
                    partial_sent = true;
                    ws.send(event("result-generated", sentence("明天", false))).await.unwrap();
                }
                // 500 ms of silence at once: the engine's finalise. The
                // sentence ends once; later silence has nothing to end.
                if b.len() >= 8_000 && b.iter().all(|&x| x == 0) && !ended {
                    ended = true;
                    ws.send(event("result-generated", sentence("明天上午开会。", true))).await.unwrap();
                }
            }
            Message::Text(t) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["header"]["action"] == "finish-task" {
                    ws.send(event("task-finished", json!({}))).await.unwrap();
                    return;
                }
            }
            _ => {}
        }
    }
}

/// After `continue-task` and `finish-task`: 1,001 bytes (an odd split), then
/// the rest of 1,000 samples, then `task-finished`.
async fn tts(ws: &mut Ws, event: &impl Fn(&str, Value) -> Message, seen: &mpsc::UnboundedSender<Value>) {
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(t) = msg else { continue };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        match v["header"]["action"].as_str() {
            Some("continue-task") => {
                let _ = seen.send(v["payload"]["input"].clone());
            }
            Some("finish-task") => {
                let samples: Vec<u8> = (0..1000i16).flat_map(|i| (i * 10).to_le_bytes()).collect();
                ws.send(Message::binary(samples[..1001].to_vec())).await.unwrap();
                ws.send(Message::binary(samples[1001..].to_vec())).await.unwrap();
                ws.send(event("task-finished", json!({}))).await.unwrap();
                return;
            }
            _ => {}
        }
    }
}

fn endpoint(url: &str) -> DashScopeEndpoint {
    DashScopeEndpoint { connect_timeout: Duration::from_millis(1500), ..DashScopeEndpoint::new(KEY).at(url) }
}

#[tokio::test]
async fn recognition_streams_partials_and_answers_each_finalise_with_a_final() {
    let (url, mut seen) = server(Script::Asr).await;
    let asr = DashScopeAsr::new(DashScopeAsrConfig::new(endpoint(&url))).unwrap();
    let mut session = asr.start().await.expect("the task starts");
    let run = seen.recv().await.unwrap();
    assert_eq!(run["task"], "asr");
    assert_eq!(run["function"], "recognition");
    assert_eq!(run["model"], "paraformer-realtime-8k-v2");
    assert_eq!(run["parameters"]["format"], "pcm");
    assert_eq!(run["parameters"]["sample_rate"], 8000);
    for _ in 0..50 {
        assert!(session.input.push_pcm(&[1000i16; 160]));
    }
    let ev = tokio::time::timeout(Duration::from_secs(3), session.events.recv()).await.unwrap().unwrap();
    assert_eq!(ev, AsrEvent::Partial("明天".into()));
    session.input.finalise();
    let ev = tokio::time::timeout(Duration::from_secs(3), session.events.recv()).await.unwrap().unwrap();
    assert!(matches!(&ev, AsrEvent::Final(t) if t.text == "明天上午开会。"), "{ev:?}");
    // A finalise with nothing new said still gets its (empty) final, in time.
    session.input.finalise();
    let ev = tokio::time::timeout(Duration::from_secs(3), session.events.recv()).await.unwrap().unwrap();
    assert!(matches!(&ev, AsrEvent::Final(t) if t.text.is_empty()), "{ev:?}");
}

#[tokio::test]
async fn a_bad_key_is_refused_with_the_status_and_never_repeated() {
    let (url, _) = server(Script::Asr).await;
    let mut e = endpoint(&url);
    e.api_key = Some(format!("{KEY}-wrong"));
    let err = DashScopeAsr::new(DashScopeAsrConfig::new(e)).unwrap().start().await.unwrap_err();
    assert!(matches!(&err, AsrError::Http { status: 401, .. }), "{err}");
    assert!(!err.to_string().contains("sk-test-dashscope"), "the key is scrubbed: {err}");
    let no_key = DashScopeEndpoint { api_key: None, ..endpoint(&url) };
    let err = DashScopeAsr::new(DashScopeAsrConfig::new(no_key)).unwrap().start().await.unwrap_err();
    assert!(err.to_string().contains("DASHSCOPE_API_KEY"), "{err}");
    assert!(!format!("{:?}", endpoint(&url)).contains(KEY), "Debug hides the key");
}

#[tokio::test]
async fn a_dropped_connection_is_reported_not_hung_on() {
    let (url, _) = server(Script::Drop).await;
    let mut session = DashScopeAsr::new(DashScopeAsrConfig::new(endpoint(&url))).unwrap().start().await.unwrap();
    session.input.finalise();
    let mut saw_error = false;
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(3), session.events.recv()).await {
        if let AsrEvent::Error(e) = ev {
            assert!(e.to_string().contains("closed"), "{e}");
            saw_error = true;
        }
    }
    assert!(saw_error, "the pipeline is told the recogniser went away");
}

#[tokio::test]
async fn synthesis_streams_the_servers_audio_with_the_requested_voice() {
    let (url, mut seen) = server(Script::Tts).await;
    let tts = DashScopeTts::new(DashScopeTtsConfig::new(endpoint(&url))).unwrap();
    assert!(tts.voices().iter().filter(|v| v.default).count() == 1);
    let pcm = synthesize_all(&tts, TtsRequest::new("明天上午开会。").voice("longwan_v2").speed(75).volume(80)).await.unwrap();
    assert_eq!(pcm, (0..1000i16).map(|i| i * 10).collect::<Vec<_>>(), "every sample, the odd byte carried over");
    let run = seen.recv().await.unwrap();
    assert_eq!(run["task"], "tts");
    assert_eq!(run["function"], "SpeechSynthesizer");
    assert_eq!(run["parameters"]["voice"], "longwan_v2");
    assert_eq!(run["parameters"]["format"], "pcm");
    assert_eq!(run["parameters"]["sample_rate"], 8000);
    assert_eq!(run["parameters"]["volume"], 80);
    assert!((run["parameters"]["rate"].as_f64().unwrap() - 2f64.sqrt()).abs() < 1e-9, "speed 75 is rate √2");
    assert_eq!(seen.recv().await.unwrap()["text"], "明天上午开会。");
}

#[tokio::test]
async fn synthesis_failures_say_what_went_wrong() {
    let (url, _) = server(Script::FailTask).await;
    let tts = DashScopeTts::new(DashScopeTtsConfig::new(endpoint(&url))).unwrap();
    let err = tts.synthesize(TtsRequest::new("你好")).await.err().expect("task-failed is an error");
    assert!(err.to_string().contains("InvalidParameter") && err.to_string().contains("voice is not supported"), "{err}");

    let err = tts.synthesize(TtsRequest::new("你好").voice("nobody")).await.err().unwrap();
    assert!(matches!(err, TtsError::UnknownVoice { .. }), "{err}");

    let (url, _) = server(Script::Silent).await;
    let tts = DashScopeTts::new(DashScopeTtsConfig::new(endpoint(&url))).unwrap();
    let err = tts.synthesize(TtsRequest::new("你好")).await.err().unwrap();
    assert!(matches!(err, TtsError::Timeout(1500)), "a server that never starts the task: {err}");

    let (url, _) = server(Script::Drop).await;
    let tts = DashScopeTts::new(DashScopeTtsConfig::new(endpoint(&url))).unwrap();
    let err = synthesize_all(&tts, TtsRequest::new("你好")).await.unwrap_err();
    assert!(err.to_string().contains("before task-finished") || matches!(err, TtsError::Unreachable(_)), "{err}");

    let err = tts.synthesize(TtsRequest::new("你好")).await.err().unwrap();
    assert!(matches!(err, TtsError::Unreachable(_)), "nothing listening any more: {err}");
}
