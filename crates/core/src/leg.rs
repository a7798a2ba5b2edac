//! What a call's logic asks of the network at the text level: the
//! commands of a text leg (`waihu-carrier` has the whole leg contract). The
//! call's brain speaks them, every text leg takes them.

/// What the call asks of a text leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextCommand {
    /// Play a line to the callee. Answered by `SayDone`.
    Say {
        /// Correlates the `SayDone`.
        id: u64,
        /// The line.
        text: String,
    },
    /// Part of a line still being written (the dialogue streams its reply):
    /// the first part opens line `id`, later ones extend it, `last` closes
    /// it. Answered, like `Say`, by one `SayDone` for the whole line.
    SayPart {
        /// Correlates the `SayDone`.
        id: u64,
        /// More of the line.
        text: String,
        /// No more parts follow.
        last: bool,
    },
    /// Stop the line being played and drop the queued ones (barge-in).
    StopSaying,
    /// Abandon the call before answer.
    Cancel,
    /// End the answered call.
    HangUp,
}

