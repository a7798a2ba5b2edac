//! `stream_chat_history`: the live transcript as Server-Sent Events.
//!
//! Byte format (what the seed's clients parse): a `: keep-alive` comment
//! line every 0.5 s until the call is answered (every 15 s after, to keep
//! proxies from closing a quiet call), each line as
//! `data: {"role": "...", "content": "..."}` plus a blank line, and a final
//! `[DONE]` — or `[TIMEOUT]` when the call was not answered — after which
//! the server closes the stream.
//!
//! Joining is race-free: subscribe to the bus first, then replay from the
//! store, then forward live lines whose `seq` is past the replay. A
//! subscriber that lags behind the bus catches up from the store.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::Response;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use waihu_core::{CallEvent, CallStatus, Role};
use waihu_wire::{sse_line_json, CallIdRequest, ErrorResponse};

use super::error::ApiError;
use super::extract::{valid_call_id, Authed, JsonBody};
use super::stepone::not_found;
use super::AppState;

const KEEPALIVE_BEFORE_ANSWER: Duration = Duration::from_millis(500);
const KEEPALIVE_CONNECTED: Duration = Duration::from_secs(15);

/// Live transcript as Server-Sent Events
///
/// `: keep-alive` every 0.5 s before the answer (every 15 s after), then
/// `data: {"role": ..., "content": ...}` per line, then `[DONE]` or
/// `[TIMEOUT]` (not answered), after which the server closes the stream.
#[utoipa::path(
    post,
    path = "/api/v1/callinfo/stream_chat_history",
    tag = "stepone",
    security(("ApiKey" = [])),
    request_body = CallIdRequest,
    responses(
        (status = 200, description = "The event stream: keep-alive comments and `data:` lines of JSON `{\"role\", \"content\"}` (Python separators, UTF-8)", content_type = "text/event-stream", body = String),
        (status = 400, description = "call_id is missing or invalid", body = ErrorResponse),
        (status = 401, description = "Missing or unknown API key", body = ErrorResponse),
        (status = 404, description = "No such call for this API key", body = ErrorResponse),
    )
)]
pub(crate) async fn stream_chat_history(State(st): State<AppState>, Authed(account): Authed, JsonBody(req): JsonBody<CallIdRequest>) -> Result<Response, ApiError> {
    let id = valid_call_id(req.call_id.as_deref())?;
    // Subscribe before reading the store so that nothing falls in between.
    let rx = st.bus.subscribe(&id);
    if st.store.call(&id, Some(&account.id)).await?.is_none() {
        drop(rx);
        st.bus.release(&id);
        return Err(not_found(&id));
    }
    let (tx, body_rx) = mpsc::channel::<Result<Bytes, Infallible>>(64);
    tokio::spawn(async move {
        st.metrics.sse_subscribers.inc();
        if let Err(e) = follow(&st, &id, rx, &tx).await {
            tracing::debug!(call_id = %id, reason = %e, "live stream closed");
        }
        st.metrics.sse_subscribers.dec();
        st.bus.release(&id);
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(ReceiverStream::new(body_rx)))
        .unwrap_or_else(|_| Response::new(Body::empty())))
}

fn data(role: Role, content: &str) -> Bytes {
    Bytes::from(format!("data: {}\n\n", sse_line_json(role.as_str(), content)))
}

fn terminal(status: CallStatus) -> Bytes {
    data(Role::System, if status == CallStatus::NoAnswer { "[TIMEOUT]" } else { "[DONE]" })
}

type Out = mpsc::Sender<Result<Bytes, Infallible>>;

async fn send(tx: &Out, b: Bytes) -> Result<(), &'static str> {
    tx.send(Ok(b)).await.map_err(|_| "client went away")
}

/// Sends stored lines after `last`; returns the new last seq.
async fn catch_up(st: &AppState, id: &str, tx: &Out, mut last: u32) -> Result<u32, &'static str> {
    let lines = st.store.transcript(id).await.map_err(|_| "store unavailable")?;
    let from = last;
    for l in lines.into_iter().filter(|l| l.seq > from) {
        send(tx, data(l.role, &l.content)).await?;
        last = l.seq;
    }
    Ok(last)
}

async fn follow(st: &AppState, id: &str, mut rx: broadcast::Receiver<CallEvent>, tx: &Out) -> Result<(), &'static str> {
    let call = st.store.call(id, None).await.map_err(|_| "store unavailable")?.ok_or("call vanished")?;
    let mut last = catch_up(st, id, tx, 0).await?;
    if call.status.is_final() {
        return send(tx, terminal(call.status)).await;
    }
    let mut connected = call.status == CallStatus::InProgress;
    // Before the answer the first keep-alive goes out at once: the client
    // sees the stream is open while the phone rings.
    let mut keepalive = tokio::time::interval(if connected { KEEPALIVE_CONNECTED } else { KEEPALIVE_BEFORE_ANSWER });
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if connected {
        keepalive.tick().await;
    }
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(CallEvent::Line { seq, utterance }) if seq > last => {
                    // A gap means a line was published before we subscribed: fill it from the store.
                    if seq > last + 1 {
                        last = catch_up(st, id, tx, last).await?;
                    }
                    if seq > last {
                        send(tx, data(utterance.role, &utterance.content)).await?;
                        last = seq;
                    }
                }
                Ok(CallEvent::Line { .. }) => {}
                Ok(CallEvent::Status { status: CallStatus::InProgress }) if !connected => {
                    connected = true;
                    keepalive = tokio::time::interval(KEEPALIVE_CONNECTED);
                    keepalive.tick().await;
                }
                Ok(CallEvent::Status { .. }) => {}
                Ok(CallEvent::Ended { status, .. }) => {
                    catch_up(st, id, tx, last).await?;
                    return send(tx, terminal(status)).await;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    last = catch_up(st, id, tx, last).await?;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    // The bus dropped the channel (the call ended as we joined): the store knows.
                    last = catch_up(st, id, tx, last).await?;
                    let call = st.store.call(id, None).await.map_err(|_| "store unavailable")?.ok_or("call vanished")?;
                    if call.status.is_final() {
                        return send(tx, terminal(call.status)).await;
                    }
                    rx = st.bus.subscribe(id);
                }
            },
            _ = keepalive.tick() => send(tx, Bytes::from_static(b": keep-alive\n")).await?,
            _ = tx.closed() => return Err("client went away"),
        }
    }
}
