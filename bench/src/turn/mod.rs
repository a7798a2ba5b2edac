//! `turn`: one conversational turn through the voice pipeline
//! (`waihu_voice::wrap`), on a fake audio leg with a real 20 ms clock, and
//! Pipecat beside it (see bench/README.md).
//!
//! - [`audio`]: the callee's voice (espeak-ng) and the voiced-frame rule;
//! - [`leg`]: the fake audio leg and what it measures at the wire;
//! - [`engines`]: ASR and TTS of fixed latency;
//! - [`session`]: the session's role (fake LLM, or the offline dialogue);
//! - [`script`]: what the callee does, turn by turn;
//! - [`run`]: a whole run, fixed-latency or offline;
//! - [`report`], [`pipecat`]: the figures and the other framework's.

pub mod audio;
pub mod engines;
pub mod leg;
pub mod pipecat;
pub mod report;
pub mod run;
pub mod script;
pub mod session;

/// The fake LLM's reply when the Pipecat harness does not say which it used:
/// 30 characters, the first full stop after a comma. (The example this
/// benchmark was specified with, `…我会准时到，到时候见。`, has 29: `到达`
/// makes it 30.)
pub const DEFAULT_REPLY: &str = "好的，我明白您的意思了，明天下午三点我会准时到达，到时候见。";

/// Checks a reply is what the issue asks of the fake LLM: 30 characters
/// whose first full stop comes after a comma.
pub fn check_reply(reply: &str) -> Result<(), String> {
    let chars: Vec<char> = reply.chars().collect();
    if chars.len() != 30 {
        return Err(format!("{reply:?} has {} characters, not 30", chars.len()));
    }
    let comma = chars.iter().position(|c| *c == '，');
    let stop = chars.iter().position(|c| *c == '。');
    match (comma, stop) {
        (Some(c), Some(s)) if c < s => Ok(()),
        _ => Err(format!("{reply:?}: its first full stop must come after a comma")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_reply_is_as_the_issue_asks() {
        check_reply(DEFAULT_REPLY).unwrap();
        assert_eq!(session::first_chunk_chars(DEFAULT_REPLY), 3);
        assert!(check_reply("好的。").is_err());
    }
}
