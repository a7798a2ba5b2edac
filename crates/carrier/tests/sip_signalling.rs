//! The SIP carrier's signalling against sipp, below the server: SIP over
//! TCP (and the listener our Contact names), REGISTER with a digest
//! challenge and its refresh, an offerless re-INVITE, and the calls-per-
//! second limit toward the trunk.

#[path = "../../server/tests/common/sip.rs"]
mod sipp;

use std::io::{Read, Write};
use std::time::Duration;

use sipp::{sipp_available, Sipp};
use tokio::time::Instant;
use waihu_carrier::sip::{RegistrationState, SipCarrier, SipConfig, SipTransport};
use waihu_carrier::{Carrier, DialRequest, Signal, TextCommand, TextEvent, TextLeg};
use waihu_core::lifecycle::LegEnd;
use waihu_core::PhoneNumber;

/// Generous: a loaded 2-core machine runs these next to other builds.
const T: Duration = Duration::from_secs(60);

macro_rules! need_sipp {
    () => {
        if !sipp_available() {
            eprintln!("sipp is not installed: run scripts/install-test-deps.sh");
            return;
        }
    };
}

fn config(sipp: &Sipp) -> SipConfig {
    SipConfig {
        host: "127.0.0.1".into(),
        port: sipp.sip_port,
        bind: "127.0.0.1:0".parse().unwrap(),
        chars_per_second: 10.0,
        no_media_timeout_seconds: 60,
        ..SipConfig::default()
    }
}

async fn dial(c: &SipCarrier, n: u32) -> TextLeg {
    let to = PhoneNumber::parse(&format!("138{n:08}")).unwrap();
    c.dial(DialRequest { call_id: format!("t{n}"), to }).await.unwrap()
}

async fn next(leg: &mut TextLeg) -> TextEvent {
    tokio::time::timeout(T, leg.events.recv()).await.expect("an event in time").expect("the leg is open")
}

/// Reads to `Ended`: how the leg ended and why.
async fn ended(leg: &mut TextLeg) -> (LegEnd, String) {
    loop {
        if let TextEvent::Signal(Signal::Ended { end, provider_response }) = next(leg).await {
            return (end, provider_response);
        }
    }
}

async fn sipp_passed(sipp: Sipp) {
    let (code, err) = sipp.finish(T).await;
    assert_eq!(code, 0, "sipp's scenario failed: {err}");
}

/// An OPTIONS sent to `addr` on a new TCP connection: the status line of the answer.
fn options_over_tcp(addr: std::net::SocketAddr) -> String {
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("our Contact's TCP port listens");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let local = s.local_addr().unwrap();
    let req = format!(
        "OPTIONS sip:waihu@{addr};transport=tcp SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bK-probe-{}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{local}>;tag=probe1\r\n\
         To: <sip:waihu@{addr}>\r\n\
         Call-ID: probe-{}@127.0.0.1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        local.port(),
        local.port()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = vec![0u8; 2048];
    let n = s.read(&mut buf).expect("an answer to OPTIONS over TCP");
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_owned()
}

#[tokio::test]
async fn over_tcp_a_call_is_answered_and_ended_by_the_far_ends_bye() {
    need_sipp!();
    let sipp = Sipp::start_tcp("far_end_bye.xml", &["-trace_msg"]).await;
    let c = SipCarrier::start(SipConfig { transport: SipTransport::Tcp, ..config(&sipp) }).await.unwrap();
    let mut leg = dial(&c, 1).await;
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Ringing));
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Answered));
    // Our Contact names our SIP port with ;transport=tcp: something must
    // listen there, and answer SIP, for requests the far end sends on a new
    // connection.
    let addr = c.local_sip_addr();
    let status = tokio::task::spawn_blocking(move || options_over_tcp(addr)).await.unwrap();
    assert_eq!(status, "SIP/2.0 200 OK");
    let (end, why) = ended(&mut leg).await;
    assert_eq!((end, why.as_str()), (LegEnd::RemoteHangup, "BYE from callee"));
    assert_eq!(c.dialogs_open(), 0, "no dialog left behind");
    let (code, err, messages) = sipp.finish_with_messages(T).await;
    assert_eq!(code, 0, "sipp's scenario failed: {err}");
    // Without ;transport=tcp a URI means UDP (RFC 3263): the far end would
    // send its in-dialog requests where nothing of ours listens.
    let invite = messages.split("INVITE sip:").nth(1).expect("sipp logged our INVITE");
    let contact = invite.lines().find(|l| l.to_ascii_lowercase().starts_with("contact:")).expect("a Contact");
    assert!(contact.to_ascii_lowercase().contains(&format!(":{};transport=tcp", addr.port())), "{contact}");
    assert!(invite.lines().any(|l| l.starts_with("Via: SIP/2.0/TCP")), "{invite}");
}

#[tokio::test]
async fn register_answers_the_digest_challenge_and_refreshes_before_the_binding_lapses() {
    need_sipp!();
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.csv");
    std::fs::write(&users, "SEQUENTIAL\nwaihu-reg;reg-s3cret;\n").unwrap();
    let sipp = Sipp::start("register_digest.xml", &["-inf", users.to_str().unwrap()]).await;
    let cfg = SipConfig {
        register: true,
        register_expires_seconds: 3600,
        username: Some("waihu-reg".into()),
        password: Some("reg-s3cret".into()),
        ..config(&sipp)
    };
    let c = SipCarrier::start(cfg).await.unwrap();
    // Watch the state: the first acceptance, then the refresh (sipp grants 4 s).
    let deadline = Instant::now() + T;
    let mut first_at = None;
    let refreshed = loop {
        let state = c.registration_state();
        match &state {
            RegistrationState::Registered { accepted: 1, .. } => {
                first_at.get_or_insert_with(Instant::now);
            }
            RegistrationState::Registered { accepted, .. } if *accepted >= 2 => break state,
            RegistrationState::Failed { .. } => panic!("registration failed: {state:?}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "no refresh within {T:?}: {state:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refreshed, RegistrationState::Registered { expires_seconds: 4, accepted: 2 }, "the granted 4 s is what counts");
    let gap = first_at.expect("the first registration was seen").elapsed();
    // Refreshed at 80 % of 4 s (3.2 s), not at the 3600 s asked for, nor at once.
    assert!(gap >= Duration::from_millis(2500) && gap < Duration::from_secs(6), "refresh after {gap:?}");
    // sipp saw both challenges answered with the right credentials, on one Call-ID.
    sipp_passed(sipp).await;
}

#[tokio::test]
async fn register_with_a_wrong_password_is_reported_failed() {
    need_sipp!();
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users.csv");
    std::fs::write(&users, "SEQUENTIAL\nwaihu-reg;right;\n").unwrap();
    let sipp = Sipp::start("register_digest.xml", &["-inf", users.to_str().unwrap()]).await;
    let cfg = SipConfig { register: true, username: Some("waihu-reg".into()), password: Some("wrong".into()), ..config(&sipp) };
    let c = SipCarrier::start(cfg).await.unwrap();
    let deadline = Instant::now() + T;
    loop {
        match c.registration_state() {
            RegistrationState::Failed { reason, failures, accepted } => {
                assert_eq!((reason.as_str(), failures, accepted), ("SIP 403 Forbidden", 1, 0));
                break;
            }
            RegistrationState::Registering => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(Instant::now() < deadline, "no answer to REGISTER within {T:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(c);
    let (code, _) = sipp.finish(T).await;
    assert_eq!(code, 1, "the scenario's 403 path fails the call");
}

#[tokio::test]
async fn an_offerless_reinvite_gets_our_sdp_and_the_call_goes_on() {
    need_sipp!();
    let sipp = Sipp::start("reinvite_no_sdp.xml", &["-rtp_echo"]).await;
    let c = SipCarrier::start(config(&sipp)).await.unwrap();
    let mut leg = dial(&c, 2).await;
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Ringing));
    assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Answered));
    let (end, why) = ended(&mut leg).await;
    assert_eq!((end, why.as_str()), (LegEnd::RemoteHangup, "BYE from callee"));
    // sipp checked that our 200 carried an SDP offer with PCMA.
    sipp_passed(sipp).await;
}

#[tokio::test]
async fn dials_over_max_calls_per_second_are_spread_out_and_all_complete() {
    need_sipp!();
    const CALLS: u32 = 10;
    let sipp = Sipp::start_calls("answer.xml", CALLS, &[]).await;
    let c = std::sync::Arc::new(SipCarrier::start(SipConfig { max_calls_per_second: 5.0, ..config(&sipp) }).await.unwrap());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..CALLS {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut leg = dial(&c, n).await;
            let dialled = start.elapsed();
            assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Ringing), "call {n}");
            let rang = start.elapsed();
            assert_eq!(next(&mut leg).await, TextEvent::Signal(Signal::Answered), "call {n}");
            leg.commands.send(TextCommand::HangUp).await.unwrap();
            let (end, why) = ended(&mut leg).await;
            assert_eq!((end, why.as_str()), (LegEnd::Released, "BYE"), "call {n}");
            (dialled, rang)
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.push(t.await.expect("every call completes"));
    }
    let mut rang: Vec<Duration> = times.iter().map(|(_, r)| *r).collect();
    rang.sort();
    let mut dialled: Vec<Duration> = times.iter().map(|(d, _)| *d).collect();
    dialled.sort();
    // 5 per second, evenly: one INVITE every 200 ms, so 10 take 1.8 s from
    // the first to the last (a burst would send 5 at once).
    let spread = rang[rang.len() - 1] - rang[0];
    assert!(spread >= Duration::from_millis(1700), "INVITEs over {spread:?}: rang at {rang:?}");
    // Never a burst: at most 5 INVITEs in any 0.8 s (evenly spaced, a sixth
    // comes 1 s after the first; the margin absorbs scheduling noise).
    for (i, t) in dialled.iter().enumerate() {
        let within = dialled[i..].iter().take_while(|u| **u - *t <= Duration::from_millis(800)).count();
        assert!(within <= 5, "{within} INVITEs within 0.8 s: {dialled:?}");
    }
    assert_eq!(c.dialogs_open(), 0, "no dialog left behind");
    sipp_passed(sipp).await;
}
