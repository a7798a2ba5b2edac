//! Alibaba Cloud DashScope Paraformer realtime recognition over the
//! WebSocket inference API (see [`crate::dashscope`] for the task protocol).
//!
//! A task is `run-task` with `task: "asr"`, `function: "recognition"`, the
//! model and `format: "pcm", sample_rate: 8000`, then the audio as binary
//! frames of 16-bit little-endian samples (about 100 ms each), then
//! `finish-task`. The server answers with `result-generated` events whose
//! `output.sentence` holds `text` and `sentence_end`: a sentence not yet
//! ended is a guess that the next event replaces, an ended one is settled.
//! After `finish-task` it settles what is left and sends `task-finished`.
//!
//! # One task per speech run
//!
//! The pipeline pushes audio only while the callee speaks (the VAD's runs,
//! with a pre-roll) and asks for a final at the end of each run. So each run
//! is one task: its first audio starts the task, the run's
//! [`finalise`](super::AsrInput::finalise) sends `finish-task`, and
//! `task-finished` gives the run's [`AsrEvent::Final`]: every sentence the
//! server settled in the task, as one text. Each finalise is answered by
//! exactly one final, empty when nothing was pushed or heard; while the run
//! goes on, [`AsrEvent::Partial`]s give the run's text so far (the settled
//! sentences and the current guess). Letting the pipeline's VAD decide when
//! speech ended, rather than the server's own sentence breaks, keeps one
//! idea of a turn in the call, and `finish-task` gets the last words settled
//! at once instead of after the server's silence threshold.
//!
//! A task ends and the connection stays, so the next run's `run-task` goes
//! over a connection already open (DashScope allows reuse after
//! `task-finished`); [`StreamingAsr::start`] opens it and starts the first
//! task, so a bad key, model or parameter is refused there. A connection the
//! server dropped between runs, or one idle for over 20 s, is replaced at
//! the next run. While a task starts, the run's audio waits in the session's
//! queue (a second of it; more is dropped and counted, as always); audio
//! that comes while a task is finishing waits (up to 10 s) and goes to the
//! next task.
//!
//! # Failures
//!
//! A run whose task fails (`task-failed`, a dropped connection, a write that
//! does not go through) is reported as one [`AsrEvent::Error`]; its further
//! audio is dropped and its finalise answered with an empty final, and the
//! next run starts over on a new connection. A `task-finished` that does not
//! come within `final_timeout` of `finish-task` gives the final with what was
//! heard so far.
//!
//! `paraformer-realtime-8k-v2` is made for telephone audio;
//! `paraformer-realtime-v2` takes any sample rate, so it gets the 8 kHz audio
//! as it is too (upsampling adds nothing to hear), and also takes
//! `language_hints`, which the 8 kHz model does not.

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::time::{sleep_until, Instant};

use super::session::{session_channel, AsrEvent, AsrFeed, AsrSession, Feed, DEFAULT_QUEUE_PUSHES};
use super::{AsrError, StreamingAsr, Transcript};
use crate::dashscope::{closed_mid_task, task_id, DashScopeEndpoint, Failure, KeyError, ServerEvent, Socket};
use crate::pcm::SAMPLE_RATE;

/// The model for telephone audio.
pub const DEFAULT_MODEL: &str = "paraformer-realtime-8k-v2";

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

/// Settings of the Paraformer realtime engine.
#[derive(Debug, Clone)]
pub struct DashScopeAsrConfig {
    /// Where, and the key.
    pub endpoint: DashScopeEndpoint,
    /// `paraformer-realtime-8k-v2` (telephone audio, Chinese) or
    /// `paraformer-realtime-v2` (any rate; more languages).
    pub model: String,
    /// Languages to expect (`zh`, `en`, `yue`, …), sent as `language_hints`
    /// to the models that take them (not the 8 kHz ones).
    pub language_hints: Vec<String>,
    /// A hot-word list made in the DashScope console (names, products).
    pub vocabulary_id: Option<String>,
    /// The server's own sentence break, in ms of silence (200-6000); `None`
    /// leaves the server's default. Runs are still cut by the pipeline's VAD.
    pub max_sentence_silence_ms: Option<u32>,
    /// Longest wait for `task-finished` after a finalise.
    pub final_timeout: Duration,
}

impl DashScopeAsrConfig {
    /// The 8 kHz model at `endpoint`, expecting Mandarin, with a 3 s final
    /// timeout.
    pub fn new(endpoint: DashScopeEndpoint) -> Self {
        DashScopeAsrConfig {
            endpoint,
            model: DEFAULT_MODEL.into(),
            language_hints: vec!["zh".into()],
            vocabulary_id: None,
            max_sentence_silence_ms: None,
            final_timeout: Duration::from_secs(3),
        }
    }

    /// The public endpoint with the key from `$DASHSCOPE_API_KEY`.
    pub fn from_env() -> Result<Self, KeyError> {
        Ok(Self::new(DashScopeEndpoint::from_env()?))
    }
}

/// Paraformer realtime as a [`StreamingAsr`].
#[derive(Debug, Clone)]
pub struct DashScopeAsr {
    config: DashScopeAsrConfig,
}

impl DashScopeAsr {
    /// Checks the settings; connecting happens per session.
    pub fn new(config: DashScopeAsrConfig) -> Result<Self, AsrError> {
        config.endpoint.check()?;
        if config.model.trim().is_empty() {
            return Err(AsrError::NotConfigured("DashScope recognition needs a model".into()));
        }
        if config.max_sentence_silence_ms.is_some_and(|ms| !(200..=6000).contains(&ms)) {
            return Err(AsrError::NotConfigured("max_sentence_silence_ms must be between 200 and 6000".into()));
        }
        if config.final_timeout.is_zero() {
            return Err(AsrError::NotConfigured("final_timeout must not be zero".into()));
        }
        Ok(DashScopeAsr { config })
    }

    /// The `payload` of each `run-task`.
    pub fn run_task_payload(&self) -> Value {
        let c = &self.config;
        let mut parameters = json!({"format": "pcm", "sample_rate": SAMPLE_RATE});
        let hints: Vec<&str> = c.language_hints.iter().map(|h| h.trim()).filter(|h| !h.is_empty()).collect();
        if !hints.is_empty() && !c.model.contains("8k") {
            parameters["language_hints"] = json!(hints);
        }
        if let Some(id) = c.vocabulary_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) {
            parameters["vocabulary_id"] = json!(id);
        }
        if let Some(ms) = c.max_sentence_silence_ms {
            parameters["max_sentence_silence"] = json!(ms);
        }
        json!({
            "task_group": "audio", "task": "asr", "function": "recognition",
            "model": c.model.trim(), "parameters": parameters, "input": {}
        })
    }
}

#[async_trait]
impl StreamingAsr for DashScopeAsr {
    fn name(&self) -> &str {
        "dashscope"
    }

    async fn start(&self) -> Result<AsrSession, AsrError> {
        let payload = self.run_task_payload();
        let first = async {
            let mut socket = self.config.endpoint.connect().await?;
            let id = task_id();
            socket.run_task(&id, &payload, None).await?;
            Ok::<_, Failure>(Conn { socket, task: Some(Task::new(id)), since: Instant::now() })
        };
        let conn = match first.await {
            Ok(conn) => conn,
            Err(f) => {
                let e = AsrError::from(f);
                tracing::warn!(model = %self.config.model, error = %e, "DashScope recognition could not start");
                return Err(e);
            }
        };
        tracing::debug!(model = %self.config.model, "DashScope recognition session started");
        let (session, feed) = session_channel(DEFAULT_QUEUE_PUSHES);
        let driver = Driver {
            config: self.config.clone(),
            payload,
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

/// The engine's side of one session.
struct Driver {
    config: DashScopeAsrConfig,
    payload: Value,
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
        let mut socket = self.config.endpoint.connect().await?;
        let id = task_id();
        socket.run_task(&id, &self.payload, None).await?;
        self.conn = Some(Conn { socket, task: Some(Task::new(id)), since: Instant::now() });
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
        self.finishing = Some(Instant::now() + self.config.final_timeout);
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
        tracing::warn!(timeout_ms = self.config.final_timeout.as_millis() as u64, "DashScope gave no task-finished in time: the final is what was heard so far");
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

    fn asr(model: &str) -> DashScopeAsr {
        let mut c = DashScopeAsrConfig::new(DashScopeEndpoint::new("sk-test-0123456789abcdef"));
        c.model = model.into();
        c.language_hints = vec!["zh".into(), "en".into()];
        DashScopeAsr::new(c).unwrap()
    }

    #[test]
    fn the_8k_model_gets_no_language_hints() {
        let p = asr("paraformer-realtime-8k-v2").run_task_payload();
        assert_eq!(p["parameters"], json!({"format": "pcm", "sample_rate": 8000}));
        assert_eq!((p["task_group"].as_str(), p["task"].as_str(), p["function"].as_str()), (Some("audio"), Some("asr"), Some("recognition")));
        let p = asr("paraformer-realtime-v2").run_task_payload();
        assert_eq!(p["parameters"]["language_hints"], json!(["zh", "en"]));
        assert_eq!(p["parameters"]["sample_rate"], 8000, "any rate is fine for v2: telephone audio as it is");
    }

    #[test]
    fn settings_are_checked() {
        let mut c = DashScopeAsrConfig::new(DashScopeEndpoint::new("sk-test-0123456789abcdef"));
        c.max_sentence_silence_ms = Some(100);
        assert!(matches!(DashScopeAsr::new(c.clone()), Err(AsrError::NotConfigured(_))));
        c.max_sentence_silence_ms = Some(800);
        assert!(DashScopeAsr::new(c.clone()).is_ok());
        c.endpoint.api_key = None;
        assert!(matches!(DashScopeAsr::new(c), Err(AsrError::NotConfigured(m)) if m.contains("DASHSCOPE_API_KEY")));
    }

    #[test]
    fn sentences_join_like_text() {
        let mut t = String::new();
        for piece in ["明天上午开会。", " 好的。", "Okay, I got it.", "Thanks", ""] {
            join_words(&mut t, piece);
        }
        assert_eq!(t, "明天上午开会。好的。Okay, I got it. Thanks");
    }
}
