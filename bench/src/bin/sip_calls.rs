//! SIP concurrency benchmark (issue 3): the SIP carrier against one sipp
//! UAS with RTP echo on the same machine, through `Carrier::dial` and the
//! leg contract only (no HTTP, no dialogue).
//!
//! ```sh
//! cargo build --release -p waihu-bench
//! ./target/release/sip_calls --calls 500 --hold 20        # hold mode
//! ./target/release/sip_calls --mode leak --finished 1000  # leak mode
//! ```
//!
//! Hold mode ramps to `--calls` answered calls at `--cps`, each playing the
//! leg's placeholder voice as G.711 every 20 ms and receiving sipp's echo,
//! holds them for `--hold` seconds and hangs up all. It reports calls held,
//! CPU per call (this process and sipp, separately), send pacing on the wire
//! (tcpdump, if installed), loss, set-up time and resources.
//!
//! Leak mode runs `--finished` calls of `--call-ms` each, `--batch` at a
//! time, and compares sockets, memory, threads and open dialogs before and
//! after. bench/README.md tells more; every run is bounded in time and
//! kills sipp (and tcpdump) on the way out.

use std::time::Duration;

use waihu_bench::sip::hold::{self, HoldOpts};
use waihu_bench::sip::host::Resources;
use waihu_bench::sip::leak::{self, LeakOpts};
use waihu_bench::sip::whisper_load::WhisperLoad;
use waihu_bench::{load_average, machine, open_files_limit, Flags};

const FLAGS: &[(&str, &str)] = &[
    ("mode", "hold (N calls held for a window) or leak (many short calls); default hold"),
    ("calls", "hold: calls held at once (500)"),
    ("hold", "hold: seconds of the measured window (20)"),
    ("cps", "calls dialed per second (100)"),
    ("arrivals", "poisson (random gaps, the default) or even (one dial every 1/cps)"),
    ("say", "1: play the leg's placeholder voice; 0: G.711 silence (1)"),
    ("capture", "hold: 1 to measure send pacing with tcpdump (1)"),
    ("voice", "hold: 1 to run the voice pipeline (earshot VAD on every frame, paced clips) on every call (0)"),
    ("whisper", "hold: 1 to keep Whisper decoding in the same process through the window (0; needs --features whisper)"),
    ("whisper-threads", "hold: threads per Whisper decode (0: the product's default, every core up to 4)"),
    ("whisper-nice", "hold: the nice value Whisper decodes at (the product's default 10)"),
    ("finished", "leak: calls in each round (1000)"),
    ("rounds", "leak: rounds of --finished calls, each followed by a pause and a reading (2)"),
    ("batch", "leak: calls at a time (100)"),
    ("call-ms", "leak: how long each call stays up after the answer (300)"),
    ("settle", "leak: seconds of pause before each reading (70)"),
    ("workers", "tokio worker threads (0: one per core)"),
];

fn main() {
    let flags = Flags::parse(FLAGS);
    let mode = flags.get("mode").unwrap_or("hold").to_owned();
    let cps: f64 = flags.num("cps", 100.0);
    let say = flags.num::<u8>("say", 1) != 0;
    let workers: usize = flags.num("workers", 0);
    let poisson = match flags.get("arrivals").unwrap_or("poisson") {
        "poisson" => true,
        "even" => false,
        other => {
            eprintln!("--arrivals must be poisson or even, not {other:?}");
            std::process::exit(2);
        }
    };
    if !(cps > 0.0 && cps <= 5000.0) {
        eprintln!("--cps must be between 0 and 5000");
        std::process::exit(2);
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if workers > 0 {
        rt.worker_threads(workers);
    }
    let rt = rt.build().expect("a tokio runtime");

    let date = std::process::Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default();
    println!("sip_calls {}", std::env::args().skip(1).collect::<Vec<_>>().join(" "));
    println!("{date}; {}; load average {}", machine(), load_average());

    let result = match mode.as_str() {
        "hold" => {
            let opts = HoldOpts {
                calls: flags.num("calls", 500),
                hold: Duration::from_secs(flags.num("hold", 20)),
                cps,
                poisson,
                say,
                capture: flags.num::<u8>("capture", 1) != 0,
                voice: flags.num::<u8>("voice", 0) != 0,
                whisper: (flags.num::<u8>("whisper", 0) != 0)
                    .then(|| WhisperLoad { threads: flags.num("whisper-threads", 0), nice: flags.get("whisper-nice").map(|_| flags.num("whisper-nice", 10)) }),
            };
            check_files(opts.calls);
            rt.block_on(hold::run(&opts)).map(|row| {
                let lateness = row.lateness.map_or("not measured".to_owned(), |(p50, p99, max)| format!("{p50:.2} / {p99:.2} / {max:.2}"));
                println!();
                println!("| calls | held | waihu CPU/call | sipp CPU/call | send lateness p50/p99/max ms | lost / sent | set-up p50/p99 ms |");
                println!(
                    "| {} | {} | {:.3}% | {:.3}% | {lateness} | {} / {} | {:.2} / {:.2} |",
                    row.calls, row.held, row.cpu_per_call, row.sipp_per_call, row.lost, row.sent, row.setup.0, row.setup.1
                );
            })
        }
        "leak" => {
            let opts = LeakOpts {
                finished: flags.num("finished", 1000),
                rounds: flags.num("rounds", 2),
                batch: flags.num("batch", 100),
                call: Duration::from_millis(flags.num("call-ms", 300)),
                cps,
                poisson,
                settle: Duration::from_secs(flags.num("settle", 70)),
                say,
            };
            if opts.batch == 0 || opts.finished == 0 || opts.rounds == 0 {
                eprintln!("--batch, --finished and --rounds must be at least 1");
                std::process::exit(2);
            }
            check_files(opts.batch);
            rt.block_on(leak::run(&opts)).map(|row| {
                let show = |f: &dyn Fn(&Resources) -> String| row.readings.iter().map(f).collect::<Vec<_>>().join(" -> ");
                println!();
                println!("| finished calls | clean | sockets | RSS MiB | threads | dialogs_open |");
                println!(
                    "| {} | {} | {} | {} | {} | {} |",
                    row.finished,
                    row.clean,
                    show(&|r| r.sockets.to_string()),
                    show(&|r| format!("{:.1}", r.rss_kib as f64 / 1024.0)),
                    show(&|r| r.threads.to_string()),
                    show(&|r| r.dialogs.to_string())
                );
            })
        }
        other => {
            eprintln!("--mode must be hold or leak, not {other:?}");
            std::process::exit(2);
        }
    };
    // Calls still winding down must not keep the process alive.
    rt.shutdown_timeout(Duration::from_secs(2));
    if let Err(e) = result {
        eprintln!("sip_calls: {e}");
        std::process::exit(1);
    }
}

/// One RTP socket per call, plus room: refuse to start into EMFILE.
fn check_files(calls: usize) {
    let need = calls as u64 + 200;
    if let Some(limit) = open_files_limit() {
        if limit < need {
            eprintln!("ulimit -n is {limit}; {calls} calls need about {need} open files (raise it with ulimit -n)");
            std::process::exit(2);
        }
    }
}
