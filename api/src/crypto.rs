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

/// Seals small records at rest (ChaCha20-Poly1305, a fresh random nonce each time) under a key derived from
/// the server's secret for one purpose, bound to associated data that says what the record is: a record
/// opens only as what it was sealed as. Every instance that shares the secret opens the others' records.
#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<ring::aead::LessSafeKey>,
}

impl Sealer {
    pub fn new(server_secret: &str, purpose: &str) -> Self {
        use hmac::Mac;
        let mut mac = keyed(server_secret.as_bytes());
        mac.update(purpose.as_bytes());
        let derived = mac.finalize().into_bytes();
        let unbound = ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &derived)
            .unwrap_or_else(|_| unreachable!("a 32-byte key is what ChaCha20-Poly1305 takes"));
        Self { key: std::sync::Arc::new(ring::aead::LessSafeKey::new(unbound)) }
    }

    /// `plain`, sealed and bound to `associated`, as base64 text (nonce, then ciphertext and tag).
    pub fn seal(&self, associated: &str, plain: &[u8]) -> Option<String> {
        use base64::Engine;
        let mut nonce = [0u8; ring::aead::NONCE_LEN];
        rand::Rng::fill(&mut rand::rng(), &mut nonce[..]);
        let mut sealed = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(associated.as_bytes()),
                &mut sealed,
            )
            .ok()?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Some(base64::engine::general_purpose::STANDARD.encode(out))
    }

    /// What [`Self::seal`] sealed with the same associated data; `None` for anything else.
    pub fn open(&self, associated: &str, sealed: &str) -> Option<Vec<u8>> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).ok()?;
        let (nonce, body) = bytes.split_at_checked(ring::aead::NONCE_LEN)?;
        let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let plain = self.key.open_in_place(nonce, ring::aead::Aad::from(associated.as_bytes()), &mut body).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_record_opens_only_as_what_it_was_sealed_as() {
        let sealer = Sealer::new("a server secret of some length", "tests");
        let sealed = sealer.seal("scope\nkey", b"the answer").unwrap_or_default();
        assert!(!sealed.is_empty() && !sealed.contains("answer"));
        assert_eq!(sealer.open("scope\nkey", &sealed).as_deref(), Some(&b"the answer"[..]));
        assert_eq!(sealer.open("scope\nother key", &sealed), None, "bound to what it is");
        assert_eq!(Sealer::new("another secret", "tests").open("scope\nkey", &sealed), None);
        assert_eq!(Sealer::new("a server secret of some length", "other").open("scope\nkey", &sealed), None);
        assert_ne!(sealer.seal("scope\nkey", b"the answer"), Some(sealed), "a fresh nonce each time");
    }
}
