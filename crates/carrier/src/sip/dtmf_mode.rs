//! DTMF test mode: until speech recognition lands, the far end "speaks" by
//! pressing keys. Each RFC 4733 digit stands for one fixed utterance, so a
//! person (or sipp playing a capture) can drive the dialogue over a real
//! trunk. Nothing else is ever invented as the callee's words.
//!
//! | key | heard |
//! |-----|-------|
//! | 1 | 对，是我。 |
//! | 2 | 不是，你打错了。 |
//! | 3 | 好的，知道了。 |
//! | 4 | 没听清，再说一遍？ |
//! | 5 | 别再给我打电话了。 |
//! | 6 | 我在开会，晚点再说。 |
//! | 7 | 嗯。 |
//! | 8 | 可以，你说吧。 |
//! | 9 | 你是谁？ |
//! | 0 | 喂？ |
//!
//! `*`, `#` and A-D mean nothing.

/// The table above, as `(key, utterance)`.
pub const DIGIT_UTTERANCES: &[(char, &str)] = &[
    ('1', "对，是我。"),
    ('2', "不是，你打错了。"),
    ('3', "好的，知道了。"),
    ('4', "没听清，再说一遍？"),
    ('5', "别再给我打电话了。"),
    ('6', "我在开会，晚点再说。"),
    ('7', "嗯。"),
    ('8', "可以，你说吧。"),
    ('9', "你是谁？"),
    ('0', "喂？"),
];

/// The RFC 4733 event code (0-15) as a key.
pub fn event_key(event: u8) -> Option<char> {
    match event {
        0..=9 => char::from_digit(u32::from(event), 10),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + (event - 12)) as char),
        _ => None,
    }
}

/// What pressing `key` says in test mode.
pub fn utterance(key: char) -> Option<&'static str> {
    DIGIT_UTTERANCES.iter().find(|(k, _)| *k == key).map(|(_, u)| *u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_digit_says_something_and_symbols_say_nothing() {
        for d in 0..=9u8 {
            let key = event_key(d).unwrap();
            assert!(utterance(key).is_some(), "{key}");
        }
        assert_eq!(event_key(10), Some('*'));
        assert_eq!(event_key(11), Some('#'));
        assert_eq!(event_key(15), Some('D'));
        assert_eq!(event_key(16), None);
        assert_eq!(utterance('#'), None);
        assert_eq!(utterance('1'), Some("对，是我。"));
    }
}
