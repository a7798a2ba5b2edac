//! The SDP we offer and the parts of the far end's SDP we use (RFC 4566,
//! offer/answer per RFC 3264), for one audio stream of G.711 plus RFC 4733
//! telephone events.
//!
//! The parser is deliberately lenient (LF or CRLF, unknown lines ignored)
//! and never panics: its input comes from the network.

use std::net::{IpAddr, SocketAddr};

use super::config::Codec;

/// The payload type we offer for `telephone-event/8000`.
pub const OFFERED_DTMF_PT: u8 = 101;

/// Our side of the audio stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSdp {
    /// The address the far end must send RTP to (the advertised IP).
    pub ip: IpAddr,
    /// Our RTP port.
    pub port: u16,
    /// `o=` session id; constant for the call.
    pub session_id: u64,
    /// `o=` version; bumped when what we offer changes.
    pub version: u64,
    /// Audio codecs, in preference order.
    pub codecs: Vec<Codec>,
    /// Payload type of telephone-event, when offered.
    pub dtmf_pt: Option<u8>,
}

impl LocalSdp {
    /// The SDP text (CRLF line ends, as RFC 4566 asks).
    pub fn render(&self) -> String {
        let net = if self.ip.is_ipv6() { "IP6" } else { "IP4" };
        let mut pts: Vec<String> = self.codecs.iter().map(|c| c.payload_type().to_string()).collect();
        if let Some(pt) = self.dtmf_pt {
            pts.push(pt.to_string());
        }
        let mut s = String::with_capacity(320);
        s.push_str("v=0\r\n");
        s.push_str(&format!("o=waihu {} {} IN {net} {}\r\n", self.session_id, self.version, self.ip));
        s.push_str("s=waihu\r\n");
        s.push_str(&format!("c=IN {net} {}\r\n", self.ip));
        s.push_str("t=0 0\r\n");
        s.push_str(&format!("m=audio {} RTP/AVP {}\r\n", self.port, pts.join(" ")));
        for c in &self.codecs {
            s.push_str(&format!("a=rtpmap:{} {}/8000\r\n", c.payload_type(), c.name()));
        }
        if let Some(pt) = self.dtmf_pt {
            s.push_str(&format!("a=rtpmap:{pt} telephone-event/8000\r\n"));
            s.push_str(&format!("a=fmtp:{pt} 0-15\r\n"));
        }
        s.push_str("a=ptime:20\r\n");
        s.push_str("a=sendrecv\r\n");
        s
    }
}

/// Which way media flows, from the far end's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both ways (the default).
    #[default]
    SendRecv,
    /// The far end only sends.
    SendOnly,
    /// The far end only receives.
    RecvOnly,
    /// On hold.
    Inactive,
}

/// What we use of the far end's SDP: where to send audio, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMedia {
    /// Where its RTP goes (`c=` and the audio `m=` port). `None` when the
    /// stream is put on hold with `c=0.0.0.0` (RFC 2543 style).
    pub addr: Option<SocketAddr>,
    /// The first codec of its `m=` line that we support.
    pub codec: Codec,
    /// Its telephone-event payload type, if it takes RFC 4733 digits.
    pub dtmf_pt: Option<u8>,
    /// The stream's direction.
    pub direction: Direction,
}

/// Why a far end's SDP cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    /// No `m=audio` line with a non-zero port.
    NoAudio,
    /// No connection address for the audio stream.
    NoConnection,
    /// None of its codecs is one we offered.
    NoCommonCodec,
}

impl std::fmt::Display for SdpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SdpError::NoAudio => "SDP has no usable audio stream",
            SdpError::NoConnection => "SDP has no connection address for audio",
            SdpError::NoCommonCodec => "SDP offers no codec we support (PCMA, PCMU)",
        })
    }
}

/// Parses the far end's SDP and picks the first of its audio codecs that is
/// in `supported`.
pub fn parse_remote(body: &[u8], supported: &[Codec]) -> Result<RemoteMedia, SdpError> {
    let text = String::from_utf8_lossy(body);
    let mut session_conn: Option<Option<IpAddr>> = None;
    let mut session_dir = Direction::SendRecv;
    let mut audio: Option<AudioSection> = None;
    let mut in_other_media = false;
    for raw in text.lines() {
        let line = raw.trim_end_matches('\r').trim();
        let Some((kind, value)) = line.split_once('=') else { continue };
        match kind {
            "m" => {
                in_other_media = true;
                if audio.is_none() {
                    if let Some(section) = AudioSection::from_m_line(value) {
                        audio = Some(section);
                        in_other_media = false;
                    }
                }
            }
            _ if in_other_media => {}
            "c" => {
                let conn = parse_connection(value);
                match audio.as_mut() {
                    Some(a) => a.conn = Some(conn),
                    None => session_conn = Some(conn),
                }
            }
            "a" => {
                let dir = parse_direction(value);
                match audio.as_mut() {
                    Some(a) => {
                        if let Some(d) = dir {
                            a.direction = Some(d);
                        } else if let Some(rest) = value.strip_prefix("rtpmap:") {
                            a.add_rtpmap(rest);
                        }
                    }
                    None => {
                        if let Some(d) = dir {
                            session_dir = d;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let audio = audio.ok_or(SdpError::NoAudio)?;
    let conn = audio.conn.or(session_conn).ok_or(SdpError::NoConnection)?;
    let codec = audio.payloads.iter().find_map(|&pt| audio.codec_of(pt).filter(|c| supported.contains(c))).ok_or(SdpError::NoCommonCodec)?;
    let dtmf_pt = audio.payloads.iter().copied().find(|pt| audio.rtpmaps.iter().any(|(p, name)| p == pt && name.eq_ignore_ascii_case("telephone-event/8000")));
    Ok(RemoteMedia {
        addr: conn.filter(|ip| !ip.is_unspecified()).map(|ip| SocketAddr::new(ip, audio.port)),
        codec,
        dtmf_pt,
        direction: audio.direction.unwrap_or(session_dir),
    })
}

struct AudioSection {
    port: u16,
    payloads: Vec<u8>,
    rtpmaps: Vec<(u8, String)>,
    conn: Option<Option<IpAddr>>,
    direction: Option<Direction>,
}

impl AudioSection {
    /// `audio <port>[/<n>] RTP/AVP <pt>...`; a rejected stream (port 0) or
    /// another media type gives `None`.
    fn from_m_line(value: &str) -> Option<AudioSection> {
        let mut parts = value.split_whitespace();
        if parts.next()? != "audio" {
            return None;
        }
        let port: u16 = parts.next()?.split('/').next()?.parse().ok()?;
        let proto = parts.next()?;
        if port == 0 || !proto.starts_with("RTP/") {
            return None;
        }
        let payloads = parts.filter_map(|p| p.parse::<u8>().ok()).filter(|pt| *pt < 128).collect();
        Some(AudioSection { port, payloads, rtpmaps: Vec::new(), conn: None, direction: None })
    }

    fn add_rtpmap(&mut self, rest: &str) {
        let mut parts = rest.split_whitespace();
        let (Some(pt), Some(name)) = (parts.next().and_then(|p| p.parse::<u8>().ok()), parts.next()) else { return };
        self.rtpmaps.push((pt, name.to_owned()));
    }

    fn codec_of(&self, pt: u8) -> Option<Codec> {
        if let Some((_, name)) = self.rtpmaps.iter().find(|(p, _)| *p == pt) {
            let encoding = name.split('/').next().unwrap_or("");
            let rate_ok = name.split('/').nth(1).is_none_or(|r| r == "8000");
            return match encoding.to_ascii_uppercase().as_str() {
                "PCMA" if rate_ok => Some(Codec::Pcma),
                "PCMU" if rate_ok => Some(Codec::Pcmu),
                _ => None,
            };
        }
        // Static payload types need no rtpmap (RFC 3551).
        match pt {
            8 => Some(Codec::Pcma),
            0 => Some(Codec::Pcmu),
            _ => None,
        }
    }
}

/// `IN IP4 1.2.3.4` (a multicast `/ttl` suffix is dropped). `Some(None)`
/// means a line was there but held no address we can use.
fn parse_connection(value: &str) -> Option<IpAddr> {
    let mut parts = value.split_whitespace();
    if parts.next()? != "IN" {
        return None;
    }
    let _net = parts.next()?;
    parts.next()?.split('/').next()?.parse().ok()
}

fn parse_direction(value: &str) -> Option<Direction> {
    match value.trim() {
        "sendrecv" => Some(Direction::SendRecv),
        "sendonly" => Some(Direction::SendOnly),
        "recvonly" => Some(Direction::RecvOnly),
        "inactive" => Some(Direction::Inactive),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BOTH: &[Codec] = &[Codec::Pcma, Codec::Pcmu];

    fn offer() -> LocalSdp {
        LocalSdp {
            ip: "192.0.2.10".parse().unwrap(),
            port: 20002,
            session_id: 42,
            version: 1,
            codecs: vec![Codec::Pcma, Codec::Pcmu],
            dtmf_pt: Some(OFFERED_DTMF_PT),
        }
    }

    #[test]
    fn the_offer_lists_g711_and_telephone_event_at_20ms() {
        let sdp = offer().render();
        assert!(sdp.contains("c=IN IP4 192.0.2.10\r\n"), "{sdp}");
        assert!(sdp.contains("m=audio 20002 RTP/AVP 8 0 101\r\n"), "{sdp}");
        for line in ["a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000", "a=ptime:20", "a=sendrecv"] {
            assert!(sdp.contains(line), "{line} missing from {sdp}");
        }
    }

    #[test]
    fn an_offer_parses_back_to_itself() {
        let r = parse_remote(offer().render().as_bytes(), BOTH).unwrap();
        assert_eq!(r.addr, Some("192.0.2.10:20002".parse().unwrap()));
        assert_eq!((r.codec, r.dtmf_pt, r.direction), (Codec::Pcma, Some(101), Direction::SendRecv));
    }

    #[test]
    fn sipp_style_answer_with_lf_and_media_level_connection() {
        let body = "v=0\no=user1 53655765 2353687637 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.9\nt=0 0\n\
                    m=audio 6000 RTP/AVP 0\nc=IN IP4 127.0.0.1\na=rtpmap:0 PCMU/8000\n";
        let r = parse_remote(body.as_bytes(), BOTH).unwrap();
        assert_eq!(r.addr, Some("127.0.0.1:6000".parse().unwrap()));
        assert_eq!((r.codec, r.dtmf_pt), (Codec::Pcmu, None));
    }

    #[test]
    fn the_answers_first_supported_codec_wins_and_video_is_skipped() {
        let body = "v=0\r\nc=IN IP4 10.1.1.1\r\nm=video 9000 RTP/AVP 96\r\na=sendonly\r\nm=audio 7000 RTP/AVP 18 0 8 96\r\n\
                    a=rtpmap:96 telephone-event/8000\r\na=recvonly\r\n";
        let r = parse_remote(body.as_bytes(), BOTH).unwrap();
        assert_eq!((r.codec, r.dtmf_pt, r.direction), (Codec::Pcmu, Some(96), Direction::RecvOnly));
        assert_eq!(parse_remote(body.as_bytes(), &[Codec::Pcma]).unwrap().codec, Codec::Pcma);
    }

    #[test]
    fn unusable_sdp_is_an_error_not_a_panic() {
        assert_eq!(parse_remote(b"", BOTH), Err(SdpError::NoAudio));
        assert_eq!(parse_remote(b"v=0\nm=audio 0 RTP/AVP 8\nc=IN IP4 1.2.3.4\n", BOTH), Err(SdpError::NoAudio));
        assert_eq!(parse_remote(b"v=0\nm=audio 4000 RTP/AVP 8\n", BOTH), Err(SdpError::NoConnection));
        assert_eq!(parse_remote(b"v=0\nc=IN IP4 1.2.3.4\nm=audio 4000 RTP/AVP 18\n", BOTH), Err(SdpError::NoCommonCodec));
        let hold = parse_remote(b"v=0\nc=IN IP4 0.0.0.0\nm=audio 4000 RTP/AVP 8\n", BOTH).unwrap();
        assert_eq!(hold.addr, None);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_remote(&bytes, BOTH);
        }

        #[test]
        fn parsing_sdp_like_text_never_panics(lines in proptest::collection::vec("[mcatvo]=[ -~]{0,40}", 0..20)) {
            let _ = parse_remote(lines.join("\r\n").as_bytes(), BOTH);
        }

        #[test]
        fn offers_round_trip(
            ip in prop_oneof![any::<[u8; 4]>().prop_map(IpAddr::from), any::<[u16; 8]>().prop_map(IpAddr::from)],
            port in 1u16..,
            pcmu_first in any::<bool>(),
            only_one in any::<bool>(),
            dtmf_pt in proptest::option::of(96u8..128),
            session_id in any::<u64>(),
        ) {
            let mut codecs = if pcmu_first { vec![Codec::Pcmu, Codec::Pcma] } else { vec![Codec::Pcma, Codec::Pcmu] };
            if only_one { codecs.truncate(1); }
            let local = LocalSdp { ip, port, session_id, version: 1, codecs: codecs.clone(), dtmf_pt };
            let r = parse_remote(local.render().as_bytes(), BOTH).unwrap();
            let expected_addr = if ip.is_unspecified() { None } else { Some(SocketAddr::new(ip, port)) };
            prop_assert_eq!(r.addr, expected_addr);
            prop_assert_eq!(r.codec, codecs[0]);
            prop_assert_eq!(r.dtmf_pt, dtmf_pt);
            prop_assert_eq!(r.direction, Direction::SendRecv);
        }
    }
}
