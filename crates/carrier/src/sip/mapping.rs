//! A final SIP response to an INVITE, as the leg's end and the record's
//! `provider_response`.

use waihu_core::lifecycle::LegEnd;

/// How a failed INVITE ends the leg. `cancelled` says whether we sent a
/// CANCEL: then 487 is our own release, not a failure.
pub fn final_response_end(code: u16, cancelled: bool) -> LegEnd {
    match code {
        487 if cancelled => LegEnd::Released,
        486 | 600 => LegEnd::Busy,
        603 => LegEnd::Declined,
        480 | 408 => LegEnd::NoAnswer,
        // Everything else that is not an answer: 404/484/410, other 4xx, 5xx, 6xx,
        // and redirections (3xx) which a trunk UAC does not follow.
        _ => LegEnd::Failed,
    }
}

/// `SIP 486 Busy Here`: the code and the reason phrase the far end sent,
/// or the standard phrase when it sent none. The phrase is cut to a sane
/// length and stripped of control characters: it comes from the network.
pub fn provider_response(code: u16, phrase: &str) -> String {
    let cleaned: String = phrase.chars().filter(|c| !c.is_control()).take(80).collect();
    let cleaned = cleaned.trim();
    let phrase = if cleaned.is_empty() { standard_phrase(code) } else { cleaned };
    if phrase.is_empty() {
        format!("SIP {code}")
    } else {
        format!("SIP {code} {phrase}")
    }
}

/// RFC 3261's reason phrases for the codes a trunk commonly sends.
pub fn standard_phrase(code: u16) -> &'static str {
    match code {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        480 => "Temporarily Unavailable",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_like_the_issue_says() {
        let cases = [
            (486, LegEnd::Busy),
            (600, LegEnd::Busy),
            (603, LegEnd::Declined),
            (404, LegEnd::Failed),
            (484, LegEnd::Failed),
            (410, LegEnd::Failed),
            (500, LegEnd::Failed),
            (503, LegEnd::Failed),
            (480, LegEnd::NoAnswer),
            (408, LegEnd::NoAnswer),
            (487, LegEnd::Failed),
            (302, LegEnd::Failed),
        ];
        for (code, end) in cases {
            assert_eq!(final_response_end(code, false), end, "{code}");
        }
        assert_eq!(final_response_end(487, true), LegEnd::Released);
        assert_eq!(final_response_end(486, true), LegEnd::Busy);
    }

    #[test]
    fn provider_response_uses_the_far_ends_phrase_or_the_standard_one() {
        assert_eq!(provider_response(486, "Busy Here"), "SIP 486 Busy Here");
        assert_eq!(provider_response(486, "用户忙"), "SIP 486 用户忙");
        assert_eq!(provider_response(503, ""), "SIP 503 Service Unavailable");
        assert_eq!(provider_response(499, " "), "SIP 499");
        assert_eq!(provider_response(500, "a\r\nb"), "SIP 500 ab");
    }
}
