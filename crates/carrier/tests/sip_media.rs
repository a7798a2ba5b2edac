//! The SIP carrier's media against sipp, below the server: what sipp's RTP
//! echo sends back is what we sent, early media is measured, and RFC 4733
//! digits become the callee's words in DTMF test mode.

#[path = "../../server/tests/common/sip.rs"]
mod sipp;

use std::time::Duration;

use sipp::{sipp_available, Sipp};
use waihu_carrier::sip::{SipCarrier, SipConfig};
use waihu_carrier::{Carrier, DialRequest, MediaReport, Signal, TextCommand, TextEvent, TextLeg};
use waihu_core::lifecycle::LegEnd;
use waihu_core::PhoneNumber;

async fn carrier(sipp: &Sipp) -> SipCarrier {
    let cfg = SipConfig {
        host: "127.0.0.1".into(),
        port: sipp.sip_port,
        bind: "127.0.0.1:0".parse().unwrap(),
        chars_per_second: 10.0,
        no_media_timeout_seconds: 30,
        ..SipConfig::default()
    };
    SipCarrier::start(cfg).await.unwrap()
}

async fn dial(c: &SipCarrier) -> TextLeg {
    c.dial(DialRequest { call_id: "t".into(), to: PhoneNumber::parse("13800138000").unwrap() }).await.unwrap()
}

async fn next(leg: &mut TextLeg) -> TextEvent {
    tokio::time::timeout(Duration::from_secs(30), leg.events.recv()).await.expect("an event in time").expect("the leg is open")
}

/// Reads to the end: the media report and the end.
async fn finish(leg: &mut TextLeg) -> (MediaReport, LegEnd, String) {
    let mut report = None;
    loop {
        match next(leg).await {
            TextEvent::Signal(Signal::Media(r)) => report = Some(r),
            TextEvent::Signal(Signal::Ended { end, provider_response }) => {
                assert!(leg.events.recv().await.is_none(), "nothing after Ended");
                return (report.expect("Media before Ended"), end, provider_response);
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn what_sipp_echoes_back_is_what_we_sent() {
    if !sipp_available() {
        return;
    }
    let sipp = Sipp::start("answer.xml", &["-rtp_echo"]).await;
    let c = carrier(&sipp).await;
    let mut leg = dial(&c).await;
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Ringing));
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Answered));
    // 20 characters at 10/s: 2 s of audio, 100 frames.
    leg.commands.send(TextCommand::Say { id: 1, text: "一二三四五六七八九十一二三四五六七八九十".into() }).await.unwrap();
    assert_eq!(next(&mut leg).await, TextEvent::SayDone { id: 1, played_chars: 20, stopped: false });
    tokio::time::sleep(Duration::from_millis(300)).await;
    leg.commands.send(TextCommand::HangUp).await.unwrap();
    let (report, end, why) = finish(&mut leg).await;
    assert_eq!((end, why.as_str()), (LegEnd::Released, "BYE"));
    assert_eq!(report.codec, "PCMA");
    assert!(report.packets_sent >= 100 && report.packets_received >= 90, "{report:?}");
    assert!(report.echoed_frames >= 90, "the echo is our own audio, frame for frame: {report:?}");
    let level = report.received_level_dbfs.unwrap();
    assert!(level > -30.0, "audible: {report:?}");
    assert_eq!(report.packets_lost, 0, "{report:?}");
    drop(c);
    let (code, err) = sipp.finish(Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{err}");
}

#[tokio::test]
async fn stop_saying_cuts_the_line_at_the_next_frame() {
    if !sipp_available() {
        return;
    }
    let sipp = Sipp::start("answer.xml", &["-rtp_echo"]).await;
    let c = carrier(&sipp).await;
    let mut leg = dial(&c).await;
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Ringing));
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Answered));
    leg.commands.send(TextCommand::Say { id: 1, text: "一二三四五六七八九十一二三四五六七八九十".into() }).await.unwrap();
    leg.commands.send(TextCommand::Say { id: 2, text: "queued".into() }).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    leg.commands.send(TextCommand::StopSaying).await.unwrap();
    let mut done = Vec::new();
    while done.len() < 2 {
        if let TextEvent::SayDone { id, played_chars, stopped } = next(&mut leg).await {
            done.push((id, played_chars, stopped));
        }
    }
    done.sort();
    assert_eq!(done[1], (2, 0, true), "queued lines are dropped");
    let (id, played, stopped) = done[0];
    assert!(id == 1 && stopped && (7..=14).contains(&played), "about half of the line: {done:?}");
    leg.commands.send(TextCommand::HangUp).await.unwrap();
    let _ = finish(&mut leg).await;
}

#[tokio::test]
async fn dtmf_keys_are_heard_as_the_callees_words() {
    if !sipp_available() {
        return;
    }
    let sipp = Sipp::start("dtmf.xml", &[]).await;
    let c = carrier(&sipp).await;
    let mut leg = dial(&c).await;
    let mut heard = Vec::new();
    while heard.len() < 2 {
        match next(&mut leg).await {
            TextEvent::Heard(t) => heard.push(t),
            TextEvent::Signal(Signal::Ended { .. }) => panic!("ended early"),
            _ => {}
        }
    }
    assert_eq!(heard, vec!["对，是我。", "好的，知道了。"]);
    leg.commands.send(TextCommand::HangUp).await.unwrap();
    let (report, end, _) = finish(&mut leg).await;
    assert_eq!(end, LegEnd::Released);
    assert_eq!(report.dtmf_received, "13");
    let (code, err) = sipp.finish(Duration::from_secs(30)).await;
    assert_eq!(code, 0, "{err}");
}

#[tokio::test]
async fn early_media_plays_before_the_answer() {
    if !sipp_available() {
        return;
    }
    let sipp = Sipp::start("early_media.xml", &[]).await;
    let c = carrier(&sipp).await;
    let mut leg = dial(&c).await;
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Ringing));
    // A line before the answer cannot be heard.
    leg.commands.send(TextCommand::Say { id: 7, text: "早".into() }).await.unwrap();
    assert_eq!(next(&mut leg).await, TextEvent::SayDone { id: 7, played_chars: 0, stopped: true });
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Answered));
    leg.commands.send(TextCommand::Cancel).await.unwrap();
    let (report, end, why) = finish(&mut leg).await;
    assert_eq!((end, why.as_str()), (LegEnd::Released, "BYE"), "Cancel after answer acts as HangUp");
    assert!(report.packets_received > 20, "the announcement arrived: {report:?}");
    assert!(report.received_level_dbfs.is_some_and(|l| l > -50.0), "{report:?}");
    assert_eq!(c.dialogs_open(), 0, "no dialog left behind");
}
