//! The domain of waihu, free of IO: what a phone number is, how a call moves
//! through its lifecycle, how it is billed, and its transcript and events.
//! The HTTP shapes are not here but in `waihu-wire`. Everything stateful
//! takes time as an input (`now`) so that tests drive it deterministically.
#![warn(missing_docs)]

pub mod billing;
pub mod event;
pub mod leg;
pub mod lifecycle;
pub mod phone;
pub mod redact;
pub mod status;

pub use billing::{AmountError, Fen, Tariff};
pub use event::{CallEvent, Role, Utterance};
pub use phone::{PhoneError, PhoneNumber};
pub use status::{CallStatus, EndReason, HangupSide, Outcome};
