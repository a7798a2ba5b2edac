//! What both benchmark binaries share: a tiny flag parser, percentiles, and
//! readings of a process's CPU time and peak memory from `/proc`.
//!
//! The benchmarks print their figures; nothing is written anywhere else.

use std::collections::BTreeMap;
use std::time::Duration;

pub mod sip;
pub mod turn;

/// `--name value` flags. Hand-rolled rather than clap: two binaries with a
/// handful of numeric flags do not need it, and unknown flags must still be
/// refused so a typo does not silently run the default benchmark.
pub struct Flags(BTreeMap<String, String>);

impl Flags {
    /// Parses the process arguments; `known` lists the accepted names
    /// (without `--`) with their help text.
    pub fn parse(known: &[(&str, &str)]) -> Flags {
        Flags::parse_from(std::env::args().skip(1), known)
    }

    /// The same from given arguments (without the program name), for a
    /// binary that takes some switches out first.
    pub fn parse_from(args: impl IntoIterator<Item = String>, known: &[(&str, &str)]) -> Flags {
        let mut map = BTreeMap::new();
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            let name = a.strip_prefix("--").unwrap_or("");
            if a == "--help" || a == "-h" || !known.iter().any(|(k, _)| *k == name) {
                if a != "--help" && a != "-h" {
                    eprintln!("unknown argument {a:?}");
                }
                eprintln!("flags:");
                for (k, help) in known {
                    eprintln!("  --{k:<14} {help}");
                }
                std::process::exit(2);
            }
            let Some(v) = args.next() else {
                eprintln!("--{name} needs a value");
                std::process::exit(2);
            };
            map.insert(name.to_owned(), v);
        }
        Flags(map)
    }

    /// The flag's value, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The flag parsed as `T`, or `default`; exits with a message on a bad value.
    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("--{name} {v:?} is not a valid number");
                std::process::exit(2);
            }),
        }
    }
}

/// Latency figures of one sample set, in microseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Percentiles {
    /// Sorts the samples and reads nearest-rank percentiles: exact for the
    /// sample sizes here (at most a few million), so no histogram is needed.
    pub fn of(mut samples: Vec<u64>) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        samples.sort_unstable();
        let at = |q: f64| samples[((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
        Percentiles { n: samples.len(), p50: at(0.50), p90: at(0.90), p99: at(0.99), max: samples[samples.len() - 1] }
    }
}

/// Microseconds as milliseconds with two decimals.
pub fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// A ratio with three significant digits (small throughput ratios would
/// round to nothing with fixed decimals), or `n/a` when the divisor is zero.
pub fn ratio(a: f64, b: f64) -> String {
    if b == 0.0 {
        return "n/a".into();
    }
    let r = a / b;
    let decimals = if r >= 100.0 { 0 } else if r >= 10.0 { 1 } else if r >= 1.0 { 2 } else { (2 - r.log10().floor() as i32).clamp(2, 6) as usize };
    format!("{r:.decimals$}")
}

/// `self` or a pid.
fn proc_dir(pid: Option<u32>) -> String {
    pid.map_or_else(|| "/proc/self".to_owned(), |p| format!("/proc/{p}"))
}

/// User + system CPU time of a process so far. `/proc/<pid>/stat` counts in
/// USER_HZ ticks, which Linux fixes at 100 for user space whatever the
/// kernel's tick rate; reading it needs no `sysconf` (and so no unsafe code).
pub fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("{}/stat", proc_dir(pid))).ok()?;
    // The command name (field 2) may hold spaces: fields are counted after its `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state), so utime (14) and stime (15) are 11 and 12.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Peak resident memory (VmHWM) of a process, in KiB.
pub fn peak_rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("{}/status", proc_dir(pid))).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The soft limit on open files: 1,000 live streams need 2,000 sockets in
/// one process (both ends), so the benchmark checks before it starts.
pub fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Wall-clock now in microseconds since the Unix epoch (comparable with the
/// store's millisecond timestamps).
pub fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// The machine, for the report: core count and CPU model.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores, {model}")
}

/// Machine-wide busy CPU time so far from `/proc/stat`: user + nice +
/// system + irq + softirq across all cores, plus (separately) time stolen by
/// the hypervisor for other guests.
pub fn machine_cpu() -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let f: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal ...
    let busy = f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)?;
    Some((Duration::from_millis(busy * 10), Duration::from_millis(f.get(7)? * 10)))
}

/// How busy the machine was between two [`machine_cpu`] readings, next to
/// what the benchmark's own processes used. The two are not subtracted:
/// the kernel charges interrupt work partly to processes and partly to no
/// one, so the difference is only roughly "everything else" (other programs,
/// kernel threads such as disk writeback of our own SQLite writes, interrupts).
pub fn noise(before: Option<(Duration, Duration)>, after: Option<(Duration, Duration)>, ours: Duration, wall: Duration) -> String {
    let (Some((b0, s0)), Some((b1, s1))) = (before, after) else { return "machine CPU not readable".into() };
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    let pct = |d: Duration| 100.0 * d.as_secs_f64() / (wall.as_secs_f64() * cores);
    format!(
        "machine busy {:.0}% of {} cores, this benchmark's processes {:.0}%, {:.1} s stolen by the hypervisor",
        pct(b1.saturating_sub(b0)),
        cores,
        pct(ours),
        s1.saturating_sub(s0).as_secs_f64()
    )
}

/// The 1/5/15-minute load averages: on a shared machine, how busy it was
/// when the benchmark started (other work skews every figure).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let p = Percentiles::of((1..=100).rev().collect());
        assert_eq!((p.n, p.p50, p.p90, p.p99, p.max), (100, 50, 90, 99, 100));
        let one = Percentiles::of(vec![7]);
        assert_eq!((one.p50, one.p99, one.max), (7, 7, 7));
        assert_eq!(Percentiles::of(vec![]).n, 0);
    }

    #[test]
    fn ratios_keep_three_significant_digits() {
        assert_eq!(ratio(1594.0, 79561.0), "0.0200");
        assert_eq!(ratio(8047.0, 79561.0), "0.101");
        assert_eq!(ratio(20.1, 1.0), "20.1");
        assert_eq!(ratio(1.0, 0.0), "n/a");
    }

    #[test]
    fn proc_readings_work_on_linux() {
        assert!(cpu_time(None).is_some());
        assert!(peak_rss_kib(None).unwrap() > 0);
    }
}
