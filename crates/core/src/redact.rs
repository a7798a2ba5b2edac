//! Secrets and personal data in logs: only ever a recognisable prefix.

/// An API key as it may be logged: its first 7 characters (`sk_AbCd…`).
pub fn key_prefix(key: &str) -> String {
    let head: String = key.chars().take(7).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_cut_to_a_prefix() {
        assert_eq!(super::key_prefix("sk_abcdefghijklmnopqrstuvwxyz0123456789"), "sk_abcd…");
        assert_eq!(super::key_prefix("sk"), "sk…");
    }
}
