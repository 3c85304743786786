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

/// MACs (HMAC-SHA256, hex) over a list of fields, with a key of its own derived from the server's secret for
/// one purpose: a MAC made for one purpose never doubles as one made for another, and every instance that
/// shares the secret checks the MACs of the others.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(server_secret: &str, purpose: &str) -> Self {
        use hmac::Mac;
        let mut mac = keyed(server_secret.as_bytes());
        mac.update(purpose.as_bytes());
        Self { key: mac.finalize().into_bytes().to_vec() }
    }

    fn mac(&self, fields: &[&str]) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac;
        let mut mac = keyed(&self.key);
        // Newline-separated: no field Vigil signs holds a newline, so no two lists give the same text.
        mac.update(fields.join("\n").as_bytes());
        mac
    }

    pub fn sign(&self, fields: &[&str]) -> String {
        use hmac::Mac;
        hex::encode(self.mac(fields).finalize().into_bytes())
    }

    /// Whether `signature` (hex) is the MAC of `fields`, compared in constant time.
    pub fn verify(&self, fields: &[&str], signature: &str) -> bool {
        use hmac::Mac;
        hex::decode(signature).is_ok_and(|signature| self.mac(fields).verify_slice(&signature).is_ok())
    }
}

fn keyed(key: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"))
}
