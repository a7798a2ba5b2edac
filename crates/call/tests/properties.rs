//! Properties over random calls: callee lines at random moments, replies of
//! random latency, random answer times, API hang-ups and empty balances,
//! on text and voice legs. Whatever happens, the AI never has two lines
//! playing at once, never says the task's content before the callee
//! confirmed who they are, never loses a callee line, and the call always
//! ends.

mod common;

use std::time::Duration;

use common::{Call, Engine, TASK};
use proptest::prelude::*;
use waihu_agent::gate::content_facts;
use waihu_agent::offline::confirms_identity;
use waihu_agent::task::TaskBrief;
use waihu_call::BrainConfig;
use waihu_core::lifecycle::LifecycleConfig;
use waihu_core::{EndReason, HangupSide, Role};

/// What callees say: answers, questions, refusals, acknowledgements, noise.
const LINES: &[&str] = &[
    "对，是我。", "嗯", "对对对", "好的", "你是谁？", "再说一遍", "不是，你打错了。", "我在开会，晚点再打。", "你说。",
    "几点？", "好的，知道了。", "喂？", "他不在。", "别再打了", "啊？什么", "明天上午可以吗", "谢谢，再见",
];

#[derive(Debug, Clone)]
struct Scenario {
    stream: bool,
    leaky: bool,
    think_ms: u64,
    clause_ms: u64,
    ms_per_char: u64,
    answer_after_ms: Option<u64>,
    balance_ok: bool,
    lines: Vec<(u64, usize)>,
    api_hang_up_at: Option<u64>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        (any::<bool>(), prop::bool::weighted(0.3), 20u64..4_000, 0u64..900, 60u64..300),
        (prop::option::weighted(0.9, 100u64..20_000), prop::bool::weighted(0.8)),
        prop::collection::vec((0u64..90_000, 0..LINES.len()), 0..30),
        prop::option::weighted(0.15, 0u64..90_000),
    )
        .prop_map(|((stream, leaky, think_ms, clause_ms, ms_per_char), (answer_after_ms, balance_ok), lines, api_hang_up_at)| Scenario {
            stream,
            leaky,
            think_ms,
            clause_ms,
            ms_per_char,
            answer_after_ms,
            balance_ok,
            lines,
            api_hang_up_at,
        })
}

fn run(s: &Scenario) -> Call {
    let lifecycle = LifecycleConfig { max_duration: Duration::from_secs(90), ..LifecycleConfig::default() };
    let cfg = BrainConfig { lifecycle, reply_timeout: Duration::from_secs(10), stream_replies: s.stream };
    let mut c = Call::new(if s.leaky { Engine::Leaky } else { Engine::Offline }, cfg);
    (c.think_ms, c.clause_ms, c.ms_per_char, c.answer_after_ms, c.balance_ok) = (s.think_ms, s.clause_ms, s.ms_per_char, s.answer_after_ms, s.balance_ok);
    for &(at, i) in &s.lines {
        c.callee_says_at(at, LINES[i]);
    }
    if let Some(at) = s.api_hang_up_at {
        c.hang_up_at(at, HangupSide::Api, EndReason::ApiCancel);
    }
    c.run(400_000);
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn whatever_happens_the_floor_keeps_its_rules(s in scenario()) {
        let c = run(&s);

        // Always ends, within the maximum length, its goodbye and the release.
        prop_assert!(c.record.end.is_some(), "never finished");

        // Never two lines playing at once.
        prop_assert_eq!(c.record.overlaps, 0);

        // Never the content before the callee confirmed who they are.
        let facts = content_facts(&TaskBrief::parse(TASK));
        let brief = TaskBrief::parse(TASK);
        for (at, said) in &c.record.said {
            let heard_before: Vec<&str> = c.record.heard.iter().filter(|(h, _)| h < at).map(|(_, l)| l.as_str()).collect();
            let confirmed = heard_before.iter().any(|l| confirms_identity(&brief, l));
            let leaked: Vec<&String> = facts.iter().filter(|f| said.contains(f.as_str()) && !heard_before.iter().any(|l| l.contains(f.as_str()))).collect();
            prop_assert!(confirmed || leaked.is_empty(), "said {:?} at {:?} before a yes (heard {:?})", said, at, heard_before);
        }

        // Never loses a callee line: every line heard is in the transcript,
        // in order, but acknowledgements said over the AI.
        let written: Vec<&str> = c.record.lines.iter().filter(|(r, _)| *r == Role::User).map(|(_, t)| t.as_str()).collect();
        let mut next = 0;
        for (_, line) in &c.record.heard {
            if written.get(next) == Some(&line.as_str()) {
                next += 1;
            } else {
                prop_assert!(waihu_turn::is_backchannel(line), "{:?} was lost: {:?}", line, written);
            }
        }
        prop_assert_eq!(next, written.len(), "a user line nobody said: {:?}", written);
    }
}
