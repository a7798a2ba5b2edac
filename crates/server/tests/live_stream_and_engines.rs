//! Live streams with several subscribers and late joiners; a call driven by
//! an OpenAI-compatible engine picked with `model_engine`; the whole call on
//! PostgreSQL; and arbitrary request bodies never crashing the API.

mod common;

use std::time::Duration;

use axum::response::IntoResponse;
use common::*;
use serde_json::json;

const TASK: &str = "通知张总明天上午9点开会";

#[tokio::test]
async fn every_subscriber_gets_the_whole_conversation_early_or_late() {
    let s = start(|c| c.carrier.sim.speed = 5.0).await;
    let id = s.call("13800138000", TASK).await;
    let (a, b) = tokio::join!(s.stream_raw(&id), async {
        // Joins mid-call: replay first, then live.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        s.stream_raw(&id).await
    });
    let late = s.stream_raw(&id).await;
    let record = s.wait_ended(&id, Duration::from_secs(30)).await;
    let mut expected = transcript(&record);
    expected.push(("system".into(), "[DONE]".into()));
    assert!(expected.len() >= 5);
    for raw in [&a, &b, &late] {
        assert_eq!(sse_lines(raw), expected, "{raw}");
    }
    assert!(!late.contains("keep-alive"), "a finished call replays and closes at once");
    s.stop().await;
}

/// A chat-completions server that answers like DeepSeek does (streamed
/// chunks, a `hang_up` tool call at the end of the conversation).
async fn fake_llm() -> String {
    async fn chat(axum::Json(body): axum::Json<serde_json::Value>) -> axum::response::Response {
        let users = body["messages"].as_array().unwrap().iter().filter(|m| m["role"] == "user").count();
        let (text, hang_up) = match users {
            0 | 1 => ("喂，您好，我是王经理的智能助理，请问是张总吗？", false),
            2 => ("张总您好，王经理让我通知您明天上午9点开会。您看可以吗？", false),
            _ => ("好的，不打扰您了，再见！", true),
        };
        let mut sse = String::new();
        for piece in text.split_inclusive('，') {
            sse += &format!("data: {}\n\n", json!({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]}));
        }
        if hang_up {
            sse += &format!(
                "data: {}\n\n",
                json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "hang_up", "arguments": "{\"outcome\":\"delivered\"}"}}]}, "finish_reason": null}]})
            );
        }
        sse += &format!("data: {}\n\ndata: [DONE]\n\n", json!({"choices": [{"index": 0, "delta": {}, "finish_reason": if hang_up { "tool_calls" } else { "stop" }}]}));
        ([("content-type", "text/event-stream")], sse).into_response()
    }
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(chat));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

#[tokio::test]
async fn model_engine_picks_an_openai_compatible_engine_for_the_call() {
    let url = fake_llm().await;
    let s = start(|c| {
        c.dialogue.openai.push(waihu_server::config::OpenAiEngineConfig {
            id: "deepseek-local".into(),
            name: Some("DeepSeek (local test)".into()),
            base_url: url,
            model: "deepseek-chat".into(),
            api_key_env: None,
            api_key_file: None,
            temperature: 0.3,
            first_token_timeout_ms: 3000,
        })
    })
    .await;
    let (_, engines) = s.get("/api/v1/callinfo/engine_list").await;
    assert!(engines["engines"].as_array().unwrap().iter().any(|e| e["id"] == "deepseek-local"));
    let (status, body) = s.post("/api/v1/callinfo/initiate_call", json!({"phones": "13800138000", "user_requirement": TASK, "model_engine": "deepseek-local"})).await;
    assert_eq!(status, 200, "{body}");
    let id = body["call_ids"][0].as_str().unwrap().to_owned();
    let r = s.wait_ended(&id, Duration::from_secs(30)).await;
    assert_eq!(r["model_engine"], "deepseek-local");
    let t = transcript(&r);
    assert!(t[0].1.contains("王经理的智能助理"), "{t:?}");
    assert!(t.iter().any(|(role, text)| role == "assistant" && text.contains("王经理让我通知您")), "{t:?}");
    assert_eq!((r["outcome"].as_str(), r["hangup_by"].as_str()), (Some("delivered"), Some("agent")), "{r}");
    s.stop().await;
}

#[tokio::test]
async fn an_unreachable_engine_ends_the_call_politely_with_an_internal_error() {
    let s = start(|c| {
        c.dialogue.openai.push(waihu_server::config::OpenAiEngineConfig {
            id: "down".into(),
            name: None,
            base_url: "http://127.0.0.1:9/v1".into(),
            model: "m".into(),
            api_key_env: None,
            api_key_file: None,
            temperature: 0.3,
            first_token_timeout_ms: 1000,
        })
    })
    .await;
    let (_, body) = s.post("/api/v1/callinfo/initiate_call", json!({"phones": "13800138000", "user_requirement": TASK, "model_engine": "down"})).await;
    let id = body["call_ids"][0].as_str().unwrap().to_owned();
    let r = s.wait_ended(&id, Duration::from_secs(30)).await;
    assert_eq!((r["status"].as_str(), r["end_reason"].as_str()), (Some("completed"), Some("internal_error")), "{r}");
    assert!(transcript(&r)[0].1.contains("不好意思"), "the callee heard an apology, not silence");
    s.stop().await;
}

#[tokio::test]
async fn a_whole_call_on_postgresql() {
    use sqlx::Connection;
    let admin = std::env::var("WAIHU_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("waihu_srv_{}_{}", std::process::id(), chrono_like());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL must be running");
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str()).await.unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let s = start(|c| c.database_url = Some(url)).await;
    let id = s.call("13800138000", TASK).await;
    let raw = s.stream_raw(&id).await;
    let r = s.wait_ended(&id, Duration::from_secs(30)).await;
    assert_eq!(r["status"], "completed");
    assert_eq!(sse_lines(&raw).len(), transcript(&r).len() + 1);
    let (_, b) = s.get("/api/v1/callinfo/balance").await;
    assert_eq!(b["balance"], 9.7);
    s.stop().await;
}

fn chrono_like() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

#[tokio::test]
async fn arbitrary_bodies_get_json_answers_never_a_crash() {
    let s = start(|_| {}).await;
    let bodies = [
        "", "null", "[]", "{}", "\"x\"", "{\"phones\": null, \"user_requirement\": null}", "{\"phones\": [1, 2]}",
        "{\"phones\": \"13800138000\", \"user_requirement\": \"x\", \"volume\": 1e309}", "{\"call_id\": 5}", "{\"call_id\": \"\"}",
        "{\"phones\": \"\u{0}\", \"user_requirement\": \"\u{0}\"}", "\u{feff}{}", "{\"phones\": \"+\", \"user_requirement\": \"t\"}",
    ];
    for path in ["/api/v1/callinfo/initiate_call", "/api/v1/callinfo/search_callinfo", "/api/v1/callinfo/stream_chat_history"] {
        for body in bodies {
            let r = s.http.post(format!("{}{path}", s.base)).header("X-API-Key", &s.key).body(body).send().await.unwrap();
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.unwrap_or_else(|e| panic!("{path} {body:?}: not JSON: {e}"));
            assert!((400..500).contains(&status), "{path} {body:?} -> {status} {v}");
            assert_eq!(v["success"], false);
            assert!(!v["message"].as_str().unwrap().is_empty());
        }
    }
    s.stop().await;
}
