//! From what the wire, the engines and the pipeline saw to the figures:
//! per turn, then p50/p99 per framework, side by side.

use std::time::{Duration, Instant};

use waihu_turn::TurnLatencyMs;

use super::engines::Served;
use super::script::TurnObs;
use super::session::{Answer, SessionLog};
use crate::Percentiles;

/// One turn's figures, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct TurnFigures {
    /// (a) at the wire: the answer's last voiced frame (by energy) to the
    /// first AI frame.
    pub a_wire: Option<f64>,
    /// The pipeline's own report of the turn.
    pub split: Option<TurnLatencyMs>,
    /// (b) from the engines' side: the AI's first frame minus the later of
    /// the VAD's end of speech and the recogniser's final, minus what the
    /// fake engines took after that (first token, first clause, first audio).
    pub b_engines: Option<f64>,
    /// The answer's last voiced frame (by energy) to the VAD's end of
    /// speech: the endpointing at the wire. The end of speech is the
    /// pipeline's (its split: the first frame minus what came after the
    /// hangover), since the recogniser may be asked before it.
    pub vad_stop_lag: Option<f64>,
    /// The answer's last voiced frame (by energy) to the recogniser's final.
    pub final_after: Option<f64>,
    /// How long the reply's first clip waited for the 20 ms clock.
    pub clock_wait: Option<f64>,
    /// Barge-in: the interruption's first voiced frame to the AI's last frame.
    pub barge_in: Option<f64>,
    /// The acknowledgement stopped the AI.
    pub false_stop: bool,
    /// An acknowledgement was said over the AI.
    pub backchannel_tried: bool,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn since(later: Instant, earlier: Instant) -> f64 {
    if later >= earlier {
        ms(later - earlier)
    } else {
        -ms(earlier - later)
    }
}

/// Matches what the session and the engines logged to each turn, by time:
/// each lies between the answer's last voiced frame and the reply's first frame.
pub fn figures(turns: &[TurnObs], session: &SessionLog, asr: &[Served], tts: &[Served]) -> Vec<TurnFigures> {
    turns
        .iter()
        .map(|t| {
            let mut f = TurnFigures { clock_wait: t.clock_wait.map(ms), false_stop: t.false_stop, backchannel_tried: t.backchannel.is_some(), ..Default::default() };
            let (Some(answer), Some(first_ai)) = (t.answer, t.first_ai) else { return f };
            let end = answer.last_voiced;
            let within = |at: Instant| at >= end && at <= first_ai;
            f.a_wire = Some(since(first_ai, end));
            f.split = session.latencies.iter().find(|(at, _)| *at >= first_ai && *at <= first_ai + Duration::from_secs(2)).map(|(_, l)| *l);
            let a_wire = since(first_ai, end);
            let final_ = asr.iter().rev().find(|s| within(s.asked));
            f.final_after = final_.map(|fin| since(fin.answered, end));
            f.vad_stop_lag = f.split.map(|l| a_wire - (l.total_ms - l.endpointing_ms));
            let said: Option<&Answer> = session.answers.iter().find(|a| within(a.heard));
            let synth = tts.iter().find(|s| within(s.asked));
            if let (Some(final_after), Some(stop), Some(said), Some(synth)) = (f.final_after, f.vad_stop_lag, said, synth) {
                let engines = (said.first_part - said.heard) + (said.first_chunk_part - said.first_part) + synth.took();
                f.b_engines = Some(a_wire - final_after.max(stop) - ms(engines));
            }
            if let (Some(it), Some(stopped)) = (t.interrupt, t.ai_stopped) {
                if t.problem.is_none() {
                    f.barge_in = Some(since(stopped, it.first_voiced));
                }
            }
            f
        })
        .collect()
}

/// p50 and p99 (nearest rank) of some milliseconds, and how many.
#[derive(Debug, Clone, Copy, Default)]
pub struct P {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 99th percentile (nearest rank: with under 100 samples, the largest).
    pub p99: f64,
}

impl P {
    /// Of these samples (microsecond resolution).
    pub fn of(samples: impl IntoIterator<Item = f64>) -> Option<P> {
        let us: Vec<u64> = samples.into_iter().map(|m| (m.max(0.0) * 1000.0).round() as u64).collect();
        if us.is_empty() {
            return None;
        }
        let p = Percentiles::of(us);
        Some(P { n: p.n, p50: p.p50 as f64 / 1000.0, p99: p.p99 as f64 / 1000.0 })
    }
}

/// One framework's row of the comparison.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Its name.
    pub name: String,
    /// (a) last voiced frame -> first AI audio frame.
    pub a: Option<P>,
    /// (b) our own time after the end of speech, minus the engines'.
    pub b: Option<P>,
    /// Barge-in: first voiced frame -> AI audio stopped.
    pub barge_in: Option<P>,
    /// Acknowledgements that stopped the AI, of those tried.
    pub false_stops: Option<(usize, usize)>,
    /// Said after the false stops (which words).
    pub false_stops_note: String,
}

/// A figure with one decimal, or two under 10 ms (where (b) lives).
fn cell(p: Option<P>, pick: fn(&P) -> f64) -> String {
    p.map_or_else(|| "-".into(), |p| if pick(&p) < 10.0 { format!("{:.2}", pick(&p)) } else { format!("{:.1}", pick(&p)) })
}

fn ratio(ours: Option<P>, theirs: Option<P>, pick: fn(&P) -> f64) -> String {
    match (ours, theirs) {
        (Some(o), Some(t)) if pick(&t) > 0.0 => format!("{:.2}", pick(&o) / pick(&t)),
        _ => "-".into(),
    }
}

/// The side-by-side table, in Markdown, with the ratios waihu/pipecat when both ran.
/// `extra` rows (ours measured another way) go after the first, without ratios.
pub fn table(ours: &Row, extra: &[Row], theirs: Option<&Row>) -> String {
    let mut out = String::from(
        "| framework | (a) p50 ms | (a) p99 ms | (b) p50 ms | (b) p99 ms | barge-in p50 ms | barge-in p99 ms | false stops |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let line = |r: &Row| {
        let fs = r.false_stops.map_or_else(|| "-".into(), |(n, of)| format!("{n}/{of}{}", r.false_stops_note));
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.name,
            cell(r.a, |p| p.p50),
            cell(r.a, |p| p.p99),
            cell(r.b, |p| p.p50),
            cell(r.b, |p| p.p99),
            cell(r.barge_in, |p| p.p50),
            cell(r.barge_in, |p| p.p99),
            fs
        )
    };
    out.push_str(&line(ours));
    for r in extra {
        out.push_str(&line(r));
    }
    if let Some(t) = theirs {
        out.push_str(&line(t));
        out.push_str(&format!(
            "| ratio {}/{} | {} | {} | {} | {} | {} | {} | |\n",
            ours.name,
            t.name,
            ratio(ours.a, t.a, |p| p.p50),
            ratio(ours.a, t.a, |p| p.p99),
            ratio(ours.b, t.b, |p| p.p50),
            ratio(ours.b, t.b, |p| p.p99),
            ratio(ours.barge_in, t.barge_in, |p| p.p50),
            ratio(ours.barge_in, t.barge_in, |p| p.p99),
        ));
    }
    out
}

/// The median of each part of the pipeline's split, as one line.
pub fn split_line(splits: &[TurnLatencyMs]) -> String {
    let med = |f: fn(&TurnLatencyMs) -> f64| P::of(splits.iter().map(f)).map_or(0.0, |p| p.p50);
    format!(
        "total {:.1} = endpointing {:.1} + asr {:.1} + dialogue first token {:.1} + first clause {:.1} + tts first audio {:.1} + ours {:.1} (medians, ms; asr final {:.1} after the last voiced frame)",
        med(|l| l.total_ms),
        med(|l| l.endpointing_ms),
        med(|l| l.asr_ms),
        med(|l| l.dialogue_first_token_ms),
        med(|l| l.first_clause_ms),
        med(|l| l.tts_first_audio_ms),
        med(|l| l.overhead_ms),
        med(|l| l.asr_final_after_speech_ms.unwrap_or(0.0)),
    )
}

/// One line per turn, for `--verbose 1`.
pub fn per_turn(figs: &[TurnFigures]) -> String {
    let mut out = String::from("turn  a_wire  a_vad  endp   asr    llm  clause   tts   ours  ours_eng  clock  barge  false_stop\n");
    let f1 = |v: Option<f64>| v.map_or_else(|| "    -".into(), |v| format!("{v:6.1}"));
    for (i, f) in figs.iter().enumerate() {
        out.push_str(&format!(
            "{:4} {} {} {}    {} {}  {}\n",
            i + 1,
            f1(f.a_wire),
            split_cells(f.split),
            f1(f.b_engines),
            f1(f.clock_wait),
            f1(f.barge_in),
            if f.false_stop { "yes" } else if f.backchannel_tried { "no" } else { "-" },
        ));
    }
    out
}

/// A turn's latency split as seven 6-wide columns: total, endpointing, ASR,
/// first token, first clause, TTS, our own time (`-` when not reported).
pub fn split_cells(s: Option<TurnLatencyMs>) -> String {
    let cell = |v: Option<f64>| v.map_or_else(|| "     -".into(), |v| format!("{v:6.1}"));
    [
        s.map(|l| l.total_ms),
        s.map(|l| l.endpointing_ms),
        s.map(|l| l.asr_ms),
        s.map(|l| l.dialogue_first_token_ms),
        s.map(|l| l.first_clause_ms),
        s.map(|l| l.tts_first_audio_ms),
        s.map(|l| l.overhead_ms),
    ]
    .map(cell)
    .join(" ")
}
