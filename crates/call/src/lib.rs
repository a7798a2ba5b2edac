//! One call's brain, with no IO and no clock of its own.
//!
//! [`CallBrain`] holds all of a call's logic: its lifecycle (dialling,
//! ringing, the no-answer timer, the maximum length, silence, paid minutes:
//! `waihu_core::lifecycle`) and its floor (who speaks when: the opening,
//! replies that arrive after the callee spoke again, a callee line heard
//! while the AI talks, what was actually played of an interrupted line,
//! silence nudges, the goodbye on wind-down, and the gate that keeps the
//! task's content from anyone who has not confirmed who they are). It holds
//! the conversation's history; a dialogue engine gets a snapshot of it and
//! streams its reply back.
//!
//! The call session in the server is the IO shell around it: it feeds what
//! happens (leg events, reply events, the store's answers, API requests,
//! timers) and carries out what the brain asks (dial, say, think, store a
//! line, reserve a minute, finish the record).
//!
//! # The run-loop contract
//!
//! ```text
//! brain.handle(Input::Start, now);
//! loop {
//!     while let Some(action) = brain.poll_action() {
//!         carry it out; some actions are answered with an input at once
//!         (ReserveMinute -> MinuteReserved, Dial -> DialFailed, a release
//!         with no leg left -> LegEnded); Finish ends the loop
//!     }
//!     wait for the next of: a leg event, a reply event, an API request,
//!                           or the instant `brain.poll_timeout()` (if any)
//!     brain.handle(that input, or Input::Timeout, now);
//! }
//! ```
//!
//! - `now` comes from one clock per call (the session's); it never needs to
//!   be exact, only non-decreasing. Calling with `Timeout` early is harmless.
//! - Every [`Action::Think`] is a new reply: start the engine on its
//!   request and feed each of its events back tagged with its id, then
//!   `Done` (or `Failed`). [`Action::StopThinking`] abandons it; events of a
//!   reply the brain no longer waits for are ignored, so a late one is safe.
//! - [`Action::Line`]s are the transcript, in order: store each before
//!   publishing it.
//! - The brain keeps at most one line playing on the leg: a `Say` (or the
//!   first `SayPart` of a line) is sent only after the previous line's
//!   `SayDone`.
//!
//! Tests drive whole calls in virtual time (`tests/`), with property tests
//! over random interleavings of callee speech, replies and timers.
#![warn(missing_docs)]

mod brain;
mod floor;

pub use brain::{Action, BrainConfig, CallBrain, CallEnd, Input};
pub use floor::{ReplyEvent, ReplyId};
pub use waihu_core::leg::TextCommand;
