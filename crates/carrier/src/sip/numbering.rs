//! The number as the trunk wants it in the Request-URI and To.

use waihu_core::PhoneNumber;

/// The user part for `to`: the configured prefix, then the 11 digits
/// (`""` gives `13800138000`, `"0"` gives `013800138000`, `"+86"` gives
/// `+8613800138000`).
pub fn request_user(prefix: &str, to: &PhoneNumber) -> String {
    format!("{prefix}{}", to.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_go_in_front_of_the_eleven_digits() {
        let n = PhoneNumber::parse("+86 138-0013-8000").unwrap();
        assert_eq!(request_user("", &n), "13800138000");
        assert_eq!(request_user("0", &n), "013800138000");
        assert_eq!(request_user("+86", &n), "+8613800138000");
    }
}
