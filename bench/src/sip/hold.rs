//! Hold mode: dial N calls at a steady rate, wait until every one is
//! answered (or failed), hold them all for a measured window while each
//! sends G.711 every 20 ms and receives sipp's echo, then hang up all.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use waihu_carrier::sip::SipCarrier;
use waihu_carrier::MediaReport;

use super::capture::{self, Capture, Pacing};
use super::drive::{self, Arrivals, Live, Outcome, Script};
use super::host::{counter_delta, drops_by_port, drops_delta, udp_counters, Resources};
use super::sipp::Sipp;
use super::whisper_load::{self, WhisperLoad};
use super::{carrier_config, ms, pct, RTP_PORTS};
use crate::{cpu_time, machine_cpu, noise, Percentiles};

/// What to run.
#[derive(Debug, Clone)]
pub struct HoldOpts {
    /// Calls to hold at once.
    pub calls: usize,
    /// The measured window.
    pub hold: Duration,
    /// Dials per second during the ramp.
    pub cps: f64,
    /// Poisson arrivals (else evenly spaced dials).
    pub poisson: bool,
    /// Keep the leg's placeholder voice playing (else G.711 silence).
    pub say: bool,
    /// Measure send pacing with tcpdump.
    pub capture: bool,
    /// Run the voice pipeline (VAD on every frame) on every call.
    pub voice: bool,
    /// Keep Whisper decoding in this process through the window.
    pub whisper: Option<WhisperLoad>,
}

/// The figures of one run, for the summary table.
#[derive(Debug, Default)]
pub struct HoldRow {
    /// Calls dialed.
    pub calls: usize,
    /// Answered before the window and still up at its end.
    pub held: usize,
    /// waihu's CPU per held call, % of a core.
    pub cpu_per_call: f64,
    /// sipp's CPU per held call, % of a core.
    pub sipp_per_call: f64,
    /// Send lateness p50 / p99 / max, ms (`None`: not captured).
    pub lateness: Option<(f64, f64, f64)>,
    /// Packets lost (sequence gaps in the echo) over all calls.
    pub lost: u64,
    /// Packets sent over all calls.
    pub sent: u64,
    /// Set-up p50 / p99, ms.
    pub setup: (f64, f64),
}

fn unix_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

fn us(d: Duration) -> u64 {
    d.as_micros() as u64
}

/// Runs it, printing as it goes; the error says why it could not run at all.
pub async fn run(o: &HoldOpts) -> Result<HoldRow, String> {
    let ramp_estimate = o.calls as f64 / o.cps;
    let budget = Duration::from_secs_f64(ramp_estimate + o.hold.as_secs_f64() + 120.0);
    // Loaded before the ramp, so loading does not disturb it.
    let whisper = match o.whisper {
        Some(load) => Some(whisper_load::load(load).await?),
        None => None,
    };
    let mut sipp = Sipp::start_uas(budget, RTP_PORTS.1 + 10_000).await?;
    println!("far end: {}", sipp.command);
    let carrier = Arc::new(SipCarrier::start(carrier_config(&sipp, o.calls)).await.map_err(|e| e.to_string())?);
    let idle = Resources::now(carrier.dialogs_open());
    let sockets = Sockets { our_sip: carrier.local_sip_addr().port(), sipp_sip: sipp.sip_port, sipp_media: sipp.media_port };

    let ramp = ramp(o, &carrier).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut window = hold_window(o, dir.path(), &mut sipp, &carrier, &ramp.live, whisper).await?;
    let ended = hang_up(ramp.hangup, ramp.tasks, window.capture.take(), (window.start.wall_ns, window.end.wall_ns)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = Resources::now(carrier.dialogs_open());
    drop(carrier);
    sipp.stop();

    let figures = Figures { o, idle, after, sockets, drops_before_ramp: ramp.drops_before };
    Ok(figures.report(window, ended).await)
}

/// The ports of the sockets in the run, to tell where a UDP drop was.
#[derive(Debug, Clone, Copy)]
struct Sockets {
    our_sip: u16,
    sipp_sip: u16,
    sipp_media: u16,
}

impl Sockets {
    fn name(&self, port: u16) -> &'static str {
        match port {
            p if p == self.sipp_media => "sipp's RTP echo socket",
            p if p == self.sipp_sip => "sipp's SIP socket",
            p if p == self.our_sip => "our SIP socket",
            p if (RTP_PORTS.0..=RTP_PORTS.1).contains(&p) => "our RTP sockets",
            _ => "other programs' sockets",
        }
    }
}

/// The dialed calls, answered (or failed), waiting for the hang-up.
struct Ramp {
    tasks: Vec<JoinHandle<Outcome>>,
    live: Arc<Live>,
    hangup: watch::Sender<bool>,
    /// UDP receive drops by port before the first dial.
    drops_before: BTreeMap<u16, u64>,
}

/// Dials every call at the configured rate and waits (at most 30 s) until
/// each is answered or failed.
async fn ramp(o: &HoldOpts, carrier: &Arc<SipCarrier>) -> Ramp {
    let (hangup, told) = watch::channel(false);
    let live = Arc::new(Live::default());
    let script = Script { say: o.say, hold: None, voice: o.voice.then(super::voice::engines) };
    let mut arrivals = Arrivals::new(o.cps, o.poisson);
    let drops_before = drops_by_port();
    let ramp_start = Instant::now();
    let mut tasks = Vec::with_capacity(o.calls);
    for n in 0..o.calls {
        arrivals.wait().await;
        tasks.push(tokio::spawn(drive::call(carrier.clone(), n, script.clone(), told.clone(), live.clone())));
    }
    let settled = Instant::now() + Duration::from_secs(30);
    while live.answered.load(Ordering::Relaxed) + live.unanswered.load(Ordering::Relaxed) < o.calls && Instant::now() < settled {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp = ramp_start.elapsed();
    println!(
        "ramp: {} calls dialed at {}/s ({}) in {:.1} s: {} answered, {} not",
        o.calls,
        o.cps,
        if o.poisson { "Poisson arrivals" } else { "evenly spaced" },
        ramp.as_secs_f64(),
        live.answered.load(Ordering::Relaxed),
        live.unanswered.load(Ordering::Relaxed)
    );
    Ramp { tasks, live, hangup, drops_before }
}

/// CPU times, the clock and the live calls at one end of the window.
struct Reading {
    ours: Option<Duration>,
    sipp: Option<Duration>,
    tcpdump: Option<Duration>,
    machine: Option<(Duration, Duration)>,
    wall_ns: i64,
    at: Instant,
    up: usize,
}

impl Reading {
    fn now(sipp: Option<u32>, tcpdump: Option<u32>, live: &Live) -> Reading {
        let (ours, sipp, tcpdump, machine) = (cpu_time(None), cpu_time(sipp), tcpdump.and_then(|p| cpu_time(Some(p))), machine_cpu());
        let (wall_ns, at) = (unix_ns(), Instant::now());
        Reading { ours, sipp, tcpdump, machine, wall_ns, at, up: live.up.load(Ordering::Relaxed) }
    }
}

/// What was read over the measured window.
struct Window {
    /// The packet capture, running until the calls are hung up.
    capture: Option<Capture>,
    start: Reading,
    end: Reading,
    udp: (BTreeMap<String, u64>, BTreeMap<String, u64>),
    drops: (BTreeMap<u16, u64>, BTreeMap<u16, u64>),
    /// Resources at the window's end.
    peak: Resources,
    sipp_alive: bool,
    /// The Whisper decoding beside the calls, if any: its summary line.
    decoding: Option<JoinHandle<String>>,
}

/// Holds the calls for `o.hold`, capturing their packets into `dir` when
/// asked, and reads the machine at both ends.
async fn hold_window(
    o: &HoldOpts,
    dir: &Path,
    sipp: &mut Sipp,
    carrier: &SipCarrier,
    live: &Live,
    whisper: Option<whisper_load::Loaded>,
) -> Result<Window, String> {
    let capture = match (o.capture, capture::available()) {
        (true, true) => Some(Capture::start(dir, sipp.media_port, o.hold + Duration::from_secs(30)).await?),
        (true, false) => {
            println!("tcpdump not installed: send pacing not measured (apt-get install tcpdump)");
            None
        }
        (false, _) => None,
    };
    let tcpdump_pid = capture.as_ref().and_then(Capture::tcpdump_pid);
    let udp0 = udp_counters();
    let drops0 = drops_by_port();
    let start = Reading::now(sipp.pid(), tcpdump_pid, live);
    let decoding = whisper.map(|w| w.run_until(start.at + o.hold));
    tokio::time::sleep(o.hold).await;
    let end = Reading::now(sipp.pid(), tcpdump_pid, live);
    let (udp1, drops1) = (udp_counters(), drops_by_port());
    let peak = Resources::now(carrier.dialogs_open());
    let sipp_alive = sipp.running();
    Ok(Window { capture, start, end, udp: (udp0, udp1), drops: (drops0, drops1), peak, sipp_alive, decoding })
}

/// The calls after the hang-up, and the capture's reading of the window.
struct Ended {
    outcomes: Vec<Outcome>,
    /// Legs that did not end within 30 s of the hang-up.
    stuck: usize,
    pacing: Option<Result<(Pacing, String), String>>,
}

/// Tells every call to hang up, collects them (at most 30 s), and reads
/// the capture over the window (`wall_ns`, Unix time).
async fn hang_up(hangup: watch::Sender<bool>, tasks: Vec<JoinHandle<Outcome>>, capture: Option<Capture>, wall_ns: (i64, i64)) -> Ended {
    let _ = hangup.send(true);
    let deadline = Instant::now() + Duration::from_secs(30);
    let joined = drive::join_until(tasks, deadline).await;
    let stuck = joined.iter().filter(|out| out.is_none()).count();
    let outcomes: Vec<Outcome> = joined.into_iter().flatten().collect();
    let pacing = match capture {
        Some(c) => Some(c.finish().await.and_then(|(data, summary)| Ok((capture::analyse(&data, wall_ns.0, wall_ns.1)?, summary)))),
        None => None,
    };
    Ended { outcomes, stuck, pacing }
}

/// What the report needs besides the window and the ended calls.
struct Figures<'a> {
    o: &'a HoldOpts,
    idle: Resources,
    /// Resources 5 s after the hang-up.
    after: Resources,
    sockets: Sockets,
    drops_before_ramp: BTreeMap<u16, u64>,
}

impl Figures<'_> {
    /// Prints the run's figures; the row for the summary table.
    async fn report(&self, window: Window, ended: Ended) -> HoldRow {
        let o = self.o;
        let outcomes = &ended.outcomes;
        let answered: Vec<&Outcome> = outcomes.iter().filter(|o| o.setup.is_some()).collect();
        let held = outcomes.iter().filter(|o| o.setup.is_some() && o.ended_at.is_none_or(|e| e >= window.end.at)).count();
        let early: Vec<&Outcome> = outcomes.iter().filter(|o| o.ended_early()).collect();
        let setup = Percentiles::of(answered.iter().filter_map(|o| o.setup).map(us).collect());
        let (start, end) = (&window.start, &window.end);
        let length = end.at - start.at;
        let secs = length.as_secs_f64();
        let busy = |a: Option<Duration>, b: Option<Duration>| b.zip(a).map(|(b, a)| b.saturating_sub(a).as_secs_f64()).unwrap_or(0.0);
        let (ours, theirs, dump) = (busy(start.ours, end.ours), busy(start.sipp, end.sipp), busy(start.tcpdump, end.tcpdump));
        let per_call = |cpu: f64| if held == 0 { 0.0 } else { 100.0 * cpu / secs / held as f64 };

        println!();
        println!("calls dialed {}  answered {}  held through the {:.0} s window {}  (up at window start {}, at end {})", o.calls, answered.len(), secs, held, start.up, end.up);
        println!("ended before our hang-up: {}  legs stuck after hang-up: {}  sipp alive at window end: {}", early.len(), ended.stuck, window.sipp_alive);
        for (label, n) in drive::failures(early.iter().copied()).iter().take(6) {
            println!("  {n:>5} x {label}");
        }
        println!("set-up, dial -> Answered (ms): p50 {}  p90 {}  p99 {}  max {}  (n {})", ms(Duration::from_micros(setup.p50)), ms(Duration::from_micros(setup.p90)), ms(Duration::from_micros(setup.p99)), ms(Duration::from_micros(setup.max)), setup.n);
        println!(
            "CPU over the window: waihu {:.2} s = {} of a core = {:.3}% per call;  sipp {:.2} s = {} = {:.3}% per call;  tcpdump {:.2} s",
            ours,
            pct(ours, secs),
            per_call(ours),
            theirs,
            pct(theirs, secs),
            per_call(theirs),
            dump
        );
        println!("  {}", noise(start.machine, end.machine, Duration::from_secs_f64(ours + theirs + dump), length));
        if let Some(decoding) = window.decoding {
            // waihu's CPU above includes the decoding's.
            println!("{}", decoding.await.unwrap_or_else(|e| format!("Whisper decoding task failed: {e}")));
        }
        let reports: Vec<&MediaReport> = outcomes.iter().filter_map(|o| o.report.as_ref()).collect();
        let (sent, lost) = (reports.iter().map(|r| r.packets_sent).sum(), reports.iter().map(|r| r.packets_lost).sum());
        let mut row = HoldRow { calls: o.calls, held, cpu_per_call: per_call(ours), sipp_per_call: per_call(theirs), lost, sent, ..HoldRow::default() };
        row.setup = (setup.p50 as f64 / 1000.0, setup.p99 as f64 / 1000.0);
        row.lateness = print_pacing(ended.pacing);
        print_rtp(&reports);
        self.print_drops_and_resources(&window.udp, &window.drops, &window.peak);
        row
    }

    fn print_drops_and_resources(&self, udp: &(BTreeMap<String, u64>, BTreeMap<String, u64>), drops: &(BTreeMap<u16, u64>, BTreeMap<u16, u64>), peak: &Resources) {
        let socket_of = |port| self.sockets.name(port);
        let list = |by: BTreeMap<&str, u64>| if by.is_empty() { "none".to_owned() } else { by.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ") };
        println!(
            "UDP receive-buffer drops: in the window {} (machine-wide RcvbufErrors {}); from the first dial to the window's end {}",
            list(drops_delta(&drops.0, &drops.1, socket_of)),
            counter_delta(&udp.0, &udp.1, "RcvbufErrors"),
            list(drops_delta(&self.drops_before_ramp, &drops.1, socket_of))
        );
        println!("resources  idle:            {}", self.idle.line());
        println!("           at window end:   {}", peak.line());
        println!("           5 s after hang-up: {}", self.after.line());
    }
}

/// Prints the send pacing the capture measured; its lateness p50 / p99 /
/// max in ms for the row.
fn print_pacing(pacing: Option<Result<(Pacing, String), String>>) -> Option<(f64, f64, f64)> {
    match pacing {
        Some(Ok((p, summary))) => {
            let l = &p.lateness_us;
            let d = &p.interval_dev_us;
            println!(
                "send pacing on the wire ({} streams, {} packets in the window): lateness vs the 20 ms grid p50 {} p99 {} max {} ms; \
                 |interval - 20 ms| p50 {} p99 {} max {} ms; {} packets > 3 ms late; {} sequence gaps",
                p.streams,
                p.packets,
                crate::ms(l.p50),
                crate::ms(l.p99),
                crate::ms(l.max),
                crate::ms(d.p50),
                crate::ms(d.p99),
                crate::ms(d.max),
                p.late_over_3ms,
                p.seq_gaps
            );
            println!("  tcpdump: {summary}");
            Some((l.p50 as f64 / 1000.0, l.p99 as f64 / 1000.0, l.max as f64 / 1000.0))
        }
        Some(Err(e)) => {
            println!("send pacing: capture failed: {e}");
            None
        }
        None => None,
    }
}

/// Prints the RTP counters of every call's media report.
fn print_rtp(reports: &[&MediaReport]) {
    let sent: u64 = reports.iter().map(|r| r.packets_sent).sum();
    let received: u64 = reports.iter().map(|r| r.packets_received).sum();
    let lost: u64 = reports.iter().map(|r| r.packets_lost).sum();
    let calls_with_loss = reports.iter().filter(|r| r.packets_lost > 0).count();
    let jitter = Percentiles::of(reports.iter().map(|r| (r.jitter_ms * 1000.0) as u64).collect());
    println!(
        "RTP over whole calls: sent {sent}  received {received}  lost {lost} ({} of calls had loss)  RFC 3550 jitter at call end p50 {} p99 {} max {} ms",
        pct(calls_with_loss as f64, reports.len() as f64),
        crate::ms(jitter.p50),
        crate::ms(jitter.p99),
        crate::ms(jitter.max)
    );
}
