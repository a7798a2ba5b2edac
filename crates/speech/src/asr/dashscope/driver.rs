//! One Paraformer realtime session: the task per speech run on a kept
//! connection, partials and finals from the server's sentences, and what
//! happens when a task or the connection fails (see the module docs of
//! [`super`]).

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;
use tokio::time::{sleep_until, Instant};

use crate::asr::session::{session_channel, AsrEvent, AsrFeed, AsrSession, Feed, DEFAULT_QUEUE_PUSHES};
use crate::asr::{AsrError, Transcript};
use crate::dashscope::{closed_mid_task, task_id, DashScopeEndpoint, Failure, ServerEvent, Socket};
use crate::pcm::SAMPLE_RATE;

/// Audio per binary frame: 100 ms, as DashScope's examples send it (a frame
/// per 20 ms push would be five times the messages for nothing).
const FRAME_BYTES: usize = SAMPLE_RATE as usize / 10 * 2;

/// Most audio held while a task finishes (10 s); beyond it, dropped.
const BACKLOG_SAMPLES: usize = 10 * SAMPLE_RATE as usize;

/// A connection idle longer than this is not trusted with the next run: a
/// connection that died without a word (a NAT dropping it) would only show
/// by the run's `task-started` not coming, and the run's audio would wait.
const MAX_IDLE: Duration = Duration::from_secs(20);

/// How long `task-started` is awaited on a kept connection before it is
/// given up for a new one.
const KEPT_START_TIMEOUT: Duration = Duration::from_secs(1);

/// Opens a connection, starts the first task on it (so a bad key, model
/// or parameter is refused here), and leaves the session to a task of its
/// own: each `run-task` carries `payload`, and a finalise waits at most
/// `final_timeout` for `task-finished`.
pub(super) async fn start(endpoint: DashScopeEndpoint, payload: Value, final_timeout: Duration) -> Result<AsrSession, Failure> {
    let conn = Conn::open(&endpoint, &payload).await?;
    let (session, feed) = session_channel(DEFAULT_QUEUE_PUSHES);
    let driver = Driver {
        endpoint,
        payload,
        final_timeout,
        feed,
        conn: Some(conn),
        in_run: false,
        run_failed: false,
        finishing: None,
        carried: String::new(),
        last_partial: String::new(),
        backlog: VecDeque::new(),
        backlog_samples: 0,
        gone: false,
    };
    tokio::spawn(driver.run());
    Ok(session)
}

/// One recognition task on the connection.
struct Task {
    id: String,
    /// Audio gathered toward the next frame.
    pending: Vec<u8>,
    /// Sentences the server settled, joined.
    ended: String,
    /// The server's guess at the sentence under way.
    partial: String,
}

impl Task {
    fn new(id: String) -> Self {
        Task { id, pending: Vec::with_capacity(FRAME_BYTES * 2), ended: String::new(), partial: String::new() }
    }

    fn owns(&self, id: &str) -> bool {
        id.is_empty() || id == self.id
    }
}

/// An open connection and the task it carries, if any.
struct Conn {
    socket: Socket,
    task: Option<Task>,
    /// When a task last started or ended on it.
    since: Instant,
}

impl Conn {
    /// A new connection with a task started on it.
    async fn open(endpoint: &DashScopeEndpoint, payload: &Value) -> Result<Conn, Failure> {
        let mut socket = endpoint.connect().await?;
        let id = task_id();
        socket.run_task(&id, payload, None).await?;
        Ok(Conn { socket, task: Some(Task::new(id)), since: Instant::now() })
    }
}

/// The engine's side of one session.
struct Driver {
    endpoint: DashScopeEndpoint,
    payload: Value,
    /// Longest wait for `task-finished` after a finalise.
    final_timeout: Duration,
    feed: AsrFeed,
    conn: Option<Conn>,
    /// Audio came since the last finalise.
    in_run: bool,
    /// This run's task failed: its audio is dropped until its finalise.
    run_failed: bool,
    /// `finish-task` was sent: the deadline for `task-finished`.
    finishing: Option<Instant>,
    /// This run's text from a task the server ended on its own.
    carried: String,
    /// The last partial reported in this run, not to repeat it.
    last_partial: String,
    /// What the pipeline pushed while a task was finishing, in order.
    backlog: VecDeque<Feed>,
    backlog_samples: usize,
    /// The pipeline dropped its end of the session.
    gone: bool,
}

impl Driver {
    async fn run(mut self) {
        let mut input_open = true;
        while !self.gone {
            if self.finishing.is_none() {
                if let Some(item) = self.backlog.pop_front() {
                    if let Feed::Audio(pcm) = &item {
                        self.backlog_samples -= pcm.len();
                    }
                    self.handle(item).await;
                    continue;
                }
                if !input_open {
                    break;
                }
            }
            let deadline = self.finishing;
            tokio::select! {
                item = self.feed.next(), if input_open => match item {
                    // Dropped input: what was queued is handled, then the end.
                    None => input_open = false,
                    Some(item) if self.finishing.is_some() => self.hold(item),
                    Some(item) => self.handle(item).await,
                },
                ev = next_event(self.conn.as_mut()) => self.on_event(ev).await,
                () = until(deadline) => self.finish_timed_out().await,
            }
        }
        self.shutdown().await;
    }

    async fn handle(&mut self, item: Feed) {
        match item {
            Feed::Audio(pcm) => self.audio(&pcm).await,
            Feed::Finalise => self.finalise().await,
        }
    }

    /// Keeps what comes while a task finishes, for the next one.
    fn hold(&mut self, item: Feed) {
        if let Feed::Audio(pcm) = &item {
            if self.backlog_samples + pcm.len() > BACKLOG_SAMPLES {
                tracing::warn!("DashScope is slow to finish a task: dropping audio rather than holding more");
                return;
            }
            self.backlog_samples += pcm.len();
        }
        self.backlog.push_back(item);
    }

    async fn emit(&mut self, event: AsrEvent) {
        if !self.feed.emit(event).await {
            self.gone = true;
        }
    }

    fn task(&mut self) -> Option<&mut Task> {
        self.conn.as_mut().and_then(|c| c.task.as_mut())
    }

    /// The run's text so far: carried, settled, guessed.
    fn run_text(&self) -> String {
        let mut text = self.carried.clone();
        if let Some(task) = self.conn.as_ref().and_then(|c| c.task.as_ref()) {
            join_words(&mut text, &task.ended);
            join_words(&mut text, &task.partial);
        }
        text
    }

    async fn give_final(&mut self, text: String) {
        self.carried.clear();
        self.last_partial.clear();
        self.emit(AsrEvent::Final(Transcript { text: text.trim().to_owned(), confidence: None })).await;
    }

    async fn audio(&mut self, pcm: &[i16]) {
        let run_starts = !std::mem::replace(&mut self.in_run, true);
        if self.run_failed {
            return;
        }
        if run_starts && self.conn.as_ref().is_some_and(|c| c.since.elapsed() > MAX_IDLE) {
            tracing::debug!("the DashScope connection was idle too long to trust: connecting again");
            self.conn = None;
        }
        if self.task().is_none() {
            if let Err(f) = self.start_task().await {
                self.fail(f).await;
                return;
            }
        }
        let Some(task) = self.task() else { return };
        task.pending.extend(pcm.iter().flat_map(|s| s.to_le_bytes()));
        if task.pending.len() >= FRAME_BYTES {
            self.flush().await;
        }
    }

    /// Starts a task: on the kept connection if it still works, else on a
    /// new one.
    async fn start_task(&mut self) -> Result<(), Failure> {
        if let Some(mut conn) = self.conn.take() {
            let id = task_id();
            match conn.socket.run_task(&id, &self.payload, Some(KEPT_START_TIMEOUT)).await {
                Ok(()) => {
                    conn.task = Some(Task::new(id));
                    conn.since = Instant::now();
                    self.conn = Some(conn);
                    return Ok(());
                }
                // The server is there and said no: a new connection would hear the same.
                Err(f @ Failure::Task { .. }) => return Err(f),
                Err(Failure::Transport(e)) => tracing::debug!(error = ?e, "the kept DashScope connection is gone: connecting again"),
            }
        }
        self.conn = Some(Conn::open(&self.endpoint, &self.payload).await?);
        Ok(())
    }

    /// Sends the gathered audio.
    async fn flush(&mut self) {
        let Some(Conn { socket, task: Some(task), .. }) = self.conn.as_mut() else { return };
        if task.pending.is_empty() {
            return;
        }
        let bytes = std::mem::replace(&mut task.pending, Vec::with_capacity(FRAME_BYTES * 2));
        if let Err(f) = socket.send_audio(bytes).await {
            self.fail(f).await;
        }
    }

    async fn finalise(&mut self) {
        if !std::mem::take(&mut self.in_run) {
            // Nothing pushed since the last final: nothing to hear.
            return self.give_final(String::new()).await;
        }
        if std::mem::take(&mut self.run_failed) {
            // The error was reported; the words went with the connection.
            return self.give_final(String::new()).await;
        }
        if self.task().is_none() {
            // The server ended the run's task itself and nothing came since.
            let text = std::mem::take(&mut self.carried);
            return self.give_final(text).await;
        }
        // Set first: a failure from here on owes this finalise its final.
        self.finishing = Some(Instant::now() + self.final_timeout);
        self.flush().await;
        if let Some(Conn { socket, task: Some(task), .. }) = self.conn.as_mut() {
            if let Err(f) = socket.finish_task(&task.id).await {
                self.fail(f).await;
            }
        }
    }

    async fn on_event(&mut self, ev: Result<ServerEvent, Failure>) {
        // A task matters to the pipeline once audio went into it.
        let busy = self.task().is_some() && (self.in_run || self.finishing.is_some());
        match ev {
            Err(f) => self.fail(f).await,
            Ok(ServerEvent::Closed) if busy => self.fail(closed_mid_task()).await,
            Ok(ServerEvent::Failed { code, message }) if busy => self.fail(Failure::Task { code, message }).await,
            Ok(ServerEvent::Closed) => {
                tracing::debug!("DashScope closed an idle recognition connection");
                self.conn = None;
            }
            Ok(ServerEvent::Failed { code, message }) => {
                // The task started ahead of speech, or after it: no run lost.
                tracing::debug!(%code, %message, "DashScope failed an idle recognition task");
                self.conn = None;
            }
            Ok(ServerEvent::Result(id, output)) => {
                let finishing = self.finishing.is_some();
                let Some(task) = self.task().filter(|t| t.owns(&id)) else { return };
                let sentence = &output["sentence"];
                if sentence["heartbeat"].as_bool() == Some(true) {
                    return;
                }
                let text = sentence["text"].as_str().unwrap_or_default().trim();
                if sentence["sentence_end"].as_bool() == Some(true) {
                    join_words(&mut task.ended, text);
                    task.partial.clear();
                } else {
                    task.partial = text.to_owned();
                }
                // Once finishing, the final is on its way.
                let text = self.run_text();
                if !finishing && self.in_run && !text.is_empty() && text != self.last_partial {
                    self.last_partial.clone_from(&text);
                    self.emit(AsrEvent::Partial(text)).await;
                }
            }
            Ok(ServerEvent::Finished(id)) => {
                if !self.task().is_some_and(|t| t.owns(&id)) {
                    return;
                }
                let text = self.run_text();
                if let Some(conn) = self.conn.as_mut() {
                    conn.task = None;
                    conn.since = Instant::now();
                }
                if self.finishing.take().is_some() {
                    self.give_final(text).await;
                } else if self.in_run {
                    // Ended by the server mid-run: the run goes on in a new task.
                    self.carried = text;
                }
            }
            Ok(ServerEvent::Started(_) | ServerEvent::Audio(_)) => {}
        }
    }

    /// The connection failed: it is dropped, and the pipeline told when a
    /// run was under way.
    async fn fail(&mut self, f: Failure) {
        self.conn = None;
        self.carried.clear();
        self.last_partial.clear();
        let e = AsrError::from(f);
        if self.finishing.take().is_some() {
            tracing::warn!(error = %e, "DashScope recognition failed at the end of speech");
            self.emit(AsrEvent::Error(e)).await;
            self.give_final(String::new()).await;
        } else if self.in_run {
            tracing::warn!(error = %e, "DashScope recognition failed during speech");
            self.run_failed = true;
            self.emit(AsrEvent::Error(e)).await;
        } else {
            tracing::debug!(error = %e, "DashScope connection lost between speech runs");
        }
    }

    async fn finish_timed_out(&mut self) {
        self.finishing = None;
        let text = self.run_text();
        // In an unknown state: the next run starts on a new connection.
        self.conn = None;
        tracing::warn!(timeout_ms = self.final_timeout.as_millis() as u64, "DashScope gave no task-finished in time: the final is what was heard so far");
        self.give_final(text).await;
    }

    /// The pipeline is done: what was pushed is sent, the task finished
    /// (nobody waits for its final), the connection closed.
    async fn shutdown(mut self) {
        if let Some(mut conn) = self.conn.take() {
            if let Some(task) = &mut conn.task {
                let pending = std::mem::take(&mut task.pending);
                if pending.is_empty() || conn.socket.send_audio(pending).await.is_ok() {
                    let _ = conn.socket.finish_task(&task.id).await;
                }
            }
            conn.socket.close().await;
        }
    }
}

async fn next_event(conn: Option<&mut Conn>) -> Result<ServerEvent, Failure> {
    match conn {
        Some(c) => c.socket.next_event().await,
        None => std::future::pending().await,
    }
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Appends recognised words: Chinese runs on, Latin words get a space.
fn join_words(text: &mut String, more: &str) {
    let more = more.trim();
    if more.is_empty() {
        return;
    }
    if text.chars().last().is_some_and(|c| c.is_ascii_graphic()) && more.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        text.push(' ');
    }
    text.push_str(more);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_join_like_text() {
        let mut t = String::new();
        for piece in ["明天上午开会。", " 好的。", "Okay, I got it.", "Thanks", ""] {
            join_words(&mut t, piece);
        }
        assert_eq!(t, "明天上午开会。好的。Okay, I got it. Thanks");
    }
}
