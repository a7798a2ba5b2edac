//! The Paraformer realtime engine against local servers that speak
//! DashScope's WebSocket task protocol: the `bearer` key in the upgrade (a
//! 401 there for a bad one), `run-task` answered by `task-started`, the
//! audio as binary frames, `result-generated` sentences (guesses and
//! settled ones), `finish-task` answered by `task-finished`, and
//! `task-failed` with an error code, dropped connections and silence.

// The upgrade callback's error type is tungstenite's own HTTP response.
#![allow(clippy::result_large_err)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Message;
use waihu_speech::asr::{AsrEvent, DashScopeAsr, DashScopeAsrConfig};
use waihu_speech::dashscope::DashScopeEndpoint;
use waihu_speech::{AsrError, AsrSession, StreamingAsr};

const KEY: &str = "sk-test-dashscope-0123456789abcdef";

/// How the server handles one task (tasks take the scripts in order,
/// across connections).
#[derive(Clone)]
enum Task {
    /// Starts; after each byte count of audio, a sentence (text, settled?);
    /// on `finish-task`, after `delay_ms`, the settled sentences and
    /// `task-finished`.
    Hear { sentences: Vec<(usize, &'static str, bool)>, at_finish: Vec<&'static str>, delay_ms: u64 },
    /// `task-failed` in answer to `run-task`.
    Refuse(&'static str, &'static str),
    /// Starts, then `task-failed` once this much audio came.
    FailAfter(usize, &'static str, &'static str),
    /// Starts, then drops the connection once this much audio came.
    DropAfter(usize),
    /// Never answers `run-task`.
    Silent,
    /// Starts, guesses once audio came, never sends `task-finished`.
    NeverFinish(&'static str),
    /// Starts, guesses once audio came, drops the connection at `finish-task`.
    DropAtFinish(&'static str),
}

fn hear(sentences: Vec<(usize, &'static str, bool)>, at_finish: Vec<&'static str>) -> Task {
    Task::Hear { sentences, at_finish, delay_ms: 0 }
}

/// What the server saw, with the connection's number.
#[derive(Debug, Clone)]
enum Seen {
    Connected { conn: usize, authorization: String, workspace: Option<String> },
    RunTask { conn: usize, message: Value },
    Audio { conn: usize, task: String, bytes: Vec<u8> },
    FinishTask { conn: usize, message: Value },
    Closed { conn: usize },
}

struct Server {
    url: String,
    seen: mpsc::UnboundedReceiver<Seen>,
}

impl Server {
    async fn start(tasks: Vec<Task>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/api-ws/v1/inference", listener.local_addr().unwrap());
        let (tx, seen) = mpsc::unbounded_channel();
        let tasks = Arc::new(Mutex::new(VecDeque::from(tasks)));
        tokio::spawn(async move {
            for conn in 0.. {
                let Ok((tcp, _)) = listener.accept().await else { return };
                tokio::spawn(serve(tcp, conn, tasks.clone(), tx.clone()));
            }
        });
        Server { url, seen }
    }

    /// The next thing seen, in a few seconds.
    async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(5), self.seen.recv()).await.expect("the server saw something").expect("the server runs")
    }

    /// Everything seen until (and with) the first that `stop` picks.
    async fn until(&mut self, stop: impl Fn(&Seen) -> bool) -> Vec<Seen> {
        let mut all = Vec::new();
        loop {
            let s = self.next().await;
            let last = stop(&s);
            all.push(s);
            if last {
                return all;
            }
        }
    }

    /// What is seen within `d`, without waiting for more.
    async fn quiet_for(&mut self, d: Duration) -> Vec<Seen> {
        let mut all = Vec::new();
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(s)) = tokio::time::timeout_at(deadline, self.seen.recv()).await {
            all.push(s);
        }
        all
    }
}

fn event(task: &str, name: &str, payload: Value) -> Message {
    Message::text(json!({"header": {"task_id": task, "event": name, "attributes": {}}, "payload": payload}).to_string())
}

fn sentence(task: &str, text: &str, end: bool) -> Message {
    let output = json!({"output": {"sentence": {"begin_time": 170, "end_time": if end { json!(920) } else { Value::Null },
        "text": text, "heartbeat": false, "sentence_end": end, "words": []}}, "usage": null});
    event(task, "result-generated", output)
}

fn failed(task: &str, code: &str, message: &str) -> Message {
    let v = json!({"header": {"task_id": task, "event": "task-failed", "error_code": code, "error_message": message, "attributes": {}}, "payload": {}});
    Message::text(v.to_string())
}

async fn serve(tcp: TcpStream, conn: usize, tasks: Arc<Mutex<VecDeque<Task>>>, seen: mpsc::UnboundedSender<Seen>) {
    let log = seen.clone();
    let check = move |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let authorization = header("authorization").unwrap_or_default();
        let _ = log.send(Seen::Connected { conn, authorization: authorization.clone(), workspace: header("x-dashscope-workspace") });
        if authorization != format!("bearer {KEY}") {
            // Echoing what was sent: the engine must scrub it.
            let body = json!({"code": "InvalidApiKey", "message": format!("Invalid API-key provided: {authorization}")}).to_string();
            let mut e = ErrorResponse::new(Some(body));
            *e.status_mut() = StatusCode::UNAUTHORIZED;
            return Err(e);
        }
        Ok(resp)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, check).await else { return };
    // The task under way: id, script, audio bytes so far, sentences sent.
    let mut current: Option<(String, Task, usize, usize)> = None;
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                let id = v["header"]["task_id"].as_str().unwrap_or_default().to_owned();
                match v["header"]["action"].as_str() {
                    Some("run-task") => {
                        let _ = seen.send(Seen::RunTask { conn, message: v.clone() });
                        let script = tasks.lock().unwrap().pop_front().expect("a script for each task");
                        match script {
                            Task::Refuse(code, message) => {
                                let _ = ws.send(failed(&id, code, message)).await;
                                break;
                            }
                            Task::Silent => {
                                tokio::time::sleep(Duration::from_secs(30)).await;
                                return;
                            }
                            _ => {
                                ws.send(event(&id, "task-started", json!({}))).await.unwrap();
                                current = Some((id, script, 0, 0));
                            }
                        }
                    }
                    Some("finish-task") => {
                        let _ = seen.send(Seen::FinishTask { conn, message: v.clone() });
                        if let Some((_, Task::DropAtFinish(_), ..)) = current {
                            drop(ws);
                            let _ = seen.send(Seen::Closed { conn });
                            return;
                        }
                        if let Some((task, Task::Hear { at_finish, delay_ms, .. }, ..)) = current.take() {
                            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                            for text in at_finish {
                                ws.send(sentence(&task, text, true)).await.unwrap();
                            }
                            ws.send(event(&task, "task-finished", json!({"output": {}}))).await.unwrap();
                        }
                    }
                    other => panic!("unexpected action {other:?}: {v}"),
                }
            }
            Message::Binary(b) => {
                let Some((task, script, bytes, sent)) = current.as_mut() else { panic!("audio outside a task") };
                let _ = seen.send(Seen::Audio { conn, task: task.clone(), bytes: b.to_vec() });
                *bytes += b.len();
                match script {
                    Task::Hear { sentences, .. } => {
                        while let Some((_, text, end)) = sentences.get(*sent).filter(|(after, ..)| *bytes >= *after).copied() {
                            ws.send(sentence(task, text, end)).await.unwrap();
                            *sent += 1;
                        }
                    }
                    Task::FailAfter(after, code, message) if *bytes >= *after => {
                        let _ = ws.send(failed(task, code, message)).await;
                        // The connection is done after task-failed; DashScope
                        // closes it once the event is out.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        break;
                    }
                    Task::DropAfter(after) if *bytes >= *after => {
                        // No closing handshake: the connection just goes.
                        drop(ws);
                        let _ = seen.send(Seen::Closed { conn });
                        return;
                    }
                    Task::NeverFinish(text) | Task::DropAtFinish(text) if *sent == 0 => {
                        ws.send(sentence(task, text, false)).await.unwrap();
                        *sent = 1;
                    }
                    _ => {}
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    let _ = seen.send(Seen::Closed { conn });
}

fn endpoint(url: &str) -> DashScopeEndpoint {
    DashScopeEndpoint { connect_timeout: Duration::from_millis(1500), ..DashScopeEndpoint::new(KEY).at(url) }
}

fn engine(url: &str) -> DashScopeAsr {
    DashScopeAsr::new(DashScopeAsrConfig::new(endpoint(url))).unwrap()
}

/// The next event, in a few seconds.
async fn next(session: &mut AsrSession) -> AsrEvent {
    tokio::time::timeout(Duration::from_secs(5), session.events.recv()).await.expect("an event in time").expect("the session goes on")
}

/// `frames` 20 ms frames whose samples count up from `from`.
fn push(session: &AsrSession, from: i16, frames: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for f in 0..frames {
        let pcm: Vec<i16> = (0..160).map(|i| from.wrapping_add((f * 160 + i) as i16)).collect();
        assert!(session.input.push_pcm(&pcm), "the engine keeps up");
        bytes.extend(pcm.iter().flat_map(|s| s.to_le_bytes()));
    }
    bytes
}

fn final_text(ev: &AsrEvent) -> &str {
    match ev {
        AsrEvent::Final(t) => &t.text,
        other => panic!("expected a final, got {other:?}"),
    }
}

/// Asserts two byte runs are equal without printing them whole.
#[track_caller]
fn assert_same_audio(got: &[u8], want: &[u8], what: &str) {
    let first_difference = got.iter().zip(want).position(|(a, b)| a != b);
    assert!(got == want, "{what}: {} bytes, {} expected, first difference at {first_difference:?}", got.len(), want.len());
}

fn audio_of(seen: &[Seen]) -> (Vec<u8>, usize) {
    let frames: Vec<&Vec<u8>> = seen.iter().filter_map(|s| if let Seen::Audio { bytes, .. } = s { Some(bytes) } else { None }).collect();
    (frames.iter().flat_map(|b| b.iter().copied()).collect(), frames.len())
}

#[tokio::test]
async fn each_run_is_a_task_whose_audio_gives_partials_and_one_final() {
    let mut server = Server::start(vec![
        hear(vec![(1600, "明天", false), (4800, "明天上午", false)], vec!["明天上午开会。"]),
        hear(vec![(1600, "好的", false)], vec!["好的。"]),
    ])
    .await;
    let mut e = endpoint(&server.url);
    e.workspace = Some("ws-0123".into());
    let asr = DashScopeAsr::new(DashScopeAsrConfig::new(e)).unwrap();
    let mut session = asr.start().await.expect("the first task starts with the session");

    // The upgrade carries the key and the workspace; run-task is as documented.
    let Seen::Connected { conn: 0, authorization, workspace } = server.next().await else { panic!("a connection first") };
    assert_eq!(authorization, format!("bearer {KEY}"));
    assert_eq!(workspace.as_deref(), Some("ws-0123"));
    let Seen::RunTask { conn: 0, message: run } = server.next().await else { panic!("then run-task") };
    let task1 = run["header"]["task_id"].as_str().unwrap().to_owned();
    assert!(task1.len() == 32 && task1.chars().all(|c| c.is_ascii_hexdigit()), "{task1}");
    assert_eq!(run["header"]["action"], "run-task");
    assert_eq!(run["header"]["streaming"], "duplex");
    let p = &run["payload"];
    assert_eq!((p["task_group"].as_str(), p["task"].as_str(), p["function"].as_str()), (Some("audio"), Some("asr"), Some("recognition")));
    assert_eq!(p["model"], "paraformer-realtime-8k-v2");
    assert_eq!(p["parameters"]["format"], "pcm");
    assert_eq!(p["parameters"]["sample_rate"], 8000);
    assert_eq!(p["input"], json!({}));

    // A run of 540 ms: its guesses as they come, then its final (the last
    // 40 ms do not fill a frame: the finalise sends them).
    let pushed = push(&session, 0, 27);
    assert_eq!(next(&mut session).await, AsrEvent::Partial("明天".into()));
    assert_eq!(next(&mut session).await, AsrEvent::Partial("明天上午".into()));
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "明天上午开会。");
    let seen = server.until(|s| matches!(s, Seen::FinishTask { .. })).await;
    let (audio, frames) = audio_of(&seen);
    assert_same_audio(&audio, &pushed, "every sample, in order, as 16-bit little-endian");
    assert_eq!(frames, 6, "100 ms a frame, not one per 20 ms push, and the rest");
    assert!(seen.iter().all(|s| !matches!(s, Seen::Audio { task, .. } if *task != task1)), "the audio went into the first task");
    let Some(Seen::FinishTask { message: finish, .. }) = seen.last() else { unreachable!() };
    assert_eq!(finish["header"]["action"], "finish-task");
    assert_eq!(finish["header"]["task_id"].as_str(), Some(task1.as_str()));
    assert_eq!(finish["payload"]["input"], json!({}));

    // The next run is a new task on the same connection.
    let pushed = push(&session, 1000, 12);
    assert_eq!(next(&mut session).await, AsrEvent::Partial("好的".into()));
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "好的。");
    let seen = server.until(|s| matches!(s, Seen::FinishTask { .. })).await;
    let Some(Seen::RunTask { conn, message }) = seen.first() else { panic!("a second run-task: {seen:?}") };
    assert_eq!(*conn, 0, "the connection is kept between runs");
    assert_ne!(message["header"]["task_id"].as_str(), Some(task1.as_str()), "a fresh task id");
    assert_same_audio(&audio_of(&seen).0, &pushed, "the second run's audio");

    // A finalise with nothing pushed is answered at once, with nothing.
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "");
    let more = server.quiet_for(Duration::from_millis(300)).await;
    assert!(more.is_empty(), "nothing to ask the server: {more:?}");

    // Dropping the session ends the connection.
    drop(session);
    assert!(matches!(server.next().await, Seen::Closed { conn: 0 }));
}

#[tokio::test]
async fn sentences_settled_during_a_run_come_in_its_one_final() {
    let mut server = Server::start(vec![hear(vec![(1600, "你好。", true), (3200, "我想", false)], vec!["我想问一下账单。"])]).await;
    let mut session = engine(&server.url).start().await.unwrap();
    push(&session, 0, 15);
    // A settled sentence is not a final of its own: the run is not over.
    assert_eq!(next(&mut session).await, AsrEvent::Partial("你好。".into()));
    assert_eq!(next(&mut session).await, AsrEvent::Partial("你好。我想".into()));
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "你好。我想问一下账单。");
    server.until(|s| matches!(s, Seen::FinishTask { .. })).await;
    assert!(tokio::time::timeout(Duration::from_millis(300), session.events.recv()).await.is_err(), "one final for one finalise");
}

#[tokio::test]
async fn audio_pushed_while_a_task_finishes_goes_to_the_next_task() {
    let mut server = Server::start(vec![
        Task::Hear { sentences: vec![], at_finish: vec!["第一句。"], delay_ms: 400 },
        hear(vec![], vec!["第二句。"]),
    ])
    .await;
    let mut session = engine(&server.url).start().await.unwrap();
    push(&session, 0, 10);
    session.input.finalise();
    // The next run starts and ends before the first task has finished.
    let second = push(&session, 3000, 13);
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "第一句。");
    assert_eq!(final_text(&next(&mut session).await), "第二句。");
    let seen = server.until(|s| matches!(s, Seen::FinishTask { .. })).await;
    let seen2 = server.until(|s| matches!(s, Seen::FinishTask { .. })).await;
    let first_task = seen.iter().find_map(|s| if let Seen::Audio { task, .. } = s { Some(task.clone()) } else { None }).unwrap();
    assert!(seen2.iter().any(|s| matches!(s, Seen::RunTask { .. })));
    let (audio2, _) = audio_of(&seen2);
    assert_same_audio(&audio2, &second, "the held audio, whole, in the second task");
    assert!(seen2.iter().all(|s| !matches!(s, Seen::Audio { task, .. } if *task == first_task)));
}

#[tokio::test]
async fn a_bad_key_is_refused_at_start_with_its_status_and_never_shown() {
    let server = Server::start(vec![]).await;
    let mut e = endpoint(&server.url);
    e.api_key = Some(format!("{KEY}-wrong"));
    let config = DashScopeAsrConfig::new(e);
    assert!(!format!("{config:?}").contains("sk-test"), "Debug hides the key: {config:?}");
    let err = DashScopeAsr::new(config).unwrap().start().await.unwrap_err();
    let AsrError::Http { status: 401, message } = &err else { panic!("a refused upgrade is HTTP 401: {err}") };
    assert!(message.contains("Invalid API-key"), "DashScope's message: {message}");
    assert!(!err.to_string().contains("sk-test"), "the key is scrubbed: {err}");

    let no_key = DashScopeEndpoint { api_key: None, ..endpoint(&server.url) };
    let err = DashScopeAsr::new(DashScopeAsrConfig::new(no_key)).unwrap_err();
    assert!(matches!(&err, AsrError::NotConfigured(m) if m.contains("DASHSCOPE_API_KEY")), "{err}");
}

#[tokio::test]
async fn a_refused_task_is_an_error_with_dashscope_s_code() {
    let server = Server::start(vec![Task::Refuse("ModelNotFound", "Model not found (paraformer-nope)!")]).await;
    let mut c = DashScopeAsrConfig::new(endpoint(&server.url));
    c.model = "paraformer-nope".into();
    let err = DashScopeAsr::new(c).unwrap().start().await.unwrap_err();
    let AsrError::Task { code, message } = &err else { panic!("task-failed is a task error: {err}") };
    assert_eq!(code, "ModelNotFound");
    assert_eq!(message, "Model not found (paraformer-nope)!");
    assert!(err.to_string().contains("ModelNotFound") && err.to_string().contains("Model not found"), "{err}");
}

#[tokio::test]
async fn a_run_whose_task_fails_is_reported_and_the_next_run_starts_over() {
    let mut server = Server::start(vec![Task::FailAfter(1600, "Throttling.RateQuota", "Requests rate limit exceeded"), hear(vec![], vec!["好的。"])]).await;
    let mut session = engine(&server.url).start().await.unwrap();
    push(&session, 0, 10);
    match next(&mut session).await {
        AsrEvent::Error(AsrError::Task { code, message }) => {
            assert_eq!(code, "Throttling.RateQuota");
            assert_eq!(message, "Requests rate limit exceeded");
        }
        other => panic!("the failure is reported: {other:?}"),
    }
    push(&session, 0, 5);
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "", "the failed run's finalise is still answered");

    push(&session, 0, 10);
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "好的。", "the next run works again");
    let seen = server.until(|s| matches!(s, Seen::FinishTask { .. })).await;
    assert!(seen.iter().any(|s| matches!(s, Seen::Connected { conn: 1, .. })), "on a new connection: {seen:?}");
    let (audio, _) = audio_of(&seen.iter().filter(|s| matches!(s, Seen::Audio { conn: 1, .. })).cloned().collect::<Vec<_>>());
    assert_eq!(audio.len(), 10 * 320, "only the new run's audio: the failed run's rest was dropped");
}

#[tokio::test]
async fn a_connection_dropped_mid_run_is_reported_and_the_next_run_reconnects() {
    let mut server = Server::start(vec![Task::DropAfter(1600), hear(vec![], vec!["在的。"])]).await;
    let mut session = engine(&server.url).start().await.unwrap();
    push(&session, 0, 10);
    match next(&mut session).await {
        AsrEvent::Error(AsrError::Protocol(m)) => assert!(m.contains("closed the connection before task-finished"), "{m}"),
        other => panic!("the dropped connection is reported: {other:?}"),
    }
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "");
    push(&session, 0, 10);
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "在的。");
    let seen = server.until(|s| matches!(s, Seen::FinishTask { .. })).await;
    assert!(seen.iter().any(|s| matches!(s, Seen::Connected { conn: 1, .. })), "{seen:?}");
}

#[tokio::test]
async fn a_connection_dropped_at_the_end_of_a_run_still_answers_its_finalise() {
    let mut server = Server::start(vec![Task::DropAtFinish("明天"), hear(vec![], vec!["好。"])]).await;
    let mut session = engine(&server.url).start().await.unwrap();
    push(&session, 0, 10);
    assert_eq!(next(&mut session).await, AsrEvent::Partial("明天".into()));
    session.input.finalise();
    match next(&mut session).await {
        AsrEvent::Error(AsrError::Protocol(m)) => assert!(m.contains("closed the connection before task-finished"), "{m}"),
        other => panic!("the dropped connection is reported: {other:?}"),
    }
    // The words went with the connection: the final is empty, and comes.
    assert_eq!(final_text(&next(&mut session).await), "");
    push(&session, 0, 10);
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "好。");
    let seen = server.until(|s| matches!(s, Seen::FinishTask { conn: 1, .. })).await;
    assert!(seen.iter().any(|s| matches!(s, Seen::Connected { conn: 1, .. })));
}

#[tokio::test]
async fn dropping_the_session_mid_run_finishes_the_task_and_closes() {
    let mut server = Server::start(vec![hear(vec![], vec![])]).await;
    let session = engine(&server.url).start().await.unwrap();
    let pushed = push(&session, 0, 12);
    drop(session);
    let seen = server.until(|s| matches!(s, Seen::Closed { .. })).await;
    assert_same_audio(&audio_of(&seen).0, &pushed, "what was queued is still sent");
    let finish = seen.iter().position(|s| matches!(s, Seen::FinishTask { .. })).expect("the task is finished, not just cut");
    assert!(matches!(seen[finish + 1..], [Seen::Closed { conn: 0 }]), "{seen:?}");
}

#[tokio::test]
async fn a_server_that_never_starts_the_task_times_out() {
    let server = Server::start(vec![Task::Silent]).await;
    let asr = DashScopeAsr::new(DashScopeAsrConfig::new(DashScopeEndpoint { connect_timeout: Duration::from_millis(600), ..endpoint(&server.url) })).unwrap();
    let started = Instant::now();
    let err = asr.start().await.unwrap_err();
    assert_eq!(err, AsrError::Timeout(600));
    assert!(started.elapsed() < Duration::from_secs(3), "bounded: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_missing_task_finished_still_gives_the_final_in_time() {
    let mut server = Server::start(vec![Task::NeverFinish("明天上午"), hear(vec![], vec!["好。"])]).await;
    let mut c = DashScopeAsrConfig::new(endpoint(&server.url));
    c.final_timeout = Duration::from_millis(500);
    let mut session = DashScopeAsr::new(c).unwrap().start().await.unwrap();
    push(&session, 0, 10);
    assert_eq!(next(&mut session).await, AsrEvent::Partial("明天上午".into()));
    let asked = Instant::now();
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "明天上午", "what was heard, when the server says no more");
    let waited = asked.elapsed();
    assert!(waited >= Duration::from_millis(450) && waited < Duration::from_secs(2), "{waited:?}");
    // That connection is given up; the next run gets a new one.
    push(&session, 0, 10);
    session.input.finalise();
    assert_eq!(final_text(&next(&mut session).await), "好。");
    let seen = server.until(|s| matches!(s, Seen::FinishTask { conn: 1, .. })).await;
    assert!(seen.iter().any(|s| matches!(s, Seen::Connected { conn: 1, .. })));
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/api-ws/v1/inference", listener.local_addr().unwrap());
    drop(listener);
    let err = engine(&url).start().await.unwrap_err();
    assert!(matches!(err, AsrError::Unreachable(_)), "{err}");
}
