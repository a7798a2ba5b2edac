//! What the SIP benchmark reads from `/proc` besides CPU time: this
//! process's sockets, memory and threads (for the leak check), and the
//! kernel's UDP receive drops (to tell where a lost packet was lost).

use std::collections::BTreeMap;

/// This process's resources at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resources {
    /// Open file descriptors (the `read_dir` handle itself included).
    pub fds: usize,
    /// Of those, sockets (`socket:[inode]`).
    pub sockets: usize,
    /// Resident memory (VmRSS), KiB.
    pub rss_kib: u64,
    /// Threads.
    pub threads: u64,
    /// `SipCarrier::dialogs_open()` at the same moment.
    pub dialogs: usize,
}

impl Resources {
    /// Reads this process; `dialogs` comes from the carrier.
    pub fn now(dialogs: usize) -> Resources {
        let (mut fds, mut sockets) = (0, 0);
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            for entry in dir.flatten() {
                fds += 1;
                let target = std::fs::read_link(entry.path()).unwrap_or_default();
                if target.to_string_lossy().starts_with("socket:") {
                    sockets += 1;
                }
            }
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| -> u64 {
            status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        Resources { fds, sockets, rss_kib: field("VmRSS:"), threads: field("Threads:"), dialogs }
    }

    /// One line for the report.
    pub fn line(&self) -> String {
        format!(
            "sockets {:>5}  fds {:>5}  RSS {:>8.1} MiB  threads {:>3}  dialogs_open {:>4}",
            self.sockets,
            self.fds,
            self.rss_kib as f64 / 1024.0,
            self.threads,
            self.dialogs
        )
    }
}

/// The kernel's UDP counters (`/proc/net/snmp`, the `Udp:` lines) by name:
/// `InDatagrams`, `RcvbufErrors` (datagrams dropped because a socket's
/// receive buffer was full), `InErrors`, ...
pub fn udp_counters() -> BTreeMap<String, u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut lines = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else { return BTreeMap::new() };
    names.split_whitespace().skip(1).zip(values.split_whitespace().skip(1)).filter_map(|(n, v)| Some((n.to_owned(), v.parse().ok()?))).collect()
}

/// The difference of one counter between two readings.
pub fn counter_delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>, name: &str) -> u64 {
    after.get(name).copied().unwrap_or(0).saturating_sub(before.get(name).copied().unwrap_or(0))
}

/// Datagrams dropped so far by each open IPv4 UDP socket (the `drops`
/// column of `/proc/net/udp`), summed by local port. Counts die with their
/// socket: compare readings of sockets that live through both.
pub fn drops_by_port() -> BTreeMap<u16, u64> {
    let table = std::fs::read_to_string("/proc/net/udp").unwrap_or_default();
    let mut by = BTreeMap::new();
    for line in table.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let port = cols.get(1).and_then(|a| a.rsplit(':').next()).and_then(|p| u16::from_str_radix(p, 16).ok());
        let drops = cols.last().and_then(|d| d.parse::<u64>().ok());
        if let (Some(port), Some(drops)) = (port, drops) {
            *by.entry(port).or_default() += drops;
        }
    }
    by
}

/// Drops between two [`drops_by_port`] readings, grouped by `name(port)`.
pub fn drops_delta(before: &BTreeMap<u16, u64>, after: &BTreeMap<u16, u64>, name: impl Fn(u16) -> &'static str) -> BTreeMap<&'static str, u64> {
    let mut by = BTreeMap::new();
    for (port, n) in after {
        let d = n.saturating_sub(before.get(port).copied().unwrap_or(0));
        if d > 0 {
            *by.entry(name(*port)).or_default() += d;
        }
    }
    by
}
