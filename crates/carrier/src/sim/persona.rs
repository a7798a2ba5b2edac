//! What a simulated callee is made of: how its phone reacts to ringing
//! ([`Pickup`]) and how it talks once it picks up ([`Talker`]). The legs
//! play a callee through these alone; the built-in personas (`builtin`) and
//! the callees scripted in the configuration (`scripted`) fill them in.

/// What the AI said since the callee last answered, as the callee heard it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Turn<'a> {
    /// The played text of the AI's lines, in order.
    pub(crate) text: &'a str,
    /// The AI stopped its last line before the end.
    pub(crate) cut_off: bool,
}

/// What the callee does about a turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reaction {
    /// An utterance, if it speaks.
    pub(crate) say: Option<String>,
    /// Hang up (after saying it).
    pub(crate) hang_up: bool,
}

impl Reaction {
    pub(crate) fn silent() -> Self {
        Reaction::default()
    }

    pub(crate) fn say(text: impl Into<String>) -> Self {
        Reaction { say: Some(text.into()), hang_up: false }
    }

    pub(crate) fn say_and_hang_up(text: impl Into<String>) -> Self {
        Reaction { say: Some(text.into()), hang_up: true }
    }

    pub(crate) fn hang_up() -> Self {
        Reaction { say: None, hang_up: true }
    }
}

/// Speech the callee starts while the AI is still talking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CutIn {
    /// What it says.
    pub(crate) text: String,
    /// It answers the line being played, so that line needs no reply once
    /// it ends (a question over the AI); otherwise it is only a backchannel
    /// (`嗯`) and the callee still answers the line afterwards.
    pub(crate) takes_turn: bool,
}

/// How a callee talks. One value per call, so it may keep state.
pub(crate) trait Talker: Send {
    /// Whether [`cut_in_at`](Self::cut_in_at) could pick a moment now. An
    /// audio leg only makes out a line while it plays (one recognition more)
    /// for a callee that may talk over it.
    fn may_cut_in(&self) -> bool {
        false
    }

    /// When a line of `line_secs` (simulated seconds) starts playing: how
    /// many seconds into it the callee would start talking, if at all.
    fn cut_in_at(&self, _line: &str, _line_secs: f64) -> Option<f64> {
        None
    }

    /// The moment chosen by [`cut_in_at`](Self::cut_in_at) has come.
    fn cut_in(&mut self, _line: &str) -> Option<CutIn> {
        None
    }

    /// The AI has fallen quiet after `turn`: the callee's answer.
    fn on_turn(&mut self, turn: &Turn<'_>) -> Reaction;
}

/// How the phone reacts to being rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pickup {
    Answer,
    Busy,
    Declined,
    /// The network gives up ringing (480).
    NetworkNoAnswer,
    /// The network refuses the number without ringing (404).
    Unreachable,
    /// Rings until cancelled.
    Never,
}
