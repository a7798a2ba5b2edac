//! The CosyVoice engine against local servers that speak DashScope's
//! WebSocket task protocol: the `bearer` key in the upgrade (a 401 there for
//! a bad one), `run-task` answered by `task-started`, the text in
//! `continue-task`, `finish-task`, the audio as binary frames while the
//! server synthesises, `task-finished`; and `task-failed` with an error
//! code, a dropped connection, servers that say nothing.

// The upgrade callback's error type is tungstenite's own HTTP response.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use waihu_speech::dashscope::DashScopeEndpoint;
use waihu_speech::tts::{DashScopeTts, DashScopeTtsConfig};
use waihu_speech::{synthesize_all, Tts, TtsError, TtsRequest};

const KEY: &str = "sk-test-dashscope-fedcba9876543210";

/// What the server does once the text is in (after `finish-task`), or
/// instead.
#[derive(Clone)]
enum Script {
    /// Sends these frames, the first alone until `gate` is notified, then
    /// `task-finished`.
    Speak(Vec<Vec<u8>>),
    /// `task-failed` in answer to `run-task`.
    Refuse(&'static str, &'static str),
    /// One frame, then `task-failed`.
    FailAfterAudio(&'static str, &'static str),
    /// One frame, then the connection drops.
    DropAfterAudio,
    /// Never answers `run-task`.
    Silent,
    /// Starts the task and never sends audio.
    Mute,
    /// Audio every 20 ms until the client goes.
    Endless,
}

/// What the server saw.
#[derive(Debug, Clone)]
enum Seen {
    Connected { authorization: String },
    Action(Value),
    Closed,
}

struct Server {
    url: String,
    seen: mpsc::UnboundedReceiver<Seen>,
    /// Lets [`Script::Speak`] go on past its first frame.
    gate: Arc<Notify>,
}

impl Server {
    async fn start(script: Script) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/api-ws/v1/inference", listener.local_addr().unwrap());
        let (tx, seen) = mpsc::unbounded_channel();
        let gate = Arc::new(Notify::new());
        let g = gate.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(tcp, script.clone(), tx.clone(), g.clone()));
            }
        });
        Server { url, seen, gate }
    }

    async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(5), self.seen.recv()).await.expect("the server saw something").expect("the server runs")
    }

    /// The actions the client sent, until the connection ended.
    async fn actions(&mut self) -> Vec<Value> {
        let mut all = Vec::new();
        loop {
            match self.next().await {
                Seen::Action(v) => all.push(v),
                Seen::Closed => return all,
                Seen::Connected { .. } => {}
            }
        }
    }
}

fn event(task: &str, name: &str) -> Message {
    Message::text(json!({"header": {"task_id": task, "event": name, "attributes": {}}, "payload": {}}).to_string())
}

fn failed(task: &str, code: &str, message: &str) -> Message {
    Message::text(json!({"header": {"task_id": task, "event": "task-failed", "error_code": code, "error_message": message, "attributes": {}}, "payload": {}}).to_string())
}

/// The documented `result-generated` that goes before each audio frame.
fn synthesis(task: &str) -> Message {
    Message::text(
        json!({"header": {"task_id": task, "event": "result-generated", "attributes": {}},
               "payload": {"output": {"type": "sentence-synthesis", "sentence": {"index": 0, "words": []}}}})
        .to_string(),
    )
}

async fn serve(tcp: TcpStream, script: Script, seen: mpsc::UnboundedSender<Seen>, gate: Arc<Notify>) {
    let log = seen.clone();
    let check = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let _ = log.send(Seen::Connected { authorization: authorization.clone() });
        if authorization != format!("bearer {KEY}") {
            let body = json!({"code": "InvalidApiKey", "message": format!("Invalid API-key provided: {authorization}")}).to_string();
            let mut e = ErrorResponse::new(Some(body));
            *e.status_mut() = StatusCode::UNAUTHORIZED;
            return Err(e);
        }
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, check).await else { return };
    run(&mut ws, script, &seen, gate).await;
    let _ = seen.send(Seen::Closed);
}

async fn run(ws: &mut WebSocketStream<TcpStream>, script: Script, seen: &mpsc::UnboundedSender<Seen>, gate: Arc<Notify>) {
    let mut task = String::new();
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(t) = msg else {
            if matches!(msg, Message::Close(_)) {
                return;
            }
            continue;
        };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        let _ = seen.send(Seen::Action(v.clone()));
        match v["header"]["action"].as_str() {
            Some("run-task") => {
                task = v["header"]["task_id"].as_str().unwrap().to_owned();
                match &script {
                    Script::Refuse(code, message) => {
                        let _ = ws.send(failed(&task, code, message)).await;
                        return;
                    }
                    Script::Silent => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    _ => ws.send(event(&task, "task-started")).await.unwrap(),
                }
            }
            Some("finish-task") => {
                let frame: Vec<u8> = (0..400i16).flat_map(|s| s.to_le_bytes()).collect();
                match &script {
                    Script::Speak(frames) => {
                        for (i, f) in frames.iter().enumerate() {
                            if i == 1 {
                                // Streaming: the client has the first piece before the rest exists.
                                gate.notified().await;
                            }
                            ws.send(synthesis(&task)).await.unwrap();
                            ws.send(Message::binary(f.clone())).await.unwrap();
                        }
                        ws.send(event(&task, "task-finished")).await.unwrap();
                    }
                    Script::FailAfterAudio(code, message) => {
                        ws.send(Message::binary(frame)).await.unwrap();
                        let _ = ws.send(failed(&task, code, message)).await;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        return;
                    }
                    Script::DropAfterAudio => {
                        ws.send(Message::binary(frame)).await.unwrap();
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        return;
                    }
                    Script::Endless => loop {
                        if ws.send(Message::binary(frame.clone())).await.is_err() {
                            return;
                        }
                        // Also reads, so a closed connection is noticed.
                        if let Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) = tokio::time::timeout(Duration::from_millis(20), ws.next()).await {
                            return;
                        }
                    },
                    Script::Mute => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    Script::Refuse(..) | Script::Silent => unreachable!(),
                }
            }
            _ => {}
        }
    }
}

fn endpoint(url: &str) -> DashScopeEndpoint {
    DashScopeEndpoint { connect_timeout: Duration::from_millis(1500), ..DashScopeEndpoint::new(KEY).at(url) }
}

fn engine(url: &str) -> DashScopeTts {
    DashScopeTts::new(DashScopeTtsConfig::new(endpoint(url))).unwrap()
}

fn le(samples: impl IntoIterator<Item = i16>) -> Vec<u8> {
    samples.into_iter().flat_map(|s| s.to_le_bytes()).collect()
}

#[tokio::test]
async fn synthesis_sends_the_documented_task_and_streams_audio_as_it_comes() {
    let samples: Vec<i16> = (0..1500).map(|i| (i * 7 - 5000) as i16).collect();
    let bytes = le(samples.iter().copied());
    // The first frame ends inside a sample.
    let mut server = Server::start(Script::Speak(vec![bytes[..1001].to_vec(), bytes[1001..2400].to_vec(), bytes[2400..].to_vec()])).await;
    let tts = engine(&server.url);
    let req = TtsRequest::new("张总您好，明天上午9点开会。").voice("longwan_v2").speed(75).volume(80);
    let mut stream = tts.synthesize(req).await.expect("the task starts");

    let first = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(first, samples[..500], "the first frame's whole samples, before the server sent more");
    server.gate.notify_one();
    let mut all = first;
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap() {
        all.extend(chunk.unwrap());
    }
    assert_eq!(all, samples, "every sample, the split one joined");

    let Seen::Connected { authorization } = server.next().await else { panic!("a connection first") };
    assert_eq!(authorization, format!("bearer {KEY}"));
    let actions = server.actions().await;
    let names: Vec<&str> = actions.iter().map(|a| a["header"]["action"].as_str().unwrap()).collect();
    assert_eq!(names, ["run-task", "continue-task", "finish-task"]);
    let task = actions[0]["header"]["task_id"].as_str().unwrap();
    assert!(task.len() == 32 && task.chars().all(|c| c.is_ascii_hexdigit()), "{task}");
    assert!(actions.iter().all(|a| a["header"]["task_id"] == task && a["header"]["streaming"] == "duplex"));
    let p = &actions[0]["payload"];
    assert_eq!((p["task_group"].as_str(), p["task"].as_str(), p["function"].as_str()), (Some("audio"), Some("tts"), Some("SpeechSynthesizer")));
    assert_eq!(p["model"], "cosyvoice-v2");
    assert_eq!(p["input"], json!({}));
    let params = &p["parameters"];
    assert_eq!(params["text_type"], "PlainText");
    assert_eq!(params["voice"], "longwan_v2");
    assert_eq!(params["format"], "pcm");
    assert_eq!(params["sample_rate"], 8000);
    assert_eq!(params["volume"], 80);
    assert_eq!(params["rate"].as_f64(), Some(1.41), "speed 75 is rate √2");
    assert_eq!(params["pitch"].as_f64(), Some(1.0));
    assert_eq!(actions[1]["payload"]["input"]["text"], "张总您好，明天上午9点开会。");
    assert_eq!(actions[2]["payload"]["input"], json!({}));
}

#[tokio::test]
async fn long_text_goes_in_several_continue_tasks() {
    let mut server = Server::start(Script::Speak(vec![le([1, 2, 3])])).await;
    let text: String = "明天上午九点开会，请准时参加。".chars().cycle().take(12_000).collect();
    server.gate.notify_one();
    let pcm = synthesize_all(&engine(&server.url), TtsRequest::new(text.clone())).await.unwrap();
    assert_eq!(pcm, [1, 2, 3]);
    let actions = server.actions().await;
    let pieces: Vec<&str> = actions.iter().filter(|a| a["header"]["action"] == "continue-task").map(|a| a["payload"]["input"]["text"].as_str().unwrap()).collect();
    assert_eq!(pieces.len(), 3, "no message past DashScope's limit");
    assert_eq!(pieces.concat(), text);
    assert_eq!(actions.last().unwrap()["header"]["action"], "finish-task");
}

#[tokio::test]
async fn voices_are_cosyvoice_s_and_an_unknown_one_is_refused_before_connecting() {
    let mut server = Server::start(Script::Speak(vec![])).await;
    let tts = engine(&server.url);
    let voices = tts.voices();
    let ids: Vec<&str> = voices.iter().map(|v| v.id.as_str()).collect();
    assert_eq!(ids, ["longxiaochun_v2", "longwan_v2", "longcheng_v2", "longhua_v2"]);
    assert_eq!(voices.iter().filter(|v| v.default).count(), 1);
    assert!(voices.iter().all(|v| v.language == "zh-CN" && v.name.starts_with('龙')), "{voices:?}");

    let mut v1 = DashScopeTtsConfig::new(endpoint(&server.url));
    v1.model = "cosyvoice-v1".into();
    assert_eq!(DashScopeTts::new(v1).unwrap().voices()[0].id, "longxiaochun");

    let err = tts.synthesize(TtsRequest::new("你好").voice("longnobody")).await.err().expect("an unknown voice");
    assert!(matches!(&err, TtsError::UnknownVoice { available, .. } if available.contains("longwan_v2")), "{err}");
    let silent = synthesize_all(&tts, TtsRequest::new("  ")).await.unwrap();
    assert!(silent.is_empty());
    assert!(tokio::time::timeout(Duration::from_millis(300), server.seen.recv()).await.is_err(), "no connection for either");
}

#[tokio::test]
async fn a_bad_key_is_refused_with_its_status_and_never_shown() {
    let server = Server::start(Script::Speak(vec![])).await;
    let mut e = endpoint(&server.url);
    e.api_key = Some(format!("{KEY}-revoked"));
    let config = DashScopeTtsConfig::new(e);
    assert!(!format!("{config:?}").contains("sk-test"), "Debug hides the key");
    let err = DashScopeTts::new(config).unwrap().synthesize(TtsRequest::new("你好")).await.err().expect("refused");
    let TtsError::Http { status: 401, message } = &err else { panic!("a refused upgrade is HTTP 401: {err}") };
    assert!(message.contains("Invalid API-key"), "{message}");
    assert!(!err.to_string().contains("sk-test"), "the key is scrubbed: {err}");
}

#[tokio::test]
async fn task_failed_is_an_error_with_dashscope_s_code() {
    let server = Server::start(Script::Refuse("InvalidParameter", "voice longwan_v2 is not supported by cosyvoice-v1")).await;
    let err = engine(&server.url).synthesize(TtsRequest::new("你好")).await.err().expect("refused at run-task");
    let TtsError::Task { code, message } = &err else { panic!("a task error: {err}") };
    assert_eq!(code, "InvalidParameter");
    assert!(message.contains("not supported"), "{message}");

    // Failing after some audio: the audio, then the error, then the end.
    let server = Server::start(Script::FailAfterAudio("InternalError.Algo", "synthesis failed")).await;
    let mut stream = engine(&server.url).synthesize(TtsRequest::new("你好")).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().len(), 400);
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(err.to_string().contains("InternalError.Algo") && err.to_string().contains("synthesis failed"), "{err}");
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_connection_dropped_mid_synthesis_is_an_error_not_an_end() {
    let server = Server::start(Script::DropAfterAudio).await;
    let mut stream = engine(&server.url).synthesize(TtsRequest::new("你好")).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap().len(), 400);
    match stream.next().await {
        Some(Err(TtsError::Protocol(m))) => assert!(m.contains("closed the connection before task-finished"), "{m}"),
        other => panic!("cut-off speech is not a finished one: {other:?}"),
    }
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn silent_servers_time_out_in_bounded_time() {
    let server = Server::start(Script::Silent).await;
    let started = Instant::now();
    let err = engine(&server.url).synthesize(TtsRequest::new("你好")).await.err().expect("no task-started");
    assert!(matches!(err, TtsError::Timeout(1500)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());

    let server = Server::start(Script::Mute).await;
    let mut c = DashScopeTtsConfig::new(endpoint(&server.url));
    c.first_audio_timeout = Duration::from_millis(400);
    let mut stream = DashScopeTts::new(c).unwrap().synthesize(TtsRequest::new("你好")).await.unwrap();
    let started = Instant::now();
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(matches!(err, TtsError::Timeout(400)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let mut server = Server::start(Script::Endless).await;
    let mut stream = engine(&server.url).synthesize(TtsRequest::new("你好")).await.unwrap();
    for _ in 0..3 {
        stream.next().await.unwrap().unwrap();
    }
    let dropped = Instant::now();
    drop(stream);
    let actions = server.actions().await;
    assert_eq!(actions.len(), 3, "run, continue, finish: {actions:?}");
    assert!(dropped.elapsed() < Duration::from_secs(2), "the server saw the connection end: {:?}", dropped.elapsed());
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/api-ws/v1/inference", listener.local_addr().unwrap());
    drop(listener);
    let err = engine(&url).synthesize(TtsRequest::new("你好")).await.err().unwrap();
    assert!(matches!(err, TtsError::Unreachable(_)), "{err}");
}

#[test]
fn a_key_file_gives_the_key_for_the_public_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, format!("{KEY}\n")).unwrap();
    let e = DashScopeEndpoint::from_key_file(&path).unwrap();
    assert_eq!(e.api_key.as_deref(), Some(KEY));
    assert_eq!(e.url, waihu_speech::dashscope::DEFAULT_URL);
}
