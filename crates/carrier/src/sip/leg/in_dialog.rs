//! Requests the far end sends inside the call's dialog once it is
//! established (rsipstack hands them to the leg as dialog states): re-INVITE
//! and UPDATE (session refresh, hold, a new media address), INFO (DTMF
//! relay), OPTIONS, NOTIFY, MESSAGE, PUBLISH and REFER. The far end's BYE is
//! not here: it ends the dialog (`Terminated`), which the leg handles.

use rsipstack::dialog::dialog::DialogState;
use rsipstack::rsip::{Method, StatusCode};

use super::{LegTask, Step};
use crate::sip::dtmf_mode;
use crate::sip::sdp::parse_remote;
use crate::TextEvent;

impl LegTask {
    /// Answers one in-dialog request; any other state is ignored here.
    pub(super) async fn on_in_dialog_request(&mut self, state: DialogState) -> Step {
        match state {
            DialogState::Updated(_, req, handle) => {
                // A re-INVITE or UPDATE (session refresh, hold, new address):
                // take its offer, answer with what we send now.
                let mut body = None;
                if req.body.iter().any(|b| !b.is_ascii_whitespace()) {
                    if let Ok(remote) = parse_remote(&req.body, &self.trunk.cfg.codecs) {
                        if self.answered {
                            self.media.set_remote(&remote);
                        }
                        self.remote = Some(remote);
                    }
                    body = Some(self.current_sdp().into_bytes());
                } else if req.method == Method::Invite {
                    // A re-INVITE without an offer wants one in our 200 (RFC
                    // 3261 §14.2); its ACK carries the answer. An UPDATE
                    // without SDP (a bare session refresh) gets none.
                    body = Some(self.current_sdp().into_bytes());
                }
                let headers = body.as_ref().map(|_| vec![rsipstack::rsip::Header::ContentType("application/sdp".into())]);
                if let Err(e) = handle.respond(StatusCode::OK, headers, body).await {
                    tracing::debug!(call_id = %self.call_id, error = %e, "answering a re-INVITE/UPDATE failed");
                }
                Ok(())
            }
            DialogState::Info(_, req, handle) => {
                // SIP INFO digits (application/dtmf-relay) count like RFC 4733 ones.
                let _ = handle.reply(StatusCode::OK).await;
                match dtmf_relay_key(&req.body) {
                    Some(key) => self.on_key(key).await,
                    None => Ok(()),
                }
            }
            DialogState::Options(_, _, h) | DialogState::Notify(_, _, h) | DialogState::Message(_, _, h) | DialogState::Publish(_, _, h) => {
                let _ = h.reply(StatusCode::OK).await;
                Ok(())
            }
            DialogState::Refer(_, _, h) => {
                let _ = h.reply(StatusCode::Decline).await;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A key from the far end: in DTMF test mode, the callee's words.
    pub(super) async fn on_key(&mut self, key: char) -> Step {
        if !self.answered || !self.trunk.cfg.dtmf_test_mode {
            return Ok(());
        }
        let Some(text) = dtmf_mode::utterance(key) else { return Ok(()) };
        tracing::debug!(call_id = %self.call_id, %key, "DTMF test mode: digit heard as speech");
        self.emit_text(TextEvent::SpeechStarted).await?;
        self.emit_text(TextEvent::Heard(text.to_owned())).await
    }

    /// Our SDP for a re-INVITE/UPDATE: the codec in use only. Its `o=`
    /// version goes up whenever it differs from the SDP we sent last, and
    /// stays put when it does not (RFC 3264 §8): a refresh changes nothing.
    fn current_sdp(&mut self) -> String {
        let mut next = self.local_sdp.clone();
        if let Some(r) = &self.remote {
            next.codecs = vec![r.codec];
            next.dtmf_pt = r.dtmf_pt;
        }
        if next != self.local_sdp {
            next.version = self.local_sdp.version + 1;
            self.local_sdp = next;
        }
        self.local_sdp.render()
    }
}

/// The key in an `application/dtmf-relay` INFO body (`Signal=5`).
fn dtmf_relay_key(body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().find(|l| l.trim_start().to_ascii_lowercase().starts_with("signal="))?;
    let value = line.split_once('=')?.1.trim();
    let mut chars = value.chars();
    let key = chars.next()?;
    (chars.next().is_none() && (key.is_ascii_digit() || "*#ABCD".contains(key))).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_relay_bodies_give_their_key() {
        assert_eq!(dtmf_relay_key(b"Signal=5\r\nDuration=160\r\n"), Some('5'));
        assert_eq!(dtmf_relay_key(b"signal= #\n"), Some('#'));
        assert_eq!(dtmf_relay_key(b"Signal=55\n"), None);
        assert_eq!(dtmf_relay_key(b"\xff\xfe"), None);
        assert_eq!(dtmf_relay_key(b""), None);
    }
}
