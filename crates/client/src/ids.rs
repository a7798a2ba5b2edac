//! Call ids and idempotency keys: checked before they go into a body or a
//! path, and made fresh for creations.

use crate::error::ClientError;

/// Checks a call id before it goes into a body or a path: the spec's
/// `[A-Za-z0-9_.:^~-]`, 1 to 256 characters, and not `.`/`..` (which would
/// walk up the path of the native endpoints).
pub fn validate_call_id(call_id: &str) -> Result<(), ClientError> {
    let fail = |reason: &str| ClientError::InvalidArgument {
        what: "call id",
        reason: reason.to_string(),
    };
    if call_id.is_empty() {
        return Err(fail("it is empty"));
    }
    if call_id.len() > 256 {
        return Err(fail("it is longer than 256 characters"));
    }
    if !call_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.:^~-".contains(c))
    {
        return Err(fail("only letters, digits and _.:^~- are allowed"));
    }
    if call_id == "." || call_id == ".." {
        return Err(fail("it is not an id"));
    }
    Ok(())
}

/// Checks an `Idempotency-Key`: 8 to 128 characters of `[A-Za-z0-9._:-]`.
pub fn validate_idempotency_key(key: &str) -> Result<(), ClientError> {
    let ok = (8..=128).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(ClientError::InvalidArgument {
            what: "idempotency key",
            reason: "use 8 to 128 characters of letters, digits and ._:-".into(),
        })
    }
}

/// A fresh idempotency key, unique enough to tell one creation from another
/// of the same account: time, process id and randomness from std's
/// randomly seeded hasher (no extra dependency needed for that).
pub fn new_idempotency_key() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(nanos);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!(
        "waihu-{nanos:x}-{:x}-{:016x}",
        std::process::id(),
        h.finish()
    )
}
