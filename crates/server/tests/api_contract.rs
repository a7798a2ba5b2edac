//! The wire contract of `shared/spec/stepone-api.md`, byte for byte where
//! clients depend on bytes, over real HTTP.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn creation_answer_is_compact_json_that_the_shell_regex_matches() {
    let s = start(|_| {}).await;
    let r = s
        .http
        .post(format!("{}/api/v1/callinfo/initiate_call", s.base))
        .header("X-API-Key", &s.key)
        .header("X-Skill-Version", "1.0.0")
        .header("X-Campaign", "spring-2026")
        .json(&json!({"phones": "13800138000", "user_requirement": "通知张总明天上午9点开会"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let text = r.text().await.unwrap();
    let start = text.find(r#""call_ids":[""#).expect("compact call_ids");
    let id_end = text[start + 13..].find('"').unwrap();
    let id = &text[start + 13..start + 13 + id_end];
    assert!(text[start + 13 + id_end..].starts_with(r#""]"#), "one id then ]: {text}");
    assert!(id.len() <= 256 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.:^~-".contains(&b)));
    let rec = s.record(id).await;
    assert_eq!(rec["campaign"], "spring-2026");
    assert_eq!(rec["phones"], "13800138000");
    s.stop().await;
}

#[tokio::test]
async fn version_mismatch_is_426_and_absence_is_accepted() {
    let s = start(|_| {}).await;
    let r = s.http.get(format!("{}/api/v1/callinfo/skill_version", s.base)).header("X-Skill-Version", "0.9.0").send().await.unwrap();
    assert_eq!(r.status(), 426);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert!(body["message"].as_str().unwrap().contains("update"));
    let r = s.http.get(format!("{}/api/v1/callinfo/skill_version", s.base)).send().await.unwrap();
    assert_eq!(r.text().await.unwrap(), r#"{"skill_version":"1.0.0"}"#);
    s.stop().await;
}

#[tokio::test]
async fn missing_wrong_and_revoked_keys_are_401_json() {
    let s = start(|_| {}).await;
    let url = format!("{}/api/v1/callinfo/balance", s.base);
    for key in [None, Some("sk_not_a_key"), Some("")] {
        let mut req = s.http.get(&url);
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["success"], false);
        assert!(body["message"].as_str().unwrap().contains("API key"));
    }
    s.store.revoke_keys(&s.key[..12], 1).await.unwrap();
    let r = s.http.get(&url).header("X-API-Key", &s.key).send().await.unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_message_naming_what_is_wrong() {
    let s = start(|_| {}).await;
    let cases = [
        (json!({"user_requirement": "x"}), 400, "phones"),
        (json!({"phones": "12345", "user_requirement": "x"}), 400, "12345"),
        (json!({"phones": "+14155550100", "user_requirement": "x"}), 400, "+14155550100"),
        (json!({"phones": "13800138000,1380013800a", "user_requirement": "x"}), 400, "1380013800a"),
        (json!({"phones": "13800138000"}), 400, "user_requirement"),
        (json!({"phones": "13800138000", "user_requirement": "   "}), 400, "user_requirement"),
        (json!({"phones": "13800138000", "user_requirement": "好".repeat(20_001)}), 400, "20000"),
        (json!({"phones": "13800138000", "user_requirement": "x", "model_engine": "gpt-9"}), 400, "offline"),
        (json!({"phones": "13800138000", "user_requirement": "x", "voice_id": "nope"}), 400, "zh-female-1"),
        (json!({"phones": "13800138000", "user_requirement": "x", "volume": 101}), 400, "volume"),
        (json!({"phones": "13800138000", "user_requirement": "x", "agent_id": 7}), 400, "agent_id"),
        (json!({"phones": 13800138000u64, "user_requirement": "x"}), 400, "JSON"),
    ];
    for (body, status, needle) in cases {
        let (got, answer) = s.post("/api/v1/callinfo/initiate_call", body.clone()).await;
        assert_eq!(got, status, "{body} -> {answer}");
        assert_eq!(answer["success"], false);
        assert!(answer["message"].as_str().unwrap().contains(needle), "{body} -> {answer}");
    }
    let r = s.http.post(format!("{}/api/v1/callinfo/search_callinfo", s.base)).header("X-API-Key", &s.key).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let (status, answer) = s.post("/api/v1/callinfo/search_callinfo", json!({"call_id": "bad id!"})).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = s.get("/v1/calls?status=ringingg").await;
    assert_eq!(status, 400);
    assert!(answer["message"].as_str().unwrap().contains("ringingg"));
    let r = s.http.get(format!("{}/nope", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["success"], false);
    let r = s.http.get(format!("{}/api/v1/callinfo/initiate_call", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["success"], false);
    s.stop().await;
}

#[tokio::test]
async fn idempotency_key_never_dials_twice() {
    let s = start(|_| {}).await;
    let send = |key: &'static str, phones: &'static str| {
        s.http
            .post(format!("{}/api/v1/callinfo/initiate_call", s.base))
            .header("X-API-Key", &s.key)
            .header("Idempotency-Key", key)
            .json(&json!({"phones": phones, "user_requirement": "通知张总明天上午9点开会"}))
            .send()
    };
    let first = send("retry-key-0001", "13000000003").await.unwrap().text().await.unwrap();
    let again = send("retry-key-0001", "13000000003").await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.text().await.unwrap(), first, "the first answer, byte for byte");
    let different = send("retry-key-0001", "13800138000").await.unwrap();
    assert_eq!(different.status(), 422);
    let bad = send("short", "13800138000").await.unwrap();
    assert_eq!(bad.status(), 400);
    let (_, list) = s.get("/v1/calls").await;
    assert_eq!(list["calls"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn another_accounts_call_looks_exactly_like_a_missing_one() {
    let s = start(|_| {}).await;
    let id = s.call("13000000002", "通知张总明天上午9点开会").await;
    let other = s.store.create_account("intruder", waihu_core::Fen(1000), 0).await.unwrap();
    let other_key = s.store.create_key(&other.id, 0).await.unwrap();
    let ask = |key: String, id: String| {
        let http = s.http.clone();
        let url = format!("{}/api/v1/callinfo/search_callinfo", s.base);
        async move {
            let r = http.post(url).header("X-API-Key", key).json(&json!({"call_id": id})).send().await.unwrap();
            (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (st1, theirs) = ask(other_key.clone(), id.clone()).await;
    let (st2, missing) = ask(other_key.clone(), "no-such-call".into()).await;
    assert_eq!((st1, st2), (404, 404));
    assert_eq!(theirs["code"], missing["code"]);
    assert_eq!(theirs["message"].as_str().unwrap().replace(&id, "X"), missing["message"].as_str().unwrap().replace("no-such-call", "X"));
    let r = s.http.post(format!("{}/api/v1/callinfo/stream_chat_history", s.base)).header("X-API-Key", &other_key).json(&json!({"call_id": id})).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = s.http.post(format!("{}/v1/calls/{id}/hangup", s.base)).header("X-API-Key", &other_key).send().await.unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

#[tokio::test]
async fn public_listings_balance_health_metrics_and_openapi() {
    let s = start(|_| {}).await;
    let (_, engines) = s.get("/api/v1/callinfo/engine_list").await;
    assert_eq!(engines["engines"][0]["id"], "offline");
    assert_eq!(engines["engines"][0]["default"], true);
    let (_, voices) = s.get("/api/v1/callinfo/tts_list").await;
    assert!(voices["voices"].as_array().unwrap().len() >= 2);
    let (_, b) = s.get("/api/v1/callinfo/balance").await;
    assert_eq!((b["balance"].as_f64(), b["currency"].as_str(), b["rate_per_minute"].as_f64()), (Some(10.0), Some("CNY"), Some(0.3)));
    let (status, h) = s.get("/healthz").await;
    assert_eq!((status, h["status"].as_str()), (200, Some("ok")));
    let id = s.call("13000000002", "通知张总明天上午9点开会").await;
    s.wait_ended(&id, std::time::Duration::from_secs(20)).await;
    let metrics = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("waihu_calls_finished_total{status=\"busy\"} 1"), "{metrics}");
    assert!(metrics.contains("waihu_calls_active 0"));
    assert!(metrics.contains("waihu_turn_latency_seconds_bucket"));
    let (_, doc) = s.get("/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/callinfo/initiate_call"]["post"].is_object());
    s.stop().await;
}

/// The router serves every operation the document describes, and the
/// document describes every route of `ROUTES` (the unit test checks it has
/// no others): each is asked without a body or a real id, which no handler
/// acts on, and must not reach the "no such endpoint" fallbacks.
#[tokio::test]
async fn the_router_serves_every_documented_route() {
    let s = start(|_| {}).await;
    let (_, doc) = s.get("/openapi.json").await;
    let mut served = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let url = format!("{}{}", s.base, path.replace("{call_id}", "no-such-call"));
            let req = s.http.request(method.to_uppercase().parse().unwrap(), url).header("X-API-Key", &s.key);
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap();
            let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            assert_ne!(status, 405, "{method} {path}: {answer}");
            assert!(!answer["message"].as_str().unwrap_or("").starts_with("no endpoint"), "{method} {path} is documented but not routed: {answer}");
            served.push((method.to_uppercase(), path.clone()));
        }
    }
    for (method, path) in waihu_server::api::ROUTES {
        assert!(served.contains(&(method.to_string(), path.to_string())), "{method} {path} is not in the served document");
    }
    s.stop().await;
}

#[tokio::test]
async fn native_listing_filters_by_status_and_pages() {
    let s = start(|_| {}).await;
    let mut ids = vec![];
    for _ in 0..3 {
        ids.push(s.call("13000000002", "通知张总明天上午9点开会").await);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for id in &ids {
        s.wait_ended(id, std::time::Duration::from_secs(20)).await;
    }
    let (_, page1) = s.get("/v1/calls?limit=2&status=busy").await;
    assert_eq!(page1["calls"].as_array().unwrap().len(), 2);
    assert_eq!(page1["calls"][0]["call_id"], ids[2].as_str(), "newest first");
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = s.get(&format!("/v1/calls?limit=2&cursor={cursor}")).await;
    assert_eq!(page2["calls"].as_array().unwrap().len(), 1);
    assert!(page2.get("next_cursor").is_none());
    let (_, none) = s.get("/v1/calls?status=completed").await;
    assert!(none["calls"].as_array().unwrap().is_empty());
    let (status, one) = s.get(&format!("/v1/calls/{}", ids[0])).await;
    assert_eq!((status, one["status"].as_str()), (200, Some("busy")));
    s.stop().await;
}
