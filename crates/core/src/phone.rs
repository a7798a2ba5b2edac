//! Mainland China mobile numbers as the Stepone API accepts them.
//!
//! A number is 11 digits matching `^1[3-9][0-9]{9}$`. Clients send it with
//! `+86`/`86`/`0086` prefixes, spaces, dashes or brackets; those are removed
//! before the check. Several numbers travel in one string separated by ASCII
//! commas (`phones`), and one call is made per number, in order.

use std::fmt;

use thiserror::Error;

/// A validated mainland mobile number: exactly 11 ASCII digits, `1[3-9]…`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

/// Why a phone number was refused. Messages name the offending input so a
/// person can fix it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PhoneError {
    /// The `phones` field held nothing but separators and whitespace.
    #[error("phones is empty: give one or more 11-digit mainland mobile numbers separated by commas")]
    Empty,
    /// One entry of a comma-separated list was empty (e.g. `"138...,,139..."`).
    #[error("phones has an empty entry at position {position}: separate numbers with single commas")]
    EmptyEntry {
        /// 1-based position of the empty entry.
        position: usize,
    },
    /// Characters other than digits and the usual punctuation.
    #[error("phone number {input:?} contains {bad:?}: only digits, an optional +86 prefix, spaces and dashes are allowed")]
    BadCharacter {
        /// The entry as given (truncated to 40 chars).
        input: String,
        /// The first offending character.
        bad: char,
    },
    /// A number with another country's code (`+1 415…`, `0044…`): only
    /// mainland China numbers can be called, and its digits must not be read
    /// as a Chinese number someone else holds.
    #[error("phone number {input:?} has a country code other than +86: only mainland China mobile numbers can be called (+86 or no prefix, e.g. 13800138000)")]
    ForeignNumber {
        /// The entry as given (truncated to 40 chars).
        input: String,
    },
    /// Digits that are not a mainland mobile number.
    #[error("phone number {input:?} is not a mainland China mobile number (11 digits starting with 13-19, e.g. 13800138000)")]
    NotMobile {
        /// The entry as given (truncated to 40 chars).
        input: String,
    },
    /// More numbers than one request may carry.
    #[error("too many phone numbers: {count} given, at most {max} per request")]
    TooMany {
        /// How many were given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The same number twice in one request.
    #[error("phone number {number} appears twice in phones: each number is called once per request")]
    Duplicate {
        /// The number, redacted.
        number: String,
    },
}

fn clip(input: &str) -> String {
    input.chars().take(40).collect()
}

impl PhoneNumber {
    /// Parses one number, normalising away `+86`, `86`, `0086`, spaces,
    /// dashes, dots and brackets.
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        let trimmed = input.trim();
        let mut digits = String::with_capacity(16);
        for (i, c) in trimmed.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => {}
                ' ' | '-' | '.' | '(' | ')' | '\u{3000}' | '\t' => {}
                _ => {
                    return Err(PhoneError::BadCharacter { input: clip(trimmed), bad: c });
                }
            }
        }
        // `+` or `00` opens an international number: its country code
        // must be China's, or the rest is someone else's number abroad.
        let international = if trimmed.starts_with('+') {
            Some(digits.strip_prefix("86"))
        } else if digits.starts_with("00") {
            Some(digits.strip_prefix("0086"))
        } else {
            None
        };
        let national = match international {
            Some(Some(national)) => national,
            Some(None) => return Err(PhoneError::ForeignNumber { input: clip(trimmed) }),
            None if digits.len() == 13 && digits.starts_with("86") => &digits[2..],
            None => &digits[..],
        };
        let b = national.as_bytes();
        let ok = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
        if !ok {
            return Err(PhoneError::NotMobile { input: clip(trimmed) });
        }
        Ok(PhoneNumber(national.to_owned()))
    }

    /// Parses the `phones` field: numbers separated by ASCII commas, at most
    /// `max` of them, no duplicates.
    pub fn parse_list(input: &str, max: usize) -> Result<Vec<Self>, PhoneError> {
        if input.trim().trim_matches(',').trim().is_empty() {
            return Err(PhoneError::Empty);
        }
        let entries: Vec<&str> = input.trim().trim_end_matches(',').split(',').collect();
        if entries.len() > max {
            return Err(PhoneError::TooMany { count: entries.len(), max });
        }
        let mut out: Vec<PhoneNumber> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            if entry.trim().is_empty() {
                return Err(PhoneError::EmptyEntry { position: i + 1 });
            }
            let phone = PhoneNumber::parse(entry)?;
            if out.contains(&phone) {
                return Err(PhoneError::Duplicate { number: phone.redacted() });
            }
            out.push(phone);
        }
        Ok(out)
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with its middle four digits hidden (`138****8000`), the only
    /// form that may appear in logs.
    pub fn redacted(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

/// `Debug` is redacted too, so a stray `{:?}` in a log line leaks nothing.
impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_common_spellings_of_the_same_number() {
        for s in ["13800138000", "+8613800138000", "8613800138000", "+86 138-0013-8000", "0086 138 0013 8000", " 138 0013 8000 "] {
            assert_eq!(PhoneNumber::parse(s).unwrap().as_str(), "13800138000", "{s}");
        }
    }

    #[test]
    fn refuses_landlines_short_numbers_and_letters_with_the_input_in_the_message() {
        let e = PhoneNumber::parse("12800138000").unwrap_err();
        assert!(e.to_string().contains("12800138000"));
        assert!(matches!(PhoneNumber::parse("1380013800"), Err(PhoneError::NotMobile { .. })));
        assert!(matches!(PhoneNumber::parse("010-12345678"), Err(PhoneError::NotMobile { .. })));
        assert!(matches!(PhoneNumber::parse("1380013800a"), Err(PhoneError::BadCharacter { bad: 'a', .. })));
        assert!(matches!(PhoneNumber::parse("138+00138000"), Err(PhoneError::BadCharacter { bad: '+', .. })));
    }

    #[test]
    fn another_countrys_number_is_refused_not_read_as_a_chinese_one() {
        // 141-5555-0100 has the shape of a mainland mobile number: before,
        // +1 415 555 0100 was queued as it.
        for s in ["+14155550100", "+1 415 555 0100", "0014155550100", "+44 7911 123456", "00 852 9123 4567", "+8"] {
            let e = PhoneNumber::parse(s).unwrap_err();
            assert!(matches!(e, PhoneError::ForeignNumber { .. }), "{s}: {e}");
            assert!(e.to_string().contains("+86"), "{e}");
        }
        // China's own code still opens a number, with + or 00.
        assert_eq!(PhoneNumber::parse("+86 13800138000").unwrap().as_str(), "13800138000");
        assert_eq!(PhoneNumber::parse("0086-138-0013-8000").unwrap().as_str(), "13800138000");
        assert!(matches!(PhoneNumber::parse("+86 1380013800"), Err(PhoneError::NotMobile { .. })));
    }

    #[test]
    fn list_keeps_order_and_refuses_duplicates_empties_and_excess() {
        let l = PhoneNumber::parse_list("13800138000, +86 13900139000", 10).unwrap();
        assert_eq!(l.iter().map(|p| p.as_str()).collect::<Vec<_>>(), ["13800138000", "13900139000"]);
        assert_eq!(PhoneNumber::parse_list("13800138000,", 10).unwrap().len(), 1);
        assert_eq!(PhoneNumber::parse_list("  ,", 10), Err(PhoneError::Empty));
        assert_eq!(PhoneNumber::parse_list("13800138000,,13900139000", 10), Err(PhoneError::EmptyEntry { position: 2 }));
        assert!(matches!(PhoneNumber::parse_list("13800138000,8613800138000", 10), Err(PhoneError::Duplicate { .. })));
        assert!(matches!(PhoneNumber::parse_list("13800138000,13900139000", 1), Err(PhoneError::TooMany { count: 2, max: 1 })));
    }

    #[test]
    fn redaction_hides_the_middle_digits_in_display_and_debug() {
        let p = PhoneNumber::parse("13800138000").unwrap();
        assert_eq!(p.redacted(), "138****8000");
        assert!(!format!("{p:?}").contains("13800138000"));
    }

    proptest! {
        #[test]
        fn never_panics_and_accepts_only_mobile_shapes(s in "\\PC{0,40}") {
            if let Ok(p) = PhoneNumber::parse(&s) {
                let b = p.as_str().as_bytes();
                prop_assert_eq!(b.len(), 11);
                prop_assert!(b.iter().all(u8::is_ascii_digit));
                prop_assert_eq!(b[0], b'1');
                prop_assert!((b'3'..=b'9').contains(&b[1]));
            }
            let _ = PhoneNumber::parse_list(&s, 5);
        }

        #[test]
        fn every_valid_number_survives_any_prefix_and_punctuation(
            second in 3u8..=9, rest in "[0-9]{9}", prefix in prop::sample::select(vec!["", "+86", "86", "0086", "+86 "]),
            dash in prop::bool::ANY,
        ) {
            let national = format!("1{second}{rest}");
            let spelled = if dash { format!("{}-{}-{}", &national[..3], &national[3..7], &national[7..]) } else { national.clone() };
            let parsed = PhoneNumber::parse(&format!("{prefix}{spelled}")).unwrap();
            prop_assert_eq!(parsed.as_str(), national.as_str());
        }

        #[test]
        fn list_round_trips_through_commas(nums in prop::collection::btree_set("1[3-9][0-9]{9}", 1..8)) {
            let joined = nums.iter().cloned().collect::<Vec<_>>().join(",");
            let parsed = PhoneNumber::parse_list(&joined, 10).unwrap();
            prop_assert_eq!(parsed.iter().map(|p| p.as_str().to_owned()).collect::<Vec<_>>(), nums.into_iter().collect::<Vec<_>>());
        }
    }
}
