//! Every status of the lifecycle, through the public API, on the simulated
//! network (20x speed) with real SQLite. One scenario per test.

mod common;

use std::time::Duration;

use common::*;
use waihu_core::Fen;

const TASK: &str = "通知张总明天上午9点开会";
const T: Duration = Duration::from_secs(30);

#[tokio::test]
async fn cooperative_callee_gets_the_message_and_the_call_is_billed_one_minute() {
    let s = start(|_| {}).await;
    let id = s.call("13800138000", TASK).await;
    let raw = s.stream_raw(&id).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["hangup_by"], "agent");
    assert_eq!(r["outcome"], "delivered");
    assert_eq!(r["cost"], 0.3);
    assert_eq!(r["billed"], true);
    assert!(r["duration_seconds"].as_i64().unwrap() >= 1);
    assert!(r["ended_at"].is_string() && r["answered_at"].is_string());
    let t = transcript(&r);
    assert!(t[0].0 == "assistant" && t[0].1.contains("AI") && t[0].1.contains("张总"), "opening discloses and asks for 张总: {t:?}");
    assert_eq!(t[1].0, "user");
    let delivered = t.iter().position(|(role, text)| role == "assistant" && text.contains("明天上午9点")).expect("content said");
    assert!(delivered >= 2, "content only after the callee confirmed: {t:?}");
    // The stream: keep-alives before the answer, the same lines in order, then [DONE].
    let first_data = raw.find("data: ").unwrap();
    assert!(raw[..first_data].contains(": keep-alive\n"), "{raw}");
    let streamed = sse_lines(&raw);
    assert_eq!(streamed.last().unwrap(), &("system".to_owned(), "[DONE]".to_owned()));
    assert_eq!(&streamed[..streamed.len() - 1], &t[..]);
    let (_, b) = s.get("/api/v1/callinfo/balance").await;
    assert_eq!(b["balance"], 9.7);
    assert_eq!(b["reserved"], 0.0);
    s.stop().await;
}

#[tokio::test]
async fn unanswered_call_is_cancelled_at_the_timer_and_streams_timeout() {
    let s = start(|_| {}).await;
    let id = s.call("13000000003", TASK).await;
    let raw = s.stream_raw(&id).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["status"], "no_answer");
    assert_eq!(r["end_reason"], "no_answer_timeout");
    assert!(r["provider_response"].as_str().unwrap().contains("487"), "{r}");
    assert_eq!((r["cost"].as_f64(), r["billed"].as_bool(), r["duration_seconds"].as_i64()), (Some(0.0), Some(false), Some(0)));
    assert!(raw.matches(": keep-alive").count() >= 4, "a keep-alive every 0.5 s for ~3 s: {raw}");
    assert_eq!(sse_lines(&raw), vec![("system".to_owned(), "[TIMEOUT]".to_owned())]);
    s.stop().await;
}

async fn ends_before_answer(phone: &str, status: &str, sip: &str) {
    let s = start(|_| {}).await;
    let id = s.call(phone, TASK).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["status"], status, "{r}");
    assert!(r["provider_response"].as_str().unwrap().contains(sip), "{r}");
    assert_eq!(r["cost"], 0.0);
    assert!(transcript(&r).is_empty());
    let raw = s.stream_raw(&id).await;
    assert_eq!(sse_lines(&raw), vec![("system".to_owned(), "[DONE]".to_owned())]);
    let (_, b) = s.get("/api/v1/callinfo/balance").await;
    assert_eq!((b["balance"].as_f64(), b["reserved"].as_f64()), (Some(10.0), Some(0.0)), "unconnected calls cost nothing");
    s.stop().await;
}

#[tokio::test]
async fn busy_line_ends_busy_with_the_carriers_words() {
    ends_before_answer("13000000002", "busy", "486").await;
}

#[tokio::test]
async fn rejected_call_ends_declined() {
    ends_before_answer("13000000004", "declined", "603").await;
}

#[tokio::test]
async fn number_not_in_service_ends_failed() {
    ends_before_answer("13000000011", "failed", "404").await;
}

#[tokio::test]
async fn hanging_up_a_ringing_call_through_the_api_cancels_it() {
    let s = start(|c| c.calls.no_answer_seconds = 20).await;
    let id = s.call("13000000003", TASK).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = s.post(&format!("/v1/calls/{id}/hangup"), serde_json::json!({})).await;
    assert_eq!(status, 202, "{body}");
    let r = s.wait_ended(&id, Duration::from_secs(5)).await;
    assert_eq!((r["status"].as_str(), r["hangup_by"].as_str(), r["end_reason"].as_str()), (Some("cancelled"), Some("api"), Some("api_cancel")));
    let (status, body) = s.post(&format!("/v1/calls/{id}/hangup"), serde_json::json!({})).await;
    assert_eq!(status, 409, "{body}");
    s.stop().await;
}

#[tokio::test]
async fn a_queued_call_waits_for_the_accounts_line_and_can_be_cancelled_before_dialling() {
    let s = start(|c| {
        c.calls.max_concurrent_per_account = 1;
        c.calls.no_answer_seconds = 20;
    })
    .await;
    let first = s.call("13000000003", TASK).await;
    let second = s.call("13800138000", TASK).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(s.record(&first).await["status"], "ringing");
    assert_eq!(s.record(&second).await["status"], "queued", "one line per account");
    let (status, _) = s.post(&format!("/v1/calls/{second}/hangup"), serde_json::json!({})).await;
    assert_eq!(status, 202);
    let r = s.wait_ended(&second, Duration::from_secs(3)).await;
    assert_eq!(r["status"], "cancelled");
    assert!(r["provider_response"].as_str().unwrap().contains("before dialling"));
    let third = s.call("13800138000", TASK).await;
    s.post(&format!("/v1/calls/{first}/hangup"), serde_json::json!({})).await;
    let r = s.wait_ended(&third, T).await;
    assert_eq!(r["status"], "completed", "the queued call ran once the line was free: {r}");
    s.stop().await;
}

#[tokio::test]
async fn wrong_person_hears_an_apology_and_never_the_content() {
    let s = start(|_| {}).await;
    let id = s.call("13000000001", TASK).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!((r["status"].as_str(), r["outcome"].as_str()), (Some("completed"), Some("wrong_person")), "{r}");
    let t = transcript(&r);
    assert!(t.iter().all(|(_, text)| !text.contains("9点") && !text.contains("开会")), "content leaked: {t:?}");
    s.stop().await;
}

#[tokio::test]
async fn callee_hanging_up_mid_call_is_recorded_as_the_callees_hang_up() {
    let s = start(|_| {}).await;
    let id = s.call("13000000005", TASK).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!((r["status"].as_str(), r["hangup_by"].as_str(), r["end_reason"].as_str()), (Some("completed"), Some("callee"), Some("callee_hangup")), "{r}");
    assert_eq!(r["outcome"], "cut_off");
    s.stop().await;
}

#[tokio::test]
async fn opt_out_is_respected_and_recorded() {
    let s = start(|_| {}).await;
    let id = s.call("13000000006", TASK).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["outcome"], "opted_out", "{r}");
    assert_eq!(r["hangup_by"], "agent");
    s.stop().await;
}

#[tokio::test]
async fn callback_request_ends_politely() {
    let s = start(|_| {}).await;
    let id = s.call("13000000010", TASK).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["outcome"], "callback_requested", "{r}");
    s.stop().await;
}

#[tokio::test]
async fn who_are_you_and_say_again_are_answered_then_the_message_lands() {
    let s = start(|_| {}).await;
    let id = s.call("13000000007", TASK).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["outcome"], "delivered", "{r}");
    let t = transcript(&r);
    let said_content = t.iter().filter(|(role, text)| role == "assistant" && text.contains("9点")).count();
    assert!(said_content >= 2, "the content was repeated on request: {t:?}");
    s.stop().await;
}

#[tokio::test]
async fn talking_over_the_ai_cuts_its_line_to_what_was_played() {
    let s = start(|_| {}).await;
    let id = s.call("13000000008", TASK).await;
    let r = s.wait_ended(&id, T).await;
    let t = transcript(&r);
    let cut = t.windows(2).find(|w| w[0].0 == "assistant" && w[1].0 == "user" && w[1].1.contains("等一下"));
    let cut = cut.unwrap_or_else(|| panic!("no interruption in {t:?}"));
    assert!(!cut[0].1.ends_with(['。', '？', '！']), "the AI line was cut mid-sentence: {t:?}");
    assert_eq!(r["status"], "completed");
    s.stop().await;
}

#[tokio::test]
async fn a_murmured_acknowledgement_does_not_stop_the_ai() {
    let s = start(|_| {}).await;
    let id = s.call("13000000013", TASK).await;
    let r = s.wait_ended(&id, T).await;
    let t = transcript(&r);
    let content = t.iter().find(|(role, text)| role == "assistant" && text.contains("9点")).expect("content said");
    assert!(content.1.ends_with(['。', '？', '！']), "the line was said to its end: {t:?}");
    assert_eq!(r["outcome"], "delivered", "{r}");
    s.stop().await;
}

#[tokio::test]
async fn silence_is_checked_once_then_the_call_ends() {
    let s = start(|_| {}).await;
    let id = s.call("13000000009", TASK).await;
    let r = s.wait_ended(&id, T).await;
    let t = transcript(&r);
    assert!(t.iter().any(|(role, text)| role == "assistant" && text.contains("能听到")), "{t:?}");
    assert!(t.iter().all(|(role, _)| role == "assistant"));
    assert_eq!(r["status"], "completed");
    assert_eq!(r["outcome"], "no_confirmation", "{r}");
    s.stop().await;
}

#[tokio::test]
async fn a_call_whose_balance_runs_out_says_goodbye_inside_the_paid_minute() {
    // Real-time seconds decide here: slow the callee down so the call outlasts
    // the reservation of its second minute (5 s after the answer).
    let s = start_with_balance(Fen(30), |c| {
        c.calls.reserve_ahead_seconds = 55;
        c.carrier.sim.speed = 2.0;
    })
    .await;
    let id = s.call("13000000012", TASK).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["end_reason"], "balance_exhausted", "{r}");
    assert_eq!(r["hangup_by"], "platform");
    assert_eq!(r["cost"], 0.3);
    let t = transcript(&r);
    assert!(t.last().unwrap().1.contains("再见"), "a goodbye, not a cut: {t:?}");
    let (_, b) = s.get("/api/v1/callinfo/balance").await;
    assert_eq!((b["balance"].as_f64(), b["reserved"].as_f64()), (Some(0.0), Some(0.0)));
    let (status, body) = s.post("/api/v1/callinfo/initiate_call", serde_json::json!({"phones": "13800138000", "user_requirement": TASK})).await;
    assert_eq!(status, 402, "{body}");
    assert!(body["message"].as_str().unwrap().contains("balance"));
    s.stop().await;
}

#[tokio::test]
async fn the_maximum_length_ends_a_long_call_with_a_goodbye() {
    let s = start(|c| {
        c.calls.max_duration_seconds = 2;
        c.carrier.sim.speed = 2.0;
    })
    .await;
    let id = s.call("13000000012", TASK).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["end_reason"], "max_duration", "{r}");
    assert!(transcript(&r).last().unwrap().1.contains("再见"));
    s.stop().await;
}

#[tokio::test]
async fn a_batch_makes_one_call_per_number_in_order() {
    let s = start(|_| {}).await;
    let (status, body) = s.post("/api/v1/callinfo/initiate_call", serde_json::json!({"phones": "13800138000,+86 139-0013-9000", "user_requirement": "通知年会时间变更"})).await;
    assert_eq!(status, 200);
    let ids: Vec<String> = body["call_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 2);
    let a = s.wait_ended(&ids[0], T).await;
    let b = s.wait_ended(&ids[1], T).await;
    assert_eq!((a["phones"].as_str(), b["phones"].as_str()), (Some("13800138000"), Some("13900139000")));
    assert_eq!((a["status"].as_str(), b["status"].as_str()), (Some("completed"), Some("completed")));
    s.stop().await;
}

#[tokio::test]
async fn one_accounts_backlog_never_starves_another_account() {
    let s = start_with_balance(Fen(100_000), |c| {
        c.calls.max_concurrent = 2;
        c.calls.max_concurrent_per_account = 1;
        c.calls.no_answer_seconds = 20;
        c.carrier.sim.default_persona = "no_answer".into();
    })
    .await;
    // Account A: a backlog longer than the dispatcher reads in one pass.
    let phones: Vec<String> = (0..90).map(|i| format!("1370000{i:04}")).collect();
    let (status, body) = s.post("/api/v1/callinfo/initiate_call", serde_json::json!({"phones": phones.join(","), "user_requirement": TASK})).await;
    assert_eq!(status, 200, "{body}");
    // Account B arrives after it.
    let b = s.store.create_account("b", Fen(1000), 0).await.unwrap();
    let b_key = s.store.create_key(&b.id, 0).await.unwrap();
    let r = s
        .http
        .post(format!("{}/api/v1/callinfo/initiate_call", s.base))
        .header("X-API-Key", &b_key)
        .json(&serde_json::json!({"phones": "13800138000", "user_requirement": TASK}))
        .send()
        .await
        .unwrap();
    let id = r.json::<serde_json::Value>().await.unwrap()["call_ids"][0].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = s
            .http
            .post(format!("{}/api/v1/callinfo/search_callinfo", s.base))
            .header("X-API-Key", &b_key)
            .json(&serde_json::json!({"call_id": id}))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        if r["status"] != "queued" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "B's call is stuck behind A's backlog");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.stop().await;
}
