//! Many simulated calls at once, each followed live, in one process.
//!
//! The server runs in this process (as in the server's own tests): SQLite in
//! a temporary directory, the simulated network at `--speed` (1.0 = real
//! time), limits raised so every call runs at once. `--calls` calls are
//! placed, one `initiate_call` each (one request cannot name a number
//! twice), and right after each is created one `stream_chat_history`
//! subscriber reads its Server-Sent Events as raw bytes.
//!
//! Delivery latency of a transcript line = the wall-clock time its bytes
//! reached the subscriber minus the time the server stamped on it when it
//! stored it (`at_ms`, read back from the store after the run). The k-th
//! `data:` line of a stream is the line with `seq` k, and its content is
//! checked against the stored one, so a lost, doubled or reordered line
//! shows up. `at_ms` has 1 ms resolution: latencies read up to 1 ms high.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::Semaphore;
use waihu_bench::{cpu_time, load_average, machine, machine_cpu, noise, ms, now_us, open_files_limit, peak_rss_kib, Flags, Percentiles};
use waihu_core::Fen;
use waihu_server::{open_store, serve, Config, Server};
use waihu_store::Store;

const TASK: &str = "通知张总明天上午9点到三楼会议室开会";

/// How a stream ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    Done,
    Timeout,
    ClosedWithoutTerminal,
    Error(String),
    BenchDeadline,
    NotPlaced(String),
}

/// What the client saw of one call.
struct Seen {
    id: Option<String>,
    create_us: u64,
    /// When `initiate_call` answered (µs since the epoch).
    placed_us: i64,
    /// When the stream's response headers arrived (µs since the epoch).
    subscribed_us: i64,
    /// (receive time µs since the epoch, role, content) per `data:` line.
    lines: Vec<(i64, String, String)>,
    end: End,
}

struct Ctx {
    http: reqwest::Client,
    base: String,
    key: String,
    phone: String,
    deadline: tokio::time::Instant,
    create_slots: Semaphore,
}

#[tokio::main]
async fn main() {
    let flags = Flags::parse(&[
        ("calls", "calls placed at once (default 1000)"),
        ("speed", "simulated time scale, 1.0 = real time (default 1.0)"),
        ("phone", "the number called (default 13800138000, a cooperative callee)"),
        ("timeout", "give up on streams after this many seconds (default 300)"),
        ("create-parallel", "initiate_call requests in flight at once (default 100)"),
    ]);
    let calls: usize = flags.num("calls", 1000);
    let speed: f64 = flags.num("speed", 1.0);
    let phone = flags.get("phone").unwrap_or("13800138000").to_owned();
    let timeout: u64 = flags.num("timeout", 300);
    let parallel: usize = flags.num("create-parallel", 100);
    if let Some(limit) = open_files_limit() {
        // Two sockets per stream in this process, plus creations, the database and slack.
        let need = (calls * 2 + parallel * 2 + 200) as u64;
        if limit < need {
            eprintln!("error: the open files limit is {limit}; {calls} streams need about {need}: raise it (ulimit -n {need})");
            std::process::exit(1);
        }
    }
    run(calls.max(1), speed, phone, Duration::from_secs(timeout), parallel.max(1)).await;
}

async fn run(calls: usize, speed: f64, phone: String, timeout: Duration, parallel: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    // The text-level network: this measures the platform, not speech engines.
    cfg.speech.mode = "off".into();
    cfg.carrier.sim.speed = speed;
    cfg.calls.max_concurrent = calls.max(2000);
    cfg.calls.max_concurrent_per_account = calls.max(2000);
    cfg.calls.max_phones_per_request = cfg.calls.max_phones_per_request.max(100);
    let store: Arc<dyn Store> = Arc::new(open_store(&cfg).await.expect("open the store"));
    let now = chrono_ms();
    // ¥1,000,000: far more than 1,000 calls can reserve (¥0.30 per started minute).
    let account = store.create_account("bench", Fen(100_000_000), now).await.expect("account");
    let key = store.create_key(&account.id, now).await.expect("key");
    let server = Server::start(&cfg, store.clone()).await.expect("server start");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_task = tokio::spawn(async move {
        let _ = serve(server, listener, async move {
            let _ = stop_rx.await;
        })
        .await;
    });

    println!("waihu simulated calls benchmark: {calls} calls to {phone}, sim speed {speed}, server and clients in one process");
    println!("machine: {}; load average before the run: {}", machine(), load_average());
    let http = reqwest::Client::builder().tcp_nodelay(true).build().expect("http client");
    let ctx = Arc::new(Ctx { http, base, key, phone, deadline: tokio::time::Instant::now() + timeout, create_slots: Semaphore::new(parallel) });

    let (cpu0, machine0) = (cpu_time(None).unwrap_or_default(), machine_cpu());
    let start = Instant::now();
    let tasks: Vec<_> = (0..calls).map(|_| tokio::spawn(one_call(ctx.clone()))).collect();
    let mut seen = Vec::with_capacity(calls);
    for t in tasks {
        seen.push(t.await.expect("call task"));
    }
    let wall = start.elapsed();
    let cpu = cpu_time(None).unwrap_or_default().saturating_sub(cpu0);
    let noise = noise(machine0, machine_cpu(), cpu, wall);

    report(&seen, store.as_ref(), wall, cpu).await;
    println!("during the run {noise}");
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(30), server_task).await;
    drop(dir);
}

fn chrono_ms() -> i64 {
    now_us() / 1000
}

/// Places one call, then follows its stream to the end.
async fn one_call(ctx: Arc<Ctx>) -> Seen {
    let mut seen = Seen { id: None, create_us: 0, placed_us: 0, subscribed_us: 0, lines: Vec::new(), end: End::BenchDeadline };
    let slot = ctx.create_slots.acquire().await.expect("semaphore");
    let t0 = Instant::now();
    let created = ctx
        .http
        .post(format!("{}/api/v1/callinfo/initiate_call", ctx.base))
        .header("x-api-key", &ctx.key)
        .json(&serde_json::json!({"phones": ctx.phone, "user_requirement": TASK}))
        .send()
        .await;
    let id = match created {
        Ok(r) => {
            let status = r.status();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            match body["call_id"].as_str() {
                Some(id) if status.is_success() => id.to_owned(),
                _ => {
                    seen.end = End::NotPlaced(format!("HTTP {status}: {body}"));
                    return seen;
                }
            }
        }
        Err(e) => {
            seen.end = End::NotPlaced(format!("transport: {e}"));
            return seen;
        }
    };
    seen.create_us = t0.elapsed().as_micros() as u64;
    seen.placed_us = now_us();
    drop(slot);
    seen.id = Some(id.clone());

    let resp = ctx.http.post(format!("{}/api/v1/callinfo/stream_chat_history", ctx.base)).header("x-api-key", &ctx.key).json(&serde_json::json!({"call_id": id})).send().await;
    let resp = match resp {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            seen.end = End::Error(format!("stream HTTP {}", r.status()));
            return seen;
        }
        Err(e) => {
            seen.end = End::Error(format!("stream: {e}"));
            return seen;
        }
    };
    seen.subscribed_us = now_us();
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let chunk = match tokio::time::timeout_at(ctx.deadline, body.next()).await {
            Err(_) => return seen, // BenchDeadline
            Ok(None) => {
                seen.end = End::ClosedWithoutTerminal;
                return seen;
            }
            Ok(Some(Err(e))) => {
                seen.end = End::Error(format!("stream read: {e}"));
                return seen;
            }
            Ok(Some(Ok(c))) => c,
        };
        // Every line in this chunk arrived now.
        let at = now_us();
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = buf.drain(..=pos).collect();
            let Some(data) = raw[..pos].strip_prefix(b"data: ") else { continue };
            let v: serde_json::Value = serde_json::from_slice(data).unwrap_or_default();
            let (role, content) = (v["role"].as_str().unwrap_or("?").to_owned(), v["content"].as_str().unwrap_or("").to_owned());
            if role == "system" && (content == "[DONE]" || content == "[TIMEOUT]") {
                seen.end = if content == "[DONE]" { End::Done } else { End::Timeout };
                return seen;
            }
            seen.lines.push((at, role, content));
        }
    }
}

async fn report(seen: &[Seen], store: &dyn Store, wall: Duration, cpu: Duration) {
    let mut ends: BTreeMap<String, usize> = BTreeMap::new();
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let mut not_placed = Vec::new();
    let (mut stored, mut delivered, mut mismatched, mut missing, mut extra, mut replayed) = (0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    let (mut all_lat, mut live_lat, mut quiet_lat) = (Vec::new(), Vec::new(), Vec::new());
    // Lines stored once every call is placed compete with no initiate_call
    // writes for the store: comparing them with all lines shows what the
    // placement burst costs the streams.
    let last_placed = seen.iter().map(|s| s.placed_us).max().unwrap_or(0);
    let mut intervals = Vec::new();
    let (mut first_rx, mut last_rx) = (i64::MAX, i64::MIN);
    let mut negative = 0usize;
    for s in seen {
        let end = match &s.end {
            End::Error(e) | End::NotPlaced(e) => {
                if not_placed.len() < 5 {
                    not_placed.push(e.clone());
                }
                format!("{:?}", s.end).split('(').next().unwrap_or("?").to_owned()
            }
            other => format!("{other:?}"),
        };
        *ends.entry(end).or_default() += 1;
        let Some(id) = &s.id else { continue };
        let Ok(Some(call)) = store.call(id, None).await else {
            *statuses.entry("missing from store".into()).or_default() += 1;
            continue;
        };
        *statuses.entry(call.status.as_str().to_owned()).or_default() += 1;
        if let (Some(a), Some(e)) = (call.answered_at, call.ended_at) {
            intervals.push((a, e));
        }
        let lines = store.transcript(id).await.unwrap_or_default();
        stored += lines.len();
        delivered += s.lines.len();
        missing += lines.len().saturating_sub(s.lines.len());
        extra += s.lines.len().saturating_sub(lines.len());
        for (line, (rx, role, content)) in lines.iter().zip(&s.lines) {
            if line.role.as_str() != role || &line.content != content {
                mismatched += 1;
                continue;
            }
            let lat = rx - line.at_ms * 1000;
            if lat < 0 {
                negative += 1;
            }
            let lat = lat.max(0) as u64;
            all_lat.push(lat);
            if line.at_ms * 1000 >= last_placed {
                quiet_lat.push(lat);
            }
            if line.at_ms * 1000 >= s.subscribed_us {
                live_lat.push(lat);
            } else {
                replayed += 1;
            }
            first_rx = first_rx.min(*rx);
            last_rx = last_rx.max(*rx);
        }
    }
    let placed = seen.iter().filter(|s| s.id.is_some()).count();
    let create = Percentiles::of(seen.iter().filter(|s| s.id.is_some()).map(|s| s.create_us).collect());
    let (all, live, quiet) = (Percentiles::of(all_lat), Percentiles::of(live_lat), Percentiles::of(quiet_lat));
    let span = if last_rx > first_rx { (last_rx - first_rx) as f64 / 1e6 } else { 0.0 };

    println!();
    println!("calls placed           {placed} of {}  (initiate_call p50 {} ms, p99 {} ms, max {} ms)", seen.len(), ms(create.p50), ms(create.p99), ms(create.max));
    println!("call statuses          {}", fmt_map(&statuses));
    println!("peak connected at once {}", peak(&mut intervals));
    println!("streams ended          {}", fmt_map(&ends));
    for e in &not_placed {
        println!("    e.g. {e}");
    }
    println!("lines stored           {stored}");
    println!("lines delivered        {delivered}  (lost {missing}, extra {extra}, content mismatch {mismatched})");
    println!("lines stored before their stream opened (replayed from the store): {replayed}");
    if negative > 0 {
        println!("lines received before their stored time (clock anomaly, counted as 0): {negative}");
    }
    println!();
    println!("{:<34} {:>7} {:>8} {:>8} {:>8} {:>8}", "delivery latency (ms, ±1 ms)", "lines", "p50", "p90", "p99", "max");
    println!("{:<34} {:>7} {:>8} {:>8} {:>8} {:>8}", "all lines", all.n, ms(all.p50), ms(all.p90), ms(all.p99), ms(all.max));
    println!("{:<34} {:>7} {:>8} {:>8} {:>8} {:>8}", "lines stored after subscribing", live.n, ms(live.p50), ms(live.p90), ms(live.p99), ms(live.max));
    println!("{:<34} {:>7} {:>8} {:>8} {:>8} {:>8}", "lines stored after all calls placed", quiet.n, ms(quiet.p50), ms(quiet.p90), ms(quiet.p99), ms(quiet.max));
    println!();
    println!("wall time              {:.1} s (first call placed to last stream ended)", wall.as_secs_f64());
    println!("lines/s                {:.1} (delivered lines / {:.1} s from first to last line received)", if span > 0.0 { delivered as f64 / span } else { 0.0 }, span);
    println!("process CPU time       {:.1} s over the run = {:.0}% of one core (server and clients together)", cpu.as_secs_f64(), 100.0 * cpu.as_secs_f64() / wall.as_secs_f64());
    println!("peak RSS (VmHWM)       {:.1} MiB (server and clients together)", peak_rss_kib(None).unwrap_or(0) as f64 / 1024.0);
    println!("note: at_ms has 1 ms resolution and is stamped before the line waits for the store's single writer and is written to SQLite,");
    println!("      so latency includes that wait and the write, and reads up to 1 ms high.");
}

/// Most calls connected at the same time, from the stored answer/end times.
fn peak(intervals: &mut [(i64, i64)]) -> usize {
    let mut edges: Vec<(i64, i32)> = intervals.iter().flat_map(|&(a, e)| [(a, 1), (e, -1)]).collect();
    // Ends sort before starts at the same instant: a call that ends as another starts does not overlap it.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        now += d;
        most = most.max(now);
    }
    most as usize
}

fn fmt_map(m: &BTreeMap<String, usize>) -> String {
    m.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
}
