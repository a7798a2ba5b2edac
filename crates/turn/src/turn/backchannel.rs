//! Listener's acknowledgements: words that do not take the turn.

/// Acknowledgement words, longest first so `好的` is read before `好`.
/// `恩` is here because ASR engines often write 嗯 that way.
const ACKS: &[&str] = &[
    "uh-huh", "okay", "yeah", "嗯哼", "好的", "是的", "对的", "对啊", "是啊", "好啊", "ok", "嗯", "恩", "哦", "噢", "喔", "啊", "唔", "对", "是",
    "好", "行", "yes",
];

/// Longest acknowledgement, in letters or Han characters (`好的好的`,
/// `嗯嗯嗯嗯`). Anything longer is someone saying something.
const MAX_CHARS: usize = 6;

/// Whether `text` is only a listener's acknowledgement (嗯, 对, 好的, 是是是,
/// 嗯嗯好, OK), said to show attention rather than to take the turn.
/// Punctuation, spaces and case are ignored; anything else makes it speech
/// (`嗯，等一下`, `不是`, `是吗`).
pub fn is_backchannel(text: &str) -> bool {
    let core: String = text.chars().filter(|c| c.is_alphanumeric() || *c == '-').flat_map(char::to_lowercase).collect();
    let core = core.trim_matches('-');
    if core.is_empty() || core.chars().filter(|c| *c != '-').count() > MAX_CHARS {
        return false;
    }
    // A sequence of acknowledgements, each whole: 嗯嗯, 对对对, 好的好的.
    let mut rest = core;
    while !rest.is_empty() {
        match ACKS.iter().find(|a| rest.starts_with(**a)) {
            Some(a) => rest = &rest[a.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::is_backchannel;

    #[test]
    fn acknowledgements_are_backchannels() {
        // The session's own list before issue 9 had these too (对对, " 是 "):
        // one list now decides for text and voice legs alike.
        for t in ["嗯", "嗯。", "嗯嗯", "恩", "对", "对对", "对对对", "好", "好的！", "好的好的", "是", " 是 ", "是的", "是是是", "哦", "嗯哼", " 对 ", "OK", "Okay.", "uh-huh", "嗯嗯好"] {
            assert!(is_backchannel(t), "{t}");
        }
    }

    #[test]
    fn words_that_take_the_turn_are_not() {
        for t in ["", "，", "等一下", "嗯，等等", "不是", "不对", "是吗", "好的我知道了但是", "你说几点？", "嗯嗯嗯嗯嗯嗯嗯", "okay but"] {
            assert!(!is_backchannel(t), "{t}");
        }
    }
}
