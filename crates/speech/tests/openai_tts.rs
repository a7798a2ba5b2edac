//! The OpenAI-compatible speech engine against a local server that speaks
//! the real wire format: `POST /v1/audio/speech` with a JSON body, answered
//! by a chunked body of raw 24 kHz s16le PCM (or a streamed WAV).

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
use waihu_speech::tts::{OpenAiTts, OpenAiTtsConfig, SpeechFormat};
use waihu_speech::{synthesize_all, wav, Tts, TtsError, TtsRequest};

const KEY: &str = "sk-test-0123456789abcdef0123456789abcdef";

enum Script {
    /// A streamed body: each piece after its delay (ms), with this content type.
    Audio(&'static str, Vec<(u64, Vec<u8>)>),
    /// An error status with a JSON or text body.
    Error(u16, String),
    /// No answer at all for a long while.
    Silent,
    /// A 200 that is JSON, not audio.
    Json(String),
}

#[derive(Default)]
struct Shared {
    scripts: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<(HeaderMap, Value)>>,
    sent_last_at: Mutex<Option<Instant>>,
    client_left: AtomicBool,
}

struct Server {
    url: String,
    shared: Arc<Shared>,
}

impl Server {
    async fn start(scripts: Vec<Script>) -> Self {
        let shared = Arc::new(Shared { scripts: Mutex::new(scripts.into()), ..Shared::default() });
        let app = Router::new().route("/v1/audio/speech", post(answer)).with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { url: format!("http://{addr}/v1"), shared }
    }

    fn config(&self) -> OpenAiTtsConfig {
        let mut c = OpenAiTtsConfig::new(&self.url, "gpt-4o-mini-tts");
        c.first_audio_timeout = Duration::from_millis(800);
        c.idle_timeout = Duration::from_millis(400);
        c
    }

    fn engine(&self, key: Option<&str>) -> OpenAiTts {
        let mut c = self.config();
        c.endpoint.api_key = key.map(str::to_owned);
        OpenAiTts::new(c).unwrap()
    }

    fn requests(&self) -> Vec<(HeaderMap, Value)> {
        self.shared.requests.lock().unwrap().clone()
    }
}

async fn answer(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.requests.lock().unwrap().push((headers, serde_json::from_slice(&body).unwrap_or(Value::Null)));
    let script = shared.scripts.lock().unwrap().pop_front();
    match script {
        None => (StatusCode::INTERNAL_SERVER_ERROR, "no script left").into_response(),
        Some(Script::Error(status, body)) => (StatusCode::from_u16(status).unwrap(), body).into_response(),
        Some(Script::Json(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Some(Script::Silent) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(Script::Audio(content_type, pieces)) => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
            tokio::spawn(async move {
                let n = pieces.len();
                for (i, (delay, piece)) in pieces.into_iter().enumerate() {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    if i + 1 == n {
                        *shared.sent_last_at.lock().unwrap() = Some(Instant::now());
                    }
                    if tx.send(Ok(Bytes::from(piece))).await.is_err() {
                        shared.client_left.store(true, Ordering::SeqCst);
                        return;
                    }
                }
                // Hold the body open a moment when the last piece is a stall.
                tokio::time::sleep(Duration::from_millis(5)).await;
            });
            Response::builder()
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from_stream(tokio_stream_from(rx)))
                .unwrap()
        }
    }
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// `seconds` of a 440 Hz tone at `rate`, as s16le bytes.
fn tone_bytes(rate: u32, seconds: f64, amplitude: f64) -> Vec<u8> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .flat_map(|i| ((amplitude * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate)).sin()) as i16).to_le_bytes())
        .collect()
}

fn peak(pcm: &[i16]) -> i32 {
    pcm.iter().map(|&s| i32::from(s).abs()).max().unwrap_or(0)
}

#[tokio::test]
async fn pcm_audio_streams_in_and_comes_out_at_8khz() {
    let audio = tone_bytes(24_000, 1.0, 8_000.0);
    // Three pieces, the first with an odd length (a sample split in two),
    // the last 300 ms later: playback must not wait for it.
    let pieces = vec![(0, audio[..9_601].to_vec()), (0, audio[9_601..40_000].to_vec()), (300, audio[40_000..].to_vec())];
    let server = Server::start(vec![Script::Audio("audio/pcm", pieces)]).await;
    let tts = server.engine(None);
    let started = Instant::now();
    let mut stream = tts.synthesize(TtsRequest::new("通知张总明天上午9点开会")).await.unwrap();
    let mut pcm = stream.next().await.unwrap().unwrap();
    let first_at = Instant::now();
    while let Some(chunk) = stream.next().await {
        pcm.extend(chunk.unwrap());
    }
    let last_sent = server.shared.sent_last_at.lock().unwrap().unwrap();
    assert!(first_at < last_sent, "the first audio waited for the whole body");
    println!("openai tts: first audio after {:?} (body took {:?})", first_at - started, last_sent - started);

    assert_eq!(pcm.len(), 8_000, "one second at 8 kHz");
    let crossings = pcm[200..7_800].windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    assert!((830..=840).contains(&crossings), "440 Hz kept: {crossings} crossings in 0.95 s");
    assert!((7_700..=8_300).contains(&peak(&pcm[200..7_800])), "level kept at volume 50: {}", peak(&pcm));

    let (headers, body) = &server.requests()[0];
    assert_eq!(
        body,
        &json!({"model": "gpt-4o-mini-tts", "input": "通知张总明天上午9点开会", "voice": "alloy", "response_format": "pcm", "speed": 1.0})
    );
    assert!(headers.get(header::AUTHORIZATION).is_none(), "no key, no Authorization header");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
}

#[tokio::test]
async fn the_key_goes_only_into_the_authorization_header() {
    let server = Server::start(vec![Script::Audio("audio/pcm", vec![(0, tone_bytes(24_000, 0.1, 1_000.0))])]).await;
    let tts = server.engine(Some(KEY));
    synthesize_all(&tts, TtsRequest::new("好的")).await.unwrap();
    let (headers, body) = &server.requests()[0];
    assert_eq!(headers[header::AUTHORIZATION], format!("Bearer {KEY}").as_str());
    assert!(!body.to_string().contains(KEY));
    assert!(!format!("{tts:?}").contains("0123456789abcdef"), "{tts:?}");
}

#[tokio::test]
async fn voice_speed_and_volume_apply() {
    let audio = tone_bytes(24_000, 0.2, 8_000.0);
    let server = Server::start(vec![
        Script::Audio("audio/pcm", vec![(0, audio.clone())]),
        Script::Audio("audio/pcm", vec![(0, audio)]),
    ])
    .await;
    let tts = server.engine(None);
    let normal = synthesize_all(&tts, TtsRequest::new("好")).await.unwrap();
    let loud_fast = synthesize_all(&tts, TtsRequest::new("好").voice("nova").speed(100).volume(100)).await.unwrap();
    assert_eq!(server.requests()[1].1["voice"], "nova");
    assert_eq!(server.requests()[1].1["speed"], 2.0);
    // Volume is a gain applied here: 100 is twice the level of 50.
    assert!((peak(&loud_fast) - 2 * peak(&normal)).abs() <= 2, "{} vs {}", peak(&loud_fast), peak(&normal));

    let err = tts.synthesize(TtsRequest::new("好").voice("zh-female-1")).await.err().unwrap();
    assert!(matches!(&err, TtsError::UnknownVoice { voice, available } if voice == "zh-female-1" && available.contains("nova")));
    assert_eq!(server.requests().len(), 2, "an unknown voice is refused before any request");
}

#[tokio::test]
async fn a_streamed_wav_is_read_at_the_rate_its_header_gives() {
    let pcm: Vec<i16> = tone_bytes(22_050, 0.5, 5_000.0).chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let mut file = wav::encode(22_050, &pcm);
    // Streamed WAV has no length: OpenAI writes 0xFFFFFFFF.
    file[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    file[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
    let pieces = vec![(0, file[..30].to_vec()), (0, file[30..1_001].to_vec()), (20, file[1_001..].to_vec())];
    let server = Server::start(vec![Script::Audio("audio/wav", pieces)]).await;
    let mut config = server.config();
    config.format = SpeechFormat::Wav;
    let tts = OpenAiTts::new(config).unwrap();
    let out = synthesize_all(&tts, TtsRequest::new("好")).await.unwrap();
    assert_eq!(out.len(), 4_000);
    assert_eq!(server.requests()[0].1["response_format"], "wav");
}

#[tokio::test]
async fn http_errors_are_typed_and_never_carry_the_key() {
    let echo = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
    );
    let server = Server::start(vec![
        Script::Error(401, echo),
        Script::Error(429, r#"{"error":{"message":"Rate limit reached for requests","type":"requests"}}"#.into()),
        Script::Error(502, "<html><body>Bad Gateway</body></html>".into()),
    ])
    .await;
    let tts = server.engine(Some(KEY));
    let err = tts.synthesize(TtsRequest::new("好")).await.err().unwrap();
    let TtsError::Http { status: 401, message } = &err else { panic!("{err:?}") };
    assert!(message.starts_with("Incorrect API key provided: [redacted]"), "{message}");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }
    let err = tts.synthesize(TtsRequest::new("好")).await.err().unwrap();
    assert!(matches!(&err, TtsError::Http { status: 429, message } if message == "Rate limit reached for requests"), "{err:?}");
    let err = tts.synthesize(TtsRequest::new("好")).await.err().unwrap();
    assert!(matches!(&err, TtsError::Http { status: 502, message } if message.contains("Bad Gateway")), "{err:?}");
}

#[tokio::test]
async fn a_json_answer_where_audio_was_expected_is_a_protocol_error() {
    let server = Server::start(vec![Script::Json(r#"{"error":"voice not loaded"}"#.into())]).await;
    let err = server.engine(None).synthesize(TtsRequest::new("好")).await.err().unwrap();
    assert!(matches!(&err, TtsError::Protocol(m) if m.contains("voice not loaded")), "{err:?}");
}

#[tokio::test]
async fn no_answer_and_a_stalled_stream_time_out() {
    let first = tone_bytes(24_000, 0.1, 1_000.0);
    let server = Server::start(vec![
        Script::Silent,
        // Audio, then nothing for longer than the idle timeout.
        Script::Audio("audio/pcm", vec![(0, first), (5_000, vec![0; 100])]),
    ])
    .await;
    let tts = server.engine(None);
    let started = Instant::now();
    let err = tts.synthesize(TtsRequest::new("好")).await.err().unwrap();
    assert!(matches!(err, TtsError::Timeout(800)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));

    let mut stream = tts.synthesize(TtsRequest::new("好")).await.unwrap();
    assert!(!stream.next().await.unwrap().unwrap().is_empty());
    let err = stream.next().await.unwrap().err().unwrap();
    assert!(matches!(err, TtsError::Timeout(400)), "{err:?}");
    assert!(stream.next().await.is_none(), "the stream ends after its error");
}

#[tokio::test]
async fn dropping_the_stream_closes_the_request() {
    let pieces: Vec<(u64, Vec<u8>)> = (0..50).map(|_| (20, tone_bytes(24_000, 0.02, 1_000.0))).collect();
    let server = Server::start(vec![Script::Audio("audio/pcm", pieces)]).await;
    let tts = server.engine(None);
    let mut stream = tts.synthesize(TtsRequest::new("很长的一段话")).await.unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(3);
    while !server.shared.client_left.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the server kept sending to nobody");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_unreachable_server_is_named_as_such() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let tts = OpenAiTts::new(OpenAiTtsConfig::new(format!("http://{addr}/v1"), "tts-1")).unwrap();
    let err = tts.synthesize(TtsRequest::new("好")).await.err().unwrap();
    assert!(matches!(err, TtsError::Unreachable(_)), "{err:?}");
    let refused = OpenAiTts::new(OpenAiTtsConfig::openai(None)).err().unwrap();
    assert!(matches!(refused, TtsError::NotConfigured(m) if m.contains("no API key")));
}
