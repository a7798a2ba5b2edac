//! sipp as the far end of SIP tests: one instance per test on loopback,
//! with its own free SIP and media ports, killed when dropped.
//!
//! Made to hold on a loaded 2-core machine running many tests at once: the
//! ports are checked free (UDP and TCP) before sipp starts, a sipp that
//! lost a port race (exit 254) is started again on new ports, readiness is
//! the SIP port actually bound (not a fixed sleep), and every wait is long.
#![allow(dead_code, unreachable_pub)]

use std::net::{TcpListener, UdpSocket};
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

fn tcp_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A port chosen by the kernel that is free for both UDP and TCP on loopback.
pub fn free_port() -> u16 {
    for _ in 0..200 {
        let port = UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).expect("a free UDP port");
        if tcp_free(port) {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP");
}

/// An even port `p` with `p..p + count` all free (UDP), in `base..base + 10000`.
pub fn free_port_block(base: u16, count: u16) -> u16 {
    for _ in 0..500 {
        let p = base + (free_port() % 5_000) * 2;
        if (p..p + count).all(udp_free) {
            return p;
        }
    }
    panic!("no {count} free ports from {base}");
}

/// An even media port with the next four free too (sipp binds RTP and
/// RTCP for audio and video), outside waihu's own RTP range.
fn free_media_port() -> u16 {
    free_port_block(40_000, 4)
}

/// How sipp talks SIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SippTransport {
    /// `-t u1` (sipp's default).
    Udp,
    /// `-t t1`: one TCP connection; sipp listens on its SIP port.
    Tcp,
}

pub struct Sipp {
    child: Option<Child>,
    pub sip_port: u16,
    pub media_port: u16,
    _dir: tempfile::TempDir,
}

impl Sipp {
    /// Starts sipp as a UAS over UDP running `scenario_file` for one call,
    /// and waits until its SIP port is bound.
    pub async fn start(scenario_file: &str, extra: &[&str]) -> Sipp {
        Self::launch(scenario_file, 1, SippTransport::Udp, extra).await
    }

    /// As [`Sipp::start`], over TCP.
    pub async fn start_tcp(scenario_file: &str, extra: &[&str]) -> Sipp {
        Self::launch(scenario_file, 1, SippTransport::Tcp, extra).await
    }

    /// As [`Sipp::start`], for `calls` calls (UDP).
    pub async fn start_calls(scenario_file: &str, calls: u32, extra: &[&str]) -> Sipp {
        Self::launch(scenario_file, calls, SippTransport::Udp, extra).await
    }

    /// Starts sipp and waits until it listens; a sipp that could not bind
    /// its ports (another test took one in between) is started again.
    pub async fn launch(scenario_file: &str, calls: u32, transport: SippTransport, extra: &[&str]) -> Sipp {
        let mut last_err = String::new();
        for _attempt in 0..6 {
            let dir = tempfile::tempdir().unwrap();
            let sip_port = free_port();
            let media_port = free_media_port();
            let child = Command::new("sipp")
                .arg("-sf")
                .arg(scenario(scenario_file))
                .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", &sip_port.to_string(), "-mp", &media_port.to_string()])
                .args(["-t", if transport == SippTransport::Tcp { "t1" } else { "u1" }])
                .args(["-m", &calls.to_string(), "-nostdin", "-timeout", "120s", "-timeout_error", "-trace_err"])
                .args(extra)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("sipp runs (scripts/install-test-deps.sh installs it)");
            let mut sipp = Sipp { child: Some(child), sip_port, media_port, _dir: dir };
            match sipp.wait_listening(transport).await {
                Ok(()) => return sipp,
                // 254: a port was taken after we checked it; try others.
                Err((Some(254), e)) | Err((None, e)) => last_err = e,
                Err((Some(_), e)) => panic!("sipp could not run {scenario_file}: {e}"),
            }
        }
        panic!("sipp did not start: {last_err}");
    }

    /// Until sipp's SIP and media ports are bound and it is still running;
    /// else sipp's exit code, if it exited, and why.
    async fn wait_listening(&mut self, transport: SippTransport) -> Result<(), (Option<i32>, String)> {
        let sip_bound = |p| match transport {
            SippTransport::Udp => !udp_free(p),
            SippTransport::Tcp => !tcp_free(p),
        };
        // Up to 20 s: sipp starting on a loaded machine can be slow.
        for _ in 0..800 {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err((status.code(), format!("sipp exited with {status} while starting: {}", self.stderr())));
            }
            if sip_bound(self.sip_port) && !udp_free(self.media_port) {
                // Both bound, by sipp unless another program raced it: then
                // sipp exits 254 at once.
                tokio::time::sleep(Duration::from_millis(50)).await;
                if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                    return Err((status.code(), format!("sipp exited with {status} while starting: {}", self.stderr())));
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err((None, format!("sipp did not bind its SIP port {} within 20 s", self.sip_port)))
    }

    fn stderr(&mut self) -> String {
        let mut err = String::new();
        if let Some(mut e) = self.child.as_mut().and_then(|c| c.stderr.take()) {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        err
    }

    /// A file in sipp's working directory (e.g. an injection file).
    pub fn path(&self, name: &str) -> PathBuf {
        self._dir.path().join(name)
    }

    /// sipp's own error log (`-trace_err`), for failure messages.
    fn error_log(&self) -> String {
        self.log("_errors.log")
    }

    /// The logs in sipp's directory whose name ends with `suffix`.
    fn log(&self, suffix: &str) -> String {
        let mut out = String::new();
        if let Ok(entries) = std::fs::read_dir(self._dir.path()) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().ends_with(suffix) {
                    out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        out
    }

    /// As [`Sipp::finish`], with every SIP message sipp sent and received;
    /// start sipp with `-trace_msg` for it.
    pub async fn finish_with_messages(mut self, within: Duration) -> (i32, String, String) {
        let (code, err) = self.wait_exit(within).await;
        (code, err, self.log("_messages.log"))
    }

    /// Waits for sipp to finish its calls: its exit code (0: the scenario
    /// ran to its end for every call) and what it printed on stderr (with
    /// its error log when it failed).
    pub async fn finish(mut self, within: Duration) -> (i32, String) {
        self.wait_exit(within).await
    }

    async fn wait_exit(&mut self, within: Duration) -> (i32, String) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let mut err = self.stderr();
                let code = status.code().unwrap_or(-1);
                if code != 0 {
                    err.push_str(&self.error_log());
                }
                self.child = None;
                return (code, err);
            }
            if tokio::time::Instant::now() >= deadline {
                let mut child = self.child.take().unwrap();
                let _ = child.kill();
                let _ = child.wait();
                return (-1, format!("sipp still running after {within:?}; its errors: {}", self.error_log()));
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
