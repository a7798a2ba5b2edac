//! Money and per-minute billing. Amounts are integer fen (0.01 CNY) so that
//! no rounding ever creeps into the ledger.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An amount of money in fen (1 CNY = 100 fen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(pub i64);

/// Why a CNY amount given by a person was refused. Each message quotes the
/// input and says what an amount looks like.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AmountError {
    /// Not digits with an optional decimal point (signs, letters, exponents,
    /// a bare point, nothing at all).
    #[error("{input:?} is not an amount in CNY: use digits with at most two decimals, e.g. 10 or 12.50")]
    NotAnAmount {
        /// The input, trimmed.
        input: String,
    },
    /// More than two decimals: amounts are whole fen.
    #[error("{input:?} has more than two decimals: amounts in CNY are whole fen (0.01), e.g. 12.50")]
    FractionOfAFen {
        /// The input, trimmed.
        input: String,
    },
    /// Ten digits or more before the point.
    #[error("{input:?} is too large: amounts in CNY are at most 999999999.99")]
    TooLarge {
        /// The input, trimmed.
        input: String,
    },
}

impl Fen {
    /// From a yuan amount given by a person (`"12.5"`, `"10"`), refusing more
    /// than two decimals, negatives and absurd sizes.
    pub fn parse_yuan(s: &str) -> Result<Fen, AmountError> {
        let s = s.trim();
        let input = || s.to_owned();
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AmountError::NotAnAmount { input: input() });
        }
        if frac.len() > 2 {
            return Err(AmountError::FractionOfAFen { input: input() });
        }
        if int.len() > 9 {
            return Err(AmountError::TooLarge { input: input() });
        }
        // At most nine digits and two: these parse.
        let whole: i64 = int.parse().map_err(|_| AmountError::NotAnAmount { input: input() })?;
        let cents: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().map_err(|_| AmountError::NotAnAmount { input: input() })? };
        Ok(Fen(whole * 100 + cents))
    }

    /// As a CNY number for JSON (`cost`, `balance`).
    pub fn as_yuan(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:02}", self.0.abs() / 100, self.0.abs() % 100)
    }
}

/// How calls are charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tariff {
    /// Price of each started minute of connected time.
    pub per_minute: Fen,
}

impl Tariff {
    /// Started minutes for a connected time: 0 s is free, 1 ms is one minute,
    /// 60.000 s is one minute, 60.001 s is two.
    pub fn billable_minutes(connected: Duration) -> u32 {
        let ms = connected.as_millis();
        ms.div_ceil(60_000).min(u32::MAX as u128) as u32
    }

    /// The charge for a connected time.
    pub fn cost(&self, connected: Duration) -> Fen {
        Fen(self.per_minute.0 * i64::from(Self::billable_minutes(connected)))
    }

    /// The charge for a number of started minutes.
    pub fn minutes(&self, minutes: u32) -> Fen {
        Fen(self.per_minute.0 * i64::from(minutes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_started_minute() {
        assert_eq!(Tariff::billable_minutes(Duration::ZERO), 0);
        assert_eq!(Tariff::billable_minutes(Duration::from_millis(1)), 1);
        assert_eq!(Tariff::billable_minutes(Duration::from_secs(60)), 1);
        assert_eq!(Tariff::billable_minutes(Duration::from_millis(60_001)), 2);
        let t = Tariff { per_minute: Fen(15) };
        assert_eq!(t.cost(Duration::from_secs(125)), Fen(45));
    }

    #[test]
    fn refused_amounts_say_why_and_quote_the_input() {
        let err = |s: &str| Fen::parse_yuan(s).unwrap_err();
        assert_eq!(err(" cheap "), AmountError::NotAnAmount { input: "cheap".into() });
        assert_eq!(err("-1"), AmountError::NotAnAmount { input: "-1".into() });
        assert_eq!(err("1.234"), AmountError::FractionOfAFen { input: "1.234".into() });
        assert_eq!(err("9999999999"), AmountError::TooLarge { input: "9999999999".into() });
        assert_eq!(err("abc").to_string(), "\"abc\" is not an amount in CNY: use digits with at most two decimals, e.g. 10 or 12.50");
        assert!(err("1.234").to_string().contains("12.50"));
    }

    #[test]
    fn yuan_parsing_is_exact() {
        assert_eq!(Fen::parse_yuan("10").unwrap(), Fen(1000));
        assert_eq!(Fen::parse_yuan("12.5").unwrap(), Fen(1250));
        assert_eq!(Fen::parse_yuan("0.07").unwrap(), Fen(7));
        for bad in ["", "-1", "1.234", "abc", "1e3", "1.", ".5", "9999999999"] {
            assert!(Fen::parse_yuan(bad).is_err() || bad == "1.", "{bad}");
        }
        assert_eq!(Fen::parse_yuan("1.").unwrap(), Fen(100), "a trailing point is read as no decimals");
        assert_eq!(Fen(1234).to_string(), "12.34");
        assert_eq!(Fen(-5).to_string(), "-0.05");
    }
}
