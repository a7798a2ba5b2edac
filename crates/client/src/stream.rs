//! The live stream (`stream_chat_history`): the request, then the body fed
//! chunk by chunk through the SSE decoder.

use std::collections::VecDeque;

use futures_util::Stream;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response};
use waihu_wire::CallIdRequest;

use crate::answer::{check_success, invalid, parse_json_answer};
use crate::client::{Auth, Client};
use crate::error::{innermost_cause, ClientError};
use crate::ids::validate_call_id;
use crate::sse::{is_terminal, SseDecoder, StreamEvent, StreamItem};

impl Client {
    /// `POST /api/v1/callinfo/stream_chat_history`: the live conversation.
    /// Yields keep-alives and lines; ends after a `[DONE]` or `[TIMEOUT]`
    /// system line, when the server closes, or after the first error
    /// (connection and HTTP errors come as the first item).
    pub fn stream(
        &self,
        call_id: &str,
    ) -> impl Stream<Item = Result<StreamItem, ClientError>> + Send + Unpin + 'static {
        use futures_util::StreamExt;
        self.stream_events(call_id).map(|r| r.map(|e| e.item))
    }

    /// [`stream`](Self::stream) with each item's raw line, for `--json`.
    pub fn stream_events(
        &self,
        call_id: &str,
    ) -> impl Stream<Item = Result<StreamEvent, ClientError>> + Send + Unpin + 'static {
        let start = StreamState::Connect {
            client: self.clone(),
            call_id: call_id.to_string(),
        };
        // Boxed so that callers can use `.next()` without pinning it first.
        Box::pin(futures_util::stream::unfold(start, next_stream_event))
    }

    /// Opens the event stream and checks the answer's head.
    async fn open_stream(&self, call_id: &str) -> Result<Response, ClientError> {
        const EP: &str = "stream_chat_history";
        validate_call_id(call_id)?;
        let body = CallIdRequest {
            call_id: Some(call_id.to_string()),
        };
        let rb = self
            .request_accepting(
                Method::POST,
                self.stepone_url(EP),
                Auth::Required,
                "text/event-stream",
            )?
            .json(&body);
        // No total timeout: the stream lasts as long as the call. The
        // client's read timeout bounds each silence instead.
        let resp = self.send_checked(rb, EP, self.stream_idle_timeout).await?;
        let is_json = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
        if is_json {
            // Some servers refuse with a 200 JSON body instead of a stream.
            let raw = self.read_body(resp, EP).await?;
            check_success(&parse_json_answer(&raw, EP)?)?;
            return Err(invalid(EP, "expected an event stream, got a JSON answer"));
        }
        Ok(resp)
    }
}

/// Where the live stream is.
enum StreamState {
    Connect { client: Client, call_id: String },
    Open(OpenStream),
    Done,
}

/// An open event stream: the answer being read, its decoder, and the events
/// decoded but not handed out yet.
struct OpenStream {
    client: Client,
    resp: Response,
    decoder: SseDecoder,
    queue: VecDeque<Result<StreamEvent, ClientError>>,
    /// The body ended or broke off: only the queue is left.
    ended: bool,
}

impl OpenStream {
    /// Reads the next chunk of the body and queues what it completes.
    async fn read_more(&mut self) {
        match self.resp.chunk().await {
            Ok(Some(bytes)) => self.queue.extend(self.decoder.push(&bytes)),
            Ok(None) => {
                self.queue.extend(self.decoder.finish());
                self.ended = true;
            }
            Err(e) => {
                let err = if e.is_timeout() {
                    ClientError::Timeout {
                        what: "the live stream (nothing received, not even a keep-alive)".into(),
                        after: self.client.stream_idle_timeout,
                    }
                } else {
                    ClientError::Request {
                        endpoint: "stream_chat_history".into(),
                        reason: format!("the stream broke off ({})", innermost_cause(&e)),
                    }
                };
                self.queue.push_back(Err(err));
                self.ended = true;
            }
        }
    }
}

/// One step of the live stream: the next item and the state after it.
async fn next_stream_event(
    mut state: StreamState,
) -> Option<(Result<StreamEvent, ClientError>, StreamState)> {
    loop {
        state = match state {
            StreamState::Done => return None,
            StreamState::Connect { client, call_id } => match client.open_stream(&call_id).await {
                Ok(resp) => StreamState::Open(OpenStream {
                    client,
                    resp,
                    decoder: SseDecoder::new(),
                    queue: VecDeque::new(),
                    ended: false,
                }),
                Err(e) => return Some((Err(e), StreamState::Done)),
            },
            StreamState::Open(mut open) => {
                if let Some(item) = open.queue.pop_front() {
                    // The stream ends after an error (the contract is
                    // broken) and after [DONE]/[TIMEOUT], even if the server
                    // keeps the connection open.
                    let stop = match &item {
                        Err(_) => true,
                        Ok(ev) => is_terminal(&ev.item),
                    };
                    let next = if stop { StreamState::Done } else { StreamState::Open(open) };
                    return Some((item, next));
                }
                if open.ended {
                    return None;
                }
                open.read_more().await;
                StreamState::Open(open)
            }
        };
    }
}
