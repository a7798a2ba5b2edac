//! The OpenAI-compatible transcription engine against a local server that
//! reads the real wire format: `POST /v1/audio/transcriptions` with a
//! `multipart/form-data` body (a WAV `file`, `model`, `language`,
//! `response_format`), answered with `{"text": ...}`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use waihu_speech::asr::{Buffered, OpenAiAsr, OpenAiAsrConfig};
use waihu_speech::wav::WavReader;
use waihu_speech::{Asr, AsrError, AsrEvent, StreamingAsr, Transcript};

const KEY: &str = "sk-test-0123456789abcdef0123456789abcdef";

enum Script {
    /// 200 with this JSON, after a delay (ms).
    Json(u64, String),
    /// An error status with a body.
    Error(u16, String),
    /// 200 that is not JSON.
    Text(String),
}

#[derive(Default)]
struct Shared {
    scripts: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<(HeaderMap, Vec<u8>)>>,
}

struct Server {
    url: String,
    shared: Arc<Shared>,
}

impl Server {
    async fn start(scripts: Vec<Script>) -> Self {
        let shared = Arc::new(Shared { scripts: Mutex::new(scripts.into()), ..Shared::default() });
        let app = Router::new().route("/v1/audio/transcriptions", post(answer)).with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { url: format!("http://{addr}/v1"), shared }
    }

    fn engine(&self, key: Option<&str>, prompt: Option<&str>) -> OpenAiAsr {
        let mut c = OpenAiAsrConfig::new(&self.url, "whisper-1");
        c.endpoint.api_key = key.map(str::to_owned);
        c.prompt = prompt.map(str::to_owned);
        c.timeout = Duration::from_millis(600);
        OpenAiAsr::new(c).unwrap()
    }

    fn requests(&self) -> Vec<(HeaderMap, Vec<u8>)> {
        self.shared.requests.lock().unwrap().clone()
    }
}

async fn answer(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.requests.lock().unwrap().push((headers, body.to_vec()));
    let script = shared.scripts.lock().unwrap().pop_front();
    match script {
        None => (StatusCode::INTERNAL_SERVER_ERROR, "no script left").into_response(),
        Some(Script::Json(delay, body)) => {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Some(Script::Error(status, body)) => (StatusCode::from_u16(status).unwrap(), body).into_response(),
        Some(Script::Text(body)) => ([(header::CONTENT_TYPE, "text/plain")], body).into_response(),
    }
}

/// One part of a multipart form.
#[derive(Debug)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

/// Splits a `multipart/form-data` body as a server would (RFC 7578).
fn parse_form(headers: &HeaderMap, body: &[u8]) -> Vec<Part> {
    let ct = headers[header::CONTENT_TYPE].to_str().unwrap();
    let boundary = ct.strip_prefix("multipart/form-data; boundary=").expect("a multipart content type");
    let delimiter = format!("--{boundary}");
    let find = |hay: &[u8], needle: &[u8], from: usize| hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from);
    let mut parts = Vec::new();
    let mut at = find(body, delimiter.as_bytes(), 0).expect("a first boundary") + delimiter.len();
    loop {
        if body[at..].starts_with(b"--") {
            assert_eq!(&body[at..], b"--\r\n", "the closing boundary ends the body");
            return parts;
        }
        assert!(body[at..].starts_with(b"\r\n"));
        let head_end = find(body, b"\r\n\r\n", at).unwrap();
        let head = std::str::from_utf8(&body[at + 2..head_end]).unwrap();
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), head_end).unwrap();
        let content_type = head.lines().find_map(|l| l.strip_prefix("Content-Type: ")).map(str::to_owned);
        let disposition = head.lines().find(|l| l.starts_with("Content-Disposition: form-data")).expect("a disposition");
        let field = |key: &str| {
            disposition.split(';').map(str::trim).find_map(|kv| kv.strip_prefix(&format!("{key}=\""))).map(|v| v.trim_end_matches('"').to_owned())
        };
        parts.push(Part {
            name: field("name").unwrap(),
            filename: field("filename"),
            content_type,
            data: body[head_end + 4..next].to_vec(),
        });
        at = next + 2 + delimiter.len();
    }
}

fn text_of(parts: &[Part], name: &str) -> Option<String> {
    parts.iter().find(|p| p.name == name).map(|p| String::from_utf8(p.data.clone()).unwrap())
}

fn utterance(ms: usize) -> Vec<i16> {
    (0..ms * 8).map(|i| ((i as f64 * 0.3).sin() * 3_000.0) as i16).collect()
}

#[tokio::test]
async fn the_utterance_goes_up_as_a_wav_file_in_a_multipart_form() {
    let server = Server::start(vec![Script::Json(0, r#"{"text":"对，是我。","usage":{"type":"duration","seconds":1}}"#.into())]).await;
    let asr = server.engine(None, None);
    let pcm = utterance(800);
    let t = asr.transcribe(&pcm).await.unwrap();
    assert_eq!(t, Transcript { text: "对，是我。".into(), confidence: None });

    let (headers, body) = &server.requests()[0];
    assert!(headers.get(header::AUTHORIZATION).is_none(), "no key, no Authorization header");
    let parts = parse_form(headers, body);
    let names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["file", "model", "language", "response_format"]);
    let file = &parts[0];
    assert_eq!(file.filename.as_deref(), Some("utterance.wav"));
    assert_eq!(file.content_type.as_deref(), Some("audio/wav"));
    let mut reader = WavReader::new();
    let mut decoded = Vec::new();
    reader.push(&file.data, &mut decoded).unwrap();
    let format = reader.format().unwrap();
    assert_eq!((format.sample_rate, format.channels), (8_000, 1));
    assert_eq!(decoded, pcm);
    assert_eq!(text_of(&parts, "model").as_deref(), Some("whisper-1"));
    assert_eq!(text_of(&parts, "language").as_deref(), Some("zh"));
    assert_eq!(text_of(&parts, "response_format").as_deref(), Some("json"));
}

#[tokio::test]
async fn the_key_and_the_prompt_are_sent_when_set() {
    let server = Server::start(vec![Script::Json(0, r#"{"text":"张总","segments":[{"avg_logprob":-0.05}]}"#.into())]).await;
    let asr = server.engine(Some(KEY), Some("张总，王经理，开会"));
    let t = asr.transcribe(&utterance(300)).await.unwrap();
    assert!((t.confidence.unwrap() - 0.951).abs() < 0.001, "{t:?}");
    let (headers, body) = &server.requests()[0];
    assert_eq!(headers[header::AUTHORIZATION], format!("Bearer {KEY}").as_str());
    let parts = parse_form(headers, body);
    assert_eq!(text_of(&parts, "prompt").as_deref(), Some("张总，王经理，开会"));
    assert!(!format!("{asr:?}").contains("0123456789abcdef"));
}

#[tokio::test]
async fn empty_audio_is_no_words_without_a_request() {
    let server = Server::start(vec![]).await;
    assert_eq!(server.engine(None, None).transcribe(&[]).await.unwrap(), Transcript::default());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn errors_are_typed_and_never_carry_the_key() {
    let echo = format!(r#"{{"error":{{"message":"Incorrect API key provided: {KEY}.","type":"invalid_request_error","code":"invalid_api_key"}}}}"#);
    let server = Server::start(vec![
        Script::Error(401, echo),
        Script::Error(400, r#"{"error":{"message":"Audio file is too short. Minimum audio length is 0.1 seconds.","type":"invalid_request_error","param":"file"}}"#.into()),
        Script::Text("对，是我。".into()),
        Script::Json(2_000, r#"{"text":"too late"}"#.into()),
    ])
    .await;
    let asr = server.engine(Some(KEY), None);
    let err = asr.transcribe(&utterance(100)).await.unwrap_err();
    let AsrError::Http { status: 401, message } = &err else { panic!("{err:?}") };
    assert_eq!(message, "Incorrect API key provided: [redacted].");
    assert!(!format!("{err} {err:?}").contains("0123456789abcdef"));

    let err = asr.transcribe(&utterance(50)).await.unwrap_err();
    assert!(matches!(&err, AsrError::Http { status: 400, message } if message.starts_with("Audio file is too short")), "{err:?}");
    let err = asr.transcribe(&utterance(100)).await.unwrap_err();
    assert!(matches!(&err, AsrError::Protocol(m) if m.contains("not JSON")), "{err:?}");
    let started = Instant::now();
    let err = asr.transcribe(&utterance(100)).await.unwrap_err();
    assert_eq!(err, AsrError::Timeout(600));
    assert!(started.elapsed() < Duration::from_millis(1_500));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let gone = OpenAiAsr::new(OpenAiAsrConfig::new(format!("http://{addr}/v1"), "whisper-1")).unwrap();
    assert!(matches!(gone.transcribe(&utterance(100)).await, Err(AsrError::Unreachable(_))));
    assert!(matches!(OpenAiAsr::new(OpenAiAsrConfig::openai(None)), Err(AsrError::NotConfigured(_))));
}

#[tokio::test]
async fn as_a_streaming_session_each_finalise_gets_its_final_in_order() {
    let server = Server::start(vec![
        // The first answer is the slower: finals must still come in order.
        Script::Json(150, r#"{"text":"喂，你好"}"#.into()),
        Script::Json(0, r#"{"text":"对，是我"}"#.into()),
    ])
    .await;
    let asr = Buffered::new(Arc::new(server.engine(None, None)));
    let mut session = asr.start().await.unwrap();
    let first = utterance(400);
    let second = utterance(200);
    for frame in first.chunks(160) {
        assert!(session.input.push_pcm(frame));
        tokio::task::yield_now().await;
    }
    session.input.finalise();
    for frame in second.chunks(160) {
        assert!(session.input.push_pcm(frame));
        tokio::task::yield_now().await;
    }
    session.input.finalise();
    let mut texts = Vec::new();
    while texts.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(3), session.events.recv()).await.unwrap().unwrap() {
            AsrEvent::Final(t) => texts.push(t.text),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(texts, ["喂，你好", "对，是我"]);
    // Each request carried exactly its utterance.
    let sizes: Vec<usize> = server
        .requests()
        .iter()
        .map(|(h, b)| {
            let file = parse_form(h, b).into_iter().find(|p| p.name == "file").unwrap();
            (file.data.len() - 44) / 2
        })
        .collect();
    assert_eq!(sizes, [first.len(), second.len()]);
    assert_eq!(session.input.dropped_samples(), 0);
}
