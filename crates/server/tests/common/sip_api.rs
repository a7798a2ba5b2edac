//! Helpers shared by the SIP test files: a server whose carrier points at a
//! sipp instance, the stream's end marker, and polling a record.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use serde_json::Value;
use waihu_server::Config;

use super::common::{sse_lines, start, TestServer};
use super::sipp::Sipp;

pub const TASK: &str = "通知张先生明天上午十点来面试，地点在公司三楼。";
pub const PHONE: &str = "13800138000";
/// Generous: a loaded 2-core machine runs these next to other builds.
pub const T: Duration = Duration::from_secs(60);

/// Skips a test (with a message) on a machine without sipp.
macro_rules! need_sipp {
    () => {
        if !sipp::sipp_available() {
            eprintln!("sipp is not installed: run scripts/install-test-deps.sh");
            return;
        }
    };
}

/// The carrier pointed at `sipp`, with short timers that keep calls short.
pub fn sip_config(c: &mut Config, sipp: &Sipp) {
    c.carrier.kind = "sip".into();
    let sip = &mut c.carrier.sip;
    sip.host = "127.0.0.1".into();
    sip.port = sipp.sip_port;
    sip.bind = "127.0.0.1:0".parse().unwrap();
    sip.rtp_port_min = 20_000;
    sip.rtp_port_max = 29_998;
    // Short placeholder lines keep the calls short.
    sip.chars_per_second = 20.0;
    sip.no_media_timeout_seconds = 5;
    sip.invite_timeout_seconds = 4;
    c.calls.silence_prompt_seconds = 4;
    c.calls.silence_timeout_seconds = 8;
}

pub async fn server(sipp: &Sipp, tweak: impl FnOnce(&mut Config)) -> TestServer {
    start(|c| {
        sip_config(c, sipp);
        tweak(c);
    })
    .await
}

/// The stream's last `system` marker.
pub async fn stream_end(s: &TestServer, id: &str) -> String {
    let raw = s.stream_raw(id).await;
    sse_lines(&raw).last().map(|(_, c)| c.clone()).unwrap_or_default()
}

pub async fn sipp_passed(sipp: Sipp) {
    let (code, err) = sipp.finish(T).await;
    assert_eq!(code, 0, "sipp's scenario failed: {err}");
}

/// Polls the record until `done` holds.
pub async fn wait_record(s: &TestServer, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let r = s.record(id).await;
        if done(&r) {
            return r;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} within {T:?}: {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn healthy(s: &TestServer) {
    let (status, body) = s.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")), "{body}");
}

/// The far end hung up a connected call: `completed`, by the callee, after
/// `secs` seconds connected.
pub fn assert_callee_hung_up(r: &Value, secs: std::ops::RangeInclusive<i64>) {
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!((r["hangup_by"].as_str(), r["provider_response"].as_str()), (Some("callee"), Some("BYE from callee")), "{r}");
    let connected = r["duration_seconds"].as_i64().unwrap();
    assert!(secs.contains(&connected), "connected {connected} s, expected {secs:?}: {r}");
}

/// A server whose RTP range holds exactly one port pair starting near
/// `from`: one call at a time. Returns the server and the first port.
pub async fn one_rtp_port_server(sipp: &Sipp, from: u16, tweak: impl FnOnce(&mut Config)) -> (TestServer, u16) {
    let rtp = super::sipp::free_port_block(from, 2);
    let s = server(sipp, |c| {
        c.carrier.sip.rtp_port_min = rtp;
        c.carrier.sip.rtp_port_max = rtp + 1;
        c.carrier.sip.no_media_timeout_seconds = 60;
        c.carrier.sip.invite_timeout_seconds = 8;
        c.calls.silence_prompt_seconds = 60;
        c.calls.silence_timeout_seconds = 120;
        tweak(c);
    })
    .await;
    (s, rtp)
}
