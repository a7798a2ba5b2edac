//! Running the dialogue engine for the brain: one task per reply, its
//! events sent back tagged with the reply's id.

use futures_util::StreamExt;
use waihu_agent::{ChatRequest, LlmEvent};
use waihu_call::{ReplyEvent, ReplyId};

use super::Session;

impl Session {
    /// Starts reply `id` on `request`. The brain asks for one reply at a
    /// time; a reply still running is abandoned.
    pub(super) fn think(&mut self, id: ReplyId, request: ChatRequest) {
        if let Some((_, task)) = self.thinking.take() {
            task.abort();
        }
        let engine = self.engine.clone();
        let tx = self.replies.clone();
        let task = tokio::spawn(async move {
            // The session may be gone: then nobody wants the rest.
            let send = |event| tx.send((id, event)).is_ok();
            let mut stream = match engine.chat(request).await {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::error!(error = %e, "dialogue engine failed; ending the call politely");
                    send(ReplyEvent::Failed);
                    return;
                }
            };
            while let Some(event) = stream.next().await {
                let event = match event {
                    Ok(LlmEvent::Text(text)) => ReplyEvent::Text(text),
                    Ok(LlmEvent::HangUp { outcome }) => ReplyEvent::HangUp { outcome },
                    Err(e) => {
                        tracing::error!(error = %e, "dialogue engine failed mid-reply; ending the call politely");
                        send(ReplyEvent::Failed);
                        return;
                    }
                };
                if !send(event) {
                    return;
                }
            }
            send(ReplyEvent::Done);
        });
        self.thinking = Some((id, task));
    }

    /// Abandons reply `id` if it is still running.
    pub(super) fn stop_thinking(&mut self, id: ReplyId) {
        if let Some((_, task)) = self.thinking.take_if(|(running, _)| *running == id) {
            task.abort();
        }
    }
}
