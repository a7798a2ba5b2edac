//! The OpenAI-compatible engine against a local server that speaks the real
//! wire format: `text/event-stream` chunks as OpenAI and DeepSeek send them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_stream::wrappers::ReceiverStream;
use waihu_agent::gate::SAFE_FALLBACK;
use waihu_agent::openai::{OpenAiConfig, OpenAiEngine};
use waihu_agent::prompt::{CALL_ANSWERED_NOTE, INTERRUPTED_NOTE, SILENCE_NOTE};
use waihu_agent::{ChatRequest, Conversation, Llm, LlmError, LlmEvent, LlmStream, Turn};
use waihu_core::Outcome;

const KEY: &str = "sk-test-0123456789abcdef0123456789abcdef";
const TASK: &str = "通知张总明天上午9点开会，我是王经理";

/// What the server answers to one request.
enum Script {
    /// An event stream: each piece of bytes is written after its delay.
    Stream(Vec<(u64, Vec<u8>)>),
    /// An error status with a body.
    Error(u16, String),
    /// Headers, then nothing, never ending.
    HeadersThenStall,
    /// A whole JSON answer (a server that ignores `"stream": true`).
    Json(String),
}

#[derive(Default)]
struct Shared {
    scripts: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<(HeaderMap, Value)>>,
    /// When each streamed piece was written.
    sent_at: Mutex<Vec<Instant>>,
    /// The client went away before the stream was over.
    client_left: AtomicBool,
}

struct MockServer {
    base_url: String,
    shared: Arc<Shared>,
}

impl MockServer {
    async fn start(scripts: Vec<Script>) -> Self {
        let shared = Arc::new(Shared { scripts: Mutex::new(scripts.into()), ..Shared::default() });
        let app = Router::new().route("/v1/chat/completions", post(answer)).with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        MockServer { base_url: format!("http://{addr}/v1"), shared }
    }

    fn config(&self) -> OpenAiConfig {
        let mut c = OpenAiConfig::new("deepseek", &self.base_url, "deepseek-chat");
        c.first_token_timeout = Duration::from_secs(3);
        c.idle_timeout = Duration::from_secs(2);
        c
    }

    fn engine(&self, key: Option<&str>) -> OpenAiEngine {
        let mut c = self.config();
        c.api_key = key.map(str::to_owned);
        OpenAiEngine::new(c).unwrap()
    }

    fn requests(&self) -> Vec<(HeaderMap, Value)> {
        self.shared.requests.lock().unwrap().clone()
    }
}

async fn answer(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.requests.lock().unwrap().push((headers, parsed));
    let script = shared.scripts.lock().unwrap().pop_front();
    match script {
        None => (StatusCode::INTERNAL_SERVER_ERROR, "no script left").into_response(),
        Some(Script::Error(status, body)) => {
            (StatusCode::from_u16(status).unwrap(), [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Some(Script::Json(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Some(Script::HeadersThenStall) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
            // Holding the sender keeps the body open and silent.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(30)).await;
                drop(tx);
            });
            event_stream(rx)
        }
        Some(Script::Stream(pieces)) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
            tokio::spawn(async move {
                for (delay, piece) in pieces {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    shared.sent_at.lock().unwrap().push(Instant::now());
                    if tx.send(Ok(Bytes::from(piece))).await.is_err() {
                        shared.client_left.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            });
            event_stream(rx)
        }
    }
}

fn event_stream(rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(ReceiverStream::new(rx)))
        .unwrap()
}

/// One `data:` event exactly as DeepSeek writes it.
fn chunk(delta: Value, finish: Option<&str>) -> String {
    let body = json!({
        "id": "3f2a9c1e-0b1d-4c1e-9a57-1c2d3e4f5a6b",
        "object": "chat.completion.chunk",
        "created": 1_760_000_000,
        "model": "deepseek-chat",
        "system_fingerprint": "fp_08f168e49b_prod0820_fp8_kvcache",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
    });
    format!("data: {body}\n\n")
}

fn text_chunk(text: &str) -> String {
    chunk(json!({"content": text}), None)
}

const USAGE: &str = "data: {\"id\":\"3f2a\",\"object\":\"chat.completion.chunk\",\"created\":1760000000,\"model\":\"deepseek-chat\",\"choices\":[],\"usage\":{\"prompt_tokens\":812,\"completion_tokens\":31,\"total_tokens\":843}}\n\n";
const DONE: &str = "data: [DONE]\n\n";

/// A whole spoken reply, ending with `hang_up` when `outcome` is given.
fn reply_script(pieces: &[&str], outcome: Option<&str>) -> Script {
    let mut s = vec![(0, chunk(json!({"role": "assistant", "content": ""}), None))];
    s.extend(pieces.iter().map(|p| (5, text_chunk(p))));
    match outcome {
        Some(o) => {
            s.push((5, chunk(json!({"tool_calls": [{"index": 0, "id": "call_0", "type": "function", "function": {"name": "hang_up", "arguments": ""}}]}), None)));
            s.push((5, chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": format!("{{\"outcome\": \"{o}\"}}")}}]}), None)));
            s.push((5, chunk(json!({}), Some("tool_calls"))));
        }
        None => s.push((5, chunk(json!({}), Some("stop")))),
    }
    s.push((0, USAGE.to_owned()));
    s.push((0, DONE.to_owned()));
    stream(s)
}

fn stream(pieces: Vec<(u64, String)>) -> Script {
    Script::Stream(pieces.into_iter().map(|(delay, p)| (delay, p.into_bytes())).collect())
}

fn request(history: Vec<Turn>) -> ChatRequest {
    ChatRequest { task: TASK.into(), history }
}

async fn collect(mut stream: LlmStream) -> Vec<Result<LlmEvent, LlmError>> {
    let mut out = Vec::new();
    while let Some(ev) = stream.next().await {
        out.push(ev);
    }
    out
}

fn text(s: &str) -> LlmEvent {
    LlmEvent::Text(s.to_owned())
}

#[tokio::test]
async fn text_streams_in_pieces_and_the_first_arrives_before_the_rest_is_sent() {
    let server = MockServer::start(vec![stream(vec![
        (0, ": keep-alive\r\n\r\n".to_owned()),
        (0, chunk(json!({"role": "assistant", "content": ""}), None).replace("\n\n", "\r\n\r\n")),
        (0, text_chunk("喂，您好，")),
        (300, text_chunk("我是王经理的 AI 助理，")),
        (300, text_chunk("请问是张总吗？")),
        (300, chunk(json!({}), Some("stop")) + USAGE + DONE),
    ])])
    .await;
    let engine = server.engine(None);
    let start = Instant::now();
    let mut stream = engine.chat(request(vec![])).await.unwrap();

    let first = stream.next().await.unwrap().unwrap();
    let first_at = Instant::now();
    assert_eq!(first, text("喂，您好，"));
    let rest = collect(stream).await;
    let end_at = Instant::now();

    let rest: Vec<_> = rest.into_iter().map(Result::unwrap).collect();
    assert_eq!(rest, vec![text("我是王经理的 AI 助理，"), text("请问是张总吗？")]);
    let sent = server.shared.sent_at.lock().unwrap().clone();
    assert!(first_at < sent[3], "the first piece was held until the server wrote the second");
    assert!(end_at - start >= Duration::from_millis(850), "the stream ended after {:?}", end_at - start);
}

#[tokio::test]
async fn a_tool_call_split_over_chunks_becomes_one_hang_up() {
    // The arguments are cut mid-word, and one event is cut across two
    // network writes in the middle of a three-byte character.
    let goodbye = text_chunk("好的，那不打扰您了，再见！");
    // One byte into the three bytes of 再.
    let cut = goodbye.find('再').unwrap() + 1;
    let goodbye = goodbye.into_bytes();
    let mut pieces: Vec<(u64, Vec<u8>)> = vec![
        (0, chunk(json!({"role": "assistant", "content": ""}), None).into_bytes()),
        (0, goodbye[..cut].to_vec()),
        (20, goodbye[cut..].to_vec()),
    ];
    pieces.extend(
        [
            chunk(json!({"content": null, "tool_calls": [{"index": 0, "id": "call_0_7f3e", "type": "function", "function": {"name": "hang_up", "arguments": ""}}]}), None),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"out"}}]}), None),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "come\": \"deliv"}}]}), None),
            chunk(json!({"tool_calls": [{"index": 0, "function": {"arguments": "ered\"}"}}]}), None),
            chunk(json!({}), Some("tool_calls")),
            USAGE.to_owned(),
            DONE.to_owned(),
        ]
        .into_iter()
        .map(|p| (20, p.into_bytes())),
    );
    let server = MockServer::start(vec![Script::Stream(pieces)]).await;
    let events: Vec<_> = collect(server.engine(None).chat(request(vec![])).await.unwrap()).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(events, vec![text("好的，那不打扰您了，再见！"), LlmEvent::HangUp { outcome: Some(Outcome::Delivered) }]);
}

#[tokio::test]
async fn the_request_carries_model_stream_tools_prompt_history_and_key() {
    let server = MockServer::start(vec![reply_script(&["好的。"], None), reply_script(&["好的。"], None)]).await;
    let history = vec![
        Turn::Assistant("喂，您好，我是王经理的 AI 助理，请问是张总吗？".into()),
        Turn::Silence,
        Turn::Interrupted { played: "喂，您好，能".into() },
        Turn::User("是我，什么事？".into()),
    ];
    collect(server.engine(Some(KEY)).chat(request(history.clone())).await.unwrap()).await;
    collect(server.engine(None).chat(request(history)).await.unwrap()).await;

    let requests = server.requests();
    let (headers, body) = &requests[0];
    assert_eq!(headers.get(header::AUTHORIZATION).unwrap(), &format!("Bearer {KEY}"));
    assert_eq!(headers.get(header::CONTENT_TYPE).unwrap(), "application/json");
    assert_eq!(body["model"], "deepseek-chat");
    assert_eq!(body["stream"], true);
    assert!(body["max_tokens"].as_u64().unwrap() > 0);
    let tools = body["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["type"], "function");
    assert_eq!(tools[0]["function"]["name"], "hang_up");
    let outcomes = &tools[0]["function"]["parameters"]["properties"]["outcome"]["enum"];
    assert!(outcomes.as_array().unwrap().contains(&json!("wrong_person")), "{outcomes}");

    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"].as_str().unwrap().contains(TASK));
    let rest: Vec<(&str, &str)> = messages[1..].iter().map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap())).collect();
    let interrupted = format!("喂，您好，能{INTERRUPTED_NOTE}");
    assert_eq!(
        rest,
        vec![
            ("user", CALL_ANSWERED_NOTE),
            ("assistant", "喂，您好，我是王经理的 AI 助理，请问是张总吗？"),
            ("user", SILENCE_NOTE),
            ("assistant", interrupted.as_str()),
            ("user", "是我，什么事？"),
        ]
    );

    let (headers, body) = &requests[1];
    assert!(headers.get(header::AUTHORIZATION).is_none(), "no key, no Authorization header");
    assert_eq!(body["messages"], requests[0].1["messages"]);
}

#[tokio::test]
async fn http_errors_carry_status_and_message_but_never_the_key() {
    let cases = [
        (401, format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}}}"#), "Incorrect API key provided"),
        (429, r#"{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}"#.to_owned(), "Rate limit reached for requests"),
        (500, r#"{"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}}"#.to_owned(), "The server had an error"),
        (402, r#"{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}"#.to_owned(), "Insufficient Balance"),
    ];
    for (status, body, expected) in cases {
        let server = MockServer::start(vec![Script::Error(status, body)]).await;
        let err = match server.engine(Some(KEY)).chat(request(vec![])).await {
            Err(e) => e,
            Ok(_) => panic!("HTTP {status} gave a stream"),
        };
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(KEY) && !shown.contains(&KEY[..16]), "the key leaked: {shown}");
        match err {
            LlmError::Http { status: s, message } => {
                assert_eq!(s, status);
                assert!(message.starts_with(expected), "{message}");
                assert!(message.chars().count() <= 201, "{message}");
            }
            other => panic!("HTTP {status} gave {other:?}"),
        }
    }
}

#[tokio::test]
async fn connection_refused_is_unreachable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let engine = OpenAiEngine::new(OpenAiConfig { api_key: Some(KEY.into()), ..OpenAiConfig::new("x", format!("http://127.0.0.1:{port}/v1"), "m") }).unwrap();
    match engine.chat(request(vec![])).await {
        Err(LlmError::Unreachable(m)) => assert!(!m.contains(KEY), "{m}"),
        Err(e) => panic!("expected Unreachable, got {e:?}"),
        Ok(_) => panic!("expected Unreachable, got a stream"),
    }
}

#[tokio::test]
async fn a_stall_after_the_headers_times_out_on_the_first_token_timeout() {
    let server = MockServer::start(vec![Script::HeadersThenStall]).await;
    let mut c = server.config();
    c.first_token_timeout = Duration::from_millis(400);
    c.idle_timeout = Duration::from_millis(300);
    let engine = OpenAiEngine::new(c).unwrap();
    let start = Instant::now();
    let mut stream = engine.chat(request(vec![])).await.unwrap();
    let got = stream.next().await.unwrap();
    assert!(matches!(got, Err(LlmError::Timeout(400))), "{got:?}");
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(390) && waited < Duration::from_millis(1500), "{waited:?}");
    assert!(stream.next().await.is_none(), "a failed stream ends");
}

#[tokio::test]
async fn a_stall_mid_reply_times_out_on_the_idle_timeout() {
    let server = MockServer::start(vec![stream(vec![(0, text_chunk("喂，您好，")), (10_000, text_chunk("太迟了"))])]).await;
    let mut c = server.config();
    c.idle_timeout = Duration::from_millis(300);
    let engine = OpenAiEngine::new(c).unwrap();
    let mut stream = engine.chat(request(vec![])).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), text("喂，您好，"));
    let start = Instant::now();
    let got = stream.next().await.unwrap();
    assert!(matches!(got, Err(LlmError::Timeout(300))), "{got:?}");
    assert!(start.elapsed() < Duration::from_millis(1200), "{:?}", start.elapsed());
}

#[tokio::test]
async fn a_garbage_chunk_is_a_protocol_error_after_the_good_text() {
    let server = MockServer::start(vec![stream(vec![
        (0, text_chunk("喂，")),
        (10, "data: <html><body>502 Bad Gateway</body></html>\n\n".to_owned()),
        (10, text_chunk("您好")),
    ])])
    .await;
    let got = collect(server.engine(None).chat(request(vec![])).await.unwrap()).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].as_ref().unwrap(), &text("喂，"));
    assert!(matches!(&got[1], Err(LlmError::Protocol(m)) if m.contains("Bad Gateway")), "{:?}", got[1]);
}

#[tokio::test]
async fn a_stream_cut_before_the_end_is_a_protocol_error() {
    let server = MockServer::start(vec![stream(vec![(0, text_chunk("喂，您好，请问是"))])]).await;
    let got = collect(server.engine(None).chat(request(vec![])).await.unwrap()).await;
    assert_eq!(got[0].as_ref().unwrap(), &text("喂，您好，请问是"));
    assert!(matches!(&got[1], Err(LlmError::Protocol(_))), "{got:?}");
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let mut pieces = vec![(0, text_chunk("喂，"))];
    pieces.extend((0..20).map(|i| (100, text_chunk(&format!("第{i}句。")))));
    let server = MockServer::start(vec![stream(pieces)]).await;
    let mut stream = server.engine(None).chat(request(vec![])).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), text("喂，"));
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(3);
    while !server.shared.client_left.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the server kept generating after the caller went away");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_server_that_ignores_stream_true_still_works() {
    let whole = r#"{"id":"x","object":"chat.completion","created":1,"model":"qwen2.5","choices":[{"index":0,"message":{"role":"assistant","content":"不好意思，打扰您了，再见。","tool_calls":[{"id":"call_1","type":"function","function":{"name":"hang_up","arguments":"{\"outcome\":\"wrong_person\"}"}}]},"finish_reason":"tool_calls"}]}"#;
    let server = MockServer::start(vec![Script::Json(whole.into())]).await;
    let got: Vec<_> = collect(server.engine(None).chat(request(vec![])).await.unwrap()).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(got, vec![text("不好意思，打扰您了，再见。"), LlmEvent::HangUp { outcome: Some(Outcome::WrongPerson) }]);
}

#[tokio::test]
async fn a_whole_conversation_runs_over_the_engine() {
    let server = MockServer::start(vec![
        reply_script(&["喂，您好，", "我是王经理的 AI 助理，", "请问是张总吗？"], None),
        reply_script(&["张总您好，王经理让我通知您，", "明天上午9点有个会议，请您准时参加。", "您看时间可以吗？"], None),
        reply_script(&["好的，那不打扰您了，再见！"], Some("delivered")),
    ])
    .await;
    let mut convo = Conversation::new(Arc::new(server.engine(Some(KEY))), TASK);

    let open = convo.respond(None).await.unwrap();
    assert_eq!(open.text, "喂，您好，我是王经理的 AI 助理，请问是张总吗？");
    assert!(!open.hang_up);
    let deliver = convo.respond(Some(Turn::User("对，是我，什么事？".into()))).await.unwrap();
    assert_eq!(deliver.text, "张总您好，王经理让我通知您，明天上午9点有个会议，请您准时参加。您看时间可以吗？");
    let bye = convo.respond(Some(Turn::User("可以，知道了。".into()))).await.unwrap();
    assert_eq!(bye.text, "好的，那不打扰您了，再见！");
    assert!(bye.hang_up);
    assert_eq!(bye.outcome, Some(Outcome::Delivered));
    assert_eq!(convo.history().len(), 5);

    // Each turn sent the whole conversation so far.
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let last = requests[2].1["messages"].as_array().unwrap();
    let roles: Vec<&str> = last.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user", "assistant", "user"]);
    assert_eq!(last[5]["content"], "可以，知道了。");
    assert_eq!(last[4]["content"], deliver.text.as_str());
}

#[tokio::test]
async fn a_reply_asking_for_a_code_is_replaced_in_the_conversation() {
    let server = MockServer::start(vec![reply_script(&["张总您好，", "请把手机上的验证码告诉我。"], None)]).await;
    let mut convo = Conversation::new(Arc::new(server.engine(None)), TASK);
    let reply = convo.respond(Some(Turn::User("是我。".into()))).await.unwrap();
    assert_eq!(reply.text, SAFE_FALLBACK);
    assert!(reply.hang_up);
}
