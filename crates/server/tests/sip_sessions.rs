//! More calls through the public API over the SIP carrier, with sipp as the
//! far end: SIP over TCP, the far end refreshing the session with a
//! re-INVITE mid-call, and RTP port exhaustion (one call fails with the
//! reason, the other goes on, the server stays healthy).

mod common;
#[path = "common/sip.rs"]
mod sipp;
#[macro_use]
#[path = "common/sip_api.rs"]
mod sip_api;

use common::{transcript, TestServer};
use sip_api::*;
use sipp::Sipp;
use waihu_server::Config;

/// These calls last longer than the shared defaults allow: no RTP timeout
/// to speak of, and time for the far end's re-INVITE and the queue.
async fn server(sipp: &Sipp, tweak: impl FnOnce(&mut Config)) -> TestServer {
    sip_api::server(sipp, |c| {
        c.carrier.sip.no_media_timeout_seconds = 60;
        c.carrier.sip.invite_timeout_seconds = 8;
        c.calls.silence_prompt_seconds = 10;
        c.calls.silence_timeout_seconds = 20;
        tweak(c);
    })
    .await
}

#[tokio::test]
async fn over_tcp_the_callee_hanging_up_ends_the_call_completed() {
    need_sipp!();
    let sipp = Sipp::start_tcp("far_end_bye.xml", &[]).await;
    // A fixed SIP port, to check our Contact's TCP listener afterwards.
    let port = sipp::free_port();
    let s = server(&sipp, |c| {
        c.carrier.sip.transport = waihu_carrier::sip::SipTransport::Tcp;
        c.carrier.sip.bind = format!("127.0.0.1:{port}").parse().unwrap();
    })
    .await;
    let id = s.call(PHONE, TASK).await;
    let end = stream_end(&s, &id).await;
    let r = s.wait_ended(&id, T).await;
    assert_callee_hung_up(&r, 2..=6);
    assert!(transcript(&r).first().is_some_and(|(role, _)| role == "assistant"), "the AI spoke: {r}");
    assert_eq!(end, "[DONE]");
    sipp_passed(sipp).await;
    // What our Contact names listens for TCP.
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "nothing listens on the Contact's TCP port {port}");
    s.stop().await;
}

#[tokio::test]
async fn a_reinvite_from_the_far_end_mid_call_is_answered_and_the_call_completes() {
    need_sipp!();
    let sipp = Sipp::start("reinvite.xml", &["-rtp_echo"]).await;
    let s = server(&sipp, |_| {}).await;
    let id = s.call(PHONE, TASK).await;
    let end = stream_end(&s, &id).await;
    let r = s.wait_ended(&id, T).await;
    // sipp answered, refreshed the session 1 s later, checked our 200 carried
    // SDP, ACKed, and hung up 1 s after that.
    assert_callee_hung_up(&r, 1..=6);
    assert_eq!(end, "[DONE]");
    sipp_passed(sipp).await;
    s.stop().await;
}

#[tokio::test]
async fn with_every_rtp_port_in_use_the_next_call_waits_then_fails_and_the_first_goes_on() {
    need_sipp!();
    // sipp answers and holds (echoing our audio) until we hang up: two calls.
    let sipp = Sipp::start_calls("answer.xml", 2, &["-rtp_echo"]).await;
    // Exactly one RTP port pair: one call at a time.
    // The second call waits this long for the port, then fails.
    let (s, rtp) = one_rtp_port_server(&sipp, 30_000, |c| c.calls.capacity_wait_seconds = 2).await;
    let first = s.call(PHONE, TASK).await;
    let r = wait_record(&s, &first, "the first call answered", |r| r["status"] == "in_progress").await;
    assert_eq!(r["status"], "in_progress", "{r}");

    let second = s.call("13900139000", TASK).await;
    // At first it waits in the queue for the port ...
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(s.record(&second).await["status"], "queued", "a full carrier queues the call");
    // ... and fails with the reason once the wait is over.
    let r = s.wait_ended(&second, T).await;
    assert_eq!(r["status"], "failed", "{r}");
    let why = r["provider_response"].as_str().unwrap();
    assert!(why.contains("RTP ports exhausted") && why.contains(&format!("{rtp}-{}", rtp + 1)), "names the exhaustion: {r}");
    assert_eq!((r["duration_seconds"].as_i64(), r["cost"].as_f64()), (Some(0), Some(0.0)), "nothing charged: {r}");
    assert_eq!(stream_end(&s, &second).await, "[DONE]");

    // The first call is untouched, and the server answers.
    assert_eq!(s.record(&first).await["status"], "in_progress");
    healthy(&s).await;

    // Hanging up the first frees the port: the next call connects.
    let (status, body) = s.post(&format!("/v1/calls/{first}/hangup"), serde_json::json!({})).await;
    assert_eq!(status, 202, "{body}");
    let r = s.wait_ended(&first, T).await;
    assert_eq!((r["status"].as_str(), r["provider_response"].as_str()), (Some("completed"), Some("BYE")), "{r}");
    let third = s.call(PHONE, TASK).await;
    wait_record(&s, &third, "the third call answered", |r| r["status"] == "in_progress").await;
    let (status, body) = s.post(&format!("/v1/calls/{third}/hangup"), serde_json::json!({})).await;
    assert_eq!(status, 202, "{body}");
    let r = s.wait_ended(&third, T).await;
    assert_eq!(r["status"], "completed", "{r}");
    healthy(&s).await;
    sipp_passed(sipp).await;
    s.stop().await;
}

#[tokio::test]
async fn a_call_waiting_for_an_rtp_port_connects_when_one_frees() {
    need_sipp!();
    let sipp = Sipp::start_calls("answer.xml", 2, &["-rtp_echo"]).await;
    let (s, _) = one_rtp_port_server(&sipp, 31_000, |_| {}).await;
    let first = s.call(PHONE, TASK).await;
    wait_record(&s, &first, "the first call answered", |r| r["status"] == "in_progress").await;
    let second = s.call("13900139000", TASK).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(s.record(&second).await["status"], "queued");
    let (status, _) = s.post(&format!("/v1/calls/{first}/hangup"), serde_json::json!({})).await;
    assert_eq!(status, 202);
    let r = wait_record(&s, &second, "the waiting call answered", |r| r["status"] == "in_progress").await;
    assert_eq!(r["status"], "in_progress", "{r}");
    let (status, _) = s.post(&format!("/v1/calls/{second}/hangup"), serde_json::json!({})).await;
    assert_eq!(status, 202);
    let r = s.wait_ended(&second, T).await;
    assert_eq!(r["status"], "completed", "{r}");
    sipp_passed(sipp).await;
    s.stop().await;
}
