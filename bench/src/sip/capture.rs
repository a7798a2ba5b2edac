//! Send pacing measured on the wire: `tcpdump` captures our RTP packets to
//! sipp's media port on `lo`, with the kernel's timestamp of each send, and
//! the analysis puts every packet against its stream's 20 ms grid.
//!
//! Why outside the carrier: the media engine keeps a send-interval histogram
//! per stream (`RtpStats::send_histogram`), but the SIP leg hands the call's
//! owner only a `MediaReport` (packets, loss, RFC 3550 jitter), so the
//! histogram is unreachable through `Carrier::dial`. The capture measures the
//! same thing from outside: on loopback the packet is timestamped in
//! `netif_rx`, inside the sending `sendto` call.
//!
//! For a stream, packet k with (unwrapped) sequence number s_k sent at t_k
//! belongs to slot T0 + (s_k - s_0) * 20 ms; T0 is taken as the earliest
//! such origin in the window, so "lateness" is measured against the
//! stream's own best-kept slot (the engine measures against the tokio
//! interval's deadline, which tokio's 1 ms timer already rounds up: this
//! figure can read up to ~1 ms lower than the engine's). Lost captures do
//! not matter: each packet is placed by its own sequence number.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::Percentiles;

const PTIME_NS: i64 = 20_000_000;

/// A running capture.
pub struct Capture {
    child: Option<Child>,
    file: PathBuf,
    stderr: PathBuf,
}

/// Whether tcpdump can be run (`apt-get install tcpdump`).
pub fn available() -> bool {
    Command::new("tcpdump").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

impl Capture {
    /// Captures UDP to `dst_port` on loopback into `dir`, 64 bytes of each
    /// packet (enough for the RTP header); `timeout` kills it whatever happens.
    pub async fn start(dir: &Path, dst_port: u16, max: Duration) -> Result<Capture, String> {
        let file = dir.join("rtp.pcap");
        let stderr = dir.join("tcpdump.stderr");
        let err = File::create(&stderr).map_err(|e| e.to_string())?;
        let child = Command::new("timeout")
            .args(["-s", "INT", &format!("{}s", max.as_secs().max(1))])
            .args(["tcpdump", "-i", "lo", "-n", "-p", "-s", "64", "-B", "32768", "-Z", "root", "-w"])
            .arg(&file)
            .arg(format!("udp and dst port {dst_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot run tcpdump: {e}"))?;
        let capture = Capture { child: Some(child), file, stderr };
        for _ in 0..120 {
            if std::fs::read_to_string(&capture.stderr).unwrap_or_default().contains("listening on") {
                return Ok(capture);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(format!("tcpdump did not start: {}", std::fs::read_to_string(&capture.stderr).unwrap_or_default().trim()))
    }

    /// tcpdump's own process id (a child of `timeout`).
    pub fn tcpdump_pid(&self) -> Option<u32> {
        let pid = self.child.as_ref()?.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    /// Stops the capture (SIGINT, so tcpdump writes out its buffer) and
    /// returns the capture and tcpdump's summary ("N packets dropped by kernel").
    pub async fn finish(mut self) -> Result<(Vec<u8>, String), String> {
        let Some(mut child) = self.child.take() else { return Err("capture already finished".into()) };
        // `timeout` passes the signal on to tcpdump.
        let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        for _ in 0..200 {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        let summary = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let summary = summary.lines().filter(|l| l.contains("packets")).collect::<Vec<_>>().join(", ");
        let data = std::fs::read(&self.file).map_err(|e| format!("no capture file: {e}"))?;
        Ok((data, summary))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Send pacing over all streams in a window.
#[derive(Debug, Default)]
pub struct Pacing {
    /// Streams (source port and SSRC) seen.
    pub streams: usize,
    /// Packets placed.
    pub packets: usize,
    /// Lateness against the stream's 20 ms grid, microseconds.
    pub lateness_us: Percentiles,
    /// |interval - 20 ms| between consecutive packets of a stream, microseconds.
    pub interval_dev_us: Percentiles,
    /// Packets more than 3 ms late.
    pub late_over_3ms: usize,
    /// Sequence numbers missing between a stream's first and last captured
    /// packet (sent but not captured, or never sent).
    pub seq_gaps: u64,
}

/// Reads a pcap (classic format, micro- or nanosecond timestamps) of
/// Ethernet-framed IPv4/UDP/RTP packets and measures pacing for the packets
/// sent between `from_ns` and `to_ns` (Unix time, nanoseconds).
pub fn analyse(pcap: &[u8], from_ns: i64, to_ns: i64) -> Result<Pacing, String> {
    if pcap.len() < 24 {
        return Err("capture file too short".into());
    }
    let magic = u32::from_le_bytes([pcap[0], pcap[1], pcap[2], pcap[3]]);
    let frac_ns = match magic {
        0xa1b2_c3d4 => 1000,
        0xa1b2_3c4d => 1,
        other => return Err(format!("not a little-endian pcap file (magic {other:#x})")),
    };
    let u32_at = |i: usize| u32::from_le_bytes([pcap[i], pcap[i + 1], pcap[i + 2], pcap[i + 3]]);
    let link = u32_at(20);
    if link != 1 {
        return Err(format!("unexpected link type {link} (Ethernet expected)"));
    }
    let mut streams: HashMap<(u16, u32), Vec<(i64, u16)>> = HashMap::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let t = i64::from(u32_at(at)) * 1_000_000_000 + i64::from(u32_at(at + 4)) * frac_ns;
        let len = u32_at(at + 8) as usize;
        let pkt = &pcap[at + 16..(at + 16 + len).min(pcap.len())];
        at += 16 + len;
        if t < from_ns || t > to_ns || pkt.len() < 14 + 20 + 8 + 12 || pkt[12..14] != [0x08, 0x00] {
            continue;
        }
        let ip = &pkt[14..];
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        if ip[9] != 17 || ip.len() < ihl + 8 + 12 {
            continue;
        }
        let udp = &ip[ihl..];
        let src_port = u16::from_be_bytes([udp[0], udp[1]]);
        let rtp = &udp[8..];
        if rtp[0] >> 6 != 2 {
            continue;
        }
        let seq = u16::from_be_bytes([rtp[2], rtp[3]]);
        let ssrc = u32::from_be_bytes([rtp[8], rtp[9], rtp[10], rtp[11]]);
        streams.entry((src_port, ssrc)).or_default().push((t, seq));
    }
    let mut pacing = Pacing { streams: streams.len(), ..Pacing::default() };
    let (mut lateness, mut deviation) = (Vec::new(), Vec::new());
    for packets in streams.values_mut() {
        packets.sort_unstable();
        // Unwrap the 16-bit sequence numbers against the previous packet.
        let mut ext = Vec::with_capacity(packets.len());
        let mut last: Option<(i64, u16)> = None;
        for &(t, seq) in packets.iter() {
            let s = match last {
                None => 0,
                Some((prev_ext, prev_seq)) => prev_ext + i64::from(seq.wrapping_sub(prev_seq) as i16),
            };
            last = Some((s, seq));
            ext.push((t, s));
        }
        let origin = ext.iter().map(|&(t, s)| t - s * PTIME_NS).min().unwrap_or(0);
        for &(t, s) in &ext {
            let late = t - s * PTIME_NS - origin;
            if late > 3_000_000 {
                pacing.late_over_3ms += 1;
            }
            lateness.push((late / 1000) as u64);
        }
        for pair in ext.windows(2) {
            if pair[1].1 - pair[0].1 == 1 {
                deviation.push((pair[1].0 - pair[0].0 - PTIME_NS).unsigned_abs() / 1000);
            }
        }
        let (lo, hi) = (ext.iter().map(|e| e.1).min().unwrap_or(0), ext.iter().map(|e| e.1).max().unwrap_or(0));
        let distinct = ext.iter().map(|e| e.1).collect::<std::collections::HashSet<_>>().len() as i64;
        pacing.seq_gaps += (hi - lo + 1 - distinct).max(0) as u64;
    }
    pacing.packets = lateness.len();
    pacing.lateness_us = Percentiles::of(lateness);
    pacing.interval_dev_us = Percentiles::of(deviation);
    Ok(pacing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(t_ns: i64, port: u16, seq: u16) -> Vec<u8> {
        let mut pkt = vec![0u8; 14 + 20 + 8 + 12];
        pkt[12] = 0x08;
        pkt[14] = 0x45;
        pkt[14 + 9] = 17;
        pkt[34..36].copy_from_slice(&port.to_be_bytes());
        pkt[42] = 0x80;
        pkt[44..46].copy_from_slice(&seq.to_be_bytes());
        pkt[50..54].copy_from_slice(&7u32.to_be_bytes());
        let mut rec = Vec::new();
        rec.extend_from_slice(&((t_ns / 1_000_000_000) as u32).to_le_bytes());
        rec.extend_from_slice(&((t_ns % 1_000_000_000 / 1000) as u32).to_le_bytes());
        rec.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        rec.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        rec.extend_from_slice(&pkt);
        rec
    }

    #[test]
    fn packets_are_placed_on_their_grid_across_a_sequence_wrap() {
        let mut pcap = vec![0u8; 24];
        pcap[..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        pcap[20] = 1;
        let start = 1_700_000_000_000_000_000i64;
        // Seq 65534, 65535, 0 (on time), 1 lost, 2 four ms late.
        for (k, seq, late_ms) in [(0, 65534u16, 0), (1, 65535, 0), (2, 0, 0), (4, 2, 4)] {
            pcap.extend(record(start + k * PTIME_NS + late_ms * 1_000_000, 20000, seq));
        }
        let p = analyse(&pcap, start, start + 1_000_000_000).unwrap();
        assert_eq!((p.streams, p.packets, p.late_over_3ms, p.seq_gaps), (1, 4, 1, 1));
        assert_eq!((p.lateness_us.p50, p.lateness_us.max), (0, 4000));
        assert_eq!(p.interval_dev_us.max, 0, "only consecutive packets count");
    }
}
