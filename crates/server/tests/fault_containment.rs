//! A call's session that panics is contained: the call ends `failed`
//! (`internal_error`), is billed only for its connected time (none here),
//! its reservation goes back to the balance and its line is free for the
//! next call.

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use waihu_carrier::{Carrier, CarrierError, DialRequest, TextLeg};
use waihu_core::Fen;
use waihu_server::ServerParts;

/// A carrier with a bug: dialling panics (in the call's session task).
struct PanickingCarrier;

#[async_trait]
impl Carrier for PanickingCarrier {
    fn kind(&self) -> &'static str {
        "panics"
    }

    async fn dial(&self, _req: DialRequest) -> Result<TextLeg, CarrierError> {
        panic!("a bug in the carrier");
    }
}

#[tokio::test]
async fn a_session_that_panics_ends_its_call_failed_and_frees_its_line_and_reservation() {
    let parts = ServerParts { voice: None, carrier: Some(Arc::new(PanickingCarrier)) };
    let s = common::start_with_parts(
        Fen(1000),
        |c| {
            // One line for the account: a leaked slot would keep the second
            // call queued for ever.
            c.calls.max_concurrent_per_account = 1;
        },
        Some(parts),
    )
    .await;
    let first = s.call("13800138000", "通知张总明天上午9点开会").await;
    let second = s.call("13900139000", "通知张总明天上午9点开会").await;
    for id in [&first, &second] {
        let r = s.wait_ended(id, Duration::from_secs(20)).await;
        assert_eq!(r["status"], "failed", "{r}");
        assert_eq!(r["end_reason"], "internal_error", "{r}");
        assert_eq!(r["hangup_by"], "platform", "{r}");
        assert_eq!(r["billed"], false, "never connected, never billed: {r}");
        assert_eq!(r["cost"], 0.0, "{r}");
    }
    let (status, balance) = s.get("/api/v1/callinfo/balance").await;
    assert_eq!(status, 200);
    assert_eq!(balance["balance"], balance["available"], "no reservation is left behind: {balance}");
    assert_eq!(balance["balance"], 10.0, "nothing was charged: {balance}");
    let metrics = s.http.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    let active = metrics.lines().find_map(|l| l.strip_prefix("waihu_calls_active ")).expect("the active-call gauge");
    assert_eq!(active.trim(), "0", "{metrics}");
    s.stop().await;
}
