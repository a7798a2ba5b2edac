//! Call statuses, who hung up, why a call ended, and what it achieved.
//!
//! The string forms are part of the wire contract (clients treat some of
//! them as final) and of the database: never rename one.

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable string form used on the wire and in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }

            /// Parses the stable string form.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Where a call is in its life. `queued -> dialing -> ringing ->
    /// in_progress -> (completed | ...)`; the last six are final.
    CallStatus {
        /// Accepted, waiting for a free line.
        Queued => "queued",
        /// Handed to the carrier; no answer from the network yet.
        Dialing => "dialing",
        /// The far end is alerting (180/183).
        Ringing => "ringing",
        /// Answered; the conversation is under way.
        InProgress => "in_progress",
        /// Answered and ended by either side.
        Completed => "completed",
        /// Not answered in time (our timer or the network's).
        NoAnswer => "no_answer",
        /// The line was busy.
        Busy => "busy",
        /// The callee rejected the call.
        Declined => "declined",
        /// The network or the platform could not place or keep the call.
        Failed => "failed",
        /// Cancelled through the API before it connected.
        Cancelled => "cancelled",
    }
}

impl CallStatus {
    /// Whether nothing more will happen to the call.
    pub fn is_final(self) -> bool {
        !matches!(self, CallStatus::Queued | CallStatus::Dialing | CallStatus::Ringing | CallStatus::InProgress)
    }
}

string_enum! {
    /// Who ended the call.
    HangupSide {
        /// The AI agent (task done, asked to stop, impossible).
        Agent => "agent",
        /// The person called, or their network.
        Callee => "callee",
        /// The platform: a timer, the balance, a failure, a restart.
        Platform => "platform",
        /// The account holder through `POST /v1/calls/{id}/hangup`.
        Api => "api",
    }
}

string_enum! {
    /// Why a call ended: a stable code for dashboards and alerts.
    EndReason {
        /// The agent finished its task or was asked to stop, and hung up.
        AgentHangup => "agent_hangup",
        /// The callee hung up.
        CalleeHangup => "callee_hangup",
        /// Nobody answered before the no-answer timer.
        NoAnswerTimeout => "no_answer_timeout",
        /// The network reported no answer (e.g. SIP 480/408).
        NetworkNoAnswer => "network_no_answer",
        /// The line was busy.
        Busy => "busy",
        /// The callee rejected the call.
        Declined => "declined",
        /// The carrier refused or lost the call.
        CarrierFailure => "carrier_failure",
        /// Cancelled through the API.
        ApiCancel => "api_cancel",
        /// The configured maximum call length was reached.
        MaxDuration => "max_duration",
        /// Nobody spoke for the silence timeout.
        SilenceTimeout => "silence_timeout",
        /// The account could not pay for another minute.
        BalanceExhausted => "balance_exhausted",
        /// The server stopped while the call was live.
        ServerRestart => "server_restart",
        /// The platform itself failed (a bug or a provider error).
        InternalError => "internal_error",
    }
}

string_enum! {
    /// What the call achieved, in one word an agent can act on.
    Outcome {
        /// The content was said to the right person, who acknowledged it.
        Delivered => "delivered",
        /// The content was said, but the callee did not clearly acknowledge.
        DeliveredUnacknowledged => "delivered_unacknowledged",
        /// The person who answered was not the one asked for.
        WrongPerson => "wrong_person",
        /// The callee asked to be called back later.
        CallbackRequested => "callback_requested",
        /// The callee asked not to be called again.
        OptedOut => "opted_out",
        /// The callee never confirmed who they were.
        NoConfirmation => "no_confirmation",
        /// The call ended before the task was done.
        CutOff => "cut_off",
        /// The call never connected.
        NotConnected => "not_connected",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_forms_round_trip_and_match_serde() {
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_string(s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        for r in EndReason::ALL {
            assert_eq!(EndReason::parse(r.as_str()), Some(*r));
        }
    }

    #[test]
    fn final_statuses_are_the_ones_clients_stop_on() {
        let finals: Vec<_> = CallStatus::ALL.iter().filter(|s| s.is_final()).map(|s| s.as_str()).collect();
        assert_eq!(finals, ["completed", "no_answer", "busy", "declined", "failed", "cancelled"]);
    }
}
