//! Load benchmark of the HTTP API on SQLite.
//!
//! The real `waihu serve` runs as its own process so that the load
//! generator's CPU time is not counted as the server's (on a small machine
//! they still share the cores; see RESULTS.md). A pool of keep-alive
//! connections sends requests back to back, one phase after another in the
//! same run:
//!
//! (a) `GET /api/v1/callinfo/skill_version`: no auth, no database: the
//!     floor set by HTTP, routing and middleware;
//! (b) `POST /api/v1/callinfo/initiate_call`: auth, validation, one write
//!     transaction (reserve a minute, insert the call) and a dispatcher wake-up;
//! (c) `POST /api/v1/callinfo/search_callinfo` on the ids made in (b): auth
//!     and two reads.
//!
//! The server is limited to one live call, so the calls of (b) pile up as
//! `queued` and (almost) none is dialled: this measures the API, not calls.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use waihu_bench::{cpu_time, load_average, machine, machine_cpu, noise, ms, ratio, Flags, Percentiles};

const TASK: &str = "通知张总明天上午9点到三楼会议室开会";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    SkillVersion,
    Initiate,
    Search,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::SkillVersion => "(a) GET  skill_version",
            Kind::Initiate => "(b) POST initiate_call",
            Kind::Search => "(c) POST search_callinfo",
        }
    }
}

/// What one worker saw.
#[derive(Default)]
struct WorkerOut {
    latencies_us: Vec<u64>,
    non_2xx: u64,
    transport: u64,
    call_ids: Vec<String>,
    /// A few error texts, to show what went wrong rather than just a count.
    examples: Vec<String>,
}

struct Phase {
    kind: Kind,
    requests: usize,
    non_2xx: u64,
    transport: u64,
    elapsed: Duration,
    lat: Percentiles,
    server_cpu: Duration,
    client_cpu: Duration,
    /// What else ran on the machine meanwhile (a shared machine skews every figure).
    noise: String,
    examples: Vec<String>,
}

impl Phase {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Shared by the workers of a phase.
struct Ctx {
    http: reqwest::Client,
    base: String,
    next: AtomicUsize,
    ids: Vec<String>,
}

#[tokio::main]
async fn main() {
    let flags = Flags::parse(&[
        ("bin", "the waihu binary (default: $WAIHU_BIN or target/release/waihu)"),
        ("seconds", "duration of each phase (default 10)"),
        ("connections", "concurrent keep-alive connections (default 100)"),
    ]);
    let bin = flags.get("bin").map(str::to_owned).or_else(|| std::env::var("WAIHU_BIN").ok()).unwrap_or_else(|| "target/release/waihu".into());
    let seconds: u64 = flags.num("seconds", 10);
    let conns: usize = flags.num("connections", 100);
    if let Err(e) = run(&bin, Duration::from_secs(seconds.max(1)), conns.max(1)).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(bin: &str, dur: Duration, conns: usize) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    // The same limits for the admin command and the server, so both load the same configuration.
    let env = [("WAIHU_CALLS__MAX_CONCURRENT", "1"), ("WAIHU_CALLS__MAX_CONCURRENT_PER_ACCOUNT", "1")];

    let out = tokio::process::Command::new(bin)
        .args(["account", "create", "bench", "--balance", "1000000", "--json", "--data-dir", &data_s])
        .envs(env)
        .output()
        .await
        .map_err(|e| format!("cannot run {bin}: {e} (build it: cargo build --release -p waihu, or pass --bin)"))?;
    if !out.status.success() {
        return Err(format!("account create failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("account create printed no JSON: {e}"))?;
    let key = created["api_key"].as_str().ok_or("account create printed no api_key")?.to_owned();

    // A free port: bind port 0, read it, release it for the server.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| format!("no free port: {e}"))?.port();
    let listen = format!("127.0.0.1:{port}");
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).map_err(|e| format!("server log: {e}"))?;
    let mut server = tokio::process::Command::new(bin)
        .args(["serve", "--listen", &listen, "--data-dir", &data_s])
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {bin} serve: {e}"))?;
    let pid = server.id().ok_or("server exited at once")?;
    let base = format!("http://{listen}");

    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-api-key", key.parse().map_err(|_| "bad key")?);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .default_headers(headers)
        .build()
        .map_err(|e| format!("http client: {e}"))?;
    wait_ready(&http, &base, &mut server).await?;

    println!("waihu API load benchmark: {bin} on SQLite, {conns} keep-alive connections, {} s per phase", dur.as_secs());
    println!("machine: {}; load average before the run: {}; server pid {pid}", machine(), load_average());
    println!("note: the server runs with calls.max_concurrent = 1, so the calls made in (b) stay queued (not dialled, not charged): this measures the API, not calls.");

    // Warm-up (not counted): opens the connections and faults in the server's code paths.
    let _ = phase(Kind::SkillVersion, &http, &base, Vec::new(), conns, Duration::from_secs(1), pid).await;
    let mut results = Vec::new();
    let (a, _) = phase(Kind::SkillVersion, &http, &base, Vec::new(), conns, dur, pid).await;
    results.push(a);
    alive(&mut server, &log_path)?;
    let (b, ids) = phase(Kind::Initiate, &http, &base, Vec::new(), conns, dur, pid).await;
    results.push(b);
    alive(&mut server, &log_path)?;
    if ids.is_empty() {
        return Err("initiate_call created no call: cannot run (c)".into());
    }
    let made = ids.len();
    let (c, _) = phase(Kind::Search, &http, &base, ids, conns, dur, pid).await;
    results.push(c);
    alive(&mut server, &log_path)?;

    print_table(&results, made);
    let server_peak = waihu_bench::peak_rss_kib(Some(pid)).map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    let db_size = ["waihu.db", "waihu.db-wal"].iter().filter_map(|f| std::fs::metadata(data.join(f)).ok()).map(|m| m.len()).sum::<u64>();
    println!("server peak RSS {server_peak}; database + WAL {:.1} MiB", db_size as f64 / 1048576.0);
    report_log(&log_path);

    let _ = server.kill().await;
    let _ = server.wait().await;
    drop(dir);
    Ok(())
}

/// Polls `/healthz` until the server answers (it opens the database first).
async fn wait_ready(http: &reqwest::Client, base: &str, server: &mut tokio::process::Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if let Ok(Some(status)) = server.try_wait() {
            return Err(format!("the server exited before answering: {status}"));
        }
        if Instant::now() > deadline {
            return Err("the server did not answer /healthz within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Fails with the log's tail if the server died during a phase.
fn alive(server: &mut tokio::process::Child, log: &std::path::Path) -> Result<(), String> {
    if let Ok(Some(status)) = server.try_wait() {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        return Err(format!("the server exited during the run ({status}); last log lines:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n")));
    }
    Ok(())
}

/// Runs `conns` workers for `dur`; returns the figures and the call ids made.
async fn phase(kind: Kind, http: &reqwest::Client, base: &str, ids: Vec<String>, conns: usize, dur: Duration, pid: u32) -> (Phase, Vec<String>) {
    let ctx = Arc::new(Ctx { http: http.clone(), base: base.to_owned(), next: AtomicUsize::new(0), ids });
    let (server0, client0, machine0) = (cpu_time(Some(pid)).unwrap_or_default(), cpu_time(None).unwrap_or_default(), machine_cpu());
    let start = Instant::now();
    let deadline = start + dur;
    let tasks: Vec<_> = (0..conns).map(|_| tokio::spawn(worker(kind, ctx.clone(), deadline))).collect();
    let mut all = WorkerOut::default();
    for t in tasks {
        let Ok(w) = t.await else { continue };
        all.latencies_us.extend(w.latencies_us);
        all.non_2xx += w.non_2xx;
        all.transport += w.transport;
        all.call_ids.extend(w.call_ids);
        for e in w.examples {
            if all.examples.len() < 5 && !all.examples.contains(&e) {
                all.examples.push(e);
            }
        }
    }
    // Requests in flight at the deadline finish and count: elapsed runs to the last one.
    let elapsed = start.elapsed();
    let server_cpu = cpu_time(Some(pid)).unwrap_or_default().saturating_sub(server0);
    let client_cpu = cpu_time(None).unwrap_or_default().saturating_sub(client0);
    let noise = noise(machine0, machine_cpu(), server_cpu + client_cpu, elapsed);
    let requests = all.latencies_us.len();
    let p = Phase { kind, requests, non_2xx: all.non_2xx, transport: all.transport, elapsed, lat: Percentiles::of(all.latencies_us), server_cpu, client_cpu, noise, examples: all.examples };
    (p, all.call_ids)
}

async fn worker(kind: Kind, ctx: Arc<Ctx>, deadline: Instant) -> WorkerOut {
    let mut out = WorkerOut::default();
    while Instant::now() < deadline {
        let n = ctx.next.fetch_add(1, Ordering::Relaxed);
        let req = match kind {
            Kind::SkillVersion => ctx.http.get(format!("{}/api/v1/callinfo/skill_version", ctx.base)),
            // A different valid number each time, cycling through 10,000.
            Kind::Initiate => ctx
                .http
                .post(format!("{}/api/v1/callinfo/initiate_call", ctx.base))
                .json(&serde_json::json!({"phones": format!("1380000{:04}", n % 10_000), "user_requirement": TASK})),
            Kind::Search => ctx.http.post(format!("{}/api/v1/callinfo/search_callinfo", ctx.base)).json(&serde_json::json!({"call_id": ctx.ids[n % ctx.ids.len()]})),
        };
        let t0 = Instant::now();
        let result = match req.send().await {
            Ok(r) => {
                let status = r.status();
                r.bytes().await.map(|b| (status, b))
            }
            Err(e) => Err(e),
        };
        let us = t0.elapsed().as_micros() as u64;
        match result {
            Ok((status, body)) => {
                out.latencies_us.push(us);
                if !status.is_success() {
                    out.non_2xx += 1;
                    out.examples.push(format!("HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(200)])));
                } else if kind == Kind::Initiate {
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    if let Some(id) = v["call_id"].as_str() {
                        out.call_ids.push(id.to_owned());
                    }
                }
            }
            Err(e) => {
                out.transport += 1;
                out.examples.push(format!("transport error: {e}"));
                // Do not spin if the server is gone.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        out.examples.truncate(3);
    }
    out
}

fn print_table(r: &[Phase], made: usize) {
    println!();
    println!("{:<25} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}", "phase", "requests", "errors", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "srv µs/rq", "gen µs/rq");
    for p in r {
        let per = |d: Duration| if p.requests == 0 { 0.0 } else { d.as_micros() as f64 / p.requests as f64 };
        println!(
            "{:<25} {:>9} {:>7} {:>9.0} {:>8} {:>8} {:>8} {:>8} {:>9.0} {:>9.0}",
            p.kind.label(),
            p.requests,
            p.non_2xx + p.transport,
            p.rps(),
            ms(p.lat.p50),
            ms(p.lat.p90),
            ms(p.lat.p99),
            ms(p.lat.max),
            per(p.server_cpu),
            per(p.client_cpu),
        );
    }
    println!("errors = non-2xx answers + transport errors; srv/gen µs/rq = CPU time of the server / of this load generator per request");
    for p in r {
        println!("{}: {} s; {}", p.kind.label(), format_args!("{:.2}", p.elapsed.as_secs_f64()), p.noise);
    }
    for p in r {
        if p.non_2xx + p.transport > 0 {
            println!("{}: {} non-2xx, {} transport errors, e.g.:", p.kind.label(), p.non_2xx, p.transport);
            for e in &p.examples {
                println!("    {e}");
            }
        }
    }
    println!("(b) created {made} calls (queued); (c) looked them up round-robin");
    let (a, b, c) = (&r[0], &r[1], &r[2]);
    println!();
    println!("ratios (the comparable figures across machines):");
    println!("  throughput (b)/(a) = {}", ratio(b.rps(), a.rps()));
    println!("  throughput (c)/(a) = {}", ratio(c.rps(), a.rps()));
    println!("  p99 latency (b)/(a) = {}", ratio(b.lat.p99 as f64, a.lat.p99 as f64));
    println!("  p99 latency (c)/(a) = {}", ratio(c.lat.p99 as f64, a.lat.p99 as f64));
}

/// Shows warnings and errors the server logged during the run.
fn report_log(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let bad: Vec<&str> = text.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
    println!("server log: {} lines, {} warnings/errors", text.lines().count(), bad.len());
    for l in bad.iter().take(10) {
        println!("    {l}");
    }
}
