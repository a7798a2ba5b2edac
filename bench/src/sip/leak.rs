//! Leak mode: rounds of short answered calls in batches, with this
//! process's sockets, memory, threads and the carrier's open dialogs read
//! before and after each round. A warm-up batch runs first, so what is
//! allocated once (runtime threads, allocator arenas) is in the "before"
//! reading; every reading follows the same pause (`settle`), longer than
//! SIP's 64*T1 (rsipstack keeps each answered INVITE's client transaction
//! for 32 s, then 32 s more as finished).
//!
//! Why rounds: while calls run faster than those transactions expire, the
//! heap they hold grows with the calls; it is freed afterwards, but the
//! allocator keeps RSS at its high-water mark. The first round shows that
//! mark, the second shows growth per finished call once it is reached.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use waihu_carrier::sip::SipCarrier;

use super::drive::{self, Arrivals, Live, Outcome, Script};
use super::host::Resources;
use super::sipp::Sipp;
use super::{carrier_config, RTP_PORTS};
use crate::Percentiles;

/// What to run.
#[derive(Debug, Clone)]
pub struct LeakOpts {
    /// Calls counted in each round (after the warm-up batch).
    pub finished: usize,
    /// Rounds of `finished` calls, each followed by a pause and a reading.
    pub rounds: usize,
    /// Calls live at once.
    pub batch: usize,
    /// How long each call stays up after its answer.
    pub call: Duration,
    /// Dials per second within a batch.
    pub cps: f64,
    /// Poisson arrivals (else evenly spaced dials).
    pub poisson: bool,
    /// Pause before each reading.
    pub settle: Duration,
    /// Keep the placeholder voice playing.
    pub say: bool,
}

/// The leak figures, for the summary table.
#[derive(Debug, Default)]
pub struct LeakRow {
    /// Calls counted over all rounds.
    pub finished: usize,
    /// Of those, answered and released by our BYE.
    pub clean: usize,
    /// Before the first round, then after each round (each after the pause).
    pub readings: Vec<Resources>,
}

async fn batch(carrier: &Arc<SipCarrier>, first: usize, o: &LeakOpts) -> Vec<Outcome> {
    let (_keep, told) = watch::channel(false);
    let live = Arc::new(Live::default());
    let script = Script { say: o.say, hold: Some(o.call), voice: None };
    let mut arrivals = Arrivals::new(o.cps, o.poisson);
    let mut tasks = Vec::with_capacity(o.batch);
    for n in first..first + o.batch {
        arrivals.wait().await;
        tasks.push(tokio::spawn(drive::call(carrier.clone(), n, script.clone(), told.clone(), live.clone())));
    }
    let deadline = Instant::now() + o.call + Duration::from_secs(40);
    let stuck = || Outcome { dial_error: Some("leg did not end within 40 s of its hang-up".into()), ..Outcome::default() };
    drive::join_until(tasks, deadline).await.into_iter().map(|out| out.unwrap_or_else(stuck)).collect()
}

fn is_clean(o: &Outcome) -> bool {
    o.setup.is_some() && !o.ended_early() && o.end.as_ref().is_some_and(|(_, why)| why == "BYE")
}

/// Runs it, printing as it goes.
pub async fn run(o: &LeakOpts) -> Result<LeakRow, String> {
    let batches = o.finished.div_ceil(o.batch);
    let per_batch = o.batch as f64 / o.cps + o.call.as_secs_f64() + 6.0;
    let budget = Duration::from_secs_f64((batches * o.rounds + 1) as f64 * per_batch + (o.rounds + 1) as f64 * o.settle.as_secs_f64() + 120.0);
    let mut sipp = Sipp::start_uas(budget, RTP_PORTS.1 + 10_000).await?;
    println!("far end: {}", sipp.command);
    let carrier = Arc::new(SipCarrier::start(carrier_config(&sipp, o.batch)).await.map_err(|e| e.to_string())?);
    println!("idle:                       {}", Resources::now(carrier.dialogs_open()).line());

    let warm = batch(&carrier, 0, o).await;
    println!("warm-up batch of {}: {} clean;  {}", o.batch, warm.iter().filter(|w| is_clean(w)).count(), Resources::now(carrier.dialogs_open()).line());
    tokio::time::sleep(o.settle).await;
    let before = Resources::now(carrier.dialogs_open());
    println!("before ({} s after warm-up):  {}", o.settle.as_secs(), before.line());

    let mut outcomes = Vec::with_capacity(o.finished * o.rounds);
    let mut readings = vec![before];
    let started = Instant::now();
    for round in 1..=o.rounds {
        for b in 0..batches {
            let mut done = batch(&carrier, o.batch * (1 + b + (round - 1) * batches), o).await;
            done.truncate(o.finished * round - outcomes.len());
            outcomes.extend(done);
            println!("after {:>5} calls:          {}", outcomes.len(), Resources::now(carrier.dialogs_open()).line());
        }
        tokio::time::sleep(o.settle).await;
        let after = Resources::now(carrier.dialogs_open());
        println!("round {round} done ({} s pause):   {}", o.settle.as_secs(), after.line());
        readings.push(after);
    }
    let took = started.elapsed();
    let sipp_alive = sipp.running();
    drop(carrier);
    sipp.stop();

    let clean = outcomes.iter().filter(|c| is_clean(c)).count();
    let setup = Percentiles::of(outcomes.iter().filter_map(|c| c.setup).map(|d| d.as_micros() as u64).collect());
    let lost: u64 = outcomes.iter().filter_map(|c| c.report.as_ref()).map(|r| r.packets_lost).sum();
    let sent: u64 = outcomes.iter().filter_map(|c| c.report.as_ref()).map(|r| r.packets_sent).sum();
    println!();
    println!("{} calls in {:.1} s: {clean} answered and ended by our BYE; sipp alive at the end: {sipp_alive}", outcomes.len(), took.as_secs_f64());
    for (label, n) in drive::failures(outcomes.iter().filter(|c| !is_clean(c))).iter().take(6) {
        println!("  {n:>5} x {label}");
    }
    println!(
        "set-up (ms): p50 {}  p99 {}  max {};  RTP sent {sent}, lost {lost}",
        crate::ms(setup.p50),
        crate::ms(setup.p99),
        crate::ms(setup.max)
    );
    for (round, pair) in readings.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        let n = o.finished as f64;
        println!(
            "round {}: growth over {} finished calls: sockets {:+}, fds {:+}, threads {:+}, dialogs_open {:+}, RSS {:+.1} MiB ({:+.2} KiB per call)",
            round + 1,
            o.finished,
            b.sockets as i64 - a.sockets as i64,
            b.fds as i64 - a.fds as i64,
            b.threads as i64 - a.threads as i64,
            b.dialogs as i64 - a.dialogs as i64,
            (b.rss_kib as f64 - a.rss_kib as f64) / 1024.0,
            (b.rss_kib as f64 - a.rss_kib as f64) / n
        );
    }
    Ok(LeakRow { finished: outcomes.len(), clean, readings })
}
