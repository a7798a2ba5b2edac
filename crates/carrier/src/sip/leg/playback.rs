//! Text level: the AI's lines played as placeholder audio (a tone as long
//! as the line would take to say), kept by the shared line playout; a stop
//! (barge-in) cuts the line playing at the next frame, and its `SayDone`
//! comes with the media's count of samples sent.

use super::Level;
use super::{LegTask, Step};
use crate::lines::LineOut;
use crate::sip::tone;
use crate::TextCommand;

impl LegTask {
    pub(super) async fn on_text_command(&mut self, command: TextCommand) -> Step {
        if let Level::Text { lines, .. } = &mut self.level {
            lines.command(command);
        }
        self.carry_out_lines().await
    }

    /// The placeholder audio of the line playing ended, or stopped.
    pub(super) async fn on_playback_done(&mut self, samples_played: usize) -> Step {
        if let Level::Text { lines, tone_samples, .. } = &mut self.level {
            if let Some(line) = lines.playing() {
                let played_chars = tone::played_chars(line.chars, samples_played, *tone_samples);
                lines.finished(played_chars);
            }
        }
        self.carry_out_lines().await
    }

    /// Answers the line playing (by the clock) and every queued one, as the
    /// leg ends.
    pub(super) async fn answer_owed_lines(&mut self) -> Step {
        let played = self.media.played_estimate();
        if let Level::Text { lines, tone_samples, .. } = &mut self.level {
            let played_chars = lines.playing().map_or(0, |line| tone::played_chars(line.chars, played, *tone_samples));
            lines.end(played_chars);
        }
        self.carry_out_lines().await
    }

    /// Does what the line playout asks, in order.
    async fn carry_out_lines(&mut self) -> Step {
        loop {
            let Level::Text { lines, tone_samples, .. } = &mut self.level else { return Ok(()) };
            let Some(out) = lines.poll() else { return Ok(()) };
            match out {
                LineOut::Play(line) => {
                    let audio = tone::line_audio(line.chars, self.trunk.cfg.chars_per_second);
                    if audio.is_empty() {
                        lines.finished(line.chars);
                        continue;
                    }
                    *tone_samples = audio.len();
                    self.media.play(audio);
                }
                LineOut::Stop => self.media.stop_playback(),
                LineOut::Event(event) => self.emit_text(event).await?,
            }
        }
    }
}
