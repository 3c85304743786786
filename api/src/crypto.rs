//! Small cryptographic helpers shared by the domains.

use rand::distr::{Alphanumeric, SampleString};

/// A random string of `len` alphanumeric characters from the OS-seeded CSPRNG (about 5.95 bits each).
pub fn random_token(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// Hex SHA-256 of a high-entropy secret (refresh tokens, API keys, agent secrets). A slow password hash
/// buys nothing for random secrets and would cost on every request.
pub fn sha256_hex(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(secret.as_bytes()))
}
