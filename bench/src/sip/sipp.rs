//! sipp as the far end: one built-in UAS (`-sn uas`) on loopback that
//! answers every INVITE (180, then 200 with a PCMU SDP) and echoes every
//! RTP packet it receives on its one media port back to the sender
//! (`-rtp_echo`). Bounded by its own `-timeout`, and killed when dropped.

use std::fs::File;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running sipp.
pub struct Sipp {
    child: Option<Child>,
    /// Its SIP port on 127.0.0.1.
    pub sip_port: u16,
    /// Its RTP port (all calls' media go to this one port).
    pub media_port: u16,
    /// The command line, for the report.
    pub command: String,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

fn udp_free(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok()
}

fn free_port() -> Result<u16, String> {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).map_err(|e| format!("no free UDP port: {e}"))
}

/// An even port with the next three free too (sipp binds RTP and RTCP for
/// audio and video), above `floor` (keep it out of the carrier's RTP range).
fn free_media_port(floor: u16) -> Result<u16, String> {
    let span = u16::MAX - floor - 8;
    for _ in 0..500 {
        let p = floor + free_port()? % span;
        let p = p - p % 2;
        if (p..p + 4).all(udp_free) {
            return Ok(p);
        }
    }
    Err("no free media port for sipp".into())
}

impl Sipp {
    /// Starts the UAS and waits until its SIP port is bound. It exits by
    /// itself after `timeout` whatever happens to the benchmark.
    pub async fn start_uas(timeout: Duration, media_floor: u16) -> Result<Sipp, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let sip_port = free_port()?;
        let media_port = free_media_port(media_floor)?;
        let args: Vec<String> = [
            "-sn", "uas", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", &sip_port.to_string(), "-mp", &media_port.to_string(), "-rtp_echo",
            "-nostdin", "-timeout", &format!("{}s", timeout.as_secs().max(1)),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let stderr = dir.path().join("sipp.stderr");
        let err_file = File::create(&stderr).map_err(|e| e.to_string())?;
        // stdout is sipp's screen, redrawn every second: thrown away. stderr
        // goes to a file (a pipe nobody reads would stall sipp when full).
        let child = Command::new("sipp")
            .args(&args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file)
            .spawn()
            .map_err(|e| format!("cannot run sipp ({e}); install it with scripts/install-test-deps.sh"))?;
        let mut sipp = Sipp { child: Some(child), sip_port, media_port, command: format!("sipp {}", args.join(" ")), stderr, _dir: dir };
        for _ in 0..200 {
            if !udp_free(sip_port) {
                return Ok(sipp);
            }
            if let Some(status) = sipp.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(format!("sipp exited at start ({status}): {}", sipp.stderr_tail()));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(format!("sipp did not bind its SIP port {sip_port}"))
    }

    /// Its process id (for `/proc/<pid>/stat`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The last lines sipp wrote on stderr.
    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    /// Kills it now.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        self.stop();
    }
}
