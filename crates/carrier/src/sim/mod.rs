//! The simulated phone network: the default carrier, and what the call
//! lifecycle is tested against.
//!
//! Every number reaches a simulated callee: one of the built-in personas
//! ([`builtin_personas`]), a callee scripted in the configuration
//! ([`ScriptedCallee`]), or else the configured default persona. A leg rings,
//! answers or fails like a SIP trunk would (with SIP-like reasons suffixed
//! `(simulated)`), plays the AI's lines at speaking pace, and lets the callee
//! answer what it actually heard after a human-like pause. Time is
//! `tokio::time` scaled by [`SimConfig::speed`], so tests run whole calls in
//! paused virtual time, deterministically. `docs/simulated-network.md`
//! describes the personas and the configuration.
//!
//! Given speech engines ([`SimCarrier::with_voice`]), the network also
//! carries audio ([`Carrier::dial_audio`]): the callees speak through
//! the TTS and hear the AI through the ASR, in real time (see `audio`).

mod audio;
mod builtin;
mod config;
mod cues;
mod error;
mod leg;
mod persona;
mod scripted;

use std::collections::HashMap;
use std::sync::OnceLock;

use async_trait::async_trait;

pub use audio::SimVoice;
pub use config::{CalleeResult, ReplyRule, ScriptedCallee, SimConfig};
pub use error::{ScriptedCalleeError, SimConfigError};

use crate::{AudioLeg, Carrier, CarrierError, DialRequest, TextLeg};
use builtin::PersonaDef;
use leg::{Callee, Timing};
use persona::Pickup;

/// A carrier whose phones are simulated in process.
#[derive(Debug)]
pub struct SimCarrier {
    timing: Timing,
    /// Scripted callees by their normalised 11-digit number.
    scripted: HashMap<String, ScriptedCallee>,
    default_persona: &'static PersonaDef,
    /// With a voice, the callees speak and hear through speech engines.
    voice: Option<SimVoice>,
}

impl SimCarrier {
    /// A network with `config`'s pace and callees; refuses an invalid
    /// configuration with the message of [`SimConfig::validate`].
    pub fn new(config: SimConfig) -> Result<Self, SimConfigError> {
        config.validate()?;
        let default_persona = builtin::by_name(&config.default_persona)
            .ok_or_else(|| SimConfigError::UnknownDefaultPersona { name: config.default_persona.clone() })?;
        let mut scripted = HashMap::new();
        for (index, callee) in config.callees.into_iter().enumerate() {
            let number = callee.validate().map_err(|problem| SimConfigError::Callee { index, problem })?;
            scripted.insert(number.as_str().to_owned(), callee);
        }
        Ok(SimCarrier {
            timing: Timing {
                speed: config.speed,
                chars_per_second: config.chars_per_second,
                reaction_secs: config.reaction_ms as f64 / 1000.0,
            },
            scripted,
            default_persona,
            voice: None,
        })
    }

    /// The same network whose callees speak and hear through `voice`:
    /// [`Carrier::dial_audio`] gives audio legs, and
    /// [`Carrier::carries_audio`] is true.
    pub fn with_voice(mut self, voice: SimVoice) -> Self {
        self.voice = Some(voice);
        self
    }

    /// Who answers `number`, and the persona's name for logs.
    fn callee_for(&self, number: &str) -> (Callee, &'static str) {
        if let Some(s) = self.scripted.get(number) {
            let callee =
                Callee { pickup: Pickup::from(s.result), ring_secs: s.ring_seconds, talker: Box::new(scripted::Scripted::new(s)) };
            return (callee, "scripted");
        }
        let def = builtin::by_number(number).unwrap_or(self.default_persona);
        (Callee { pickup: def.pickup, ring_secs: def.ring_secs, talker: (def.make)() }, def.name)
    }
}

#[async_trait]
impl Carrier for SimCarrier {
    fn kind(&self) -> &'static str {
        "sim"
    }

    fn carries_audio(&self) -> bool {
        self.voice.is_some()
    }

    async fn dial(&self, req: DialRequest) -> Result<TextLeg, CarrierError> {
        let (callee, persona) = self.callee_for(req.to.as_str());
        tracing::debug!(call_id = %req.call_id, to = %req.to.redacted(), persona, "dialing on the simulated network");
        Ok(leg::spawn(req.call_id, self.timing, callee))
    }

    async fn dial_audio(&self, req: DialRequest) -> Result<AudioLeg, CarrierError> {
        let Some(voice) = &self.voice else {
            return Err(CarrierError::Unavailable(
                "the simulated network has no voice engines configured: its callees need a TTS and an ASR engine to carry audio ([speech])".into(),
            ));
        };
        let (callee, persona) = self.callee_for(req.to.as_str());
        tracing::debug!(call_id = %req.call_id, to = %req.to.redacted(), persona, "dialing on the simulated network, with sound");
        Ok(audio::spawn(req.call_id, self.timing, callee, voice.clone()))
    }
}

/// The built-in callees as `(number, persona name, what it does)`, in number
/// order (the two `cooperative` numbers first).
pub fn builtin_personas() -> &'static [(&'static str, &'static str, &'static str)] {
    static TABLE: OnceLock<Vec<(&'static str, &'static str, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        builtin::NUMBERS
            .iter()
            .map(|&(number, name)| {
                let def = builtin::by_name(name).expect("every built-in number names a defined persona");
                (number, name, def.description)
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_lists_every_number_once_with_a_description() {
        let table = builtin_personas();
        assert_eq!(table.len(), 15);
        let mut numbers: Vec<_> = table.iter().map(|t| t.0).collect();
        numbers.dedup();
        assert_eq!(numbers.len(), 15);
        assert!(table.iter().all(|(_, _, d)| !d.is_empty()));
        assert_eq!(table[0], ("13800138000", "cooperative", builtin::by_name("cooperative").unwrap().description));
    }

    #[test]
    fn scripted_callees_override_built_in_numbers() {
        let callee = ScriptedCallee {
            number: "+86 130 0000 0002".into(),
            ring_seconds: 1.0,
            result: CalleeResult::Answer,
            replies: Vec::new(),
            fallback: None,
            hang_up_after_turns: None,
        };
        let carrier = SimCarrier::new(SimConfig { callees: vec![callee], ..SimConfig::default() }).unwrap();
        assert_eq!(carrier.callee_for("13000000002").1, "scripted");
        assert_eq!(carrier.callee_for("13000000001").1, "wrong_person");
        assert_eq!(carrier.callee_for("18612345678").1, "cooperative");
        assert_eq!(carrier.kind(), "sim");
    }
}
