//! Pipecat side by side: its harness (`bench/pipecat/turn_harness.py`,
//! in the venv `scripts/install-bench-deps.sh` makes at `target/bench-venv`)
//! runs as a subprocess in the same run, and its JSON report becomes a row
//! of the table.
//!
//! The report is read leniently: each figure may be an object with `p50`
//! and `p99` (and the per-turn values under `samples`, `values` or `ms`), or
//! flat `<name>_p50` / `<name>_p99` keys. When the per-turn values are
//! there, the percentiles are recomputed with the same nearest-rank rule as
//! ours, so both rows are read the same way.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use super::report::{Row, P};

/// The workspace root (this crate is `bench/` in it).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench/ is inside the workspace").to_path_buf()
}

/// The venv's Python.
pub fn venv_python() -> PathBuf {
    workspace().join("target/bench-venv/bin/python")
}

/// The harness.
pub fn harness() -> PathBuf {
    workspace().join("bench/pipecat/turn_harness.py")
}

/// Why Pipecat cannot run here, with what to do about it; `None` when it can.
pub fn missing() -> Option<String> {
    if !harness().exists() {
        return Some(format!("{} is missing", harness().display()));
    }
    if !venv_python().exists() {
        return Some(format!("the venv {} is missing: make it with `bash scripts/install-bench-deps.sh`", venv_python().display()));
    }
    None
}

/// What the harness reported.
#[derive(Debug, Clone)]
pub struct PipecatRun {
    /// Its row of the table.
    pub row: Row,
    /// The reply it used.
    pub reply_text: Option<String>,
    /// The whole report, for anything else worth printing.
    pub json: Value,
    /// Its run time.
    pub took: Duration,
}

/// Runs the harness for `turns` turns, its report written to `json_path`;
/// `extra` are more arguments (the callee's WAVs, `--audio-dir`).
pub async fn run(turns: usize, json_path: &Path, extra: &[String]) -> Result<PipecatRun, String> {
    let started = std::time::Instant::now();
    let mut cmd = Command::new(venv_python());
    cmd.arg(harness()).arg("--json").arg(json_path).arg("--turns").arg(turns.to_string()).args(extra);
    cmd.current_dir(workspace()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    eprintln!("running: {:?}", cmd.as_std());
    let out = tokio::time::timeout(Duration::from_secs(1800), cmd.output())
        .await
        .map_err(|_| "the Pipecat harness ran over 30 minutes".to_string())?
        .map_err(|e| format!("starting the Pipecat harness: {e}"))?;
    let took = started.elapsed();
    if !out.status.success() {
        let tail: String = String::from_utf8_lossy(&out.stderr).lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        return Err(format!("the Pipecat harness failed ({}):\n{tail}", out.status));
    }
    let text = match std::fs::read_to_string(json_path) {
        Ok(t) => t,
        // Or on its standard output.
        Err(_) => String::from_utf8_lossy(&out.stdout).into_owned(),
    };
    let json: Value = serde_json::from_str(text.trim()).or_else(|_| last_json_object(&text)).map_err(|e| format!("the Pipecat report is not JSON: {e}"))?;
    Ok(PipecatRun { row: row(&json), reply_text: json.get("reply_text").and_then(Value::as_str).map(str::to_owned), json, took })
}

fn last_json_object(text: &str) -> Result<Value, serde_json::Error> {
    let start = text.rfind("\n{").map_or(0, |i| i + 1);
    serde_json::from_str(text[start..].trim())
}

/// The row of a report.
pub fn row(json: &Value) -> Row {
    let version = json.get("pipecat_version").and_then(Value::as_str).map(|v| format!(" {v}")).unwrap_or_default();
    Row {
        name: format!("pipecat{version}"),
        a: figure(json, &["e2e_ms", "a_ms", "e2e"]),
        b: figure(json, &["overhead_ms", "b_ms", "overhead"]),
        barge_in: figure(json, &["barge_in_ms", "barge_in"]),
        false_stops: false_stops(json),
        false_stops_note: words(json),
    }
}

/// " (嗯 0/1, 对 0/1)" from `backchannel_by_word`, else " (嗯)".
fn words(json: &Value) -> String {
    let Some(by) = json.get("backchannel_by_word").and_then(Value::as_object) else { return " (嗯)".into() };
    let parts: Vec<String> = by
        .iter()
        .filter_map(|(w, v)| {
            let v = v.as_array()?;
            Some(format!("{w} {}/{}", v.first()?.as_u64()?, v.get(1)?.as_u64()?))
        })
        .collect();
    format!(" ({})", parts.join(", "))
}

fn samples(v: &Value) -> Option<Vec<f64>> {
    let list = ["samples", "values", "ms", "all"].iter().find_map(|k| v.get(*k)).or(v.is_array().then_some(v))?;
    let xs: Vec<f64> = list.as_array()?.iter().filter_map(Value::as_f64).collect();
    (!xs.is_empty()).then_some(xs)
}

fn figure(json: &Value, names: &[&str]) -> Option<P> {
    let sections = [Some(json), json.get("summary"), json.get("results")];
    for section in sections.into_iter().flatten() {
        for name in names {
            if let Some(v) = section.get(*name) {
                if let Some(xs) = samples(v) {
                    return P::of(xs);
                }
                if let (Some(p50), Some(p99)) = (v.get("p50").and_then(Value::as_f64), v.get("p99").and_then(Value::as_f64)) {
                    let n = v.get("n").and_then(Value::as_u64).unwrap_or(0) as usize;
                    return Some(P { n, p50, p99 });
                }
            }
            let flat = |q: &str| section.get(format!("{name}_{q}")).and_then(Value::as_f64);
            if let (Some(p50), Some(p99)) = (flat("p50"), flat("p99")) {
                return Some(P { n: 0, p50, p99 });
            }
        }
    }
    None
}

/// The engines' nominal time to Pipecat's first audio (its `engines_ms`:
/// VAD stop + STT + first token + tokens to its first sentence + TTS).
pub fn nominal_ms(json: &Value) -> Option<f64> {
    if let Some(v) = json.get("engine_ms").and_then(Value::as_f64) {
        return Some(v);
    }
    let e = json.get("engines_ms")?;
    let f = |k: &str| e.get(k).and_then(Value::as_f64);
    // Tokens it waited for after the first: given as such, or as the (1-based) token that released the first sentence.
    let waited = f("llm_tokens_before_first_sentence").or_else(|| f("llm_token_releasing_first_sentence").map(|k| k - 1.0))?;
    Some(f("vad_stop")? + f("stt_final")? + f("llm_first_token")? + f("llm_token_every")? * waited + f("tts_first_audio")?)
}

/// (b) by one formula: its (a) samples minus the nominal engine time.
pub fn formula_b(json: &Value) -> Option<P> {
    let nominal = nominal_ms(json)?;
    let a = samples(json.get("e2e_ms")?)?;
    P::of(a.into_iter().map(|x| x - nominal))
}

/// Any figure of the report by name (`{p50, p99, samples}`).
pub fn figure_of(json: &Value, name: &str) -> Option<P> {
    figure(json, &[name])
}

/// Whether the harness takes the callee's WAVs (`--audio-dir`).
pub fn takes_audio_dir() -> bool {
    std::fs::read_to_string(harness()).is_ok_and(|s| s.contains("--audio-dir"))
}

fn false_stops(json: &Value) -> Option<(usize, usize)> {
    let v = json.get("backchannel_false_stops").or_else(|| json.get("summary").and_then(|s| s.get("backchannel_false_stops")))?;
    let tried = |v: &Value| ["of", "trials", "tried", "total", "n"].iter().find_map(|k| v.get(*k).and_then(Value::as_u64));
    let tried_top = ["backchannel_trials", "backchannels", "backchannel_n"].iter().find_map(|k| json.get(*k).and_then(Value::as_u64));
    match v {
        Value::Number(n) => Some((n.as_u64()? as usize, tried_top.unwrap_or(0) as usize)),
        Value::Object(_) => {
            let n = ["count", "false_stops", "stops", "n_false"].iter().find_map(|k| v.get(*k).and_then(Value::as_u64))?;
            Some((n as usize, tried(v).or(tried_top).unwrap_or(0) as usize))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_becomes_a_row() {
        let json: Value = serde_json::from_str(
            r#"{"pipecat_version": "1.14.0", "reply_text": "好",
                "e2e_ms": {"n": 3, "p50": 950.0, "p99": 990.0, "samples": [990.0, 950.0, 948.0]},
                "overhead_ms": {"n": 3, "p50": 6.0, "p99": 8.0},
                "barge_in_ms_p50": 350.0, "barge_in_ms_p99": 380.0,
                "backchannel_false_stops": 1, "backchannel_trials": 3, "backchannel_by_word": {"嗯": [1, 3]},
                "engines_ms": {"vad_stop": 200, "stt_final": 100, "llm_first_token": 200, "llm_token_every": 20,
                               "llm_token_releasing_first_sentence": 18, "tts_first_audio": 100}}"#,
        )
        .unwrap();
        let r = row(&json);
        assert_eq!(r.name, "pipecat 1.14.0");
        // Recomputed from the samples, nearest rank.
        assert_eq!((r.a.unwrap().p50, r.a.unwrap().p99, r.a.unwrap().n), (950.0, 990.0, 3));
        assert_eq!((r.b.unwrap().p50, r.b.unwrap().p99), (6.0, 8.0));
        assert_eq!((r.barge_in.unwrap().p50, r.barge_in.unwrap().p99), (350.0, 380.0));
        assert_eq!(r.false_stops, Some((1, 3)));
        assert_eq!(r.false_stops_note, " (嗯 1/3)");
        assert_eq!(nominal_ms(&json), Some(940.0));
        assert_eq!(formula_b(&json).unwrap().p50, 10.0);
    }
}
