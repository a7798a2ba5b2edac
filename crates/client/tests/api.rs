//! The client against a small axum double that answers like the spec:
//! compact JSON, SSE with keep-alives, 404 / 401 / 426. Unit-level: the real
//! end-to-end tests run against the real server elsewhere.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};
use waihu_client::{ApiKey, Client, ClientError, StreamItem, StreamLine};
use waihu_wire::{
    BalanceResponse, CallListResponse, CallRecord, CallRecordResponse, ContentLine, EngineInfo,
    EngineListResponse, InitiateCallRequest, InitiateCallResponse, PhonesField,
    SkillVersionResponse, VoiceInfo, VoiceListResponse,
};

const GOOD_KEY: &str = "sk_test_0123456789abcdefghij";

/// What the double saw.
#[derive(Default)]
struct Seen {
    /// (path, headers) of every request.
    requests: Mutex<Vec<(String, HeaderMap)>>,
    /// Tries of search_callinfo per call id.
    searches: Mutex<HashMap<String, u32>>,
    /// Query strings of GET /v1/calls.
    list_queries: Mutex<Vec<HashMap<String, String>>>,
}

#[derive(Clone)]
struct Double {
    seen: Arc<Seen>,
    /// The protocol version this server speaks (426 for any other).
    version: &'static str,
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"success": false, "message": message}))).into_response()
}

impl Double {
    /// Records the request, then applies the version and key checks.
    fn guard(&self, path: &str, headers: &HeaderMap, auth: bool) -> Result<(), Response> {
        if let Ok(mut r) = self.seen.requests.lock() {
            r.push((path.to_string(), headers.clone()));
        }
        if let Some(v) = headers.get("x-skill-version") {
            if v.as_bytes() != self.version.as_bytes() {
                return Err(error(
                    StatusCode::UPGRADE_REQUIRED,
                    &format!(
                        "client version {} is not supported; update to {}",
                        v.to_str().unwrap_or("?"),
                        self.version
                    ),
                ));
            }
        }
        if auth && headers.get("x-api-key").map(|k| k.as_bytes()) != Some(GOOD_KEY.as_bytes()) {
            return Err(error(StatusCode::UNAUTHORIZED, "invalid API key"));
        }
        Ok(())
    }

    fn tries(&self, call_id: &str) -> u32 {
        let mut m = self.seen.searches.lock().unwrap();
        let n = m.entry(call_id.to_string()).or_insert(0);
        *n += 1;
        *n
    }
}

fn record(call_id: &str, status: &str, done: bool) -> CallRecord {
    CallRecord {
        call_id: call_id.into(),
        phones: "13800138000".into(),
        user_requirement: "通知明天上午9点开会".into(),
        status: status.into(),
        duration_seconds: done.then_some(42),
        cost: if done { 0.3 } else { 0.0 },
        billed: done,
        created_at: "2026-01-01T00:00:00Z".into(),
        answered_at: None,
        ended_at: done.then(|| "2026-01-01T00:01:00Z".into()),
        call_content: vec![
            ContentLine {
                role: "assistant".into(),
                content: "喂,您好,请问是张总吗?".into(),
            },
            ContentLine {
                role: "user".into(),
                content: "对,是我。".into(),
            },
        ],
        provider_response: done.then(|| "SIP/2.0 200 OK".into()),
        hangup_by: done.then(|| "callee".into()),
        end_reason: done.then(|| "callee_hangup".into()),
        outcome: done.then(|| "delivered".into()),
        model_engine: "offline".into(),
        voice_id: "zh-female-1".into(),
        campaign: None,
        media: None,
        turns: None,
    }
}

fn found(r: CallRecord) -> Response {
    Json(CallRecordResponse {
        success: true,
        record: r,
    })
    .into_response()
}

async fn initiate(
    State(d): State<Double>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = d.guard("initiate_call", &headers, true) {
        return r;
    }
    let phones = body.get("phones").and_then(Value::as_str).unwrap_or("");
    let ids: Vec<String> = (1..=phones.split(',').count())
        .map(|i| format!("c-{i}"))
        .collect();
    Json(InitiateCallResponse {
        success: true,
        message: format!("{} call(s) queued", ids.len()),
        call_id: ids[0].clone(),
        call_ids: ids,
    })
    .into_response()
}

async fn search(State(d): State<Double>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Err(r) = d.guard("search_callinfo", &headers, true) {
        return r;
    }
    let id = body
        .get("call_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let n = d.tries(&id);
    match id.as_str() {
        "c-1" => found(record("c-1", "completed", true)),
        // Appears on the third try.
        "late" if n >= 3 => found(record("late", "completed", true)),
        "boom" => error(StatusCode::INTERNAL_SERVER_ERROR, "database is down"),
        "wrapped" => Json(json!({"success": true, "data": record("wrapped", "completed", true)}))
            .into_response(),
        "refused" => {
            Json(json!({"success": false, "message": "no such call", "code": "call_not_found"}))
                .into_response()
        }
        // Ringing twice, then over (status `ended`, from the spec's list).
        "progress" if n <= 2 => found(record(
            "progress",
            if n == 1 { "queued" } else { "ringing" },
            false,
        )),
        "progress" => found(record("progress", "ended", false)),
        "forever" => found(record("forever", "ringing", false)),
        _ => error(StatusCode::NOT_FOUND, &format!("call {id} not found")),
    }
}

/// An SSE body from (delay before, bytes) chunks; with `linger`, keeps
/// sending keep-alives afterwards instead of closing (the client must stop
/// by itself after [DONE]).
fn sse(chunks: Vec<(u64, Vec<u8>)>, linger: bool) -> Response {
    let queue: VecDeque<(u64, Vec<u8>)> = chunks.into();
    let body = futures_util::stream::unfold(queue, move |mut q| async move {
        let (delay, bytes) = match q.pop_front() {
            Some(c) => c,
            None if linger => (100, b": keep-alive\n\n".to_vec()),
            None => return None,
        };
        tokio::time::sleep(Duration::from_millis(delay)).await;
        Some((Ok::<_, Infallible>(bytes), q))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(body))
        .unwrap()
}

fn data(role: &str, content: &str) -> Vec<u8> {
    format!("data: {}\n\n", waihu_wire::sse_line_json(role, content)).into_bytes()
}

const SAMPLE: [(&str, &str); 3] = [
    ("assistant", "喂,您好,这里是XX公司,请问是张总吗?"),
    ("user", "对,是我,有什么事情?"),
    (
        "assistant",
        "好的张总,主要是通知您明天上午9点有个重要会议。",
    ),
];

async fn stream_chat(
    State(d): State<Double>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = d.guard("stream_chat_history", &headers, true) {
        return r;
    }
    let id = body.get("call_id").and_then(Value::as_str).unwrap_or("");
    let keep_alives = || (0..3).map(|_| (100, b": keep-alive\n\n".to_vec()));
    match id {
        "c-1" => {
            let mut chunks: Vec<_> = keep_alives().collect();
            chunks.extend(SAMPLE.iter().map(|(r, c)| (20, data(r, c))));
            chunks.push((20, data("system", "[DONE]")));
            sse(chunks, true)
        }
        "noanswer" => {
            let mut chunks: Vec<_> = keep_alives().collect();
            chunks.push((20, data("system", "[TIMEOUT]")));
            sse(chunks, true)
        }
        "split" => {
            // CRLF line ends, a line cut in the middle of a UTF-8 character,
            // a `\r\n` pair cut between its bytes, two lines in one chunk.
            let whole = ": keep-alive\r\n\r\ndata: {\"role\": \"assistant\", \"content\": \"喂,您好\"}\r\n\r\ndata: {\"role\": \"user\", \"content\": \"对\"}\r\n\r\ndata: {\"role\": \"system\", \"content\": \"[DONE]\"}\r\n\r\n";
            let bytes = whole.as_bytes();
            let cut_utf8 = whole.find("您").unwrap() + 1;
            let cut_crlf = whole.find("\"}\r\n").unwrap() + 3;
            let cuts = [5, cut_utf8, cut_crlf, bytes.len()];
            let mut chunks = Vec::new();
            let mut start = 0;
            for end in cuts {
                chunks.push((30, bytes[start..end].to_vec()));
                start = end;
            }
            sse(chunks, false)
        }
        "closes" => sse(
            vec![
                (10, data("assistant", "您好")),
                (10, b": keep-alive".to_vec()),
            ],
            false,
        ),
        "garbage" => sse(vec![(10, b"data: {\"role\": 1}\n\n".to_vec())], true),
        "silent" => sse(vec![(2000, data("assistant", "too late"))], false),
        _ => error(StatusCode::NOT_FOUND, &format!("call {id} not found")),
    }
}

async fn skill_version(State(d): State<Double>, headers: HeaderMap) -> Response {
    if let Err(r) = d.guard("skill_version", &headers, false) {
        return r;
    }
    Json(SkillVersionResponse {
        skill_version: d.version.into(),
    })
    .into_response()
}

async fn balance(State(d): State<Double>, headers: HeaderMap) -> Response {
    if let Err(r) = d.guard("balance", &headers, true) {
        return r;
    }
    Json(BalanceResponse {
        success: true,
        balance: 9.7,
        reserved: 0.3,
        available: 9.4,
        currency: "CNY".into(),
        rate_per_minute: 0.3,
        account: "demo".into(),
    })
    .into_response()
}

async fn engines(State(d): State<Double>, headers: HeaderMap) -> Response {
    if let Err(r) = d.guard("engine_list", &headers, false) {
        return r;
    }
    Json(EngineListResponse {
        success: true,
        engines: vec![
            EngineInfo {
                id: "offline".into(),
                name: "Offline".into(),
                description: "local".into(),
                default: true,
            },
            EngineInfo {
                id: "deepseek-chat".into(),
                name: "DeepSeek".into(),
                description: "cloud".into(),
                default: false,
            },
        ],
    })
    .into_response()
}

async fn voices(State(d): State<Double>, headers: HeaderMap) -> Response {
    if let Err(r) = d.guard("tts_list", &headers, false) {
        return r;
    }
    Json(VoiceListResponse {
        success: true,
        voices: vec![VoiceInfo {
            id: "zh-female-1".into(),
            name: "晓晓".into(),
            language: "zh-CN".into(),
            default: true,
        }],
    })
    .into_response()
}

async fn hangup(State(d): State<Double>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = d.guard(&format!("hangup/{id}"), &headers, true) {
        return r;
    }
    match id.as_str() {
        "c-1" | "a^b~c" => {
            Json(json!({"success": true, "call_id": id, "status": "cancelled"})).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "no such call"),
    }
}

async fn get_call(State(d): State<Double>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = d.guard("get_call", &headers, true) {
        return r;
    }
    match id.as_str() {
        "c-1" => found(record("c-1", "completed", true)),
        _ => error(StatusCode::NOT_FOUND, "no such call"),
    }
}

async fn list_calls(
    State(d): State<Double>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = d.guard("list_calls", &headers, true) {
        return r;
    }
    d.seen.list_queries.lock().unwrap().push(q.clone());
    Json(CallListResponse {
        success: true,
        calls: vec![record("c-1", "completed", true)],
        next_cursor: q.get("cursor").map(|c| format!("after-{c}")),
    })
    .into_response()
}

async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

fn router(d: Double) -> Router {
    Router::new()
        .route("/api/v1/callinfo/initiate_call", post(initiate))
        .route("/api/v1/callinfo/search_callinfo", post(search))
        .route("/api/v1/callinfo/stream_chat_history", post(stream_chat))
        .route("/api/v1/callinfo/skill_version", get(skill_version))
        .route("/api/v1/callinfo/balance", get(balance))
        .route("/api/v1/callinfo/engine_list", get(engines))
        .route("/api/v1/callinfo/tts_list", get(voices))
        .route("/v1/calls", get(list_calls))
        .route("/v1/calls/{id}", get(get_call))
        .route("/v1/calls/{id}/hangup", post(hangup))
        .route("/healthz", get(healthz))
        .with_state(d)
}

/// Serves a router on 127.0.0.1:0; returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

async fn double_with_version(version: &'static str) -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let url = serve(router(Double {
        seen: seen.clone(),
        version,
    }))
    .await;
    (url, seen)
}

async fn double() -> (String, Arc<Seen>) {
    double_with_version("1.0.0").await
}

fn client(url: &str) -> Client {
    Client::new(url, ApiKey::new(GOOD_KEY)).unwrap()
}

fn call_request(phones: &str) -> InitiateCallRequest {
    InitiateCallRequest {
        phones: Some(PhonesField::Joined(phones.into())),
        user_requirement: Some("通知明天上午9点开会".into()),
        ..Default::default()
    }
}

/// Every error must display as one line, and never with the key.
fn assert_one_line(e: &ClientError) -> String {
    let s = e.to_string();
    assert!(!s.contains('\n'), "multi-line error: {s}");
    assert!(!s.contains(GOOD_KEY), "error leaks the key: {s}");
    s
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn creation_sends_the_headers_and_returns_ids_and_raw_answer() {
    let (url, seen) = double().await;
    let c = Client::builder(&format!("{url}/"))
        .api_key(ApiKey::new(GOOD_KEY))
        .campaign(Some("spring-2026".into()))
        .build()
        .unwrap();
    assert_eq!(c.base_url(), url, "trailing slash dropped");
    let created = c
        .initiate_call(
            &call_request("13800138000,13900139000"),
            Some("idem-key-0001"),
        )
        .await
        .unwrap();
    assert_eq!(created.call_ids, ["c-1", "c-2"]);
    assert_eq!(created.call_id(), Some("c-1"));
    assert!(
        created.raw.contains(r#""call_ids":["c-1","c-2"]"#),
        "raw answer kept as sent: {}",
        created.raw
    );

    let reqs = seen.requests.lock().unwrap();
    let (path, h) = &reqs[0];
    assert_eq!(path, "initiate_call");
    assert_eq!(header(h, "x-api-key"), Some(GOOD_KEY));
    assert_eq!(header(h, "x-skill-version"), Some("1.0.0"));
    assert_eq!(
        header(h, "x-client-version"),
        Some(waihu_client::CLIENT_VERSION)
    );
    assert_eq!(header(h, "x-client-platform"), Some("waihu-cli"));
    assert_eq!(header(h, "x-campaign"), Some("spring-2026"));
    assert_eq!(header(h, "idempotency-key"), Some("idem-key-0001"));
    assert_eq!(header(h, "content-type"), Some("application/json"));
}

#[tokio::test]
async fn public_endpoints_work_without_a_key_and_do_not_send_one() {
    let (url, seen) = double().await;
    let c = Client::new(&url, ApiKey::new(GOOD_KEY)).unwrap();
    assert_eq!(c.skill_version().await.unwrap().skill_version, "1.0.0");
    let (_, h) = seen.requests.lock().unwrap()[0].clone();
    assert_eq!(
        header(&h, "x-api-key"),
        None,
        "the key goes only where it is needed"
    );
    assert_eq!(header(&h, "x-skill-version"), Some("1.0.0"));

    let anonymous = Client::new(&url, None).unwrap();
    assert_eq!(anonymous.engines().await.unwrap().engines.len(), 2);
    assert_eq!(anonymous.voices().await.unwrap().voices[0].name, "晓晓");
    let e = anonymous.balance().await.unwrap_err();
    assert!(matches!(e, ClientError::NoApiKey), "{e:?}");
    let msg = assert_one_line(&e);
    for hint in [
        "WAIHU_API_KEY",
        "STEPONEAI_API_KEY",
        "~/.clawd/secrets.json",
    ] {
        assert!(msg.contains(hint), "{msg}");
    }
    let paths: Vec<String> = seen
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(
        paths,
        ["skill_version", "engine_list", "tts_list"],
        "balance not sent without a key"
    );
}

#[tokio::test]
async fn bad_idempotency_key_is_refused_before_sending() {
    let (url, seen) = double().await;
    let e = client(&url)
        .initiate_call(&call_request("13800138000"), Some("short"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::InvalidArgument {
                what: "idempotency key",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(seen.requests.lock().unwrap().is_empty());
    let k = waihu_client::new_idempotency_key();
    waihu_client::validate_idempotency_key(&k).unwrap();
    assert_ne!(k, waihu_client::new_idempotency_key());
}

#[tokio::test]
async fn bad_key_is_401_with_a_clear_message() {
    let (url, _) = double().await;
    let c = Client::new(&url, ApiKey::new("sk_wrong_key_000000000000")).unwrap();
    let e = c.balance().await.unwrap_err();
    assert!(matches!(e, ClientError::Unauthorized { .. }), "{e:?}");
    let msg = assert_one_line(&e);
    assert!(msg.starts_with("API key rejected"), "{msg}");
    assert!(
        msg.contains("invalid API key"),
        "server message shown: {msg}"
    );
    assert!(!msg.contains("sk_wrong_key_000000000000"), "{msg}");
}

#[tokio::test]
async fn version_mismatch_is_426_telling_to_update() {
    let (url, _) = double_with_version("2.0.0").await;
    let e = client(&url).balance().await.unwrap_err();
    assert!(matches!(e, ClientError::UpgradeRequired { .. }), "{e:?}");
    assert_eq!(e.http_status(), Some(426));
    let msg = assert_one_line(&e);
    assert!(msg.contains("update"), "{msg}");
    assert!(msg.contains("1.0.0"), "{msg}");
    // The stream maps it the same way, as its first item.
    let first = client(&url).stream("c-1").next().await.unwrap();
    assert!(
        matches!(first, Err(ClientError::UpgradeRequired { .. })),
        "{first:?}"
    );
}

#[tokio::test]
async fn unknown_call_is_not_found_and_server_errors_carry_the_message() {
    let (url, _) = double().await;
    let c = client(&url);
    let e = c.search_callinfo("nope").await.unwrap_err();
    assert!(
        matches!(e, ClientError::NotFound { .. }) && e.is_not_found(),
        "{e:?}"
    );
    assert!(assert_one_line(&e).contains("call nope not found"));

    let e = c.search_callinfo("boom").await.unwrap_err();
    assert!(matches!(e, ClientError::Http { status: 500, .. }), "{e:?}");
    assert!(!e.is_not_found());
    assert_eq!(
        assert_one_line(&e),
        "the server answered HTTP 500: database is down"
    );

    // success:false in a 2xx is an error; its code may say "not found".
    let e = c.search_callinfo("refused").await.unwrap_err();
    assert!(
        matches!(e, ClientError::Refused { .. }) && e.is_not_found(),
        "{e:?}"
    );
    assert!(assert_one_line(&e).contains("no such call"));

    let e = c.search_callinfo("bad/../id").await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::InvalidArgument {
                what: "call id",
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn record_reads_at_top_level_or_under_data() {
    let (url, _) = double().await;
    let c = client(&url);
    let r = c.search_callinfo("c-1").await.unwrap();
    assert_eq!(r, record("c-1", "completed", true));
    let r = c.search_callinfo("wrapped").await.unwrap();
    assert_eq!(r.call_id, "wrapped");
    assert_eq!(r.duration_seconds, Some(42));
}

#[tokio::test]
async fn retries_only_while_not_found_and_stop_at_max_tries() {
    let (url, seen) = double().await;
    let c = client(&url);
    let tries = |id: &str| seen.searches.lock().unwrap().get(id).copied().unwrap_or(0);
    let interval = Duration::from_millis(20);

    let mut notices = Vec::new();
    let r = c
        .callinfo_with_retry("late", 5, interval, |n| {
            assert!(n.error.is_not_found());
            assert_eq!(n.wait, interval);
            notices.push((n.attempt, n.max_tries));
        })
        .await
        .unwrap();
    assert_eq!(r.call_id, "late");
    assert_eq!(notices, [(1, 5), (2, 5)]);
    assert_eq!(tries("late"), 3);

    let mut count = 0;
    let e = c
        .callinfo_with_retry("ghost", 3, interval, |_| count += 1)
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert_eq!((tries("ghost"), count), (3, 2), "three tries, two pauses");

    let e = c
        .callinfo_with_retry("boom", 5, interval, |_| panic!("no retry on a 500"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Http { status: 500, .. }));
    assert_eq!(tries("boom"), 1);

    // Zero tries still asks once.
    c.callinfo_with_retry("c-1", 0, interval, |_| {})
        .await
        .unwrap();

    let bad = Client::new(&url, ApiKey::new("sk_wrong_key_000000000000")).unwrap();
    let e = bad
        .callinfo_with_retry("late", 5, interval, |_| panic!("no retry on a 401"))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Unauthorized { .. }));
}

#[tokio::test]
async fn wait_final_polls_until_a_final_status_or_times_out() {
    let (url, _) = double().await;
    let c = client(&url);
    let mut seen_statuses = Vec::new();
    let r = c
        .wait_final_with(
            "progress",
            Duration::from_secs(5),
            Duration::from_millis(20),
            |r| seen_statuses.push(r.status.clone()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, "ended", "final by status even without duration");
    assert_eq!(seen_statuses, ["queued", "ringing"]);

    let r = c
        .wait_final("c-1", Duration::from_secs(5), Duration::from_millis(20))
        .await
        .unwrap();
    assert_eq!(r.duration_seconds, Some(42));

    let e = c
        .wait_final(
            "forever",
            Duration::from_millis(150),
            Duration::from_millis(20),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Timeout { .. }), "{e:?}");
    let msg = assert_one_line(&e);
    assert!(msg.contains("forever") && msg.contains("ringing"), "{msg}");

    let e = c
        .wait_final("boom", Duration::from_secs(5), Duration::from_millis(20))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Http { status: 500, .. }));
}

/// Collects a stream, failing the test rather than hanging.
async fn collect<T>(s: impl futures_util::Stream<Item = T>) -> Vec<T> {
    tokio::time::timeout(Duration::from_secs(10), s.collect::<Vec<_>>())
        .await
        .expect("the stream did not end")
}

#[tokio::test]
async fn stream_yields_keepalives_then_lines_and_ends_after_done() {
    let (url, seen) = double().await;
    let items: Vec<StreamItem> = collect(client(&url).stream("c-1"))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let keep_alives = items
        .iter()
        .take_while(|i| **i == StreamItem::KeepAlive)
        .count();
    assert_eq!(keep_alives, 3);
    let lines: Vec<(String, String)> = items[keep_alives..]
        .iter()
        .map(|i| match i {
            StreamItem::Line(l) => (l.role.clone(), l.content.clone()),
            StreamItem::KeepAlive => panic!("keep-alive after the first line"),
        })
        .collect();
    let mut expected: Vec<(String, String)> = SAMPLE
        .iter()
        .map(|(r, c)| (r.to_string(), c.to_string()))
        .collect();
    expected.push(("system".into(), "[DONE]".into()));
    assert_eq!(
        lines, expected,
        "ends right after [DONE] although the server lingers"
    );

    let (path, h) = seen.requests.lock().unwrap()[0].clone();
    assert_eq!(path, "stream_chat_history");
    let accept: Vec<_> = h.get_all("accept").iter().collect();
    assert_eq!(accept, ["text/event-stream"]);
    assert_eq!(header(&h, "x-api-key"), Some(GOOD_KEY));
    assert_eq!(header(&h, "x-skill-version"), Some("1.0.0"));
}

// What the CLI prints of these items (the seed's banner, lines and footers,
// and the `--json` lines) is tested with the CLI's formatting.

#[tokio::test]
async fn stream_events_keep_the_lines_as_received_for_json_mode() {
    let (url, _) = double().await;
    let raw: Vec<String> = collect(client(&url).stream_events("c-1"))
        .await
        .into_iter()
        .map(|ev| ev.unwrap().raw)
        .collect();
    let expected = [
        ": keep-alive",
        ": keep-alive",
        ": keep-alive",
        "data: {\"role\": \"assistant\", \"content\": \"喂,您好,这里是XX公司,请问是张总吗?\"}",
        "data: {\"role\": \"user\", \"content\": \"对,是我,有什么事情?\"}",
        "data: {\"role\": \"assistant\", \"content\": \"好的张总,主要是通知您明天上午9点有个重要会议。\"}",
        "data: {\"role\": \"system\", \"content\": \"[DONE]\"}",
    ];
    assert_eq!(raw, expected);
}

#[tokio::test]
async fn stream_handles_timeout_line() {
    let (url, _) = double().await;
    let items: Vec<StreamItem> = collect(client(&url).stream("noanswer"))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let last = items.last().unwrap();
    assert!(waihu_client::sse::is_terminal(last));
    assert!(matches!(last, StreamItem::Line(l) if waihu_client::sse::is_timeout(l)), "{last:?}");
}

#[tokio::test]
async fn stream_survives_split_chunks_and_crlf() {
    let (url, _) = double().await;
    let items: Vec<StreamItem> = collect(client(&url).stream("split"))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let line = |role: &str, content: &str| {
        StreamItem::Line(StreamLine {
            role: role.into(),
            content: content.into(),
        })
    };
    assert_eq!(
        items,
        [
            StreamItem::KeepAlive,
            line("assistant", "喂,您好"),
            line("user", "对"),
            line("system", "[DONE]"),
        ]
    );
}

#[tokio::test]
async fn stream_ends_when_the_server_closes_and_on_errors() {
    let (url, _) = double().await;
    let c = client(&url);
    let items = collect(c.stream("closes")).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(matches!(&items[0], Ok(StreamItem::Line(l)) if l.content == "您好"));
    assert!(
        matches!(&items[1], Ok(StreamItem::KeepAlive)),
        "a last line without line end still counts"
    );

    let items = collect(c.stream("unknown-id")).await;
    assert_eq!(items.len(), 1);
    assert!(
        matches!(&items[0], Err(ClientError::NotFound { .. })),
        "{items:?}"
    );

    let items = collect(c.stream("garbage")).await;
    assert_eq!(items.len(), 1, "ends after the first error");
    let e = items[0].as_ref().unwrap_err();
    assert!(matches!(e, ClientError::InvalidJson { .. }), "{e:?}");
    assert_one_line(e);

    let bad = Client::new(&url, ApiKey::new("sk_wrong_key_000000000000")).unwrap();
    let items = collect(bad.stream("c-1")).await;
    assert!(
        matches!(&items[..], [Err(ClientError::Unauthorized { .. })]),
        "{items:?}"
    );
}

#[tokio::test]
async fn a_silent_stream_times_out() {
    let (url, _) = double().await;
    let c = Client::builder(&url)
        .api_key(ApiKey::new(GOOD_KEY))
        .stream_idle_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let items = collect(c.stream("silent")).await;
    assert!(
        matches!(&items[..], [Err(ClientError::Timeout { .. })]),
        "{items:?}"
    );
    assert!(assert_one_line(items[0].as_ref().unwrap_err()).contains("keep-alive"));
}

#[tokio::test]
async fn balance_engines_voices_and_native_endpoints() {
    let (url, seen) = double().await;
    let c = client(&url);
    let b = c.balance().await.unwrap();
    assert_eq!(
        (b.balance, b.available, b.reserved, b.rate_per_minute),
        (9.7, 9.4, 0.3, 0.3)
    );

    let hung = c.hangup("c-1").await.unwrap();
    assert_eq!(hung["status"], "cancelled");
    // Characters a call id may hold reach the server intact in the path.
    assert_eq!(c.hangup("a^b~c").await.unwrap()["call_id"], "a^b~c");
    assert!(matches!(
        c.hangup("gone").await,
        Err(ClientError::NotFound { .. })
    ));

    assert_eq!(
        c.get_call("c-1").await.unwrap(),
        record("c-1", "completed", true)
    );
    assert!(c.get_call("gone").await.unwrap_err().is_not_found());

    let page = c
        .list_calls(Some("completed"), Some(20), Some("xyz"))
        .await
        .unwrap();
    assert_eq!(page.calls.len(), 1);
    assert_eq!(page.next_cursor.as_deref(), Some("after-xyz"));
    let q = seen.list_queries.lock().unwrap()[0].clone();
    assert_eq!(q.get("status").map(String::as_str), Some("completed"));
    assert_eq!(q.get("limit").map(String::as_str), Some("20"));
    c.list_calls(None, None, None).await.unwrap();
    assert!(seen.list_queries.lock().unwrap()[1].is_empty());

    assert_eq!(
        Client::new(&url, None).unwrap().health().await.unwrap()["status"],
        "ok"
    );
}

#[tokio::test]
async fn nothing_listening_names_the_url_and_suggests_serve() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let c = client(&url);
    let e = c.balance().await.unwrap_err();
    assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
    let msg = assert_one_line(&e);
    assert!(msg.contains(&url) && msg.contains("waihu serve"), "{msg}");
    let items = collect(c.stream("c-1")).await;
    assert!(
        matches!(&items[..], [Err(ClientError::Connect { .. })]),
        "{items:?}"
    );
}

#[tokio::test]
async fn slow_answers_time_out_and_odd_answers_are_named() {
    let app = Router::new()
        .route(
            "/api/v1/callinfo/skill_version",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Json(json!({"skill_version": "1.0.0"}))
            }),
        )
        .route(
            "/api/v1/callinfo/engine_list",
            get(|| async { "<html><body>hello</body></html>" }),
        )
        .route(
            "/api/v1/callinfo/tts_list",
            get(|| async { Json(json!({"success": false, "message": "voices\nare off"})) }),
        )
        .route(
            "/api/v1/callinfo/balance",
            get(|| async { (StatusCode::BAD_GATEWAY, "upstream\nfailed") }),
        );
    let url = serve(app).await;
    let c = Client::builder(&url)
        .api_key(ApiKey::new(GOOD_KEY))
        .request_timeout(Duration::from_millis(200))
        .build()
        .unwrap();

    let e = c.skill_version().await.unwrap_err();
    assert!(matches!(e, ClientError::Timeout { .. }), "{e:?}");
    assert!(assert_one_line(&e).contains("200 ms"), "{e}");

    let e = c.engines().await.unwrap_err();
    assert!(matches!(e, ClientError::InvalidJson { .. }), "{e:?}");
    assert!(assert_one_line(&e).contains("HTML"), "{e}");

    let e = c.voices().await.unwrap_err();
    assert_eq!(
        assert_one_line(&e),
        "the server refused the request: voices are off"
    );

    let e = c.balance().await.unwrap_err();
    assert_eq!(
        assert_one_line(&e),
        "the server answered HTTP 502: upstream"
    );
}

#[test]
fn client_debug_never_shows_the_key() {
    let c = Client::new("http://127.0.0.1:8080", ApiKey::new(GOOD_KEY)).unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains(GOOD_KEY), "{dbg}");
    assert!(dbg.contains("sk_test…"), "{dbg}");
}

#[test]
fn base_urls_are_checked() {
    assert_eq!(
        Client::new("http://127.0.0.1:8080///", None)
            .unwrap()
            .base_url(),
        "http://127.0.0.1:8080"
    );
    assert_eq!(
        Client::new("https://example.com/waihu/", None)
            .unwrap()
            .base_url(),
        "https://example.com/waihu"
    );
    assert_eq!(
        Client::new("localhost:9000/", None).unwrap().base_url(),
        "http://localhost:9000"
    );
    for bad in ["", "ftp://x", "http://u:p@host", "http://h/?q=1"] {
        let e = Client::new(bad, None).unwrap_err();
        assert!(
            matches!(e, ClientError::InvalidBaseUrl { .. }),
            "{bad}: {e:?}"
        );
        assert!(!e.to_string().contains('\n'));
    }
}
