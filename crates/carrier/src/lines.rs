//! What every text leg does with the AI's lines, whatever plays them.
//!
//! [`LinePlayout`] keeps the text level of the leg contract with no IO and
//! no clock: lines sent in parts are gathered until their last part, lines
//! are played one at a time in the order sent, every line is answered by
//! exactly one `SayDone`, a line before the answer is answered at once as
//! unheard, `StopSaying` stops the line playing and drops those queued
//! then, and a leg that ends answers every line it still owes. How a line
//! sounds, and how much of it was played when it stopped, is the leg's: the
//! simulator times it at speaking pace, the SIP leg plays placeholder audio
//! and counts the samples sent.
//!
//! The leg feeds it commands and "the line playing ended after so many
//! characters", and carries out its [`LineOut`]s in order.

use std::collections::VecDeque;

use crate::{TextCommand, TextEvent};

/// A line of the AI's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) id: u64,
    pub(crate) text: String,
    pub(crate) chars: usize,
}

/// What the leg must do.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LineOut {
    /// Start playing this line (it has characters); report its end with
    /// [`LinePlayout::finished`].
    Play(Line),
    /// Stop the line playing; report how much went out with
    /// [`LinePlayout::finished`].
    Stop,
    /// Send this to the session.
    Event(TextEvent),
}

#[derive(Debug, Default)]
pub(crate) struct LinePlayout {
    answered: bool,
    /// A line arriving in parts: its id and its text so far.
    open: Option<(u64, String)>,
    queue: VecDeque<Line>,
    playing: Option<Line>,
    /// A stop was asked: this many of the queued lines go unplayed once
    /// the line playing reports its end.
    stopping: Option<usize>,
    out: VecDeque<LineOut>,
}

impl LinePlayout {
    /// The call was answered: lines are heard from now on.
    pub(crate) fn answered(&mut self) {
        self.answered = true;
    }

    /// The line playing, if any.
    pub(crate) fn playing(&self) -> Option<&Line> {
        self.playing.as_ref()
    }

    /// Nothing playing and nothing queued.
    pub(crate) fn is_quiet(&self) -> bool {
        self.playing.is_none() && self.queue.is_empty()
    }

    /// The next thing to do, if any. Drain after every call.
    pub(crate) fn poll(&mut self) -> Option<LineOut> {
        self.out.pop_front()
    }

    /// Takes a line command (`Say`, `SayPart`, `StopSaying`); returns false
    /// for the others (releasing the call is the leg's).
    pub(crate) fn command(&mut self, command: TextCommand) -> bool {
        match command {
            TextCommand::Say { id, text } => self.say(id, text),
            TextCommand::SayPart { id, text, last } => {
                match &mut self.open {
                    Some((open, so_far)) if *open == id => so_far.push_str(&text),
                    // A new line while another is open: the open one was
                    // never completed by the dialogue; it is answered unplayed.
                    _ => {
                        if let Some((abandoned, _)) = self.open.replace((id, text)) {
                            self.done(abandoned, 0, true);
                        }
                    }
                }
                if last {
                    if let Some((id, text)) = self.open.take() {
                        self.say(id, text);
                    }
                }
            }
            TextCommand::StopSaying => self.stop(),
            TextCommand::Cancel | TextCommand::HangUp => return false,
        }
        true
    }

    /// The line playing ended, whole or stopped, after `played_chars`.
    pub(crate) fn finished(&mut self, played_chars: usize) {
        let Some(line) = self.playing.take() else { return };
        let played = played_chars.min(line.chars);
        self.done(line.id, played, played < line.chars);
        if let Some(drop) = self.stopping.take() {
            for line in self.queue.drain(..drop.min(self.queue.len())).collect::<Vec<_>>() {
                self.done(line.id, 0, true);
            }
        }
        self.start_next();
    }

    /// The leg ends: the line playing is answered with `played_chars`, and
    /// every other line owed is answered unplayed.
    pub(crate) fn end(&mut self, played_chars: usize) {
        if let Some(line) = self.playing.take() {
            let played = played_chars.min(line.chars);
            self.done(line.id, played, played < line.chars);
        }
        for line in std::mem::take(&mut self.queue) {
            self.done(line.id, 0, true);
        }
        if let Some((id, _)) = self.open.take() {
            self.done(id, 0, true);
        }
        self.stopping = None;
    }

    fn say(&mut self, id: u64, text: String) {
        if !self.answered {
            // No media before the answer: nothing of it can be heard.
            return self.done(id, 0, true);
        }
        let chars = text.chars().count();
        self.queue.push_back(Line { id, text, chars });
        if self.playing.is_none() {
            self.start_next();
        }
    }

    fn stop(&mut self) {
        if self.playing.is_none() {
            for line in std::mem::take(&mut self.queue) {
                self.done(line.id, 0, true);
            }
        } else if self.stopping.is_none() {
            self.stopping = Some(self.queue.len());
            self.out.push_back(LineOut::Stop);
        }
    }

    fn start_next(&mut self) {
        while let Some(line) = self.queue.pop_front() {
            if line.chars == 0 {
                self.done(line.id, 0, false);
                continue;
            }
            self.out.push_back(LineOut::Play(line.clone()));
            self.playing = Some(line);
            return;
        }
    }

    fn done(&mut self, id: u64, played_chars: usize, stopped: bool) {
        self.out.push_back(LineOut::Event(TextEvent::SayDone { id, played_chars, stopped }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(p: &mut LinePlayout) -> Vec<LineOut> {
        std::iter::from_fn(|| p.poll()).collect()
    }

    fn say(id: u64, text: &str) -> TextCommand {
        TextCommand::Say { id, text: text.into() }
    }

    fn done(id: u64, played_chars: usize, stopped: bool) -> LineOut {
        LineOut::Event(TextEvent::SayDone { id, played_chars, stopped })
    }

    fn play(id: u64, text: &str) -> LineOut {
        LineOut::Play(Line { id, text: text.into(), chars: text.chars().count() })
    }

    #[test]
    fn a_line_before_the_answer_is_answered_at_once_unheard() {
        let mut p = LinePlayout::default();
        p.command(say(1, "喂，您好。"));
        assert_eq!(drain(&mut p), [done(1, 0, true)]);
    }

    #[test]
    fn lines_play_one_after_another_and_each_is_answered_once() {
        let mut p = LinePlayout::default();
        p.answered();
        p.command(say(1, "您好。"));
        p.command(say(2, ""));
        p.command(say(3, "再见。"));
        assert_eq!(drain(&mut p), [play(1, "您好。")]);
        p.finished(3);
        assert_eq!(drain(&mut p), [done(1, 3, false), done(2, 0, false), play(3, "再见。")]);
        p.finished(99);
        assert_eq!(drain(&mut p), [done(3, 3, false)]);
        assert!(p.is_quiet());
    }

    #[test]
    fn parts_make_one_line_at_the_last_one_and_an_abandoned_one_is_answered() {
        let mut p = LinePlayout::default();
        p.answered();
        p.command(TextCommand::SayPart { id: 1, text: "您好，".into(), last: false });
        assert!(drain(&mut p).is_empty());
        p.command(TextCommand::SayPart { id: 1, text: "我是助理。".into(), last: true });
        assert_eq!(drain(&mut p), [play(1, "您好，我是助理。")]);
        p.command(TextCommand::SayPart { id: 2, text: "半句".into(), last: false });
        p.command(TextCommand::SayPart { id: 3, text: "整句。".into(), last: true });
        assert_eq!(drain(&mut p), [done(2, 0, true)]);
        p.command(TextCommand::SayPart { id: 4, text: "未完".into(), last: false });
        p.end(2);
        assert_eq!(drain(&mut p), [done(1, 2, true), done(3, 0, true), done(4, 0, true)]);
    }

    #[test]
    fn stopping_cuts_the_line_playing_and_drops_the_queued_ones() {
        let mut p = LinePlayout::default();
        p.answered();
        p.command(say(1, "张总您好，"));
        p.command(say(2, "明天开会。"));
        drain(&mut p);
        p.command(TextCommand::StopSaying);
        p.command(TextCommand::StopSaying);
        assert_eq!(drain(&mut p), [LineOut::Stop], "one stop");
        // A line sent after the stop is not one of those it drops.
        p.command(say(3, "再见。"));
        p.finished(2);
        assert_eq!(drain(&mut p), [done(1, 2, true), done(2, 0, true), play(3, "再见。")]);
        // With nothing playing, a stop drops the queue at once.
        p.finished(3);
        drain(&mut p);
        assert!(!p.command(TextCommand::HangUp));
    }
}
