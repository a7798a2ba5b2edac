//! Calls placed through the public API over the SIP carrier, with sipp as
//! the far end on loopback (one sipp per test, free ports, killed on drop).
//! Each test checks the final record and the live stream's end marker, and
//! that sipp's scenario ran to its end (so it saw our CANCEL, ACK, BYE ...).

mod common;
#[path = "common/sip.rs"]
mod sipp;
#[macro_use]
#[path = "common/sip_api.rs"]
mod sip_api;

use std::time::Duration;

use common::{start, transcript};
use sip_api::*;
use sipp::Sipp;

async fn refused(scenario: &str, status: &str, provider: &str) {
    let sipp = Sipp::start(scenario, &[]).await;
    let s = server(&sipp, |_| {}).await;
    let id = s.call(PHONE, TASK).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["status"], status, "{r}");
    assert_eq!(r["provider_response"], provider, "{r}");
    assert_eq!((r["duration_seconds"].as_i64(), r["cost"].as_f64()), (Some(0), Some(0.0)), "{r}");
    assert!(transcript(&r).is_empty());
    assert_eq!(stream_end(&s, &id).await, "[DONE]");
    sipp_passed(sipp).await;
    s.stop().await;
}

#[tokio::test]
async fn busy_486_ends_busy() {
    need_sipp!();
    refused("busy486.xml", "busy", "SIP 486 Busy Here").await;
}

#[tokio::test]
async fn service_unavailable_503_ends_failed() {
    need_sipp!();
    refused("fail503.xml", "failed", "SIP 503 Service Unavailable").await;
}

#[tokio::test]
async fn decline_603_ends_declined() {
    need_sipp!();
    refused("decline603.xml", "declined", "SIP 603 Decline").await;
}

#[tokio::test]
async fn ringing_without_answer_is_cancelled_at_the_no_answer_timer() {
    need_sipp!();
    let sipp = Sipp::start("ring_noanswer.xml", &[]).await;
    let s = server(&sipp, |c| c.calls.no_answer_seconds = 3).await;
    let started = tokio::time::Instant::now();
    let id = s.call(PHONE, TASK).await;
    let end = stream_end(&s, &id).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["status"], "no_answer", "{r}");
    assert_eq!(r["provider_response"], "SIP 487 Request Terminated", "{r}");
    assert_eq!(r["duration_seconds"], 0);
    assert!(started.elapsed() >= Duration::from_secs(3), "cancelled only at the timer");
    assert_eq!(end, "[TIMEOUT]");
    // sipp's scenario ends only after it received our CANCEL and ACKed 487.
    sipp_passed(sipp).await;
    s.stop().await;
}

#[tokio::test]
async fn digest_challenge_is_answered_then_the_call_connects() {
    need_sipp!();
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.csv");
    std::fs::write(&users, "SEQUENTIAL\nwaihu-test;s3cret-pw;\n").unwrap();
    let sipp = Sipp::start("auth401.xml", &["-inf", users.to_str().unwrap()]).await;
    let s = server(&sipp, |c| {
        c.carrier.sip.username = Some("waihu-test".into());
        c.carrier.sip.password = Some("s3cret-pw".into());
        // sipp sends no RTP in this scenario: do not end the call for that.
        c.carrier.sip.no_media_timeout_seconds = 60;
    })
    .await;
    let id = s.call(PHONE, TASK).await;
    let end = stream_end(&s, &id).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert!(r["duration_seconds"].as_i64().unwrap() >= 1, "{r}");
    assert_eq!(r["provider_response"], "BYE", "{r}");
    assert_eq!(end, "[DONE]");
    sipp_passed(sipp).await;
    s.stop().await;
}

#[tokio::test]
async fn a_wrong_password_fails_with_authentication_rejected() {
    need_sipp!();
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.csv");
    std::fs::write(&users, "SEQUENTIAL\nwaihu-test;right;\n").unwrap();
    let sipp = Sipp::start("auth401.xml", &["-inf", users.to_str().unwrap()]).await;
    let s = server(&sipp, |c| {
        c.carrier.sip.username = Some("waihu-test".into());
        c.carrier.sip.password = Some("wrong".into());
    })
    .await;
    let id = s.call(PHONE, TASK).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["provider_response"], "SIP 403 Forbidden", "{r}");
    assert_eq!(stream_end(&s, &id).await, "[DONE]");
    s.stop().await;
}

#[tokio::test]
async fn the_callee_hanging_up_ends_the_call_completed() {
    need_sipp!();
    let sipp = Sipp::start("far_end_bye.xml", &[]).await;
    let s = server(&sipp, |c| c.carrier.sip.no_media_timeout_seconds = 60).await;
    let id = s.call(PHONE, TASK).await;
    let end = stream_end(&s, &id).await;
    let r = s.wait_ended(&id, T).await;
    assert_callee_hung_up(&r, 2..=6);
    assert_eq!(end, "[DONE]");
    sipp_passed(sipp).await;
    s.stop().await;
}

#[tokio::test]
async fn a_trunk_with_nothing_listening_fails_the_call_not_the_server() {
    let port = sipp::free_port();
    let s = start(|c| {
        c.carrier.kind = "sip".into();
        c.carrier.sip.host = "127.0.0.1".into();
        c.carrier.sip.port = port;
        c.carrier.sip.bind = "127.0.0.1:0".parse().unwrap();
        c.carrier.sip.invite_timeout_seconds = 8;
    })
    .await;
    let started = tokio::time::Instant::now();
    let id = s.call(PHONE, TASK).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["status"], "failed", "{r}");
    let why = r["provider_response"].as_str().unwrap();
    assert!(why.contains("trunk unreachable") && why.contains("ICMP"), "{r}");
    assert!(started.elapsed() < Duration::from_secs(7), "found before invite_timeout: {:?}", started.elapsed());
    assert_eq!(stream_end(&s, &id).await, "[DONE]");
    // The server still takes calls.
    let (status, _) = s.get("/api/v1/callinfo/balance").await;
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test]
async fn an_answered_call_with_audio_both_ways_completes() {
    need_sipp!();
    let sipp = Sipp::start("answer.xml", &["-rtp_echo"]).await;
    let s = server(&sipp, |_| {}).await;
    let id = s.call(PHONE, TASK).await;
    let end = stream_end(&s, &id).await;
    let r = s.wait_ended(&id, T).await;
    // Nobody answers the AI (sipp only echoes): the silence timer ends the call.
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["provider_response"], "BYE", "{r}");
    assert!(r["duration_seconds"].as_i64().unwrap() >= 5, "{r}");
    let lines = transcript(&r);
    assert!(lines.first().is_some_and(|(role, _)| role == "assistant"), "the AI spoke: {r}");
    assert_eq!(end, "[DONE]");
    // Audio both ways, on the record: what sipp echoed back is what we sent.
    let m = &r["media"];
    let sent = m["packets_sent"].as_u64().unwrap();
    assert!(sent >= 200, "20 ms packets for 5+ s: {m}");
    assert!(m["packets_received"].as_u64().unwrap() >= sent * 9 / 10, "{m}");
    assert_eq!(m["packets_lost"], 0, "{m}");
    assert!(m["send_lateness_p99_ms"].as_f64().unwrap() < 20.0, "paced from one clock: {m}");
    assert!(m["echoed_frames"].as_u64().unwrap() >= 50, "our own audio came back byte for byte: {m}");
    assert!(m["received_level_dbfs"].as_f64().unwrap() > -40.0, "the echo is audible, not silence: {m}");
    let metrics = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    let received: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("waihu_rtp_packets_received_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("rtp counter exported");
    assert!(received >= sent as f64 * 0.9, "{metrics}");
    sipp_passed(sipp).await;
    s.stop().await;
}

#[tokio::test]
async fn an_answered_call_without_rtp_fails_at_the_no_media_timeout() {
    need_sipp!();
    let sipp = Sipp::start("answer.xml", &[]).await;
    let s = server(&sipp, |c| c.carrier.sip.no_media_timeout_seconds = 2).await;
    let id = s.call(PHONE, TASK).await;
    let end = stream_end(&s, &id).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["provider_response"], "no RTP received for 2 s", "{r}");
    assert_eq!(end, "[DONE]");
    // sipp got our BYE.
    sipp_passed(sipp).await;
    s.stop().await;
}

#[tokio::test]
async fn early_media_is_not_an_answer() {
    need_sipp!();
    let sipp = Sipp::start("early_media.xml", &[]).await;
    let s = server(&sipp, |c| {
        c.carrier.sip.no_media_timeout_seconds = 60;
        c.calls.no_answer_seconds = 15;
    })
    .await;
    let id = s.call(PHONE, TASK).await;
    // During the 3 s of 183 + announcement the call only rings.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = s.record(&id).await;
    assert_eq!(during["status"], "ringing", "{during}");
    let end = stream_end(&s, &id).await;
    let r = s.wait_ended(&id, T).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["provider_response"], "BYE", "{r}");
    assert_eq!(end, "[DONE]");
    sipp_passed(sipp).await;
    s.stop().await;
}

#[tokio::test]
async fn dtmf_digits_drive_the_dialogue_in_test_mode() {
    need_sipp!();
    let sipp = Sipp::start("dtmf.xml", &[]).await;
    let s = server(&sipp, |c| {
        c.carrier.sip.no_media_timeout_seconds = 60;
        c.calls.silence_prompt_seconds = 10;
        c.calls.silence_timeout_seconds = 20;
    })
    .await;
    let id = s.call(PHONE, TASK).await;
    let end = stream_end(&s, &id).await;
    let r = s.wait_ended(&id, T).await;
    let users: Vec<String> = transcript(&r).into_iter().filter(|(role, _)| role == "user").map(|(_, c)| c).collect();
    assert_eq!(users, vec!["对，是我。".to_owned(), "好的，知道了。".to_owned()], "{r}");
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["provider_response"], "BYE", "the AI said goodbye and hung up: {r}");
    assert_eq!(end, "[DONE]");
    sipp_passed(sipp).await;
    s.stop().await;
}
