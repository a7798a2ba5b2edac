//! sipp as the far end of SIP tests: one instance per test on loopback,
//! with its own free SIP and media ports, killed when dropped.
#![allow(dead_code, unreachable_pub)]

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The project's scenarios (`tests/sipp/*.xml`).
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/sipp").join(name)
}

/// Whether sipp is installed (`scripts/install-test-deps.sh` installs it).
pub fn sipp_available() -> bool {
    Command::new("sipp").arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

fn udp_free(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok()
}

/// A free UDP port chosen by the kernel.
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("a free UDP port")
}

/// An even media port with the next four free too (sipp binds RTP and
/// RTCP for audio and video), outside waihu's own RTP range.
fn free_media_port() -> u16 {
    for _ in 0..200 {
        let p = 40_000 + (free_port() % 10_000) * 2 % 20_000;
        let p = p - p % 2;
        if (p..p + 4).all(udp_free) {
            return p;
        }
    }
    panic!("no free media port for sipp");
}

pub struct Sipp {
    child: Option<Child>,
    pub sip_port: u16,
    pub media_port: u16,
    _dir: tempfile::TempDir,
}

impl Sipp {
    /// Starts sipp as a UAS running `scenario_file` for one call, and waits
    /// until its SIP port is bound.
    pub async fn start(scenario_file: &str, extra: &[&str]) -> Sipp {
        let dir = tempfile::tempdir().unwrap();
        let sip_port = free_port();
        let media_port = free_media_port();
        let child = Command::new("sipp")
            .arg("-sf")
            .arg(scenario(scenario_file))
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", &sip_port.to_string(), "-mp", &media_port.to_string()])
            .args(["-m", "1", "-nostdin", "-timeout", "90s", "-timeout_error"])
            .args(extra)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sipp runs (scripts/install-test-deps.sh installs it)");
        let sipp = Sipp { child: Some(child), sip_port, media_port, _dir: dir };
        for _ in 0..200 {
            if !udp_free(sip_port) {
                return sipp;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("sipp did not bind its SIP port {sip_port}");
    }

    /// A file in sipp's working directory (e.g. an injection file).
    pub fn path(&self, name: &str) -> PathBuf {
        self._dir.path().join(name)
    }

    /// Waits for sipp to finish its call: its exit code (0: the scenario
    /// ran to its end) and what it printed on stderr.
    pub async fn finish(mut self, within: Duration) -> (i32, String) {
        let mut child = self.child.take().unwrap();
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                return (status.code().unwrap_or(-1), err);
            }
            if tokio::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return (-1, format!("sipp still running after {within:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
