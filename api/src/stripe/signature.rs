//! Verifying the `Stripe-Signature` header on the raw body, before anything is parsed.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Secret;

/// Why a delivery is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the signature timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

/// The parts of `t=…,v1=…[,v1=…]` (other schemes, such as `v0`, are ignored).
fn parse(header: &str) -> Result<(i64, Vec<Vec<u8>>), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            // A v1 that is not hex cannot match; skipping it keeps the other signatures usable.
            "v1" => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    match (timestamp, signatures.is_empty()) {
        (Some(timestamp), false) => Ok((timestamp, signatures)),
        _ => Err(SignatureError::Malformed),
    }
}

/// Checks that some `v1` signature is HMAC-SHA256 of `"{t}.{body}"` under one of `secrets` (several while a
/// secret is rolled), compared in constant time, and that `t` is within `tolerance_secs` of `now`.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Secret],
    tolerance_secs: i64,
    now: i64,
) -> Result<(), SignatureError> {
    let (timestamp, signatures) = parse(header.ok_or(SignatureError::Missing)?)?;
    if (now - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    for secret in secrets {
        for signature in &signatures {
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else { continue };
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            if mac.verify_slice(signature).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// A valid header for `body` at `timestamp` (tests and tools that deliver events themselves).
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1"}"#;

    fn secrets(values: &[&str]) -> Vec<Secret> {
        values.iter().map(|v| Secret::new(*v)).collect()
    }

    #[test]
    fn a_signature_of_any_current_secret_is_accepted() {
        let header = sign(BODY, "whsec_new", 1000);
        assert_eq!(verify(Some(&header), BODY, &secrets(&["whsec_old", "whsec_new"]), 300, 1100), Ok(()));
        let both = format!("{header},v1={}", "00".repeat(32));
        assert_eq!(verify(Some(&both), BODY, &secrets(&["whsec_new"]), 300, 1000), Ok(()));
    }

    #[test]
    fn tampering_staleness_and_garbage_are_refused() {
        let header = sign(BODY, "whsec_a", 1000);
        assert_eq!(
            verify(Some(&header), br#"{"id":"evt_2"}"#, &secrets(&["whsec_a"]), 300, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify(Some(&header), BODY, &secrets(&["whsec_b"]), 300, 1000), Err(SignatureError::Mismatch));
        assert_eq!(verify(Some(&header), BODY, &secrets(&["whsec_a"]), 300, 1301), Err(SignatureError::Stale));
        assert_eq!(verify(None, BODY, &secrets(&["whsec_a"]), 300, 1000), Err(SignatureError::Missing));
        assert_eq!(verify(Some("v1=abc"), BODY, &secrets(&["whsec_a"]), 300, 1000), Err(SignatureError::Malformed));
        assert_eq!(verify(Some("t=1000"), BODY, &secrets(&["whsec_a"]), 300, 1000), Err(SignatureError::Malformed));
    }
}
