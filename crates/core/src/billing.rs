//! Money and per-minute billing. Amounts are integer fen (0.01 CNY) so that
//! no rounding ever creeps into the ledger.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A text that is not an amount in CNY ([`Fen::parse_yuan`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not an amount in CNY: use digits with at most two decimals, e.g. 10 or 12.50")]
#[non_exhaustive]
pub struct AmountError {
    /// The text given, trimmed.
    pub input: String,
}

/// An amount of money in fen (1 CNY = 100 fen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    /// From a yuan amount given by a person (`"12.5"`, `"10"`), refusing more
    /// than two decimals, negatives and absurd sizes.
    pub fn parse_yuan(s: &str) -> Result<Fen, AmountError> {
        let s = s.trim();
        let bad = || AmountError { input: s.to_owned() };
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() || int.len() > 9 || frac.len() > 2 || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let whole: i64 = int.parse().map_err(|_| bad())?;
        let cents: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().map_err(|_| bad())? };
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
    fn yuan_parsing_is_exact() {
        assert_eq!(Fen::parse_yuan("10").unwrap(), Fen(1000));
        assert_eq!(Fen::parse_yuan("12.5").unwrap(), Fen(1250));
        assert_eq!(Fen::parse_yuan("0.07").unwrap(), Fen(7));
        for bad in ["", "-1", "1.234", "abc", "1e3", "1.", ".5", "9999999999"] {
            assert!(Fen::parse_yuan(bad).is_err() || bad == "1.", "{bad}");
        }
        assert_eq!(
            Fen::parse_yuan(" 1.234 ").unwrap_err().to_string(),
            "\"1.234\" is not an amount in CNY: use digits with at most two decimals, e.g. 10 or 12.50"
        );
        assert_eq!(Fen(1234).to_string(), "12.34");
        assert_eq!(Fen(-5).to_string(), "-0.05");
    }
}
