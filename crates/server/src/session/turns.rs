//! Turn-taking rules that do not need audio.

/// Whether an utterance is a listener's acknowledgement ("嗯", "对", "好的")
/// rather than an attempt to take the turn. Such words said while the AI
/// talks must not stop it.
pub(crate) fn is_backchannel(text: &str) -> bool {
    const ACKS: &[&str] = &["嗯", "嗯嗯", "哦", "噢", "啊", "对", "对对", "是", "是的", "好", "好的", "行", "唔", "嗯哼", "ok", "okay"];
    let core: String = text.chars().filter(|c| !c.is_whitespace() && !c.is_ascii_punctuation() && !"，。！？、…~～".contains(*c)).collect();
    let lower = core.to_lowercase();
    !lower.is_empty() && ACKS.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::is_backchannel;

    #[test]
    fn acknowledgements_are_not_turns() {
        for t in ["嗯", "嗯。", "对对", "好的！", " 是 ", "OK"] {
            assert!(is_backchannel(t), "{t}");
        }
        for t in ["等一下", "你说几点？", "不是", "嗯，等等", ""] {
            assert!(!is_backchannel(t), "{t}");
        }
    }
}
