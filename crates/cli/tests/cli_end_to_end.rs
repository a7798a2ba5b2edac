//! The `waihu` binary as users run it: `waihu serve` in its own process,
//! accounts made with `waihu account`, calls placed, streamed and read
//! back with the client commands — and the same through raw HTTP the way
//! the seed's shell scripts do it (compact-JSON greps).

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_waihu");
const TASK: &str = "通知张总明天上午9点开会";

struct ServeProcess {
    child: Child,
    base: String,
    data: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A command with a clean environment: no key or URL leaks in from the host.
fn waihu(home: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear().env("HOME", home).env("PATH", std::env::var("PATH").unwrap_or_default()).stdin(Stdio::null());
    c
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("waihu runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn start_server() -> ServeProcess {
    let data = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = waihu(home.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data.path())
        .env("WAIHU_CARRIER__SIM__SPEED", "20")
        .env("WAIHU_CALLS__NO_ANSWER_SECONDS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "waihu serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    ServeProcess { child, base, data, home }
}

fn create_account(s: &ServeProcess, name: &str) -> String {
    let out = run(waihu(s.home.path()).args(["account", "create", name, "--json", "--data-dir"]).arg(s.data.path()));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["account"], name);
    let key = v["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_") && key.len() >= 35);
    key
}

#[test]
fn the_cli_places_streams_and_reads_back_a_call() {
    let s = start_server();
    let key = create_account(&s, "acme");
    let client = |args: &[&str]| {
        let mut c = waihu(s.home.path());
        c.args(args).env("WAIHU_API_KEY", &key).env("WAIHU_BASE_URL", &s.base);
        run(&mut c)
    };
    let out = client(&["call", "13800138000", TASK]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let start = stdout.find(r#""call_ids":[""#).expect("compact answer printed") + 13;
    let id = stdout[start..start + stdout[start..].find('"').unwrap()].to_owned();

    let out = client(&["stream", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stream = text(&out.stdout);
    assert!(stream.starts_with("🎙️  Streaming real-time conversation\n━"), "{stream}");
    assert!(stream.contains(&format!("Call ID: {id}\nWaiting for connection...\n")));
    assert!(stream.contains("🤖 AI: ") && stream.contains("👤 User: "), "{stream}");
    assert!(stream.trim_end().ends_with("📞 Call ended"), "{stream}");

    let out = client(&["info", &id, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rec: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rec["status"], "completed");
    assert_eq!(rec["cost"], 0.3);
    assert!(rec["duration_seconds"].as_i64().unwrap() > 0);
    let lines = rec["call_content"].as_array().unwrap();
    assert!(lines.iter().any(|l| l["content"].as_str().unwrap().contains("明天上午9点")));
    // The stream showed exactly the record's lines.
    for l in lines {
        assert!(stream.contains(l["content"].as_str().unwrap()));
    }

    let out = client(&["info", &id]);
    let human = text(&out.stdout);
    assert!(human.contains("completed") && human.contains("¥0.30"), "{human}");

    let out = client(&["balance"]);
    assert!(text(&out.stdout).contains("¥9.70"), "{}", text(&out.stdout));
    let out = client(&["calls", "--status", "completed"]);
    assert!(text(&out.stdout).contains(&id));
}

#[test]
fn the_seed_environment_and_secrets_file_work_and_errors_are_one_line() {
    let s = start_server();
    let key = create_account(&s, "seed-user");
    // STEPONEAI_API_KEY, as the seed's scripts use.
    let out = run(waihu(s.home.path()).args(["balance", "--base-url", &s.base]).env("STEPONEAI_API_KEY", &key));
    assert!(out.status.success(), "{}", text(&out.stderr));
    // ~/.clawd/secrets.json, the seed's second method.
    std::fs::create_dir_all(s.home.path().join(".clawd")).unwrap();
    std::fs::write(s.home.path().join(".clawd/secrets.json"), format!(r#"{{ "steponeai_api_key": "{key}" }}"#)).unwrap();
    let out = run(waihu(s.home.path()).args(["doctor", "--base-url", &s.base]));
    assert!(out.status.success(), "{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("secrets.json"));

    // A bad key: one clear line, non-zero exit, and the key never printed whole.
    let out = run(waihu(s.home.path()).args(["balance", "--base-url", &s.base]).env("WAIHU_API_KEY", "sk_wrongwrongwrongwrongwrongwrong"));
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("API key") && !err.contains("sk_wrongwrongwrongwrongwrongwrong"), "{err}");
    // A bad number: the server's message names it.
    let out = run(waihu(s.home.path()).args(["call", "12345", TASK, "--base-url", &s.base]).env("WAIHU_API_KEY", &key));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("12345"), "{}", text(&out.stderr));
    // No server: says where it tried.
    let out = run(waihu(s.home.path()).args(["balance", "--base-url", "http://127.0.0.1:9"]).env("WAIHU_API_KEY", &key));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("127.0.0.1:9"), "{}", text(&out.stderr));
    // A record that never appears: retried, then a clear failure.
    let out = run(waihu(s.home.path()).args(["info", "no-such-call", "1", "--base-url", &s.base]).env("WAIHU_API_KEY", &key));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no-such-call"));
}

#[test]
fn raw_http_like_the_seed_shell_scripts() {
    let s = start_server();
    let key = create_account(&s, "shell");
    let http = reqwest::blocking_free::Client::new(&s.base, &key);
    let created = http.post("/api/v1/callinfo/initiate_call", &format!(r#"{{"phones": "13800138000", "user_requirement": "{TASK}"}}"#));
    // callout.sh: grep -o '"call_ids":\["[^"]*"\]'
    let start = created.find(r#""call_ids":[""#).unwrap() + 13;
    let id = &created[start..start + created[start..].find(r#""]"#).unwrap()];
    // stream_chat.sh: read data: lines until [DONE].
    let stream = http.post("/api/v1/callinfo/stream_chat_history", &format!(r#"{{"call_id": "{id}"}}"#));
    assert!(stream.contains(": keep-alive\n"));
    assert!(stream.trim_end().ends_with(r#"data: {"role": "system", "content": "[DONE]"}"#), "{stream}");
    // callinfo.sh: the presence of "duration_seconds" means the call is over.
    let record = http.post("/api/v1/callinfo/search_callinfo", &format!(r#"{{"call_id": "{id}"}}"#));
    assert!(record.contains(r#""duration_seconds":"#), "{record}");
    assert!(record.contains(r#""status":"completed""#) && record.contains(r#""cost":0.3"#) && record.contains(r#""call_content":[{"role":"assistant""#), "{record}");
    let version = http.get("/api/v1/callinfo/skill_version");
    assert_eq!(version, r#"{"skill_version":"1.0.0"}"#);
}

#[test]
fn config_example_is_printed_and_account_admin_round_trips() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let out = run(waihu(home.path()).args(["config", "example"]));
    assert!(out.status.success());
    let example = text(&out.stdout);
    let file = home.path().join("waihu.toml");
    std::fs::write(&file, &example).unwrap();
    let out = run(waihu(home.path()).args(["config", "show", "--config"]).arg(&file));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no_answer_seconds = 30"));

    let admin = |args: &[&str]| run(waihu(home.path()).args(args).arg("--data-dir").arg(data.path()));
    let out = admin(&["account", "create", "acme", "--balance", "25.5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key = text(&out.stdout).lines().find(|l| l.starts_with("sk_")).unwrap().to_owned();
    assert!(!admin(&["account", "create", "acme"]).status.success(), "duplicate names refused");
    let out = admin(&["account", "topup", "acme", "4.5"]);
    assert!(text(&out.stdout).contains("¥30.00"), "{}", text(&out.stdout));
    let out = admin(&["account", "list"]);
    assert!(text(&out.stdout).contains("acme") && text(&out.stdout).contains("¥30.00"));
    let out = admin(&["key", "create", "acme"]);
    assert!(text(&out.stdout).contains("sk_"));
    assert!(!admin(&["key", "revoke", "sk_"]).status.success(), "too short a prefix");
    let out = admin(&["key", "revoke", &key[..12]]);
    assert!(text(&out.stdout).contains("Revoked 1"), "{}", text(&out.stdout));
    assert!(!admin(&["account", "topup", "nobody", "1"]).status.success());
}

/// A minimal blocking HTTP/1.1 client over a TCP socket: the shell scripts'
/// curl, without pulling an HTTP client's blocking feature into the build.
mod reqwest {
    pub(crate) mod blocking_free {
        use std::io::{Read, Write};
        use std::net::TcpStream;

        pub(crate) struct Client {
            host: String,
            key: String,
        }

        impl Client {
            pub(crate) fn new(base: &str, key: &str) -> Self {
                Client { host: base.trim_start_matches("http://").to_owned(), key: key.to_owned() }
            }

            fn request(&self, method: &str, path: &str, body: &str) -> String {
                let mut s = TcpStream::connect(&self.host).unwrap();
                let req = format!(
                    "{method} {path} HTTP/1.1\r\nHost: {}\r\nX-API-Key: {}\r\nX-Skill-Version: 1.0.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    self.host,
                    self.key,
                    body.len()
                );
                s.write_all(req.as_bytes()).unwrap();
                let mut raw = Vec::new();
                s.read_to_end(&mut raw).unwrap();
                let raw = String::from_utf8(raw).unwrap();
                let (head, body) = raw.split_once("\r\n\r\n").unwrap();
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
                    dechunk(body)
                } else {
                    body.to_owned()
                }
            }

            pub(crate) fn post(&self, path: &str, body: &str) -> String {
                self.request("POST", path, body)
            }

            pub(crate) fn get(&self, path: &str) -> String {
                self.request("GET", path, "")
            }
        }

        fn dechunk(mut s: &str) -> String {
            let mut out = String::new();
            while let Some((size, rest)) = s.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 {
                    break;
                }
                out.push_str(&rest[..n]);
                s = &rest[n + 2..];
            }
            out
        }
    }
}

fn serve_on(home: &Path, data: &Path, port: u16) -> Child {
    let child = waihu(home)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .env("WAIHU_CARRIER__SIM__SPEED", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "waihu serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn a_killed_server_loses_no_record_line_or_ledger_entry() {
    let s = start_server();
    let key = create_account(&s, "crash");
    let http = reqwest::blocking_free::Client::new(&s.base, &key);
    // The chatty callee keeps the call going until we pull the plug.
    let created = http.post("/api/v1/callinfo/initiate_call", r#"{"phones": "13000000012", "user_requirement": "通知张总明天上午9点开会"}"#);
    let start = created.find(r#""call_ids":[""#).unwrap() + 13;
    let id = created[start..start + created[start..].find('"').unwrap()].to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    let seen = loop {
        let rec: serde_json::Value = serde_json::from_str(&http.post("/api/v1/callinfo/search_callinfo", &format!(r#"{{"call_id": "{id}"}}"#))).unwrap();
        let n = rec["call_content"].as_array().unwrap().len();
        if n >= 3 {
            break n;
        }
        assert!(Instant::now() < deadline, "call never got going: {rec}");
        std::thread::sleep(Duration::from_millis(100));
    };
    // SIGKILL: no chance to clean up.
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let port = s.base.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    s.child = serve_on(s.home.path(), s.data.path(), port);
    let rec: serde_json::Value = serde_json::from_str(&http.post("/api/v1/callinfo/search_callinfo", &format!(r#"{{"call_id": "{id}"}}"#))).unwrap();
    assert_eq!((rec["status"].as_str(), rec["end_reason"].as_str()), (Some("failed"), Some("server_restart")), "{rec}");
    assert!(rec["call_content"].as_array().unwrap().len() >= seen, "every stored line survived: {rec}");
    assert_eq!(rec["cost"], 0.3, "billed for the connected time it had");
    let balance: serde_json::Value = serde_json::from_str(&http.get("/api/v1/callinfo/balance")).unwrap();
    assert_eq!((balance["balance"].as_f64(), balance["reserved"].as_f64()), (Some(9.7), Some(0.0)), "{balance}");
    // The stream of a recovered call replays and ends.
    let stream = http.post("/api/v1/callinfo/stream_chat_history", &format!(r#"{{"call_id": "{id}"}}"#));
    assert!(stream.trim_end().ends_with(r#"data: {"role": "system", "content": "[DONE]"}"#), "{stream}");
}
