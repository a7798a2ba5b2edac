//! A real server for tests: SQLite in a temporary directory, the simulated
//! network sped up, the HTTP API on a loopback port.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use waihu_core::Fen;
use waihu_server::{open_store, serve, Config, Server, ServerParts};
use waihu_store::Store;

pub struct TestServer {
    pub base: String,
    pub key: String,
    pub account_id: String,
    pub store: Arc<dyn Store>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// Simulated speech 20x faster than real time; timers stay in real seconds.
pub fn test_config(dir: &std::path::Path) -> Config {
    let mut cfg = Config::default();
    cfg.data_dir = dir.to_path_buf();
    cfg.carrier.sim.speed = 20.0;
    cfg.calls.no_answer_seconds = 3;
    cfg.calls.silence_prompt_seconds = 2;
    cfg.calls.silence_timeout_seconds = 6;
    // Dialogue and lifecycle tests run text-level; the voice tests turn it on.
    cfg.speech.mode = "off".into();
    cfg
}

pub async fn start(tweak: impl FnOnce(&mut Config)) -> TestServer {
    start_with_balance(Fen(1000), tweak).await
}

pub async fn start_with_balance(balance: Fen, tweak: impl FnOnce(&mut Config)) -> TestServer {
    start_with_parts(balance, tweak, None).await
}

/// A server with some parts of its own (`None`: all from the configuration).
pub async fn start_with_parts(balance: Fen, tweak: impl FnOnce(&mut Config), parts: Option<ServerParts>) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(dir.path());
    tweak(&mut cfg);
    let store: Arc<dyn Store> = Arc::new(open_store(&cfg).await.unwrap());
    let account = store.create_account("tester", balance, 0).await.unwrap();
    let key = store.create_key(&account.id, 0).await.unwrap();
    let server = match parts {
        Some(parts) => Server::start_with(&cfg, store.clone(), parts).await.unwrap(),
        None => Server::start(&cfg, store.clone()).await.unwrap(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(server, listener, async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestServer { base, key, account_id: account.id, store, http: reqwest::Client::new(), _dir: dir, stop: Some(tx), task: Some(task) }
}

impl TestServer {
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(format!("{}{path}", self.base)).header("X-API-Key", &self.key).header("X-Skill-Version", "1.0.0").json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.base)).header("X-API-Key", &self.key).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Places one call and returns its id.
    pub async fn call(&self, phone: &str, task: &str) -> String {
        let (status, body) = self.post("/api/v1/callinfo/initiate_call", serde_json::json!({"phones": phone, "user_requirement": task})).await;
        assert_eq!(status, 200, "{body}");
        body["call_ids"][0].as_str().unwrap().to_owned()
    }

    pub async fn record(&self, call_id: &str) -> Value {
        let (status, body) = self.post("/api/v1/callinfo/search_callinfo", serde_json::json!({"call_id": call_id})).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Polls until the record has `duration_seconds` (the call ended).
    pub async fn wait_ended(&self, call_id: &str, within: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let r = self.record(call_id).await;
            if r.get("duration_seconds").is_some() {
                return r;
            }
            assert!(tokio::time::Instant::now() < deadline, "call did not end within {within:?}: {r}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reads a live stream to its end: returns the raw text.
    pub async fn stream_raw(&self, call_id: &str) -> String {
        let r = self
            .http
            .post(format!("{}/api/v1/callinfo/stream_chat_history", self.base))
            .header("X-API-Key", &self.key)
            .json(&serde_json::json!({"call_id": call_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        tokio::time::timeout(Duration::from_secs(60), r.text()).await.expect("stream closes by itself").unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(20), t).await;
        }
    }
}

/// The `data:` payloads of a raw SSE text, as (role, content).
pub fn sse_lines(raw: &str) -> Vec<(String, String)> {
    raw.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| {
            let v: Value = serde_json::from_str(d).unwrap();
            (v["role"].as_str().unwrap().to_owned(), v["content"].as_str().unwrap().to_owned())
        })
        .collect()
}

pub fn transcript(record: &Value) -> Vec<(String, String)> {
    record["call_content"].as_array().unwrap().iter().map(|l| (l["role"].as_str().unwrap().to_owned(), l["content"].as_str().unwrap().to_owned())).collect()
}
