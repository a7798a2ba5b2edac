//! Registering with the trunk (`register = true`): REGISTER at start,
//! answered digest challenges, refreshes before the binding lapses, retries
//! with a growing pause. Where it stands is kept on the [`Trunk`]
//! ([`RegistrationState`]) for health checks.

use std::sync::Arc;
use std::time::Duration;

use rsipstack::dialog::registration::Registration;
use rsipstack::rsip::typed::Contact;
use rsipstack::transaction::endpoint::EndpointInnerRef;

use super::mapping::provider_response;
use super::trunk::{RegistrationState, Trunk};

/// How long one REGISTER (with its challenge) may take.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(40);

/// When to refresh a binding the trunk granted for `granted` seconds (we
/// asked for `requested`): at 80 % of the shorter, at least 1 s on.
pub(crate) fn refresh_after(granted: Option<u32>, requested: u32) -> Duration {
    let lifetime = granted.filter(|g| *g > 0).unwrap_or(requested).min(requested);
    Duration::from_millis(u64::from(lifetime) * 800).max(Duration::from_secs(1))
}

/// REGISTERs, then refreshes before the registration lapses; retries a
/// failure with a growing pause. Ends with the carrier.
///
/// One [`Registration`] serves the whole run, so every REGISTER keeps the
/// same Call-ID with a rising CSeq (RFC 3261 §10.2), as registrars expect
/// of refreshes.
pub(crate) async fn keep_registered(trunk: Arc<Trunk>, endpoint: EndpointInnerRef) {
    let (server, contact) = match (trunk.registrar_uri(), trunk.register_contact_uri()) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot register with the trunk");
            trunk.set_registration(RegistrationState::Failed { reason: e, failures: 1, accepted: 0 });
            return;
        }
    };
    let expires = trunk.cfg.register_expires_seconds;
    let mut registration = Registration::new(endpoint, trunk.credential.clone());
    registration.contact = Some(Contact { display_name: None, uri: contact, params: vec![] });
    let mut failures: u32 = 0;
    let mut accepted: u64 = 0;
    loop {
        let outcome = tokio::select! {
            r = tokio::time::timeout(REGISTER_TIMEOUT, registration.register(server.clone(), Some(expires))) => r,
            () = trunk.cancelled() => return,
        };
        let pause = match outcome {
            Ok(Ok(resp)) if resp.status_code.code() / 100 == 2 => {
                failures = 0;
                accepted += 1;
                let granted = registration.granted_expires.filter(|g| *g > 0).unwrap_or(expires).min(expires);
                tracing::info!(expires = granted, accepted, "registered with the SIP trunk");
                trunk.set_registration(RegistrationState::Registered { expires_seconds: granted, accepted });
                refresh_after(registration.granted_expires, expires)
            }
            other => {
                failures += 1;
                let why = match other {
                    Ok(Ok(resp)) => provider_response(resp.status_code.code(), resp.wire_reason.as_deref().unwrap_or(resp.status_code.text())),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("no response within {} s", REGISTER_TIMEOUT.as_secs()),
                };
                tracing::warn!(failures, reason = %why, "REGISTER with the SIP trunk failed; retrying");
                trunk.set_registration(RegistrationState::Failed { reason: why, failures, accepted });
                Duration::from_secs(u64::from(5 * failures.min(12)))
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = trunk.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_come_at_80_percent_of_what_the_trunk_granted() {
        assert_eq!(refresh_after(Some(3600), 3600), Duration::from_secs(2880));
        // A registrar may grant less than asked (RFC 3261 §10.2.4): follow it.
        assert_eq!(refresh_after(Some(4), 3600), Duration::from_millis(3200));
        assert_eq!(refresh_after(Some(30), 3600), Duration::from_secs(24));
        // Never more than asked, never in a busy loop.
        assert_eq!(refresh_after(Some(7200), 600), Duration::from_secs(480));
        assert_eq!(refresh_after(Some(1), 600), Duration::from_secs(1));
        assert_eq!(refresh_after(Some(0), 600), Duration::from_secs(480));
        assert_eq!(refresh_after(None, 600), Duration::from_secs(480));
    }
}
