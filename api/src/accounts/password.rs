//! Password hashing with argon2id and OWASP's recommended parameters.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP Password Storage Cheat Sheet: argon2id, 19 MiB of memory, 2 iterations, 1 lane.
fn hasher() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string (salt and parameters included).
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?
        .to_string())
}

/// Whether `password` matches the stored PHC string.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    hasher().is_ok_and(|argon| argon.verify_password(password.as_bytes(), &parsed).is_ok())
}

/// [`hash`] on the blocking thread pool: argon2 takes tens of milliseconds of CPU and must neither stall
/// an actix worker nor hold a database connection meanwhile.
pub async fn hash_off_thread(password: String) -> Result<String, crate::error::ApiError> {
    actix_web::web::block(move || hash(&password))
        .await
        .map_err(|e| crate::error::ApiError::Internal(anyhow::anyhow!("password hashing task failed: {e}")))?
        .map_err(crate::error::ApiError::Internal)
}

/// [`verify`] on the blocking thread pool; `None` as the stored hash verifies against the decoy.
pub async fn verify_off_thread(password: String, stored: Option<String>) -> Result<bool, crate::error::ApiError> {
    actix_web::web::block(move || match stored {
        Some(stored) => verify(&password, &stored),
        None => {
            // Same work as for a real account, so timing does not reveal whether the email exists.
            let _ = verify(&password, decoy_hash());
            false
        }
    })
    .await
    .map_err(|e| crate::error::ApiError::Internal(anyhow::anyhow!("password verification task failed: {e}")))
}

/// A valid hash of a random password, verified against when the email is unknown so that a login for an
/// unknown email takes as long as one for a known email.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash(&crate::crypto::random_token(32)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_verifies_against_its_own_hash_only() -> anyhow::Result<()> {
        let stored = super::hash("correct horse battery")?;
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(super::verify("correct horse battery", &stored));
        assert!(!super::verify("Correct horse battery", &stored));
        Ok(())
    }
}
