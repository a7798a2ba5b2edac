//! The SSE decoder fed the same bytes cut every possible way.

use waihu_client::sse::{is_done, is_terminal, is_timeout, SseDecoder, StreamEvent, StreamItem};
use waihu_client::{ClientError, StreamLine};

/// Keep-alives, LF, CRLF and lone CR line ends, Chinese text, a payload
/// split over two data lines, an `event:` field to skip, no final newline.
const SAMPLE: &str = concat!(
    ": keep-alive\n\n",
    ": keep-alive\r\n\r\n",
    "data: {\"role\": \"assistant\", \"content\": \"喂,您好,请问是张总吗?\"}\r\n\r\n",
    "event: message\n",
    "data:{\"role\": \"user\", \"content\": \"对,是我。\"}\r\r",
    "data: {\"role\": \"assistant\",\n",
    "data: \"content\": \"好的张总。\"}\n\n",
    "data: {\"role\": \"system\", \"content\": \"[DONE]\"}",
);

fn decode_in(chunks: &[&[u8]]) -> Vec<Result<StreamEvent, ClientError>> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for c in chunks {
        out.extend(d.push(c));
    }
    out.extend(d.finish());
    out
}

fn summary(events: Vec<Result<StreamEvent, ClientError>>) -> Vec<String> {
    events
        .into_iter()
        .map(|e| match e {
            Ok(StreamEvent {
                item: StreamItem::KeepAlive,
                raw,
            }) => format!("keep-alive {raw}"),
            Ok(StreamEvent {
                item: StreamItem::Line(l),
                ..
            }) => format!("{}: {}", l.role, l.content),
            Err(e) => format!("error {e}"),
        })
        .collect()
}

fn expected() -> Vec<String> {
    [
        "keep-alive : keep-alive",
        "keep-alive : keep-alive",
        "assistant: 喂,您好,请问是张总吗?",
        "user: 对,是我。",
        "assistant: 好的张总。",
        "system: [DONE]",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn whole_input_decodes() {
    assert_eq!(summary(decode_in(&[SAMPLE.as_bytes()])), expected());
}

#[test]
fn every_two_way_split_decodes_the_same() {
    let bytes = SAMPLE.as_bytes();
    for cut in 0..=bytes.len() {
        let got = summary(decode_in(&[&bytes[..cut], &bytes[cut..]]));
        assert_eq!(got, expected(), "cut at byte {cut}");
    }
}

#[test]
fn byte_by_byte_decodes_the_same() {
    let chunks: Vec<&[u8]> = SAMPLE.as_bytes().chunks(1).collect();
    assert_eq!(summary(decode_in(&chunks)), expected());
}

#[test]
fn raw_lines_are_kept_for_json_mode() {
    let events: Vec<StreamEvent> = decode_in(&[SAMPLE.as_bytes()])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        events[2].raw,
        "data: {\"role\": \"assistant\", \"content\": \"喂,您好,请问是张总吗?\"}"
    );
    assert_eq!(
        events[4].raw,
        "data: {\"role\": \"assistant\",\ndata: \"content\": \"好的张总。\"}"
    );
}

#[test]
fn done_and_timeout_are_terminal() {
    let line = |role: &str, content: &str| StreamLine {
        role: role.into(),
        content: content.into(),
    };
    assert!(is_done(&line("system", "[DONE]")));
    assert!(is_timeout(&line("system", "[TIMEOUT]")));
    assert!(
        !is_done(&line("assistant", "[DONE]")),
        "only the system says it"
    );
    assert!(is_terminal(&StreamItem::Line(line("system", "[TIMEOUT]"))));
    assert!(!is_terminal(&StreamItem::KeepAlive));
    assert!(!is_terminal(&StreamItem::Line(line("user", "hi"))));
}

#[test]
fn broken_payloads_are_errors_on_one_line() {
    for bad in [
        "data: {\"role\": 1, \"content\": \"x\"}\n\n",
        "data: [DONE]\n\n",
        "data: {\"role\": \"user\"\n\n",
        "data: {\"role\": \"user\", \"content\": \"cut",
    ] {
        let got = decode_in(&[bad.as_bytes()]);
        assert_eq!(got.len(), 1, "{bad:?}: {got:?}");
        let e = got[0].as_ref().unwrap_err();
        assert!(matches!(e, ClientError::InvalidJson { .. }), "{e:?}");
        assert!(!e.to_string().contains('\n'));
    }
    // Invalid UTF-8 as bytes.
    let got = decode_in(&[b"data: \xff\xfe\n"]);
    assert!(
        matches!(&got[..], [Err(ClientError::InvalidJson { .. })]),
        "{got:?}"
    );
}

#[test]
fn unbounded_lines_are_refused() {
    let mut d = SseDecoder::new();
    let big = vec![b'a'; waihu_client::sse::MAX_LINE_BYTES + 1];
    let got = d.push(&big);
    assert!(matches!(&got[..], [Err(ClientError::InvalidJson { .. })]));
}

#[test]
fn empty_data_and_other_fields_are_skipped() {
    let got = summary(decode_in(&[
        b"data:\nid: 7\nretry: 100\n\ndata: {\"role\":\"user\",\"content\":\"a\"}\n",
    ]));
    assert_eq!(got, ["user: a"]);
}
